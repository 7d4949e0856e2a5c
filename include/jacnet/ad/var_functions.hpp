#pragma once
// jacnet/ad/var_functions.hpp — elementary functions of reverse-mode expressions (derivative
// formulas from jacnet/ad/derivatives.hpp, evaluated on plain values), classification, and Eigen's
// sqrt_impl for norm() at 0. Overview: jacnet/ad/var.hpp.
#include <cmath>
#include <type_traits>

#include "jacnet/ad/var_scalar.hpp"

namespace jacnet {

// ------------------------------------------------------------------------------------------------
// Elementary functions (derivative formulas from derivatives.hpp, evaluated on plain values)
// ------------------------------------------------------------------------------------------------

template <rev::Expr A>
JACNET_REV_INLINE auto exp(const A& a) {
  using std::exp;
  const auto x = a.value();
  const auto v = exp(x);
  return rev::unary(a, v, deriv::exp_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto log(const A& a) {
  using std::log;
  const auto x = a.value();
  return rev::unary(a, log(x), deriv::log_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto log1p(const A& a) {
  using std::log1p;
  const auto x = a.value();
  return rev::unary(a, log1p(x), deriv::log1p_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto expm1(const A& a) {
  using std::expm1;
  const auto x = a.value();
  const auto v = expm1(x);
  return rev::unary(a, v, deriv::expm1_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto sqrt(const A& a) {
  using std::sqrt;
  const auto x = a.value();
  const auto v = sqrt(x);
  return rev::unary(a, v, deriv::sqrt_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto cbrt(const A& a) {
  using std::cbrt;
  const auto x = a.value();
  const auto v = cbrt(x);
  return rev::unary(a, v, deriv::cbrt_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto abs(const A& a) {
  using std::abs;
  const auto x = a.value();
  return rev::unary(a, abs(x), deriv::abs_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto fabs(const A& a) {
  return abs(a);
}
template <rev::Expr A>
JACNET_REV_INLINE auto sin(const A& a) {
  using std::sin;
  const auto x = a.value();
  return rev::unary(a, sin(x), deriv::sin_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto cos(const A& a) {
  using std::cos;
  const auto x = a.value();
  return rev::unary(a, cos(x), deriv::cos_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto tan(const A& a) {
  using std::tan;
  const auto x = a.value();
  const auto v = tan(x);
  return rev::unary(a, v, deriv::tan_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto tanh(const A& a) {
  const auto vd = deriv::tanh_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto sigmoid(const A& a) {
  const auto vd = deriv::sigmoid_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto softplus(const A& a) {
  const auto vd = deriv::softplus_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto erf(const A& a) {
  using std::erf;
  const auto x = a.value();
  return rev::unary(a, erf(x), deriv::erf_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto erfc(const A& a) {
  using std::erfc;
  const auto x = a.value();
  return rev::unary(a, erfc(x), deriv::erfc_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto relu(const A& a) {
  using T = rev::scalar_of<A>;
  const T x = a.value();
  return rev::unary(a, x > T(0) ? x : T(0), deriv::relu_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto leaky_relu(const A& a, real_t<rev::scalar_of<A>> slope = real_t<rev::scalar_of<A>>(0.01)) {
  using T = rev::scalar_of<A>;
  const T x = a.value();
  return rev::unary(a, x > T(0) ? x : T(slope * x), T(deriv::leaky_relu_d1(x, slope)));
}
template <rev::Expr A>
JACNET_REV_INLINE auto elu(const A& a, real_t<rev::scalar_of<A>> alpha = real_t<rev::scalar_of<A>>(1)) {
  const auto vd = deriv::elu_vd(a.value(), alpha);
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto gelu(const A& a) {
  const auto vd = deriv::gelu_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}

// ---- two arguments: (expr, expr), (expr, number), (number, expr) ------------------------------

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto pow(const A& a, const B& b) {
  using std::pow;
  const auto x = a.value(), y = b.value();
  const auto v = pow(x, y);
  return rev::binary(a, b, v, deriv::pow_d1_base(x, y, v), deriv::pow_d1_exp(x, v));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto pow(const A& a, S c) {
  using std::pow;
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T v = pow(x, y);
  return rev::unary(a, v, deriv::pow_d1_base(x, y, v));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto pow(S c, const A& a) {
  using std::pow;
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T v = pow(x, y);
  return rev::unary(a, v, deriv::pow_d1_exp(x, v));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto atan2(const A& a, const B& b) {
  using std::atan2;
  const auto y = a.value(), x = b.value();
  return rev::binary(a, b, atan2(y, x), deriv::atan2_d1_y(y, x), deriv::atan2_d1_x(y, x));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto atan2(const A& a, S c) {
  using std::atan2;
  using T = rev::scalar_of<A>;
  const T y = a.value(), x = static_cast<T>(c);
  return rev::unary(a, atan2(y, x), deriv::atan2_d1_y(y, x));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto atan2(S c, const A& a) {
  using std::atan2;
  using T = rev::scalar_of<A>;
  const T y = static_cast<T>(c), x = a.value();
  return rev::unary(a, atan2(y, x), deriv::atan2_d1_x(y, x));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto hypot(const A& a, const B& b) {
  using std::hypot;
  const auto x = a.value(), y = b.value();
  const auto h = hypot(x, y);
  return rev::binary(a, b, h, deriv::hypot_d1(x, h), deriv::hypot_d1(y, h));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto hypot(const A& a, S c) {
  using std::hypot;
  using T = rev::scalar_of<A>;
  const T x = a.value();
  const T h = hypot(x, static_cast<T>(c));
  return rev::unary(a, h, deriv::hypot_d1(x, h));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto hypot(S c, const A& a) {
  using std::hypot;
  using T = rev::scalar_of<A>;
  const T y = a.value();
  const T h = hypot(static_cast<T>(c), y);
  return rev::unary(a, h, deriv::hypot_d1(y, h));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto max(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = b.value();
  const T da = deriv::max_d1_first(x, y);
  return rev::binary(a, b, da != T(0) ? x : y, da, T(1) - da);
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto max(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T da = deriv::max_d1_first(x, y);
  return rev::unary(a, da != T(0) ? x : y, da);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto max(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T dc = deriv::max_d1_first(x, y);
  return rev::unary(a, dc != T(0) ? x : y, T(1) - dc);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto min(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = b.value();
  const T da = deriv::min_d1_first(x, y);
  return rev::binary(a, b, da != T(0) ? x : y, da, T(1) - da);
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto min(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T da = deriv::min_d1_first(x, y);
  return rev::unary(a, da != T(0) ? x : y, da);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto min(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T dc = deriv::min_d1_first(x, y);
  return rev::unary(a, dc != T(0) ? x : y, T(1) - dc);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto fmax(const A& a, const B& b) {
  return max(a, b);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto fmin(const A& a, const B& b) {
  return min(a, b);
}

// ---- classification (Eigen's numext reaches these through ADL) --------------------------------
template <rev::Expr A>
bool isfinite(const A& a) {
  return std::isfinite(a.value());
}
template <rev::Expr A>
bool isnan(const A& a) {
  return std::isnan(a.value());
}
template <rev::Expr A>
bool isinf(const A& a) {
  return std::isinf(a.value());
}

}  // namespace jacnet

namespace Eigen {
namespace internal {
/// Eigen's numext::sqrt (norm(), normalized(), ...) on a Var: at exactly 0 the constant 0, so
/// norm() at the zero vector has derivative 0, the minimum-norm subgradient (jacnet::sqrt keeps
/// sqrt'(0) = +inf, which would give 0·inf = NaN in norm()).
template <class T>
struct sqrt_impl<jacnet::Var<T>> {
  static jacnet::Var<T> run(const jacnet::Var<T>& x) {
    if (x.value() == T(0)) return jacnet::Var<T>();
    return jacnet::sqrt(x);
  }
};
}  // namespace internal
}  // namespace Eigen
