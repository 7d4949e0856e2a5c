#include <catch2/catch.hpp>
#include <cmath>

#include "support/ad_reference.hpp"
#include "jacnet/losses/attention_transfer.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

namespace {
// Q = Σ_c A_c² normalized, computed naively for one sample.
Vector<double> attention(const Matrix<double>& A, Index b, const Shape& s) {
  Vector<double> q = Vector<double>::Zero(s[1] * s[2]);
  for (Index c = 0; c < s[0]; ++c)
    for (Index p = 0; p < q.size(); ++p) q(p) += std::pow(A(b, c * q.size() + p), 2);
  return q / q.norm();
}
}  // namespace

TEST_CASE("AttentionTransfer: β/2 · mean ‖q_S − q_T‖² between boundaries", "[losses]") {
  AttentionTransfer at(1, 2, 3.0);
  const Shape s0{2}, s1{3, 4, 5}, t1{7}, t2{6, 4, 5};
  Quantities q(at, Sizes{.B = 3, .D = 2, .Cs = 2, .Ct = 2}, {s0, s1}, {s0, t1, t2});
  REQUIRE(q.plan.student_at == std::vector<Index>{1});
  REQUIRE(q.plan.teacher_at == std::vector<Index>{2});
  double expect = 0;
  for (Index b = 0; b < 3; ++b)
    expect += (attention(q.act_store[1], b, s1) - attention(q.tact_store[2], b, t2)).squaredNorm();
  CHECK(q.value(at) == Approx(1.5 * expect / 3).epsilon(1e-12));
  testing::check_all_adjoints(q, at);
  // Composes with an output term; two AT pairs add.
  const auto loss = OutputMatch{} + 0.1 * at + AttentionTransfer(1, 2);
  testing::check_all_adjoints(q, loss);
}

TEST_CASE("AttentionTransfer: invariant to activation scale, shape errors", "[losses]") {
  AttentionTransfer at(1, 1);
  const Shape s1{2, 3, 3};
  Quantities q(at, Sizes{.B = 2, .D = 2, .Cs = 2, .Ct = 2}, {Shape{2}, s1},
               {Shape{2}, Shape{5, 3, 3}});
  const double v = q.value(at);
  q.act_store[1] *= 3.0;
  CHECK(q.value(at) == Approx(v).epsilon(1e-12));
  Quantities bad(at, Sizes{.B = 2, .D = 2, .Cs = 2, .Ct = 2}, {Shape{2}, s1},
                 {Shape{2}, Shape{5, 3, 4}});
  CHECK_THROWS_WITH(bad.value(at), Catch::Contains("spatial sizes differ") &&
                                       Catch::Contains("[2x3x3]") && Catch::Contains("[5x3x4]"));
  Quantities flat(at, Sizes{.B = 2, .D = 2, .Cs = 2, .Ct = 2}, {Shape{2}, Shape{18}},
                  {Shape{2}, Shape{18}});
  CHECK_THROWS_WITH(flat.value(at), Catch::Contains("needs image activations"));
  AttentionTransfer far(4, 1);
  CHECK_THROWS_WITH(
      Quantities(far, Sizes{.B = 2, .D = 2, .Cs = 2, .Ct = 2}, {Shape{2}, s1}, {Shape{2}, s1})
          .value(far),
      Catch::Contains("boundary 4"));
}

TEST_CASE("AttentionTransfer through CNNs: gradient vs finite differences and AD", "[losses]") {
  // Student 1x4x4 → 3 ch → 2 ch; teacher 1x4x4 → 5 ch → 4 ch; match after each conv's tanh.
  auto student = small_cnn(1, 4, 4, 3, 2, 3, 1);
  auto teacher = small_cnn(1, 4, 4, 5, 4, 3, 2);
  Matrix<double> X = random_inputs(3, 16, 2);
  const auto loss = AttentionTransfer(2, 2, 2.0) + 0.5 * AttentionTransfer(4, 4);
  check_gradients(loss, student, X, {}, &teacher);
  Workspace<double> ws;
  const auto& r = loss.value_and_grad(student, Batch(X, teacher), ws);
  nn::Trace<double> tt;
  teacher.forward(X, tt);
  auto at_ref = [&](const std::vector<V>& a, Index C, const Matrix<double>& At, Index Ct, Index b) {
    std::vector<V> q(16, V::constant(0.0));
    std::vector<double> qt(16, 0.0);
    for (Index c = 0; c < C; ++c)
      for (Index p = 0; p < 16; ++p)
        q[p] = q[p] + a[std::size_t(c * 16 + p)] * a[std::size_t(c * 16 + p)];
    for (Index c = 0; c < Ct; ++c)
      for (Index p = 0; p < 16; ++p) qt[p] += At(b, c * 16 + p) * At(b, c * 16 + p);
    V n2 = V::constant(1e-12);
    double nt = 1e-12;
    for (Index p = 0; p < 16; ++p) n2 = n2 + q[p] * q[p], nt += qt[p] * qt[p];
    const V n = sqrt(n2);
    V d2 = V::constant(0.0);
    for (Index p = 0; p < 16; ++p) {
      const V d = q[p] / n - qt[p] / std::sqrt(nt);
      d2 = d2 + d * d;
    }
    return d2;
  };
  double v = 0;
  const Vector<double> g = ad_cnn_gradient<16>(
      1, 4, 4, 3, 2, 3, student.param_vector(), X,
      [&](Index b, const CnnSampleAD& s) {
        return V(2.0 / 2 * at_ref(s.act2, 3, tt.acts[2], 5, b) +
                 0.5 * 0.5 * at_ref(s.act4, 2, tt.acts[4], 4, b));
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
  // A boundary beyond the net is a clear error.
  CHECK_THROWS_WITH(AttentionTransfer(9, 2).value_and_grad(student, Batch(X, teacher), ws),
                    Catch::Contains("boundary 9"));
}
