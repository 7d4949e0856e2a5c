#pragma once
// jacnet/nn/net.hpp — what a net is, for the modes, the losses and the training loop: one concept.
// nn::Sequential is the net of jacnet; anything with the same members works with the modes.
#include <concepts>
#include <cstddef>

#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::nn {

template <class Net>
using net_scalar_t = typename Net::Scalar;
/// Matrix of the net's scalar (a non-deduced parameter type: Eigen expressions convert to it).
template <class Net>
using NetMatrix = Matrix<typename Net::Scalar>;

/// A net that runs forward (train::evaluate needs only that: ForwardNet below).
template <class N>
concept ForwardNet = requires(const N& net, const Matrix<typename N::Scalar>& X,
                              Trace<typename N::Scalar>& trace) {
  typename N::Scalar;
  net.forward(X, trace);
};

/// A net the losses can differentiate: forward into a Trace, sizes, boundary shapes and a flat
/// parameter vector (nn::Sequential<...>).
template <class N>
concept NetModel = ForwardNet<N> && requires(const N& n) {
  { n.input_size() } -> std::convertible_to<Index>;
  { n.output_size() } -> std::convertible_to<Index>;
  { n.shape(std::size_t{0}) } -> std::convertible_to<Shape>;
  { n.num_params() } -> std::convertible_to<Index>;
  N::num_layers;
};

}  // namespace jacnet::nn
