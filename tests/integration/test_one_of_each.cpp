// Cross-cutting (nn + losses): one of each concept — one random-draw and seed module (nn and
// losses draw the same directions and pick the same top-k), one label type (int labels work in
// nn::seeds_label), one net concept, one is_teacher_data, distinct workspace names, results by
// term type, run-time temperatures, and the LossTerm concept that rejects a malformed term.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/lwf.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/losses/soft_target_kd.hpp"
#include "jacnet/nn/modes.hpp"
#include "support/net_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;

namespace {
/// Derived from Term but without evaluate: not a LossTerm (a `+` with it fails to compile with
/// the protocol's static_assert message).
struct NoEvaluate : Term<NoEvaluate> {
  static constexpr Needs needs{};
  std::string name() const { return "NoEvaluate"; }
};
/// Derived from Term but without needs.
struct NoNeeds : Term<NoNeeds> {
  std::string name() const { return "NoNeeds"; }
  template <class T>
  T evaluate(const Context<T>&, const Slot&, T, Adjoints<T>&) const {
    return T(0);
  }
};
}  // namespace

TEST_CASE("one of each: the LossTerm concept accepts the terms and rejects malformed ones",
          "[integration]") {
  STATIC_REQUIRE(LossTerm<CrossEntropy>);
  STATIC_REQUIRE(LossTerm<OutputMatch>);
  STATIC_REQUIRE(LossTerm<JacobianMatch<TeacherTop<2>, L2>>);
  STATIC_REQUIRE(LossTerm<JacobianNorm<RandomProjection<1>>>);
  STATIC_REQUIRE(LossTerm<SoftTargetKD<>>);
  STATIC_REQUIRE(LossTerm<LwF<>>);
  STATIC_REQUIRE_FALSE(LossTerm<NoEvaluate>);
  STATIC_REQUIRE_FALSE(LossTerm<NoNeeds>);
  STATIC_REQUIRE_FALSE(LossExpression<NoEvaluate>);
  STATIC_REQUIRE(LossExpression<decltype(CrossEntropy{} + 0.5 * OutputMatch{})>);
  // Distinct workspace names; the old names still mean the same types.
  STATIC_REQUIRE(std::is_same_v<nn::Workspace<double>, nn::ModeWorkspace<double>>);
  STATIC_REQUIRE(std::is_same_v<losses::Workspace<double>, LossWorkspace<double>>);
  STATIC_REQUIRE(!std::is_same_v<nn::ModeWorkspace<double>, LossWorkspace<double>>);
  // One net concept, one TeacherData trait.
  STATIC_REQUIRE(nn::NetModel<testing::TanhMLP>);
  STATIC_REQUIRE(nn::ForwardNet<testing::TanhMLP>);
  STATIC_REQUIRE_FALSE(nn::NetModel<TeacherData<double>>);
  STATIC_REQUIRE(is_teacher_data_v<TeacherData<float>>);
  STATIC_REQUIRE_FALSE(is_teacher_data_v<testing::TanhMLP>);
}

TEST_CASE("one of each: nn and losses draw the same random directions and top-k rows",
          "[integration]") {
  const Index B = 4, M = 3, C = 5;
  std::mt19937_64 r1(42), r2(42);
  const Matrix<double> S = nn::seeds_random_unit<double>(B, M, C, r1);
  Matrix<double> P = Matrix<double>::Zero(B * M, C);
  for (Index b = 0; b < B; ++b)
    RandomProjection<3>::fill<double>(P.middleRows(b * M, M), 0, C, b, {}, nullptr, r2);
  CHECK(S == P);
  for (Index r = 0; r < S.rows(); ++r) CHECK(S.row(r).norm() == Approx(1.0).epsilon(1e-14));
  // Top-k with ties (lower index first) is the same in nn and in TeacherTop.
  Matrix<double> Y(3, 5);
  Y << 1, 3, 3, 0, 2,  //
      5, 5, 5, 5, 5,   //
      -1, -2, 4, 4, -3;
  const Matrix<double> nn_top = nn::seeds_top_k(Y, 2);
  Matrix<double> loss_top = Matrix<double>::Zero(6, 5);
  std::mt19937_64 unused(0);
  for (Index b = 0; b < 3; ++b)
    TeacherTop<2>::fill<double>(loss_top.middleRows(b * 2, 2), 0, 5, b, {}, &Y, unused);
  CHECK(nn_top == loss_top);
  CHECK(nn::top_k_indices(Y, 2) == std::vector<Index>{1, 2, 0, 1, 2, 3});
}

