// Tests of nn/modes.hpp: jacrev == jacfwd == finite differences (MLP with every activation and a
// Flatten net); jvp/vjp/jacobian_rows against the full Jacobian; seed builders; param_gradient vs
// finite differences; thread-count independence; shape errors.
#include <catch2/catch.hpp>

#include "jacnet/nn/modes.hpp"
#include "support/layer_check.hpp"
#include "support/nets.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {
/// Per-sample Jacobians by central differences, (B*K) x D.
template <class Net>
Mat fd_jacobian(const Net& net, const Mat& X, double h = 1e-6) {
  const Index B = X.rows(), D = X.cols(), K = net.output_size();
  Mat J(B * K, D);
  for (Index d = 0; d < D; ++d) {
    Mat Xp = X, Xm = X;
    Xp.col(d).array() += h;
    Xm.col(d).array() -= h;
    const Mat dY = (net.forward(Xp) - net.forward(Xm)) / (2 * h);
    for (Index b = 0; b < B; ++b) J.block(b * K, d, K, 1) = dY.row(b).transpose();
  }
  return J;
}
}  // namespace

TEST_CASE("jacrev == jacfwd == finite differences for an MLP with every activation",
          "[nn][modes]") {
  auto net = all_activation_mlp<double>();
  net.init(3);
  std::mt19937_64 rng(4);
  net.set_params(net.param_vector() + 0.1 * random_vector(net.num_params(), rng));
  const Mat X = random_matrix(6, 5, rng, -2, 2);
  const Mat Jr = nn::jacrev(net, X), Jf = nn::jacfwd(net, X), Jd = fd_jacobian(net, X);
  REQUIRE(Jr.rows() == 6 * 3);
  REQUIRE(Jr.cols() == 5);
  JACNET_CHECK_CLOSE(Jr, Jf, 1e-12, "jacrev vs jacfwd");
  JACNET_CHECK_CLOSE(Jr, Jd, 1e-7, "jacrev vs finite differences");
  CHECK(nn::jacobian_uses_reverse(net));
  CHECK(nn::jacobian(net, X) == Jr);
}

TEST_CASE("jacrev == jacfwd == finite differences through Flatten (K < D and K > D)",
          "[nn][modes]") {
  auto net = flatten_mlp<double>();
  net.init(8);
  std::mt19937_64 rng(1);
  const Mat X = random_matrix(3, 6, rng);
  const Mat Jr = nn::jacrev(net, X), Jf = nn::jacfwd(net, X);
  JACNET_CHECK_CLOSE(Jr, Jf, 1e-12, "jacrev vs jacfwd");
  JACNET_CHECK_CLOSE(Jr, fd_jacobian(net, X), 1e-7, "jacrev vs finite differences");
  // 2 inputs → 4 outputs: jacobian() picks forward mode
  using namespace jacnet::nn;
  Sequential<Dense<double>, Tanh<double>, Dense<double>> wide(Shape{2}, Dense<double>(2, 6),
                                                              Tanh<double>(), Dense<double>(6, 4));
  wide.init(2);
  const Mat X2 = random_matrix(5, 2, rng);
  CHECK_FALSE(jacobian_uses_reverse(wide));
  CHECK(nn::jacobian(wide, X2) == nn::jacfwd(wide, X2));
  JACNET_CHECK_CLOSE(nn::jacrev(wide, X2), nn::jacfwd(wide, X2), 1e-12, "wide jacrev vs jacfwd");
}

