// Tests of nn::BatchNorm (inference form) for {C}, {C, L} and {C, H, W} inputs: the formula by
// hand; jvp/vjp/param_grad/second_order vs central finite differences and the Dual AD core by the
// shared layer checker (support/layer_check.hpp), whose trainable-parameter mask (from
// param_info) restricts the parameter checks to (γ, β) and requires the running statistics'
// gradient entries to stay untouched; β does not enter A and A does not depend on X; the generic
// (AD-scalar) path equals the SIMD path; thread-count independence; shape errors.
#include <catch2/catch.hpp>

#include "jacnet/ad/dual.hpp"
#include "jacnet/check/net.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/nn/trainable.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

// Random parameters: γ ∈ ±[0.5, 1.5], β, μ ∈ [−0.5, 0.5], σ² ∈ [0.2, 2].
Vec bn_params(Index C, std::mt19937_64& rng) {
  Vec p(4 * C);
  std::uniform_real_distribution<double> u(0, 1);
  for (Index c = 0; c < C; ++c) {
    p[c] = (u(rng) < 0.5 ? -1 : 1) * (0.5 + u(rng));
    p[C + c] = u(rng) - 0.5;
    p[2 * C + c] = u(rng) - 0.5;
    p[3 * C + c] = 0.2 + 1.8 * u(rng);
  }
  return p;
}

template <int Dims>
void check_batchnorm(const Shape& in, Index B, Index K) {
  const Index C = in[0], n = in.size(), inner = n / C;
  const double eps = 1e-3;
  nn::BatchNorm<double, Dims> bn(C, eps);
  INFO(bn.name() << " on " << in << ", B=" << B << " K=" << K);
  REQUIRE(bn.output_shape(in) == in);

  // forward: the formula, element by element
  std::mt19937_64 rng(31);
  const Vec p = bn_params(C, rng);
  const Mat X = random_matrix(B, n, rng);
  Mat Y;
  bn.forward(p.data(), X, Y);
  Mat Yref(B, n);
  for (Index b = 0; b < B; ++b)
    for (Index c = 0; c < C; ++c)
      for (Index e = 0; e < inner; ++e)
        Yref(b, c * inner + e) =
            p[c] * (X(b, c * inner + e) - p[2 * C + c]) / std::sqrt(p[3 * C + c] + eps) + p[C + c];
  JACNET_CHECK_CLOSE(Y, Yref, 1e-14, "forward vs γ(x−μ)/√(σ²+ε)+β");

  // every rule three ways (FD, Dual, generic path) on (γ, β); μ, σ² untouched
  LayerCheckOptions o;
  o.B = B;
  o.K = K;
  o.tol = 1e-7;
  o.ad_tol = 1e-11;
  o.ad_rule_tol = 1e-10;
  o.seed = 31;
  o.adjust_params = [C](Vec& th) {
    std::mt19937_64 g(32);
    th = bn_params(C, g);
  };
  auto make = [C, eps](auto tag) {
    return nn::BatchNorm<typename decltype(tag)::type, Dims>(C, eps);
  };
  check_layer(make, in, o);

  // A = diag(γ/√(σ²+ε)): second_order adds nothing for β and nothing to X̄
  const Mat E = random_matrix(B * K, n, rng), D = random_matrix(B * K, n, rng);
  Vec g2 = Vec::Zero(4 * C);
  Mat Xbar;
  bn.second_order(p.data(), X, Y, E, D, g2.data(), Xbar);
  CHECK(g2.segment(C, C).isZero(0));
  REQUIRE(Xbar.rows() == B);
  CHECK(Xbar.isZero(0));
}

}  // namespace

TEST_CASE("BatchNorm rules match the formula, finite differences and scalar AD",
          "[nn][batchnorm]") {
  check_batchnorm<1>(Shape{5}, 4, 2);        // BatchNorm1d on features
  check_batchnorm<1>(Shape{3, 7}, 3, 2);     // BatchNorm1d on {C, L}
  check_batchnorm<2>(Shape{3, 4, 5}, 3, 2);  // BatchNorm2d
  check_batchnorm<2>(Shape{2, 3, 3}, 5, 1);  // K = 1
  check_batchnorm<0>(Shape{4, 2, 3}, 2, 3);  // any rank, K = 3
}

