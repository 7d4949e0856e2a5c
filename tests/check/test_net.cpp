// Tests of check/net.hpp: check_net passes on correct nets (MLP, CNN; full and fast mode) and
// names the wrong parameter when a layer's parameter gradient is wrong inside a net.
#include <catch2/catch.hpp>

#include "jacnet/check/net.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/wrong_layers.hpp"

using namespace jacnet;
using namespace jacnet::check_testing;

namespace {
Matrix<double> inputs(Index B, Index D, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  Matrix<double> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = N(g);
  return X;
}
}  // namespace

TEST_CASE("check_net passes on correct nets, full and fast", "[check]") {
  using MLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>,
                             nn::Softplus<double>, nn::Dense<double>>;
  MLP mlp(Shape{4}, nn::Dense<double>(4, 6), nn::Tanh<double>(), nn::Dense<double>(6, 5),
          nn::Softplus<double>(2.0), nn::Dense<double>(5, 3));
  mlp.init(1);
  check::NetOptions o;
  o.atol = 1e-7;
  o.rtol = 1e-7;
  const Matrix<double> X = inputs(3, 4, 2);
  const check::Report r = check::check_net(mlp, X, o);
  INFO(r);
  CHECK(r.ok());
  for (const char* q : {"jacobian", "jvp", "param_gradient", "param_gradient dX",
                        "jacobian rows dQ/dθ", "jacobian rows dQ/dX"})
    CHECK(r.find(q) != nullptr);
  CHECK(r.find("param_gradient")->checked == mlp.num_params());
  CHECK(r.find("jacobian")->checked == 3 * 3 * 4);

  using CNN = nn::Sequential<nn::Conv2d<double>, nn::GELU<double>, nn::AvgPool2d<double>,
                             nn::Flatten<double>, nn::Dense<double>>;
  CNN cnn(Shape{1, 6, 6}, nn::Conv2d<double>(1, 2, 3, 1, 1),
          nn::GELU<double>(nn::GELUApproximate::Tanh), nn::AvgPool2d<double>(3, 2, 1, false),
          nn::Flatten<double>(), nn::Dense<double>(2 * 3 * 3, 2));
  cnn.init(3);
  const Matrix<double> Xc = inputs(2, 36, 4);
  const check::Report c = check::check_net(cnn, Xc, o);
  INFO(c);
  CHECK(c.ok());
  o.fast = true;
  const check::Report f = check::check_net(cnn, Xc, o);
  INFO(f);
  CHECK(f.ok());
  CHECK(f.find("jacobian (vᵀJw)") != nullptr);
  CHECK(f.find("param_gradient (projected)")->checked == o.projections);
}

TEST_CASE("check_net names the wrong parameter of a layer inside a net", "[check]") {
  using Net = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, WrongGradDense>;
  Net net(Shape{3}, nn::Dense<double>(3, 4), nn::Tanh<double>(), WrongGradDense(4, 2));
  net.init(5);
  const check::Report r = check::check_net(net, inputs(2, 3, 6));
  REQUIRE_FALSE(r.ok());
  const auto* q = r.find("param_gradient");
  REQUIRE(q != nullptr);
  CHECK(q->failed == 1);
  CHECK(q->worst_entry == "2.weight[0,1]");
  CHECK(r.find("jacobian")->ok());
  CHECK_THROWS_AS(check::check_net(net, inputs(2, 5, 6)), ShapeError);
}
