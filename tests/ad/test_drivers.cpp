// Tests of jacnet/ad/drivers.hpp on functions with known derivatives: Rosenbrock (gradient,
// Hessian), softmax (Jacobian), a 2-layer tanh net written generically (Jacobian, Hessian of a
// scalar loss); jacfwd == jacrev == analytic == central differences; jvp/vjp/hvp against J and H;
// the jacobian() mode choice; float and Ref inputs; misuse errors naming the sizes.
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "jacnet/ad/drivers.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using jacnet::Matrix;
using jacnet::Vector;

namespace {

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

// f(x) = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²
const auto rosenbrock = [](const auto& x) {
  using S = scalar_t<decltype(x)>;
  S s = 0.0;
  for (Index i = 0; i + 1 < x.size(); ++i) {
    const S t = x(i + 1) - x(i) * x(i);
    const S u = 1.0 - x(i);
    s += 100.0 * t * t + u * u;
  }
  return s;
};
VectorXd rosenbrock_grad(const VectorXd& x) {
  const Index n = x.size();
  VectorXd g = VectorXd::Zero(n);
  for (Index i = 0; i + 1 < n; ++i) {
    g(i) += -400.0 * x(i) * (x(i + 1) - x(i) * x(i)) - 2.0 * (1.0 - x(i));
    g(i + 1) += 200.0 * (x(i + 1) - x(i) * x(i));
  }
  return g;
}
MatrixXd rosenbrock_hess(const VectorXd& x) {
  const Index n = x.size();
  MatrixXd H = MatrixXd::Zero(n, n);
  for (Index i = 0; i + 1 < n; ++i) {
    H(i, i) += 1200.0 * x(i) * x(i) - 400.0 * x(i + 1) + 2.0;
    H(i + 1, i + 1) += 200.0;
    H(i, i + 1) = H(i + 1, i) = -400.0 * x(i);
  }
  return H;
}

const auto softmax = [](const auto& x) {
  using S = scalar_t<decltype(x)>;
  using std::exp;
  S mx = x(0);
  for (Index i = 1; i < x.size(); ++i)
    if (x(i) > mx) mx = x(i);
  Vector<S> e(x.size());
  S z = 0.0;
  for (Index i = 0; i < x.size(); ++i) {
    e(i) = exp(x(i) - mx);
    z += e(i);
  }
  Vector<S> y(x.size());
  for (Index i = 0; i < x.size(); ++i) y(i) = e(i) / z;
  return y;
};

/// y = W2 tanh(W1 x + b1) + b2, written once with Eigen ops over the scalar S.
struct TanhNet {
  MatrixXd W1, W2;
  VectorXd b1, b2;
  TanhNet(Index n, Index h, Index m) : W1(h, n), W2(m, h), b1(h), b2(m) {
    for (Index i = 0; i < W1.rows(); ++i)
      for (Index j = 0; j < W1.cols(); ++j) W1(i, j) = 0.7 * std::sin(1.0 + 3.0 * i + 1.7 * j);
    for (Index i = 0; i < W2.rows(); ++i)
      for (Index j = 0; j < W2.cols(); ++j) W2(i, j) = 0.9 * std::cos(0.3 + 2.0 * i - 0.9 * j);
    for (Index i = 0; i < h; ++i) b1(i) = 0.1 * (i % 3) - 0.1;
    for (Index i = 0; i < m; ++i) b2(i) = 0.05 * i;
  }
  template <class X>
  auto operator()(const X& x) const {
    using S = scalar_t<X>;
    const Vector<S> a = W1.cast<S>() * x + b1.cast<S>();
    Vector<S> h(a.size());
    for (Index i = 0; i < a.size(); ++i) {
      using std::tanh;
      h(i) = tanh(a(i));
    }
    return Vector<S>(W2.cast<S>() * h + b2.cast<S>());
  }
  MatrixXd jacobian(const VectorXd& x) const {
    const VectorXd a = W1 * x + b1;
    const VectorXd d = (1.0 - a.array().tanh().square()).matrix();
    return W2 * d.asDiagonal() * W1;
  }
};

MatrixXd fd_jacobian(const auto& f, const VectorXd& x) {
  const VectorXd y0 = jacnet::detail::eval_vector(f, VectorXd(x));
  MatrixXd J(y0.size(), x.size());
  for (Index i = 0; i < x.size(); ++i) {
    const double h = 1e-6 * std::max(1.0, std::abs(x(i)));
    VectorXd xp = x, xm = x;
    xp(i) += h;
    xm(i) -= h;
    J.col(i) = (jacnet::detail::eval_vector(f, xp) - jacnet::detail::eval_vector(f, xm)) / (2 * h);
  }
  return J;
}

double max_abs_diff(const auto& a, const auto& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (MatrixXd(a) - MatrixXd(b)).cwiseAbs().maxCoeff();
}

VectorXd test_point(Index n, double phase = 0.0) {
  VectorXd x(n);
  for (Index i = 0; i < n; ++i) x(i) = 1.1 * std::sin(0.9 * i + 0.4 + phase);
  return x;
}

}  // namespace

