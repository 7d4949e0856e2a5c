#pragma once
// jacnet/io/npy.hpp — NumPy .npy files (format versions 1, 2 and 3) holding one array.
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE in v1, uint32 LE in v2/v3), an
// ASCII Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } padded
// with spaces and '\n' so the data starts at a multiple of 64, then the raw elements in C order.
//
// Supported dtypes: '<f4' (float), '<f8' (double), '|u1' (uint8), '<i4' (std::int32_t) and
// '<i8' (std::int64_t, NumPy's default integer, e.g. for labels). The reader rejects, with an
// IoError naming the file and the field: a wrong magic or version, a header longer than the file,
// a header that is not such a dict (or has other keys), big-endian or other dtypes,
// fortran_order True, negative shapes, shapes whose product overflows (zero dimensions do not
// hide the others: the product of the non-zero dimensions must fit too), sizes above
// NpyOptions::max_bytes (counted in the file's bytes and in the bytes of T), and data shorter or
// longer than the shape says, all before anything is allocated. Element types must match the
// requested T unless NpyOptions::convert is Convert::allow (see io/dtype.hpp); an integer that
// does not fit the requested integer type is an error naming the element.
//
//   io::write_npy("x.npy", X);                                 // Matrix<double> -> shape (B, D)
//   auto a = io::read_npy<double>("x.npy");  a.shape == {B, D}; a.matrix() == X
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/dtype.hpp"

namespace jacnet::io {

struct NpyOptions {
  Convert convert = Convert::exact;
  /// Largest data size accepted (bytes), a guard against corrupt headers. Default 16 GiB.
  std::uint64_t max_bytes = std::uint64_t{1} << 34;
};

/// One array read from a .npy file: shape (rank 0..n), C-order data, the file's dtype.
template <class T>
struct NpyArray {
  std::vector<Index> shape;
  std::vector<T> data;
  DType dtype = dtype_of<T>();

  Index size() const { return static_cast<Index>(data.size()); }
  /// The array as a row-major matrix: rank 2 as is, rank 1 (n) as 1 x n, rank >= 3 as
  /// shape[0] x (product of the rest), rank 0 as 1 x 1. Throws ShapeError if the shape has a
  /// negative dimension, its products overflow, or rows x cols differs from data.size().
  Matrix<T> matrix() const {
    Index rows = 1, cols = 1, nonzero = 1;
    bool ok = true;
    // Checked products. The product of the non-zero dimensions bounds rows and cols and rows x
    // cols, so a zero dimension cannot hide an overflow of the others.
    for (Index d : shape) {
      if (d < 0 || (d != 0 && nonzero > std::numeric_limits<Index>::max() / d)) ok = false;
      if (ok && d != 0) nonzero *= d;
    }
    if (ok && shape.size() == 1) cols = shape[0];
    if (ok && shape.size() >= 2) {
      rows = shape[0];
      for (std::size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
    }
    JACNET_CHECK(ok && static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) ==
                           data.size(),
                 ShapeError, "NpyArray::matrix", "shape ", shape_text(), " does not describe the ",
                 data.size(), " elements held");
    Matrix<T> m(rows, cols);
    if (m.size() > 0) std::memcpy(m.data(), data.data(), data.size() * sizeof(T));
    return m;
  }

 private:
  std::string shape_text() const {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
  }
};

/// The parsed header of a .npy file.
struct NpyHeader {
  int major = 1;
  std::string descr;
  bool fortran_order = false;
  std::vector<Index> shape;
  std::size_t data_offset = 0;  ///< bytes before the data
};

namespace detail {

/// Minimal parser for the Python dict literal of a .npy header.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view s, std::string file) : s_(s), file_(std::move(file)) {}

  NpyHeader parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        h.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        has_shape = true;
      } else {
        fail("unexpected key '" + key +
             "' (a .npy header has exactly descr, fortran_order, shape)");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!has_descr) fail("key 'descr' is missing");
    if (!has_order) fail("key 'fortran_order' is missing");
    if (!has_shape) fail("key 'shape' is missing");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    jacnet::detail::raise<IoError>("read_npy", "'", file_, "': malformed header: ", what,
                                   " (header: ", std::string(s_), ")");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(i_));
    ++i_;
  }
  std::string parse_string() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string at offset " + std::to_string(i_));
    ++i_;
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) fail("unterminated string");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool parse_bool() {
    skip_ws();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("fortran_order must be True or False");
  }
  std::vector<Index> parse_shape() {
    std::vector<Index> dims;
    expect('(');
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++i_;
        break;
      }
      bool neg = false;
      if (peek() == '-') {
        neg = true;
        ++i_;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("shape entries must be integers (offset " + std::to_string(i_) + ")");
      std::uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::uint64_t{1} << 62) / 10) fail("shape entry is absurdly large");
        v = v * 10 + static_cast<std::uint64_t>(peek() - '0');
        ++i_;
      }
      if (neg) fail("shape entry -" + std::to_string(v) + " is negative");
      dims.push_back(static_cast<Index>(v));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(')');
      break;
    }
    return dims;
  }

  std::string_view s_;
  std::string file_;
  std::size_t i_ = 0;
};

