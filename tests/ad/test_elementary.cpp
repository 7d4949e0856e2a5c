// Tests of jacnet/ad/elementary.hpp: the plain-scalar non-std functions (float and double), the
// shared derivative formulas deriv::* against analytic values and central finite differences,
// their kink conventions, and the generic (composite) definitions used by AD scalars that do not
// provide their own overloads — exercised here through a minimal test-only dual number.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <vector>

#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/elementary.hpp"

namespace deriv = jacnet::deriv;

namespace {

bool close(double a, double b, double rel, double abs_tol = 1e-300) {
  if (a == b) return true;
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + abs_tol;
}

double central(double (*f)(double), double x) {
  const double h = 1e-5 * std::max(std::abs(x), 0.1);
  return (f(x + h) - f(x - h)) / (2 * h);
}

double sig(double x) { return jacnet::sigmoid(x); }
double sp(double x) { return jacnet::softplus(x); }
double gl(double x) { return jacnet::gelu(x); }
double el(double x) { return jacnet::elu(x); }
double el2(double x) { return jacnet::elu(x, 2.0); }
double th(double x) { return std::tanh(x); }
double sig_d1(double x) { return deriv::sigmoid_d1(x); }
double sp_d1(double x) { return deriv::softplus_d1(x); }
double gl_d1(double x) { return deriv::gelu_d1(x); }
double th_d1(double x) { return deriv::tanh_d1(x, std::tanh(x)); }
double el_d1(double x) { return deriv::elu_d1(x, jacnet::elu(x)); }

const std::vector<double> kPoints = {-30, -5, -1.5, -0.3, 0, 0.4, 1, 2.5, 7, 30};

/// A minimal forward-mode scalar that does NOT specialize custom_elementary, so the generic
/// sigmoid/softplus/relu/leaky_relu/elu/gelu templates of elementary.hpp apply to it (the path
/// an AD scalar without its own overloads takes). It has no erfc, so gelu uses the erf form.
struct TD {
  double v = 0, d = 0;
  TD() = default;
  TD(double x) : v(x) {}  // NOLINT
  TD(double x, double dx) : v(x), d(dx) {}
  double value() const { return v; }
};
TD operator-(const TD& a) { return {-a.v, -a.d}; }
TD operator+(const TD& a, const TD& b) { return {a.v + b.v, a.d + b.d}; }
TD operator-(const TD& a, const TD& b) { return {a.v - b.v, a.d - b.d}; }
TD operator*(const TD& a, const TD& b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
TD operator/(const TD& a, const TD& b) {
  return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)};
}
TD exp(const TD& a) { return {std::exp(a.v), std::exp(a.v) * a.d}; }
TD expm1(const TD& a) { return {std::expm1(a.v), std::exp(a.v) * a.d}; }
TD log1p(const TD& a) { return {std::log1p(a.v), a.d / (1 + a.v)}; }
TD erf(const TD& a) {
  return {std::erf(a.v), 2 / std::sqrt(std::numbers::pi) * std::exp(-a.v * a.v) * a.d};
}

}  // namespace

TEST_CASE("elementary: plain-scalar activations", "[ad][elementary]") {
  for (double x : kPoints) {
    INFO("x = " << x);
    // σ: exact reference 1/(1+e^{-x}) is accurate for x ≥ 0, e^x/(1+e^x) for x < 0.
    const double s = x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
    CHECK(close(jacnet::sigmoid(x), s, 1e-15));
    CHECK(close(jacnet::softplus(x), std::log1p(std::exp(-std::abs(x))) + std::max(x, 0.0), 1e-15));
    CHECK(jacnet::relu(x) == std::max(x, 0.0));
    CHECK(jacnet::leaky_relu(x) == (x > 0 ? x : 0.01 * x));
    CHECK(jacnet::leaky_relu(x, 0.3) == (x > 0 ? x : 0.3 * x));
    CHECK(jacnet::elu(x) == (x > 0 ? x : std::expm1(x)));
    CHECK(jacnet::elu(x, 0.5) == (x > 0 ? x : 0.5 * std::expm1(x)));
    CHECK(close(jacnet::gelu(x), x * 0.5 * std::erfc(-x / std::sqrt(2.0)), 1e-11));
    // float instantiations agree with double.
    const float xf = static_cast<float>(x);
    CHECK(close(jacnet::sigmoid(xf), jacnet::sigmoid(double(xf)), 1e-6, 1e-30));
    CHECK(close(jacnet::softplus(xf), jacnet::softplus(double(xf)), 1e-6, 1e-30));
    CHECK(close(jacnet::gelu(xf), jacnet::gelu(double(xf)), 1e-5, 1e-30));
    CHECK(close(jacnet::elu(xf), jacnet::elu(double(xf)), 1e-6, 1e-30));
  }
  // No overflow / NaN at extreme arguments.
  CHECK(jacnet::sigmoid(-800.0) == 0.0);
  CHECK(jacnet::sigmoid(800.0) == 1.0);
  CHECK(jacnet::softplus(800.0) == 800.0);
  CHECK(jacnet::softplus(-800.0) == 0.0);
  CHECK(jacnet::gelu(-800.0) == 0.0);
  CHECK(jacnet::gelu(800.0) == 800.0);
  CHECK(jacnet::sigmoid(-100.0f) >= 0.0f);
  CHECK(std::isfinite(deriv::tanh_d1(800.0, std::tanh(800.0))));
  CHECK(deriv::sigmoid_d1(-800.0) == 0.0);
  CHECK(deriv::softplus_vd(-800.0).d == 0.0);
}

