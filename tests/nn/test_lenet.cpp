// Net-level tests of the convolutional layers inside nn::Sequential and the modes:
//  * a LeNet-like CNN with both poolings, BatchNorm and several activations (double):
//    jacrev == jacfwd == central finite differences == the scalar AD core (the same net
//    instantiated with Dual<double, 8>, inputs seeded 8 at a time);
//  * the Jacobian-loss gradient (jacobian_pass + backprop, full Jacobian M = K and label rows
//    M = 1) vs finite differences in every parameter and input, and vs a Dual directional
//    derivative of the loss;
//  * LeNet-5 exactly as benchmarked (float): shapes, parameter count and names, float vs double;
//  * thread-count independence of jacrev and backprop; shape errors inside Sequential.
#include <catch2/catch.hpp>

#include "support/skip.hpp"

#include "jacnet/ad/dual.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/layer_check.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;
using nn::Size2;

namespace {

/// {2,10,10} → conv 3x3 pad 1 (4) → tanh → maxpool 2 → [4,5,5] → conv {3,2} stride {1,2}
/// pad {1,1} (5) → [5,5,3] → BatchNorm2d → softplus → avgpool 2 stride 1 → [5,4,2] → flatten
/// → dense 40→12 → ELU → dense 12→4.
template <class S>
auto lenet_like() {
  using namespace nn;
  return Sequential<Conv2d<S>, Tanh<S>, MaxPool2d<S>, Conv2d<S>, BatchNorm2d<S>, Softplus<S>,
                    AvgPool2d<S>, Flatten<S>, Dense<S>, ELU<S>, Dense<S>>(
      Shape{2, 10, 10}, Conv2d<S>(2, 4, 3, 1, 1), Tanh<S>(), MaxPool2d<S>(2),
      Conv2d<S>(4, 5, {3, 2}, {1, 2}, {1, 1}), BatchNorm2d<S>(5), Softplus<S>(), AvgPool2d<S>(2, 1),
      Flatten<S>(), Dense<S>(40, 12), ELU<S>(), Dense<S>(12, 4));
}

/// LeNet-5 as in bench/bench_lenet.cpp: 1x28x28, conv 5x5x6 pad 2, tanh, avgpool 2, conv 5x5x16,
/// tanh, avgpool 2, flatten, dense 400-120-84-10 with tanh.
template <class S>
auto lenet5() {
  using namespace nn;
  return Sequential<Conv2d<S>, Tanh<S>, AvgPool2d<S>, Conv2d<S>, Tanh<S>, AvgPool2d<S>, Flatten<S>,
                    Dense<S>, Tanh<S>, Dense<S>, Tanh<S>, Dense<S>>(
      Shape{1, 28, 28}, Conv2d<S>(1, 6, 5, 1, 2), Tanh<S>(), AvgPool2d<S>(2), Conv2d<S>(6, 16, 5),
      Tanh<S>(), AvgPool2d<S>(2), Flatten<S>(), Dense<S>(400, 120), Tanh<S>(), Dense<S>(120, 84),
      Tanh<S>(), Dense<S>(84, 10));
}

/// A seeded double net with perturbed parameters (nonzero biases, BatchNorm statistics ≠ 0/1).
auto make_net(std::uint64_t seed) {
  auto net = lenet_like<double>();
  net.init(seed);
  std::mt19937_64 rng(seed + 1);
  Vec p = net.param_vector() + 0.1 * random_vector(net.num_params(), rng);
  for (const auto& np : net.named_parameters())
    if (np.name.find("running_var") != std::string::npos)
      for (Index i = 0; i < Index(np.data.size()); ++i)
        p[np.offset + i] = 0.5 + std::abs(p[np.offset + i]);
  net.set_params(p);
  return net;
}

/// Central-difference per-sample Jacobians (B*K) x D.
template <class Net>
Mat fd_jacobian(const Net& net, const Mat& X, double h = 1e-6) {
  const Index B = X.rows(), D = X.cols(), K = net.output_size();
  Mat J(B * K, D);
  for (Index i = 0; i < D; ++i) {
    Mat Xp = X, Xm = X;
    Xp.col(i).array() += h;
    Xm.col(i).array() -= h;
    const Mat d = (net.forward(Xp) - net.forward(Xm)) / (2 * h);
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k) J(b * K + k, i) = d(b, k);
  }
  return J;
}

