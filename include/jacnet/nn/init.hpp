#pragma once
// jacnet/nn/init.hpp — seeded weight initializers.
//
//   glorot_uniform: w ~ U(−a, a), a = √(6 / (fan_in + fan_out))   (Glorot & Bengio 2010; keeps the
//                   variance of activations and gradients for tanh/sigmoid-like units)
//   he_normal:      w ~ N(0, 2 / fan_in)                          (He et al. 2015; ReLU family)
//   constant:       w = c (biases 0, BatchNorm γ = 1)
// Values are drawn in double from the caller's std::mt19937_64 and cast to T, so a float and a
// double net built from the same seed start from the same (rounded) weights. The streams come from
// libstdc++'s distributions: deterministic here, not portable across standard libraries.
#include <cmath>
#include <random>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

/// n values from U(−a, a), a = √(6 / (fan_in + fan_out)).
template <class T>
void glorot_uniform(T* w, Index n, Index fan_in, Index fan_out, std::mt19937_64& rng) {
  JACNET_CHECK(fan_in > 0 && fan_out > 0, ValueError, "nn::glorot_uniform", "fan_in ", fan_in,
               " and fan_out ", fan_out, " must be positive");
  const double a = std::sqrt(6.0 / double(fan_in + fan_out));
  std::uniform_real_distribution<double> dist(-a, a);
  for (Index i = 0; i < n; ++i) w[i] = T(dist(rng));
}

/// n values from N(0, 2 / fan_in).
template <class T>
void he_normal(T* w, Index n, Index fan_in, std::mt19937_64& rng) {
  JACNET_CHECK(fan_in > 0, ValueError, "nn::he_normal", "fan_in ", fan_in, " must be positive");
  std::normal_distribution<double> dist(0.0, std::sqrt(2.0 / double(fan_in)));
  for (Index i = 0; i < n; ++i) w[i] = T(dist(rng));
}

/// n copies of c.
template <class T>
void constant_fill(T* w, Index n, double c) {
  for (Index i = 0; i < n; ++i) w[i] = T(c);
}

/// Initializes a weight block by scheme (He or Glorot).
template <class T>
void init_weights(T* w, Index n, Index fan_in, Index fan_out, InitScheme scheme,
                  std::mt19937_64& rng) {
  if (scheme == InitScheme::He)
    he_normal(w, n, fan_in, rng);
  else
    glorot_uniform(w, n, fan_in, fan_out, rng);
}

}  // namespace jacnet::nn
