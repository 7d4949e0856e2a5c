// TeacherData::record_for (issue 13 item 6): only the teacher Jacobian rows a loss reads are
// stored (the label row, the teacher's top-k rows), the loss's value and gradient are bitwise
// those of the full recording, the stored Jacobian is Ct/R times smaller, batches gathered by
// train::gather_teacher keep their rows, and a loss reading a row that was not recorded fails
// naming the term and the rows held.
#include <catch2/catch.hpp>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/train/fit.hpp"
#include "support/net_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

namespace {
/// Value and gradient of `loss` with the teacher `data`, from a fresh workspace.
template <class L>
std::pair<double, Vector<double>> step(const L& loss, const TanhMLP& student,
                                       const Matrix<double>& X, const std::vector<int>& labels,
                                       const TeacherData<double>& data) {
  LossWorkspace<double> ws(5);
  const auto& r = loss.value_and_grad(student, Batch(X, labels, data), ws);
  return {r.value, r.grad};
}

/// A student, a teacher (D inputs, C outputs), B inputs and labels.
struct Setup {
  Index B, D, C;
  TanhMLP student = tanh_mlp(D, 9, 8, C, 1);
  TanhMLP teacher = tanh_mlp(D, 11, 7, C, 2);
  Matrix<double> X = random_inputs(B, D, 3);
  std::vector<int> labels = random_labels(B, C, 4);
};
}  // namespace

TEST_CASE("TeacherData::record_for keeps only the rows the loss reads, with the same step",
          "[losses][teacher_data]") {
  const Setup s{12, 6, 5};
  const Index B = s.B, D = s.D, C = s.C;
  const auto& [student, teacher, X, labels] = std::tie(s.student, s.teacher, s.X, s.labels);
  const auto full = TeacherData<double>::record(teacher, X, true);
  REQUIRE(full.jacobian.size() == B * C * D);

  SECTION("label row") {
    const auto loss = CrossEntropy{} + OutputMatch{} + JacobianMatch<LabelClass>{};
    const auto part = TeacherData<double>::record_for(loss, teacher, X, labels);
    CHECK(part.jacobian_rows_per_sample() == 1);
    CHECK(part.jacobian.size() * C == full.jacobian.size());  // C times fewer stored numbers
    for (Index b = 0; b < B; ++b) {
      const auto l = static_cast<std::size_t>(b);
      CHECK(part.jacobian_rows[l] == labels[l]);
      CHECK(part.jacobian.row(b) == full.jacobian.row(b * C + labels[l]));
    }
    CHECK(part.outputs == full.outputs);
    const auto a = step(loss, student, X, labels, full), p = step(loss, student, X, labels, part);
    CHECK(p.first == a.first);
    CHECK(p.second == a.second);
  }
  SECTION("top-1 row, L2-normalized") {
    const auto loss = OutputMatch{} + JacobianMatch<TeacherTop<1>, L2>{};
    const auto part = TeacherData<double>::record_for(loss, teacher, X);
    CHECK(part.jacobian_rows_per_sample() == 1);
    CHECK(part.jacobian.size() * C == full.jacobian.size());
    const auto top = nn::top_k_indices(full.outputs, 1);
    for (Index b = 0; b < B; ++b)
      CHECK(part.jacobian_rows[static_cast<std::size_t>(b)] == top[static_cast<std::size_t>(b)]);
    const auto a = step(loss, student, X, labels, full), p = step(loss, student, X, labels, part);
    CHECK(p.first == a.first);
    CHECK(p.second == a.second);
  }
  SECTION("label and top-2 rows together: the union, padded to the same count per sample") {
    const auto loss = JacobianMatch<LabelClass>{} + 0.5 * JacobianMatch<TeacherTop<2>>{};
    const auto part = TeacherData<double>::record_for(loss, teacher, X, labels);
    const Index R = part.jacobian_rows_per_sample();
    CHECK((R == 2 || R == 3));
    CHECK(part.jacobian.rows() == B * R);
    for (Index b = 0; b < B; ++b)
      for (Index r = 0; r < R; ++r) {
        const Index i = part.jacobian_rows[static_cast<std::size_t>(b * R + r)];
        if (r > 0) CHECK(i > part.jacobian_rows[static_cast<std::size_t>(b * R + r - 1)]);
        CHECK(part.jacobian.row(b * R + r) == full.jacobian.row(b * C + i));
      }
    const auto a = step(loss, student, X, labels, full), p = step(loss, student, X, labels, part);
    CHECK(p.first == a.first);
    CHECK(p.second == a.second);
  }
  SECTION("all rows when a term needs them; none without a Jacobian term") {
    const auto all = TeacherData<double>::record_for(
        JacobianMatch<LabelClass>{} + JacobianMatch<RandomProjection<1>>{}, teacher, X, labels);
    CHECK(all.jacobian_rows.empty());
    CHECK(all.jacobian == full.jacobian);
    const auto none = TeacherData<double>::record_for(OutputMatch{}, teacher, X);
    CHECK(none.jacobian.size() == 0);
    CHECK(none.outputs == full.outputs);
  }
  SECTION("labels are required for a label row") {
    CHECK_THROWS_AS(TeacherData<double>::record_for(JacobianMatch<LabelClass>{}, teacher, X),
                    ShapeError);
  }
}

