// Tests of AD scalars inside Eigen (scalar_traits.hpp, product.hpp) and of nesting the drivers:
//  * mixed double/AD expressions (`X * w - y`, `w - mu` with double X, y, mu) in gradient, jacfwd,
//    jacrev, hessian and hvp, each checked against the analytic derivative, central differences in
//    double, and another AD mode;
//  * nested scalars (Dual<Dual<double>>, Dual<Var<double>>) times a double matrix;
//  * Matrix<Var> products above Eigen's threading threshold (64×64·64×64, 200×200·200×16) with
//    two OpenMP threads: every product runs on the calling thread (no TapeError), one tape
//    statement per output coefficient;
//  * the Jacobian of a scalar f assigns to a VectorXd; branches returning different expression
//    types with a declared `-> S` return;
//  * a gradient inside a gradient, a gradient inside jacfwd/jacrev (forward mode for AD inputs).
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/check/finite_difference.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using jacnet::Dual;
using jacnet::Matrix;
using jacnet::Var;
using jacnet::Vector;

namespace {

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

MatrixXd det_matrix(Index r, Index c, double a) {
  MatrixXd m(r, c);
  for (Index i = 0; i < r; ++i)
    for (Index j = 0; j < c; ++j) m(i, j) = std::sin(a + 1.3 * double(i) + 0.7 * double(j));
  return m;
}

/// Central differences of a scalar double function (the public checker's loop).
template <class F>
VectorXd fd_gradient(const F& f, VectorXd x, double h = 1e-6) {
  return jacnet::check::central_gradient(x.data(), x.size(), h, [&] { return f(x); });
}

/// A regularized least-squares loss written with mixed double/AD Eigen expressions:
///   L(w) = ½‖X w − y‖² + ½ λ ‖w − μ‖² + Σ tanh(w_i)·c_i,   ∇L = Xᵀ(Xw − y) + λ(w − μ) + c ⊙ sech²w,
///   ∇²L = XᵀX + λI + diag(−2 c ⊙ tanh(w) ⊙ sech²w).
struct MixedLoss {
  MatrixXd X = det_matrix(12, 5, 0.3);
  VectorXd y = det_matrix(12, 1, 1.1), mu = det_matrix(5, 1, 2.0), c = det_matrix(5, 1, 0.5);
  double lambda = 0.3;
  template <class V>
  scalar_t<V> operator()(const V& w) const {
    using S = scalar_t<V>;
    using std::tanh;
    const Vector<S> r = X * w - y;
    const Vector<S> d = w - mu;
    S s = 0.5 * r.squaredNorm() + 0.5 * lambda * d.squaredNorm();
    for (Index i = 0; i < w.size(); ++i) s += tanh(w(i)) * c(i);
    return s;
  }
  VectorXd grad(const VectorXd& w) const {
    VectorXd g = X.transpose() * (X * w - y) + lambda * (w - mu);
    for (Index i = 0; i < w.size(); ++i) {
      const double t = std::tanh(w(i));
      g(i) += c(i) * (1 - t * t);
    }
    return g;
  }
  MatrixXd hess(const VectorXd& w) const {
    MatrixXd H = X.transpose() * X;
    for (Index i = 0; i < w.size(); ++i) {
      const double t = std::tanh(w(i));
      H(i, i) += lambda - 2 * c(i) * t * (1 - t * t);
    }
    return H;
  }
};

}  // namespace

