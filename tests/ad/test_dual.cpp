// Tests of jacnet::Dual (forward-mode AD): first derivatives of every function against analytic
// values and central finite differences, second derivatives through Dual<Dual<double>>, the kink
// conventions, N-direction (SIMD + tail) propagation against N separate single-direction runs,
// Eigen matrix expressions of Dual scalars, and nesting.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <random>
#include <sstream>
#include <vector>

#include "jacnet/ad/dual.hpp"

using jacnet::Dual;
using D1 = Dual<double, 1>;
using DD1 = Dual<D1, 1>;
using D2 = Dual<double, 2>;
using DD2 = Dual<D2, 2>;

namespace {

/// |a − b| ≤ rel·max(|a|, |b|) + abs_tol (exact equality of infinities accepted).
bool close(double a, double b, double rel, double abs_tol = 1e-300) {
  if (a == b) return true;
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + abs_tol;
}

double fd_step(double x) { return 1e-5 * std::max(std::abs(x), 0.1); }

/// Checks value, f' (AD vs analytic vs central FD) and f'' (nested AD vs analytic vs central FD
/// of the AD first derivative) of the unary function f at each x.
template <class F, class DF, class D2F>
void check_unary(const char* name, F f, DF df, D2F d2f, const std::vector<double>& xs) {
  for (double x : xs) {
    INFO(name << " at x = " << x);
    const double fx = f(x);
    const D1 r = f(D1::variable(x, 0));
    CHECK(close(r.value(), fx, 1e-14));
    const double d1 = r.d(0);
    INFO("AD f' = " << d1 << ", analytic " << df(x));
    CHECK(close(d1, df(x), 1e-12, 1e-15));
    const double h = fd_step(x);
    const double fd = (f(x + h) - f(x - h)) / (2 * h);
    INFO("FD f' = " << fd);
    CHECK(std::abs(d1 - fd) <= 1e-6 * std::abs(d1) + 1e-8 * (1 + std::abs(fx)));

    DD1 X(D1::variable(x, 0));
    X.seed(0);
    const DD1 R = f(X);
    CHECK(close(R.value().value(), fx, 1e-14));
    // Nested and plain runs take slightly different operation orders; 1e-12 allows for functions
    // with large condition numbers (erfc(21) in gelu(-30): x·f'/f ≈ 900).
    CHECK(close(R.value().d(0), d1, 1e-12, 1e-300));
    CHECK(close(R.d(0).value(), d1, 1e-12, 1e-300));
    const double d2 = R.d(0).d(0);
    INFO("AD f'' = " << d2 << ", analytic " << d2f(x));
    CHECK(close(d2, d2f(x), 1e-11, 1e-15));
    const double fd2 = (f(D1::variable(x + h, 0)).d(0) - f(D1::variable(x - h, 0)).d(0)) / (2 * h);
    INFO("FD f'' = " << fd2);
    CHECK(std::abs(d2 - fd2) <= 1e-6 * std::abs(d2) + 1e-8 * (1 + std::abs(d1)));
  }
}

using Grad2 = std::array<double, 2>;
using Hess2 = std::array<double, 3>;  // {f_aa, f_ab, f_bb}

/// Gradient and Hessian of f(a, b) by Dual<double,2> / Dual<Dual<double,2>,2>, against analytic
/// values and central FD; the mixed forms f(Dual, double) and f(double, Dual) agree.
template <class F, class G, class H>
void check_binary(const char* name, F f, G grad, H hess,
                  const std::vector<std::array<double, 2>>& pts) {
  for (const auto& p : pts) {
    const double a = p[0], b = p[1];
    INFO(name << " at (" << a << ", " << b << ")");
    const double fab = f(a, b);
    const Grad2 g = grad(a, b);
    const Hess2 hs = hess(a, b);
    const D2 r = f(D2::variable(a, 0), D2::variable(b, 1));
    CHECK(close(r.value(), fab, 1e-14));
    INFO("AD grad " << r.d(0) << ", " << r.d(1) << "; analytic " << g[0] << ", " << g[1]);
    CHECK(close(r.d(0), g[0], 1e-12, 1e-15));
    CHECK(close(r.d(1), g[1], 1e-12, 1e-15));
    const double ha = fd_step(a), hb = fd_step(b);
    const double fda = (f(a + ha, b) - f(a - ha, b)) / (2 * ha);
    const double fdb = (f(a, b + hb) - f(a, b - hb)) / (2 * hb);
    CHECK(std::abs(r.d(0) - fda) <= 1e-6 * std::abs(r.d(0)) + 1e-8 * (1 + std::abs(fab)));
    CHECK(std::abs(r.d(1) - fdb) <= 1e-6 * std::abs(r.d(1)) + 1e-8 * (1 + std::abs(fab)));

    // Mixed Dual/plain forms.
    const D1 ra = f(D1::variable(a, 0), b);
    const D1 rb = f(a, D1::variable(b, 0));
    CHECK(close(ra.value(), fab, 1e-14));
    CHECK(close(rb.value(), fab, 1e-14));
    CHECK(close(ra.d(0), g[0], 1e-12, 1e-15));
    CHECK(close(rb.d(0), g[1], 1e-12, 1e-15));

    // Hessian by nesting.
    DD2 A(D2::variable(a, 0)), B(D2::variable(b, 1));
    A.seed(0);
    B.seed(1);
    const DD2 R = f(A, B);
    INFO("AD hess " << R.d(0).d(0) << ", " << R.d(0).d(1) << ", " << R.d(1).d(1));
    CHECK(close(R.d(0).d(0), hs[0], 1e-11, 1e-15));
    CHECK(close(R.d(0).d(1), hs[1], 1e-11, 1e-15));
    CHECK(close(R.d(1).d(0), hs[1], 1e-11, 1e-15));
    CHECK(close(R.d(1).d(1), hs[2], 1e-11, 1e-15));
    CHECK(close(R.d(0).value(), g[0], 1e-12, 1e-15));
    CHECK(close(R.value().d(1), g[1], 1e-12, 1e-15));
    // FD of the AD gradient.
    const D2 rap = f(D2::variable(a + ha, 0), D2::variable(b, 1));
    const D2 ram = f(D2::variable(a - ha, 0), D2::variable(b, 1));
    const D2 rbp = f(D2::variable(a, 0), D2::variable(b + hb, 1));
    const D2 rbm = f(D2::variable(a, 0), D2::variable(b - hb, 1));
    const double fdaa = (rap.d(0) - ram.d(0)) / (2 * ha);
    const double fdab = (rbp.d(0) - rbm.d(0)) / (2 * hb);
    const double fdbb = (rbp.d(1) - rbm.d(1)) / (2 * hb);
    const double scale = 1 + std::abs(g[0]) + std::abs(g[1]);
    CHECK(std::abs(R.d(0).d(0) - fdaa) <= 1e-6 * std::abs(fdaa) + 1e-8 * scale);
    CHECK(std::abs(R.d(0).d(1) - fdab) <= 1e-6 * std::abs(fdab) + 1e-8 * scale);
    CHECK(std::abs(R.d(1).d(1) - fdbb) <= 1e-6 * std::abs(fdbb) + 1e-8 * scale);
    // Second derivative with one plain argument: d²/da² f(A, b).
    DD1 A1(D1::variable(a, 0));
    A1.seed(0);
    CHECK(close(f(A1, b).d(0).d(0), hs[0], 1e-11, 1e-15));
  }
}

const std::vector<double> kGeneral = {-30, -3.7, -1, -0.25, 0, 0.5, 1, 2.3, 30};
const std::vector<double> kNonzero = {-30, -3.7, -1, -0.25, 0.5, 1, 2.3, 30};

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

// -------------------------------------------------------------------------------------------------

TEST_CASE("Dual: arithmetic first and second derivatives", "[ad][dual]") {
  check_unary(
      "unary minus", [](const auto& x) { return -x; }, [](double) { return -1.0; },
      [](double) { return 0.0; }, kGeneral);
  check_unary(
      "x*x*x - 2x + 5", [](const auto& x) { return x * x * x - 2.0 * x + 5.0; },
      [](double x) { return 3 * x * x - 2; }, [](double x) { return 6 * x; }, kGeneral);
  check_unary(
      "3/x", [](const auto& x) { return 3.0 / x; }, [](double x) { return -3 / (x * x); },
      [](double x) { return 6 / (x * x * x); }, kNonzero);
  check_unary(
      "(x - 1)/2 + (4 - x)*0.5", [](const auto& x) { return (x - 1.0) / 2.0 + (4.0 - x) * 0.5; },
      [](double) { return 0.0; }, [](double) { return 0.0; }, kGeneral);

  const std::vector<std::array<double, 2>> pts = {
      {0.7, -0.3}, {-1.2, 2.5}, {3.0, 0.5}, {-30.0, 4.0}, {0.1, 30.0}};
  check_binary(
      "a+b", [](const auto& a, const auto& b) { return a + b; },
      [](double, double) {
        return Grad2{1, 1};
      },
      [](double, double) {
        return Hess2{0, 0, 0};
      },
      pts);
  check_binary(
      "a-b", [](const auto& a, const auto& b) { return a - b; },
      [](double, double) {
        return Grad2{1, -1};
      },
      [](double, double) {
        return Hess2{0, 0, 0};
      },
      pts);
  check_binary(
      "a*b", [](const auto& a, const auto& b) { return a * b; },
      [](double a, double b) {
        return Grad2{b, a};
      },
      [](double, double) {
        return Hess2{0, 1, 0};
      },
      pts);
  check_binary(
      "a/b", [](const auto& a, const auto& b) { return a / b; },
      [](double a, double b) {
        return Grad2{1 / b, -a / (b * b)};
      },
      [](double a, double b) {
        return Hess2{0, -1 / (b * b), 2 * a / (b * b * b)};
      },
      pts);
}

TEST_CASE("Dual: exponentials, logarithms, roots", "[ad][dual]") {
  check_unary(
      "exp",
      [](const auto& x) {
        using std::exp;
        return exp(x);
      },
      [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); }, kGeneral);
  check_unary(
      "log",
      [](const auto& x) {
        using std::log;
        return log(x);
      },
      [](double x) { return 1 / x; }, [](double x) { return -1 / (x * x); },
      {1e-3, 0.5, 1, 2.3, 30, 1e5});
  check_unary(
      "log1p",
      [](const auto& x) {
        using std::log1p;
        return log1p(x);
      },
      [](double x) { return 1 / (1 + x); }, [](double x) { return -1 / ((1 + x) * (1 + x)); },
      {-0.9, -0.25, 0, 1e-9, 0.5, 30});
  check_unary(
      "expm1",
      [](const auto& x) {
        using std::expm1;
        return expm1(x);
      },
      [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); }, kGeneral);
  check_unary(
      "sqrt",
      [](const auto& x) {
        using std::sqrt;
        return sqrt(x);
      },
      [](double x) { return 0.5 / std::sqrt(x); },
      [](double x) { return -0.25 * std::pow(x, -1.5); }, {1e-2, 0.25, 1, 2.3, 30, 1e6});
  check_unary(
      "cbrt",
      [](const auto& x) {
        using std::cbrt;
        return cbrt(x);
      },
      [](double x) { return 1 / (3 * std::cbrt(x) * std::cbrt(x)); },
      [](double x) { return -2.0 / (9 * std::pow(std::cbrt(x), 5)); },
      {-30, -2.3, -0.25, 0.25, 1, 30});
  // pow with a constant exponent, including negative bases with integer exponents.
  for (double p : {2.0, 3.0, 2.5, 0.5, -1.5, -2.0}) {
    std::vector<double> xs = {0.25, 1, 2.3, 30};
    if (p == std::round(p)) xs.insert(xs.end(), {-2.3, -0.5});
    INFO("exponent p = " << p);
    check_unary(
        "pow(x, p)",
        [p](const auto& x) {
          using std::pow;
          return pow(x, p);
        },
        [p](double x) { return p * std::pow(x, p - 1); },
        [p](double x) { return p * (p - 1) * std::pow(x, p - 2); }, xs);
  }
  // pow with a constant base.
  for (double c : {2.0, 0.5, std::numbers::e}) {
    INFO("base c = " << c);
    check_unary(
        "pow(c, x)",
        [c](const auto& x) {
          using std::pow;
          return pow(c, x);
        },
        [c](double x) { return std::pow(c, x) * std::log(c); },
        [c](double x) { return std::pow(c, x) * std::log(c) * std::log(c); },
        {-30, -3.7, -1, 0, 0.5, 2.3, 30});
  }
  check_binary(
      "pow(a, b)",
      [](const auto& a, const auto& b) {
        using std::pow;
        return pow(a, b);
      },
      [](double a, double b) {
        return Grad2{b * std::pow(a, b - 1), std::pow(a, b) * std::log(a)};
      },
      [](double a, double b) {
        const double l = std::log(a);
        return Hess2{b * (b - 1) * std::pow(a, b - 2), std::pow(a, b - 1) * (1 + b * l),
                     std::pow(a, b) * l * l};
      },
      {{0.7, -0.3}, {3.0, 0.5}, {1.5, 2.2}, {30.0, 1.5}, {0.2, 4.0}});
}

