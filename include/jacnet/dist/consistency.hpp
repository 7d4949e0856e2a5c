#pragma once
// jacnet/dist/consistency.hpp — detect, at start, ranks that were given different nets, losses
// or settings (MPI-free: a template over the communicator).
//
// Data-parallel training is only meaningful when every rank runs the same model: the same layer
// types and shapes, the same parameter count, the same loss terms and weights, the same batch
// size and seed. A difference would not crash MPI (the allreduce still adds num_params values,
// or hangs when the counts differ); it would silently train garbage. So each rank hashes what it
// was given into a Fingerprint and check_same allgathers the 64-bit hashes: if they differ, every
// rank throws the same DistError naming the groups of ranks that agree ("ranks 0,2 have 9f3c...;
// rank 1 has 41aa..."). The hash is FNV-1a-style over a canonical text (type names, shapes,
// counts, loss term names and weights, option values), so it does not depend on padding bytes.
//
//   dist::Fingerprint f;
//   f.add("net", net.summary()).add("params", net.num_params());
//   dist::check_same(comm, "net", f.value());
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "jacnet/dist/error.hpp"

namespace jacnet::dist {

/// A 64-bit FNV-1a-style hash of labelled values (texts and raw bytes).
class Fingerprint {
 public:
  Fingerprint& add(std::string_view label, std::string_view text) {
    mix(label);
    mix("=");
    mix(text);
    mix(";");
    return *this;
  }
  template <class V>
  requires(std::is_arithmetic_v<V>) Fingerprint& add(std::string_view label, V v) {
    std::ostringstream os;
    os.precision(17);
    os << v;
    return add(label, os.str());
  }
  /// Mixes raw bytes (e.g. a matrix of training data; only for types without padding): 8-byte
  /// words h ← rotl(h ^ w, 31)·p, then the tail bytes h ← (h ^ b)·p (p = FNV's 64-bit prime).
  /// Each step is a bijection of h, so a change in any one word or byte always changes the hash.
  Fingerprint& add_bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      h_ = std::rotl(h_ ^ w, 31) * kPrime;
    }
    for (; i < n; ++i) h_ = (h_ ^ p[i]) * kPrime;
    return *this;
  }
  std::uint64_t value() const { return h_; }

 private:
  void mix(std::string_view s) { add_bytes(s.data(), s.size()); }
  static constexpr std::uint64_t kPrime = 1099511628211ull;  // FNV-1a 64-bit prime
  std::uint64_t h_ = 14695981039346656037ull;                // FNV-1a offset basis
};

/// Throws DistError on every rank unless all ranks of `comm` passed the same hash; the message
/// names `what` and the ranks of each distinct value. One allgather of one uint64 per rank.
template <class Comm>
void check_same(const Comm& comm, std::string_view what, std::uint64_t hash) {
  const std::vector<std::uint64_t> all =
      comm.template allgather<std::uint64_t>(std::span<const std::uint64_t>(&hash, 1));
  bool same = true;
  for (std::uint64_t h : all) same = same && h == all.front();
  if (same) return;
  std::map<std::uint64_t, std::vector<int>> groups;
  for (std::size_t r = 0; r < all.size(); ++r) groups[all[r]].push_back(static_cast<int>(r));
  std::ostringstream os;
  os << "jacnet: dist::check_same: the ranks disagree on the " << what << ":";
  bool first = true;
  for (const auto& [h, ranks] : groups) {
    os << (first ? " " : "; ") << (ranks.size() == 1 ? "rank " : "ranks ");
    for (std::size_t i = 0; i < ranks.size(); ++i) os << (i ? "," : "") << ranks[i];
    os << (ranks.size() == 1 ? " has " : " have ") << std::hex << h << std::dec;
    first = false;
  }
  os << " (this is rank " << comm.rank() << " of " << comm.size()
     << "; every rank must build the same net, loss and options)";
  throw DistError(os.str());
}

}  // namespace jacnet::dist