TEST_CASE("Rosenbrock: gradient, Hessian, hvp vs the known formulas", "[drivers]") {
  for (Index n : {2, 5, 11, 20}) {
    INFO("n = " << n);
    const VectorXd x = test_point(n);
    const auto g = jacnet::gradient(rosenbrock, x);
    CHECK(g.value == Approx(rosenbrock(x)).epsilon(1e-14));
    CHECK(max_abs_diff(g.gradient, rosenbrock_grad(x)) < 1e-11);
    CHECK(max_abs_diff(g.gradient.transpose(), fd_jacobian(rosenbrock, x)) < 1e-5);

    const MatrixXd H = rosenbrock_hess(x);
    const auto h8 = jacnet::hessian(rosenbrock, x);  // chunks of 8: 11 and 20 leave remainders
    const auto h3 = jacnet::hessian<3>(rosenbrock, x);
    CHECK(max_abs_diff(h8.hessian, H) < 1e-10);
    CHECK(max_abs_diff(h3.hessian, H) < 1e-10);
    CHECK(max_abs_diff(h8.gradient, g.gradient) < 1e-11);
    CHECK(h8.value == Approx(g.value));
    // and vs central differences of the (analytic) gradient
    CHECK(max_abs_diff(h8.hessian, fd_jacobian(rosenbrock_grad, x)) < 1e-4);

    VectorXd u(n);
    for (Index i = 0; i < n; ++i) u(i) = std::cos(1.0 + i);
    const auto hv = jacnet::hvp(rosenbrock, x, u);
    CHECK(max_abs_diff(hv.hvp, H * u) < 1e-10);
    CHECK(max_abs_diff(hv.gradient, g.gradient) < 1e-11);
    CHECK(hv.value == Approx(g.value));

    // jacfwd / jacrev of a scalar function: the 1 x n gradient row.
    CHECK(max_abs_diff(jacnet::jacfwd(rosenbrock, x), g.gradient.transpose()) < 1e-11);
    CHECK(max_abs_diff(jacnet::jacrev(rosenbrock, x), g.gradient.transpose()) < 1e-11);
  }
  // At the minimum (1, ..., 1): zero gradient, known Hessian.
  const VectorXd ones = VectorXd::Ones(6);
  CHECK(jacnet::gradient(rosenbrock, ones).gradient.cwiseAbs().maxCoeff() == 0.0);
  CHECK(max_abs_diff(jacnet::hessian(rosenbrock, ones).hessian, rosenbrock_hess(ones)) == 0.0);
}

