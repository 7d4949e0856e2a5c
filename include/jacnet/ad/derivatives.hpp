#pragma once
// jacnet/ad/derivatives.hpp — `jacnet::deriv::*`: the first derivative of every function the AD
// scalars support, written from x (and f(x) where that is cheaper), so Dual's tangent rules and
// Var's reverse partials use one set of formulas; `*_vd(x)` returns {f(x), f'(x)} sharing the
// expensive part; `*_d2` gives second derivatives of the activations (what the nn layers'
// second-order rules need). The functions themselves (sigmoid, softplus, relu, leaky_relu, elu,
// gelu), real_t and value_of: jacnet/ad/elementary.hpp, which includes this header.
//
// Conventions at kinks (a subgradient is chosen, the same one PyTorch uses):
//   relu'(0) = 0;  abs'(0) = 0 (sign(0) = 0);  leaky_relu'(0) = slope;
//   elu'(0) = α (the x ≤ 0 branch, α·e^0; = 1 for the default α = 1, where elu is C¹);
//   max(a, b), min(a, b): on ties (a == b) the first argument is picked, so ∂/∂a = 1, ∂/∂b = 0;
//   hypot'(0, 0) = (0, 0); atan2'(0, 0) = (0, 0);
//   pow(a, b): ∂/∂a = 0 when b = 0 (a^0 ≡ 1, even at a = 0); ∂/∂b = 0 for a ≤ 0 (at a = 0 the limit
//   of a^b·log a for b > 0; for a < 0, a^b exists only at integer b, so no derivative along b
//   exists, and 0 keeps constant-exponent uses such as pow(x, S(2)) at x < 0 finite);
//   sqrt'(0) = +inf, cbrt'(0) = +inf, log'(0) = +inf (true one-sided limits, not conventions).
// Branches compare the primal value `value_of(x)` (the innermost float/double of nested AD
// scalars), so a branch choice never depends on derivative parts.
#include <cmath>
#include <numbers>
#include <type_traits>
#include <utility>

#include "jacnet/ad/elementary.hpp"  // real_t, value_of, detail::normal_cdf / normal_pdf

