#include <catch2/catch.hpp>
#include <cmath>

#include "support/ad_reference.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("CrossEntropy: value is the mean negative log-softmax of the label", "[losses]") {
  CrossEntropy ce;
  Quantities q(ce, Sizes{.B = 5, .D = 3, .Cs = 4});
  double expect = 0;
  for (Index b = 0; b < 5; ++b) {
    double z = 0;
    for (Index i = 0; i < 4; ++i) z += std::exp(q.Y(b, i));
    expect += -std::log(std::exp(q.Y(b, q.labels[b])) / z);
  }
  CHECK(q.value(ce) == Approx(expect / 5).epsilon(1e-13));
}

TEST_CASE("CrossEntropy: adjoint w.r.t. the logits matches central differences", "[losses]") {
  CrossEntropy ce;
  Quantities q(ce, Sizes{.B = 4, .D = 3, .Cs = 6});
  testing::check_all_adjoints(q, ce);
  testing::check_all_adjoints(q, 0.3 * ce);
}

TEST_CASE("CrossEntropy: large logits stay finite (stable log-softmax)", "[losses]") {
  CrossEntropy ce;
  Quantities q(ce, Sizes{.B = 2, .D = 1, .Cs = 3});
  q.Y << 1e4, 0.0, -1e4, -5e3, 5e3, 5e3 - 1.0;
  q.labels = {1, 2};
  Adjoints<double> adj;
  const double v = q.value(ce, &adj);
  // sample 0: label 1 is 1e4 below the max → loss 1e4; sample 1: log(1 + e^-1) + 1.
  CHECK(v == Approx((1e4 + 1.0 + std::log1p(std::exp(-1.0))) / 2).epsilon(1e-12));
  CHECK(adj.Ybar.allFinite());
  CHECK(adj.Ybar(0, 0) == Approx(0.5));
}

TEST_CASE("CrossEntropy: bad labels throw naming sample and range", "[losses]") {
  CrossEntropy ce;
  Quantities q(ce, Sizes{.B = 3, .D = 2, .Cs = 4});
  q.labels = {0, 4, 1};
  CHECK_THROWS_AS(q.value(ce), ValueError);
  CHECK_THROWS_WITH(q.value(ce),
                    Catch::Contains("label 4 of sample 1") && Catch::Contains("[0, 4)"));
  q.labels = {0, 1};
  CHECK_THROWS_WITH(q.value(ce), Catch::Contains("needs 3 labels"));
}

TEST_CASE("CrossEntropy through a net: gradient vs finite differences and AD", "[losses]") {
  auto net = tanh_mlp(4, 5, 5, 3, 1);
  Matrix<double> X = random_inputs(6, 4, 2);
  const auto labels = random_labels(6, 3, 3);
  check_gradients(CrossEntropy{}, net, X, labels, static_cast<const NoTeacher*>(nullptr));
  Workspace<double> ws;
  const auto& r = CrossEntropy{}.value_and_grad(net, Batch(X, labels), ws);
  CHECK(ws.plan.M == 0);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 3}, net.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) { return V(logsumexp(s.y) - s.y[std::size_t(labels[b])]); },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}