TEST_CASE("BatchNorm parameters: PyTorch names, running stats non-trainable, init",
          "[nn][batchnorm]") {
  nn::BatchNorm2d<double> bn(6);
  CHECK(bn.name() == "BatchNorm2d(6)");
  CHECK(nn::BatchNorm1d<float>(3).name() == "BatchNorm1d(3)");
  CHECK(bn.num_params() == 24);
  const auto info = bn.param_info();
  REQUIRE(info.size() == 4);
  CHECK(info[0].name == "weight");
  CHECK(info[1].name == "bias");
  CHECK(info[2].name == "running_mean");
  CHECK(info[3].name == "running_var");
  CHECK(info[0].trainable);
  CHECK(info[1].trainable);
  CHECK_FALSE(info[2].trainable);
  CHECK_FALSE(info[3].trainable);
  for (const auto& pi : info) CHECK(pi.shape == Shape{6});
  std::mt19937_64 rng(1);
  Vector<double> p(24);
  bn.init(p.data(), rng);
  CHECK(p.segment(0, 6).isOnes(0));
  CHECK(p.segment(6, 6).isZero(0));
  CHECK(p.segment(12, 6).isZero(0));
  CHECK(p.segment(18, 6).isOnes(0));
  // Freshly initialized: y = x / √(1 + ε).
  Matrix<double> X = random_matrix(2, 6 * 4, rng), Y;
  bn.forward(p.data(), X, Y);
  CHECK(rel_err(Y, Mat(X / std::sqrt(1 + 1e-5))) < 1e-15);
}

TEST_CASE("BatchNorm float path matches double", "[nn][batchnorm]") {
  nn::BatchNorm2d<float> bf(6);
  nn::BatchNorm2d<double> bd(6);
  std::mt19937_64 rng(3);
  const Vec p = bn_params(6, rng);
  const Mat X = random_matrix(9, 6 * 5 * 5, rng), V = random_matrix(18, 6 * 5 * 5, rng);
  const Vector<float> pf = p.cast<float>();
  // Layer rules read rows of stored matrices (row views), so the float inputs are materialized.
  const Matrix<float> Xf = X.cast<float>(), Vin = V.cast<float>();
  Matrix<float> Yf, Vf;
  Mat Yd, Vd;
  bf.forward(pf.data(), Xf, Yf);
  bd.forward(p.data(), X, Yd);
  bf.vjp(pf.data(), Xf, Yf, Vin, Vf);
  bd.vjp(p.data(), X, Yd, V, Vd);
  CHECK(rel_err(Yf.cast<double>(), Yd) < 1e-5);
  CHECK(rel_err(Vf.cast<double>(), Vd) < 1e-5);
  Vector<float> gf = Vector<float>::Zero(24);
  Vec gd = Vec::Zero(24);
  bf.param_grad(pf.data(), Xf, Yf, Vin, gf.data());
  bd.param_grad(p.data(), X, Yd, V, gd.data());
  CHECK((gf.cast<double>() - gd).cwiseAbs().maxCoeff() < 1e-4 * gd.cwiseAbs().maxCoeff());
}

TEST_CASE("BatchNorm results do not depend on the thread count", "[nn][batchnorm][threads]") {
  auto make2 = [](auto tag) { return nn::BatchNorm2d<typename decltype(tag)::type>(6); };
  auto make1 = [](auto tag) { return nn::BatchNorm1d<typename decltype(tag)::type>(120); };
  check_thread_independence(make2, Shape{6, 28, 28}, 40, 3);
  check_thread_independence(make1, Shape{120}, 300, 2);
}

