#pragma once
// jacnet/io/idx.hpp — reader and writer for IDX files (the MNIST / Fashion-MNIST format).
//
// Layout: a 4-byte magic {0, 0, type, ndims}, then ndims big-endian uint32 dimensions, then
// prod(dims) big-endian elements of `type` (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
// 0x0D float32, 0x0E float64), row-major. Files may be gzip-compressed (detected from the gzip
// magic 1F 8B, not from the name); decompression goes through zlib when JACNET_HAS_ZLIB is set
// (the CMake target sets it when zlib is found).
//
// read_idx<T> (a file) and parse_idx<T> (bytes in memory) check, in order, and throw IoError
// naming the file and the field: the magic (two zero bytes), the dtype code, the number of
// dimensions (1..16), each dimension (> 0), the total size (no overflow; at most
// IdxOptions::max_bytes counted both in the file's bytes and in the bytes of T), what the file
// can hold (a plain file's length; a gzip file of c bytes decompresses to at most 1032 c bytes),
// then while reading: truncation, corruption and trailing bytes after the data (gzip). Nothing is
// allocated before these checks; decompressed data is stored as it arrives, so a gzip header that
// lies costs no more memory than the data actually present (at most twice it, as the buffer
// doubles), and an allocation failure is an IoError too, never std::bad_alloc.
//
//   auto imgs = io::read_idx<std::uint8_t>("train-images-idx3-ubyte.gz");  // dims {60000, 28, 28}
//   auto x = io::read_idx<float>("data.idx");   // any numeric type, converted to float
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/idx_source.hpp"

#ifdef JACNET_HAS_ZLIB
#include <zlib.h>
#endif

namespace jacnet::io {

/// IDX element type codes (third magic byte).
enum class IdxType : std::uint8_t {
  u8 = 0x08,
  i8 = 0x09,
  i16 = 0x0B,
  i32 = 0x0C,
  f32 = 0x0D,
  f64 = 0x0E
};

/// Bytes per element of an IDX type, 0 for an unknown code.
constexpr std::size_t idx_type_size(std::uint8_t code) {
  switch (code) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}
constexpr const char* idx_type_name(IdxType t) {
  switch (t) {
    case IdxType::u8:
      return "uint8";
    case IdxType::i8:
      return "int8";
    case IdxType::i16:
      return "int16";
    case IdxType::i32:
      return "int32";
    case IdxType::f32:
      return "float32";
    case IdxType::f64:
      return "float64";
  }
  return "?";
}

struct IdxOptions {
  /// Largest data size accepted (bytes), a guard against corrupt headers, checked before anything
  /// is allocated against both the stored bytes and the bytes of the requested element type.
  /// Default 4 GiB.
  std::uint64_t max_bytes = std::uint64_t{1} << 32;
};

/// An IDX array: its stored type, its dimensions and its elements (row-major).
template <class T>
struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<Index> dims;
  std::vector<T> data;
  Index size() const { return static_cast<Index>(data.size()); }
};

namespace detail {

inline std::string hex_byte(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v & 0xFFu);
  return buf;
}

inline std::string dims_str(const std::vector<Index>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

template <class E>
inline E load_be(const unsigned char* p) {
  using U = std::conditional_t<
      sizeof(E) == 1, std::uint8_t,
      std::conditional_t<sizeof(E) == 2, std::uint16_t,
                         std::conditional_t<sizeof(E) == 4, std::uint32_t, std::uint64_t>>>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(E); ++i) u = static_cast<U>((u << 8) | p[i]);
  E e;
  std::memcpy(&e, &u, sizeof(E));
  return e;
}

/// Whether element e of the file converts to T without undefined behavior or wrap-around: an
/// integer T must hold the value (floating-point data: after truncation toward zero; NaN never
/// fits). Conversions to floating point always fit (double -> float rounds, IEEE).
template <class T, class E>
inline bool idx_fits(E e) {
  if constexpr (std::is_integral_v<T> && std::is_floating_point_v<E>) {
    // trunc(e) in [min, max]  <=>  min - 1 < e < max + 1 (exact in long double for 64-bit T).
    constexpr long double lo = static_cast<long double>(std::numeric_limits<T>::min()) - 1.0L;
    constexpr long double hi = static_cast<long double>(std::numeric_limits<T>::max()) + 1.0L;
    return static_cast<long double>(e) > lo && static_cast<long double>(e) < hi;
  } else if constexpr (std::is_integral_v<T>) {
    return std::in_range<T>(e);
  } else {
    return true;
  }
}

