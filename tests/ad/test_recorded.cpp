// Tests of jacnet/ad/recorded.hpp: a function recorded once at x0 and replayed at new points.
// Value, gradient, forward and reverse Jacobians, Hessian and Hessian-vector products at points
// other than x0, each against the analytic derivative, central differences in double, and the
// drivers applied to f itself; comparisons recorded and re-checked (BranchError on another
// branch, same_branches()); kinks replayed per point (abs, max); const replay from several
// OpenMP threads at once; misuse errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "jacnet/ad/recorded.hpp"
#include "jacnet/check/finite_difference.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using jacnet::Vector;

namespace {

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

/// Logistic-regression negative log-likelihood with a ridge term, written with Eigen:
///   L(w) = Σ_i softplus(z_i) − y_i z_i + ½ λ‖w‖²,  z = X w;
///   ∇L = Xᵀ(σ(z) − y) + λ w,  ∇²L = Xᵀ diag(σ(z)(1 − σ(z))) X + λ I.
struct Logistic {
  MatrixXd X;
  VectorXd y;
  double lambda = 0.1;
  Logistic() : X(20, 4), y(20) {
    for (Index i = 0; i < 20; ++i) {
      for (Index j = 0; j < 4; ++j) X(i, j) = std::sin(0.3 + 1.7 * double(i) - 0.9 * double(j));
      y(i) = (i % 3 == 0) ? 1.0 : 0.0;
    }
  }
  template <class V>
  scalar_t<V> operator()(const V& w) const {
    using S = scalar_t<V>;
    using jacnet::softplus;
    const Vector<S> z = X * w;
    S s = 0.5 * lambda * w.squaredNorm();
    for (Index i = 0; i < z.size(); ++i) s += softplus(z(i)) - y(i) * z(i);
    return s;
  }
  VectorXd grad(const VectorXd& w) const {
    const VectorXd z = X * w;
    VectorXd r(z.size());
    for (Index i = 0; i < z.size(); ++i) r(i) = 1 / (1 + std::exp(-z(i))) - y(i);
    return X.transpose() * r + lambda * w;
  }
  MatrixXd hess(const VectorXd& w) const {
    const VectorXd z = X * w;
    VectorXd d(z.size());
    for (Index i = 0; i < z.size(); ++i) {
      const double s = 1 / (1 + std::exp(-z(i)));
      d(i) = s * (1 - s);
    }
    return X.transpose() * d.asDiagonal() * X + lambda * MatrixXd::Identity(4, 4);
  }
};

/// Central differences of a scalar double function (the public checker's loop).
template <class F>
VectorXd fd_gradient(const F& f, VectorXd x, double h = 1e-6) {
  return jacnet::check::central_gradient(x.data(), x.size(), h, [&] { return f(x); });
}

}  // namespace

TEST_CASE("recorded scalar function: value and derivatives at new points, three ways",
          "[ad][recorded]") {
  const Logistic L;
  const VectorXd x0{{0.1, -0.2, 0.3, 0.05}};
  const auto F = jacnet::ad::record(L, x0);
  CHECK(F.inputs() == 4);
  CHECK(F.outputs() == 1);
  CHECK(F.comparisons() == 0);  // softplus's branch is inside one operation
  for (const VectorXd& x : {VectorXd{{0.7, 0.4, -1.1, 0.2}}, VectorXd{{-0.3, 1.5, 0.2, -0.8}}}) {
    const VectorXd ga = L.grad(x);
    const MatrixXd Ha = L.hess(x);
    CHECK(F.value(x)(0) == Approx(L(x)).epsilon(1e-14));
    const auto g = F.gradient(x);
    CHECK(g.value == Approx(L(x)).epsilon(1e-14));
    CHECK((g.gradient - ga).norm() <= 1e-13 * ga.norm());
    CHECK((g.gradient - fd_gradient([&](const VectorXd& v) { return L(v); }, x)).norm() <=
          1e-7 * ga.norm());
    CHECK((g.gradient - jacnet::gradient(L, x).gradient).norm() <= 1e-14 * ga.norm());
    const VectorXd jf = F.jacfwd<3>(x).transpose();
    const VectorXd jr = F.jacrev(x).transpose();
    CHECK((jf - ga).norm() <= 1e-13 * ga.norm());
    CHECK((jr - ga).norm() <= 1e-13 * ga.norm());
    const auto h = F.hessian(x);
    CHECK((h.hessian - Ha).norm() <= 1e-13 * Ha.norm());
    MatrixXd Hfd(4, 4);
    for (Index j = 0; j < 4; ++j) {
      VectorXd p = x, m = x;
      p(j) += 1e-6;
      m(j) -= 1e-6;
      Hfd.col(j) = (L.grad(p) - L.grad(m)) / 2e-6;
    }
    CHECK((h.hessian - Hfd).norm() <= 1e-7 * Ha.norm());
    const VectorXd u{{1.0, -2.0, 0.5, 0.25}};
    const auto hv = F.hvp(x, u);
    CHECK((hv.hvp - Ha * u).norm() <= 1e-13 * (Ha * u).norm());
    CHECK((hv.hvp - jacnet::hvp(L, x, u).hvp).norm() <= 1e-14 * (Ha * u).norm());
    // A Recorded is itself a valid f for the drivers.
    CHECK((jacnet::gradient(F, x).gradient - ga).norm() <= 1e-13 * ga.norm());
  }
}