TEST_CASE("mixed double/AD Eigen expressions work in every driver", "[ad][eigen]") {
  const MixedLoss L;
  const VectorXd w = det_matrix(5, 1, -0.4);
  const VectorXd ga = L.grad(w);
  const MatrixXd Ha = L.hess(w);
  const auto plain = [&](const VectorXd& v) { return L(v); };

  const auto g = jacnet::gradient(L, w);
  CHECK(g.value == Approx(L(w)).epsilon(1e-14));
  CHECK((g.gradient - ga).norm() <= 1e-12 * (1 + ga.norm()));
  CHECK((g.gradient - fd_gradient(plain, w)).norm() <= 1e-7 * (1 + ga.norm()));

  const VectorXd gf = jacnet::jacfwd<4>(L, w);  // scalar f: a row vector, assigns to a VectorXd
  const VectorXd gr = jacnet::jacrev(L, w);
  CHECK((gf - g.gradient).norm() <= 1e-13 * (1 + ga.norm()));
  CHECK((gr - g.gradient).norm() <= 1e-13 * (1 + ga.norm()));

  const auto h = jacnet::hessian<4>(L, w);
  CHECK((h.hessian - Ha).norm() <= 1e-12 * (1 + Ha.norm()));
  CHECK((h.gradient - ga).norm() <= 1e-12 * (1 + ga.norm()));
  // Hessian by central differences of the analytic gradient, column by column.
  MatrixXd Hfd(5, 5);
  for (Index j = 0; j < 5; ++j) {
    VectorXd p = w, m = w;
    p(j) += 1e-6;
    m(j) -= 1e-6;
    Hfd.col(j) = (L.grad(p) - L.grad(m)) / 2e-6;
  }
  CHECK((h.hessian - Hfd).norm() <= 1e-7 * (1 + Ha.norm()));

  const VectorXd u = det_matrix(5, 1, 3.3);
  const auto hv = jacnet::hvp(L, w, u);
  CHECK((hv.hvp - Ha * u).norm() <= 1e-12 * (1 + (Ha * u).norm()));
  CHECK((hv.hvp - h.hessian * u).norm() <= 1e-12 * (1 + (Ha * u).norm()));
  const auto jv = jacnet::jvp(L, w, u);
  CHECK(jv.tangent(0) == Approx(ga.dot(u)).epsilon(1e-13));
}

TEST_CASE("vector functions with mixed expressions: jacfwd == jacrev == analytic == FD",
          "[ad][eigen]") {
  const MatrixXd A = det_matrix(7, 4, 0.9);
  const VectorXd b = det_matrix(7, 1, 0.1);
  // f(x) = tanh(A x + b) elementwise: J = diag(sech²(Ax + b)) A.
  const auto f = [&](const auto& x) {
    using S = scalar_t<decltype(x)>;
    Vector<S> z = A * x + b;
    for (Index i = 0; i < z.size(); ++i) z(i) = tanh(z(i));
    return z;
  };
  const VectorXd x = det_matrix(4, 1, 1.7);
  MatrixXd Ja = A;
  const VectorXd z = A * x + b;
  for (Index i = 0; i < 7; ++i) Ja.row(i) *= 1 - std::tanh(z(i)) * std::tanh(z(i));
  const MatrixXd Jf = jacnet::jacfwd<3>(f, x);
  const MatrixXd Jr = jacnet::jacrev(f, x);
  MatrixXd Jfd(7, 4);
  for (Index j = 0; j < 4; ++j) {
    VectorXd p = x, m = x;
    p(j) += 1e-6;
    m(j) -= 1e-6;
    Jfd.col(j) = (f(p) - f(m)) / 2e-6;
  }
  CHECK((Jf - Ja).norm() <= 1e-14 * (1 + Ja.norm()));
  CHECK((Jr - Ja).norm() <= 1e-14 * (1 + Ja.norm()));
  CHECK((Jf - Jfd).norm() <= 1e-8 * (1 + Ja.norm()));
}

TEST_CASE("nested AD scalars mix with double matrices", "[ad][eigen]") {
  const MatrixXd A = det_matrix(3, 2, 0.2);
  // Dual<Dual<double>>: seeded in x0 (outer) and x1 (inner), y = A x has ∂²y/∂x0∂x1 = 0 and
  // ∂y/∂x_k = A(:, k); y ⊙ y then has second derivative 2 A(:, 0) ⊙ A(:, 1).
  using DD = Dual<Dual<double, 1>, 1>;
  Vector<DD> x(2);
  x(0) = DD(Dual<double, 1>(0.7));
  x(0).set_d(0, Dual<double, 1>(1.0));
  x(1) = DD(Dual<double, 1>::variable(-0.4, 0));
  const Vector<DD> y = A * x;
  const Vector<DD> yy = y.cwiseProduct(y);
  const VectorXd yv = A * VectorXd{{0.7, -0.4}};
  for (Index i = 0; i < 3; ++i) {
    CHECK(y(i).val.val == Approx(yv(i)).epsilon(1e-15));
    CHECK(y(i).d(0).val == Approx(A(i, 0)).epsilon(1e-15));
    CHECK(y(i).val.d(0) == Approx(A(i, 1)).epsilon(1e-15));
    CHECK(yy(i).d(0).d(0) == Approx(2 * A(i, 0) * A(i, 1)).epsilon(1e-14));
  }
  // Dual<Var<double>> (what hessian() records) times a double matrix and minus a double vector.
  jacnet::TapeScope<double> scope;
  using DV = Dual<Var<double>, 2>;
  Vector<DV> v(2);
  v(0) = DV(Var<double>(0.7));
  v(1) = DV(Var<double>(-0.4));
  const Vector<DV> r = A * v - VectorXd::Ones(3);
  for (Index i = 0; i < 3; ++i) CHECK(r(i).val.value() == Approx(yv(i) - 1).epsilon(1e-14));
}

