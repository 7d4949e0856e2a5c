// Tests of jacnet/train/schedule.hpp: values at known steps for every schedule and warm-up.
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/train/schedule.hpp"

using jacnet::ValueError;
using jacnet::train::Schedule;

TEST_CASE("constant schedule", "[schedule]") {
  const auto s = Schedule::constant(0.01);
  CHECK(s(0) == 0.01);
  CHECK(s(12345) == 0.01);
  CHECK(s.kind() == Schedule::Kind::kConstant);
}

TEST_CASE("step schedule multiplies by gamma every step_size steps (torch StepLR)", "[schedule]") {
  const auto s = Schedule::step(1.0, 30, 0.1);
  CHECK(s(0) == 1.0);
  CHECK(s(29) == 1.0);
  CHECK(s(30) == Approx(0.1).epsilon(1e-15));
  CHECK(s(59) == Approx(0.1).epsilon(1e-15));
  CHECK(s(60) == Approx(0.01).epsilon(1e-15));
  CHECK(s(95) == Approx(0.001).epsilon(1e-15));
}

TEST_CASE("multi-step schedule: the paper's 1e-3 → 1e-4 at epoch 400", "[schedule]") {
  const auto s = Schedule::multi_step(1e-3, {400}, 0.1);
  CHECK(s(0) == 1e-3);
  CHECK(s(399) == 1e-3);
  CHECK(s(400) == Approx(1e-4).epsilon(1e-15));
  CHECK(s(499) == Approx(1e-4).epsilon(1e-15));
  const auto m = Schedule::multi_step(1.0, {2, 5}, 0.5);
  CHECK(m(1) == 1.0);
  CHECK(m(2) == 0.5);
  CHECK(m(4) == 0.5);
  CHECK(m(5) == 0.25);
  CHECK_THROWS_AS(Schedule::multi_step(1.0, {5, 2}), ValueError);
  CHECK_THROWS_AS(Schedule::multi_step(1.0, {-1}), ValueError);
}

TEST_CASE("cosine schedule: γmin + (γ0 − γmin)(1 + cos(πt/T))/2, held at γmin", "[schedule]") {
  const auto s = Schedule::cosine(1.0, 100, 0.1);
  CHECK(s(0) == 1.0);
  CHECK(s(50) == Approx(0.55).epsilon(1e-14));  // cos(π/2) = 0
  CHECK(s(25) == Approx(0.1 + 0.9 * (1.0 + std::sqrt(0.5)) / 2.0).epsilon(1e-14));
  CHECK(s(100) == 0.1);
  CHECK(s(1000) == 0.1);
  for (int t = 1; t <= 100; ++t) CHECK(s(t) <= s(t - 1));  // non-increasing
  const auto z = Schedule::cosine(2.0, 4);
  CHECK(z(2) == Approx(1.0).epsilon(1e-15));
  CHECK(z(4) == 0.0);
}

TEST_CASE("linear warm-up then the main schedule on t − W", "[schedule]") {
  const auto s = Schedule::cosine(1.0, 100).with_warmup(10);
  CHECK(s(0) == 0.0);
  CHECK(s(5) == Approx(0.5).epsilon(1e-15));
  CHECK(s(9) == Approx(0.9).epsilon(1e-15));
  CHECK(s(10) == 1.0);                         // cosine starts at its peak after warm-up
  CHECK(s(60) == Approx(0.5).epsilon(1e-14));  // halfway through the cosine
  CHECK(s(110) == 0.0);
  const auto f = Schedule::constant(0.1).with_warmup(4, 0.5);  // torch LinearLR(start_factor=0.5)
  CHECK(f(0) == Approx(0.05).epsilon(1e-15));
  CHECK(f(2) == Approx(0.075).epsilon(1e-15));
  CHECK(f(4) == 0.1);
  const auto st = Schedule::step(1.0, 2, 0.5).with_warmup(3, 1.0);
  CHECK(st(0) == 1.0);
  CHECK(st(3) == 1.0);
  CHECK(st(5) == 0.5);
  CHECK(st.warmup_steps() == 3);
}

TEST_CASE("schedules describe themselves and reject bad arguments", "[schedule]") {
  CHECK(Schedule::cosine(1e-3, 1000).with_warmup(100).str() ==
        "cosine(lr=0.001, T=1000, lr_min=0) + warmup(100, from 0)");
  CHECK(Schedule::multi_step(1e-3, {400}).str() == "multi_step(lr=0.001, at 400, gamma=0.1)");
  CHECK_THROWS_AS(Schedule::constant(-1.0), ValueError);
  CHECK_THROWS_AS(Schedule::step(1.0, 0), ValueError);
  CHECK_THROWS_AS(Schedule::cosine(1.0, 0), ValueError);
  CHECK_THROWS_WITH(Schedule::cosine(1.0, 10, 2.0), Catch::Contains("lr_min"));
  CHECK_THROWS_AS(Schedule::constant(1.0).with_warmup(-1), ValueError);
  CHECK_THROWS_AS(Schedule::constant(1.0).with_warmup(5, 1.5), ValueError);
  CHECK_THROWS_AS(Schedule::constant(1.0)(-1), ValueError);
}
