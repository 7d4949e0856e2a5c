#pragma once
// jacnet/nn/activation_functors.hpp — the elementwise functions of jacnet/nn/activation.hpp's
// Activation<T, Op> layer: one functor per activation giving σ, σ' and σ''.
//
// Functors (σ' and σ'' may use x and y = σ(x)):
//   Tanh       σ' = 1 − y²,              σ'' = −2y(1 − y²)
//   Sigmoid    σ' = y(1 − y),            σ'' = y(1 − y)(1 − 2y)
//   Softplus   σ = (max(βx,0) + log1p(e^{−|βx|}))/β,  σ' = s = sigmoid(βx),  σ'' = β·s(1 − s);
//              σ = x, σ' = 1, σ'' = 0 where βx > threshold (PyTorch: beta = 1, threshold = 20)
//   ReLU       σ' = [x > 0],             σ'' = 0
//   LeakyReLU  σ' = x > 0 ? 1 : slope,   σ'' = 0                  (slope 0.01 by default)
//   ELU        σ = x > 0 ? x : α(eˣ − 1), σ' = x > 0 ? 1 : y + α,  σ'' = x > 0 ? 0 : y + α
//   GELU       σ = xΦ(x) (exact erf form), σ' = Φ + xφ,         σ'' = φ(2 − x²);
//              GELUApproximate::Tanh: σ = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (see GELUOp)
// Kinks follow PyTorch (and jacnet/ad/elementary.hpp): relu'(0) = 0, leaky'(0) = slope,
// elu'(0) = α. Every functor works on xsimd batches (float/double fast path) and on any scalar
// with the functions of jacnet/ad/elementary.hpp (AD scalars such as Dual, for verification).
#include <array>
#include <cmath>
#include <concepts>
#include <numbers>
#include <sstream>
#include <string>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

namespace detail {
template <class V>
struct is_batch : std::false_type {};
template <class T, class A>
struct is_batch<xsimd::batch<T, A>> : std::true_type {};
template <class V>
inline constexpr bool is_batch_v = is_batch<std::remove_cvref_t<V>>::value;

/// The plain real type of a batch or (AD) scalar.
template <class V>
struct elem {
  using type = real_t<V>;
};
template <class T, class A>
struct elem<xsimd::batch<T, A>> {
  using type = T;
};
template <class V>
using elem_t = typename elem<std::remove_cvref_t<V>>::type;

inline std::string fmt_num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace detail

// ---- functors ---------------------------------------------------------------------------------

struct TanhOp {
  static constexpr bool relu_family = false;
  static constexpr bool has_d2 = true;
  std::string name() const { return "Tanh"; }
  template <class V>
  V f(const V& x) const {
    using std::tanh;
    return V(tanh(x));
  }
  template <class V>
  V df(const V& x, const V& y) const {
    if constexpr (detail::is_batch_v<V>)
      return V(1) - y * y;
    else
      return deriv::tanh_d1(x, y);
  }
  template <class V>
  V d2f(const V& x, const V& y) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return V(R(-2)) * y * (V(1) - y * y);
    else
      return deriv::tanh_d2(x, y);
  }
};

struct SigmoidOp {
  static constexpr bool relu_family = false;
  static constexpr bool has_d2 = true;
  std::string name() const { return "Sigmoid"; }
  template <class V>
  V f(const V& x) const {
    if constexpr (detail::is_batch_v<V>) {
      const V e = xsimd::exp(-xsimd::abs(x));
      const V r = V(1) / (V(1) + e);
      return xsimd::select(x >= V(0), r, e * r);
    } else {
      return V(sigmoid(x));
    }
  }
  template <class V>
  V df(const V& x, const V& y) const {
    using R = detail::elem_t<V>;
    return V(y * (R(1) - y));
  }
  template <class V>
  V d2f(const V& x, const V& y) const {
    using R = detail::elem_t<V>;
    return V(y * (R(1) - y) * (R(1) - R(2) * y));
  }
};

