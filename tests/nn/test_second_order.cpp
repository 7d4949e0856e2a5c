// Tests of the second-order machinery (jacobian_pass + backprop, jvp_pass + backprop): the exact
// gradient of losses built from outputs, Jacobian rows and intermediate activations,
//   L = Σ (J − Jt)² + Σ y² + c Σ a_l²   (J = seeded Jacobian rows; full, label, top-k, random)
//   L = Σ (J·U − T)² + Σ y²             (JVP mode)
// against central finite differences in every parameter and input, and against the scalar AD core
// (the same pass run on Dual<double,1> scalars, seeded with a random (θ, X) direction).
#include <catch2/catch.hpp>

#include "jacnet/nn/modes.hpp"
#include "support/layer_check.hpp"
#include "support/nets.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

constexpr std::size_t kActLayer = 4;  // boundary whose activations enter the loss
constexpr double kActWeight = 0.3;

/// Loss value (any scalar S) and, for S = double, its adjoints for backprop.
template <class Net, class S = typename Net::Scalar>
S jacobian_loss(const Net& net, const Matrix<S>& X, const Matrix<S>& seeds, const Mat& Jt,
                Matrix<S>* Ybar = nullptr, Matrix<S>* Jbar = nullptr,
                std::vector<Matrix<S>>* act_bars = nullptr) {
  const auto pass = nn::jacobian_pass(net, X, seeds);
  const Matrix<S>& J = pass.J();
  const Matrix<S>& Y = pass.outputs();
  const Matrix<S>& A = pass.activation(kActLayer);
  S L(0.0);
  for (Index i = 0; i < J.size(); ++i) {
    const S d = J.data()[i] - S(Jt.data()[i]);
    L += d * d;
  }
  for (Index i = 0; i < Y.size(); ++i) L += Y.data()[i] * Y.data()[i];
  for (Index i = 0; i < A.size(); ++i) L += S(kActWeight) * A.data()[i] * A.data()[i];
  if (Ybar) *Ybar = S(2.0) * Y;
  if (Jbar) {
    *Jbar = J;
    for (Index i = 0; i < J.size(); ++i) Jbar->data()[i] = S(2.0) * (J.data()[i] - S(Jt.data()[i]));
  }
  if (act_bars) {
    act_bars->assign(Net::num_layers + 1, Matrix<S>());
    (*act_bars)[kActLayer] = S(2.0 * kActWeight) * A;
  }
  return L;
}

/// backprop's gradient vs FD (θ and X) and vs Dual directional derivatives.
template <class MakeNet>
void check_jacobian_loss(MakeNet make, const Mat& X, const Mat& seeds, std::uint64_t seed) {
  auto net = make(type_tag<double>{});
  net.init(seed);
  std::mt19937_64 rng(seed + 1);
  net.set_params(net.param_vector() + 0.1 * random_vector(net.num_params(), rng));
  const Index B = X.rows(), M = seeds.rows() / B;
  const Mat Jt = random_matrix(B * M, X.cols(), rng, -0.2, 0.2);

  Mat Ybar, Jbar, Xbar;
  std::vector<Mat> act_bars;
  jacobian_loss(net, X, seeds, Jt, &Ybar, &Jbar, &act_bars);
  auto pass = nn::jacobian_pass(net, X, seeds);
  Vec g;
  nn::backprop(net, pass, Ybar, Jbar, act_bars, g, &Xbar);
  REQUIRE(g.size() == net.num_params());
  REQUIRE(Xbar.rows() == B);
  REQUIRE(Xbar.cols() == X.cols());

  // finite differences
  const Vec th = net.param_vector();
  auto at = [&](const Vec& t, const Mat& x) {
    auto n = net;
    n.set_params(t);
    return jacobian_loss(n, x, seeds, Jt);
  };
  const Vec fd = fd_gradient([&](const Vec& t) { return at(t, X); }, th, 1e-5);
  JACNET_CHECK_CLOSE(Mat(g), Mat(fd), 1e-6, "dL/dθ vs finite differences");
  const Vec xv = Eigen::Map<const Vec>(X.data(), X.size());
  const Vec fdx = fd_gradient(
      [&](const Vec& v) { return at(th, Eigen::Map<const Mat>(v.data(), B, X.cols())); }, xv, 1e-5);
  JACNET_CHECK_CLOSE(Xbar, Mat(Eigen::Map<const Mat>(fdx.data(), B, X.cols())), 1e-6,
                     "dL/dX vs finite differences");

  // scalar AD: the same pass on Dual scalars, direction (dθ, dX)
  using D = Dual<double, 1>;
  auto dnet = make(type_tag<D>{});
  const Vec dth = random_vector(net.num_params(), rng);
  const Mat dX = random_matrix(B, X.cols(), rng);
  Vector<D> pd(net.num_params());
  for (Index i = 0; i < pd.size(); ++i) {
    pd[i] = D(th[i]);
    pd[i].set_d(0, dth[i]);
  }
  dnet.set_params(pd);
  Matrix<D> Xd(B, X.cols());
  for (Index i = 0; i < X.size(); ++i) {
    Xd.data()[i] = D(X.data()[i]);
    Xd.data()[i].set_d(0, dX.data()[i]);
  }
  const D Ld = jacobian_loss(dnet, Xd, seeds.cast<D>().eval(), Jt);
  Mat l(1, 1), r(1, 1);
  l(0, 0) = Ld.d(0);
  r(0, 0) = g.dot(dth) + (Xbar.array() * dX.array()).sum();
  JACNET_CHECK_CLOSE(l, r, 1e-11, "directional derivative vs Dual (scalar AD of the pass)");
}