TEST_CASE("Dual: pow conventions at a zero or negative base", "[ad][dual]") {
  using std::pow;
  // x^0 ≡ 1: zero derivative even at x = 0 (no 0·inf).
  const D1 z = pow(D1::variable(0.0, 0), 0.0);
  CHECK(z.value() == 1.0);
  CHECK(z.d(0) == 0.0);
  // x^2 at 0: derivative 0, second derivative 2.
  CHECK(pow(D1::variable(0.0, 0), 2.0).d(0) == 0.0);
  DD1 X(D1::variable(0.0, 0));
  X.seed(0);
  CHECK(pow(X, 2.0).d(0).d(0) == Approx(2.0));
  // x^0.5 at 0: +inf (true one-sided limit).
  CHECK(std::isinf(pow(D1::variable(0.0, 0), 0.5).d(0)));
  // Dual^Dual with a ≤ 0: the exponent partial is 0 by convention, so a constant exponent held
  // in a Dual does not poison the result.
  const D2 r = pow(D2::variable(-2.0, 0), D2(3.0));
  CHECK(r.value() == Approx(-8.0));
  CHECK(r.d(0) == Approx(12.0));
  CHECK(r.d(1) == 0.0);
  const D2 r0 = pow(D2::variable(0.0, 0), D2::variable(2.0, 1));
  CHECK(r0.d(0) == 0.0);
  CHECK(r0.d(1) == 0.0);
  // c^x with c = 0.
  CHECK(pow(0.0, D1::variable(2.0, 0)).d(0) == 0.0);
}

