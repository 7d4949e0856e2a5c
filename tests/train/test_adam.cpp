// Tests of jacnet/train/adam.hpp: exact steps against hand computation, convergence on
// quadratics, AdamW's decoupled decay, amsgrad, masks, errors.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/train/adam.hpp"

using namespace jacnet;
using train::Adam;
using train::AdamW;

namespace {
Eigen::Matrix2d quad_A() { return (Eigen::Matrix2d() << 3.0, 1.0, 1.0, 2.0).finished(); }
Eigen::Vector2d quad_b() { return Eigen::Vector2d(1.0, -1.0); }
}  // namespace

TEST_CASE("Adam matches two hand-computed steps", "[adam]") {
  // γ = 0.1, β = (0.9, 0.999), ε = 1e-8, θ0 = 1.
  //  step 1, g = 0.5: m = 0.05, v = 2.5e-4, m̂ = 0.5, v̂ = 0.25 → θ1 = 1 − 0.1·0.5/(0.5 + 1e-8)
  //  step 2, g = 0.25: m = 0.07, v = 3.1225e-4, m̂ = 0.07/0.19, v̂ = 3.1225e-4/0.001999
  //          → θ2 = θ1 − 0.1·m̂/(√v̂ + ε) = 0.8067820404774624
  Adam<double> opt({.lr = 0.1});
  Vector<double> p(1), g(1);
  p << 1.0;
  g << 0.5;
  opt.step(p, g);
  CHECK(p(0) == Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-15));
  CHECK(opt.first_moment()(0) == Approx(0.05).epsilon(1e-15));
  CHECK(opt.second_moment()(0) == Approx(2.5e-4).epsilon(1e-15));
  g << 0.25;
  opt.step(p, g);
  CHECK(opt.first_moment()(0) == Approx(0.07).epsilon(1e-15));
  CHECK(opt.second_moment()(0) == Approx(3.1225e-4).epsilon(1e-14));
  const double expect = (1.0 - 0.1 * 0.5 / (0.5 + 1e-8)) -
                        0.1 * (0.07 / 0.19) / (std::sqrt(3.1225e-4 / 0.001999) + 1e-8);
  CHECK(p(0) == Approx(expect).epsilon(1e-14));
  CHECK(p(0) == Approx(0.8067820404774624).epsilon(1e-14));
}

TEST_CASE("Adam's first step moves every entry by about γ·sign(g)", "[adam]") {
  Adam<double> opt({.lr = 0.01});
  Vector<double> p = Vector<double>::Zero(3), g(3);
  g << 1e-3, -50.0, 2.0;
  opt.step(p, g);
  CHECK(p(0) == Approx(-0.01).epsilon(1e-4));
  CHECK(p(1) == Approx(0.01).epsilon(1e-9));
  CHECK(p(2) == Approx(-0.01).epsilon(1e-8));
}

TEST_CASE("Adam with coupled weight decay adds λθ to the gradient", "[adam]") {
  // θ0 = 2, g = 0, λ = 0.5: effective gradient 1 → first step θ1 = 2 − γ·1/(1 + ε).
  Adam<double> opt({.lr = 0.1, .weight_decay = 0.5});
  Vector<double> p(1), g(1);
  p << 2.0;
  g << 0.0;
  opt.step(p, g);
  CHECK(p(0) == Approx(2.0 - 0.1 / (1.0 + 1e-8)).epsilon(1e-15));
}

TEST_CASE("AdamW shrinks θ by (1 − γλ) before the Adam step", "[adam]") {
  // θ0 = 1, g = 0.5, γ = 0.1, λ = 0.1: θ ← 0.99, then − 0.1·0.5/(0.5 + 1e-8).
  AdamW<double> opt({.lr = 0.1, .weight_decay = 0.1});
  Vector<double> p(1), g(1);
  p << 1.0;
  g << 0.5;
  opt.step(p, g);
  CHECK(p(0) == Approx(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-15));
  CHECK(AdamW<double>().options().weight_decay == 0.01);
  CHECK(AdamW<double>().options().decoupled_weight_decay);
}

TEST_CASE("AdamW without weight decay is bitwise Adam", "[adam]") {
  Adam<double> a({.lr = 0.05});
  AdamW<double> w({.lr = 0.05, .weight_decay = 0.0});
  Vector<double> pa = Vector<double>::Constant(2, 3.0), pw = pa, g(2);
  const auto A = quad_A();
  const auto b = quad_b();
  for (int t = 0; t < 50; ++t) {
    g = A * pa - b;
    a.step(pa, g);
    g = A * pw - b;
    w.step(pw, g);
  }
  CHECK(pa == pw);
}

