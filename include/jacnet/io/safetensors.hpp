#pragma once
// jacnet/io/safetensors.hpp — the safetensors tensor file format (Hugging Face; shared by PyTorch
// users), read and written with Debian's nlohmann-json.
//
// Layout: an 8-byte little-endian uint64 N, N bytes of UTF-8 JSON (padded with spaces), then the
// data section. The JSON maps each tensor name to
//   {"dtype": "F32" | "F64" | "U8" | ..., "shape": [d0, d1, ...], "data_offsets": [begin, end]}
// (offsets relative to the data section, little-endian, C order) and may hold
// "__metadata__": {string: string}.
//
// SafetensorsFile::parse validates, with an IoError naming the file and the tensor: the header
// length (present, at most 100 MB and inside the file), that the header is a JSON object without
// duplicate names, each entry's fields (dtype known, shape of non-negative integers, two offsets
// begin <= end), that end - begin = prod(shape) * sizeof(dtype), that the offsets lie inside the
// data section, and that the tensors tile the data section without overlap or holes (the rule of
// the reference implementation). A shape's product is checked for overflow with zero dimensions
// too (the product of the non-zero dimensions must stay below 2^62 bytes). Element access checks
// dtype against the requested type (Convert::exact by default; Convert::allow converts, see
// io/dtype.hpp) and, when asked, the shape.
//
// The writer stores tensors in the order given, padding the header with spaces so the data section
// starts at a multiple of 8, and writes through AtomicFile.
//
//   io::write_safetensors("t.safetensors", {io::tensor_ref("w", {3, 4}, w.data())});
//   auto f = io::SafetensorsFile::read("t.safetensors");
//   std::vector<double> w2 = f.get<double>("w");   // f.at("w").shape == {3, 4}
#if !__has_include(<nlohmann/json.hpp>)
#error "jacnet/io/safetensors.hpp needs nlohmann-json (Debian: nlohmann-json3-dev)"
#endif
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/dtype.hpp"

namespace jacnet::io {

/// One tensor's entry in a safetensors header.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Index> shape;
  std::uint64_t begin = 0;  ///< offsets within the data section
  std::uint64_t end = 0;
  std::uint64_t numel() const {
    std::uint64_t n = 1;
    for (Index d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
  }
};

inline std::string shape_str(const std::vector<Index>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

/// A tensor to write: name, dtype, shape and a pointer to prod(shape) host-order elements.
struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Index> shape;
  const void* data = nullptr;
};
template <class T>
TensorRef tensor_ref(std::string name, std::vector<Index> shape, const T* data) {
  return {std::move(name), dtype_of<T>(), std::move(shape), data};
}

/// A safetensors file held in memory with its validated header.
class SafetensorsFile {
 public:
  /// Largest header accepted, as in the reference implementation.
  static constexpr std::uint64_t kMaxHeader = 100'000'000;

  static SafetensorsFile read(const std::filesystem::path& path) {
    return parse(read_file(path), path.string());
  }

  static SafetensorsFile parse(std::vector<unsigned char> bytes, std::string file) {
    SafetensorsFile f;
    f.file_ = std::move(file);
    f.bytes_ = std::move(bytes);
    f.validate();
    return f;
  }

  const std::string& file() const { return file_; }
  /// Entries sorted by data offset.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const SafetensorsEntry* find(std::string_view name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  const SafetensorsEntry& at(std::string_view name) const {
    const SafetensorsEntry* e = find(name);
    JACNET_CHECK(e != nullptr, IoError, "safetensors", "'", file_, "': tensor '", name,
                 "' is missing");
    return *e;
  }