TEST_CASE("elementary: derivative formulas vs analytic values and finite differences",
          "[ad][elementary]") {
  for (double x : kPoints) {
    INFO("x = " << x);
    const double ch = std::cosh(x);
    // tanh' = sech², σ' = 1/(2 + 2 cosh), softplus' = σ, gelu' = Φ + xφ; full relative accuracy.
    CHECK(close(th_d1(x), 1 / (ch * ch), 1e-13));
    CHECK(close(sig_d1(x), 1 / (2 + 2 * ch), 1e-13));
    CHECK(close(sp_d1(x), jacnet::sigmoid(x), 1e-15));
    const double phi = std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
    const double Phi = 0.5 * std::erfc(-x / std::sqrt(2.0));
    CHECK(close(gl_d1(x), Phi + x * phi, 1e-11));
    // The cheap σ' from σ alone is accurate in absolute terms.
    CHECK(std::abs(deriv::sigmoid_d1(x, jacnet::sigmoid(x)) - sig_d1(x)) <= 4e-16);
    // {f, f'} pairs agree with the separate functions.
    CHECK(close(deriv::sigmoid_vd(x).f, jacnet::sigmoid(x), 1e-15));
    CHECK(close(deriv::softplus_vd(x).f, jacnet::softplus(x), 1e-15));
    CHECK(close(deriv::softplus_vd(x).d, jacnet::sigmoid(x), 1e-15));
    CHECK(deriv::tanh_vd(x).f == std::tanh(x));
    CHECK(close(deriv::gelu_vd(x).f, jacnet::gelu(x), 1e-15));
    // Second derivatives of the activations.
    CHECK(close(deriv::tanh_d2(x, std::tanh(x)), -2 * std::sinh(x) / (ch * ch * ch), 1e-12));
    CHECK(close(deriv::sigmoid_d2(x), -std::sinh(x) / (2 * (1 + ch) * (1 + ch)), 1e-12, 1e-300));
    CHECK(close(deriv::softplus_d2(x), 1 / (2 + 2 * ch), 1e-13));
    CHECK(close(deriv::gelu_d2(x), phi * (2 - x * x), 1e-12));
    if (x != 0) {
      CHECK(deriv::relu_d1(x) == (x > 0 ? 1.0 : 0.0));
      CHECK(deriv::leaky_relu_d1(x, 0.2) == (x > 0 ? 1.0 : 0.2));
      CHECK(close(el_d1(x), x > 0 ? 1.0 : std::exp(x), 1e-15));
      CHECK(close(deriv::elu_vd(x, 0.5).d, x > 0 ? 1.0 : 0.5 * std::exp(x), 1e-15));
      CHECK(close(deriv::elu_vd(x, 0.5).f, jacnet::elu(x, 0.5), 1e-15));
      CHECK(close(deriv::elu_d2(x, 2.0), x > 0 ? 0.0 : 2 * std::exp(x), 1e-15));
      CHECK(deriv::relu_d2(x) == 0.0);
      CHECK(deriv::leaky_relu_d2(x) == 0.0);
      CHECK(deriv::abs_d1(x) == (x > 0 ? 1.0 : -1.0));
    }
    // Central finite differences (away from kinks; tails compared in absolute terms).
    const auto fd_ok = [](double d, double fd) {
      return std::abs(d - fd) <= 1e-6 * std::abs(d) + 1e-9;
    };
    CHECK(fd_ok(sig_d1(x), central(sig, x)));
    CHECK(fd_ok(sp_d1(x), central(sp, x)));
    CHECK(fd_ok(gl_d1(x), central(gl, x)));
    CHECK(fd_ok(th_d1(x), central(th, x)));
    if (x != 0) {
      CHECK(fd_ok(el_d1(x), central(el, x)));
      CHECK(fd_ok(deriv::elu_vd(x, 2.0).d, central(el2, x)));
      CHECK(fd_ok(deriv::tanh_d2(x, std::tanh(x)), central(th_d1, x)));
      CHECK(fd_ok(deriv::sigmoid_d2(x), central(sig_d1, x)));
      CHECK(fd_ok(deriv::softplus_d2(x), central(sp_d1, x)));
      CHECK(fd_ok(deriv::gelu_d2(x), central(gl_d1, x)));
      CHECK(fd_ok(deriv::elu_d2(x), central(el_d1, x)));
    }
  }
  // Other formulas at a generic point.
  const double x = 0.7, y = -1.3;
  CHECK(close(deriv::log_d1(x), 1 / x, 1e-15));
  CHECK(close(deriv::log1p_d1(x), 1 / (1 + x), 1e-15));
  CHECK(close(deriv::expm1_d1(x, std::expm1(x)), std::exp(x), 1e-15));
  CHECK(close(deriv::exp_d1(x, std::exp(x)), std::exp(x), 1e-15));
  CHECK(close(deriv::sqrt_d1(x, std::sqrt(x)), 0.5 / std::sqrt(x), 1e-15));
  CHECK(close(deriv::cbrt_d1(y, std::cbrt(y)), std::pow(std::cbrt(y), -2) / 3, 1e-14));
  CHECK(close(deriv::sin_d1(x), std::cos(x), 1e-15));
  CHECK(close(deriv::cos_d1(x), -std::sin(x), 1e-15));
  CHECK(close(deriv::tan_d1(x, std::tan(x)), 1 / std::pow(std::cos(x), 2), 1e-14));
  CHECK(close(deriv::erf_d1(x), 2 / std::sqrt(std::numbers::pi) * std::exp(-x * x), 1e-15));
  CHECK(close(deriv::erfc_d1(x), -deriv::erf_d1(x), 1e-15));
  CHECK(close(deriv::div_d1_num(y), 1 / y, 1e-15));
  CHECK(close(deriv::div_d1_den(y, x / y), -x / (y * y), 1e-15));
  CHECK(close(deriv::pow_d1_base(x, 2.5, std::pow(x, 2.5)), 2.5 * std::pow(x, 1.5), 1e-14));
  CHECK(close(deriv::pow_d1_exp(x, std::pow(x, 2.5)), std::pow(x, 2.5) * std::log(x), 1e-14));
  CHECK(close(deriv::atan2_d1_y(y, x), x / (x * x + y * y), 1e-15));
  CHECK(close(deriv::atan2_d1_x(y, x), -y / (x * x + y * y), 1e-15));
  CHECK(close(deriv::hypot_d1(x, std::hypot(x, y)), x / std::hypot(x, y), 1e-15));
  CHECK(deriv::max_d1_first(x, y) == 1.0);
  CHECK(deriv::min_d1_first(x, y) == 0.0);
}