TEST_CASE("Dual: trigonometric and hyperbolic", "[ad][dual]") {
  check_unary(
      "sin",
      [](const auto& x) {
        using std::sin;
        return sin(x);
      },
      [](double x) { return std::cos(x); }, [](double x) { return -std::sin(x); },
      {-30, -3.7, -1, 0, 0.5, 2.3, 100});
  check_unary(
      "cos",
      [](const auto& x) {
        using std::cos;
        return cos(x);
      },
      [](double x) { return -std::sin(x); }, [](double x) { return -std::cos(x); },
      {-30, -3.7, -1, 0, 0.5, 2.3, 100});
  check_unary(
      "tan",
      [](const auto& x) {
        using std::tan;
        return tan(x);
      },
      [](double x) { return 1 / (std::cos(x) * std::cos(x)); },
      [](double x) { return 2 * std::sin(x) / std::pow(std::cos(x), 3); },
      {-1.3, -0.5, 0, 0.5, 1.3, 4.0});
  check_unary(
      "tanh",
      [](const auto& x) {
        using std::tanh;
        return tanh(x);
      },
      [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); },
      [](double x) { return -2 * std::sinh(x) / std::pow(std::cosh(x), 3); },
      {-30, -3.7, -2.0, -1, -0.25, 0, 0.5, 2.0, 2.3, 30});
  check_binary(
      "atan2(a, b)",
      [](const auto& a, const auto& b) {
        using std::atan2;
        return atan2(a, b);
      },
      [](double a, double b) {
        const double r2 = a * a + b * b;
        return Grad2{b / r2, -a / r2};
      },
      [](double a, double b) {
        const double r4 = (a * a + b * b) * (a * a + b * b);
        return Hess2{-2 * a * b / r4, (a * a - b * b) / r4, 2 * a * b / r4};
      },
      {{0.7, -0.3}, {-1.2, 2.5}, {3.0, 0.5}, {-30.0, 4.0}, {0.1, 30.0}, {-0.5, -0.5}});
  check_binary(
      "hypot(a, b)",
      [](const auto& a, const auto& b) {
        using std::hypot;
        return hypot(a, b);
      },
      [](double a, double b) {
        const double h = std::hypot(a, b);
        return Grad2{a / h, b / h};
      },
      [](double a, double b) {
        const double h3 = std::pow(std::hypot(a, b), 3);
        return Hess2{b * b / h3, -a * b / h3, a * a / h3};
      },
      {{0.7, -0.3}, {-1.2, 2.5}, {3.0, 0.5}, {-30.0, 4.0}, {0.1, 30.0}});
}