TEST_CASE("recorded gradient: every kernel of the sweep against the tape and FD",
          "[ad][recorded]") {
  // Recorded::gradient's sweep: closed forms for + − × ÷, negation and x·x, with constants on
  // either side (0.0 and −0.0 too), the Dual<T, 2> path for everything else (x − x, x / x,
  // x + x, exp, sin, pow, max), comparisons re-checked. Each against the tape (jacnet::gradient on f), the generic replay (gradient and
  // hvp drivers on F itself) and central differences.
  const auto g = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    using std::exp, std::sin, std::pow, std::max;
    const S a = x(0), b = x(1), c = x(2);
    S s = a * a + a * b - b / c + 2.0 / c - a / 4.0 + (3.0 - b) - (-c);
    s += (b + 0.5) * (c - 0.5) + exp(a * 0.5) + sin(b) * b + 0.5 * s;
    const S z = a - a + b / b + c + c + (1.5 + c);
    s = s + z * 0.5 + (-0.0) * a + 0.0 * b + pow(a, 2.0) + max(b, 0.25) + a * (a + 1.0);
    if (c > 0.0) s += c * c * c;  // recorded comparison
    return s;
  };
  const auto F = jacnet::ad::record(g, VectorXd{{0.3, 0.9, 1.2}});
  CHECK(F.comparisons() == 1);
  for (const VectorXd& x : {VectorXd{{0.3, 0.9, 1.2}}, VectorXd{{-0.7, 0.1, 0.4}},
                            VectorXd{{1.9, -2.5, 3.0}}}) {
    const auto r = F.gradient(x);
    const auto t = jacnet::gradient(g, x);
    CHECK(r.value == Approx(t.value).epsilon(1e-14));
    CHECK((r.gradient - t.gradient).norm() <= 1e-14 * t.gradient.norm());
    CHECK((r.gradient - jacnet::gradient(F, x).gradient).norm() <= 1e-14 * t.gradient.norm());
    CHECK((r.gradient - F.hvp(x, x).gradient).norm() <= 1e-14 * t.gradient.norm());
    const VectorXd fd = fd_gradient([&](const VectorXd& v) { return g(v); }, x);
    CHECK((r.gradient - fd).norm() <= 1e-7 * t.gradient.norm());
  }
  CHECK_THROWS_AS(F.gradient(VectorXd{{0.3, 0.9, -1.2}}), jacnet::BranchError);
  // A constant output and an output that is an input need no sweep through instructions.
  const auto C = jacnet::ad::record([](const auto& x) { return x(0) * 0.0 + 1.0 - x(0) * 0.0; },
                                    VectorXd{{2.0}});
  CHECK(C.gradient(VectorXd{{5.0}}).gradient(0) == 0.0);
  const auto I = jacnet::ad::record([](const auto& x) { return x(1); }, VectorXd{{2.0, 3.0}});
  const auto gi = I.gradient(VectorXd{{4.0, 5.0}});
  CHECK(gi.value == 5.0);
  CHECK(gi.gradient == VectorXd{{0.0, 1.0}});
  // A vector function with one output is a scalar function for gradient().
  const auto v1 = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    jacnet::Vector<S> y(1);
    y(0) = x(0) * x(1) - 2.0 / x(1);
    return y;
  };
  const auto V1 = jacnet::ad::record(v1, VectorXd{{2.0, 3.0}});
  CHECK_FALSE(V1.scalar_output());
  const VectorXd x1{{-1.5, 0.5}};
  const auto g1 = V1.gradient(x1);
  CHECK(g1.value == Approx(-4.75).epsilon(1e-15));
  CHECK((g1.gradient - VectorXd{{0.5, -1.5 + 8.0}}).norm() <= 1e-15);
}

