// Tests of jacnet/ad/var.hpp: first derivatives of every function through Var vs the analytic
// formula and central finite differences (double) at several points incl. edges and kinks;
// second derivatives through reverse-over-forward nesting (Var<Dual<double>>, via hessian()) vs
// analytic; binary functions in all operand combinations; Eigen matrix expressions of Var.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/var.hpp"

using jacnet::Tape;
using V = jacnet::Var<double>;

namespace {

Tape<double>& tape() { return Tape<double>::active(); }

/// d f / dx at x0 by reverse mode (records, sweeps, rewinds).
template <class F>
double rev_d1(const F& f, double x0, double* value = nullptr) {
  jacnet::TapeScope<double> scope;
  V x = x0;
  V y = f(x);
  tape().clear_adjoints(scope.mark());
  y.set_adjoint(1.0);
  tape().reverse(scope.mark());
  if (value) *value = y.value();
  return x.adjoint();
}

/// d²f/dx² at x0 by reverse over forward (hessian driver with Var<Dual<double>>).
template <class F>
double rev_d2(const F& f, double x0) {
  Eigen::VectorXd x(1);
  x(0) = x0;
  const auto h = jacnet::hessian([&](const auto& v) { return f(v(0)); }, x);
  return h.hessian(0, 0);
}

/// Central difference with a step scaled to x.
template <class F>
double fd_d1(const F& f, double x0) {
  const double h = 1e-6 * std::max(1.0, std::abs(x0));
  return (f(x0 + h) - f(x0 - h)) / (2 * h);
}

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// σ'(x) = e^{−|x|}/(1 + e^{−|x|})², accurate in both tails.
double sigd(double x) {
  const double e = std::exp(-std::abs(x));
  return e / ((1 + e) * (1 + e));
}
double Phi(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }

struct UnaryCase {
  std::string name;
  std::function<double(double)> f;  // plain
  std::function<V(const V&)> fv;    // Var (expression converted to Var)
  std::function<jacnet::Var<jacnet::Dual<double, 8>>(const jacnet::Var<jacnet::Dual<double, 8>>&)>
      fd;                                                           // for hessian (Var<Dual>)
  std::function<double(double)> d1;                                 // analytic first derivative
  std::function<double(double)> d2;                                 // analytic second derivative
  std::vector<double> points;                                       // smooth points (FD applies)
  std::vector<std::pair<double, double>> kinks;                     // (x, documented derivative)
};

// One generic body for the three scalar types.
// clang-format off
#define JACNET_UNARY(NAME, BODY)                     \
  [](const auto& x) {                               \
    using namespace std;                            \
    using namespace jacnet;                         \
    using S = std::decay_t<decltype(x)>;            \
    return S(BODY);                                 \
  }

#define JACNET_CASE(NAME, BODY, D1, D2, POINTS, KINKS)                                       \
  UnaryCase {                                                                                \
    #NAME, JACNET_UNARY(NAME, BODY), JACNET_UNARY(NAME, BODY), JACNET_UNARY(NAME, BODY), D1, \
        D2, POINTS, KINKS                                                                    \
  }

// clang-format on
using P = std::vector<double>;
using K = std::vector<std::pair<double, double>>;

std::vector<UnaryCase> unary_cases() {
  const P general = {-20.0, -3.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.5, 20.0};
  const P positive = {1e-3, 0.1, 0.5, 1.0, 3.0, 50.0, 1e4};
  return {
      JACNET_CASE(
          exp, exp(x), [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); },
          (P{-20.0, -3.0, -1.0, 0.0, 0.3, 1.0, 2.5, 20.0}), K{}),
      JACNET_CASE(
          log, log(x), [](double x) { return 1 / x; }, [](double x) { return -1 / (x * x); },
          positive, K{}),
      JACNET_CASE(
          log1p, log1p(x), [](double x) { return 1 / (1 + x); },
          [](double x) { return -1 / ((1 + x) * (1 + x)); }, (P{-0.9, -0.5, 0.0, 1e-8, 0.7, 30.0}),
          K{}),
      JACNET_CASE(
          expm1, expm1(x), [](double x) { return std::exp(x); },
          [](double x) { return std::exp(x); }, (P{-20.0, -1.0, -1e-8, 0.0, 0.5, 10.0}), K{}),
      JACNET_CASE(
          sqrt, sqrt(x), [](double x) { return 0.5 / std::sqrt(x); },
          [](double x) { return -0.25 / (x * std::sqrt(x)); }, positive, K{}),
      JACNET_CASE(
          cbrt, cbrt(x), [](double x) { return 1 / (3 * std::cbrt(x) * std::cbrt(x)); },
          [](double x) { return -2 / (9 * std::pow(std::cbrt(x), 5)); },
          (P{-8.0, -0.5, 1e-3, 0.5, 27.0}), K{}),
      JACNET_CASE(
          abs, abs(x), [](double x) { return x > 0 ? 1.0 : -1.0; }, [](double) { return 0.0; },
          (P{-20.0, -1.0, -1e-3, 1e-3, 2.0}), (K{{0.0, 0.0}})),
      JACNET_CASE(
          sin, sin(x), [](double x) { return std::cos(x); }, [](double x) { return -std::sin(x); },
          general, K{}),
      JACNET_CASE(
          cos, cos(x), [](double x) { return -std::sin(x); }, [](double x) { return -std::cos(x); },
          general, K{}),
      JACNET_CASE(
          tan, tan(x), [](double x) { return 1 + std::tan(x) * std::tan(x); },
          [](double x) { return 2 * std::tan(x) * (1 + std::tan(x) * std::tan(x)); },
          (P{-1.2, -0.5, 0.0, 0.4, 1.5}), K{}),
      JACNET_CASE(
          tanh, tanh(x), [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); },
          [](double x) { return -2 * std::tanh(x) / (std::cosh(x) * std::cosh(x)); },
          (P{-20.0, -3.0, -1.0, 0.0, 0.3, 2.5, 20.0}), K{}),
      JACNET_CASE(
          sigmoid, sigmoid(x), [](double x) { return sigd(x); },
          [](double x) { return sigd(x) * (1 - 2 * sig(x)); },
          (P{-30.0, -3.0, -1.0, 0.0, 0.3, 2.5, 30.0}), K{}),
      JACNET_CASE(
          softplus, softplus(x), [](double x) { return sig(x); }, [](double x) { return sigd(x); },
          (P{-30.0, -3.0, 0.0, 0.3, 2.5, 30.0}), K{}),
      JACNET_CASE(
          erf, erf(x), [](double x) { return 2 / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
          [](double x) { return -4 * x / std::sqrt(std::numbers::pi) * std::exp(-x * x); },
          (P{-6.0, -1.0, 0.0, 0.3, 2.0, 6.0}), K{}),
      JACNET_CASE(
          relu, relu(x), [](double x) { return x > 0 ? 1.0 : 0.0; }, [](double) { return 0.0; },
          (P{-20.0, -1.0, -1e-3, 1e-3, 2.0}), (K{{0.0, 0.0}})),
      JACNET_CASE(
          leaky_relu, leaky_relu(x, 0.1), [](double x) { return x > 0 ? 1.0 : 0.1; },
          [](double) { return 0.0; }, (P{-20.0, -1.0, -1e-3, 1e-3, 2.0}), (K{{0.0, 0.1}})),
      JACNET_CASE(
          elu, elu(x, 0.7), [](double x) { return x > 0 ? 1.0 : 0.7 * std::exp(x); },
          [](double x) { return x > 0 ? 0.0 : 0.7 * std::exp(x); },
          (P{-20.0, -1.0, -1e-3, 1e-3, 2.0}), (K{{0.0, 0.7}})),
      JACNET_CASE(
          gelu, gelu(x), [](double x) { return Phi(x) + x * phi(x); },
          [](double x) { return phi(x) * (2 - x * x); },
          (P{-10.0, -2.0, -0.5, 0.0, 0.7, 3.0, 10.0}), K{}),
      JACNET_CASE(
          pow_const, pow(x, 3.5), [](double x) { return 3.5 * std::pow(x, 2.5); },
          [](double x) { return 3.5 * 2.5 * std::pow(x, 1.5); }, (P{1e-3, 0.5, 2.0, 10.0}), K{}),
      JACNET_CASE(
          pow_base, pow(2.5, x), [](double x) { return std::pow(2.5, x) * std::log(2.5); },
          [](double x) { return std::pow(2.5, x) * std::log(2.5) * std::log(2.5); },
          (P{-3.0, 0.0, 1.5, 10.0}), K{}),
      JACNET_CASE(
          composite, x * sin(x) / (2.0 + exp(-x * x)) - 3.0 * x,
          [](double x) {
            const double d = 2 + std::exp(-x * x);
            return (std::sin(x) + x * std::cos(x)) / d +
                   x * std::sin(x) * 2 * x * std::exp(-x * x) / (d * d) - 3;
          },
          nullptr, (P{-2.0, -0.3, 0.0, 0.8, 3.0}), K{}),
  };
}