TEST_CASE("softmax: Jacobian diag(s) − s sᵀ by every driver", "[drivers]") {
  const VectorXd x = test_point(7, 1.0) * 2.0;
  const VectorXd s = softmax(x);
  const MatrixXd J = MatrixXd(s.asDiagonal()) - s * s.transpose();
  CHECK(max_abs_diff(jacnet::jacfwd(softmax, x), J) < 1e-14);
  CHECK(max_abs_diff(jacnet::jacfwd<1>(softmax, x), J) < 1e-14);
  CHECK(max_abs_diff(jacnet::jacfwd<3>(softmax, x), J) < 1e-14);
  CHECK(max_abs_diff(jacnet::jacfwd<16>(softmax, x), J) < 1e-14);
  for (int chunk : {1, 2, 3, 7, 8, 100}) {
    INFO("rev_chunk = " << chunk);
    jacnet::JacobianOptions o;
    o.rev_chunk = chunk;
    CHECK(max_abs_diff(jacnet::jacrev(softmax, x, o), J) < 1e-14);
  }
  CHECK(max_abs_diff(jacnet::jacobian(softmax, x), J) < 1e-14);
  CHECK(max_abs_diff(fd_jacobian(softmax, x), J) < 1e-8);

  VectorXd u(7), v(7);
  for (Index i = 0; i < 7; ++i) {
    u(i) = 0.3 * i - 1.0;
    v(i) = std::sin(2.0 * i);
  }
  const auto jv = jacnet::jvp(softmax, x, u);
  CHECK(max_abs_diff(jv.value, s) < 1e-15);
  CHECK(max_abs_diff(jv.tangent, J * u) < 1e-14);
  const auto vj = jacnet::vjp(softmax, x, v);
  CHECK(max_abs_diff(vj.value, s) < 1e-15);
  CHECK(max_abs_diff(vj.cotangent, J.transpose() * v) < 1e-14);
}

TEST_CASE("2-layer tanh net written generically: jacfwd == jacrev == analytic == FD", "[drivers]") {
  for (auto [n, h, m] : {std::tuple<Index, Index, Index>{5, 7, 3}, {3, 6, 6}, {4, 9, 10}}) {
    INFO("net " << n << " -> " << h << " -> " << m);
    const TanhNet net(n, h, m);
    const VectorXd x = test_point(n, 0.5);
    const MatrixXd J = net.jacobian(x);
    const Matrix<double> Jf = jacnet::jacfwd(net, x);
    const Matrix<double> Jr = jacnet::jacrev(net, x);
    CHECK(max_abs_diff(Jf, J) < 1e-13);
    CHECK(max_abs_diff(Jr, J) < 1e-13);
    CHECK(max_abs_diff(Jf, Jr) < 1e-13);
    CHECK(max_abs_diff(jacnet::jacobian(net, x), J) < 1e-13);
    CHECK(max_abs_diff(fd_jacobian(net, x), J) < 1e-8);

    // Hessian of a scalar loss of the net, L = ½‖y‖², vs central differences of its gradient.
    const auto loss = [&net](const auto& xx) {
      const auto y = net(xx);
      return 0.5 * y.squaredNorm();
    };
    const auto H = jacnet::hessian(loss, x);
    const auto grad = [&loss](const VectorXd& xx) { return jacnet::gradient(loss, xx).gradient; };
    CHECK(max_abs_diff(H.gradient, J.transpose() * net(x)) < 1e-12);
    CHECK(max_abs_diff(H.hessian, fd_jacobian(grad, x)) < 1e-6);
    CHECK(max_abs_diff(H.hessian, H.hessian.transpose()) < 1e-12);
  }
}

TEST_CASE("jacfwd: a chunk over twice the input runs the narrower chunk, same bits", "[drivers]") {
  // Vector f (the tanh net, n = 5 and 8) and scalar f (Rosenbrock, n = 3, 8, 16): chunks 16 and 32
  // give exactly jacfwd<8>'s (n <= 8) or jacfwd<16>'s (8 < n <= 16) numbers, and the right ones.
  for (const Index n : {Index(5), Index(8)}) {
    INFO("tanh net " << n << " -> 7 -> 3");
    const TanhNet net(n, 7, 3);
    const VectorXd x = test_point(n, 0.3);
    const Matrix<double> J8 = jacnet::jacfwd<8>(net, x);
    CHECK(jacnet::jacfwd<16>(net, x) == J8);
    CHECK(jacnet::jacfwd<32>(net, x) == J8);
    CHECK(max_abs_diff(J8, net.jacobian(x)) < 1e-13);
  }
  for (const Index n : {Index(3), Index(8), Index(16)}) {
    INFO("Rosenbrock n = " << n);
    const VectorXd x = test_point(n, 0.7);
    const auto g16 = jacnet::jacfwd<16>(rosenbrock, x);
    const auto g32 = jacnet::jacfwd<32>(rosenbrock, x);
    STATIC_REQUIRE(std::is_same_v<std::decay_t<decltype(g32)>, Eigen::Matrix<double, 1, Eigen::Dynamic>>);
    CHECK(g32 == g16);
    if (n <= 8) CHECK(g16 == jacnet::jacfwd<8>(rosenbrock, x));
    CHECK(max_abs_diff(g32.transpose(), rosenbrock_grad(x)) < 1e-11);
  }
}

