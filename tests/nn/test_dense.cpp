// Tests of nn::Dense: every rule vs finite differences, the Dual AD core and the generic path;
// the one-hot / identity fast paths; thread-count independence; shape errors.
#include <catch2/catch.hpp>

#include "jacnet/nn/dense.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

TEST_CASE("Dense rules match finite differences and scalar AD", "[nn][dense]") {
  check_layer([](auto tag) { return nn::Dense<typename decltype(tag)::type>(5, 4); }, Shape{5});
  check_layer([](auto tag) { return nn::Dense<typename decltype(tag)::type>(3, 6, false); },
              Shape{3});
  LayerCheckOptions one;
  one.K = 1;
  one.B = 4;
  check_layer([](auto tag) { return nn::Dense<typename decltype(tag)::type>(4, 2); }, Shape{4},
              one);
}

TEST_CASE("Dense layout, names and init", "[nn][dense]") {
  nn::Dense<double> d(3, 2);
  CHECK(d.name() == "Dense(3->2)");
  CHECK(d.num_params() == 8);
  const auto info = d.param_info();
  REQUIRE(info.size() == 2);
  CHECK(info[0].name == "weight");
  CHECK(info[0].shape == Shape{2, 3});
  CHECK(info[1].name == "bias");
  // y = W x + b with W [out x in] row-major, then the bias (torch.nn.Linear layout).
  Vector<double> p(8);
  p << 1, 2, 3, 4, 5, 6, 0.5, -0.5;
  Matrix<double> X(1, 3), Y;
  X << 1, 0, -1;
  d.forward(p.data(), X, Y);
  CHECK(Y(0, 0) == Approx(1 - 3 + 0.5));
  CHECK(Y(0, 1) == Approx(4 - 6 - 0.5));
  // Glorot bound and zero bias; He has the right spread.
  std::mt19937_64 rng(3);
  nn::Dense<double> big(200, 100);
  Vector<double> q(big.num_params());
  big.init(q.data(), rng);
  const double a = std::sqrt(6.0 / 300.0);
  CHECK(q.head(20000).cwiseAbs().maxCoeff() <= a);
  CHECK(q.head(20000).cwiseAbs().maxCoeff() > 0.9 * a);
  CHECK(q.tail(100).isZero());
  big.init(q.data(), rng, nn::InitScheme::He);
  const double sd = std::sqrt(q.head(20000).squaredNorm() / 20000);
  CHECK(sd == Approx(std::sqrt(2.0 / 200)).epsilon(0.03));
}

TEST_CASE("Dense fast paths equal the general rules", "[nn][dense]") {
  std::mt19937_64 rng(5);
  nn::Dense<double> d(6, 4);
  Vector<double> p(d.num_params());
  d.init(p.data(), rng);
  const Index B = 3, M = 2;
  const Matrix<double> X = random_matrix(B, 6, rng);
  Matrix<double> Y;
  d.forward(p.data(), X, Y);
  std::vector<Index> cls{3, 0, 1, 1, 2, 3};
  Matrix<double> seeds = Matrix<double>::Zero(B * M, 4);
  for (Index r = 0; r < B * M; ++r) seeds(r, cls[r]) = 1;
  Matrix<double> a, b;
  d.vjp(p.data(), X, Y, seeds, a);
  d.vjp_onehot(p.data(), X, Y, cls.data(), M, b);
  CHECK(a == b);
  Matrix<double> I = Matrix<double>::Zero(B * 6, 6);
  for (Index s = 0; s < B; ++s) I.middleRows(s * 6, 6).setIdentity();
  d.jvp(p.data(), X, Y, I, a);
  d.jvp_identity(p.data(), X, Y, b);
  CHECK(a == b);
  cls[2] = 4;
  CHECK_THROWS_AS(d.vjp_onehot(p.data(), X, Y, cls.data(), M, b), ValueError);
}

TEST_CASE("Dense results do not depend on the thread count", "[nn][dense][threads]") {
  check_thread_independence(
      [](auto tag) { return nn::Dense<typename decltype(tag)::type>(300, 200); }, Shape{300}, 64,
      3);
}

TEST_CASE("Dense shape errors name the layer and both shapes", "[nn][dense]") {
  nn::Dense<double> d(4, 2);
  try {
    (void)d.output_shape(Shape{5});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("Dense(4->2)") != std::string::npos);
    CHECK(m.find("[5]") != std::string::npos);
    CHECK(m.find("[4]") != std::string::npos);
  }
  CHECK_THROWS_AS(d.output_shape(Shape{1, 2, 2}), ShapeError);
  Vector<double> p = Vector<double>::Zero(d.num_params());
  Matrix<double> X(2, 3), Y;
  CHECK_THROWS_AS(d.forward(p.data(), X, Y), ShapeError);
  Matrix<double> X4(2, 4), V(3, 2), Vin;
  d.forward(p.data(), X4, Y);
  CHECK_THROWS_AS(d.vjp(p.data(), X4, Y, V, Vin), ShapeError);  // 3 rows, batch 2
  CHECK_THROWS_AS(nn::Dense<double>(0, 3), ValueError);
}