template <class S>
struct MlpMaker {
  auto operator()(auto tag) const { return all_activation_mlp<typename decltype(tag)::type>(); }
};

}  // namespace

TEST_CASE("backprop: Jacobian-matching loss, all activations, every seed kind",
          "[nn][second_order]") {
  std::mt19937_64 rng(100);
  const Index B = 3, K = 3;
  const Mat X = random_matrix(B, 5, rng, -1.5, 1.5);
  auto make = [](auto tag) { return all_activation_mlp<typename decltype(tag)::type>(); };
  SECTION("full Jacobian (one-hot fast path)") {
    check_jacobian_loss(make, X, nn::seeds_full<double>(B, K), 1);
  }
  SECTION("label class") {
    check_jacobian_loss(make, X, nn::seeds_label<double>(std::vector<Index>{2, 0, 1}, K), 2);
  }
  SECTION("top-2 of another net's outputs") {
    check_jacobian_loss(make, X, nn::seeds_top_k(random_matrix(B, K, rng), 2), 3);
  }
  SECTION("random unit projections (dense seeds)") {
    check_jacobian_loss(make, X, nn::seeds_random_unit<double>(B, 2, K, rng), 4);
  }
}

TEST_CASE("backprop through Flatten with sigmoid outputs", "[nn][second_order]") {
  std::mt19937_64 rng(200);
  const Mat X = random_matrix(2, 6, rng);
  auto make = [](auto tag) { return flatten_mlp<typename decltype(tag)::type>(); };
  check_jacobian_loss(make, X, nn::seeds_full<double>(2, 4), 5);
  check_jacobian_loss(make, X, nn::seeds_random_unit<double>(2, 3, 4, rng), 6);
}

TEST_CASE("backprop without Jacobian adjoints equals param_gradient", "[nn][second_order]") {
  auto net = all_activation_mlp<double>();
  net.init(7);
  std::mt19937_64 rng(8);
  const Mat X = random_matrix(4, 5, rng), Ybar = random_matrix(4, 3, rng);
  Vec g1, g2;
  Mat X1, X2;
  nn::param_gradient(net, X, Ybar, g1, &X1);
  auto pass = nn::jacobian_pass(net, X, nn::seeds_full<double>(4, 3));
  nn::backprop(net, pass, Ybar, Mat(), {}, g2, &X2);
  CHECK(g1 == g2);
  CHECK(X1 == X2);
  // zero loss → zero gradient (no adjoint at all)
  nn::backprop(net, pass, Mat(), Mat(), {}, g2, &X2);
  CHECK(g2.isZero());
  CHECK(X2.isZero());
  CHECK(X2.rows() == 4);
}