bool close(double a, double b, double rel = 1e-6, double abs_tol = 1e-9) {
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= abs_tol + rel * std::max(std::abs(a), std::abs(b));
}

}  // namespace

TEST_CASE("first derivatives of every function: Var vs analytic vs central FD", "[var]") {
  for (const UnaryCase& c : unary_cases()) {
    for (double x0 : c.points) {
      INFO(c.name << " at x = " << x0);
      double value = 0;
      const double ad = rev_d1(c.fv, x0, &value);
      CHECK(close(value, c.f(x0), 1e-14, 1e-300));
      // Relative 1e-12, absolute 1e-15: expm1' and elu' are formed as f + 1 (f + α) from the
      // value (elementary.hpp), exact to ~1e-16 absolute but not relative in the far left tail.
      CHECK(close(ad, c.d1(x0), 1e-12, 1e-15));
      CHECK(close(ad, fd_d1(c.f, x0), 1e-6, 1e-9));
    }
    for (auto [x0, d] : c.kinks) {
      INFO(c.name << " at the kink x = " << x0);
      CHECK(rev_d1(c.fv, x0) == d);
    }
  }
}

TEST_CASE("second derivatives via reverse-over-forward (Var<Dual>, hessian) vs analytic", "[var]") {
  for (const UnaryCase& c : unary_cases()) {
    if (!c.d2) continue;
    for (double x0 : c.points) {
      INFO(c.name << " at x = " << x0);
      const double h2 = rev_d2(c.fd, x0);
      CHECK(close(h2, c.d2(x0), 1e-9, 1e-12));
      // and vs a central difference of the analytic first derivative
      CHECK(close(h2, fd_d1(c.d1, x0), 1e-5, 1e-8));
    }
  }
  // The composite: compare to FD of its (tested) reverse-mode derivative.
  const auto comp = unary_cases().back();
  for (double x0 : comp.points) CHECK(close(rev_d2(comp.fd, x0), fd_d1(comp.d1, x0), 1e-6, 1e-8));
}

