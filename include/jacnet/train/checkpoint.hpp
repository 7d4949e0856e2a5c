#pragma once
// jacnet/train/checkpoint.hpp — checkpoints inside a training run (FitOptions::checkpoint).
//
// train::fit writes the whole state of a run at a batch boundary — parameters, the optimizer's
// state (SGD's momentum buffer; Adam's moments and step count), the loss workspace's random
// engine, the position (epoch, batch within the epoch, iterations, optimizer steps), the running
// sums of the epoch in progress and the records of the finished epochs — every K batches and/or
// every S seconds, atomically (io::AtomicFile: a kill at any moment leaves the previous checkpoint
// or the new one, never a mix). The batch order needs no state of its own: epoch e's order is a
// pure function of (FitOptions::seed, e) (train/batches.hpp), so the seed (an identity field) and
// the position restore it. fit with `resume = true` continues from the file, and the run ends
// with bitwise the parameters, optimizer state and records (all but EpochRecord::seconds) of an
// uninterrupted run.
//
// File format ("jacnet fit checkpoint", version 1; all numbers little-endian):
//   8 bytes  magic "JACNETFC"
//   8 bytes  uint64 n: length of the text header
//   n bytes  text header, one "key: value" per line (UTF-8, no other newlines): the identity
//            fields (format, scalar, net, parameters, optimizer, batch_size, samples, ...), the
//            position, the random engine's state, and one "array NAME DTYPE COUNT" line per array
//   ...      the arrays' data in the order of their lines (DTYPE f32, f64 or i64)
//   8 bytes  uint64 FNV-1a hash of every byte before it
// read_checkpoint checks the magic, the hash (a truncated or modified file is rejected before
// anything in it is used), the header lines and that the arrays tile the data exactly; every
// error is an IoError naming the file and the field. check_identity compares the identity fields
// with the run's and names the first that differs (wrong net, parameter count, optimizer kind,
// batch size, data size, seed, ...).
//
// Note on layering: this header uses io/atomic_file.hpp (which depends on core only) for the
// atomic write; it needs nothing else from io.
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/train/history.hpp"

namespace jacnet::train {

/// When and where train::fit writes checkpoints, and whether it resumes from one.
struct CheckpointOptions {
  std::filesystem::path path{};  ///< the checkpoint file (empty: no checkpoints)
  std::int64_t every_steps = 0;  ///< write after every K-th batch of the run (0: not by count)
  double every_seconds = 0.0;    ///< write when S seconds passed since the last write (0: not)
  bool at_end = true;            ///< also write when the run ends (marked finished)
  bool resume = false;  ///< start from `path` if it exists (validated; a finished checkpoint
                        ///< returns its history at once); else train from the start
  std::string tag{};    ///< the caller's description of the run, stored and required equal
  /// Called after each write with the file and the iteration (batches done) it holds.
  std::function<void(const std::filesystem::path&, std::int64_t)> on_write{};
};

/// The contents of a checkpoint file: text fields and arrays (train::fit fills and reads it).
struct CheckpointData {
  static constexpr std::string_view kMagic = "JACNETFC";
  static constexpr std::string_view kFormat = "jacnet fit checkpoint 1";

  std::vector<std::pair<std::string, std::string>> fields;  ///< in file order
  struct Array {
    std::string name;
    std::string dtype;  ///< "f32", "f64", "i64"
    std::vector<unsigned char> bytes;
  };
  std::vector<Array> arrays;
  std::string file;  ///< where it was read from (for errors)