  /// Copies tensor `name` into dst (prod(shape) elements). If `expected_shape` is given, the
  /// stored shape must equal it.
  template <class T>
  void copy_to(std::string_view name, T* dst, const std::vector<Index>* expected_shape = nullptr,
               Convert conv = Convert::exact) const {
    const SafetensorsEntry& e = at(name);
    check(e, expected_shape, dtype_of<T>(), conv);
    const auto n = static_cast<std::size_t>(e.numel());
    const std::size_t done = decode_le<T>(e.dtype, data() + e.begin, n, dst);
    JACNET_CHECK(done == n, IoError, "safetensors", "'", file_, "': tensor '", e.name,
                 "': element ", done, " of ", safetensors_name(e.dtype), " does not fit in ",
                 safetensors_name(dtype_of<T>()));
  }
  template <class T>
  std::vector<T> get(std::string_view name, Convert conv = Convert::exact) const {
    const SafetensorsEntry& e = at(name);
    check(e, nullptr, dtype_of<T>(), conv);
    std::vector<T> out;
    resize_or_fail(out, e.numel(), "safetensors", "'", file_, "': tensor '", e.name, "'");
    copy_to<T>(name, out.data(), nullptr, conv);
    return out;
  }
  /// Checks dtype (readable as `want` under `conv`) and, if given, the shape of entry `e`.
  void check(const SafetensorsEntry& e, const std::vector<Index>* expected_shape, DType want,
             Convert conv) const {
    const bool ok = dtype_convertible(e.dtype, want, conv);
    JACNET_CHECK(ok, IoError, "safetensors", "'", file_, "': tensor '", e.name, "' has dtype ",
                 safetensors_name(e.dtype), ", expected ", safetensors_name(want),
                 conv == Convert::exact && (e.dtype == DType::F32 || e.dtype == DType::F64)
                     ? " (pass Convert::allow to convert between F32 and F64)"
                     : "");
    if (expected_shape)
      JACNET_CHECK(e.shape == *expected_shape, IoError, "safetensors", "'", file_, "': tensor '",
                   e.name, "' has shape ", shape_str(e.shape), ", expected ",
                   shape_str(*expected_shape));
  }

 private:
  const unsigned char* data() const { return bytes_.data() + data_begin_; }

  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    jacnet::detail::raise<IoError>("safetensors", "'", file_, "': ", std::forward<Args>(args)...);
  }

  static bool as_u64(const nlohmann::json& j, std::uint64_t& out) {
    if (j.is_number_unsigned()) {
      out = j.get<std::uint64_t>();
      return true;
    }
    if (j.is_number_integer() && j.get<std::int64_t>() >= 0) {
      out = static_cast<std::uint64_t>(j.get<std::int64_t>());
      return true;
    }
    return false;
  }

  void validate() {
    const std::uint64_t size = bytes_.size();
    if (size < 8) fail("truncated: ", size, " bytes, shorter than the 8-byte header length");
    const auto hlen = load_le<std::uint64_t>(bytes_.data());
    if (hlen > kMaxHeader)
      fail("absurd header length ", hlen, " (more than ", kMaxHeader, " bytes)");
    if (hlen > size - 8)
      fail("truncated: header length ", hlen, " but only ", size - 8,
           " bytes follow the length field");
    if (hlen == 0 || bytes_[8] != '{') fail("header does not start with '{'");
    data_begin_ = 8 + hlen;
    const std::uint64_t data_size = size - data_begin_;

    // Duplicate top-level names are an error (nlohmann keeps only the last one otherwise).
    std::set<std::string> seen;
    std::string dup;
    auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      if (depth == 1 && ev == nlohmann::json::parse_event_t::key && dup.empty()) {
        const auto k = parsed.get<std::string>();
        if (!seen.insert(k).second) dup = k;
      }
      return true;
    };
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(bytes_.begin() + 8,
                                     bytes_.begin() + 8 + static_cast<long>(hlen), cb);
    } catch (const nlohmann::json::exception& e) {
      fail("header is not valid JSON: ", e.what());
    }
    if (!dup.empty()) fail("tensor name '", dup, "' appears twice in the header");
    if (!header.is_object()) fail("header is not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail("__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) fail("__metadata__ value of '", m.key(), "' is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) fail("tensor '", name, "': entry is not an object");
      SafetensorsEntry e;
      e.name = name;
      if (!v.contains("dtype") || !v["dtype"].is_string())
        fail("tensor '", name, "': field 'dtype' is missing or not a string");
      const std::string dt = v["dtype"].get<std::string>();
      if (!parse_safetensors_dtype(dt, e.dtype))
        fail("tensor '", name, "': unknown dtype '", dt, "'");
      if (!v.contains("shape") || !v["shape"].is_array())
        fail("tensor '", name, "': field 'shape' is missing or not an array");
      // numel = prod(shape). Each dimension must fit in Index, and the product of the non-zero
      // dimensions times the element size must stay below 2^62, so a zero dimension cannot hide
      // an overflow of the others ([0, 2^64 - 1] is rejected, not stored as [0, -1]).
      constexpr std::uint64_t kMaxNumelBytes = std::uint64_t{1} << 62;
      const std::uint64_t es = dtype_size(e.dtype);
      std::uint64_t numel = 1, nonzero = 1;
      for (const auto& d : v["shape"]) {
        std::uint64_t u = 0;
        if (!as_u64(d, u))
          fail("tensor '", name, "': shape ", v["shape"].dump(),
               " must hold non-negative integers");
        if (u != 0 && nonzero > kMaxNumelBytes / es / u)
          fail("tensor '", name, "': absurd shape ", v["shape"].dump(),
               ": the product of its non-zero dimensions times ", es,
               " bytes exceeds 2^62");
        if (u != 0) nonzero *= u;
        numel *= u;
        e.shape.push_back(static_cast<Index>(u));
      }
      if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
          v["data_offsets"].size() != 2 || !as_u64(v["data_offsets"][0], e.begin) ||
          !as_u64(v["data_offsets"][1], e.end))
        fail("tensor '", name,
             "': field 'data_offsets' must be [begin, end] of non-negative integers");
      if (e.begin > e.end)
        fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] has begin > end");
      if (e.end > data_size)
        fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
             "] reach past the data section of ", data_size, " bytes (truncated file?)");
      const std::uint64_t need = numel * dtype_size(e.dtype);
      if (e.end - e.begin != need)
        fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] span ",
             e.end - e.begin, " bytes but shape ", shape_str(e.shape), " of ",
             safetensors_name(e.dtype), " needs ", need);
      entries_.push_back(std::move(e));
    }
    std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t pos = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      if (e.begin < pos)
        fail("tensors '", entries_[i - 1].name, "' [", entries_[i - 1].begin, ", ",
             entries_[i - 1].end, "] and '", e.name, "' [", e.begin, ", ", e.end, "] overlap");
      if (e.begin > pos)
        fail("bytes [", pos, ", ", e.begin, ") of the data section belong to no tensor (before '",
             e.name, "')");
      pos = e.end;
    }
    if (pos != data_size)
      fail("size mismatch: the tensors cover ", pos, " bytes but the data section has ", data_size,
           " (", data_size - pos, " trailing bytes)");
  }

  std::string file_;
  std::vector<unsigned char> bytes_;
  std::uint64_t data_begin_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// Encodes tensors (in the given order) and metadata as safetensors bytes.
