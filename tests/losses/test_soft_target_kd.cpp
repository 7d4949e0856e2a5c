#include <catch2/catch.hpp>
#include <cmath>

#include "support/ad_reference.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/soft_target_kd.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("SoftTargetKD: value is T² times the KL divergence at temperature T", "[losses]") {
  SoftTargetKD<3.0> kd;
  Quantities q(kd, Sizes{.B = 4, .D = 2, .Cs = 5, .Ct = 5});
  double expect = 0;
  for (Index b = 0; b < 4; ++b) {
    double zp = 0, zq = 0;
    for (Index i = 0; i < 5; ++i) {
      zp += std::exp(q.YT(b, i) / 3.0);
      zq += std::exp(q.Y(b, i) / 3.0);
    }
    for (Index i = 0; i < 5; ++i) {
      const double p = std::exp(q.YT(b, i) / 3.0) / zp, r = std::exp(q.Y(b, i) / 3.0) / zq;
      expect += p * std::log(p / r);
    }
  }
  CHECK(q.value(kd) == Approx(9.0 * expect / 4).epsilon(1e-12));
  CHECK(kd.name() == "SoftTargetKD<3>");
  testing::check_all_adjoints(q, kd);
}

TEST_CASE("SoftTargetKD: zero at equality, T²·KL tends to the logit-matching limit", "[losses]") {
  SoftTargetKD<1.0> kd1;
  Quantities q(kd1, Sizes{.B = 3, .D = 2, .Cs = 4, .Ct = 4});
  q.Y = q.YT;
  CHECK(std::abs(q.value(kd1)) < 1e-14);
  // Hinton §2.1: for T → ∞, T²·KL(p‖q) → (1/2C) Σ_i (d_i − mean d)², d = student − teacher logits.
  q.Y(0, 0) += 0.3;
  q.Y(0, 2) -= 0.1;
  Vector<double> d = (q.Y.row(0) - q.YT.row(0)).transpose();
  const double limit = (d.array() - d.mean()).square().sum() / (2.0 * 4) / 3;
  SoftTargetKD<1000.0> kd1000;
  CHECK(q.value(kd1000) == Approx(limit).epsilon(0.01));
  SoftTargetKD<10.0> kd10;
  testing::check_all_adjoints(q, kd10);
}

TEST_CASE("SoftTargetKD through nets: gradient vs finite differences and AD", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 4, 1);
  auto teacher = tanh_mlp(4, 6, 4, 4, 2);
  teacher.params() *= 3.0;  // confident teacher
  Matrix<double> X = random_inputs(6, 4, 2);
  const auto labels = random_labels(6, 4, 3);
  const auto loss = CrossEntropy{} + 0.5 * SoftTargetKD<4.0>{};
  check_gradients(loss, student, X, labels, &teacher);
  Workspace<double> ws;
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  const Matrix<double> YT = teacher.forward(X);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 4}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        const auto p = softmax_plain(row_of(YT, b), 4.0);
        const V lse = logsumexp(s.y, 4.0);
        V kl = V::constant(0.0);
        for (std::size_t i = 0; i < 4; ++i)
          kl = kl + p[i] * (std::log(p[i]) - (s.y[i] / 4.0 - lse));
        return V(logsumexp(s.y) - s.y[std::size_t(labels[b])] + 0.5 * 16.0 * kl);
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}