TEST_CASE("backprop (JVP mode): loss on J·U", "[nn][second_order]") {
  auto net = all_activation_mlp<double>();
  net.init(9);
  std::mt19937_64 rng(10);
  // perturb: zero biases behind a dead ReLU would put the LeakyReLU exactly on its kink
  net.set_params(net.param_vector() + 0.1 * random_vector(net.num_params(), rng));
  const Index B = 3, N = 2;
  const Mat X = random_matrix(B, 5, rng), U = random_matrix(B * N, 5, rng);
  const Mat T = random_matrix(B * N, 3, rng, -0.1, 0.1);
  auto loss = [&](const auto& n, const auto& x, Mat* Ybar, Mat* JUbar) {
    const auto pass = nn::jvp_pass(n, x, U);
    const Mat& JU = pass.JU();
    const Mat& Y = pass.outputs();
    if (Ybar) *Ybar = 2 * Y;
    if (JUbar) *JUbar = 2 * (JU - T);
    return (JU - T).squaredNorm() + Y.squaredNorm();
  };
  Mat Ybar, JUbar, Xbar;
  loss(net, X, &Ybar, &JUbar);
  auto pass = nn::jvp_pass(net, X, U);
  CHECK(pass.JU().rows() == B * N);
  Vec g;
  nn::backprop(net, pass, Ybar, JUbar, {}, g, &Xbar);
  const Vec th = net.param_vector();
  auto at = [&](const Vec& t, const Mat& x) {
    auto n = net;
    n.set_params(t);
    return loss(n, x, nullptr, nullptr);
  };
  const Vec fd = fd_gradient([&](const Vec& t) { return at(t, X); }, th, 1e-5);
  JACNET_CHECK_CLOSE(Mat(g), Mat(fd), 1e-6, "JVP-mode dL/dθ vs finite differences");
  const Vec xv = Eigen::Map<const Vec>(X.data(), X.size());
  const Vec fdx = fd_gradient(
      [&](const Vec& v) { return at(th, Eigen::Map<const Mat>(v.data(), B, 5)); }, xv, 1e-5);
  JACNET_CHECK_CLOSE(Xbar, Mat(Eigen::Map<const Mat>(fdx.data(), B, 5)), 1e-6,
                     "JVP-mode dL/dX vs finite differences");
  // scalar AD: the same pass on Dual scalars along a random (dθ, dX)
  {
    using D = Dual<double, 1>;
    auto dnet = all_activation_mlp<D>();
    const Vec dth = random_vector(net.num_params(), rng);
    const Mat dX = random_matrix(B, 5, rng);
    Vector<D> pd(th.size());
    for (Index i = 0; i < pd.size(); ++i) {
      pd[i] = D(th[i]);
      pd[i].set_d(0, dth[i]);
    }
    dnet.set_params(pd);
    Matrix<D> Xd(B, 5);
    for (Index i = 0; i < X.size(); ++i) {
      Xd.data()[i] = D(X.data()[i]);
      Xd.data()[i].set_d(0, dX.data()[i]);
    }
    const auto dp = nn::jvp_pass(dnet, Xd, U.cast<D>().eval());
    D Ld(0.0);
    for (Index i = 0; i < T.size(); ++i) {
      const D d = dp.JU().data()[i] - D(T.data()[i]);
      Ld += d * d;
    }
    for (Index i = 0; i < dp.outputs().size(); ++i)
      Ld += dp.outputs().data()[i] * dp.outputs().data()[i];
    Mat l(1, 1), r(1, 1);
    l(0, 0) = Ld.d(0);
    r(0, 0) = g.dot(dth) + (Xbar.array() * dX.array()).sum();
    JACNET_CHECK_CLOSE(l, r, 1e-11, "JVP-mode directional derivative vs Dual");
  }
  // J·U from the pass equals jvp()
  JACNET_CHECK_CLOSE(pass.JU(), nn::jvp(net, X, U), 1e-14, "jvp_pass vs jvp");
}

