#pragma once
// jacnet/nn/activation.hpp — elementwise activations y = σ(x): one template `Activation<T, Op>`
// over a functor Op giving σ, σ' and σ''.
//
// Rules (A_b = diag σ'(X_b), so jvp and vjp coincide; the per-sample derivative row is computed
// once and broadcast over the sample's K direction rows, in xsimd loops):
//   forward       Y = σ(X)
//   jvp / vjp     Out_{bk} = σ'(X_b) ⊙ In_{bk}
//   param_grad    nothing (no parameters)
//   second_order  Q = Σ_{bk} <Dout_{bk}, σ'(X_b) ⊙ Ein_{bk}>:
//                 X̄_b += σ''(X_b) ⊙ Σ_k Dout_{bk} ⊙ Ein_{bk}   (zero for ReLU and LeakyReLU)
//
// The functors Op (σ, σ', σ'' per activation, on xsimd batches and on any scalar):
// jacnet/nn/activation_functors.hpp.
#include <concepts>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/activation_functors.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

// ---- the layer --------------------------------------------------------------------------------

template <class T, class Op>
class Activation {
 public:
  using Scalar = T;
  using Functor = Op;
  static constexpr bool is_activation = true;
  static constexpr bool relu_family = Op::relu_family;

  Activation() = default;
  Activation(Op op) : op_(std::move(op)) {}  // NOLINT: LeakyReLU<T>(0.1) converts via Op
  /// Several options at once, e.g. Softplus<T>(beta, threshold).
  template <class A0, class A1, class... As>
  requires std::constructible_from<Op, A0, A1, As...>
  Activation(A0&& a0, A1&& a1, As&&... as)
      : op_(std::forward<A0>(a0), std::forward<A1>(a1), std::forward<As>(as)...) {}

  const Op& functor() const { return op_; }
  std::string name() const { return op_.name(); }
  Shape output_shape(const Shape& in) const { return in; }
  Index num_params() const { return 0; }
  std::vector<ParamInfo> param_info() const { return {}; }
  void init(T* /*p*/, std::mt19937_64& /*rng*/) const {}

  void forward(const T* /*p*/, const auto& X, auto&& Y) const {
    const Index B = X.rows(), n = X.cols();
    Y.resize(B, n);
    parallel_for(B, double(B) * double(n) * 8, [&](Index b) {
      simd_map<T, 1>(n, Y.row(b).data(), {X.row(b).data()},
                     [this](const auto& x) { return op_.f(x); });
    });
  }

  void jvp(const T* /*p*/, const auto& X, const auto& Y, const auto& Uin,
           auto&& Uout) const {
    broadcast_derivative(X, Y, Uin, Uout, "nn::Activation::jvp");
  }

  void vjp(const T* /*p*/, const auto& X, const auto& Y, const auto& Vout,
           auto&& Vin) const {
    broadcast_derivative(X, Y, Vout, Vin, "nn::Activation::vjp");
  }

  void param_grad(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
                  T* /*g*/) const {
    check_cols(Vout, X.cols(), "nn::Activation::param_grad", *this, "cotangents");
  }

  void second_order(const T* /*p*/, const auto& X, const auto& Y, const auto& Ein,
                    const auto& Dout, T* /*g*/, auto&& Xbar) const {
    const char* where = "nn::Activation::second_order";
    const Index B = X.rows(), n = X.cols();
    check_cols(Ein, n, where, *this, "Ein");
    check_cols(Dout, n, where, *this, "Dout");
    JACNET_CHECK(Ein.rows() == Dout.rows(), ShapeError, where, name(), ": Ein has ", Ein.rows(),
                 " rows, Dout ", Dout.rows());
    const Index K = directions(Ein.rows(), B, where, *this);
    prepare_accumulator(Xbar, B, n, where, *this);
    if constexpr (!Op::has_d2) return;
    if (K == 0) return;
    parallel_for(B, double(B) * double(K + 8) * double(n), [&](Index b) {
      alignas(64) T acc[kChunk];
      alignas(64) T d2[kChunk];
      for (Index j0 = 0; j0 < n; j0 += kChunk) {
        const Index len = std::min(kChunk, n - j0);
        simd_mul(len, acc, Dout.row(b * K).data() + j0, Ein.row(b * K).data() + j0);
        for (Index k = 1; k < K; ++k)
          simd_fma(len, acc, Dout.row(b * K + k).data() + j0, Ein.row(b * K + k).data() + j0);
        simd_map<T, 2>(len, d2, {X.row(b).data() + j0, Y.row(b).data() + j0},
                       [this](const auto& x, const auto& y) { return op_.d2f(x, y); });
        simd_fma(len, Xbar.row(b).data() + j0, d2, acc);
      }
    });
  }

 private:
  static constexpr Index kChunk = simd_scalar_v<T> ? 256 : 32;

  // Out_{bk} = σ'(X_b) ⊙ In_{bk}: σ' computed once per sample and column chunk.
  void broadcast_derivative(const auto& X, const auto& Y, const auto& In,
                            auto&& Out, const char* where) const {
    const Index B = X.rows(), n = X.cols();
    check_cols(In, n, where, *this, "directions");
    JACNET_CHECK(Y.rows() == B && Y.cols() == n, ShapeError, where, name(), ": output Y is ",
                 Y.rows(), "x", Y.cols(), ", input X ", B, "x", n);
    const Index K = directions(In.rows(), B, where, *this);
    Out.resize(In.rows(), n);
    if (K == 0) return;
    parallel_for(B, double(B) * double(K + 8) * double(n), [&](Index b) {
      alignas(64) T d[kChunk];
      for (Index j0 = 0; j0 < n; j0 += kChunk) {
        const Index len = std::min(kChunk, n - j0);
        simd_map<T, 2>(len, d, {X.row(b).data() + j0, Y.row(b).data() + j0},
                       [this](const auto& x, const auto& y) { return op_.df(x, y); });
        for (Index k = 0; k < K; ++k)
          simd_mul(len, Out.row(b * K + k).data() + j0, d, In.row(b * K + k).data() + j0);
      }
    });
  }

  Op op_{};
};

template <class T>
using Tanh = Activation<T, TanhOp>;
template <class T>
using Sigmoid = Activation<T, SigmoidOp>;
template <class T>
using Softplus = Activation<T, SoftplusOp>;
template <class T>
using ReLU = Activation<T, ReLUOp>;
template <class T>
using LeakyReLU = Activation<T, LeakyReLUOp>;
template <class T>
using ELU = Activation<T, ELUOp>;
template <class T>
using GELU = Activation<T, GELUOp>;

}  // namespace jacnet::nn