struct SoftplusOp {
  static constexpr bool relu_family = false;
  static constexpr bool has_d2 = true;
  double beta = 1.0;        ///< PyTorch's Softplus(beta, threshold) defaults
  double threshold = 20.0;  ///< βx > threshold: σ(x) = x (σ' = 1, σ'' = 0), as PyTorch
  SoftplusOp() = default;
  SoftplusOp(double b, double t = 20.0) : beta(b), threshold(t) {  // NOLINT: Softplus<T>(2.0)
    JACNET_CHECK(b > 0 && std::isfinite(b), ValueError, "nn::Softplus", "beta ", b,
                 " must be positive and finite");
    JACNET_CHECK(!std::isnan(t), ValueError, "nn::Softplus", "threshold is NaN");
  }
  std::string name() const {
    if (beta == 1.0 && threshold == 20.0) return "Softplus";
    return "Softplus(beta=" + detail::fmt_num(beta) + ", threshold=" + detail::fmt_num(threshold) +
           ")";
  }
  template <class V>
  static V sig(const V& x) {
    const V e = xsimd::exp(-xsimd::abs(x));
    const V r = V(1) / (V(1) + e);
    return xsimd::select(x >= V(0), r, e * r);
  }
  // σ(x) = log(1 + e^{βx}) / β = (max(βx, 0) + log1p(e^{−|βx|})) / β, or x when βx > threshold.
  template <class V>
  V f(const V& x) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>) {
      const V bx = V(R(beta)) * x;
      const V s = (xsimd::max(bx, V(0)) + xsimd::log1p(xsimd::exp(-xsimd::abs(bx)))) / V(R(beta));
      return xsimd::select(bx > V(R(threshold)), x, s);
    } else {
      const V bx = V(R(beta) * x);
      if (value_of(bx) > R(threshold)) return x;
      return V(softplus(bx) / R(beta));
    }
  }
  // σ'(x) = sigmoid(βx) (1 above the threshold)
  template <class V>
  V df(const V& x, const V& /*y*/) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>) {
      const V bx = V(R(beta)) * x;
      return xsimd::select(bx > V(R(threshold)), V(1), sig(bx));
    } else {
      const V bx = V(R(beta) * x);
      if (value_of(bx) > R(threshold)) return V(R(1));
      return V(deriv::softplus_d1(bx));
    }
  }
  // σ''(x) = β·s(1 − s), s = sigmoid(βx) (0 above the threshold)
  template <class V>
  V d2f(const V& x, const V& /*y*/) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>) {
      const V bx = V(R(beta)) * x;
      const V s = sig(bx);
      return xsimd::select(bx > V(R(threshold)), V(0), V(R(beta)) * (s * (V(1) - s)));
    } else {
      const V bx = V(R(beta) * x);
      if (value_of(bx) > R(threshold)) return V(R(0));
      return V(R(beta) * deriv::softplus_d2(bx));
    }
  }
};

struct ReLUOp {
  static constexpr bool relu_family = true;
  static constexpr bool has_d2 = false;
  std::string name() const { return "ReLU"; }
  template <class V>
  V f(const V& x) const {
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), x, V(0));
    else
      return V(relu(x));
  }
  template <class V>
  V df(const V& x, const V& /*y*/) const {
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), V(1), V(0));
    else
      return V(deriv::relu_d1(x));
  }
  template <class V>
  V d2f(const V& /*x*/, const V& /*y*/) const {
    return V(detail::elem_t<V>(0));
  }
};

struct LeakyReLUOp {
  static constexpr bool relu_family = true;
  static constexpr bool has_d2 = false;
  double slope = 0.01;
  LeakyReLUOp() = default;
  LeakyReLUOp(double s) : slope(s) {}  // NOLINT: LeakyReLU<T>(0.1)
  std::string name() const { return "LeakyReLU(" + detail::fmt_num(slope) + ")"; }
  template <class V>
  V f(const V& x) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), x, V(R(slope)) * x);
    else
      return V(leaky_relu(x, R(slope)));
  }
  template <class V>
  V df(const V& x, const V& /*y*/) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), V(1), V(R(slope)));
    else
      return V(deriv::leaky_relu_d1(x, R(slope)));
  }
  template <class V>
  V d2f(const V& /*x*/, const V& /*y*/) const {
    return V(detail::elem_t<V>(0));
  }
};

struct ELUOp {
  static constexpr bool relu_family = true;
  static constexpr bool has_d2 = true;
  double alpha = 1.0;
  ELUOp() = default;
  ELUOp(double a) : alpha(a) {}  // NOLINT: ELU<T>(0.5)
  std::string name() const { return "ELU(" + detail::fmt_num(alpha) + ")"; }
  template <class V>
  V f(const V& x) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), x, V(R(alpha)) * xsimd::expm1(x));
    else
      return V(elu(x, R(alpha)));
  }
  template <class V>
  V df(const V& x, const V& y) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), V(1), y + V(R(alpha)));
    else
      return V(deriv::elu_d1(x, y, R(alpha)));
  }
  template <class V>
  V d2f(const V& x, const V& y) const {
    using R = detail::elem_t<V>;
    if constexpr (detail::is_batch_v<V>)
      return xsimd::select(x > V(0), V(0), y + V(R(alpha)));
    else
      return V(deriv::elu_d2(x, R(alpha)));
  }
};

