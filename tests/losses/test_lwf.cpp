#include <catch2/catch.hpp>
#include <cmath>

#include "support/ad_reference.hpp"
#include "jacnet/losses/lwf.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("LwF: new-task CE plus old-head soft cross-entropy at T = 2", "[losses]") {
  LwF<> lwf(3);
  Quantities q(lwf, Sizes{.B = 4, .D = 2, .Cs = 3 + 5, .Ct = 5});
  for (auto& l : q.labels) l %= 3;
  double expect = 0;
  for (Index b = 0; b < 4; ++b) {
    double zn = 0, zp = 0, zq = 0;
    for (Index i = 0; i < 3; ++i) zn += std::exp(q.Y(b, i));
    expect -= std::log(std::exp(q.Y(b, q.labels[b])) / zn);
    for (Index i = 0; i < 5; ++i) zp += std::exp(q.YT(b, i) / 2), zq += std::exp(q.Y(b, 3 + i) / 2);
    for (Index i = 0; i < 5; ++i)
      expect -= std::exp(q.YT(b, i) / 2) / zp * std::log(std::exp(q.Y(b, 3 + i) / 2) / zq);
  }
  CHECK(q.value(lwf) == Approx(expect / 4).epsilon(1e-12));
  testing::check_all_adjoints(q, lwf);
  LwF<4.0> hot(3, 0.5);
  testing::check_all_adjoints(q, hot);
  CHECK(hot.name() == "LwF<4>(new 3)");
}

TEST_CASE("LwF: layout and label checks", "[losses]") {
  LwF<> lwf(3);
  CHECK_THROWS_WITH(Quantities(lwf, Sizes{.B = 2, .D = 2, .Cs = 7, .Ct = 5}),
                    Catch::Contains("3 + 5 = 8") && Catch::Contains("has 7"));
  Quantities q(lwf, Sizes{.B = 2, .D = 2, .Cs = 8, .Ct = 5});
  q.labels = {0, 4};
  CHECK_THROWS_WITH(q.value(lwf),
                    Catch::Contains("label 4 of sample 1") && Catch::Contains("[0, 3)"));
  CHECK_THROWS_AS(LwF<>(0), ValueError);
}

TEST_CASE("LwF through nets: gradient vs finite differences and AD", "[losses]") {
  // Student: shared trunk, last Dense with 2 new-task + 3 old-task outputs; teacher: 3 outputs.
  auto student = tanh_mlp(4, 5, 5, 2 + 3, 1);
  auto teacher = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 2);
  const auto labels = random_labels(6, 2, 3);
  const LwF<> lwf(2, 0.8);
  check_gradients(lwf, student, X, labels, &teacher);
  Workspace<double> ws;
  const auto& r = lwf.value_and_grad(student, Batch(X, labels, teacher), ws);
  const Matrix<double> YT = teacher.forward(X);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 5}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        const std::vector<V> ynew(s.y.begin(), s.y.begin() + 2), yold(s.y.begin() + 2, s.y.end());
        const auto p = softmax_plain(row_of(YT, b), 2.0);
        const V lse = logsumexp(yold, 2.0);
        V old = V::constant(0.0);
        for (std::size_t i = 0; i < 3; ++i) old = old - p[i] * (yold[i] / 2.0 - lse);
        return V(logsumexp(ynew) - ynew[std::size_t(labels[b])] + 0.8 * old);
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
  // Recorded teacher outputs (the paper records them once, before training) give the same step.
  const auto data = TeacherData<double>::record(teacher, X, false);
  Workspace<double> ws2;
  const auto& r2 = lwf.value_and_grad(student, Batch(X, labels, data), ws2);
  CHECK(r2.value == r.value);
  CHECK(r2.grad == r.grad);
}
