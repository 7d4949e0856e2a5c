#pragma once
// jacnet/ad/dual.hpp — forward-mode AD scalar: a value and N tangent directions.
//
// Dual<T, N> represents x + Σ_k ẋ_k ε_k with ε_j ε_k = 0: every operation f maps
//   (x, ẋ_1..ẋ_N) ↦ (f(x), f'(x)·ẋ_1 .. f'(x)·ẋ_N),   binary: (f(a,b), ∂_a f·ȧ_k + ∂_b f·ḃ_k),
// so one evaluation of a function written over a scalar template carries N Jacobian-vector
// products. The derivative formulas are those of jacnet/ad/derivatives.hpp (shared with Var).
//
// Storage of the N tangents:
//   * T = float/double and N ≥ W (W = xsimd::batch<T>::size of the compile-time default arch:
//     4 doubles with AVX2, 8 with AVX-512): N / W xsimd batches plus an N % W scalar tail, so
//     each op updates all N directions with vector instructions (AVX-512: N = 8, 16 doubles are
//     1, 2 zmm multiply-adds per product).
//   * T = float/double and N < W, or any other T (nesting: Dual<Dual<double, M>, N>,
//     Dual<Var<double>, N>): a plain array T[N]; N = 1 compiles to the same code as a
//     hand-written (value, derivative) struct.
// Tangent results are computed in place in the result's storage (detail::TangentOp), and all
// operations are forced inline.
// Nesting gives higher orders: Dual<Dual<double, M>, N> seeded inner with u_i and outer with v_j
// carries uᵀ∇²f v in x.d(j).d(i) (second derivatives: Hessian columns/entries).
//
// Supported: + − × ÷ (with T and plain reals on either side), unary ±, compound assignments,
// comparisons (by primal value), exp, log, log1p, expm1, sqrt, cbrt, pow, abs/fabs, sin, cos,
// tan, tanh, sigmoid, softplus, erf, erfc, atan2, hypot, min/max/fmin/fmax, relu, leaky_relu,
// elu, gelu, isfinite/isnan/isinf; all found by ADL in namespace jacnet. Eigen: NumTraits and
// ScalarBinaryOpTraits with float/double (scalar_traits.hpp), so Eigen::Matrix<Dual<double, 4>, ...>
// products, sums, norm() and mixed double/Dual expressions work.
// Kink conventions: see derivatives.hpp (relu'(0) = 0, abs'(0) = 0, max/min ties → first arg, ...).
//
// Alignment: with batches, alignof(Dual) is the register width (32 bytes AVX2, 64 AVX-512); heap
// arrays need C++17 aligned new (std::vector) or Eigen's allocator (EIGEN_MAX_ALIGN_BYTES must not
// be lowered). Code exchanging Duals must be compiled for the same SIMD width.
//
// Parts: dual_tangents.hpp (storage of the N tangents), dual_scalar.hpp (the type, arithmetic,
// comparisons, NumTraits), dual_functions.hpp (elementary functions).
#include "jacnet/ad/dual_functions.hpp"
#include "jacnet/ad/dual_scalar.hpp"
#include "jacnet/ad/dual_tangents.hpp"