TEST_CASE("elementary: kink conventions", "[ad][elementary]") {
  CHECK(deriv::relu_d1(0.0) == 0.0);
  CHECK(deriv::abs_d1(0.0) == 0.0);
  CHECK(deriv::abs_d1(-0.0) == 0.0);
  CHECK(deriv::leaky_relu_d1(0.0) == 0.01);
  CHECK(deriv::leaky_relu_d1(0.0, 0.25) == 0.25);
  CHECK(deriv::elu_d1(0.0, jacnet::elu(0.0)) == 1.0);
  CHECK(deriv::elu_d1(0.0, jacnet::elu(0.0, 0.5), 0.5) == 0.5);
  CHECK(deriv::elu_vd(0.0, 3.0).d == 3.0);
  CHECK(deriv::elu_d2(0.0, 3.0) == 3.0);
  CHECK(deriv::max_d1_first(2.0, 2.0) == 1.0);  // ties: first argument
  CHECK(deriv::min_d1_first(2.0, 2.0) == 1.0);
  CHECK(deriv::hypot_d1(0.0, 0.0) == 0.0);
  CHECK(deriv::atan2_d1_x(0.0, 0.0) == 0.0);
  CHECK(deriv::atan2_d1_y(0.0, 0.0) == 0.0);
  CHECK(deriv::pow_d1_base(0.0, 0.0, 1.0) == 0.0);  // x^0 ≡ 1
  CHECK(deriv::pow_d1_base(0.0, 2.0, 0.0) == 0.0);
  CHECK(deriv::pow_d1_base(0.0, 1.0, 0.0) == 1.0);
  CHECK(deriv::pow_d1_exp(0.0, 0.0) == 0.0);
  CHECK(deriv::pow_d1_exp(-2.0, 4.0) == 0.0);  // no derivative along b for a < 0: 0 by convention
  CHECK(std::isinf(deriv::sqrt_d1(0.0, 0.0)));
  CHECK(std::isinf(deriv::cbrt_d1(0.0, 0.0)));
}

