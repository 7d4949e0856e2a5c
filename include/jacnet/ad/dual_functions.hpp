#pragma once
// jacnet/ad/dual_functions.hpp — elementary functions of Dual<T, N>: (f(x), f'(x)·ẋ) with the
// derivative formulas of jacnet/ad/derivatives.hpp (unary: exp … gelu; binary: pow, atan2, hypot,
// min/max), and Eigen's sqrt_impl for norm() at 0. Overview: jacnet/ad/dual.hpp.
#include <cmath>
#include <type_traits>

#include "jacnet/ad/dual_scalar.hpp"

namespace jacnet {

// ---------------------------------------------------------------------------------------------
// Unary functions
// ---------------------------------------------------------------------------------------------

template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> exp(const Dual<T, N>& x) {
  using std::exp;
  const T f = T(exp(x.val));
  return detail::chain(x, f, deriv::exp_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> log(const Dual<T, N>& x) {
  using std::log;
  return detail::chain(x, T(log(x.val)), deriv::log_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> log1p(const Dual<T, N>& x) {
  using std::log1p;
  return detail::chain(x, T(log1p(x.val)), deriv::log1p_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> expm1(const Dual<T, N>& x) {
  using std::expm1;
  const T f = T(expm1(x.val));
  return detail::chain(x, f, deriv::expm1_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sqrt(const Dual<T, N>& x) {
  using std::sqrt;
  const T f = T(sqrt(x.val));
  return detail::chain(x, f, deriv::sqrt_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> cbrt(const Dual<T, N>& x) {
  using std::cbrt;
  const T f = T(cbrt(x.val));
  return detail::chain(x, f, deriv::cbrt_d1(x.val, f));
}
/// |x|, with abs'(0) = 0.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> abs(const Dual<T, N>& x) {
  using std::abs;
  return detail::chain(x, T(abs(x.val)), deriv::abs_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> fabs(const Dual<T, N>& x) {
  return abs(x);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sin(const Dual<T, N>& x) {
  using std::sin;
  return detail::chain(x, T(sin(x.val)), deriv::sin_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> cos(const Dual<T, N>& x) {
  using std::cos;
  return detail::chain(x, T(cos(x.val)), deriv::cos_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> tan(const Dual<T, N>& x) {
  using std::tan;
  const T f = T(tan(x.val));
  return detail::chain(x, f, deriv::tan_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> tanh(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::tanh_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sigmoid(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::sigmoid_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> softplus(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::softplus_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> erf(const Dual<T, N>& x) {
  using std::erf;
  return detail::chain(x, T(erf(x.val)), deriv::erf_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> erfc(const Dual<T, N>& x) {
  using std::erfc;
  return detail::chain(x, T(erfc(x.val)), deriv::erfc_d1(x.val));
}
/// relu(x) = max(x, 0), relu'(0) = 0.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> relu(const Dual<T, N>& x) {
  if (value_of(x) > real_t<T>(0)) return x;
  return Dual<T, N>();
}
/// leaky_relu(x) = x > 0 ? x : slope·x, leaky_relu'(0) = slope.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> leaky_relu(const Dual<T, N>& x, real_t<T> slope = real_t<T>(0.01)) {
  if (value_of(x) > real_t<T>(0)) return x;
  return Dual<T, N>(T(slope * x.val), detail::tan_scale(slope, x.tang));
}
/// elu(x, α) = x > 0 ? x : α(e^x − 1), elu'(0) = α.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> elu(const Dual<T, N>& x, real_t<T> alpha = real_t<T>(1)) {
  if (value_of(x) > real_t<T>(0)) return x;
  const deriv::ValDer<T> r = deriv::elu_vd(x.val, alpha);
  return detail::chain(x, r.f, r.d);
}
/// gelu(x) = x·Φ(x) (exact form).
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> gelu(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::gelu_vd(x.val);
  return detail::chain(x, r.f, r.d);
}

// ---------------------------------------------------------------------------------------------
// Binary functions
// ---------------------------------------------------------------------------------------------

// pow --------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a.val, b.val));
  const T da = deriv::pow_d1_base(a.val, b.val, f);
  const T db = deriv::pow_d1_exp(a.val, f);
  return Dual<T, N>(f, detail::tan_axpby(da, a.tang, db, b.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const detail::id_t<T>& b) {
  using std::pow;
  const T f = T(pow(a.val, b));
  return detail::chain(a, f, deriv::pow_d1_base(a.val, b, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const detail::id_t<T>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a, b.val));
  return detail::chain(b, f, deriv::pow_d1_exp(a, f));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const real_t<T>& b) {
  using std::pow;
  const T f = T(pow(a.val, b));
  return detail::chain(a, f, deriv::pow_d1_base(a.val, b, f));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const real_t<T>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a, b.val));
  return detail::chain(b, f, deriv::pow_d1_exp(a, f));
}

// atan2 ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const Dual<T, N>& y, const Dual<T, N>& x) {
  using std::atan2;
  const T dy = deriv::atan2_d1_y(y.val, x.val);
  const T dx = deriv::atan2_d1_x(y.val, x.val);
  return Dual<T, N>(T(atan2(y.val, x.val)), detail::tan_axpby(dy, y.tang, dx, x.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const Dual<T, N>& y, const detail::id_t<T>& x) {
  using std::atan2;
  return detail::chain(y, T(atan2(y.val, x)), deriv::atan2_d1_y(y.val, x));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const detail::id_t<T>& y, const Dual<T, N>& x) {
  using std::atan2;
  return detail::chain(x, T(atan2(y, x.val)), deriv::atan2_d1_x(y, x.val));
}

// hypot ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const Dual<T, N>& x, const Dual<T, N>& y) {
  using std::hypot;
  const T h = T(hypot(x.val, y.val));
  const T dx = deriv::hypot_d1(x.val, h);
  const T dy = deriv::hypot_d1(y.val, h);
  return Dual<T, N>(h, detail::tan_axpby(dx, x.tang, dy, y.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const Dual<T, N>& x, const detail::id_t<T>& y) {
  using std::hypot;
  const T h = T(hypot(x.val, y));
  return detail::chain(x, h, deriv::hypot_d1(x.val, h));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const detail::id_t<T>& x, const Dual<T, N>& y) {
  using std::hypot;
  const T h = T(hypot(x, y.val));
  return detail::chain(y, h, deriv::hypot_d1(y.val, h));
}

// max, min (ties pick the first argument) ---------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const Dual<T, N>& a, const Dual<T, N>& b) {
  return deriv::max_d1_first(a, b) != 0 ? a : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return deriv::max_d1_first(a, b) != 0 ? a : Dual<T, N>(b);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return deriv::max_d1_first(a, b) != 0 ? Dual<T, N>(a) : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const Dual<T, N>& a, const Dual<T, N>& b) {
  return deriv::min_d1_first(a, b) != 0 ? a : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return deriv::min_d1_first(a, b) != 0 ? a : Dual<T, N>(b);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return deriv::min_d1_first(a, b) != 0 ? Dual<T, N>(a) : b;
}
template <class A, class B>
requires(is_dual_v<A> || is_dual_v<B>) JACNET_FORCE_INLINE auto fmax(const A& a, const B& b)
    -> decltype(max(a, b)) {
  return max(a, b);
}
template <class A, class B>
requires(is_dual_v<A> || is_dual_v<B>) JACNET_FORCE_INLINE auto fmin(const A& a, const B& b)
    -> decltype(min(a, b)) {
  return min(a, b);
}

}  // namespace jacnet

namespace Eigen {
namespace internal {
/// Eigen's numext::sqrt (norm(), normalized(), ...) on a Dual: at exactly 0 the result is the
/// constant 0, i.e. norm() at the zero vector has derivative 0, the minimum-norm subgradient
/// (jacnet::sqrt itself keeps sqrt'(0) = +inf, which would give 0·inf = NaN here).
template <class T, int N>
struct sqrt_impl<jacnet::Dual<T, N>> {
  static jacnet::Dual<T, N> run(const jacnet::Dual<T, N>& x) {
    if (jacnet::value_of(x) == 0) return jacnet::Dual<T, N>();
    return jacnet::sqrt(x);
  }
};
}  // namespace internal
}  // namespace Eigen