TEST_CASE("jvp, vjp and jacobian_rows agree with the full Jacobian", "[nn][modes]") {
  auto net = all_activation_mlp<double>();
  net.init(11);
  std::mt19937_64 rng(12);
  const Index B = 4, K = 3, D = 5, M = 2;
  const Mat X = random_matrix(B, D, rng);
  const Mat J = nn::jacrev(net, X);
  const Mat U = random_matrix(B * M, D, rng), V = random_matrix(B * M, K, rng);
  const Mat ju = nn::jvp(net, X, U), vj = nn::vjp(net, X, V);
  const Mat rows = nn::jacobian_rows(net, X, V);
  Mat ju_ref(B * M, K), vj_ref(B * M, D);
  for (Index b = 0; b < B; ++b)
    for (Index m = 0; m < M; ++m) {
      ju_ref.row(b * M + m) = (J.middleRows(b * K, K) * U.row(b * M + m).transpose()).transpose();
      vj_ref.row(b * M + m) = V.row(b * M + m) * J.middleRows(b * K, K);
    }
  JACNET_CHECK_CLOSE(ju, ju_ref, 1e-12, "jvp vs J·u");
  JACNET_CHECK_CLOSE(vj, vj_ref, 1e-12, "vjp vs vᵀJ");
  JACNET_CHECK_CLOSE(rows, vj_ref, 1e-12, "jacobian_rows (dense seeds) vs vᵀJ");
  // one-hot seeds (fast path): label class and top-k pick the right rows
  const std::vector<Index> labels{2, 0, 1, 1};
  const Mat lab = nn::jacobian_rows(net, X, nn::seeds_label<double>(labels, K));
  // (same values up to rounding: GEMMs with other row counts may sum in another order)
  for (Index b = 0; b < B; ++b)
    JACNET_CHECK_CLOSE(lab.row(b), J.row(b * K + labels[std::size_t(b)]), 1e-13, "label row");
  const Mat Yt = random_matrix(B, K, rng);
  const auto top = nn::top_k_indices(Yt, 2);
  const Mat tk = nn::jacobian_rows(net, X, nn::seeds_top_k(Yt, 2));
  for (Index b = 0; b < B; ++b)
    for (Index m = 0; m < 2; ++m)
      JACNET_CHECK_CLOSE(tk.row(b * 2 + m), J.row(b * K + top[std::size_t(b * 2 + m)]), 1e-13,
                         "top-k row");
  // full one-hot seeds through jacobian_rows == jacrev
  CHECK(nn::jacobian_rows(net, X, nn::seeds_full<double>(B, K)) == J);
}

TEST_CASE("seed builders", "[nn][modes]") {
  Mat Y(2, 4);
  Y << 0.1, -3.0, 2.0, 2.0,  //
      5.0, 1.0, -7.0, 0.0;
  CHECK(nn::top_k_indices(Y, 2) == std::vector<Index>{2, 3, 0, 1});  // ties: lower index first
  CHECK(nn::top_k_indices(Y, 1, true) == std::vector<Index>{1, 2});  // by magnitude
  const Mat S = nn::seeds_top_k(Y, 2);
  CHECK(S.rows() == 4);
  CHECK(S(0, 2) == 1);
  CHECK(S(1, 3) == 1);
  CHECK(S.sum() == 4);
  CHECK(nn::seeds_full<double>(2, 3).rows() == 6);
  CHECK(nn::seeds_full<double>(2, 3)(4, 1) == 1);
  std::mt19937_64 r1(5), r2(5);
  const Mat R = nn::seeds_random_unit<double>(3, 2, 7, r1);
  CHECK(R == nn::seeds_random_unit<double>(3, 2, 7, r2));
  for (Index r = 0; r < R.rows(); ++r) CHECK(R.row(r).norm() == Approx(1.0));
  CHECK_THROWS_AS(nn::seeds_label<double>(std::vector<Index>{0, 3}, 3), ValueError);
  CHECK_THROWS_AS(nn::top_k_indices(Y, 5), ValueError);
}