TEST_CASE("recorded gradient: the run schedule keeps values, partials and branch checks",
          "[ad][recorded]") {
  // Recorded::gradient reorders the instructions into runs of one kernel each
  // (jacnet/ad/gradient_sweep.hpp). A function that interleaves every kind of kernel with a
  // stencil, a long running sum (one chain of additions), divisions both ways, Neg, unary and
  // binary "other" operations, products by constants folded into their use, and four
  // comparisons, one of which depends on the running sum.
  const auto g = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    using std::exp, std::tanh, std::atan2, std::max;
    const Index n = x.size();
    S s(0.0), p(1.0);
    if (x(0) > -10.0) s = s + 0.25 * x(0);  // comparison #0
    for (Index i = 0; i < n; ++i) {
      const S& l = x(i > 0 ? i - 1 : i);
      const S& r = x(i + 1 < n ? i + 1 : i);
      const S lap = l - 2.0 * x(i) + r;
      const S q = tanh(lap) * x(i) + exp(-x(i) * x(i)) - 1.0 / (2.0 + x(i) * x(i)) + x(i) / 3.0;
      s += q + atan2(x(i), 1.5) - (-lap);
      // Products by a constant folded into their one use (a + c·b, a − c·b, c·b + a, (c·a)·b,
      // a·(c·b)), and one used twice, which is not folded.
      const S m = 0.7 * x(i);
      s += (0.3 * r + l) - 1.25 * lap + (m + m * r) * 0.125 + (2.5 * l) * r + lap * (0.5 * l);
      p = p * (1.0 + 0.01 * max(x(i), r));
      if (i == n / 2 && s < 100.0) s = s - 0.5;  // comparison #1, on the running sum
    }
    if (x(1) < 10.0) s = s / (1.0 + 0.1 * x(1) * x(1));  // comparison #2
    if (p > 0.0) s = s + p;                              // comparison #3
    return s;
  };
  const Index n = 40;
  VectorXd x0(n);
  for (Index i = 0; i < n; ++i) x0(i) = 0.4 * std::sin(0.7 * double(i) + 0.3);
  const auto F = jacnet::ad::record(g, x0);
  CHECK(F.comparisons() == 4);
  // Kernel kinds, not instructions, set the number of runs: far fewer runs than instructions.
  CHECK(F.gradient_runs() > 0);
  CHECK(F.gradient_runs() * 10 < F.size());
  for (double shift : {0.0, 0.05, -0.11}) {
    const VectorXd x = x0 + VectorXd::Constant(n, shift);
    const auto r = F.gradient(x);
    const auto t = jacnet::gradient(g, x);
    CHECK(r.value == Approx(t.value).epsilon(1e-14));
    CHECK((r.gradient - t.gradient).norm() <= 1e-14 * t.gradient.norm());
    const VectorXd fd = fd_gradient([&](const VectorXd& v) { return g(v); }, x);
    CHECK((r.gradient - fd).norm() <= 1e-7 * t.gradient.norm());
  }
  // Only comparison #1 flips (the running sum passes 100): the error names it.
  VectorXd xb = x0;
  xb(0) = 9.0;
  xb(n - 1) = 7.0;
  for (Index i = 2; i <= n / 2; ++i) xb(i) = 40.0;
  std::string msg;
  try {
    (void)F.gradient(xb);
  } catch (const jacnet::BranchError& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("comparison #1") != std::string::npos);
  // A running sum of N terms is one run of additions, whatever N (Rosenbrock's shape).
  const auto ros = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    S s(0.0);
    for (Index i = 0; i + 1 < x.size(); ++i) {
      const S t = x(i + 1) - x(i) * x(i);
      const S u = 1.0 - x(i);
      s += 100.0 * t * t + u * u;
    }
    return s;
  };
  const auto R16 = jacnet::ad::record(ros, VectorXd::Constant(16, 0.5));
  const auto R512 = jacnet::ad::record(ros, VectorXd::Constant(512, 0.5));
  CHECK(R512.gradient_runs() == R16.gradient_runs());
  const VectorXd y = VectorXd::LinSpaced(512, -1.2, 1.3);
  CHECK((R512.gradient(y).gradient - jacnet::gradient(ros, y).gradient).norm() <=
        1e-14 * jacnet::gradient(ros, y).gradient.norm());
}