namespace jacnet {

// ---------------------------------------------------------------------------------------------
// Derivative formulas
// ---------------------------------------------------------------------------------------------

/// First (and for activations second) derivatives. Arguments: x the input, fx = f(x) where the
/// formula reuses it. Piecewise-constant derivatives return the plain real_t<S>.
namespace deriv {

/// A value and its derivative, computed together.
template <class S>
struct ValDer {
  S f;  ///< f(x)
  S d;  ///< f'(x)
};

// ---- arithmetic -----------------------------------------------------------------------------
// (a+b)' = (1, 1), (a−b)' = (1, −1), (−a)' = −1, (a·b)' = (b, a).
/// ∂(a/b)/∂a = 1/b.
template <class S>
S div_d1_num(const S& b) {
  return S(real_t<S>(1) / b);
}
/// ∂(a/b)/∂b = −q/b with q = a/b.
template <class S>
S div_d1_den(const S& b, const S& q) {
  return S(-q / b);
}

// ---- exponentials and logarithms ------------------------------------------------------------
/// exp' = exp.
template <class S>
S exp_d1(const S& /*x*/, const S& fx) {
  return fx;
}
/// log'(x) = 1/x.
template <class S>
S log_d1(const S& x) {
  return S(real_t<S>(1) / x);
}
/// log1p'(x) = 1/(1+x).
template <class S>
S log1p_d1(const S& x) {
  using R = real_t<S>;
  return S(R(1) / (R(1) + x));
}
/// expm1'(x) = e^x = expm1(x) + 1.
template <class S>
S expm1_d1(const S& /*x*/, const S& fx) {
  return S(fx + real_t<S>(1));
}
/// sqrt'(x) = 1/(2√x) (+inf at 0).
template <class S>
S sqrt_d1(const S& /*x*/, const S& fx) {
  return S(real_t<S>(0.5) / fx);
}
/// cbrt'(x) = 1/(3·cbrt(x)²) (+inf at 0; valid for x < 0 too).
template <class S>
S cbrt_d1(const S& /*x*/, const S& fx) {
  return S(real_t<S>(1) / (real_t<S>(3) * fx * fx));
}
/// ∂a^b/∂a = b·a^(b−1), from f = a^b as b·f/a when a ≠ 0; 0 when b = 0. E is S or a plain
/// real (constant exponent).
template <class S, class E>
S pow_d1_base(const S& a, const E& b, const S& f) {
  using std::pow;
  using R = real_t<S>;
  if (value_of(b) == real_t<E>(0)) return S(R(0));
  if (value_of(a) != R(0)) return S(b * f / a);
  return S(b * pow(a, b - R(1)));
}
/// ∂a^b/∂b = a^b·log a; 0 for a ≤ 0 (see the convention above). A is S or a plain real.
template <class S, class A>
S pow_d1_exp(const A& a, const S& f) {
  using std::log;
  if (!(value_of(a) > real_t<A>(0))) return S(real_t<S>(0));
  return S(f * log(a));
}

// ---- abs, min, max ---------------------------------------------------------------------------
/// abs'(x) = sign(x), with abs'(0) = 0.
template <class S>
real_t<S> abs_d1(const S& x) {
  using R = real_t<S>;
  const R v = value_of(x);
  return v > R(0) ? R(1) : (v < R(0) ? R(-1) : R(0));
}
/// ∂max(a,b)/∂a: 1 if a ≥ b (ties pick the first argument), else 0; ∂/∂b = 1 − that.
template <class A, class B>
auto max_d1_first(const A& a, const B& b) {
  using R = std::common_type_t<real_t<A>, real_t<B>>;
  return value_of(a) >= value_of(b) ? R(1) : R(0);
}
/// ∂min(a,b)/∂a: 1 if a ≤ b (ties pick the first argument), else 0; ∂/∂b = 1 − that.
template <class A, class B>
auto min_d1_first(const A& a, const B& b) {
  using R = std::common_type_t<real_t<A>, real_t<B>>;
  return value_of(a) <= value_of(b) ? R(1) : R(0);
}

// ---- trigonometric --------------------------------------------------------------------------
/// sin' = cos.
template <class S>
S sin_d1(const S& x) {
  using std::cos;
  return S(cos(x));
}
/// cos' = −sin.
template <class S>
S cos_d1(const S& x) {
  using std::sin;
  return S(-sin(x));
}
/// tan'(x) = 1 + tan²(x).
template <class S>
S tan_d1(const S& /*x*/, const S& fx) {
  return S(real_t<S>(1) + fx * fx);
}
/// ∂atan2(y,x)/∂y = x/(x²+y²); 0 at the origin.
template <class S>
S atan2_d1_y(const S& y, const S& x) {
  using R = real_t<S>;
  const R r2 = value_of(x) * value_of(x) + value_of(y) * value_of(y);
  if (r2 == R(0)) return S(R(0));
  return S(x / (x * x + y * y));
}
/// ∂atan2(y,x)/∂x = −y/(x²+y²); 0 at the origin.
template <class S>
S atan2_d1_x(const S& y, const S& x) {
  using R = real_t<S>;
  const R r2 = value_of(x) * value_of(x) + value_of(y) * value_of(y);
  if (r2 == R(0)) return S(R(0));
  return S(-y / (x * x + y * y));
}
/// ∂hypot(x,y)/∂x = x/h with h = hypot(x,y) (same formula for y); 0 at h = 0.
template <class S>
S hypot_d1(const S& x, const S& h) {
  using R = real_t<S>;
  if (value_of(h) == R(0)) return S(R(0));
  return S(x / h);
}

// ---- hyperbolic, sigmoid, softplus ------------------------------------------------------------
/// tanh'(x) = 1 − tanh²(x) = sech²(x); for |x| > 2 evaluated as 4e/(1+e)² with e = e^{−2|x|}
/// (no cancellation, full relative accuracy in the tails).
template <class S>
S tanh_d1(const S& x, const S& fx) {
  using R = real_t<S>;
  using std::exp;
  const R v = value_of(x);
  if (v <= R(2) && v >= R(-2)) return S(R(1) - fx * fx);
  const S e = v > R(0) ? S(exp(R(-2) * x)) : S(exp(R(2) * x));
  const S q = R(1) + e;
  return S(R(4) * e / (q * q));
}
/// tanh''(x) = −2·tanh(x)·tanh'(x).
template <class S>
S tanh_d2(const S& x, const S& fx) {
  return S(real_t<S>(-2) * fx * tanh_d1(x, fx));
}
/// {tanh(x), tanh'(x)}.
template <class S>
ValDer<S> tanh_vd(const S& x) {
  using std::tanh;
  S f = tanh(x);
  S d = tanh_d1(x, f);
  return {std::move(f), std::move(d)};
}

/// {σ(x), σ'(x)} from one exponential e = e^{−|x|}: σ = 1/(1+e) or e/(1+e), σ' = e/(1+e)².
template <class S>
ValDer<S> sigmoid_vd(const S& x) {
  using R = real_t<S>;
  using std::exp;
  const bool pos = value_of(x) >= R(0);
  const S e = pos ? S(exp(-x)) : S(exp(x));
  const S r = S(R(1) / (R(1) + e));
  S f = pos ? r : S(e * r);
  S d = S(e * r * r);
  return {std::move(f), std::move(d)};
}
/// σ'(x) = σ(x)·(1 − σ(x)), accurate in both tails (uses e^{−|x|}).
template <class S>
S sigmoid_d1(const S& x) {
  return sigmoid_vd(x).d;
}
/// σ'(x) from σ(x) only: σ·(1−σ). Cheap; absolute (not relative) accuracy for large x > 0.
template <class S>
S sigmoid_d1(const S& /*x*/, const S& fx) {
  return S(fx * (real_t<S>(1) - fx));
}
/// σ''(x) = σ'(x)·(1 − 2σ(x)).
template <class S>
S sigmoid_d2(const S& x) {
  const ValDer<S> s = sigmoid_vd(x);
  return S(s.d * (real_t<S>(1) - real_t<S>(2) * s.f));
}

/// {softplus(x), σ(x)} from one exponential e = e^{−|x|}: softplus = max(x,0) + log1p(e).
template <class S>
ValDer<S> softplus_vd(const S& x) {
  using R = real_t<S>;
  using std::exp;
  using std::log1p;
  const bool pos = value_of(x) > R(0);
  const S e = pos ? S(exp(-x)) : S(exp(x));
  const S l = S(log1p(e));
  S f = pos ? S(x + l) : l;
  const S r = S(R(1) / (R(1) + e));
  S d = pos ? r : S(e * r);
  return {std::move(f), std::move(d)};
}
/// softplus'(x) = σ(x).
template <class S>
S softplus_d1(const S& x) {
  return sigmoid_vd(x).f;
}
/// softplus''(x) = σ'(x).
template <class S>
S softplus_d2(const S& x) {
  return sigmoid_vd(x).d;
}

// ---- erf, gelu --------------------------------------------------------------------------------
/// erf'(x) = (2/√π)·e^{−x²}.
template <class S>
S erf_d1(const S& x) {
  using R = real_t<S>;
  using std::exp;
  return S(R(2 * std::numbers::inv_sqrtpi) * exp(-(x * x)));
}
/// erfc'(x) = −(2/√π)·e^{−x²}.
template <class S>
S erfc_d1(const S& x) {
  return S(-erf_d1(x));
}
/// {gelu(x), gelu'(x)} with gelu' = Φ(x) + x·φ(x).
template <class S>
ValDer<S> gelu_vd(const S& x) {
  const S cdf = detail::normal_cdf(x);
  const S pdf = detail::normal_pdf(x);
  S f = S(x * cdf);
  S d = S(cdf + x * pdf);
  return {std::move(f), std::move(d)};
}
/// gelu'(x) = Φ(x) + x·φ(x).
template <class S>
S gelu_d1(const S& x) {
  return gelu_vd(x).d;
}
/// gelu''(x) = φ(x)·(2 − x²).
template <class S>
S gelu_d2(const S& x) {
  using R = real_t<S>;
  return S(detail::normal_pdf(x) * (R(2) - x * x));
}

// ---- piecewise activations ----------------------------------------------------------------------
/// relu'(x) = 1 for x > 0, else 0 (relu'(0) = 0).
template <class S>
real_t<S> relu_d1(const S& x) {
  using R = real_t<S>;
  return value_of(x) > R(0) ? R(1) : R(0);
}
/// relu'' = 0 (a.e.).
template <class S>
real_t<S> relu_d2(const S& /*x*/) {
  return real_t<S>(0);
}
/// leaky_relu'(x) = 1 for x > 0, else slope (leaky_relu'(0) = slope).
template <class S>
real_t<S> leaky_relu_d1(const S& x, real_t<S> slope = real_t<S>(0.01)) {
  using R = real_t<S>;
  return value_of(x) > R(0) ? R(1) : slope;
}
/// leaky_relu'' = 0 (a.e.).
template <class S>
real_t<S> leaky_relu_d2(const S& /*x*/, real_t<S> /*slope*/ = real_t<S>(0.01)) {
  return real_t<S>(0);
}
/// elu'(x) = 1 for x > 0, else α·e^x (elu'(0) = α): elu(x) + α for x ≥ −½, α·e^x below (where
/// elu(x) + α would cancel), so the derivative keeps full relative accuracy.
template <class S>
S elu_d1(const S& x, const S& fx, real_t<S> alpha = real_t<S>(1)) {
  using R = real_t<S>;
  using std::exp;
  const R v = value_of(x);
  if (v > R(0)) return S(R(1));
  if (v >= R(-0.5)) return S(fx + alpha);
  return S(alpha * exp(x));
}
/// {elu(x, α), elu'(x, α)} from one transcendental: expm1 for −½ ≤ x ≤ 0, exp below.
template <class S>
ValDer<S> elu_vd(const S& x, real_t<S> alpha = real_t<S>(1)) {
  using R = real_t<S>;
  using std::exp;
  using std::expm1;
  const R v = value_of(x);
  if (v > R(0)) return {x, S(R(1))};
  if (v >= R(-0.5)) {
    S f = S(alpha * expm1(x));
    S d = S(f + alpha);
    return {std::move(f), std::move(d)};
  }
  const S e = S(exp(x));
  S f = S(alpha * (e - R(1)));
  S d = S(alpha * e);
  return {std::move(f), std::move(d)};
}
/// elu''(x) = 0 for x > 0, else α·e^x.
template <class S>
S elu_d2(const S& x, real_t<S> alpha = real_t<S>(1)) {
  using R = real_t<S>;
  using std::exp;
  if (value_of(x) > R(0)) return S(R(0));
  return S(alpha * exp(x));
}

}  // namespace deriv
}  // namespace jacnet