namespace {
/// f(x) = Σ_ij (A B)_ij with A the first k·k inputs and B the next k·c (column-major), both Vars:
/// ∂f/∂A = 1 1ᵀ Bᵀ, ∂f/∂B = Aᵀ 1 1ᵀ.
struct ProductSum {
  Index k, c;
  template <class V>
  scalar_t<V> operator()(const V& x) const {
    using S = scalar_t<V>;
    const Eigen::Map<const Eigen::Matrix<S, -1, -1>> A(x.data(), k, k), B(x.data() + k * k, k, c);
    const Eigen::Matrix<S, -1, -1> P = A * B;
    return P.sum();
  }
  VectorXd grad(const VectorXd& x) const {
    const Eigen::Map<const MatrixXd> A(x.data(), k, k), B(x.data() + k * k, k, c);
    VectorXd g(x.size());
    Eigen::Map<MatrixXd>(g.data(), k, k) = MatrixXd::Ones(k, c) * B.transpose();
    Eigen::Map<MatrixXd>(g.data() + k * k, k, c) = A.transpose() * MatrixXd::Ones(k, c);
    return g;
  }
};

void threads_on() {
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  Eigen::setNbThreads(2);
}
}  // namespace

TEST_CASE("Matrix<Var> products above Eigen's threading threshold stay on the calling thread",
          "[ad][eigen][threads]") {
  threads_on();
  for (const auto& [k, c] : {std::pair<Index, Index>{64, 64}, {200, 16}}) {
    CAPTURE(k, c);
    const ProductSum f{k, c};
    VectorXd x(k * k + k * c);
    for (Index i = 0; i < x.size(); ++i) x(i) = std::sin(0.37 * double(i));
    const auto g = jacnet::gradient(f, x);  // aborted with TapeError before product.hpp
    const VectorXd ga = f.grad(x);
    CHECK((g.gradient - ga).norm() <= 1e-12 * (1 + ga.norm()));
    CHECK(g.value == Approx(f(x)).epsilon(1e-12));
  }
  // Var × double and double × Var (X * w, the fast path): one statement per output.
  const MatrixXd X = det_matrix(200, 200, 0.1);
  const auto lin = [&](const auto& w) {
    using S = scalar_t<decltype(w)>;
    const Eigen::Map<const Eigen::Matrix<S, -1, -1>> W(w.data(), 200, 16);
    const Eigen::Matrix<S, -1, -1> P = X * W;                  // double · Var
    const Eigen::Matrix<S, -1, -1> Q = W.transpose() * X;      // Var · double
    return S(P.sum() + 0.5 * Q.squaredNorm());
  };
  VectorXd w(200 * 16);
  for (Index i = 0; i < w.size(); ++i) w(i) = std::cos(0.11 * double(i));
  const Eigen::Map<const MatrixXd> W(w.data(), 200, 16);
  MatrixXd Ga = X.transpose() * MatrixXd::Ones(200, 16) + X * (W.transpose() * X).transpose();
  const auto g = jacnet::gradient(lin, w);
  CHECK((g.gradient - Eigen::Map<const VectorXd>(Ga.data(), Ga.size())).norm() <=
        1e-12 * (1 + Ga.norm()));
  {  // statement count: X (200×200, double) · W (200×16 Vars) records 200·16 statements of 200
    jacnet::TapeScope<double> scope;
    jacnet::Tape<double>& tape = scope.tape();
    Eigen::Matrix<Var<double>, -1, -1> Wv(200, 16);
    for (Index i = 0; i < Wv.size(); ++i) Wv(i) = Var<double>(w(i));
    const auto before = tape.mark();
    const Eigen::Matrix<Var<double>, -1, -1> P = X * Wv;
    CHECK(tape.size() - before.statements == 200 * 16);
    CHECK(tape.num_operands() - before.operands == 200 * 16 * 200);
    CHECK(P(3, 5).value() == Approx((X * W)(3, 5)).epsilon(1e-14));
  }
  // Dual<Var> (second order) 64×64 products: hvp runs them on the calling thread too.
  const ProductSum sq{64, 64};
  VectorXd x(2 * 64 * 64), u(2 * 64 * 64);
  for (Index i = 0; i < x.size(); ++i) {
    x(i) = std::sin(0.37 * double(i));
    u(i) = std::cos(0.21 * double(i));
  }
  // f = 1ᵀ A B 1 is bilinear: H·u = ∇f(x) evaluated with (A, B) ← (U_A, U_B) swapped roles:
  // ∂f/∂A along (U_A, U_B) = 1 1ᵀ U_Bᵀ, ∂f/∂B = U_Aᵀ 1 1ᵀ, i.e. grad(u) for this f.
  const auto hv = jacnet::hvp(sq, x, u);
  const VectorXd hu = sq.grad(u);
  CHECK((hv.hvp - hu).norm() <= 1e-12 * (1 + hu.norm()));
  CHECK((hv.gradient - sq.grad(x)).norm() <= 1e-12 * (1 + hu.norm()));
}

