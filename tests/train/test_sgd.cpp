// Tests of jacnet/train/sgd.hpp: exact steps against hand computation, convergence on quadratics,
// masks, errors.
#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include "jacnet/train/sgd.hpp"

using namespace jacnet;
using train::SGD;

namespace {
// f(θ) = ½ θᵀAθ − bᵀθ + (λ/2)|θ|² has gradient (A + λI)θ − b and minimizer (A + λI)⁻¹ b.
Eigen::Matrix2d quad_A() { return (Eigen::Matrix2d() << 3.0, 1.0, 1.0, 2.0).finished(); }
Eigen::Vector2d quad_b() { return Eigen::Vector2d(1.0, -1.0); }
}  // namespace

TEST_CASE("SGD without momentum is θ − γ g", "[sgd]") {
  SGD<double> opt({.lr = 0.5});
  Vector<double> p(3), g(3);
  p << 1.0, -2.0, 0.25;
  g << 0.5, 1.0, -4.0;
  opt.step(p, g);
  CHECK(p(0) == 0.75);
  CHECK(p(1) == -2.5);
  CHECK(p(2) == 2.25);
  CHECK(opt.steps() == 1);
  CHECK(opt.momentum_buffer().size() == 0);
}

TEST_CASE("SGD with momentum, weight decay and Nesterov matches two hand-computed steps", "[sgd]") {
  // Hand computation (γ = 0.1, μ = 0.9, λ = 0.01, Nesterov), θ0 = (1, −2):
  //  step 1, g = (0.5, 0.25): d = g + λθ = (0.51, 0.23); b = d; d += μb → (0.969, 0.437);
  //          θ1 = θ0 − γd = (0.9031, −2.0437)
  //  step 2, g = (0.1, −0.1): d = (0.109031, −0.120437); b = μb + d = (0.568031, 0.086563);
  //          d += μb → (0.6202589, −0.0425303); θ2 = (0.84107411, −2.03944697)
  SGD<double> opt({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  Vector<double> p(2), g(2);
  p << 1.0, -2.0;
  g << 0.5, 0.25;
  opt.step(p, g);
  CHECK(p(0) == Approx(0.9031).epsilon(1e-14));
  CHECK(p(1) == Approx(-2.0437).epsilon(1e-14));
  g << 0.1, -0.1;
  opt.step(p, g);
  CHECK(p(0) == Approx(0.84107411).epsilon(1e-14));
  CHECK(p(1) == Approx(-2.03944697).epsilon(1e-14));
  CHECK(opt.momentum_buffer()(0) == Approx(0.568031).epsilon(1e-14));
  CHECK(opt.momentum_buffer()(1) == Approx(0.086563).epsilon(1e-14));
}

TEST_CASE("SGD heavy-ball momentum with dampening: b1 = g1, then μb + (1 − τ)g", "[sgd]") {
  SGD<double> opt({.lr = 1.0, .momentum = 0.5, .dampening = 0.5});
  Vector<double> p = Vector<double>::Zero(1), g(1);
  g << 2.0;
  opt.step(p, g);  // b = 2 (no dampening on the first step), θ = −2
  CHECK(p(0) == -2.0);
  g << 4.0;
  opt.step(p, g);  // b = 0.5·2 + 0.5·4 = 3, θ = −5
  CHECK(opt.momentum_buffer()(0) == 3.0);
  CHECK(p(0) == -5.0);
}

TEST_CASE("SGD converges to the minimizer of a quadratic (with and without weight decay)",
          "[sgd]") {
  const auto A = quad_A();
  const auto b = quad_b();
  for (const double wd : {0.0, 0.1}) {
    for (const bool nesterov : {false, true}) {
      CAPTURE(wd, nesterov);
      SGD<double> opt({.lr = 0.1, .momentum = 0.9, .weight_decay = wd, .nesterov = nesterov});
      Vector<double> p = Vector<double>::Constant(2, 5.0), g(2);
      for (int t = 0; t < 600; ++t) {
        g = A * p - b;  // the decay term is added by the optimizer
        opt.step(p, g);
      }
      const Eigen::Vector2d star = (A + wd * Eigen::Matrix2d::Identity()).ldlt().solve(b);
      CHECK((p - star).norm() < 1e-10);
    }
  }
}

TEST_CASE("SGD works on float and on an Eigen::Map / segment of a larger vector", "[sgd]") {
  std::vector<float> storage = {1.0f, 2.0f, 3.0f, 4.0f};
  VectorMap<float> all(storage.data(), 4);
  Vector<float> g = Vector<float>::Constant(2, 1.0f);
  SGD<float> opt({.lr = 0.25});
  opt.step(all.segment(1, 2), g);
  CHECK(storage == std::vector<float>{1.0f, 1.75f, 2.75f, 4.0f});
}

TEST_CASE("SGD leaves masked entries and their state untouched", "[sgd]") {
  SGD<double> opt({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.5});
  opt.set_mask(train::ParamMask::from_flags({true, false, true, false}));
  Vector<double> p = Vector<double>::Constant(4, 1.0);
  Vector<double> g = Vector<double>::Constant(4, 1.0);
  for (int t = 0; t < 3; ++t) opt.step(p, g);
  CHECK(p(1) == 1.0);
  CHECK(p(3) == 1.0);
  CHECK(p(0) < 1.0);
  CHECK(p(0) == p(2));
  CHECK(opt.momentum_buffer()(1) == 0.0);
  CHECK(opt.momentum_buffer()(3) == 0.0);
}

TEST_CASE("SGD rejects bad sizes and hyperparameters with clear errors", "[sgd]") {
  SGD<double> opt({.lr = 0.1, .momentum = 0.9});
  Vector<double> p(3), g(2);
  p.setZero();
  g.setZero();
  CHECK_THROWS_WITH(opt.step(p, g), Catch::Contains("SGD") && Catch::Contains("3 parameters") &&
                                        Catch::Contains("2 gradient"));
  Vector<double> g3 = Vector<double>::Zero(3);
  opt.step(p, g3);
  Vector<double> p4 = Vector<double>::Zero(4), g4 = Vector<double>::Zero(4);
  CHECK_THROWS_AS(opt.step(p4, g4), ShapeError);  // state sized for 3
  opt.reset();
  CHECK_NOTHROW(opt.step(p4, g4));
  opt.set_mask(train::ParamMask::from_flags({true, true}));
  CHECK_THROWS_WITH(opt.step(p4, g4), Catch::Contains("mask built for 2"));
  CHECK_THROWS_AS(SGD<double>({.lr = -1.0}), ValueError);
  CHECK_THROWS_AS(SGD<double>({.lr = 0.1, .momentum = -0.1}), ValueError);
  CHECK_THROWS_AS(SGD<double>({.lr = 0.1, .weight_decay = -0.1}), ValueError);
  CHECK_THROWS_WITH(SGD<double>({.lr = 0.1, .nesterov = true}), Catch::Contains("Nesterov"));
  CHECK_THROWS_AS(SGD<double>({.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                  ValueError);
  CHECK_THROWS_AS(opt.set_lr(-0.5), ValueError);
}

static_assert(train::Optimizer<SGD<float>>);
static_assert(train::Optimizer<SGD<double>>);
