#pragma once
// jacnet/nn/modes.hpp — net-level differentiation: products, per-sample Jacobians, parameter
// gradients, and the second-order pass behind Jacobian losses. An umbrella over one header per
// concept: nn/workspace.hpp (ModeWorkspace, JacobianPass, JvpPass), nn/seeds.hpp (seed matrices,
// random draws), nn/products.hpp (jvp, vjp), nn/jacobian.hpp (jacobian_rows, jacrev, jacfwd,
// jacobian), nn/gradient.hpp (backward, param_gradient), nn/second_order.hpp (jacobian_pass,
// jvp_pass, backprop).
//
// Notation: net y = f_{L-1}∘…∘f_0(x), boundary l holds activation a_l (a_0 = X, a_L = Y), A_l the
// per-sample Jacobian of layer l. B samples, D = input size, K = output size. Direction matrices
// have B*M rows ordered [sample][direction] (row b*M+m). Per-sample Jacobians are (B*K) x D with
// row b*K+k = ∂y_k/∂x of sample b.
//
// clang-format off
// ---- exact signatures (T = Net::Scalar; every `ws`/`pass` overload reuses memory) -------------
//   Matrix<T> jvp(net, X, U)                  U: B*M x D → B*M x K (forward mode)
//   Matrix<T> vjp(net, X, V)                  V: B*M x K → B*M x D (reverse mode)
//   Matrix<T> jacrev(net, X)                  (B*K) x D: one reverse sweep of K one-hot seeds
//   Matrix<T> jacfwd(net, X)                  (B*K) x D: one forward sweep of D identity tangents
//   Matrix<T> jacobian(net, X)                jacrev if K ≤ D, else jacfwd
//   Matrix<T> jacobian_rows(net, X, seeds)    seeds B*M x K → B*M x D (rows sᵀJ_b)
//   (each also as f(net, X, [U|V|seeds,] ModeWorkspace<T>& ws, Matrix<T>& out): no allocation)
//   jacobian_rows_after_forward(net, X, seeds, ws, J)   when ws.trace holds net.forward(X)
//   seeds_full<T>(B, K), seeds_label<T>(labels, K) (int or Index labels), seeds_top_k(Yother, k, by_magnitude),
//   top_k_indices(Y, k, by_magnitude), seeds_random_unit<T>(B, M, K, rng)
//   void param_gradient(net, X, Ybar, grads, [ws,] Xbar* = nullptr)   grads = dL/dθ for Ybar = dL/dY
//   void backward(net, trace, Ybar, grads, ws, Xbar* = nullptr, act_bars = {})
//                                             the same from an existing forward trace
//   void jacobian_pass(net, X, seeds, JacobianPass<T>& pass)    forward + seeded backward
//   void backprop(net, JacobianPass<T>& pass, Ybar, Jbar, act_bars, Vector<T>& grads,
//                 Matrix<T>* Xbar = nullptr)
//   void jvp_pass(net, X, U, JvpPass<T>& pass)                  forward + tangent sweep (J·U)
//   void backprop(net, JvpPass<T>& pass, Ybar, JUbar, act_bars, grads, Xbar = nullptr)
// clang-format on
// In backprop: Ybar (B x K), Jbar (B*M x D) / JUbar (B*N x K) may be EMPTY matrices (= zero);
// act_bars is empty or holds L+1 matrices, act_bars[l] = ∂L/∂a_l (B x size(l)) or empty (= zero);
// grads is resized to net.num_params() and OVERWRITTEN with dL/dθ; *Xbar (if given) is
// overwritten with dL/dX (B x D). All matrices are Matrix<T> (row-major).
//
// ---- the second-order rule (docs/design.md "Why this second-order form") ---------------------
// Jacobian pass: δ_L = S (seeds), δ_l = A_lᵀ δ_{l+1}, J = δ_0. For a loss L(Y, J, a_l):
//   tangent sweep  ε_0 = J̄, ε_{l+1} = A_l ε_l (= jvp_l)     — the adjoint of the linear map S ↦ J
//   per layer      second_order_l(Ein = ε_l, Dout = δ_{l+1}): θ̄_l += ∂/∂θ Σ<δ_{l+1}, A_l ε_l>,
//                                                           ā_l  += ∂/∂a_l of the same
//   reverse sweep  ā_L = Ȳ + act_bars[L];  θ̄_l += param_grad_l(ā_{l+1});
//                  ā_l = vjp_l(ā_{l+1}) + (second-order ā_l) + act_bars[l];   X̄ = ā_0.
// Cost ≈ forward + M backward + M tangent + M second-order + 1 reverse ≈ (2 + 3M) passes.
// JVP mode (losses on J·U): ε_l = stored forward tangents, δ_L = J̄U, δ_l = A_lᵀ δ_{l+1}: same rule.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/gradient.hpp"
#include "jacnet/nn/jacobian.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/products.hpp"
#include "jacnet/nn/second_order.hpp"
#include "jacnet/nn/seeds.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/nn/workspace.hpp"