TEST_CASE("scalar f: jacfwd/jacrev/jacobian give a row vector that assigns to a VectorXd",
          "[ad][eigen]") {
  const auto f = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    S s = 0.0;
    for (Index i = 0; i < x.size(); ++i) s += exp(x(i)) * x((i + 1) % x.size());
    return s;
  };
  const VectorXd x = det_matrix(6, 1, 0.8);
  const VectorXd ref = jacnet::gradient(f, x).gradient;
  const VectorXd a = jacnet::jacfwd(f, x);
  const VectorXd b = jacnet::jacrev(f, x);
  const VectorXd c = jacnet::jacobian(f, x);
  const Matrix<double> J = jacnet::jacfwd(f, x);  // still usable as a 1 × n matrix
  CHECK(a.size() == 6);
  CHECK(J.rows() == 1);
  CHECK(J.cols() == 6);
  CHECK((a - ref).norm() <= 1e-14 * ref.norm());
  CHECK((b - ref).norm() <= 1e-14 * ref.norm());
  CHECK((c - ref).norm() <= 1e-14 * ref.norm());
  CHECK((a - fd_gradient([&](const VectorXd& v) { return f(v); }, x)).norm() <= 1e-8 * ref.norm());
}

TEST_CASE("branches returning different expression types work with a declared return type",
          "[ad][eigen]") {
  // Without `-> S`, Var's expression templates make the two returns different types.
  const auto f = [](const auto& x) -> scalar_t<decltype(x)> {
    if (x(0) > 0) return x(0) * x(1);
    return x(0) + x(1) + x(2);
  };
  const VectorXd xp{{0.5, 2.0, -1.0}}, xn{{-0.5, 2.0, -1.0}};
  CHECK(jacnet::gradient(f, xp).gradient.isApprox(VectorXd{{2.0, 0.5, 0.0}}, 1e-15));
  CHECK(jacnet::gradient(f, xn).gradient.isApprox(VectorXd{{1.0, 1.0, 1.0}}, 1e-15));
  CHECK(jacnet::hessian(f, xp).hessian.isApprox(MatrixXd{{0, 1, 0}, {1, 0, 0}, {0, 0, 0}}));
}