inline std::string npy_shape_str(const std::vector<Index>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

inline DType npy_dtype(const std::string& descr, const std::string& file) {
  if (descr == "<f4") return DType::F32;
  if (descr == "<f8") return DType::F64;
  if (descr == "|u1" || descr == "<u1" || descr == "u1") return DType::U8;
  if (descr == "<i4") return DType::I32;
  if (descr == "<i8") return DType::I64;
  JACNET_CHECK(descr.empty() || descr[0] != '>', IoError, "read_npy", "'", file, "': descr '",
               descr,
               "' is big-endian; only little-endian data is supported (save with "
               "arr.astype('<",
               descr.substr(1), "'))");
  jacnet::detail::raise<IoError>("read_npy", "'", file, "': descr '", descr,
                                 "' is not supported (expected '<f4', '<f8', '|u1', '<i4' or '<i8')");
}

inline std::string npy_descr(DType d) {
  switch (d) {
    case DType::F32:
      return "<f4";
    case DType::F64:
      return "<f8";
    case DType::U8:
      return "|u1";
    case DType::I32:
      return "<i4";
    case DType::I64:
      return "<i8";
    default:
      jacnet::detail::raise<ValueError>("write_npy", "dtype ", safetensors_name(d),
                                        " is not supported");
  }
}

}  // namespace detail

/// Parses and validates the header of .npy bytes (`file` names them in errors).
inline NpyHeader parse_npy_header(const unsigned char* bytes, std::size_t n,
                                  const std::string& file) {
  static constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  JACNET_CHECK(n >= 10, IoError, "read_npy", "'", file, "': truncated: ", n,
               " bytes, shorter than the 10-byte preamble");
  JACNET_CHECK(std::memcmp(bytes, kMagic, 6) == 0, IoError, "read_npy", "'", file,
               "': wrong magic (expected \\x93NUMPY; not a .npy file)");
  NpyHeader h;
  h.major = bytes[6];
  JACNET_CHECK(h.major >= 1 && h.major <= 3 && bytes[7] == 0, IoError, "read_npy", "'", file,
               "': format version ", int(bytes[6]), ".", int(bytes[7]),
               " is not supported (expected 1.0, 2.0 or 3.0)");
  std::size_t pre = 10;
  std::uint64_t hlen = load_le<std::uint16_t>(bytes + 8);
  if (h.major >= 2) {
    JACNET_CHECK(n >= 12, IoError, "read_npy", "'", file, "': truncated: ", n,
                 " bytes, shorter than the 12-byte preamble of version ", h.major);
    pre = 12;
    hlen = load_le<std::uint32_t>(bytes + 8);
  }
  JACNET_CHECK(hlen <= n - pre, IoError, "read_npy", "'", file, "': truncated: header length ",
               hlen, " but only ", n - pre, " bytes follow the preamble");
  std::string_view text(reinterpret_cast<const char*>(bytes + pre), static_cast<std::size_t>(hlen));
  const int major = h.major;
  h = detail::NpyHeaderParser(text, file).parse();
  h.major = major;
  h.data_offset = pre + static_cast<std::size_t>(hlen);
  return h;
}