TEST_CASE("Dual: sigmoid, softplus, erf, gelu and the piecewise activations", "[ad][dual]") {
  auto s1 = [](double x) { return 1 / (2 + 2 * std::cosh(x)); };  // σ'(x)
  auto s2 = [](double x) {                                        // σ''(x)
    const double c = 1 + std::cosh(x);
    return -std::sinh(x) / (2 * c * c);
  };
  check_unary(
      "sigmoid", [](const auto& x) { return jacnet::sigmoid(x); }, s1, s2, kGeneral);
  check_unary(
      "softplus", [](const auto& x) { return jacnet::softplus(x); },
      [](double x) { return 1 / (1 + std::exp(-x)); }, s1, kGeneral);
  check_unary(
      "erf",
      [](const auto& x) {
        using std::erf;
        return erf(x);
      },
      [](double x) { return 2 / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
      [](double x) { return -4 * x / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
      {-30, -3.7, -1, -0.25, 0, 0.5, 1, 2.3, 30});
  check_unary(
      "erfc",
      [](const auto& x) {
        using std::erfc;
        return erfc(x);
      },
      [](double x) { return -2 / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
      [](double x) { return 4 * x / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
      {-3.7, -1, 0, 0.5, 2.3});
  check_unary(
      "gelu", [](const auto& x) { return jacnet::gelu(x); },
      [](double x) { return Phi(x) + x * phi(x); }, [](double x) { return phi(x) * (2 - x * x); },
      kGeneral);
  check_unary(
      "relu", [](const auto& x) { return jacnet::relu(x); },
      [](double x) { return x > 0 ? 1.0 : 0.0; }, [](double) { return 0.0; }, kNonzero);
  for (double slope : {0.01, 0.2, -0.5}) {
    INFO("slope = " << slope);
    check_unary(
        "leaky_relu", [slope](const auto& x) { return jacnet::leaky_relu(x, slope); },
        [slope](double x) { return x > 0 ? 1.0 : slope; }, [](double) { return 0.0; }, kNonzero);
  }
  for (double alpha : {1.0, 0.5, 2.0}) {
    INFO("alpha = " << alpha);
    check_unary(
        "elu", [alpha](const auto& x) { return jacnet::elu(x, alpha); },
        [alpha](double x) { return x > 0 ? 1.0 : alpha * std::exp(x); },
        [alpha](double x) { return x > 0 ? 0.0 : alpha * std::exp(x); }, kNonzero);
  }
  check_unary(
      "abs",
      [](const auto& x) {
        using std::abs;
        return abs(x);
      },
      [](double x) { return x > 0 ? 1.0 : -1.0; }, [](double) { return 0.0; }, kNonzero);
}

TEST_CASE("Dual: derivatives keep full relative accuracy in the tails", "[ad][dual]") {
  // The saturated regions: 1 − tanh² and σ(1−σ) would cancel to 0 or lose all digits there.
  for (double x : {-30.0, -20.0, 20.0, 30.0}) {
    INFO("x = " << x);
    const double sech2 = 1 / (std::cosh(x) * std::cosh(x));
    using std::tanh;
    CHECK(close(tanh(D1::variable(x, 0)).d(0), sech2, 1e-13));
    const double sp = 1 / (2 + 2 * std::cosh(x));
    CHECK(close(jacnet::sigmoid(D1::variable(x, 0)).d(0), sp, 1e-13));
    DD1 X(D1::variable(x, 0));
    X.seed(0);
    CHECK(close(jacnet::softplus(X).d(0).d(0), sp, 1e-13));
    const double c = 1 + std::cosh(x);
    CHECK(close(jacnet::sigmoid(X).d(0).d(0), -std::sinh(x) / (2 * c * c), 1e-12));
    CHECK(close(tanh(X).d(0).d(0), -2 * std::sinh(x) / std::pow(std::cosh(x), 3), 1e-12));
  }
  // elu'(x) = α·e^x for very negative x (elu + α would cancel to an ulp of α).
  for (double x : {-30.0, -5.0, -0.75}) {
    for (double alpha : {1.0, 0.5}) {
      INFO("elu at x = " << x << ", alpha = " << alpha);
      CHECK(close(jacnet::elu(D1::variable(x, 0), alpha).d(0), alpha * std::exp(x), 1e-14));
      DD1 X(D1::variable(x, 0));
      X.seed(0);
      CHECK(close(jacnet::elu(X, alpha).d(0).d(0), alpha * std::exp(x), 1e-14));
    }
  }
  // gelu in the far left tail: the erfc form keeps relative accuracy (1 + erf would give 0);
  // erfc(21.2) has condition number ≈ 2·21.2² ≈ 900, so an ulp in x/√2 costs ~1e-13.
  const double x = -30;
  CHECK(close(jacnet::gelu(D1::variable(x, 0)).value(), x * Phi(x), 1e-11));
  CHECK(close(jacnet::gelu(D1::variable(x, 0)).d(0), Phi(x) + x * phi(x), 1e-11));
}

TEST_CASE("Dual: documented conventions at kinks and ties", "[ad][dual]") {
  using std::abs;
  // relu'(0) = 0, relu''(0) = 0.
  const D1 r = jacnet::relu(D1::variable(0.0, 0));
  CHECK(r.value() == 0.0);
  CHECK(r.d(0) == 0.0);
  DD1 X0(D1::variable(0.0, 0));
  X0.seed(0);
  CHECK(jacnet::relu(X0).d(0).d(0) == 0.0);
  CHECK(jacnet::relu(X0).d(0).value() == 0.0);
  // abs'(0) = 0.
  CHECK(abs(D1::variable(0.0, 0)).d(0) == 0.0);
  CHECK(abs(D1::variable(-0.0, 0)).d(0) == 0.0);
  // leaky_relu'(0) = slope.
  CHECK(jacnet::leaky_relu(D1::variable(0.0, 0)).d(0) == 0.01);
  CHECK(jacnet::leaky_relu(D1::variable(0.0, 0), 0.2).d(0) == 0.2);
  // elu'(0) = α (the x ≤ 0 branch α·e^0), elu''(0) = α.
  for (double alpha : {1.0, 0.5, 2.0}) {
    CHECK(jacnet::elu(D1::variable(0.0, 0), alpha).value() == 0.0);
    CHECK(jacnet::elu(D1::variable(0.0, 0), alpha).d(0) == alpha);
    CHECK(jacnet::elu(X0, alpha).d(0).d(0) == alpha);
  }
  // max/min ties pick the first argument.
  const D2 a = D2::variable(1.5, 0), b = D2::variable(1.5, 1);
  using std::max;
  using std::min;
  CHECK(max(a, b).d(0) == 1.0);
  CHECK(max(a, b).d(1) == 0.0);
  CHECK(max(b, a).d(1) == 1.0);
  CHECK(min(a, b).d(0) == 1.0);
  CHECK(min(a, b).d(1) == 0.0);
  CHECK(max(a, 1.5).d(0) == 1.0);
  CHECK(max(1.5, a).d(0) == 0.0);
  CHECK(min(a, 1.5).d(0) == 1.0);
  CHECK(min(1.5, a).d(0) == 0.0);
  CHECK(jacnet::fmax(a, b).d(0) == 1.0);
  CHECK(jacnet::fmin(b, a).d(1) == 1.0);
  // Non-ties select the right argument.
  CHECK(max(a, D2::variable(2.0, 1)).d(1) == 1.0);
  CHECK(min(a, D2::variable(2.0, 1)).d(0) == 1.0);
  // hypot and atan2 at the origin: zero partials, no NaN.
  using std::atan2;
  using std::hypot;
  const D2 o0 = D2::variable(0.0, 0), o1 = D2::variable(0.0, 1);
  CHECK(hypot(o0, o1).value() == 0.0);
  CHECK(hypot(o0, o1).d(0) == 0.0);
  CHECK(hypot(o0, o1).d(1) == 0.0);
  CHECK(atan2(o0, o1).d(0) == 0.0);
  CHECK(atan2(o0, o1).d(1) == 0.0);
}

TEST_CASE("Dual: comparisons compare primal values only", "[ad][dual]") {
  D2 a = D2::variable(1.0, 0), b = D2::variable(2.0, 1);
  b.set_d(0, 100.0);
  CHECK(a < b);
  CHECK(a <= b);
  CHECK(b > a);
  CHECK(b >= a);
  CHECK(a != b);
  CHECK(a == D2(1.0));  // tangents differ, values equal
  CHECK(a == 1.0);
  CHECK(1.0 == a);
  CHECK(a < 2);
  CHECK(3 > a);
  CHECK(a >= 1.0f);
  CHECK_FALSE(a > 1.0);
  DD1 n(D1::variable(0.5, 0));
  n.seed(0);
  CHECK(n < 1.0);
  CHECK(n > D1(0.25));
  CHECK(D1(0.25) < n);
  CHECK(n == 0.5);
  using std::isfinite;
  using std::isnan;
  CHECK(isfinite(a));
  CHECK_FALSE(isnan(a));
  CHECK(jacnet::isinf(D1(std::numeric_limits<double>::infinity())));
}

TEST_CASE("Dual: construction, seeding, accessors, compound assignment", "[ad][dual]") {
  using D17 = Dual<double, 17>;
  D17 x = D17::variable(2.0, 16);
  CHECK(x.value() == 2.0);
  for (int i = 0; i < 16; ++i) CHECK(x.d(i) == 0.0);
  CHECK(x.d(16) == 1.0);
  for (int i : {0, 3, 4, 7, 8, 15, 16}) {
    x.set_d(i, 10.0 + i);
    CHECK(x.d(i) == 10.0 + i);
    CHECK(x.grad(i) == 10.0 + i);
  }
  x.seed(5);
  const auto t = x.tangents();
  for (int i = 0; i < 17; ++i) CHECK(t[std::size_t(i)] == (i == 5 ? 1.0 : 0.0));
  std::array<double, 17> u{};
  for (int i = 0; i < 17; ++i) u[std::size_t(i)] = i * 0.5;
  x.set_tangents(u);
  CHECK(x.tangents() == u);
  CHECK_THROWS_AS(x.d(17), jacnet::ValueError);
  CHECK_THROWS_WITH(x.d(-1), Catch::Contains("index -1") && Catch::Contains("N = 17"));
  CHECK_THROWS_WITH(x.seed(17), Catch::Contains("seed"));
  CHECK_THROWS_AS(D1().set_d(1, 0.0), jacnet::ValueError);

  // Compound assignment matches the binary operators.
  D2 a = D2::variable(1.5, 0), b = D2::variable(-0.5, 1);
  D2 c = a;
  c += b;
  CHECK(c.d(0) == 1.0);
  CHECK(c.d(1) == 1.0);
  c -= 2.0 * b;
  CHECK(c.value() == 2.0);
  CHECK(c.d(1) == -1.0);
  c *= a;  // (a − b)·a
  CHECK(c.value() == Approx(3.0));
  CHECK(c.d(0) == Approx(2 * 1.5 + 0.5));
  CHECK(c.d(1) == Approx(-1.5));
  c /= b;
  CHECK(c.value() == Approx(-6.0));
  c += 1;
  c -= 0.5;
  c *= 2;
  c /= 4.0;
  CHECK(c.value() == Approx((-6.0 + 0.5) * 0.5));

  std::ostringstream os;
  os << D2::variable(1.5, 1);
  CHECK(os.str() == "1.5 [0, 1]");

  // Constant evaluation works for scalar storage.
  constexpr D1 k = D1(2.0) * D1(3.0) + 1.0;
  static_assert(k.value() == 7.0);
}

// -------------------------------------------------------------------------------------------------
// Multi-direction propagation
// -------------------------------------------------------------------------------------------------
namespace {

template <class S>
std::array<S, 3> multi_fn(const std::array<S, 5>& x) {
  using std::abs, std::atan2, std::cbrt, std::cos, std::erf, std::exp, std::expm1, std::hypot,
      std::log, std::log1p, std::max, std::min, std::pow, std::sin, std::sqrt, std::tan, std::tanh;
  S a = exp(x[0]) * sin(x[1]) + x[2] / (1.0 + x[3] * x[3]);
  S b = tanh(x[0] - x[4]) * jacnet::sigmoid(x[2]) + pow(abs(x[1]) + 1.0, x[3]) -
        atan2(x[4], x[0] + 2.0);
  S c = hypot(x[0], x[1]) * jacnet::softplus(x[3]) + jacnet::gelu(x[4]) + jacnet::elu(x[2]) +
        jacnet::leaky_relu(x[1], 0.1) + jacnet::relu(x[0]) + max(x[3], x[4]) * min(x[0], x[2]) +
        log1p(x[2] * x[2]) + sqrt(1.0 + x[4] * x[4]) + cbrt(x[1]) + expm1(x[3]) + erf(x[0]) +
        cos(x[2]) + tan(0.3 * x[1]) - log(2.0 + x[0] * x[0]) + pow(x[2] * x[2] + 1.0, 1.5);
  return {a, b, c};
}

template <class T, int N>
void check_directions(double rel) {
  std::mt19937_64 rng(42 + N);
  std::uniform_real_distribution<double> unif(-1.0, 1.0);
  const std::array<double, 5> x0 = {0.3, -0.7, 0.45, 1.2, -0.2};
  std::array<std::array<double, N>, 5> U;
  for (auto& row : U)
    for (auto& v : row) v = unif(rng);

  std::array<Dual<T, N>, 5> X;
  for (std::size_t j = 0; j < 5; ++j) {
    X[j] = Dual<T, N>(T(x0[j]));
    for (int k = 0; k < N; ++k) X[j].set_d(k, T(U[j][std::size_t(k)]));
  }
  const auto Y = multi_fn(X);
  const auto y0 = multi_fn(x0);
  for (int k = 0; k < N; ++k) {
    // The same direction alone, in double with N = 1.
    std::array<D1, 5> X1;
    for (std::size_t j = 0; j < 5; ++j) X1[j] = D1(x0[j]), X1[j].set_d(0, U[j][std::size_t(k)]);
    const auto Y1 = multi_fn(X1);
    // Central finite differences along the direction.
    const double h = 1e-6;
    std::array<double, 5> xp = x0, xm = x0;
    for (std::size_t j = 0; j < 5; ++j) {
      xp[j] += h * U[j][std::size_t(k)];
      xm[j] -= h * U[j][std::size_t(k)];
    }
    const auto yp = multi_fn(xp), ym = multi_fn(xm);
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("N = " << N << ", direction " << k << ", output " << i);
      CHECK(close(double(Y[i].value()), y0[i], rel));
      CHECK(close(double(Y[i].d(k)), Y1[i].d(0), rel, rel));
      const double fd = (yp[i] - ym[i]) / (2 * h);
      CHECK(std::abs(Y1[i].d(0) - fd) <= 1e-6 * (1 + std::abs(fd)));
    }
  }
}

}  // namespace

TEST_CASE("Dual: N directions at once equal N single-direction runs", "[ad][dual][simd]") {
  check_directions<double, 1>(1e-14);
  check_directions<double, 2>(1e-14);
  check_directions<double, 3>(1e-14);
  check_directions<double, 4>(1e-14);
  check_directions<double, 7>(1e-14);
  check_directions<double, 8>(1e-14);
  check_directions<double, 16>(1e-14);
  check_directions<double, 17>(1e-14);
  check_directions<double, 19>(1e-14);
  // float: batches of 4..16 lanes depending on the arch; compared with the double reference.
  check_directions<float, 1>(2e-5);
  check_directions<float, 3>(2e-5);
  check_directions<float, 8>(2e-5);
  check_directions<float, 17>(2e-5);
  check_directions<float, 33>(2e-5);
}

TEST_CASE("Dual: storage is SIMD batches for float/double with N >= batch width",
          "[ad][dual][simd]") {
  constexpr int W = int(xsimd::batch<double>::size);
  STATIC_REQUIRE(
      std::is_same_v<Dual<double, 1>::tangent_storage, jacnet::detail::ArrayTangents<double, 1>>);
  STATIC_REQUIRE(
      std::is_same_v<Dual<double, W>::tangent_storage, jacnet::detail::SimdTangents<double, W>>);
  STATIC_REQUIRE(std::is_same_v<Dual<double, 2 * W + 1>::tangent_storage,
                                jacnet::detail::SimdTangents<double, 2 * W + 1>>);
  STATIC_REQUIRE(jacnet::detail::SimdTangents<double, 2 * W + 1>::NB == 2);
  STATIC_REQUIRE(jacnet::detail::SimdTangents<double, 2 * W + 1>::NT == 1);
  STATIC_REQUIRE(
      std::is_same_v<Dual<D1, 16>::tangent_storage, jacnet::detail::ArrayTangents<D1, 16>>);
  // N = 1 costs no more memory than a plain (value, derivative) pair.
  STATIC_REQUIRE(sizeof(Dual<double, 1>) == 2 * sizeof(double));
  STATIC_REQUIRE(sizeof(Dual<float, 1>) == 2 * sizeof(float));
}

// -------------------------------------------------------------------------------------------------
// Eigen
// -------------------------------------------------------------------------------------------------

TEST_CASE("Dual: Eigen matrix expressions", "[ad][dual][eigen]") {
  using D4 = Dual<double, 4>;
  using VecD = Eigen::Matrix<D4, Eigen::Dynamic, 1>;
  using MatD = Eigen::Matrix<D4, Eigen::Dynamic, Eigen::Dynamic>;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unif(-1.0, 1.0);
  Eigen::MatrixXd A(6, 4), B(4, 4);
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = unif(rng);
  for (Eigen::Index i = 0; i < B.size(); ++i) B.data()[i] = unif(rng);
  Eigen::VectorXd x0(4);
  x0 << 0.3, -1.1, 0.8, 2.0;
  VecD x(4);
  for (int i = 0; i < 4; ++i) x(i) = D4::variable(x0(i), i);

  SECTION("matrix-vector products: d(Ax)/dx = A") {
    const VecD y1 = A.cast<D4>() * x;
    const VecD y2 = A * x;  // mixed double x Dual product
    REQUIRE(y1.size() == 6);
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 4; ++j) {
        CHECK(y1(i).d(j) == Approx(A(i, j)).epsilon(1e-14));
        CHECK(y2(i).d(j) == Approx(A(i, j)).epsilon(1e-14));
      }
    const Eigen::VectorXd yv = A * x0;
    for (int i = 0; i < 6; ++i) CHECK(y2(i).value() == Approx(yv(i)).epsilon(1e-14));
  }
  SECTION("norm, squaredNorm, dot, sum") {
    const D4 n = x.norm();
    const D4 s = x.squaredNorm();
    const D4 d = x.dot(x0.cast<D4>());
    const D4 sm = (x.array() * 2.0).sum();
    CHECK(n.value() == Approx(x0.norm()).epsilon(1e-14));
    for (int j = 0; j < 4; ++j) {
      CHECK(n.d(j) == Approx(x0(j) / x0.norm()).epsilon(1e-14));
      CHECK(s.d(j) == Approx(2 * x0(j)).epsilon(1e-14));
      CHECK(d.d(j) == Approx(x0(j)).epsilon(1e-14));
      CHECK(sm.d(j) == Approx(2.0).epsilon(1e-14));
    }
  }
  SECTION("matrix-matrix product and quadratic form: grad xᵀBx = (B + Bᵀ)x") {
    const MatD Bd = B.cast<D4>();
    const MatD P = Bd * (x * x.transpose());  // 4x4 Dual GEMM
    const D4 q = (x.transpose() * Bd * x)(0, 0);
    const Eigen::VectorXd g = (B + B.transpose()) * x0;
    for (int j = 0; j < 4; ++j) CHECK(q.d(j) == Approx(g(j)).epsilon(1e-13));
    CHECK(P.trace().value() == Approx(x0.dot(B * x0)).epsilon(1e-13));
    for (int j = 0; j < 4; ++j) CHECK(P.trace().d(j) == Approx(g(j)).epsilon(1e-13));
  }
  SECTION("Hessian of a quadratic form by nesting inside Eigen") {
    using DD4 = Dual<D4, 4>;
    Eigen::Matrix<DD4, Eigen::Dynamic, 1> xx(4);
    for (int i = 0; i < 4; ++i) {
      xx(i) = DD4(D4::variable(x0(i), i));
      xx(i).seed(i);
    }
    const DD4 q = (xx.transpose() * B.cast<DD4>() * xx)(0, 0) + xx.norm();
    const double n = x0.norm();
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const double hn = ((i == j ? 1.0 : 0.0) - x0(i) * x0(j) / (n * n)) / n;
        CHECK(q.d(i).d(j) == Approx(B(i, j) + B(j, i) + hn).epsilon(1e-12));
      }
  }
  SECTION("fixed-size matrices of SIMD Duals") {
    using D8 = Dual<double, 8>;
    Eigen::Matrix<D8, 3, 3> M;
    Eigen::Matrix<D8, 3, 1> v;
    for (int i = 0; i < 3; ++i) {
      v(i) = D8::variable(0.5 * (i + 1), i);
      for (int j = 0; j < 3; ++j) M(i, j) = D8::variable(i - j + 0.25, 3 + ((i + j) % 5));
    }
    const Eigen::Matrix<D8, 3, 1> w = M * v;
    // w_i = Σ_j M_ij v_j; ∂w_i/∂v_j = M_ij.
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) CHECK(w(i).d(j) == Approx(i - j + 0.25).epsilon(1e-14));
    // ∂w_i/∂(direction 3 + s) = Σ_{j: (i+j)%5 == s} v_j.
    for (int i = 0; i < 3; ++i)
      for (int s = 0; s < 5; ++s) {
        double e = 0;
        for (int j = 0; j < 3; ++j)
          if ((i + j) % 5 == s) e += 0.5 * (j + 1);
        CHECK(w(i).d(3 + s) == Approx(e).margin(1e-15));
      }
  }
}