/// Loss on Jacobian rows and outputs: L = ½ Σ (J − Jt)² + Σ c ⊙ Y, for any scalar S.
template <class Net, class S = typename Net::Scalar>
S jac_loss(const Net& net, const Matrix<S>& X, const Mat& seeds, const Mat& Jt, const Mat& C,
           Matrix<S>* Ybar = nullptr, Matrix<S>* Jbar = nullptr) {
  Matrix<S> sd(seeds.rows(), seeds.cols());
  for (Index i = 0; i < seeds.size(); ++i) sd.data()[i] = S(seeds.data()[i]);
  const auto pass = nn::jacobian_pass(net, X, sd);
  const Matrix<S>& J = pass.J();
  const Matrix<S>& Y = pass.outputs();
  S L(0.0);
  for (Index i = 0; i < J.size(); ++i) {
    const S d = J.data()[i] - S(Jt.data()[i]);
    L += S(0.5) * d * d;
  }
  for (Index i = 0; i < Y.size(); ++i) L += S(C.data()[i]) * Y.data()[i];
  if (Ybar) {
    Ybar->resize(Y.rows(), Y.cols());
    for (Index i = 0; i < Y.size(); ++i) Ybar->data()[i] = S(C.data()[i]);
  }
  if (Jbar) {
    Jbar->resize(J.rows(), J.cols());
    for (Index i = 0; i < J.size(); ++i) Jbar->data()[i] = J.data()[i] - S(Jt.data()[i]);
  }
  return L;
}

void check_jacobian_loss(const Mat& X, const Mat& seeds, std::uint64_t seed) {
  auto net = make_net(seed);
  const Index B = X.rows(), M = seeds.rows() / B, P = net.num_params();
  std::mt19937_64 rng(seed + 2);
  const Mat Jt = random_matrix(B * M, X.cols(), rng, -0.2, 0.2);
  const Mat C = random_matrix(B, net.output_size(), rng);
  INFO("M = " << M);

  Mat Ybar, Jbar, Xbar;
  jac_loss(net, X, seeds, Jt, C, &Ybar, &Jbar);
  auto pass = nn::jacobian_pass(net, X, seeds);
  Vec grads;
  nn::backprop(net, pass, Ybar, Jbar, std::span<const Mat>{}, grads, &Xbar);
  REQUIRE(grads.size() == P);

  // Finite differences in every parameter (every 4th entry of the largest block, the 40x12
  // dense weight, to keep the test fast; the Dual check below covers all) and input entry.
  const double h = 1e-6;
  const Vec p = net.param_vector();
  std::vector<bool> checked(static_cast<std::size_t>(P), true);
  for (const auto& np : net.named_parameters())
    if (np.name == "8.weight")
      for (Index k = 0; k < Index(np.data.size()); ++k)
        checked[static_cast<std::size_t>(np.offset + k)] = k % 4 == 0;
  Vec fd = Vec::Zero(P);
  for (Index i = 0; i < P; ++i) {
    if (!checked[static_cast<std::size_t>(i)]) continue;
    Vec q = p;
    q[i] += h;
    net.set_params(q);
    const double lp = jac_loss(net, X, seeds, Jt, C);
    q[i] -= 2 * h;
    net.set_params(q);
    const double lm = jac_loss(net, X, seeds, Jt, C);
    fd[i] = (lp - lm) / (2 * h);
  }
  net.set_params(p);
  // Running statistics are not trainable: backprop leaves their entries at zero.
  const auto mask = net.trainable_mask();
  Vec fd_trainable = fd, g_checked = grads;
  for (Index i = 0; i < P; ++i) {
    if (!mask[static_cast<std::size_t>(i)]) {
      CHECK(grads[i] == 0.0);
      fd_trainable[i] = 0.0;
    }
    if (!checked[static_cast<std::size_t>(i)]) g_checked[i] = fd_trainable[i] = 0.0;
  }
  JACNET_CHECK_CLOSE(Mat(g_checked), Mat(fd_trainable), 2e-6,
                     "backprop dL/dθ vs finite differences");
  Mat fdx(B, X.cols());
  for (Index i = 0; i < X.size(); ++i) {
    Mat Xp = X, Xm = X;
    Xp.data()[i] += h;
    Xm.data()[i] -= h;
    fdx.data()[i] = (jac_loss(net, Xp, seeds, Jt, C) - jac_loss(net, Xm, seeds, Jt, C)) / (2 * h);
  }
  JACNET_CHECK_CLOSE(Xbar, fdx, 2e-6, "backprop dL/dX vs finite differences");

  // Scalar AD: the same loss on Dual<double,1> scalars along a random (θ, X) direction.
  using D1 = Dual<double, 1>;
  auto dnet = lenet_like<D1>();
  Vec dp = random_vector(P, rng);
  for (Index i = 0; i < P; ++i)
    if (!mask[static_cast<std::size_t>(i)]) dp[i] = 0.0;
  const Mat dX = random_matrix(B, X.cols(), rng);
  Vector<D1> pd(P);
  for (Index i = 0; i < P; ++i) {
    pd[i] = D1(p[i]);
    pd[i].set_d(0, dp[i]);
  }
  dnet.set_params(pd);
  Matrix<D1> Xd(B, X.cols());
  for (Index i = 0; i < X.size(); ++i) {
    Xd.data()[i] = D1(X.data()[i]);
    Xd.data()[i].set_d(0, dX.data()[i]);
  }
  const D1 Ld = jac_loss(dnet, Xd, seeds, Jt, C);
  Mat l(1, 1), r(1, 1);
  l(0, 0) = Ld.d(0);
  r(0, 0) = grads.dot(dp) + dot(Xbar, dX);
  JACNET_CHECK_CLOSE(l, r, 1e-9, "backprop directional derivative vs Dual");
}

}  // namespace