/// Decodes .npy bytes into an array of T (`file` names them in errors).
template <class T>
NpyArray<T> parse_npy(const unsigned char* bytes, std::size_t n, const std::string& file,
                      const NpyOptions& opt = {}) {
  const NpyHeader h = parse_npy_header(bytes, n, file);
  const DType dt = detail::npy_dtype(h.descr, file);
  JACNET_CHECK(!h.fortran_order, IoError, "read_npy", "'", file,
               "': fortran_order is True; "
               "only C-order arrays are supported (save np.ascontiguousarray(arr))");
  JACNET_CHECK(dtype_readable_as<T>(dt, opt.convert), IoError, "read_npy", "'", file, "': dtype '",
               h.descr, "' does not match the requested ", detail::npy_descr(dtype_of<T>()),
               opt.convert == Convert::exact ? " (pass Convert::allow to convert)" : "");
  const std::size_t es = dtype_size(dt);
  // count = prod(shape). Overflow is checked on the product of the non-zero dimensions, so a
  // zero does not let (0, 2^62, 2^62) through; the limit applies to the file's bytes and to the
  // bytes of T that would be allocated.
  const std::uint64_t unit = std::max<std::uint64_t>(es, sizeof(T));
  const std::uint64_t limit = std::min<std::uint64_t>(opt.max_bytes, std::uint64_t{1} << 62);
  std::uint64_t count = 1, nonzero = 1;
  for (Index d : h.shape) {
    const auto u = static_cast<std::uint64_t>(d);
    if (u == 0) {
      count = 0;
      continue;
    }
    JACNET_CHECK(nonzero <= limit / unit / u, IoError, "read_npy", "'", file, "': absurd size: shape ",
                 detail::npy_shape_str(h.shape), " of '", h.descr,
                 "': the product of its non-zero dimensions exceeds the limit of ", opt.max_bytes,
                 " bytes (NpyOptions::max_bytes) for ", unit, "-byte elements");
    nonzero *= u;
    count *= u;
  }
  const std::uint64_t need = count * es, have = n - h.data_offset;
  JACNET_CHECK(have >= need, IoError, "read_npy", "'", file, "': truncated: shape ",
               detail::npy_shape_str(h.shape), " of '", h.descr, "' needs ", need,
               " data bytes but the file has ", have);
  JACNET_CHECK(have == need, IoError, "read_npy", "'", file, "': size mismatch: shape ",
               detail::npy_shape_str(h.shape), " of '", h.descr, "' needs ", need,
               " data bytes but the file has ", have, " (", have - need, " trailing bytes)");
  NpyArray<T> a;
  a.shape = h.shape;
  a.dtype = dt;
  resize_or_fail(a.data, count, "read_npy", "'", file, "': data of shape ",
                 detail::npy_shape_str(h.shape));
  const std::size_t done =
      decode_le<T>(dt, bytes + h.data_offset, static_cast<std::size_t>(count), a.data.data());
  JACNET_CHECK(done == count, IoError, "read_npy", "'", file, "': element ", done, " of '",
               h.descr, "' data does not fit in the requested ", detail::npy_descr(dtype_of<T>()));
  return a;
}

/// Reads a .npy file.
template <class T>
NpyArray<T> read_npy(const std::filesystem::path& path, const NpyOptions& opt = {}) {
  const auto bytes = read_file(path, opt.max_bytes + (std::uint64_t{1} << 32));
  return parse_npy<T>(bytes.data(), bytes.size(), path.string(), opt);
}

/// Encodes an array of T (float, double, uint8, int32, int64) with the given shape as .npy bytes (v1 header
/// when it fits in 64 KiB, else v2), data aligned to 64 bytes like NumPy.
template <class T>
std::vector<unsigned char> encode_npy(const T* data, const std::vector<Index>& shape) {
  std::uint64_t count = 1;
  for (Index d : shape) {
    JACNET_CHECK(d >= 0, ValueError, "write_npy", "negative dimension ", d, " in shape ",
                 detail::npy_shape_str(shape));
    count *= static_cast<std::uint64_t>(d);
  }
  std::string dict = "{'descr': '" + detail::npy_descr(dtype_of<T>()) +
                     "', 'fortran_order': False, 'shape': " + detail::npy_shape_str(shape) + ", }";
  int major = 1;
  std::size_t pre = 10;
  std::size_t total = pre + dict.size() + 1;
  std::size_t padded = (total + 63) / 64 * 64;
  if (padded - pre > 65535) {
    major = 2;
    pre = 12;
    total = pre + dict.size() + 1;
    padded = (total + 63) / 64 * 64;
  }
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::vector<unsigned char> out(padded + count * sizeof(T));
  static constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  std::memcpy(out.data(), kMagic, 6);
  out[6] = static_cast<unsigned char>(major);
  out[7] = 0;
  if (major == 1)
    store_le<std::uint16_t>(out.data() + 8, static_cast<std::uint16_t>(dict.size()));
  else
    store_le<std::uint32_t>(out.data() + 8, static_cast<std::uint32_t>(dict.size()));
  std::memcpy(out.data() + pre, dict.data(), dict.size());
  encode_le<T>(data, static_cast<std::size_t>(count), out.data() + padded);
  return out;
}

/// Writes one array atomically.
template <class T>
void write_npy(const std::filesystem::path& path, const T* data, const std::vector<Index>& shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
/// Writes a matrix as a 2-D array (rows, cols).
template <class Derived>
void write_npy(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& m) {
  using T = typename Derived::Scalar;
  const Matrix<T> rm = m;  // row-major copy (C order)
  write_npy(path, rm.data(), {rm.rows(), rm.cols()});
}

}  // namespace jacnet::io