TEST_CASE("recorded gradient: contiguous segments of every kernel, dependent neighbours, zero adjoints",
          "[ad][recorded]") {
  // Element-wise statements over n cells: each kernel's run has operands in consecutive slots,
  // which the sweep runs as plain loops (GradientSweep::find_segments); the boundary cells read
  // other slots and stay scalar. Every kernel of the sweep appears with a segment.
  const Index n = 37;
  const auto f = [n](const auto& x) {
    using S = scalar_t<decltype(x)>;
    std::vector<S> a(n), b(n);
    for (Index i = 0; i < n; ++i) a[i] = x(i) * x(i);                              // Sqr
    for (Index i = 0; i < n; ++i) b[i] = x(i) - a[i];                              // SubVV
    S s(0.0);
    for (Index i = 0; i < n; ++i) {
      const S& r = x(i + 1 < n ? i + 1 : i);
      S q = (a[i] + b[i]) * r + (x(i) + 0.25) - (1.5 - b[i]) + 0.3 * a[i] + (-x(i));  // AddVV, MulVV, AddVC, SubCV, MulVC, Neg
      q += b[i] / (2.0 + a[i]) + (x(i) - 0.75) + a[i] / 3.0 - 1.0 / (3.0 + a[i]);     // DivVV, SubVC, DivVC, DivCV
      q += b[i] + 2.5 * a[i] + (r - 0.5 * b[i]) + x(i) * (1.5 * r);                    // AddVsV, SubVsV, MulVsV
      s += q;
    }
    // A run whose positions read their predecessors (a product chain): no segment there.
    S p = x(0);
    for (Index i = 1; i < n; ++i) p = p * (1.0 + 0.01 * x(i));
    // Zero adjoints over infinite partials: h_i = 1/(x_i − x_i) = ±inf enters only as 0·h_i.
    // The tape skips a zero adjoint, so the gradient stays finite; the segments must too.
    S z(0.0);
    for (Index i = 0; i < n; ++i) z += 0.0 * (1.0 / (x(i) - x(i)));
    return s + p + 0.0 * z;
  };
  VectorXd x0(n);
  for (Index i = 0; i < n; ++i) x0(i) = 0.3 + 0.5 * std::sin(0.9 * double(i));
  const auto F = jacnet::ad::record(f, x0);
  for (double shift : {0.0, 0.07}) {
    const VectorXd x = x0 + VectorXd::Constant(n, shift);
    const auto r = F.gradient(x);
    const auto t = jacnet::gradient(f, x);
    REQUIRE(t.gradient.allFinite());
    CHECK(r.gradient.allFinite());
    CHECK(std::isnan(r.value));  // 0·inf: the value is NaN, the derivative is not
    CHECK((r.gradient - t.gradient).norm() <= 1e-14 * t.gradient.norm());
    // Central differences of the finite part (the zero-weighted term left out).
    const auto finite = [&](const VectorXd& v) {
      double s = 0, p = v(0);
      for (Index i = 0; i < n; ++i) {
        const double a = v(i) * v(i), b = v(i) - a, rr = v(i + 1 < n ? i + 1 : i);
        s += (a + b) * rr + (v(i) + 0.25) - (1.5 - b) + 0.3 * a - v(i) + b / (2.0 + a) +
             (v(i) - 0.75) + a / 3.0 - 1.0 / (3.0 + a) + b + 2.5 * a + (rr - 0.5 * b) +
             v(i) * (1.5 * rr);
      }
      for (Index i = 1; i < n; ++i) p *= 1.0 + 0.01 * v(i);
      return s + p;
    };
    CHECK((r.gradient - fd_gradient(finite, x)).norm() <= 1e-7 * t.gradient.norm());
  }
}

