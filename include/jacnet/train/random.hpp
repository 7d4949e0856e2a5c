#pragma once
// jacnet/train/random.hpp — a small seeded random source with portable, reproducible draws.
//
// The training helpers (shuffling, per-class subsets, input noise) must give the same numbers for
// the same seed on every standard library, so they do not use std::uniform_int_distribution or
// std::normal_distribution (whose algorithms are implementation-defined). The engine is
// std::mt19937_64 (its output sequence is fixed by the standard), seeded with
// splitmix64(seed ⊕ splitmix64(stream)) so that (seed, stream) pairs give unrelated sequences
// (stream = epoch, class, ...). Draws:
//   uniform_index(n): unbiased integer in [0, n) by rejection on the top bits (Lemire's method);
//   uniform01():      53 random bits → double in [0, 1);
//   normal():         Box–Muller, z = sqrt(-2 ln u1) · cos(2π u2) (and the sin twin, cached).
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::train {

/// splitmix64 finalizer: a bijective 64-bit mix (Steele, Lea & Flood 2014).
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Seeded random source; one instance per (seed, stream). Not thread-safe (own one per thread).
class Random {
 public:
  explicit Random(std::uint64_t seed, std::uint64_t stream = 0)
      : engine_(splitmix64(seed ^ splitmix64(stream ^ 0x6A09E667F3BCC908ull))) {}

  /// Next raw 64-bit draw.
  std::uint64_t next() { return engine_(); }

  /// Unbiased integer uniform in [0, n); n must be positive.
  Index uniform_index(Index n) {
    JACNET_CHECK(n > 0, ValueError, "Random::uniform_index", "range size ", n, " is not positive");
    const auto range = static_cast<std::uint64_t>(n);
    // Lemire 2019: multiply-shift with rejection of the biased low region.
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * range;
    auto low = static_cast<std::uint64_t>(m);
    if (low < range) {
      const std::uint64_t threshold = (0 - range) % range;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * range;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<Index>(m >> 64);
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Standard normal draw (Box–Muller; pairs are generated together and the second is cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform01();  // (0, 1]: log is finite
    const double u2 = uniform01();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace jacnet::train