TEST_CASE("TeacherData::record_for: a row that was not recorded is an error naming the term",
          "[losses][teacher_data]") {
  Setup s{8, 5, 4};
  const Index C = s.C;
  const auto& [student, teacher, X] = std::tie(s.student, s.teacher, s.X);
  std::vector<int>& labels = s.labels;
  const auto part =
      TeacherData<double>::record_for(JacobianMatch<LabelClass>{}, teacher, X, labels);
  // Another loss (top-2 rows) and other labels both need rows that were not recorded.
  LossWorkspace<double> ws;
  CHECK_THROWS_WITH(
      (CrossEntropy{} + JacobianMatch<TeacherTop<2>>{}).value_and_grad(student,
                                                                       Batch(X, labels, part), ws),
      Catch::Contains("JacobianMatch<TeacherTop<2>, NoNorm> needs the teacher's Jacobian row") &&
          Catch::Contains("TeacherData holds only row(s) {") &&
          Catch::Contains("record_for(this loss"));
  labels[3] = (labels[3] + 1) % static_cast<int>(C);
  CHECK_THROWS_AS(JacobianMatch<LabelClass>{}.value_and_grad(student, Batch(X, labels, part), ws),
                  ValueError);
  CHECK_THROWS_WITH(
      JacobianMatch<LabelClass>{}.value_and_grad(student, Batch(X, labels, part), ws),
      Catch::Contains("JacobianMatch<LabelClass, NoNorm> needs the teacher's Jacobian row " +
                      std::to_string(labels[3]) + " at sample 3"));
}

TEST_CASE("train::gather_teacher keeps record_for's rows per sample", "[losses][teacher_data]") {
  const Index B = 10, D = 4, C = 3;
  auto teacher = tanh_mlp(D, 5, 5, C, 2);
  const Matrix<double> X = random_inputs(B, D, 3);
  const auto loss = JacobianMatch<TeacherTop<1>>{};
  const auto part = TeacherData<double>::record_for(loss, teacher, X);
  const std::vector<Index> idx{7, 2, 9};
  TeacherData<double> out;
  train::gather_teacher(part, std::span<const Index>(idx), out);
  REQUIRE(out.jacobian_rows.size() == idx.size());
  for (std::size_t r = 0; r < idx.size(); ++r) {
    CHECK(out.jacobian_rows[r] == part.jacobian_rows[static_cast<std::size_t>(idx[r])]);
    CHECK(out.jacobian.row(Index(r)) == part.jacobian.row(idx[r]));
  }
  // The gathered batch gives the step of the same rows of X.
  auto student = tanh_mlp(D, 4, 4, C, 1);
  Matrix<double> Xb(3, D);
  for (std::size_t r = 0; r < idx.size(); ++r) Xb.row(Index(r)) = X.row(idx[r]);
  const auto direct = TeacherData<double>::record_for(loss, teacher, Xb);
  LossWorkspace<double> wa, wb;
  const double va = loss.value_and_grad(student, Batch(Xb, out), wa).value;
  const double vb = loss.value_and_grad(student, Batch(Xb, direct), wb).value;
  CHECK(va == Approx(vb).epsilon(1e-12));
}