TEST_CASE("BatchNorm shape errors name the layer and both shapes", "[nn][batchnorm]") {
  nn::BatchNorm2d<double> bn(6);
  try {
    (void)bn.output_shape(Shape{4, 5, 5});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("BatchNorm2d(6)") != std::string::npos);
    CHECK(m.find("[4x5x5]") != std::string::npos);
    CHECK(m.find("[CxHxW]") != std::string::npos);
  }
  CHECK_THROWS_AS(bn.output_shape(Shape{6}), ShapeError);  // 2d needs {C,H,W}
  CHECK_THROWS_AS(nn::BatchNorm1d<double>(6).output_shape(Shape{6, 2, 2}), ShapeError);
  CHECK(nn::BatchNorm1d<double>(6).output_shape(Shape{6, 3}) == (Shape{6, 3}));
  Vector<double> p = Vector<double>::Ones(24);
  Matrix<double> X = Matrix<double>::Zero(2, 13), Y;
  CHECK_THROWS_AS(bn.forward(p.data(), X, Y), ShapeError);  // 13 columns, 6 channels
  Matrix<double> X6 = Matrix<double>::Zero(2, 12), V = Matrix<double>::Zero(3, 12), Vin;
  bn.forward(p.data(), X6, Y);
  CHECK_THROWS_AS(bn.vjp(p.data(), X6, Y, V, Vin), ShapeError);  // 3 rows for 2 samples
  CHECK_THROWS_AS(nn::BatchNorm2d<double>(0), ValueError);
  CHECK_THROWS_AS(nn::BatchNorm2d<double>(3, -1.0), ValueError);
}

TEST_CASE("Parameter gradients without buffer slots (nn/trainable.hpp) and the net checker",
          "[nn][batchnorm]") {
  using Net = nn::Sequential<nn::Dense<double>, nn::BatchNorm1d<double>, nn::Tanh<double>,
                             nn::Dense<double>>;
  Net net(Shape{4}, nn::Dense<double>(4, 3), nn::BatchNorm1d<double>(3), nn::Tanh<double>(),
          nn::Dense<double>(3, 2));
  net.init(3);
  std::mt19937_64 rng(8);
  Vec p = net.param_vector();
  p.segment(15, 12) = bn_params(3, rng);  // BatchNorm block: γ, β, μ, σ² at offset 4·3 + 3
  net.set_params(p);
  REQUIRE(net.num_params() == 15 + 12 + 8);
  const Mat X = random_matrix(5, 4, rng), Ybar = random_matrix(5, 2, rng);
  Vec g;
  nn::param_gradient(net, X, Ybar, g);
  // running statistics: zero slots in the full gradient, absent from the trainable view
  CHECK(g.segment(21, 6).isZero(0));
  const auto view = nn::trainable_view(net, g.data());
  REQUIRE(view.size() == 6);
  const char* names[] = {"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"};
  for (std::size_t i = 0; i < 6; ++i) CHECK(view[i].name == names[i]);
  CHECK(nn::num_trainable(net) == 29);
  const Vec packed = nn::gather_trainable(net, g);
  REQUIRE(packed.size() == 29);
  CHECK(packed.head(21) == g.head(21));
  CHECK(packed.tail(8) == g.tail(8));
  Vec back = Vec::Constant(net.num_params(), 7.0);
  nn::scatter_trainable(net, packed, back);
  CHECK(back.head(21) == g.head(21));
  CHECK(back.segment(21, 6) == Vec::Constant(6, 7.0));  // buffer slots untouched
  CHECK(back.tail(8) == g.tail(8));
  CHECK_THROWS_AS(nn::gather_trainable(net, Vec(Vec::Zero(3))), ShapeError);
  CHECK_THROWS_AS(nn::scatter_trainable(net, Vec(Vec::Zero(3)), back), ShapeError);
  // the public net checker: modes end to end, non-trainable entries exactly 0
  check::NetOptions o;
  o.atol = 1e-7;
  o.rtol = 1e-7;
  const check::Report r = check::check_net(net, X, o);
  INFO(r);
  CHECK(r.ok());
  CHECK(r.find("param_gradient is 0 for non-trainable entries") != nullptr);
  CHECK(r.find("param_gradient")->checked == 29);
}