/// dst[i] = element i (big-endian E at src) as T; returns the index of the first element that
/// does not fit in T (see idx_fits), or n.
template <class E, class T>
inline std::size_t convert_be(const unsigned char* src, std::size_t n, T* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    E e;
    if constexpr (sizeof(E) == 1)
      std::memcpy(&e, src + i, 1);
    else
      e = load_be<E>(src + sizeof(E) * i);
    if (!idx_fits<T>(e)) return i;
    dst[i] = static_cast<T>(e);
  }
  return n;
}

/// Converts n elements of an IDX type to T; returns the index of the first element that does not
/// fit in T, or n.
template <class T>
std::size_t convert_idx(IdxType type, const unsigned char* src, std::size_t n, T* dst) {
  switch (type) {
    case IdxType::u8:
      return convert_be<std::uint8_t>(src, n, dst);
    case IdxType::i8:
      return convert_be<std::int8_t>(src, n, dst);
    case IdxType::i16:
      return convert_be<std::int16_t>(src, n, dst);
    case IdxType::i32:
      return convert_be<std::int32_t>(src, n, dst);
    case IdxType::f32:
      return convert_be<float>(src, n, dst);
    case IdxType::f64:
      return convert_be<double>(src, n, dst);
  }
  return 0;
}

/// Decodes an IDX array from `src` (see read_idx).
template <class T>
IdxArray<T> read_idx_from(IdxSource& src, const IdxOptions& opt) {
  static_assert(std::is_arithmetic_v<T>, "read_idx: T must be an arithmetic type");
  const std::string& file = src.name();
  const char* kind = src.gzip() ? " (gzip)" : "";

  unsigned char magic[4];
  const std::uint64_t got_magic = src.read(magic, 4);
  JACNET_CHECK(got_magic == 4, IoError, "read_idx", "'", file, "'", kind,
               ": truncated: ", got_magic, " bytes, shorter than the 4-byte magic");
  JACNET_CHECK(magic[0] == 0 && magic[1] == 0, IoError, "read_idx", "'", file, "'", kind,
               ": wrong magic: first two bytes are ", hex_byte(magic[0]), " ", hex_byte(magic[1]),
               ", expected 0x00 0x00 (not an IDX file)");
  const std::size_t esize = idx_type_size(magic[2]);
  JACNET_CHECK(esize != 0, IoError, "read_idx", "'", file, "'", kind, ": unknown dtype code ",
               hex_byte(magic[2]), " in magic byte 2 (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)");
  const auto type = static_cast<IdxType>(magic[2]);
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    JACNET_CHECK(type == IdxType::u8, IoError, "read_idx", "'", file, "'", kind, ": dtype is ",
                 idx_type_name(type), ", which cannot be read as uint8 (read it as float)");
  }
  const unsigned ndims = magic[3];
  JACNET_CHECK(ndims >= 1 && ndims <= 16, IoError, "read_idx", "'", file, "'", kind,
               ": number of dimensions (magic byte 3) is ", ndims, ", expected 1..16");

  unsigned char dimbuf[16 * 4];
  const std::uint64_t got_dims = src.read(dimbuf, 4 * ndims);
  JACNET_CHECK(got_dims == 4 * ndims, IoError, "read_idx", "'", file, "'", kind,
               ": truncated in the dimension header: ", got_dims, " of ", 4 * ndims, " bytes for ",
               ndims, " dimensions");
  IdxArray<T> out;
  out.type = type;
  std::uint64_t count = 1;
  bool overflow = false;
  for (unsigned i = 0; i < ndims; ++i) {
    const std::uint32_t d = load_be<std::uint32_t>(dimbuf + 4 * i);
    out.dims.push_back(static_cast<Index>(d));
    JACNET_CHECK(d > 0, IoError, "read_idx", "'", file, "'", kind, ": dimension ", i, " is 0");
    if (count > std::numeric_limits<std::uint64_t>::max() / d)
      overflow = true;
    else
      count *= d;
  }
  // The limit bounds both the bytes read from the file and the bytes allocated for T (a uint8
  // file read as double needs 8 bytes per element).
  const std::uint64_t header = 4 + 4ull * ndims;
  const std::uint64_t unit = std::max<std::uint64_t>(esize, sizeof(T));
  JACNET_CHECK(!overflow && count <= opt.max_bytes / unit, IoError, "read_idx", "'", file, "'",
               kind, ": absurd size: dimensions ", dims_str(out.dims), " of ", idx_type_name(type),
               " read as ", sizeof(T), "-byte elements exceed the limit of ", opt.max_bytes,
               " bytes (IdxOptions::max_bytes)");
  const std::uint64_t nbytes = count * esize;
  if (!src.gzip()) {
    const std::uint64_t have = src.stored_size() - header;
    JACNET_CHECK(have >= nbytes, IoError, "read_idx", "'", file, "': truncated: dimensions ",
                 dims_str(out.dims), " of ", idx_type_name(type), " need ", nbytes,
                 " data bytes but the file has ", have, " after its ", header, "-byte header");
    JACNET_CHECK(have == nbytes, IoError, "read_idx", "'", file, "': size mismatch: dimensions ",
                 dims_str(out.dims), " of ", idx_type_name(type), " need ", nbytes,
                 " data bytes but the file has ", have, " (", have - nbytes, " trailing bytes)");
  } else {
    // What a gzip file of this size can hold at most (deflate's maximum expansion).
    const std::uint64_t stored = src.stored_size();
    const std::uint64_t can_hold =
        stored > std::numeric_limits<std::uint64_t>::max() / kDeflateMaxRatio
            ? std::numeric_limits<std::uint64_t>::max()
            : stored * kDeflateMaxRatio;
    JACNET_CHECK(nbytes <= can_hold - std::min(can_hold, header), IoError, "read_idx", "'", file,
                 "' (gzip): truncated: dimensions ", dims_str(out.dims), " of ",
                 idx_type_name(type), " need ", nbytes, " data bytes but a gzip file of ", stored,
                 " bytes decompresses to at most ", can_hold, " bytes (deflate's maximum ratio ",
                 kDeflateMaxRatio, ":1)");
  }

  // Plain data is known to be there (the length matched): allocate once. Decompressed data is
  // not known until it arrives: grow the buffer with it, so a lying header costs no memory.
  auto grow_to = [&](std::uint64_t n) {
    if (n > out.data.capacity()) {
      const std::uint64_t cap = std::min<std::uint64_t>(
          count, std::max<std::uint64_t>(n, 2 * static_cast<std::uint64_t>(out.data.capacity())));
      try {
        out.data.reserve(static_cast<std::size_t>(cap));
      } catch (const std::bad_alloc&) {
        jacnet::detail::raise<IoError>("read_idx", "'", file, "'", kind, ": dimensions ",
                                       dims_str(out.dims), ": cannot allocate ",
                                       cap * sizeof(T), " bytes (out of memory)");
      }
    }
    out.data.resize(static_cast<std::size_t>(n));
  };
  if (!src.gzip()) grow_to(count);

  // Read and convert in blocks (a multiple of every element size).
  constexpr std::uint64_t kBlock = 1 << 20;
  std::vector<unsigned char> buf(static_cast<std::size_t>(std::min(nbytes, kBlock)));
  std::uint64_t got = 0;
  while (got < nbytes) {
    const std::uint64_t want = std::min<std::uint64_t>(kBlock, nbytes - got);
    const std::uint64_t k = src.read(buf.data(), want);
    if (k != want) {
      got += k;
      break;
    }
    grow_to((got + want) / esize);
    const auto m = static_cast<std::size_t>(want / esize);
    const std::size_t done = convert_idx(type, buf.data(), m, out.data.data() + got / esize);
    JACNET_CHECK(done == m, IoError, "read_idx", "'", file, "'", kind, ": element ",
                 got / esize + done, " of the ", idx_type_name(type),
                 " data does not fit in the requested ", sizeof(T), "-byte ",
                 std::is_integral_v<T> ? "integer" : "type",
                 " (out of range or NaN; read it as double)");
    got += want;
  }
  JACNET_CHECK(got == nbytes, IoError, "read_idx", "'", file, "'", kind, ": truncated: dimensions ",
               dims_str(out.dims), " of ", idx_type_name(type), " need ", nbytes,
               " data bytes, the file holds ", got);
  if (src.gzip()) {
    unsigned char extra[64];
    const std::uint64_t more = src.read(extra, sizeof extra);
    JACNET_CHECK(more == 0, IoError, "read_idx", "'", file,
                 "' (gzip): size mismatch: trailing data after the ", nbytes,
                 " data bytes of dimensions ", dims_str(out.dims));
  }
  return out;
}

}  // namespace detail

