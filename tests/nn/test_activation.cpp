// Tests of the elementwise activations: every rule vs finite differences, the Dual AD core (same
// forward code) and the generic path; values against closed forms; thread-count independence.
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/nn/activation.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {
// Inputs in [-3, 3] kept at least 0.05 away from the kinks at 0.
void away_from_zero(Mat& X) {
  for (Index i = 0; i < X.size(); ++i) {
    double& v = X.data()[i];
    if (std::abs(v) < 0.05) v = v < 0 ? -0.05 - std::abs(v) : 0.05 + v;
  }
}
LayerCheckOptions opts() {
  LayerCheckOptions o;
  o.B = 3;
  o.K = 2;
  o.input_lo = -3;
  o.input_hi = 3;
  o.adjust_input = away_from_zero;
  return o;
}
template <template <class> class A>
void check_all(const Shape& s = Shape{37}) {
  check_layer([](auto tag) { return A<typename decltype(tag)::type>(); }, s, opts());
}
}  // namespace

TEST_CASE("activation rules match finite differences and scalar AD", "[nn][activation]") {
  SECTION("Tanh") { check_all<nn::Tanh>(); }
  SECTION("Sigmoid") { check_all<nn::Sigmoid>(); }
  SECTION("Softplus") { check_all<nn::Softplus>(); }
  SECTION("ReLU") { check_all<nn::ReLU>(); }
  SECTION("LeakyReLU") {
    check_all<nn::LeakyReLU>();
    check_layer([](auto tag) { return nn::LeakyReLU<typename decltype(tag)::type>(0.2); },
                Shape{13}, opts());
  }
  SECTION("ELU") {
    check_all<nn::ELU>();
    check_layer([](auto tag) { return nn::ELU<typename decltype(tag)::type>(0.5); }, Shape{13},
                opts());
  }
  SECTION("GELU") { check_all<nn::GELU>(); }
  SECTION("image-shaped input") { check_all<nn::Tanh>(Shape{2, 3, 3}); }
}

TEST_CASE("activation values match closed forms", "[nn][activation]") {
  const Index n = 41;  // not a multiple of the SIMD width: exercises the padded tail
  Matrix<double> X(1, n);
  for (Index j = 0; j < n; ++j) X(0, j) = -10.0 + 0.5 * double(j);
  auto run = [&](const auto& layer) {
    Matrix<double> Y;
    layer.forward(nullptr, X, Y);
    return Y;
  };
  const auto th = run(nn::Tanh<double>()), sg = run(nn::Sigmoid<double>()),
             sp = run(nn::Softplus<double>()), re = run(nn::ReLU<double>()),
             lr = run(nn::LeakyReLU<double>(0.1)), el = run(nn::ELU<double>(2.0)),
             ge = run(nn::GELU<double>());
  for (Index j = 0; j < n; ++j) {
    const double x = X(0, j);
    CHECK(th(0, j) == Approx(std::tanh(x)).margin(1e-15));
    CHECK(sg(0, j) == Approx(1 / (1 + std::exp(-x))).margin(1e-15));
    CHECK(sp(0, j) == Approx(std::log1p(std::exp(x))).margin(1e-14));
    CHECK(re(0, j) == (x > 0 ? x : 0.0));
    CHECK(lr(0, j) == Approx(x > 0 ? x : 0.1 * x));
    CHECK(el(0, j) == Approx(x > 0 ? x : 2.0 * std::expm1(x)).margin(1e-15));
    CHECK(ge(0, j) == Approx(0.5 * x * std::erfc(-x / std::sqrt(2.0))).margin(1e-14));
  }
  // float path too
  Matrix<float> Xf = X.cast<float>(), Yf;
  nn::GELU<float>().forward(nullptr, Xf, Yf);
  for (Index j = 0; j < n; ++j) CHECK(Yf(0, j) == Approx(ge(0, j)).margin(2e-6));
}

TEST_CASE("activation kinks follow PyTorch", "[nn][activation]") {
  Matrix<double> X = Matrix<double>::Zero(1, 3), Y, U = Matrix<double>::Ones(1, 3), D;
  nn::ReLU<double> r;
  r.forward(nullptr, X, Y);
  r.jvp(nullptr, X, Y, U, D);
  CHECK(D.isZero());  // relu'(0) = 0
  nn::LeakyReLU<double> l(0.3);
  l.forward(nullptr, X, Y);
  l.vjp(nullptr, X, Y, U, D);
  CHECK(D(0, 0) == Approx(0.3));  // leaky'(0) = slope
  nn::ELU<double> e(0.5);
  e.forward(nullptr, X, Y);
  e.jvp(nullptr, X, Y, U, D);
  CHECK(D(0, 0) == Approx(0.5));  // elu'(0) = alpha
}

TEST_CASE("activation names and traits", "[nn][activation]") {
  CHECK(nn::Tanh<float>().name() == "Tanh");
  CHECK(nn::LeakyReLU<float>(0.2).name() == "LeakyReLU(0.2)");
  CHECK(nn::ELU<double>().name() == "ELU(1)");
  STATIC_REQUIRE(nn::ReLU<float>::relu_family);
  STATIC_REQUIRE(!nn::Tanh<float>::relu_family);
  STATIC_REQUIRE(nn::Layer<nn::GELU<double>>);
  STATIC_REQUIRE(nn::Layer<nn::Tanh<Dual<double, 3>>>);
}

TEST_CASE("activation results do not depend on the thread count", "[nn][activation][threads]") {
  check_thread_independence([](auto tag) { return nn::Tanh<typename decltype(tag)::type>(); },
                            Shape{301}, 128, 4);
  check_thread_independence([](auto tag) { return nn::GELU<typename decltype(tag)::type>(); },
                            Shape{301}, 128, 4);
}

TEST_CASE("activation shape errors", "[nn][activation]") {
  nn::Tanh<double> t;
  Matrix<double> X(2, 3), Y, U(5, 3), V(4, 2), O;
  X.setRandom();
  t.forward(nullptr, X, Y);
  CHECK_THROWS_AS(t.jvp(nullptr, X, Y, U, O), ShapeError);  // 5 rows, batch 2
  CHECK_THROWS_AS(t.vjp(nullptr, X, Y, V, O), ShapeError);  // 2 columns, layer has 3
}

namespace {
// Tanh with a wrong second derivative: the checker must reject it (this test is expected to fail).
struct WrongTanhOp : nn::TanhOp {
  template <class V>
  V d2f(const V& x, const V& y) const {
    return V(0.5) * nn::TanhOp::d2f(x, y);
  }
};
}  // namespace

TEST_CASE("the layer checker detects a wrong second-order rule", "[nn][activation][!shouldfail]") {
  check_layer([](auto tag) { return nn::Activation<typename decltype(tag)::type, WrongTanhOp>(); },
              Shape{9}, opts());
}