TEST_CASE("Adam converges to the minimizer of a quadratic (with coupled weight decay)", "[adam]") {
  const auto A = quad_A();
  const auto b = quad_b();
  for (const double wd : {0.0, 0.2}) {
    for (const bool amsgrad : {false, true}) {
      CAPTURE(wd, amsgrad);
      Adam<double> opt({.lr = 0.05, .weight_decay = wd, .amsgrad = amsgrad});
      Vector<double> p = Vector<double>::Constant(2, 3.0), g(2);
      const int steps = 4000;
      for (int t = 0; t < steps; ++t) {
        // anneal the rate so the iterates settle (Adam's steps stay ~γ in size otherwise)
        opt.set_lr(0.05 * 0.5 * (1.0 + std::cos(M_PI * t / steps)));
        g = A * p - b;
        opt.step(p, g);
      }
      const Eigen::Vector2d star = (A + wd * Eigen::Matrix2d::Identity()).ldlt().solve(b);
      CHECK((p - star).norm() < 1e-5);
    }
  }
}

TEST_CASE("AdamW converges on a quadratic to its decoupled fixed point", "[adam]") {
  // A fixed point of AdamW satisfies m̂/(√v̂ + ε) = −λθ. Near convergence m̂ ≈ g and √v̂ ≈ |g|,
  // so each entry has g = 0 or λ|θ| ≈ 1; with λ|θ| far below 1 only g = 0 fits: unlike coupled
  // decay, decoupled decay does not move the minimizer of this quadratic.
  const auto A = quad_A();
  const auto b = quad_b();
  AdamW<double> opt({.lr = 0.05, .weight_decay = 0.01});
  Vector<double> p = Vector<double>::Constant(2, 3.0), g(2);
  const int steps = 20000;
  for (int t = 0; t < steps; ++t) {
    opt.set_lr(0.05 * 0.5 * (1.0 + std::cos(M_PI * t / steps)));
    g = A * p - b;
    opt.step(p, g);
  }
  const Eigen::Vector2d star = A.ldlt().solve(b);
  CHECK((p - star).norm() < 1e-5);
}

TEST_CASE("amsgrad normalizes by the running maximum of v", "[adam]") {
  // A large gradient then small ones: amsgrad keeps v̂ at the max, so its steps are smaller.
  Adam<double> plain({.lr = 0.1, .beta2 = 0.5});
  Adam<double> ams({.lr = 0.1, .beta2 = 0.5, .amsgrad = true});
  Vector<double> p1 = Vector<double>::Zero(1), p2 = p1, g(1);
  g << 10.0;
  plain.step(p1, g);
  ams.step(p2, g);
  CHECK(p1 == p2);
  g << 0.01;
  for (int t = 0; t < 5; ++t) {
    const double before1 = p1(0), before2 = p2(0);
    plain.step(p1, g);
    ams.step(p2, g);
    CHECK(std::abs(p2(0) - before2) < std::abs(p1(0) - before1));
  }
}

TEST_CASE("Adam on float, masks, errors", "[adam]") {
  Adam<float> opt({.lr = 0.1f});
  opt.set_mask(train::ParamMask::from_ranges(4, {{2, 4}}));
  Vector<float> p = Vector<float>::Constant(4, 1.0f), g = Vector<float>::Constant(4, 1.0f);
  opt.step(p, g);
  CHECK(p(0) == 1.0f);
  CHECK(p(1) == 1.0f);
  CHECK(p(2) == Approx(0.9).epsilon(1e-6));
  CHECK(opt.first_moment()(0) == 0.0f);
  CHECK(opt.second_moment()(1) == 0.0f);

  Vector<float> g3 = Vector<float>::Zero(3);
  CHECK_THROWS_WITH(opt.step(p, g3), Catch::Contains("Adam") && Catch::Contains("4 parameters"));
  CHECK_THROWS_WITH(Adam<double>({.beta1 = 1.0}), Catch::Contains("beta1"));
  CHECK_THROWS_WITH(Adam<double>({.beta2 = -0.1}), Catch::Contains("beta2"));
  CHECK_THROWS_AS(Adam<double>({.eps = -1.0}), ValueError);
  CHECK_THROWS_WITH(AdamW<double>({.weight_decay = -1.0}), Catch::Contains("AdamW"));
  opt.reset();
  CHECK(opt.steps() == 0);
  CHECK(opt.first_moment().size() == 0);
}

static_assert(train::Optimizer<Adam<float>>);
static_assert(train::Optimizer<AdamW<double>>);
