#pragma once
// jacnet/nn/seeds.hpp — the one seeds and random-draw module of jacnet (nn's seed builders and the
// losses' seed policies both use it).
//
// A Jacobian row is sᵀ·∂y/∂x for an output cotangent s (a "seed"); seed matrices have B*M rows
// ordered [sample][seed] (row b*M+m):
//   seeds_full<T>(B, K)                 every sample gets the K unit vectors (the full Jacobian)
//   seeds_label<T>(labels, K)           e_{labels[b]} (labels: int or Index)
//   top_k_indices(Y, k, by_magnitude)   indices of the k largest entries of each row of Y
//   seeds_top_k(Yother, k, by_magnitude) their unit vectors
//   seeds_random_unit<T>(B, M, K, rng)  uniform directions on the unit sphere S^{K-1}
// Random draws: standard_normal(rng) is Box–Muller on 53-bit uniforms from std::mt19937_64, so
// results are the same on every standard library (std::normal_distribution is
// implementation-defined); random_unit(rng, v) normalizes such draws.
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <random>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

// ---- random draws -----------------------------------------------------------------------------

/// A standard normal draw from a std::mt19937_64 (Box–Muller on 53-bit uniforms).
inline double standard_normal(std::mt19937_64& rng) {
  auto u01 = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  double u1 = u01();
  while (u1 <= 0.0) u1 = u01();
  const double u2 = u01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

/// Writes a vector uniform on the unit sphere S^{n-1} (a normalized Gaussian) into `v` (an Eigen
/// vector or row expression with n = v.size() entries).
template <class V>
void random_unit(std::mt19937_64& rng, V&& v) {
  using T = typename std::remove_cvref_t<V>::Scalar;
  double s = 0;
  // The draws in double before normalizing; the scratch is this thread's and only grows, so the
  // steady state of a loss step does not allocate.
  thread_local std::vector<double> z;
  z.resize(static_cast<std::size_t>(v.size()));
  do {
    s = 0;
    for (auto& zi : z) {
      zi = standard_normal(rng);
      s += zi * zi;
    }
  } while (s == 0.0);
  const double inv = 1.0 / std::sqrt(s);
  for (Index i = 0; i < v.size(); ++i) v(i) = static_cast<T>(z[static_cast<std::size_t>(i)] * inv);
}

namespace detail {
/// The k largest of key(0..C-1), largest first, ties to the lower index, into top[0..k): a sorted
/// insertion (k is small: O(C·k)). Strict comparisons keep the lower index first among ties.
template <class Key>
void top_k_row(Index C, Index k, Key&& key, Index* top) {
  Index have = 0;
  for (Index i = 0; i < C; ++i) {
    Index j;
    if (have < k) {
      j = have++;
    } else if (key(top[k - 1]) < key(i)) {
      j = k - 1;
    } else {
      continue;
    }
    top[j] = i;
    for (; j > 0 && key(top[j - 1]) < key(top[j]); --j) std::swap(top[j - 1], top[j]);
  }
}
}  // namespace detail

// ---- seed matrices ----------------------------------------------------------------------------

/// B*K x K: every sample gets the K unit vectors (the full Jacobian).
template <class T>
Matrix<T> seeds_full(Index B, Index K) {
  JACNET_CHECK(B > 0 && K > 0, ValueError, "nn::seeds_full", "B=", B, " K=", K);
  Matrix<T> S = Matrix<T>::Zero(B * K, K);
  for (Index b = 0; b < B; ++b)
    for (Index k = 0; k < K; ++k) S(b * K + k, k) = T(1);
  return S;
}

namespace detail {
template <class T, class Label>
Matrix<T> seeds_label(std::span<const Label> labels, Index K) {
  JACNET_CHECK(!labels.empty() && K > 0, ValueError, "nn::seeds_label", labels.size(),
               " labels, K=", K);
  Matrix<T> S = Matrix<T>::Zero(Index(labels.size()), K);
  for (std::size_t b = 0; b < labels.size(); ++b) {
    const Index l = static_cast<Index>(labels[b]);
    JACNET_CHECK(l >= 0 && l < K, ValueError, "nn::seeds_label", "label ", l, " of sample ", b,
                 " outside [0, ", K, ")");
    S(Index(b), l) = T(1);
  }
  return S;
}
}  // namespace detail

/// B x K: row b = e_{labels[b]} (the Jacobian row of the label class). Labels are `int` (as in
/// losses and train) or `Index`.
template <class T>
Matrix<T> seeds_label(std::span<const int> labels, Index K) {
  return detail::seeds_label<T, int>(labels, K);
}
template <class T>
Matrix<T> seeds_label(std::span<const Index> labels, Index K) {
  return detail::seeds_label<T, Index>(labels, K);
}

/// Indices of the k largest entries of each row of Y (by value, or by |value|), largest first;
/// ties go to the lower index. B*k entries, row-major.
template <class T>
std::vector<Index> top_k_indices(const Matrix<T>& Y, Index k, bool by_magnitude = false) {
  JACNET_CHECK(k >= 1 && k <= Y.cols(), ValueError, "nn::top_k_indices", "k=", k,
               " must be in [1, ", Y.cols(), "]");
  std::vector<Index> out(static_cast<std::size_t>(Y.rows() * k));
  for (Index b = 0; b < Y.rows(); ++b) {
    auto key = [&](Index j) {
      const double v = double(value_of(Y(b, j)));
      return by_magnitude ? std::abs(v) : v;
    };
    detail::top_k_row(Y.cols(), k, key, out.data() + b * k);
  }
  return out;
}

/// B*k x K: for each sample the unit vectors of the k largest outputs of another net's outputs
/// Yother (B x K), e.g. a teacher's logits (by value) or the paper's "largest magnitude" output.
template <class T>
Matrix<T> seeds_top_k(const Matrix<T>& Yother, Index k, bool by_magnitude = false) {
  const auto idx = top_k_indices(Yother, k, by_magnitude);
  Matrix<T> S = Matrix<T>::Zero(Yother.rows() * k, Yother.cols());
  for (Index r = 0; r < S.rows(); ++r) S(r, idx[std::size_t(r)]) = T(1);
  return S;
}

/// B*M x K: independent uniform directions on the unit sphere S^{K-1} (random_unit: normalized
/// Box–Muller Gaussians), drawn from rng row by row (random projections vᵀJ; Hoffman et al.
/// 2019). The same draws as losses::RandomProjection<M> from the same generator state.
template <class T>
Matrix<T> seeds_random_unit(Index B, Index M, Index K, std::mt19937_64& rng) {
  JACNET_CHECK(B > 0 && M > 0 && K > 0, ValueError, "nn::seeds_random_unit", "B=", B, " M=", M,
               " K=", K);
  Matrix<T> S(B * M, K);
  for (Index r = 0; r < B * M; ++r) random_unit(rng, S.row(r));
  return S;
}

}  // namespace jacnet::nn
