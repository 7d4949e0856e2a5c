#pragma once
// tests/support/wrong_layers.hpp — layers with one deliberately wrong rule each: the checkers must
// reject them and name the wrong entry.
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/dense.hpp"

namespace jacnet::check_testing {
// Dense whose gradient of weight[0,1] is off by 0.01.
struct WrongGradDense : nn::Dense<double> {
  using nn::Dense<double>::Dense;
  void param_grad(const double* p, const Matrix<double>& X, const Matrix<double>& Y,
                  const Matrix<double>& V, double* g) const {
    nn::Dense<double>::param_grad(p, X, Y, V, g);
    g[1] += 0.01;
  }
};
// Tanh with half its second derivative.
struct HalfD2TanhOp : nn::TanhOp {
  template <class V>
  V d2f(const V& x, const V& y) const {
    return V(0.5) * nn::TanhOp::d2f(x, y);
  }
};
// BatchNorm that adds to the gradient of running_mean[1] (a buffer).
struct LeakyBufferBN : nn::BatchNorm1d<double> {
  using nn::BatchNorm1d<double>::BatchNorm1d;
  void param_grad(const double* p, const Matrix<double>& X, const Matrix<double>& Y,
                  const Matrix<double>& V, double* g) const {
    nn::BatchNorm1d<double>::param_grad(p, X, Y, V, g);
    g[2 * 3 + 1] += 1.0;
  }
};
// Sigmoid whose jvp is the vjp of another function (σ' doubled only in jvp).
struct WrongJvpSigmoid : nn::Sigmoid<double> {
  void jvp(const double* p, const Matrix<double>& X, const Matrix<double>& Y,
           const Matrix<double>& U, Matrix<double>& Uout) const {
    nn::Sigmoid<double>::jvp(p, X, Y, U, Uout);
    Uout *= 2.0;
  }
};
}  // namespace jacnet::check_testing