TEST_CASE("edge values: derivative limits at domain boundaries", "[var]") {
  // sqrt'(0), cbrt'(0), log'(0) are +inf (one-sided limits, documented in elementary.hpp).
  CHECK(std::isinf(rev_d1([](const V& x) { return V(sqrt(x)); }, 0.0)));
  CHECK(std::isinf(rev_d1([](const V& x) { return V(cbrt(x)); }, 0.0)));
  CHECK(std::isinf(rev_d1([](const V& x) { return V(log(x)); }, 0.0)));
  // Tails stay finite and accurate (no overflow or cancellation).
  CHECK(rev_d1([](const V& x) { return V(sigmoid(x)); }, -800.0) == 0.0);
  CHECK(rev_d1([](const V& x) { return V(sigmoid(x)); }, 800.0) == 0.0);
  CHECK(close(rev_d1([](const V& x) { return V(sigmoid(x)); }, 40.0), std::exp(-40.0), 1e-10));
  CHECK(close(rev_d1([](const V& x) { return V(tanh(x)); }, 25.0), 4 * std::exp(-50.0), 1e-10));
  CHECK(rev_d1([](const V& x) { return V(softplus(x)); }, 800.0) == 1.0);
  // pow(x, 2) at x < 0 and x = 0 (constant exponent) is finite.
  CHECK(rev_d1([](const V& x) { return V(pow(x, 2.0)); }, -3.0) == Approx(-6.0));
  CHECK(rev_d1([](const V& x) { return V(pow(x, 2.0)); }, 0.0) == 0.0);
}