/// Reads an IDX file (plain or gzip). T = std::uint8_t requires uint8 data; T = float, double,
/// std::int32_t or std::int64_t accept every IDX type and convert with static_cast; a value an
/// integer T cannot hold (an out-of-range or NaN float, a negative int8 as unsigned) is an
/// IoError naming the element.
template <class T>
IdxArray<T> read_idx(const std::filesystem::path& path, const IdxOptions& opt = {}) {
  detail::IdxSource src(path);
  return detail::read_idx_from<T>(src, opt);
}

/// Decodes IDX bytes held in memory (plain or gzip), with the checks of read_idx; `name` names
/// them in errors.
template <class T>
IdxArray<T> parse_idx(const unsigned char* bytes, std::size_t n, const std::string& name,
                      const IdxOptions& opt = {}) {
  detail::IdxSource src(bytes, n, name);
  return detail::read_idx_from<T>(src, opt);
}

/// The IDX type code of a C++ element type.
template <class T>
constexpr IdxType idx_type_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return IdxType::u8;
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return IdxType::i8;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return IdxType::i16;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return IdxType::i32;
  else if constexpr (std::is_same_v<T, float>)
    return IdxType::f32;
  else if constexpr (std::is_same_v<T, double>)
    return IdxType::f64;
  else
    static_assert(sizeof(T) == 0, "write_idx: unsupported element type");
}

