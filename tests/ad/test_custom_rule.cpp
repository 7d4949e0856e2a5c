// Tests of jacnet/ad/custom_rule.hpp: user-given JVP/VJP rules used by every scalar type.
//  * a dense linear solve y = A⁻¹b with its adjoint solve Aᵀ⁻¹w as VJP: gradient (Var: the VJP),
//    jacfwd (Dual: the JVP), hessian and hvp (Var<Dual>: the JVP in Duals), against the analytic derivative
//    and central differences, and across modes;
//  * an external special function, Bessel J0 (std::cyl_bessel_j), with J0' = −J1 where J1 is a
//    custom rule too: first and second derivatives in Dual, Var, Var<Dual> and Dual<Dual>;
//  * wrong-size rule results → ShapeError.
#include <catch2/catch.hpp>
#include <cmath>
#include <Eigen/LU>

#include "jacnet/ad/custom_rule.hpp"
#include "jacnet/ad/drivers.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using jacnet::Vector;

namespace {

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

MatrixXd test_matrix() {
  MatrixXd A(4, 4);
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 4; ++j) A(i, j) = (i == j ? 3.0 : 0.0) + 0.5 * std::sin(1.0 + i - 2.0 * j);
  return A;
}

double bessel(double nu, double x) { return std::cyl_bessel_j(nu, x); }

}  // namespace

TEST_CASE("custom rule: dense linear solve with its adjoint solve, every mode", "[ad][custom]") {
  const MatrixXd A = test_matrix();
  const Eigen::PartialPivLU<MatrixXd> lu(A);
  const MatrixXd Ainv = lu.inverse();
  int vjp_calls = 0, jvp_calls = 0;
  // f and vjp see plain vectors; the jvp is generic (for Var<Dual> second order it receives Duals).
  const auto solve = jacnet::ad::custom_rule(
      [&](const VectorXd& b) { return VectorXd(lu.solve(b)); },
      [&](const auto& /*b*/, const auto& /*y*/, const auto& u) {
        using U = scalar_t<decltype(u)>;
        ++jvp_calls;
        if constexpr (std::is_same_v<U, double>)
          return Vector<U>(lu.solve(u));
        else
          return Vector<U>(Ainv * u);  // the same linear map on AD scalars
      },
      [&](const VectorXd& /*b*/, const VectorXd& /*y*/, const VectorXd& w) {
        ++vjp_calls;
        return VectorXd(lu.transpose().solve(w));
      });
  const VectorXd c{{0.3, -0.1, 0.8, 0.2}};
  // L(b) = ½‖A⁻¹b − c‖² + 0.1 Σ sin b_i:  ∇L = A⁻ᵀ(A⁻¹b − c) + 0.1 cos b,
  // ∇²L = A⁻ᵀA⁻¹ − 0.1 diag(sin b).
  const auto L = [&](const auto& b) {
    using S = scalar_t<decltype(b)>;
    using std::sin;
    const Vector<S> y = solve(b);
    S s = 0.5 * (y - c).squaredNorm();
    for (Index i = 0; i < b.size(); ++i) s += 0.1 * sin(b(i));
    return s;
  };
  const VectorXd b{{1.0, -0.5, 0.25, 2.0}};
  VectorXd ga = Ainv.transpose() * (Ainv * b - c);
  MatrixXd Ha = Ainv.transpose() * Ainv;
  for (Index i = 0; i < 4; ++i) {
    ga(i) += 0.1 * std::cos(b(i));
    Ha(i, i) -= 0.1 * std::sin(b(i));
  }
  const auto g = jacnet::gradient(L, b);
  CHECK(vjp_calls == 4);  // m = n = 4: J by rows through the VJP
  CHECK(jvp_calls == 0);
  CHECK((g.gradient - ga).norm() <= 1e-13 * ga.norm());
  VectorXd gfd(4);
  for (Index i = 0; i < 4; ++i) {
    VectorXd p = b, m = b;
    p(i) += 1e-6;
    m(i) -= 1e-6;
    gfd(i) = (L(p) - L(m)) / 2e-6;
  }
  CHECK((g.gradient - gfd).norm() <= 1e-7 * ga.norm());
  const VectorXd gf = jacnet::jacfwd<2>(L, b);  // Dual: through the JVP
  CHECK(jvp_calls == 4);
  CHECK((gf - ga).norm() <= 1e-13 * ga.norm());
  const auto h = jacnet::hessian<2>(L, b);
  CHECK((h.hessian - Ha).norm() <= 1e-13 * Ha.norm());
  const VectorXd u{{0.5, 1.0, -1.0, 0.2}};
  CHECK((jacnet::hvp(L, b, u).hvp - Ha * u).norm() <= 1e-13 * (Ha * u).norm());
  // The vector function itself: jacrev (VJP) == jacfwd (JVP) == A⁻¹.
  const auto y_of_b = [&](const auto& v) { return solve(v); };
  CHECK((jacnet::jacrev(y_of_b, b) - Ainv).norm() <= 1e-14 * Ainv.norm());
  CHECK((jacnet::jacfwd(y_of_b, b) - Ainv).norm() <= 1e-14 * Ainv.norm());
}

