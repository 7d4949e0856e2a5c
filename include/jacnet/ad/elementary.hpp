#pragma once
// jacnet/ad/elementary.hpp — the elementary functions jacnet adds to std (sigmoid, softplus, relu,
// leaky_relu, elu, gelu) and the scalar traits every AD scalar of jacnet (forward `Dual`, reverse
// `Var`) shares; usable on plain float/double.
//
// The non-std functions, as templates on the scalar S (float, double, or an AD scalar found by
// ADL; calls inside are written `using std::exp; exp(x)`):
//   sigmoid(x) = 1 / (1 + e^-x)            (branch on the sign: no overflow, no cancellation)
//   softplus(x) = log(1 + e^x) = max(x,0) + log1p(e^-|x|)
//   relu(x) = max(x, 0)      leaky_relu(x, s) = x > 0 ? x : s·x
//   elu(x, α) = x > 0 ? x : α·(e^x − 1)
//   gelu(x) = x·Φ(x) = x·½·erfc(−x/√2)   (exact erf form, Φ the standard normal CDF)
// Derivative formulas (`jacnet::deriv::*`) and the conventions at kinks: jacnet/ad/derivatives.hpp
// (included at the end of this header).
//
// Customization: an AD scalar that defines its own overloads of sigmoid/softplus/relu/leaky_relu/
// elu/gelu (found by ADL) specializes `jacnet::custom_elementary<S>` to std::true_type; the
// generic templates here then step aside (no ambiguity with derived expression types). Without
// that, the generic definitions compose them from exp/log1p/expm1/erf of S (correct, just more
// operations). `value_of(x)` needs AD scalars to expose `x.value()`.
#include <cmath>
#include <numbers>
#include <type_traits>
#include <utility>

namespace jacnet {

// ---------------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------------

namespace detail {
template <class S>
struct real_type {
  using type = S;
};
template <class S>
requires requires(const S& s) { s.value(); }
struct real_type<S> {
  using type =
      typename real_type<std::remove_cvref_t<decltype(std::declval<const S&>().value())>>::type;
};
}  // namespace detail

/// The innermost plain scalar of S: real_t<double> = double, real_t<Dual<Dual<float>>> = float,
/// real_t<Var<double>> = double. AD scalars expose it through `value()`.
template <class S>
using real_t = typename detail::real_type<std::remove_cvref_t<S>>::type;

/// The primal value of x as a plain scalar (recursing through nested AD scalars via `.value()`).
template <class S>
constexpr real_t<S> value_of(const S& x) {
  if constexpr (std::is_arithmetic_v<S>)
    return x;
  else
    return value_of(x.value());
}

/// Specialize to std::true_type for an AD scalar that provides its own sigmoid, softplus, relu,
/// leaky_relu, elu and gelu overloads (Dual does). Then the generic templates below step aside.
template <class S>
struct custom_elementary : std::false_type {};

/// S uses the generic definitions of the non-std functions below.
template <class S>
concept generic_elementary = !custom_elementary<std::remove_cvref_t<S>>::value;

namespace detail {
/// AD scalars that provide erfc (found by ADL) get the accurate left tail of Φ.
template <class S>
concept has_erfc = requires(const S& s) {
  erfc(s);
};

/// Φ(x), the standard normal CDF: ½·erfc(−x/√2) (accurate in the far left tail) when erfc is
/// available for S, ½·(1 + erf(x/√2)) otherwise.
template <class S>
S normal_cdf(const S& x) {
  using R = real_t<S>;
  if constexpr (std::is_arithmetic_v<S>) {
    return R(0.5) * std::erfc(-x * R(std::numbers::sqrt2 / 2));
  } else if constexpr (has_erfc<S>) {
    return S(R(0.5) * erfc(-x * R(std::numbers::sqrt2 / 2)));
  } else {
    using std::erf;
    return S(R(0.5) * (R(1) + erf(x * R(std::numbers::sqrt2 / 2))));
  }
}
/// φ(x) = e^{−x²/2} / √(2π), the standard normal density.
template <class S>
S normal_pdf(const S& x) {
  using R = real_t<S>;
  using std::exp;
  return S(R(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2) * exp(R(-0.5) * x * x));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// The non-std functions (plain scalars, and AD scalars without custom overloads)
// ---------------------------------------------------------------------------------------------

/// σ(x) = 1/(1+e^{−x}); for x < 0 computed as e^x/(1+e^x) (no overflow, full relative accuracy).
template <class S>
requires generic_elementary<S> S sigmoid(const S& x) {
  using R = real_t<S>;
  using std::exp;
  if (value_of(x) >= R(0)) return S(R(1) / (R(1) + exp(-x)));
  const S e = exp(x);
  return S(e / (R(1) + e));
}

/// softplus(x) = log(1 + e^x), computed as x + log1p(e^{−x}) for x > 0 and log1p(e^x) otherwise.
template <class S>
requires generic_elementary<S> S softplus(const S& x) {
  using std::exp;
  using std::log1p;
  if (value_of(x) > real_t<S>(0)) return S(x + log1p(exp(-x)));
  return S(log1p(exp(x)));
}

/// relu(x) = x for x > 0, else 0 (relu'(0) = 0).
template <class S>
requires generic_elementary<S> S relu(const S& x) {
  if (value_of(x) > real_t<S>(0)) return x;
  return S(real_t<S>(0));
}

/// leaky_relu(x, slope) = x for x > 0, else slope·x (leaky_relu'(0) = slope).
template <class S>
requires generic_elementary<S> S leaky_relu(const S& x, real_t<S> slope = real_t<S>(0.01)) {
  if (value_of(x) > real_t<S>(0)) return x;
  return S(slope * x);
}

/// elu(x, α) = x for x > 0, else α·(e^x − 1) (elu'(0) = α: the x ≤ 0 branch).
template <class S>
requires generic_elementary<S> S elu(const S& x, real_t<S> alpha = real_t<S>(1)) {
  using std::expm1;
  if (value_of(x) > real_t<S>(0)) return x;
  return S(alpha * expm1(x));
}

/// gelu(x) = x·Φ(x) (the exact, erf-based GELU; not the tanh approximation).
template <class S>
requires generic_elementary<S> S gelu(const S& x) { return S(x * detail::normal_cdf(x)); }

}  // namespace jacnet

// jacnet::deriv: the derivative formulas (they use real_t, value_of and detail::normal_cdf above).
#include "jacnet/ad/derivatives.hpp"