TEST_CASE("one of each: int labels work in nn::seeds_label and match LabelClass", "[integration]") {
  const std::vector<int> labels{2, 0, 1};
  const std::vector<Index> index_labels{2, 0, 1};
  const Matrix<double> Si = nn::seeds_label<double>(labels, 3);
  CHECK(Si == nn::seeds_label<double>(index_labels, 3));
  Matrix<double> L = Matrix<double>::Zero(3, 3);
  std::mt19937_64 unused(0);
  for (Index b = 0; b < 3; ++b)
    LabelClass::fill<double>(L.middleRows(b, 1), 0, 3, b, labels, nullptr, unused);
  CHECK(Si == L);
  CHECK_THROWS_AS(nn::seeds_label<double>(std::vector<int>{0, 3}, 3), ValueError);
}

TEST_CASE("one of each: results by term type, position as the fallback", "[integration]") {
  const auto student = testing::tanh_mlp(4, 5, 5, 3, 1);
  const auto teacher = testing::tanh_mlp(4, 6, 4, 3, 2);
  const Matrix<double> X = testing::random_inputs(6, 4, 3);
  const std::vector<int> labels = testing::random_labels(6, 3, 4);
  const auto loss = CrossEntropy{} + 0.5 * JacobianMatch<LabelClass>{} +
                    2.0 * JacobianMatch<TeacherTop<1>>{} + 0.25 * JacobianMatch<LabelClass, L2>{};
  LossWorkspace<double> ws(3);
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  REQUIRE(r.terms.size() == 4);
  CHECK(&r.term<CrossEntropy>() == &r.terms[0]);
  CHECK(&r.term<JacobianMatch<LabelClass>>() == &r.terms[1]);
  CHECK(r.term<JacobianMatch<TeacherTop<1>>>().weight == 2.0);
  CHECK(&r.term<JacobianMatch<LabelClass, L2>>() == &r.terms[3]);
  CHECK_THROWS_AS(r.term<OutputMatch>(), ValueError);
  CHECK_THROWS_AS(r.term<CrossEntropy>(1), ValueError);
  CHECK(term_names(loss)[2] == "JacobianMatch<TeacherTop<1>, NoNorm>");
  // Two terms of one type: nth picks among them.
  const auto twice = CrossEntropy{} + 3.0 * CrossEntropy{};
  const auto& r2 = twice.value_and_grad(student, Batch(X, labels), ws);
  CHECK(r2.term<CrossEntropy>(1).weight == 3.0);
  CHECK(r2.term<CrossEntropy>(0).value == r2.term<CrossEntropy>(1).value);
}

TEST_CASE("one of each: run-time temperatures equal the compile-time ones", "[integration]") {
  const auto student = testing::tanh_mlp(4, 5, 5, 3, 1);
  const auto teacher = testing::tanh_mlp(4, 6, 4, 3, 2);
  const Matrix<double> X = testing::random_inputs(6, 4, 3);
  LossWorkspace<double> w1, w2;
  for (const double tau : {0.5, 2.0, 4.0}) {
    // One type for every τ of the sweep.
    const SoftTargetKD<> kd(tau);
    CHECK(kd.temperature == tau);
    const auto& a = kd.value_and_grad(student, Batch(X, teacher), w1);
    const double va = a.value;
    const Vector<double> ga = a.grad;
    const auto& b = (tau == 0.5   ? SoftTargetKD<0.5>{}.value_and_grad(student, Batch(X, teacher), w2)
                     : tau == 2.0 ? SoftTargetKD<2.0>{}.value_and_grad(student, Batch(X, teacher), w2)
                                  : SoftTargetKD<4.0>{}.value_and_grad(student, Batch(X, teacher), w2));
    CHECK(va == b.value);
    CHECK(ga == b.grad);
  }
  CHECK(SoftTargetKD<>(3.0).name() == SoftTargetKD<3.0>{}.name());
  CHECK_THROWS_AS(SoftTargetKD<>(0.0), ValueError);
  // LwF: the temperature as a run-time argument.
  auto lwf_student = testing::tanh_mlp(4, 5, 5, 5, 1);  // [2 new | 3 old] outputs
  const std::vector<int> new_labels = testing::random_labels(6, 2, 5);
  const LwF<> hot(2, 0.5, 4.0);
  const double v_rt = hot.value(lwf_student, Batch(X, new_labels, teacher), w1);
  CHECK(v_rt == LwF<4.0>(2, 0.5).value(lwf_student, Batch(X, new_labels, teacher), w2));
  CHECK(hot.name() == "LwF<4>(new 2)");
  CHECK_THROWS_AS(LwF<>(2, 1.0, -1.0), ValueError);
}