TEST_CASE("param_gradient matches finite differences", "[nn][modes]") {
  auto net = all_activation_mlp<double>();
  net.init(21);
  std::mt19937_64 rng(22);
  const Mat X = random_matrix(5, 5, rng), W = random_matrix(5, 3, rng);
  // L = Σ W ⊙ Y + ½ Σ Y²  →  Ybar = W + Y
  auto loss = [&](const Vec& th, const Mat& x) {
    auto n = net;
    n.set_params(th);
    const Mat Y = n.forward(x);
    return (W.array() * Y.array()).sum() + 0.5 * Y.squaredNorm();
  };
  const Mat Ybar = W + net.forward(X);
  Vec g;
  Mat Xbar;
  nn::param_gradient(net, X, Ybar, g, &Xbar);
  const Vec th = net.param_vector();
  const Vec fd = fd_gradient([&](const Vec& t) { return loss(t, X); }, th);
  JACNET_CHECK_CLOSE(Mat(g), Mat(fd), 1e-7, "param_gradient vs finite differences");
  Vec xv = Eigen::Map<const Vec>(X.data(), X.size());
  const Vec fdx = fd_gradient(
      [&](const Vec& v) { return loss(th, Eigen::Map<const Mat>(v.data(), 5, 5)); }, xv);
  JACNET_CHECK_CLOSE(Xbar, Mat(Eigen::Map<const Mat>(fdx.data(), 5, 5)), 1e-7,
                     "input gradient vs finite differences");
  CHECK_THROWS_AS(nn::param_gradient(net, X, Mat(5, 2), g), ShapeError);
}

TEST_CASE("modes do not depend on the thread count", "[nn][modes][threads]") {
  auto run = [](auto tag) {
    using S = typename decltype(tag)::type;
    auto net = wide_mlp<S>();
    net.init(31);
    std::mt19937_64 rng(32);
    const Matrix<S> X = random_matrix(128, 300, rng).cast<S>();
    const Matrix<S> Yb = random_matrix(128, 10, rng).cast<S>();
    jacnet::testing::check_same_for_any_thread_count([&] {
      Matrix<S> Jr = nn::jacrev(net, X), Jf = nn::jacfwd(net, X);
      Vector<S> g;
      nn::param_gradient(net, X, Yb, g);
      return std::make_tuple(Jr, Jf, g);
    });
  };
  run(type_tag<float>{});
  run(type_tag<double>{});
}

TEST_CASE("modes reject mis-shaped inputs", "[nn][modes]") {
  auto net = all_activation_mlp<double>();
  net.init(1);
  const Mat X = Mat::Zero(2, 5);
  CHECK_THROWS_AS(nn::jacrev(net, Mat::Zero(2, 4)), ShapeError);
  CHECK_THROWS_AS(nn::jvp(net, X, Mat::Zero(3, 5)), ShapeError);  // 3 rows for 2 samples
  CHECK_THROWS_AS(nn::vjp(net, X, Mat::Zero(2, 4)), ShapeError);  // 4 columns, K = 3
  CHECK_THROWS_AS(nn::jacobian_rows(net, X, Mat::Zero(4, 2)), ShapeError);
  try {
    nn::jacrev(net, Mat::Zero(2, 4));
  } catch (const ShapeError& e) {
    CHECK(std::string(e.what()).find("[5]") != std::string::npos);
  }
}

TEST_CASE("a reused workspace does not reallocate", "[nn][modes]") {
  auto net = all_activation_mlp<double>();
  net.init(2);
  std::mt19937_64 rng(3);
  nn::Workspace<double> ws;
  Mat J;
  auto pointers = [&] {
    std::vector<const double*> p;
    for (const auto& m : ws.dirs) p.push_back(m.data());
    for (const auto& m : ws.trace.acts) p.push_back(m.data());
    p.push_back(J.data());
    return p;
  };
  nn::jacrev(net, random_matrix(6, 5, rng), ws, J);
  const auto before = pointers();
  nn::jacrev(net, random_matrix(6, 5, rng), ws, J);
  CHECK(pointers() == before);
  Vec g;
  nn::param_gradient(net, random_matrix(6, 5, rng), random_matrix(6, 3, rng), g, ws);
  std::vector<const double*> pg;
  for (const auto& m : ws.scratch.abar) pg.push_back(m.data());
  nn::param_gradient(net, random_matrix(6, 5, rng), random_matrix(6, 3, rng), g, ws);
  std::vector<const double*> pg2;
  for (const auto& m : ws.scratch.abar) pg2.push_back(m.data());
  CHECK(pg == pg2);
}