/// GELU's form: the exact x·Φ(x) (PyTorch approximate='none') or its tanh approximation
/// (approximate='tanh').
enum class GELUApproximate { None, Tanh };

struct GELUOp {
  static constexpr bool relu_family = true;
  static constexpr bool has_d2 = true;
  GELUApproximate approximate = GELUApproximate::None;
  GELUOp() = default;
  GELUOp(GELUApproximate a) : approximate(a) {}  // NOLINT: GELU<T>(GELUApproximate::Tanh)
  std::string name() const {
    return approximate == GELUApproximate::Tanh ? "GELU(approximate='tanh')" : "GELU";
  }
  template <class V>
  static V cdf(const V& x) {  // Φ(x) = ½ erfc(−x/√2)
    using R = detail::elem_t<V>;
    return V(R(0.5)) * xsimd::erfc(x * V(R(-std::numbers::sqrt2 / 2)));
  }
  template <class V>
  static V pdf(const V& x) {  // φ(x) = e^{−x²/2} / √(2π)
    using R = detail::elem_t<V>;
    return V(R(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2)) *
           xsimd::exp(V(R(-0.5)) * x * x);
  }
  // tanh form: u = c(x + a·x³), c = √(2/π), a = 0.044715, t = tanh u, u' = c(1 + 3a·x²),
  // u'' = 6ca·x;  σ = ½x(1 + t),  σ' = ½(1 + t) + ½x(1 − t²)u',
  // σ'' = (1 − t²)(u' + ½x(u'' − 2t·u'²)).  Returns {t, u', u''} for batches and scalars.
  static constexpr double kTanhC = 0.7978845608028654;  // √(2/π)
  static constexpr double kTanhA = 0.044715;
  template <class V>
  static std::array<V, 3> tanh_parts(const V& x) {
    using R = detail::elem_t<V>;
    using std::tanh;
    const V x2 = V(x * x);
    const V u = V(V(R(kTanhC)) * V(x + V(R(kTanhA)) * V(x2 * x)));
    V t;
    if constexpr (detail::is_batch_v<V>)
      t = xsimd::tanh(u);
    else
      t = V(tanh(u));
    const V du = V(V(R(kTanhC)) * V(V(R(1)) + V(R(3 * kTanhA)) * x2));
    const V d2u = V(V(R(6 * kTanhC * kTanhA)) * x);
    return {t, du, d2u};
  }
  template <class V>
  V f(const V& x) const {
    using R = detail::elem_t<V>;
    if (approximate == GELUApproximate::Tanh) {
      const auto [t, du, d2u] = tanh_parts(x);
      return V(V(R(0.5)) * x * V(V(R(1)) + t));
    }
    if constexpr (detail::is_batch_v<V>)
      return x * cdf(x);
    else
      return V(gelu(x));
  }
  template <class V>
  V df(const V& x, const V& /*y*/) const {
    using R = detail::elem_t<V>;
    if (approximate == GELUApproximate::Tanh) {
      const auto [t, du, d2u] = tanh_parts(x);
      const V s = V(V(R(1)) - t * t);
      return V(V(R(0.5)) * V(V(R(1)) + t) + V(R(0.5)) * x * s * du);
    }
    if constexpr (detail::is_batch_v<V>)
      return cdf(x) + x * pdf(x);
    else
      return deriv::gelu_d1(x);
  }
  template <class V>
  V d2f(const V& x, const V& /*y*/) const {
    using R = detail::elem_t<V>;
    if (approximate == GELUApproximate::Tanh) {
      const auto [t, du, d2u] = tanh_parts(x);
      const V s = V(V(R(1)) - t * t);
      return V(s * V(du + V(R(0.5)) * x * V(d2u - V(R(2)) * t * du * du)));
    }
    if constexpr (detail::is_batch_v<V>)
      return pdf(x) * (V(2) - x * x);
    else
      return deriv::gelu_d2(x);
  }
};

}  // namespace jacnet::nn
