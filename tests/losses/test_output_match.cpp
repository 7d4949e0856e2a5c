#include <catch2/catch.hpp>

#include "support/ad_reference.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("OutputMatch: value is the batch mean of the summed squared logit error", "[losses]") {
  OutputMatch om;
  Quantities q(om, Sizes{.B = 4, .D = 2, .Cs = 3, .Ct = 3});
  CHECK(q.value(om) == Approx((q.Y - q.YT).squaredNorm() / 4).epsilon(1e-14));
  testing::check_all_adjoints(q, om);
}

TEST_CASE("OutputMatch: StudentOffset matches a slice of the student's outputs", "[losses]") {
  OutputMatch om{StudentOffset{2}};
  Quantities q(om, Sizes{.B = 3, .D = 2, .Cs = 5, .Ct = 3});
  CHECK(q.value(om) == Approx((q.Y.rightCols(3) - q.YT).squaredNorm() / 3).epsilon(1e-14));
  Adjoints<double> adj;
  q.value(om, &adj);
  CHECK(adj.Ybar.leftCols(2).isZero(0));
  testing::check_all_adjoints(q, om);
}

TEST_CASE("OutputMatch: mismatched teacher/student sizes throw", "[losses]") {
  OutputMatch om;
  CHECK_THROWS_AS(Quantities(om, Sizes{.B = 2, .D = 2, .Cs = 4, .Ct = 3}), ShapeError);
  CHECK_THROWS_WITH(Quantities(om, Sizes{.B = 2, .D = 2, .Cs = 4, .Ct = 3}),
                    Catch::Contains("teacher has 3 outputs but student has 4"));
  OutputMatch off{StudentOffset{2}};
  CHECK_THROWS_WITH(Quantities(off, Sizes{.B = 2, .D = 2, .Cs = 4, .Ct = 3}),
                    Catch::Contains("[2, 5)") && Catch::Contains("student has 4"));
  CHECK_THROWS_WITH(Quantities(om, Sizes{.B = 2, .D = 2, .Cs = 4, .Ct = 0}),
                    Catch::Contains("needs a teacher"));
}

TEST_CASE("OutputMatch through nets: gradient vs finite differences and AD", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 5, 1);
  auto teacher = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 2);
  const OutputMatch om{StudentOffset{1}};
  check_gradients(om, student, X, {}, &teacher);
  Workspace<double> ws;
  const auto& r = om.value_and_grad(student, Batch(X, teacher), ws);
  const Matrix<double> YT = teacher.forward(X);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 5}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        V t = V::constant(0.0);
        for (Index i = 0; i < 3; ++i)
          t = t + (s.y[std::size_t(1 + i)] - YT(b, i)) * (s.y[std::size_t(1 + i)] - YT(b, i));
        return t;
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
  // A teacher with the wrong input size is rejected.
  auto wrong = tanh_mlp(5, 4, 4, 3, 3);
  CHECK_THROWS_WITH(om.value_and_grad(student, Batch(X, wrong), ws),
                    Catch::Contains("teacher net takes 5 inputs") && Catch::Contains("has 4"));
}