TEST_CASE("binary functions: partials in every operand combination", "[var]") {
  struct Pt {
    double a, b;
  };
  const std::vector<Pt> pts = {{0.7, 1.3}, {-2.0, 0.5}, {3.0, -4.0}, {1e-3, 20.0}};
  auto check2 = [](const char* name, auto fvv, auto fvd, auto fdv, auto fplain, Pt p) {
    INFO(name << " at (" << p.a << ", " << p.b << ")");
    const double ha = 1e-6 * std::max(1.0, std::abs(p.a)), hb = 1e-6 * std::max(1.0, std::abs(p.b));
    const double fda = (fplain(p.a + ha, p.b) - fplain(p.a - ha, p.b)) / (2 * ha);
    const double fdb = (fplain(p.a, p.b + hb) - fplain(p.a, p.b - hb)) / (2 * hb);
    jacnet::TapeScope<double> scope;
    V a = p.a, b = p.b;
    V y = fvv(a, b), ya = fvd(a, p.b), yb = fdv(p.a, b);
    CHECK(close(y.value(), fplain(p.a, p.b), 1e-14, 1e-300));
    CHECK(ya.value() == y.value());
    CHECK(yb.value() == y.value());
    tape().clear_adjoints(scope.mark());
    y.set_adjoint(1.0);
    tape().reverse(scope.mark());
    const double da = a.adjoint(), db = b.adjoint();
    CHECK(close(da, fda, 1e-6, 1e-9));
    CHECK(close(db, fdb, 1e-6, 1e-9));
    tape().clear_adjoints(scope.mark());
    ya.set_adjoint(1.0);
    yb.set_adjoint(1.0);
    tape().reverse(scope.mark());
    CHECK(a.adjoint() == Approx(da).epsilon(1e-14));
    CHECK(b.adjoint() == Approx(db).epsilon(1e-14));
  };
#define JACNET_BIN(NAME, EXPR)                                     \
  for (Pt p : pts) {                                               \
    if (std::string(#NAME) == "pow" && p.a <= 0) continue;         \
    auto g = [](const auto& a, const auto& b) {                    \
      using namespace std;                                         \
      using namespace jacnet;                                      \
      return EXPR;                                                 \
    };                                                             \
    check2(                                                        \
        #NAME, [&](const V& a, const V& b) { return V(g(a, b)); }, \
        [&](const V& a, double b) { return V(g(a, b)); },          \
        [&](double a, const V& b) { return V(g(a, b)); },          \
        [&](double a, double b) { return double(g(a, b)); }, p);   \
  }
  JACNET_BIN(add, a + b)
  JACNET_BIN(sub, a - b)
  JACNET_BIN(mul, a * b)
  JACNET_BIN(div, a / b)
  JACNET_BIN(pow, pow(a, b))
  JACNET_BIN(atan2, atan2(a, b))
  JACNET_BIN(hypot, hypot(a, b))
  JACNET_BIN(max, max(a, b))
  JACNET_BIN(min, min(a, b))
#undef JACNET_BIN
}

TEST_CASE("min/max ties, atan2/hypot at the origin, pow at zero: documented conventions", "[var]") {
  jacnet::TapeScope<double> scope;
  auto grads = [&](const V& y, const V& a, const V& b) {
    tape().clear_adjoints(scope.mark());
    y.set_adjoint(1.0);
    tape().reverse(scope.mark());
    return std::pair{a.adjoint(), b.adjoint()};
  };
  V a = 1.5, b = 1.5;
  CHECK(grads(V(max(a, b)), a, b) == std::pair{1.0, 0.0});  // ties pick the first argument
  CHECK(grads(V(min(a, b)), a, b) == std::pair{1.0, 0.0});
  CHECK(grads(V(max(b, a)), a, b) == std::pair{0.0, 1.0});
  V z1 = 0.0, z2 = 0.0;
  CHECK(grads(V(atan2(z1, z2)), z1, z2) == std::pair{0.0, 0.0});
  CHECK(grads(V(hypot(z1, z2)), z1, z2) == std::pair{0.0, 0.0});
  V e = 0.0;  // pow(a, 0): ∂/∂a = 0; pow(0, b): ∂/∂b = 0
  CHECK(grads(V(pow(a, e)), a, e).first == 0.0);
  V zero = 0.0, two = 2.0;
  CHECK(grads(V(pow(zero, two)), zero, two) == std::pair{0.0, 0.0});
  // max with a constant on ties: the first argument.
  V c = 2.0;
  CHECK(grads(V(max(c, 2.0) + max(2.0, c)), c, c).first == 1.0);
}

TEST_CASE("comparisons use values and record nothing", "[var]") {
  jacnet::TapeScope<double> scope;
  V a = 1.0, b = 2.0;
  const auto size = tape().size();
  CHECK(a < b);
  CHECK(a * 3.0 > b);
  CHECK(a + b == 3.0);
  CHECK(2.0 == b);
  CHECK(a != b);
  CHECK(a <= 1.0);
  CHECK(b >= a * 2.0);
  CHECK(exp(a) > 2.7);
  CHECK(tape().size() == size);
}

TEST_CASE("compound assignment and reassignment keep the chain rule", "[var]") {
  jacnet::TapeScope<double> scope;
  V x = 0.8;
  V y = x;
  y *= x;       // x²
  y += sin(x);  // x² + sin x
  y -= 2.0;
  y /= x;     // (x² + sin x − 2)/x
  y = y * y;  // squared
  tape().clear_adjoints(scope.mark());
  y.set_adjoint(1.0);
  tape().reverse(scope.mark());
  const double g = (0.64 + std::sin(0.8) - 2) / 0.8;
  const double dg = ((1.6 + std::cos(0.8)) * 0.8 - (0.64 + std::sin(0.8) - 2)) / 0.64;
  CHECK(y.value() == Approx(g * g));
  CHECK(x.adjoint() == Approx(2 * g * dg));
}

TEST_CASE("statements mixing constants, older generations and rewound Vars", "[var][tape]") {
  // A statement tests all its operands' tags with one branch; any operand whose tag is not the
  // tape's current one (a constant, a Var of an older generation) takes the full check, which
  // accepts valid ones and throws for a Var that was rewound away.
  jacnet::TapeScope<double> scope;
  V a = 1.5;
  const auto m = tape().mark();
  V t = 2.0;  // recorded after m: rewound away below
  tape().rewind(m);
  V b = 0.5;
  const V c = V::constant(3.0);
  V y = a * b + c * a + b * b;  // a: older generation (valid), c: constant, b: current
  CHECK(y.value() == 1.5 * 0.5 + 3.0 * 1.5 + 0.25);
  tape().clear_adjoints(scope.mark());
  y.set_adjoint(1.0);
  tape().reverse(scope.mark());
  CHECK(a.adjoint() == 0.5 + 3.0);
  CHECK(b.adjoint() == 1.5 + 2 * 0.5);
  CHECK(c.adjoint() == 0.0);
  CHECK_THROWS_AS(V(b * b + a * t + c), jacnet::TapeError);
  CHECK_THROWS_AS(V(t + b), jacnet::TapeError);
}

TEST_CASE("an `auto` expression can be kept and used later", "[var]") {
  jacnet::TapeScope<double> scope;
  V x = 0.5;
  auto e = exp(x) * x;  // an expression object holding copies: safe to keep
  auto e2 = e + sin(e);
  V y = e2 * 2.0;
  tape().clear_adjoints(scope.mark());
  y.set_adjoint(1.0);
  tape().reverse(scope.mark());
  const double u = std::exp(0.5) * 0.5, du = std::exp(0.5) * 1.5;
  CHECK(y.value() == Approx(2 * (u + std::sin(u))));
  CHECK(x.adjoint() == Approx(2 * (1 + std::cos(u)) * du));
}

TEST_CASE("an expression returned from a function outlives its locals", "[var]") {
  jacnet::TapeScope<double> scope;
  // The VarExpr holds values, indices and partials by value: no reference to `t` survives.
  const auto f = [](const V& x) {
    V t = x * x;
    return t * 3.0 + sin(t) - 1.0;
  };
  V x = 0.7;
  const auto e = f(x);
  V y = e * e;
  tape().clear_adjoints(scope.mark());
  y.set_adjoint(1.0);
  tape().reverse(scope.mark());
  const double t = 0.49, g = 3 * t + std::sin(t) - 1, dg = (3 + std::cos(t)) * 1.4;
  CHECK(y.value() == Approx(g * g));
  CHECK(x.adjoint() == Approx(2 * g * dg));
}

TEST_CASE("a long statement: one entry with all its operands", "[var]") {
  jacnet::TapeScope<double> scope;
  V x[8];
  for (int i = 0; i < 8; ++i) x[i] = V(0.1 * (i + 1));
  const auto before = tape().size();
  V s = x[0] * x[1] + x[1] * x[2] + x[2] * x[3] + x[3] * x[4] + x[4] * x[5] + x[5] * x[6] +
        x[6] * x[7] + x[7] * x[0] + exp(x[0] - x[7]) / (1.0 + x[3] * x[3]);
  CHECK(tape().size() == before + 1);
  const auto [b, e] = tape().operand_range(s.index());
  // 20 operand occurrences; 9 of them repeat their left neighbour (x1·x1 ... x7·x7 across the
  // products, x0 x0, x3·x3) and are merged into it.
  CHECK(e - b == 11);
  tape().clear_adjoints(scope.mark());
  s.set_adjoint(1.0);
  tape().reverse(scope.mark());
  for (int i = 0; i < 8; ++i) {
    const double xi = 0.1 * (i + 1), prev = 0.1 * ((i + 7) % 8 + 1), next = 0.1 * ((i + 1) % 8 + 1);
    double g = prev + next;
    const double q = std::exp(0.1 - 0.8) / (1 + 0.16);
    if (i == 0) g += q;
    if (i == 7) g -= q;
    if (i == 3) g -= q * 2 * 0.4 / (1 + 0.16);
    INFO("x" << i << " = " << xi);
    CHECK(x[i].adjoint() == Approx(g));
  }
}

TEST_CASE("Eigen matrix expressions of Var", "[var][eigen]") {
  using MatV = Eigen::Matrix<V, Eigen::Dynamic, Eigen::Dynamic>;
  using MatD = Eigen::MatrixXd;
  // Sizes below and above Eigen's coefficient-based product threshold (GEMM path with packed
  // temporaries for 33 x 33).
  for (int n : {3, 33}) {
    INFO("n = " << n);
    jacnet::TapeScope<double> scope;
    MatD A0(n, n), B0(n, n), W(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        A0(i, j) = std::sin(1.0 + i + 2.0 * j);
        B0(i, j) = std::cos(0.5 * i - j);
        W(i, j) = 0.1 * ((i * 7 + j * 3) % 11) - 0.5;
      }
    MatV A(n, n), B(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        A(i, j) = V(A0(i, j));
        B(i, j) = V(B0(i, j));
      }
    const MatV C = A * B;
    const MatD C0 = A0 * B0;
    // L = Σ W ⊙ (A B) + ½‖A‖²_F·2 (via .squaredNorm) + trace(Bᵀ) ⋅ 3 (mixing with double)
    V L = C.cwiseProduct(W.cast<V>()).sum() + A.squaredNorm() + (B.transpose() * 3.0).trace();
    double L0 = (C0.cwiseProduct(W)).sum() + A0.squaredNorm() + 3 * B0.trace();
    CHECK(L.value() == Approx(L0));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) REQUIRE(C(i, j).value() == Approx(C0(i, j)).margin(1e-12));
    tape().clear_adjoints(scope.mark());
    L.set_adjoint(1.0);
    tape().reverse(scope.mark());
    // dL/dA = W Bᵀ + 2A, dL/dB = Aᵀ W + 3 I
    const MatD gA = W * B0.transpose() + 2 * A0;
    const MatD gB = A0.transpose() * W + 3 * MatD::Identity(n, n);
    double errA = 0, errB = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        errA = std::max(errA, std::abs(A(i, j).adjoint() - gA(i, j)));
        errB = std::max(errB, std::abs(B(i, j).adjoint() - gB(i, j)));
      }
    CHECK(errA < 1e-11);
    CHECK(errB < 1e-11);
  }
}