inline std::vector<unsigned char> encode_safetensors(
    const std::vector<TensorRef>& tensors,
    const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    JACNET_CHECK(!t.name.empty() && t.name != "__metadata__", ValueError, "write_safetensors",
                 "invalid tensor name '", t.name, "'");
    JACNET_CHECK(names.insert(t.name).second, ValueError, "write_safetensors", "tensor name '",
                 t.name, "' given twice");
    std::uint64_t n = 1;
    for (Index d : t.shape) {
      JACNET_CHECK(d >= 0, ValueError, "write_safetensors", "tensor '", t.name,
                   "': negative dimension in shape ", shape_str(t.shape));
      n *= static_cast<std::uint64_t>(d);
    }
    JACNET_CHECK(n == 0 || t.data != nullptr, ValueError, "write_safetensors", "tensor '", t.name,
                 "': null data");
    const std::uint64_t nbytes = n * dtype_size(t.dtype);
    nlohmann::ordered_json e;
    e["dtype"] = std::string(safetensors_name(t.dtype));
    e["shape"] = t.shape;
    e["data_offsets"] = {offset, offset + nbytes};
    header[t.name] = e;
    offset += nbytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<unsigned char> out(8 + h.size() + offset);
  store_le<std::uint64_t>(out.data(), h.size());
  std::memcpy(out.data() + 8, h.data(), h.size());
  unsigned char* p = out.data() + 8 + h.size();
  for (const auto& t : tensors) {
    std::uint64_t n = 1;
    for (Index d : t.shape) n *= static_cast<std::uint64_t>(d);
    switch (t.dtype) {
      case DType::F32:
        encode_le(static_cast<const float*>(t.data), n, p);
        break;
      case DType::F64:
        encode_le(static_cast<const double*>(t.data), n, p);
        break;
      case DType::U8:
        encode_le(static_cast<const std::uint8_t*>(t.data), n, p);
        break;
      case DType::I32:
        encode_le(static_cast<const std::int32_t*>(t.data), n, p);
        break;
      case DType::I64:
        encode_le(static_cast<const std::int64_t*>(t.data), n, p);
        break;
      default:
        jacnet::detail::raise<ValueError>("write_safetensors", "tensor '", t.name, "': dtype ",
                                          safetensors_name(t.dtype), " cannot be written");
    }
    p += n * dtype_size(t.dtype);
  }
  return out;
}

/// Writes tensors atomically to `path`.
inline void write_safetensors(const std::filesystem::path& path,
                              const std::vector<TensorRef>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

}  // namespace jacnet::io
