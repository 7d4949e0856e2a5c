#pragma once
// tests/support/nets.hpp — small nets shared by the nn tests, built for any scalar S (double,
// float, Dual<...>) so the same architecture can be checked against scalar AD.
#include <cstdint>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::nn::testing {

/// Replaces every zero parameter of a double net (the biases init() leaves at 0) by a N(0, 0.2)
/// draw from mt19937_64(seed), in parameter order, so bias terms take part in derivative checks.
template <class Net>
void fill_zero_params(Net& net, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> N(0.0, 0.2);
  for (Index i = 0; i < net.num_params(); ++i)
    if (net.params()(i) == 0.0) net.params()(i) = N(g);
}

/// 5 → 3 MLP through every activation (Tanh, Sigmoid, Softplus, ReLU, LeakyReLU, ELU, GELU).
template <class S>
auto all_activation_mlp() {
  return Sequential<Dense<S>, Tanh<S>, Dense<S>, Sigmoid<S>, Dense<S>, Softplus<S>, Dense<S>,
                    ReLU<S>, Dense<S>, LeakyReLU<S>, Dense<S>, ELU<S>, Dense<S>, GELU<S>, Dense<S>>(
      Shape{5}, Dense<S>(5, 7), Tanh<S>(), Dense<S>(7, 6), Sigmoid<S>(), Dense<S>(6, 6),
      Softplus<S>(), Dense<S>(6, 5), ReLU<S>(), Dense<S>(5, 5), LeakyReLU<S>(0.1), Dense<S>(5, 5),
      ELU<S>(0.7), Dense<S>(5, 4), GELU<S>(), Dense<S>(4, 3));
}

/// {1,2,3} image → Flatten → 6-8-4 tanh MLP (more outputs than a square Jacobian would need).
template <class S>
auto flatten_mlp() {
  return Sequential<Flatten<S>, Dense<S>, Tanh<S>, Dense<S>, Sigmoid<S>>(
      Shape{1, 2, 3}, Flatten<S>(), Dense<S>(6, 8), Tanh<S>(), Dense<S>(8, 4), Sigmoid<S>());
}

/// A wider tanh MLP for thread-independence checks (GEMMs large enough to be split).
template <class S>
auto wide_mlp() {
  return Sequential<Dense<S>, Tanh<S>, Dense<S>, GELU<S>, Dense<S>>(
      Shape{300}, Dense<S>(300, 256), Tanh<S>(), Dense<S>(256, 200), GELU<S>(), Dense<S>(200, 10));
}

}  // namespace jacnet::nn::testing