/// Encodes an IDX file in memory (big-endian), optionally gzip-compressed.
template <class T>
std::vector<unsigned char> encode_idx(const std::vector<Index>& dims, const T* data,
                                      bool gzip = false) {
  JACNET_CHECK(!dims.empty() && dims.size() <= 16, ValueError, "encode_idx",
               "number of dimensions ", dims.size(), " must be 1..16");
  std::uint64_t count = 1;
  for (Index d : dims) {
    JACNET_CHECK(d > 0 && static_cast<std::uint64_t>(d) <= 0xFFFFFFFFull, ValueError, "encode_idx",
                 "dimension ", d, " out of range");
    count *= static_cast<std::uint64_t>(d);
  }
  std::vector<unsigned char> raw(4 + 4 * dims.size() + count * sizeof(T));
  raw[2] = static_cast<unsigned char>(idx_type_of<T>());
  raw[3] = static_cast<unsigned char>(dims.size());
  unsigned char* p = raw.data() + 4;
  for (Index d : dims) {
    const auto u = static_cast<std::uint32_t>(d);
    for (int s = 3; s >= 0; --s) *p++ = static_cast<unsigned char>(u >> (8 * s));
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, data + i, sizeof(T));
    if constexpr (std::endian::native == std::endian::little) std::reverse(b, b + sizeof(T));
    std::memcpy(p + i * sizeof(T), b, sizeof(T));
  }
  if (!gzip) return raw;
#ifdef JACNET_HAS_ZLIB
  JACNET_CHECK(raw.size() < (std::uint64_t{1} << 31), ValueError, "encode_idx",
               "gzip output limited to 2 GiB of raw data, got ", raw.size(), " bytes");
  z_stream zs{};
  JACNET_CHECK(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
      IoError, "encode_idx", "zlib deflateInit2 failed");
  std::vector<unsigned char> out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto produced = zs.total_out;
  deflateEnd(&zs);
  JACNET_CHECK(rc == Z_STREAM_END, IoError, "encode_idx", "zlib deflate failed (", rc, ")");
  out.resize(produced);
  return out;
#else
  jacnet::detail::raise<IoError>("encode_idx", "gzip requested but jacnet was built without zlib");
#endif
}

/// Writes an IDX file atomically (gzip-compressed if `gzip`).
template <class T>
void write_idx(const std::filesystem::path& path, const std::vector<Index>& dims, const T* data,
               bool gzip = false) {
  write_file_atomic(path, encode_idx(dims, data, gzip));
}

}  // namespace jacnet::io