TEST_CASE("LeNet-like CNN: jacrev == jacfwd == finite differences == scalar AD",
          "[nn][lenet][conv2d][pool]") {
  auto net = make_net(5);
  std::mt19937_64 rng(6);
  const Index B = 3, D = net.input_size(), K = net.output_size();
  const Mat X = random_matrix(B, D, rng);
  const Mat Jr = nn::jacrev(net, X);
  const Mat Jf = nn::jacfwd(net, X);
  REQUIRE(Jr.rows() == B * K);
  REQUIRE(Jr.cols() == D);
  JACNET_CHECK_CLOSE(Jf, Jr, 1e-12, "jacfwd vs jacrev");
  JACNET_CHECK_CLOSE(Jr, fd_jacobian(net, X), 1e-7, "jacrev vs finite differences");
  CHECK(nn::jacobian(net, X) == Jr);       // K < D: reverse mode
  CHECK(Jr.cwiseAbs().maxCoeff() > 1e-3);  // a nontrivial Jacobian

  // The same net on Dual<double, 8>: 8 input coordinates per forward pass.
  constexpr int N = 8;
  using DN = Dual<double, N>;
  auto dnet = lenet_like<DN>();
  Vector<DN> pd(net.num_params());
  for (Index i = 0; i < pd.size(); ++i) pd[i] = DN(net.param_vector()[i]);
  dnet.set_params(pd);
  Mat Jad(B * K, D);
  for (Index i0 = 0; i0 < D; i0 += N) {
    Matrix<DN> Xd(B, D);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < D; ++i) {
        Xd(b, i) = DN(X(b, i));
        if (i >= i0 && i < i0 + N) Xd(b, i).seed(int(i - i0));
      }
    const Matrix<DN> Yd = dnet.forward(Xd);
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k)
        for (Index i = i0; i < std::min(D, i0 + N); ++i)
          Jad(b * K + k, i) = Yd(b, k).d(int(i - i0));
  }
  JACNET_CHECK_CLOSE(Jr, Jad, 1e-12, "jacrev vs Dual<double, 8> forward mode");

  // Selected rows: the label row of each sample.
  const std::vector<Index> labels{2, 0, 3};
  const Mat Jl = nn::jacobian_rows(net, X, nn::seeds_label<double>(labels, K));
  Mat Jsel(B, D);
  for (Index b = 0; b < B; ++b) Jsel.row(b) = Jr.row(b * K + labels[b]);
  JACNET_CHECK_CLOSE(Jl, Jsel, 1e-14, "jacobian_rows(label) vs rows of jacrev");
}

TEST_CASE("LeNet-like CNN: Jacobian-loss gradient (backprop) vs finite differences and AD",
          "[nn][lenet][second_order]") {
  std::mt19937_64 rng(8);
  const Mat X = random_matrix(2, 200, rng);
  check_jacobian_loss(X, nn::seeds_full<double>(2, 4), 21);                          // M = K
  check_jacobian_loss(X, nn::seeds_label<double>(std::vector<Index>{1, 3}, 4), 22);  // M = 1
}

