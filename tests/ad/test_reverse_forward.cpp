// Tests of reverse over forward, Var<Dual<T, K>> (what hessian() and hvp() record), three ways:
//  * against forward over reverse, Dual<Var<double>, 1>, swept by hand one Hessian column at a
//    time (the previous hessian() method, still a supported nesting);
//  * against central finite differences of the reverse-mode gradient (double);
//  * hessian<K> for K = 1, 3, 4, 8, 16 (remainder chunks, SIMD and array tangents) and hvp agree.
// Also: the sweep propagates an adjoint whose value is 0 but whose tangents are not (a skip on the
// value alone would lose Hessian entries); Var<Dual> used directly on its own tape.
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/ad/drivers.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using jacnet::Dual;
using jacnet::Tape;
using jacnet::Var;
using jacnet::Vector;

namespace {

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

/// A scalar function using most elementary operations, with several statements per element.
struct Mixed {
  template <class X>
  scalar_t<X> operator()(const X& x) const {
    using S = scalar_t<X>;
    using std::exp, std::log, std::sin, std::cos, std::sqrt, std::tanh, std::atan2, std::hypot,
        std::pow, std::abs, std::max;
    using jacnet::sigmoid, jacnet::softplus;
    const Index n = x.size();
    S s = 0.0;
    for (Index i = 0; i < n; ++i) {
      const S& a = x(i);
      const S& b = x((i + 1) % n);
      const S t = a * b - 0.3 * sin(a);
      const S u = exp(0.5 * a) / (1.0 + b * b);
      s += t * u + log(1.0 + a * a) + tanh(b - a) * cos(a);
      s += sigmoid(a * 2.0) * softplus(b) + sqrt(2.0 + a * b) + atan2(a, 1.5 + b * b);
      s += hypot(a, b) + pow(1.2 + a * a, 1.5) + max(a, 0.1 * b) * abs(b);
    }
    return S(s / double(n));
  }
};

/// Hessian by forward over reverse: Dual<Var<double>, 1>, one recording and one sweep per column.
MatrixXd hessian_dual_var(const Mixed& f, const VectorXd& x) {
  using V = Var<double>;
  using DV = Dual<V, 1>;
  const Index n = x.size();
  MatrixXd H(n, n);
  auto& tape = Tape<double>::active();
  for (Index k = 0; k < n; ++k) {
    jacnet::TapeScope<double> scope;
    Vector<V> xv(n);
    for (Index i = 0; i < n; ++i) xv(i) = V(x(i));
    Vector<DV> xd(n);
    for (Index i = 0; i < n; ++i) {
      xd(i).val = xv(i);
      xd(i).set_tangents({V::constant(i == k ? 1.0 : 0.0)});
    }
    const DV y = f(xd);
    const V dk = y.d(0);
    tape.clear_adjoints(scope.mark());
    tape.add_adjoint(dk.index(), 1.0);
    tape.reverse(scope.mark());
    for (Index i = 0; i < n; ++i) H(i, k) = tape.adjoint(xv(i).index());
  }
  return H;
}

VectorXd point(Index n) {
  VectorXd x(n);
  for (Index i = 0; i < n; ++i) x(i) = 0.8 * std::sin(0.7 * double(i) + 0.3);
  return x;
}

double max_abs(const MatrixXd& a) { return a.cwiseAbs().maxCoeff(); }

/// Hessian by central differences (step 1e-5) of the reverse-mode gradient, column by column.
MatrixXd hessian_fd(const Mixed& f, const VectorXd& x) {
  const Index n = x.size();
  const double h = 1e-5;
  MatrixXd H(n, n);
  for (Index k = 0; k < n; ++k) {
    VectorXd p = x, m = x;
    p(k) += h;
    m(k) -= h;
    H.col(k) = (jacnet::gradient(f, p).gradient - jacnet::gradient(f, m).gradient) / (2 * h);
  }
  return H;
}

}  // namespace