  void set(std::string key, std::string value) {
    for (auto& [k, v] : fields)
      if (k == key) {
        v = std::move(value);
        return;
      }
    fields.emplace_back(std::move(key), std::move(value));
  }
  const std::string* find(std::string_view key) const {
    for (const auto& [k, v] : fields)
      if (k == key) return &v;
    return nullptr;
  }
  const std::string& get(std::string_view key) const {
    const std::string* v = find(key);
    JACNET_CHECK(v != nullptr, IoError, "train::checkpoint", "'", file, "': field '", key,
                 "' is missing");
    return *v;
  }
  std::int64_t get_int(std::string_view key) const {
    const std::string& v = get(key);
    std::int64_t x = 0;
    std::size_t used = 0;
    try {
      x = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    JACNET_CHECK(used == v.size() && !v.empty(), IoError, "train::checkpoint", "'", file,
                 "': field '", key, "' is '", v, "', not an integer");
    return x;
  }

  template <class V>
  static constexpr const char* dtype_of() {
    if constexpr (std::is_same_v<V, float>) return "f32";
    else if constexpr (std::is_same_v<V, double>) return "f64";
    else {
      static_assert(std::is_same_v<V, std::int64_t>, "checkpoint arrays: float, double, int64");
      return "i64";
    }
  }
  template <class V>
  void add_array(std::string name, const V* data, std::size_t n) {
    Array a{std::move(name), dtype_of<V>(), {}};
    a.bytes.resize(n * sizeof(V));
    if (n > 0) std::memcpy(a.bytes.data(), data, n * sizeof(V));
    arrays.push_back(std::move(a));
  }
  const Array* find_array(std::string_view name) const {
    for (const auto& a : arrays)
      if (a.name == name) return &a;
    return nullptr;
  }
  /// Array `name` of element type V; `count` (if ≥ 0) is the required number of elements.
  template <class V>
  std::vector<V> get_array(std::string_view name, std::int64_t count = -1) const {
    const Array* a = find_array(name);
    JACNET_CHECK(a != nullptr, IoError, "train::checkpoint", "'", file, "': array '", name,
                 "' is missing");
    JACNET_CHECK(a->dtype == dtype_of<V>(), IoError, "train::checkpoint", "'", file, "': array '",
                 name, "' has dtype ", a->dtype, ", expected ", dtype_of<V>());
    const std::size_t n = a->bytes.size() / sizeof(V);
    JACNET_CHECK(count < 0 || static_cast<std::int64_t>(n) == count, IoError, "train::checkpoint",
                 "'", file, "': array '", name, "' has ", n, " elements, expected ", count);
    std::vector<V> out(n);
    if (n > 0) std::memcpy(out.data(), a->bytes.data(), n * sizeof(V));
    return out;
  }
};

namespace detail {

inline std::uint64_t fnv1a(const unsigned char* p, std::size_t n,
                           std::uint64_t h = 14695981039346656037ull) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
inline void put_u64(std::vector<unsigned char>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
inline std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
inline std::size_t dtype_bytes(std::string_view d) {
  return d == "f32" ? 4 : (d == "f64" || d == "i64") ? 8 : 0;
}

}  // namespace detail

/// The bytes of a checkpoint file (see the header for the layout).
inline std::vector<unsigned char> encode_checkpoint(const CheckpointData& c) {
  static_assert(std::endian::native == std::endian::little,
                "jacnet checkpoints are little-endian; this host is not");
  std::string text;
  for (const auto& [k, v] : c.fields) {
    JACNET_CHECK(k.find_first_of(":\n") == std::string::npos && !k.empty() &&
                     v.find('\n') == std::string::npos,
                 ValueError, "train::write_checkpoint", "field '", k,
                 "': keys may not hold ':' or newlines, values no newlines");
    text += k + ": " + v + "\n";
  }
  for (const auto& a : c.arrays)
    text += "array " + a.name + " " + a.dtype + " " +
            std::to_string(a.bytes.size() / detail::dtype_bytes(a.dtype)) + "\n";
  std::vector<unsigned char> out(CheckpointData::kMagic.begin(), CheckpointData::kMagic.end());
  detail::put_u64(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  for (const auto& a : c.arrays) out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  detail::put_u64(out, detail::fnv1a(out.data(), out.size()));
  return out;
}

/// Writes a checkpoint atomically (the old file stays until the new one is complete).
inline void write_checkpoint(const std::filesystem::path& path, const CheckpointData& c) {
  io::write_file_atomic(path, encode_checkpoint(c));
}

/// Parses checkpoint bytes (file: the name used in errors); see the header for what is checked.
inline CheckpointData decode_checkpoint(const std::vector<unsigned char>& b,
                                        const std::string& file) {
  constexpr const char* where = "train::read_checkpoint";
  const std::size_t magic = CheckpointData::kMagic.size();
  JACNET_CHECK(b.size() >= magic && std::memcmp(b.data(), CheckpointData::kMagic.data(), magic) == 0,
               IoError, where, "'", file, "' is not a jacnet fit checkpoint (no \"",
               CheckpointData::kMagic, "\" magic)");
  JACNET_CHECK(b.size() >= magic + 16, IoError, where, "'", file, "' is truncated (", b.size(),
               " bytes)");
  const std::uint64_t stored = detail::get_u64(b.data() + b.size() - 8);
  JACNET_CHECK(detail::fnv1a(b.data(), b.size() - 8) == stored, IoError, where, "'", file,
               "': checksum mismatch: the file is truncated or corrupted");
  const std::uint64_t n = detail::get_u64(b.data() + magic);
  const std::size_t body = b.size() - magic - 16;
  JACNET_CHECK(n <= body, IoError, where, "'", file, "': header length ", n, " exceeds the ",
               body, " bytes of the file");
  CheckpointData c;
  c.file = file;
  const std::string text(reinterpret_cast<const char*>(b.data() + magic + 8),
                         static_cast<std::size_t>(n));
  std::size_t pos = magic + 8 + static_cast<std::size_t>(n);
  const std::size_t data_end = b.size() - 8;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("array ", 0) == 0) {
      std::istringstream ls(line.substr(6));
      std::string name, dtype;
      std::uint64_t count = 0;
      JACNET_CHECK(static_cast<bool>(ls >> name >> dtype >> count), IoError, where, "'", file,
                   "': malformed array line '", line, "'");
      const std::size_t es = detail::dtype_bytes(dtype);
      JACNET_CHECK(es > 0, IoError, where, "'", file, "': array '", name, "' has unknown dtype '",
                   dtype, "'");
      JACNET_CHECK(count <= (data_end - pos) / es, IoError, where, "'", file, "': array '", name,
                   "' (", count, " x ", dtype, ") runs past the end of the data");
      CheckpointData::Array a{name, dtype, {}};
      a.bytes.assign(b.begin() + static_cast<std::ptrdiff_t>(pos),
                     b.begin() + static_cast<std::ptrdiff_t>(pos + count * es));
      pos += count * es;
      c.arrays.push_back(std::move(a));
    } else {
      const std::size_t colon = line.find(": ");
      JACNET_CHECK(colon != std::string::npos && colon > 0, IoError, where, "'", file,
                   "': malformed header line '", line.substr(0, 80), "'");
      c.fields.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
  }
  JACNET_CHECK(pos == data_end, IoError, where, "'", file, "': ", data_end - pos,
               " bytes of data after the last array");
  const std::string* fmt = c.find("format");
  JACNET_CHECK(fmt != nullptr && *fmt == CheckpointData::kFormat, IoError, where, "'", file,
               "': field 'format' is '", fmt ? *fmt : std::string("(missing)"), "', expected '",
               CheckpointData::kFormat, "'");
  return c;
}

/// Reads and validates a checkpoint file (IoError naming the file and field on any defect).
inline CheckpointData read_checkpoint(const std::filesystem::path& path) {
  return decode_checkpoint(io::read_file(path, std::uint64_t{1} << 36), path.string());
}

/// Throws IoError naming the file and the first identity field of `expected` (in its order)
/// whose value in the checkpoint differs or is missing.
inline void check_identity(const CheckpointData& c,
                           const std::vector<std::pair<std::string, std::string>>& expected) {
  for (const auto& [k, v] : expected) {
    const std::string* got = c.find(k);
    JACNET_CHECK(got != nullptr, IoError, "train::fit", "checkpoint '", c.file, "': field '", k,
                 "' is missing");
    if (*got != v) {
      auto shorten = [](const std::string& s) {
        return s.size() <= 300 ? s : s.substr(0, 300) + "...";
      };
      ::jacnet::detail::raise<IoError>("train::fit", "checkpoint '", c.file, "': field '", k,
                                       "' differs: the checkpoint has '", shorten(*got),
                                       "', this run has '", shorten(v),
                                       "' (resume with the configuration of that run, or start "
                                       "without resuming)");
    }
  }
}

}  // namespace jacnet::train