TEST_CASE("jacobian(): forward when inputs <= outputs, reverse otherwise", "[drivers]") {
  int fwd = 0, rev = 0;
  auto counting = [&](Index n, Index m) {
    const TanhNet net(n, 4, m);
    return [&, net](const auto& x) {
      using S = scalar_t<decltype(x)>;
      if constexpr (jacnet::is_dual_v<S>) ++fwd;
      if constexpr (std::is_same_v<S, jacnet::Var<double>>) ++rev;
      return net(x);
    };
  };
  auto wide_out = counting(3, 6);  // n = 3 <= m = 6: forward, one chunk
  const Matrix<double> J1 = jacnet::jacobian(wide_out, test_point(3));
  CHECK(fwd == 1);
  CHECK(rev == 0);
  fwd = rev = 0;
  auto wide_in = counting(6, 3);  // n = 6 > m = 3: reverse, one recording
  const Matrix<double> J2 = jacnet::jacobian(wide_in, test_point(6));
  CHECK(fwd == 0);
  CHECK(rev == 1);
  fwd = rev = 0;
  auto square = counting(4, 4);  // n == m: forward
  jacnet::jacobian(square, test_point(4));
  CHECK(fwd == 1);
  CHECK(rev == 0);
  // Forcing a mode gives the same matrix.
  jacnet::JacobianOptions o;
  o.mode = jacnet::JacobianOptions::Mode::Reverse;
  CHECK(max_abs_diff(jacnet::jacobian(wide_out, test_point(3), o), J1) < 1e-13);
  o.mode = jacnet::JacobianOptions::Mode::Forward;
  CHECK(max_abs_diff(jacnet::jacobian(wide_in, test_point(6), o), J2) < 1e-13);
}

TEST_CASE("float, Ref and block inputs", "[drivers]") {
  const VectorXd x = test_point(6);
  const Eigen::VectorXf xf = x.cast<float>();
  const auto gf = jacnet::gradient(rosenbrock, xf);
  static_assert(std::is_same_v<decltype(gf.value), float>);
  const VectorXd gd = jacnet::gradient(rosenbrock, VectorXd(xf.cast<double>())).gradient;
  CHECK(max_abs_diff(gf.gradient.cast<double>(), gd) < 1e-3 * gd.cwiseAbs().maxCoeff());
  const Matrix<float> Jf = jacnet::jacfwd(softmax, xf);
  CHECK(max_abs_diff(Jf.cast<double>(), jacnet::jacrev(softmax, x)) < 1e-6);

  const Eigen::Ref<const VectorXd> r(x);
  CHECK(max_abs_diff(jacnet::gradient(rosenbrock, r).gradient, rosenbrock_grad(x)) < 1e-11);
  const VectorXd big = test_point(10);
  CHECK(max_abs_diff(jacnet::gradient(rosenbrock, big.segment(2, 5)).gradient,
                     rosenbrock_grad(big.segment(2, 5))) < 1e-11);
}

TEST_CASE("drivers leave the thread's tape as they found it", "[drivers]") {
  auto& tape = jacnet::Tape<double>::active();
  jacnet::Var<double> outer = 2.0;  // recorded before: must stay valid
  const auto size = tape.size();
  const VectorXd x = test_point(9);
  jacnet::gradient(rosenbrock, x);
  jacnet::jacrev(softmax, x);
  jacnet::hessian(rosenbrock, x);
  jacnet::hvp(rosenbrock, x, x);
  jacnet::vjp(softmax, x, x);
  CHECK(tape.size() == size);
  jacnet::Var<double> y = outer * 3.0;
  CHECK(y.value() == 6.0);
}