TEST_CASE("hessian (Var<Dual>) == forward over reverse (Dual<Var>) == central differences",
          "[ad][hessian]") {
  const Mixed f;
  for (Index n : {1, 2, 5, 9, 17}) {
    INFO("n = " << n);
    const VectorXd x = point(n);
    const MatrixXd Hdv = hessian_dual_var(f, x);
    const MatrixXd Hfd = hessian_fd(f, x);
    const double scale = std::max(1.0, max_abs(Hdv));
    CHECK(max_abs(Hdv - Hfd) <= 1e-6 * scale);

    const auto g = jacnet::gradient(f, x);
    const auto h1 = jacnet::hessian<1>(f, x);
    const auto h3 = jacnet::hessian<3>(f, x);
    const auto h4 = jacnet::hessian<4>(f, x);
    const auto h8 = jacnet::hessian<8>(f, x);
    const auto h16 = jacnet::hessian<16>(f, x);
    for (const auto* h : {&h1, &h3, &h4, &h8, &h16}) {
      CHECK(max_abs(h->hessian - Hdv) <= 1e-13 * scale);
      CHECK(max_abs(h->hessian - Hfd) <= 1e-6 * scale);
      CHECK(max_abs(h->gradient - g.gradient) <= 1e-13 * std::max(1.0, max_abs(g.gradient)));
      CHECK(h->value == Approx(g.value).epsilon(1e-13));
    }
    VectorXd u(n);
    for (Index i = 0; i < n; ++i) u(i) = std::cos(1.0 + 2.0 * double(i));
    const auto hv = jacnet::hvp(f, x, u);
    CHECK(max_abs(hv.hvp - Hdv * u) <= 1e-13 * scale * std::max(1.0, u.cwiseAbs().sum()));
    CHECK(max_abs(hv.gradient - g.gradient) <= 1e-13 * std::max(1.0, max_abs(g.gradient)));
    CHECK(hv.value == Approx(g.value).epsilon(1e-13));
  }
}

TEST_CASE("reverse over forward: an adjoint with value 0 and nonzero tangents is propagated",
          "[ad][hessian]") {
  // f(x, y) = x·t with t = y − 1 recorded as its own statement. At (0, 1): t̄ = x = 0 in value but
  // dt̄/dε_x = 1, which reaches y: H = [[0, 1], [1, 0]]. Skipping t by its value would give 0.
  const auto f = [](const auto& v) {
    using S = scalar_t<decltype(v)>;
    const S t = v(1) - 1.0;
    return S(v(0) * t);
  };
  const VectorXd x{{0.0, 1.0}};
  const MatrixXd Hexp{{0.0, 1.0}, {1.0, 0.0}};
  CHECK(jacnet::hessian(f, x).hessian == Hexp);
  CHECK(jacnet::hessian<1>(f, x).hessian == Hexp);
  CHECK(jacnet::hvp(f, x, VectorXd{{1.0, 0.0}}).hvp == VectorXd{{0.0, 1.0}});
}

TEST_CASE("Var<Dual<double, 2>> on its own tape: gradient and two Hessian columns in one sweep",
          "[ad][hessian]") {
  using D = Dual<double, 2>;
  using V = Var<D>;
  auto& tape = Tape<D>::active();
  jacnet::TapeScope<D> scope;
  // f(x, y) = x² y + sin(x y) at (0.7, −1.3), directions e_x, e_y.
  D dx(0.7), dy(-1.3);
  dx.set_d(0, 1.0);
  dy.set_d(1, 1.0);
  const V x = dx, y = dy;
  using std::sin;
  const V f = x * x * y + sin(x * y);
  tape.clear_adjoints(scope.mark());
  f.set_adjoint(D(1.0));
  tape.reverse(scope.mark());
  const double X = 0.7, Y = -1.3, c = std::cos(X * Y), s = std::sin(X * Y);
  const D gx = x.adjoint(), gy = y.adjoint();
  CHECK(gx.val == Approx(2 * X * Y + Y * c).epsilon(1e-14));
  CHECK(gy.val == Approx(X * X + X * c).epsilon(1e-14));
  CHECK(gx.d(0) == Approx(2 * Y - Y * Y * s).epsilon(1e-14));          // f_xx
  CHECK(gx.d(1) == Approx(2 * X + c - X * Y * s).epsilon(1e-14));      // f_xy
  CHECK(gy.d(0) == Approx(2 * X + c - X * Y * s).epsilon(1e-14));      // f_yx
  CHECK(gy.d(1) == Approx(-X * X * s).epsilon(1e-14));                 // f_yy
  CHECK(f.value().val == Approx(X * X * Y + s).epsilon(1e-14));
}