TEST_CASE("backprop does not depend on the thread count", "[nn][second_order][threads]") {
  auto run = [](auto tag) {
    using S = typename decltype(tag)::type;
    auto net = wide_mlp<S>();
    net.init(41);
    std::mt19937_64 rng(42);
    const Index B = 64;
    const Matrix<S> X = random_matrix(B, 300, rng).cast<S>();
    const Matrix<S> Yb = random_matrix(B, 10, rng).cast<S>();
    const Matrix<S> Jb = random_matrix(B * 10, 300, rng).cast<S>();
    const Matrix<S> seeds = nn::seeds_full<S>(B, 10);
    jacnet::testing::check_same_for_any_thread_count([&] {
      nn::JacobianPass<S> pass;
      nn::jacobian_pass(net, X, seeds, pass);
      Vector<S> g;
      Matrix<S> Xb;
      nn::backprop(net, pass, Yb, Jb, {}, g, &Xb);
      return std::make_tuple(Matrix<S>(pass.J()), g, Xb);
    });
  };
  run(type_tag<float>{});
  run(type_tag<double>{});
}

TEST_CASE("backprop rejects mis-shaped adjoints", "[nn][second_order]") {
  auto net = all_activation_mlp<double>();
  net.init(1);
  const Mat X = Mat::Zero(2, 5);
  auto pass = nn::jacobian_pass(net, X, nn::seeds_full<double>(2, 3));
  Vec g;
  CHECK_THROWS_AS(nn::backprop(net, pass, Mat::Zero(2, 2), Mat(), {}, g), ShapeError);
  CHECK_THROWS_AS(nn::backprop(net, pass, Mat(), Mat::Zero(5, 5), {}, g), ShapeError);
  std::vector<Mat> bars(3);
  CHECK_THROWS_AS(nn::backprop(net, pass, Mat(), Mat(), bars, g), ShapeError);
  bars.assign(net.num_layers + 1, Mat());
  bars[2] = Mat::Zero(2, 3);  // boundary 2 has 7 features
  CHECK_THROWS_AS(nn::backprop(net, pass, Mat(), Mat(), bars, g), ShapeError);
  nn::JacobianPass<double> empty;
  CHECK_THROWS_AS(nn::backprop(net, empty, Mat(), Mat(), {}, g), ValueError);
}

TEST_CASE("repeated passes reuse their memory", "[nn][second_order]") {
  auto net = all_activation_mlp<double>();
  net.init(3);
  std::mt19937_64 rng(4);
  const Mat X = random_matrix(4, 5, rng), Yb = random_matrix(4, 3, rng);
  const Mat seeds = nn::seeds_full<double>(4, 3);
  nn::JacobianPass<double> pass;
  Vec g;
  nn::jacobian_pass(net, X, seeds, pass);
  const Mat Jb = random_matrix(12, 5, rng);
  nn::backprop(net, pass, Yb, Jb, {}, g);
  std::vector<const double*> before;
  for (const auto& m : pass.delta) before.push_back(m.data());
  for (const auto& m : pass.trace.acts) before.push_back(m.data());
  for (const auto& m : pass.scratch.eps) before.push_back(m.data());
  for (const auto& m : pass.scratch.abar) before.push_back(m.data());
  for (const auto& m : pass.scratch.xbar) before.push_back(m.data());
  before.push_back(g.data());
  const Mat X2 = random_matrix(4, 5, rng);
  nn::jacobian_pass(net, X2, seeds, pass);
  nn::backprop(net, pass, Yb, Jb, {}, g);
  std::vector<const double*> after;
  for (const auto& m : pass.delta) after.push_back(m.data());
  for (const auto& m : pass.trace.acts) after.push_back(m.data());
  for (const auto& m : pass.scratch.eps) after.push_back(m.data());
  for (const auto& m : pass.scratch.abar) after.push_back(m.data());
  for (const auto& m : pass.scratch.xbar) after.push_back(m.data());
  after.push_back(g.data());
  CHECK(before == after);
}