TEST_CASE("misuse: empty input, mismatched sizes, non-scalar f", "[drivers][errors]") {
  const VectorXd empty(0);
  const VectorXd x = test_point(5);
  using Catch::Contains;
  using jacnet::ShapeError;
  using jacnet::ValueError;
  CHECK_THROWS_AS(jacnet::gradient(rosenbrock, empty), ValueError);
  CHECK_THROWS_WITH(jacnet::gradient(rosenbrock, empty),
                    Contains("gradient") && Contains("input x is empty (size 0)"));
  CHECK_THROWS_AS(jacnet::jacfwd(softmax, empty), ValueError);
  CHECK_THROWS_AS(jacnet::jacrev(softmax, empty), ValueError);
  CHECK_THROWS_AS(jacnet::jacobian(softmax, empty), ValueError);
  CHECK_THROWS_AS(jacnet::hessian(rosenbrock, empty), ValueError);
  CHECK_THROWS_AS(jacnet::jvp(softmax, empty, empty), ValueError);
  CHECK_THROWS_AS(jacnet::vjp(softmax, empty, empty), ValueError);
  CHECK_THROWS_AS(jacnet::hvp(rosenbrock, empty, empty), ValueError);

  const VectorXd u4 = VectorXd::Ones(4);
  CHECK_THROWS_AS(jacnet::jvp(softmax, x, u4), ShapeError);
  CHECK_THROWS_WITH(jacnet::jvp(softmax, x, u4), Contains("jvp") &&
                                                     Contains("direction u has size 4 x 1") &&
                                                     Contains("input x has size 5"));
  CHECK_THROWS_WITH(jacnet::hvp(rosenbrock, x, u4), Contains("hvp") &&
                                                        Contains("direction u has size 4 x 1") &&
                                                        Contains("input x has size 5"));
  const TanhNet net(5, 4, 3);
  CHECK_THROWS_AS(jacnet::vjp(net, x, u4), ShapeError);
  CHECK_THROWS_WITH(jacnet::vjp(net, x, u4), Contains("vjp") &&
                                                 Contains("cotangent v has size 4 x 1") &&
                                                 Contains("f(x) has size 3"));
  // gradient/hessian need a scalar f (a vector of size 1 is accepted).
  CHECK_THROWS_WITH(jacnet::gradient(net, x),
                    Contains("gradient") && Contains("scalar") && Contains("f(x) has size 3"));
  CHECK_THROWS_AS(jacnet::hessian(net, x), ShapeError);
  const TanhNet one(5, 4, 1);
  CHECK(jacnet::gradient(one, x).gradient.size() == 5);
  // x must be a column vector.
  const MatrixXd mat = MatrixXd::Ones(3, 2);
  CHECK_THROWS_WITH(jacnet::jacfwd(softmax, mat),
                    Contains("jacfwd") && Contains("column vector") && Contains("3 x 2"));
  jacnet::JacobianOptions bad;
  bad.rev_chunk = 0;
  CHECK_THROWS_WITH(jacnet::jacrev(softmax, x, bad), Contains("rev_chunk") && Contains("got 0"));
  // An f whose output size changes between forward passes.
  int calls = 0;
  const auto unstable = [&calls](const auto& xx) {
    using S = scalar_t<decltype(xx)>;
    ++calls;
    return Vector<S>(xx.head(calls == 1 ? 2 : 3));
  };
  CHECK_THROWS_WITH(jacnet::jacfwd<2>(unstable, x),
                    Contains("jacfwd") && Contains("f(x) has size 3") && Contains("2 in pass 0"));
  // The tape is still usable after errors.
  CHECK(max_abs_diff(jacnet::gradient(rosenbrock, x).gradient, rosenbrock_grad(x)) < 1e-11);
}