TEST_CASE("custom rule: Bessel J0 with J0' = -J1, J1 a custom rule too, to second order",
          "[ad][custom]") {
  // J1' = (J0 − J2)/2, given in plain numbers only (first order is all J0's JVP needs from it).
  const auto j1 = jacnet::ad::custom_rule(
      [](const VectorXd& x) { return VectorXd::Constant(1, bessel(1, x(0))); },
      [](const VectorXd& x, const VectorXd&, const VectorXd& u) {
        return VectorXd::Constant(1, 0.5 * (bessel(0, x(0)) - bessel(2, x(0))) * u(0));
      },
      [](const VectorXd& x, const VectorXd&, const VectorXd& w) {
        return VectorXd::Constant(1, 0.5 * (bessel(0, x(0)) - bessel(2, x(0))) * w(0));
      });
  // J0: generic JVP −J1(x)·u (so it differentiates again through j1's rule).
  const auto j0 = jacnet::ad::custom_rule(
      [](const VectorXd& x) { return VectorXd::Constant(1, bessel(0, x(0))); },
      [&](const auto& x, const auto&, const auto& u) {
        using U = scalar_t<decltype(u)>;
        Vector<U> r(1);
        r(0) = -j1(x)(0) * u(0);
        return r;
      },
      [](const VectorXd& x, const VectorXd&, const VectorXd& w) {
        return VectorXd::Constant(1, -bessel(1, x(0)) * w(0));
      });
  // h(x) = J0(x0·x1) + x0.
  const auto h = [&](const auto& x) {
    using S = scalar_t<decltype(x)>;
    Vector<S> p(1);
    p(0) = x(0) * x(1);
    return S(j0(p)(0) + x(0));
  };
  const VectorXd x{{1.3, 0.7}};
  const double p = x(0) * x(1), J1 = bessel(1, p), J0pp = -0.5 * (bessel(0, p) - bessel(2, p));
  const VectorXd ga{{-J1 * x(1) + 1, -J1 * x(0)}};
  const MatrixXd Ha{{J0pp * x(1) * x(1), J0pp * p - J1}, {J0pp * p - J1, J0pp * x(0) * x(0)}};
  CHECK(jacnet::gradient(h, x).value == Approx(bessel(0, p) + x(0)).epsilon(1e-15));
  CHECK((jacnet::gradient(h, x).gradient - ga).norm() <= 1e-14 * ga.norm());
  const VectorXd gf = jacnet::jacfwd(h, x);
  CHECK((gf - ga).norm() <= 1e-14 * ga.norm());
  VectorXd gfd(2);
  for (Index i = 0; i < 2; ++i) {
    VectorXd a = x, b = x;
    a(i) += 1e-6;
    b(i) -= 1e-6;
    gfd(i) = (h(a) - h(b)) / 2e-6;
  }
  CHECK((gf - gfd).norm() <= 1e-8 * ga.norm());
  CHECK((jacnet::hessian(h, x).hessian - Ha).norm() <= 1e-13 * Ha.norm());  // Var<Dual>
  // Forward over forward (Dual<Dual<double>>): jacfwd of the forward gradient.
  const auto grad_fwd = [&](const auto& v) {
    using S = scalar_t<decltype(v)>;
    const auto g = jacnet::jacfwd(h, v);
    return Vector<S>(g.transpose());
  };
  CHECK((jacnet::jacfwd(grad_fwd, x) - Ha).norm() <= 1e-13 * Ha.norm());
}

TEST_CASE("custom rule: results of the wrong size are ShapeErrors", "[ad][custom]") {
  const auto bad = jacnet::ad::custom_rule(
      [](const VectorXd& x) { return VectorXd(x.array().square()); },
      [](const auto&, const auto&, const auto& u) { return Vector<scalar_t<decltype(u)>>(u.head(1)); },
      [](const VectorXd&, const VectorXd&, const VectorXd& w) { return VectorXd(w.head(1)); });
  const auto f = [&](const auto& x) { return bad(x); };
  const VectorXd x{{1.0, 2.0}};
  CHECK_THROWS_AS(jacnet::jacfwd(f, x), jacnet::ShapeError);
  CHECK_THROWS_AS(jacnet::jacrev(f, x), jacnet::ShapeError);
}
