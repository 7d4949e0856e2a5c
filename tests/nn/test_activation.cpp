// Tests of the elementwise activations: every rule vs finite differences, the Dual AD core (same
// forward code) and the generic path; values against closed forms and PyTorch's documented
// formulas (Softplus(beta, threshold), GELU approximate='tanh'); thread-count independence.
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
  SECTION("GELU tanh approximation") {
    check_layer(
        [](auto tag) {
          return nn::GELU<typename decltype(tag)::type>(nn::GELUApproximate::Tanh);
        },
        Shape{37}, opts());
  }
  SECTION("Softplus(beta, threshold)") {
    // β = 2, threshold 5: inputs in [−3, 3] reach βx = 6, so the linear branch (σ = x) is
    // checked too; inputs stay 0.05 away from the switch at x = 2.5, where σ' jumps from
    // sigmoid(5) to 1 (PyTorch's rule: no finite difference can straddle it).
    LayerCheckOptions o = opts();
    o.adjust_input = [](Mat& X) {
      away_from_zero(X);
      for (Index i = 0; i < X.size(); ++i) {
        double& v = X.data()[i];
        if (std::abs(v - 2.5) < 0.05) v = v < 2.5 ? 2.45 : 2.55;
      }
    };
    check_layer([](auto tag) { return nn::Softplus<typename decltype(tag)::type>(2.0, 5.0); },
                Shape{37}, o);
    check_layer([](auto tag) { return nn::Softplus<typename decltype(tag)::type>(0.5); },
                Shape{13}, opts());
  }
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

// The formulas PyTorch documents (torch.nn.Softplus, torch.nn.GELU(approximate='tanh')):
//   Softplus(x) = x if βx > threshold else log(1 + exp(βx)) / β
//   GELU_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
TEST_CASE("Softplus(beta, threshold) and GELU tanh match PyTorch's formulas", "[nn][activation]") {
  const Index n = 45;
  Matrix<double> X(1, n);
  for (Index j = 0; j < n; ++j) X(0, j) = -10.0 + 0.5 * double(j);  // −10 … 12
  X(0, n - 3) = 20.5;  // above the default threshold: PyTorch returns x exactly
  X(0, n - 2) = 19.5;
  X(0, n - 1) = -30.0;
  auto run = [&](const auto& layer, const auto& x) {
    Matrix<typename std::remove_cvref_t<decltype(layer)>::Scalar> Y;
    layer.forward(nullptr, x, Y);
    return Y;
  };
  auto torch_softplus = [](double x, double beta, double threshold) {
    return x * beta > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
  };
  auto torch_gelu_tanh = [](double x) {
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1 + std::tanh(c * (x + 0.044715 * x * x * x)));
  };
  const struct {
    double beta, threshold;
  } cases[] = {{1.0, 20.0}, {2.0, 5.0}, {0.5, 3.0}, {3.0, 20.0}};
  for (const auto& c : cases) {
    const auto Y = run(nn::Softplus<double>(c.beta, c.threshold), X);
    INFO("beta " << c.beta << ", threshold " << c.threshold);
    for (Index j = 0; j < n; ++j) {
      const double x = X(0, j), ref = torch_softplus(x, c.beta, c.threshold);
      INFO("x = " << x);
      CHECK(std::abs(Y(0, j) - ref) <= 1e-15 * (1 + std::abs(ref)));
      if (x * c.beta > c.threshold) CHECK(Y(0, j) == x);
    }
  }
  // The case: at x = 20.5 the default Softplus is x exactly (no 1.25e-9 tail).
  CHECK(run(nn::Softplus<double>(), X)(0, n - 3) == 20.5);
  const auto G = run(nn::GELU<double>(nn::GELUApproximate::Tanh), X);
  for (Index j = 0; j < n; ++j)
    CHECK(std::abs(G(0, j) - torch_gelu_tanh(X(0, j))) <= 1e-15 * (1 + std::abs(G(0, j))));
  // float paths
  const Matrix<float> Xf = X.cast<float>();
  const auto Gf = run(nn::GELU<float>(nn::GELUApproximate::Tanh), Xf);
  const auto Sf = run(nn::Softplus<float>(2.0, 5.0), Xf);
  for (Index j = 0; j < n; ++j) {
    const double x = double(Xf(0, j));
    CHECK(Gf(0, j) == Approx(torch_gelu_tanh(x)).margin(2e-6).epsilon(2e-6));
    CHECK(Sf(0, j) == Approx(torch_softplus(x, 2.0, 5.0)).margin(2e-6).epsilon(2e-6));
  }
}

TEST_CASE("Softplus derivatives follow the threshold switch, bad options throw",
          "[nn][activation]") {
  // σ' = sigmoid(βx) and σ'' = β·s(1 − s) below the switch, 1 and 0 above (PyTorch's backward).
  nn::Softplus<double> sp(2.0, 5.0);
  Matrix<double> X(1, 4), Y, U = Matrix<double>::Ones(1, 4), D, Xbar;
  X << 2.4, 2.6, -1.0, 30.0;
  sp.forward(nullptr, X, Y);
  sp.jvp(nullptr, X, Y, U, D);
  const auto sig = [](double z) { return 1 / (1 + std::exp(-z)); };
  CHECK(D(0, 0) == Approx(sig(4.8)).epsilon(1e-14));
  CHECK(D(0, 1) == 1.0);
  CHECK(D(0, 2) == Approx(sig(-2.0)).epsilon(1e-14));
  CHECK(D(0, 3) == 1.0);
  sp.second_order(nullptr, X, Y, U, U, nullptr, Xbar);
  CHECK(Xbar(0, 0) == Approx(2 * sig(4.8) * (1 - sig(4.8))).epsilon(1e-13));
  CHECK(Xbar(0, 1) == 0.0);
  CHECK(Xbar(0, 3) == 0.0);
  CHECK_THROWS_AS(nn::Softplus<double>(0.0), ValueError);
  CHECK_THROWS_AS(nn::Softplus<double>(-1.0, 20.0), ValueError);
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
  CHECK(nn::Softplus<double>().name() == "Softplus");
  CHECK(nn::Softplus<double>(2.0, 5.0).name() == "Softplus(beta=2, threshold=5)");
  CHECK(nn::GELU<float>().name() == "GELU");
  CHECK(nn::GELU<float>(nn::GELUApproximate::Tanh).name() == "GELU(approximate='tanh')");
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
  check_thread_independence(
      [](auto tag) { return nn::GELU<typename decltype(tag)::type>(nn::GELUApproximate::Tanh); },
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