TEST_CASE("Eigen vector ops: norm, matrix-vector, array functions", "[var][eigen]") {
  jacnet::TapeScope<double> scope;
  using VecV = Eigen::Matrix<V, Eigen::Dynamic, 1>;
  VecV x(4);
  const double x0[4] = {0.3, -1.2, 0.8, 2.0};
  for (int i = 0; i < 4; ++i) x(i) = V(x0[i]);
  Eigen::Matrix<V, 2, 4> M;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) M(i, j) = V::constant(double(i + 1) * (j - 1.5));
  const Eigen::Matrix<V, 2, 1> y = M * x;
  V L = x.norm() + y.array().tanh().sum();
  tape().clear_adjoints(scope.mark());
  L.set_adjoint(1.0);
  tape().reverse(scope.mark());
  double nrm = 0;
  for (double v : x0) nrm += v * v;
  nrm = std::sqrt(nrm);
  for (int j = 0; j < 4; ++j) {
    double g = x0[j] / nrm;
    for (int i = 0; i < 2; ++i) {
      double yi = 0;
      for (int k = 0; k < 4; ++k) yi += (i + 1) * (k - 1.5) * x0[k];
      g += (1 - std::tanh(yi) * std::tanh(yi)) * (i + 1) * (j - 1.5);
    }
    CHECK(x(j).adjoint() == Approx(g));
  }
  CHECK(M(0, 0).adjoint() == 0.0);  // constants
}