// -------------------------------------------------------------------------------------------------
// Nesting
// -------------------------------------------------------------------------------------------------
namespace {
template <class S, std::size_t n>
S rosenbrock(const std::array<S, n>& x) {
  S f(0.0);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const S a = x[i + 1] - x[i] * x[i];
    const S b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
  }
  return f;
}

template <int n>
void check_rosenbrock_hessian() {
  using In = Dual<double, n>;
  using Out = Dual<In, n>;
  std::array<double, n> x0;
  for (int i = 0; i < n; ++i) x0[std::size_t(i)] = 0.3 + 0.17 * i - 0.05 * i * i;
  std::array<Out, n> X;
  for (int i = 0; i < n; ++i) {
    X[std::size_t(i)] = Out(In::variable(x0[std::size_t(i)], i));
    X[std::size_t(i)].seed(i);
  }
  const Out f = rosenbrock(X);
  CHECK(f.value().value() == Approx(rosenbrock(x0)).epsilon(1e-14));
  // Analytic gradient and Hessian.
  for (int i = 0; i < n; ++i) {
    const double xi = x0[std::size_t(i)];
    double g = 0, hii = 0;
    if (i + 1 < n) {
      const double xn = x0[std::size_t(i + 1)];
      g += -400 * xi * (xn - xi * xi) - 2 * (1 - xi);
      hii += 1200 * xi * xi - 400 * xn + 2;
    }
    if (i > 0) {
      const double xp = x0[std::size_t(i - 1)];
      g += 200 * (xi - xp * xp);
      hii += 200;
    }
    CHECK(f.value().d(i) == Approx(g).epsilon(1e-13));
    CHECK(f.d(i).value() == Approx(g).epsilon(1e-13));
    for (int j = 0; j < n; ++j) {
      double h = 0;
      if (i == j) h = hii;
      if (j == i + 1) h = -400 * xi;
      if (i == j + 1) h = -400 * x0[std::size_t(j)];
      INFO("n = " << n << ", H(" << i << ", " << j << ")");
      CHECK(f.d(i).d(j) == Approx(h).epsilon(1e-13).margin(1e-12));
    }
  }
}
}  // namespace