TEST_CASE("a gradient inside a gradient, inside jacfwd and inside jacrev", "[ad][nesting]") {
  // f(x) = Σ exp(x_i) x_{i+1 mod n}; h(x) = ½‖∇f(x)‖², ∇h = ∇²f ∇f.
  const auto f = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    S s = 0.0;
    for (Index i = 0; i < x.size(); ++i) s += exp(x(i)) * x((i + 1) % x.size());
    return s;
  };
  const auto h = [&](const auto& x) {
    using S = scalar_t<decltype(x)>;
    const auto gr = jacnet::gradient(f, x);  // AD input: forward mode over the outer scalar
    return S(0.5 * gr.gradient.squaredNorm());
  };
  const auto grad_f = [&](const auto& x) { return jacnet::gradient(f, x).gradient; };
  const VectorXd x = det_matrix(5, 1, 0.6);
  const Index n = x.size();
  // Analytic: ∂f/∂x_i = e^{x_i} x_{i+1} + e^{x_{i−1}}; H_ii = e^{x_i} x_{i+1}, H_{i,i+1} = e^{x_i}.
  VectorXd ga(n);
  MatrixXd Ha = MatrixXd::Zero(n, n);
  for (Index i = 0; i < n; ++i) {
    const Index ip = (i + 1) % n, im = (i + n - 1) % n;
    ga(i) = std::exp(x(i)) * x(ip) + std::exp(x(im));
    Ha(i, i) += std::exp(x(i)) * x(ip);
    Ha(i, ip) += std::exp(x(i));
    Ha(ip, i) += std::exp(x(i));
  }
  const auto gh = jacnet::gradient(h, x);
  CHECK((gh.gradient - Ha * ga).norm() <= 1e-12 * (Ha * ga).norm());
  CHECK(gh.value == Approx(0.5 * ga.squaredNorm()).epsilon(1e-14));
  const auto hplain = [&](const VectorXd& v) { return h(v); };
  CHECK((gh.gradient - fd_gradient(hplain, x)).norm() <= 1e-6 * (Ha * ga).norm());
  const MatrixXd H1 = jacnet::jacfwd(grad_f, x);
  const MatrixXd H2 = jacnet::jacrev(grad_f, x);
  const MatrixXd H3 = jacnet::hessian(f, x).hessian;
  CHECK((H1 - Ha).norm() <= 1e-13 * Ha.norm());
  CHECK((H2 - Ha).norm() <= 1e-13 * Ha.norm());
  CHECK((H3 - Ha).norm() <= 1e-13 * Ha.norm());
  // vjp inside a gradient: g(x) = vᵀ ∇f(x)... via vjp of grad_f with cotangent v: ∇g = H v.
  const VectorXd v = det_matrix(5, 1, 2.2);
  const auto gv = [&](const auto& x) {
    using S = scalar_t<decltype(x)>;
    return S(jacnet::vjp(f, x, VectorXd::Ones(1)).cotangent.dot(v));
  };
  CHECK((jacnet::gradient(gv, x).gradient - Ha * v).norm() <= 1e-12 * (Ha * v).norm());
}

TEST_CASE("norm() at the zero vector has derivative 0 in every mode", "[ad][eigen][kinks]") {
  const auto f = [](const auto& x) {
    using S = scalar_t<decltype(x)>;
    return S(x.norm());
  };
  const VectorXd z = VectorXd::Zero(3), a{{3.0, 4.0, 0.0}};
  // Central differences at 0: (‖h e_i‖ − ‖−h e_i‖)/2h = 0, the convention's value.
  CHECK(fd_gradient([&](const VectorXd& v) { return f(v); }, z).isZero(0.0));
  CHECK(jacnet::gradient(f, z).gradient.isZero(0.0));
  CHECK(VectorXd(jacnet::jacfwd(f, z)).isZero(0.0));
  CHECK(jacnet::hessian(f, z).hessian.isZero(0.0));
  CHECK(jacnet::hessian(f, z).gradient.isZero(0.0));
  // Away from 0 nothing changes: ∇‖x‖ = x/‖x‖.
  CHECK(jacnet::gradient(f, a).gradient.isApprox(VectorXd{{0.6, 0.8, 0.0}}, 1e-15));
  CHECK(VectorXd(jacnet::jacfwd(f, a)).isApprox(VectorXd{{0.6, 0.8, 0.0}}, 1e-15));
}