TEST_CASE("LeNet-5: shapes, parameters, float vs double", "[nn][lenet]") {
  auto net = lenet5<float>();
  CHECK(net.output_shape() == Shape{10});
  CHECK(net.shape(1) == (Shape{6, 28, 28}));
  CHECK(net.shape(3) == (Shape{6, 14, 14}));
  CHECK(net.shape(4) == (Shape{16, 10, 10}));
  CHECK(net.shape(6) == (Shape{16, 5, 5}));
  CHECK(net.num_params() == 61706);
  const auto names = net.named_parameters();
  REQUIRE(names.size() == 10);
  CHECK(names[0].name == "0.weight");
  CHECK(names[0].shape == (Shape{6, 1, 5, 5}));
  CHECK(names[2].name == "3.weight");
  CHECK(names[2].shape == (Shape{16, 6, 5, 5}));
  CHECK(names[4].name == "7.weight");
  CHECK(names[4].shape == (Shape{120, 400}));
  net.init(3);
  auto netd = lenet5<double>();
  netd.set_params(net.param_vector().cast<double>());
  std::mt19937_64 rng(2);
  const Mat X = random_matrix(20, 784, rng, 0, 1);
  const Matrix<float> Jf = nn::jacrev(net, Matrix<float>(X.cast<float>()));
  const Mat Jd = nn::jacrev(netd, X);
  CHECK((Jf.cast<double>() - Jd).cwiseAbs().maxCoeff() < 1e-5 * (1 + Jd.cwiseAbs().maxCoeff()));
  CHECK(Jd.cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("LeNet-5: jacrev and backprop do not depend on the thread count",
          "[nn][lenet][threads]") {
  auto net = lenet5<float>();
  net.init(4);
  std::mt19937_64 rng(3);
  const Matrix<float> X = random_matrix(37, 784, rng, 0, 1).cast<float>();
  const Matrix<float> seeds = nn::seeds_full<float>(37, 10);
  const Matrix<float> Jt = random_matrix(37 * 10, 784, rng, -0.01, 0.01).cast<float>();
  jacnet::testing::check_same_for_any_thread_count([&] {
    const Matrix<float> J = nn::jacrev(net, X);
    auto pass = nn::jacobian_pass(net, X, seeds);
    const Matrix<float> Jbar = pass.J() - Jt;
    Vector<float> g;
    Matrix<float> Xbar;
    nn::backprop(net, pass, Matrix<float>(), Jbar, std::span<const Matrix<float>>{}, g, &Xbar);
    return std::make_tuple(J, g, Xbar);
  });
}

TEST_CASE("CNN shape errors inside Sequential name the layer index and both shapes",
          "[nn][lenet]") {
  using namespace nn;
  using C = Conv2d<double>;
  using A = AvgPool2d<double>;
  using Dn = Dense<double>;
  using F = Flatten<double>;
  // conv expects 3 channels, gets the previous conv's 6
  try {
    Sequential<C, C> net(Shape{1, 12, 12}, C(1, 6, 5), C(3, 4, 3));
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("layer 1") != std::string::npos);
    CHECK(m.find("Conv2d(3->4, k3, s1, p0)") != std::string::npos);
    CHECK(m.find("[6x8x8]") != std::string::npos);
  }
  // pooling window larger than the image
  CHECK_THROWS_AS((Sequential<C, A>(Shape{1, 5, 5}, C(1, 2, 5), A(2))), ShapeError);
  // dense after flatten with the wrong size
  try {
    Sequential<C, F, Dn>(Shape{1, 6, 6}, C(1, 2, 3), F(), Dn(50, 3));
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("layer 2") != std::string::npos);
    CHECK(m.find("[32]") != std::string::npos);
  }
  // conv given a fixed input shape that disagrees with the net
  CHECK_THROWS_AS((Sequential<C>(Shape{1, 6, 6}, C(Shape{1, 7, 7}, 2, 3))), ShapeError);
  // a net-level call with the wrong input width
  auto net = make_net(1);
  CHECK_THROWS_AS(nn::jacrev(net, Mat::Zero(2, 199)), ShapeError);
}