TEST_CASE("recorded vector function: jacfwd == jacrev == analytic == FD", "[ad][recorded]") {
  // ODE sensitivities: 10 explicit Euler steps of y' = −k y + sin(y_other), x = (y1(0), y2(0), k).
  const auto ode = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    using std::sin;
    S y1 = x(0), y2 = x(1);
    const S k = x(2);
    for (int s = 0; s < 10; ++s) {
      const S d1 = -k * y1 + sin(y2), d2 = -k * y2 + sin(y1);
      y1 += 0.05 * d1;
      y2 += 0.05 * d2;
    }
    Vector<S> r(2);
    r << y1, y2;
    return r;
  };
  const VectorXd x0{{1.0, 0.5, 0.3}}, x{{0.8, -0.2, 0.6}};
  const auto F = jacnet::ad::record(ode, x0);
  CHECK(F.outputs() == 2);
  CHECK(F.comparisons() == 0);
  const MatrixXd J = jacnet::jacfwd(ode, x);  // the drivers on f itself
  const MatrixXd Jf = F.jacfwd(x), Jr = F.jacrev(x);
  MatrixXd Jfd(2, 3);
  for (Index j = 0; j < 3; ++j) {
    VectorXd p = x, m = x;
    p(j) += 1e-6;
    m(j) -= 1e-6;
    Jfd.col(j) = (ode(p) - ode(m)) / 2e-6;
  }
  CHECK((Jf - J).norm() <= 1e-14 * J.norm());
  CHECK((Jr - J).norm() <= 1e-14 * J.norm());
  CHECK((Jf - Jfd).norm() <= 1e-8 * J.norm());
  CHECK((F.value(x) - ode(x)).norm() <= 1e-15 * ode(x).norm());
  // Analytic: at y(0) = 0 the state stays 0, so ∂y/∂k = 0 and each step is linear,
  // δ ← M δ with M = [[1 − hk, h], [h, 1 − hk]] (cos 0 = 1): J = M¹⁰ = ½[[a+b, a−b], [a−b, a+b]],
  // a = (1 − hk + h)¹⁰, b = (1 − hk − h)¹⁰.
  const VectorXd z{{0.0, 0.0, 0.6}};
  const MatrixXd Jz = F.jacrev(z);
  const double a = std::pow(1 - 0.05 * 0.6 + 0.05, 10), b = std::pow(1 - 0.05 * 0.6 - 0.05, 10);
  CHECK(Jz.col(2).norm() == 0.0);
  CHECK(Jz(0, 0) == Approx(0.5 * (a + b)).epsilon(1e-14));
  CHECK(Jz(0, 1) == Approx(0.5 * (a - b)).epsilon(1e-14));
  CHECK(Jz(1, 1) == Approx(0.5 * (a + b)).epsilon(1e-14));
}

