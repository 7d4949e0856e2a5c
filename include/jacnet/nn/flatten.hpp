#pragma once
// jacnet/nn/flatten.hpp — reshape {C, H, W} (or any shape) to {C·H·W}, like torch.nn.Flatten.
//
// A sample is already one contiguous row in NCHW order, so every rule is the identity on the
// data: forward Y = X, jvp/vjp copy the directions, no parameters, second_order adds nothing.
#include <random>
#include <string>
#include <vector>

#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

template <class T>
class Flatten {
 public:
  using Scalar = T;

  std::string name() const { return "Flatten"; }
  Shape output_shape(const Shape& in) const { return Shape{in.size()}; }
  Index num_params() const { return 0; }
  std::vector<ParamInfo> param_info() const { return {}; }
  void init(T* /*p*/, std::mt19937_64& /*rng*/) const {}

  void forward(const T* /*p*/, const auto& X, auto&& Y) const { Y = X; }
  void jvp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    check_cols(Uin, X.cols(), "nn::Flatten::jvp", *this, "tangents");
    Uout = Uin;
  }
  void vjp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    check_cols(Vout, X.cols(), "nn::Flatten::vjp", *this, "cotangents");
    Vin = Vout;
  }
  void param_grad(const T* /*p*/, const auto& /*X*/, const auto& /*Y*/,
                  const auto& /*Vout*/, T* /*g*/) const {}
  void second_order(const T* /*p*/, const auto& X, const auto& /*Y*/,
                    const auto& /*Ein*/, const auto& /*Dout*/, T* /*g*/,
                    auto&& Xbar) const {
    prepare_accumulator(Xbar, X.rows(), X.cols(), "nn::Flatten::second_order", *this);
  }
};

}  // namespace jacnet::nn