TEST_CASE("Dual: nesting gives Hessians and higher derivatives", "[ad][dual][nesting]") {
  check_rosenbrock_hessian<3>();
  check_rosenbrock_hessian<8>();  // SIMD inner tangents
  check_rosenbrock_hessian<9>();  // SIMD inner tangents with a tail

  // Third order: Dual<Dual<Dual<double>>>, f = sin(x)·e^{2x}.
  using D3 = Dual<DD1, 1>;
  const double x0 = 0.4;
  DD1 inner(D1::variable(x0, 0));
  inner.seed(0);
  D3 X(inner);
  X.seed(0);
  using std::exp;
  using std::sin;
  const D3 f = sin(X) * exp(2.0 * X);
  // (sin·e^{2x})'' = e^{2x}(4 cos x + 3 sin x), (sin·e^{2x})''' = e^{2x}(11 cos x + 2 sin x).
  const double e2 = std::exp(2 * x0);
  CHECK(f.d(0).d(0).d(0) == Approx(e2 * (11 * std::cos(x0) + 2 * std::sin(x0))).epsilon(1e-13));
  CHECK(f.d(0).d(0).value() == Approx(e2 * (4 * std::cos(x0) + 3 * std::sin(x0))).epsilon(1e-13));
  // Mixed nesting orders agree: d/dx (d/dy f) = d/dy (d/dx f) for f(x, y) = x·atan2(y, x²).
  auto g = [](const auto& x, const auto& y) {
    using std::atan2;
    return x * atan2(y, x * x);
  };
  DD2 A(D2::variable(0.8, 0)), B(D2::variable(-0.6, 1));
  A.seed(0);
  B.seed(1);
  const DD2 r = g(A, B);
  CHECK(r.d(0).d(1) == Approx(r.d(1).d(0)).epsilon(1e-14));
}