TEST_CASE("recorded comparisons: another branch throws BranchError, never a wrong derivative",
          "[ad][recorded]") {
  const auto f = [](const auto& x) -> scalar_t<decltype(x)> {
    if (x(0) > 1.0) return x(0) * x(1);
    return x(0) + x(1);
  };
  const auto F = jacnet::ad::record(f, VectorXd{{2.0, 3.0}});
  CHECK(F.comparisons() == 1);
  CHECK(F.same_branches(VectorXd{{1.5, -1.0}}));
  CHECK(F.gradient(VectorXd{{1.5, -1.0}}).gradient.isApprox(VectorXd{{-1.0, 1.5}}, 1e-15));
  CHECK_FALSE(F.same_branches(VectorXd{{0.5, -1.0}}));
  CHECK_THROWS_AS(F.gradient(VectorXd{{0.5, -1.0}}), jacnet::BranchError);
  CHECK_THROWS_AS(F.value(VectorXd{{1.0, -1.0}}), jacnet::BranchError);  // the tie: 1 > 1 false
  CHECK_THROWS_AS(F.jacfwd(VectorXd{{0.5, -1.0}}), jacnet::BranchError);
  try {
    F.value(VectorXd{{0.5, 0.0}});
  } catch (const jacnet::BranchError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("comparison #0") != std::string::npos);
    CHECK(msg.find("0.5 > 1") != std::string::npos);
    CHECK(msg.find("record it again") != std::string::npos);
  }
  // Kinks inside one operation are replayed per point: no comparison is recorded.
  const auto g = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    using jacnet::relu;
    return S(abs(x(0)) + max(x(0), x(1)) + relu(x(1)));
  };
  const auto G = jacnet::ad::record(g, VectorXd{{1.0, 2.0}});
  CHECK(G.comparisons() == 0);
  // At (−1, −3): abs' = −1, max picks x0 (+1), relu'(−3) = 0 → (0, 0); at (2, 3): (1, 1 + 1).
  CHECK(G.gradient(VectorXd{{-1.0, -3.0}}).gradient.isZero(0.0));
  CHECK(G.gradient(VectorXd{{2.0, 3.0}}).gradient.isApprox(VectorXd{{1.0, 2.0}}));
  CHECK(G.gradient(VectorXd{{-1.0, -3.0}}).gradient.isApprox(
      jacnet::gradient(g, VectorXd{{-1.0, -3.0}}).gradient));
}

TEST_CASE("recorded function: const replay from several threads at once", "[ad][recorded][threads]") {
  const Logistic L;
  const auto F = jacnet::ad::record(L, VectorXd{{0.1, -0.2, 0.3, 0.05}});
  const int n = 64;
  std::vector<VectorXd> xs(n), gs(n), hs(n);
  for (int k = 0; k < n; ++k) xs[std::size_t(k)] = VectorXd::Constant(4, 0.01 * k) +
                                                   VectorXd{{0.2, -0.1, 0.05, 0.3}};
  int errors = 0;
#pragma omp parallel for schedule(dynamic) num_threads(2) reduction(+ : errors)
  for (int k = 0; k < n; ++k) {
    try {
      gs[std::size_t(k)] = F.gradient(xs[std::size_t(k)]).gradient;
      hs[std::size_t(k)] = F.hvp(xs[std::size_t(k)], VectorXd::Ones(4)).hvp;
    } catch (...) {
      ++errors;
    }
  }
  CHECK(errors == 0);
  for (int k = 0; k < n; ++k) {
    const VectorXd& x = xs[std::size_t(k)];
    CHECK((gs[std::size_t(k)] - L.grad(x)).norm() <= 1e-13 * L.grad(x).norm());
    CHECK((hs[std::size_t(k)] - L.hess(x) * VectorXd::Ones(4)).norm() <= 1e-12 * L.hess(x).norm());
  }
}

TEST_CASE("recorded function misuse errors", "[ad][recorded]") {
  const Logistic L;
  const auto F = jacnet::ad::record(L, VectorXd{{0.1, -0.2, 0.3, 0.05}});
  CHECK_THROWS_AS(F.value(VectorXd::Zero(3)), jacnet::ShapeError);
  CHECK_THROWS_AS(F.gradient(VectorXd::Zero(5)), jacnet::ShapeError);
  const auto V = jacnet::ad::record([](const auto& x) { return x; }, VectorXd::Ones(2));
  CHECK_THROWS_AS(V.gradient(VectorXd::Ones(2)), jacnet::ShapeError);
  CHECK(V.jacrev(VectorXd::Ones(2)).isApprox(MatrixXd::Identity(2, 2)));
  CHECK_THROWS_AS(jacnet::ad::record(L, VectorXd::Zero(0)), jacnet::ValueError);
}