TEST_CASE("elementary: value_of and real_t see through nested AD scalars", "[ad][elementary]") {
  using DD = jacnet::Dual<jacnet::Dual<float, 2>, 3>;
  STATIC_REQUIRE(std::is_same_v<jacnet::real_t<double>, double>);
  STATIC_REQUIRE(std::is_same_v<jacnet::real_t<DD>, float>);
  STATIC_REQUIRE(std::is_same_v<jacnet::real_t<TD>, double>);
  STATIC_REQUIRE(jacnet::generic_elementary<TD>);
  STATIC_REQUIRE(jacnet::generic_elementary<double>);
  STATIC_REQUIRE_FALSE(jacnet::generic_elementary<DD>);
  const DD x(jacnet::Dual<float, 2>(1.5f));
  CHECK(jacnet::value_of(x) == 1.5f);
  CHECK(jacnet::value_of(2.5) == 2.5);
}

TEST_CASE("elementary: generic composite definitions on an AD scalar without own overloads",
          "[ad][elementary]") {
  // Compare the generic sigmoid/softplus/.../gelu on TD against Dual's dedicated overloads
  // (which use deriv::*_vd) — two independent derivative paths.
  using D1 = jacnet::Dual<double, 1>;
  for (double x : {-30.0, -5.0, -1.5, -0.3, 0.4, 1.0, 2.5, 7.0, 30.0}) {
    INFO("x = " << x);
    const TD t(x, 1.0);
    const D1 d = D1::variable(x, 0);
    const auto same = [](const TD& a, const D1& b, double rel) {
      return close(a.v, b.value(), rel, 1e-300) && close(a.d, b.d(0), rel, 1e-300);
    };
    CHECK(same(jacnet::sigmoid(t), jacnet::sigmoid(d), 1e-13));
    CHECK(same(jacnet::softplus(t), jacnet::softplus(d), 1e-13));
    CHECK(same(jacnet::relu(t), jacnet::relu(d), 0));
    CHECK(same(jacnet::leaky_relu(t, 0.2), jacnet::leaky_relu(d, 0.2), 0));
    // The generic elu differentiates α·expm1(x) (derivative α·e^x) — same values as Dual's elu.
    CHECK(same(jacnet::elu(t, 0.7), jacnet::elu(d, 0.7), 1e-15));
    if (x > -2) CHECK(same(jacnet::gelu(t), jacnet::gelu(d), 1e-12));  // erf form: no far tail
    // deriv::* are generic too: on TD they differentiate once more (second derivatives).
    const double ch = std::cosh(x);
    CHECK(close(deriv::sigmoid_d1(t).d, -std::sinh(x) / (2 * (1 + ch) * (1 + ch)), 1e-11, 1e-300));
    CHECK(close(deriv::tanh_d1(t, TD(std::tanh(x), 1 / (ch * ch))).d,
                -2 * std::sinh(x) / (ch * ch * ch), 1e-11, 1e-300));
  }
  // Kinks through the generic path follow the same conventions.
  CHECK(jacnet::relu(TD(0.0, 1.0)).d == 0.0);
  CHECK(jacnet::leaky_relu(TD(0.0, 1.0), 0.2).d == 0.2);
  CHECK(jacnet::elu(TD(0.0, 1.0), 0.5).d == 0.5);
}
