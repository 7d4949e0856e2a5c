#pragma once
// jacnet/nn/layer.hpp — what a layer is: the `Layer` concept, `ParamInfo`, `InitScheme` and the
// optional hooks the net and the modes detect.
//
// A layer f(x; θ) maps a per-sample input x (a row of X, B rows) to y. Its rules, with
// A_b = ∂f/∂x at sample b and K directions per sample (rows ordered b*K + k):
//   forward       Y_b = f(X_b; θ)
//   jvp           Uout_{bk} = A_b Uin_{bk}                  (tangents, forward mode)
//   vjp           Vin_{bk}  = A_bᵀ Vout_{bk}                (cotangents, reverse mode)
//   param_grad    g += ∂/∂θ Σ_{b,k} <Vout_{bk}, f(X_b; θ)>
//   second_order  Q = Σ_{b,k} <Dout_{bk}, A_b Ein_{bk}>:  g += ∂Q/∂θ,  Xbar_b += ∂Q/∂X_b
// (see docs/design.md "Why this second-order form" and docs/nn.md for each layer's formulas).
//
// The kernels the rules are written with live in nn/kernels/: parallel.hpp (gemm, simd_map,
// simd_mul/fma/add, parallel_for), checks.hpp (directions, check_cols, prepare_accumulator),
// rows.hpp (row views of the shards); EigenSerialScope/SerialScope in nn/execution.hpp. This
// header includes them, so a layer written against it has everything it needs.
#include <algorithm>
#include <array>
#include <concepts>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/execution.hpp"
#include "jacnet/nn/kernels/checks.hpp"
#include "jacnet/nn/kernels/parallel.hpp"
#include "jacnet/nn/kernels/rows.hpp"

namespace jacnet::nn {

/// One parameter tensor of a layer, in block order: its name ("weight", "bias", "running_mean"),
/// its shape (Dense weight is {out, in} like torch.nn.Linear) and whether optimizers update it.
struct ParamInfo {
  std::string name;
  Shape shape;
  bool trainable = true;
};

/// How a weighted layer initializes its weights when the net chooses (see Sequential::init):
/// He (normal, std √(2/fan_in)) when the next activation is ReLU-family, Glorot (uniform,
/// ±√(6/(fan_in+fan_out))) otherwise.
enum class InitScheme { Glorot, He };

/// The layer contract of docs/design.md. Output matrices are resized by the rules (callers may
/// pass empty matrices); `g` points at the layer's gradient block (accumulated into, +=).
template <class L>
concept Layer = requires(const L& l, const Shape& s, typename L::Scalar* p,
                         const typename L::Scalar* cp, std::mt19937_64& rng,
                         const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O) {
  typename L::Scalar;
  { l.name() } -> std::convertible_to<std::string>;
  { l.output_shape(s) } -> std::same_as<Shape>;
  { l.num_params() } -> std::convertible_to<Index>;
  { l.param_info() } -> std::same_as<std::vector<ParamInfo>>;
  l.init(p, rng);
  l.forward(cp, M, O);
  l.jvp(cp, M, M, M, O);
  l.vjp(cp, M, M, M, O);
  l.param_grad(cp, M, M, M, p);
  l.second_order(cp, M, M, M, M, p, O);
};

// ---- optional hooks (detected by the net and the modes) ---------------------------------------
/// `void bind(const Shape& in)`: called once by Sequential's constructor (after the shape check)
/// so that layers whose rules need the per-sample input shape (Conv2d, pooling) can store it.
template <class L>
concept BindsInputShape = requires(L& l, const Shape& s) {
  l.bind(s);
};
/// `void init(T* p, rng, InitScheme)`: weighted layers let the net pick He or Glorot.
template <class L>
concept SchemeInit = requires(const L& l, typename L::Scalar* p, std::mt19937_64& rng) {
  l.init(p, rng, InitScheme::He);
};
/// Activations declare `static constexpr bool is_activation = true` and `relu_family`.
template <class L>
concept ActivationLayer = requires {
  requires L::is_activation;
};
/// `vjp_onehot(p, X, Y, cls, M, Vin)`: the vjp of one-hot seeds (row b*M+m of the seed matrix is
/// e_{cls[b*M+m]}) without materializing them; Dense copies weight rows instead of a GEMM.
template <class L>
concept OneHotVjp = requires(const L& l, const typename L::Scalar* p,
                             const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O,
                             const Index* cls) {
  l.vjp_onehot(p, M, M, cls, Index{1}, O);
};
/// `jvp_identity(p, X, Y, Uout)`: the jvp of the per-sample identity tangents (K = in), i.e. the
/// per-sample Jacobian transposed; Dense copies weight columns.
template <class L>
concept IdentityJvp = requires(const L& l, const typename L::Scalar* p,
                               const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O) {
  l.jvp_identity(p, M, M, O);
};

/// Row-local layers declare `static constexpr bool row_local = true`: their jvp/vjp output row r
/// depends only on direction row r and its sample's rows of X and Y, at a cost per row that does
/// not depend on how many rows one call gets (pooling). A reverse sweep may then run such a layer
/// and the activation before it a few samples at a time (nn/fused_sweep.hpp).
template <class L>
concept RowLocal = requires {
  requires L::row_local;
};
/// Layers whose rules also take row views (`const auto&` inputs, `auto&&` outputs): the passes
/// then run them on shards of the batch matrices without copies. A layer written against
/// `const Matrix<T>&` / `Matrix<T>&` only still works: a net containing one runs its passes as a
/// single shard (the layers' own loops parallelize as before).
template <class L>
concept ViewRules = requires(const L& l, const typename L::Scalar* cp, typename L::Scalar* p,
                             ConstRowsView<typename L::Scalar> M, RowsView<typename L::Scalar> O) {
  l.forward(cp, M, O);
  l.jvp(cp, M, M, M, O);
  l.vjp(cp, M, M, M, O);
  l.param_grad(cp, M, M, M, p);
  l.second_order(cp, M, M, M, M, p, O);
};
/// vjp_onehot / jvp_identity taking row views.
template <class L>
concept OneHotVjpView = requires(const L& l, const typename L::Scalar* p,
                                 ConstRowsView<typename L::Scalar> M,
                                 RowsView<typename L::Scalar> O, const Index* cls) {
  l.vjp_onehot(p, M, M, cls, Index{1}, O);
};
template <class L>
concept IdentityJvpView = requires(const L& l, const typename L::Scalar* p,
                                   ConstRowsView<typename L::Scalar> M,
                                   RowsView<typename L::Scalar> O) {
  l.jvp_identity(p, M, M, O);
};

}  // namespace jacnet::nn
