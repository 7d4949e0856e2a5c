// Cross-cutting (nn + losses): the teacher's forward runs once per evaluation in every
// configuration (live teacher net; TeacherTop seeds chosen from its outputs; outputs + Jacobian
// rows; rows only), and reusing that forward for the Jacobian rows changes no value.
#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <utility>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/losses/soft_target_kd.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/modes.hpp"
#include "support/net_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;

namespace {

/// Tanh that counts its forward calls (one per net forward: the batches here are one shard).
template <class T>
struct CountingTanh : nn::Tanh<T> {
  static inline std::atomic<int> forwards{0};
  void forward(const T* p, const auto& X, auto&& Y) const {
    ++forwards;
    nn::Tanh<T>::forward(p, X, std::forward<decltype(Y)>(Y));
  }
};

using CountedNet = nn::Sequential<nn::Dense<double>, CountingTanh<double>, nn::Dense<double>>;

CountedNet counted_teacher(Index D, Index H, Index C, std::uint64_t seed) {
  CountedNet net(Shape{D}, nn::Dense<double>(D, H), CountingTanh<double>(), nn::Dense<double>(H, C));
  net.init(seed);
  return net;
}

/// Teacher forwards during one value_and_grad and one value of `loss`.
template <class L>
std::pair<int, int> forwards_per_evaluation(const L& loss) {
  const auto student = testing::tanh_mlp(5, 6, 6, 4, 1);
  const auto teacher = counted_teacher(5, 7, 4, 2);
  const Matrix<double> X = testing::random_inputs(8, 5, 3);
  const std::vector<int> labels = testing::random_labels(8, 4, 4);
  LossWorkspace<double> ws(5);
  CountingTanh<double>::forwards = 0;
  loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  const int with_grad = CountingTanh<double>::forwards.exchange(0);
  loss.value(student, Batch(X, labels, teacher), ws);
  return {with_grad, CountingTanh<double>::forwards.exchange(0)};
}

}  // namespace

TEST_CASE("teacher forward: once per evaluation in every configuration", "[integration]") {
  using P = std::pair<int, int>;
  // The counter itself: a forward of the counted net is one call.
  {
    const auto teacher = counted_teacher(5, 7, 4, 2);
    CountingTanh<double>::forwards = 0;
    (void)teacher.forward(testing::random_inputs(8, 5, 3));
    REQUIRE(CountingTanh<double>::forwards.load() == 1);
  }
  CHECK(forwards_per_evaluation(OutputMatch{}) == P{1, 1});
  CHECK(forwards_per_evaluation(CrossEntropy{} + SoftTargetKD<>(2.0)) == P{1, 1});
  CHECK(forwards_per_evaluation(JacobianMatch<Full>{}) == P{1, 1});
  CHECK(forwards_per_evaluation(JacobianMatch<LabelClass>{}) == P{1, 1});
  CHECK(forwards_per_evaluation(OutputMatch{} + JacobianMatch<Full>{}) == P{1, 1});
  // Seeds chosen from the teacher's outputs: the rows reuse that forward (it ran twice before).
  CHECK(forwards_per_evaluation(JacobianMatch<TeacherTop<1>>{}) == P{1, 1});
  CHECK(forwards_per_evaluation(OutputMatch{} + JacobianMatch<TeacherTop<2>, L2>{}) == P{1, 1});
  CHECK(forwards_per_evaluation(CrossEntropy{} + OutputMatch{} +
                                JacobianMatch<TeacherTop<1>>{} + JacobianMatch<LabelClass>{}) ==
        P{1, 1});
  // No teacher term: no teacher pass at all.
  CHECK(forwards_per_evaluation(CrossEntropy{}) == P{0, 0});
}

TEST_CASE("teacher forward: the rows after the outputs' forward are the rows of a full pass",
          "[integration]") {
  const auto student = testing::tanh_mlp(5, 6, 6, 4, 1);
  const auto teacher = testing::tanh_mlp(5, 7, 5, 4, 2);
  const Matrix<double> X = testing::random_inputs(9, 5, 3);
  // nn level: the same bits as jacobian_rows (which runs its own forward).
  nn::ModeWorkspace<double> ws;
  teacher.forward(X, ws.trace);
  const Matrix<double> seeds = nn::seeds_top_k(ws.trace.output(), 2);
  Matrix<double> after, full;
  nn::jacobian_rows_after_forward(teacher, X, seeds, ws, after);
  full = nn::jacobian_rows(teacher, X, seeds);
  CHECK(after == full);
  std::mt19937_64 rng(7);
  const Matrix<double> dense = nn::seeds_random_unit<double>(9, 2, 4, rng);
  nn::ModeWorkspace<double> ws2;
  teacher.forward(X, ws2.trace);
  nn::jacobian_rows_after_forward(teacher, X, dense, ws2, after);
  CHECK(after == nn::jacobian_rows(teacher, X, dense));
  // A workspace without this batch's forward is refused, naming the function.
  nn::ModeWorkspace<double> fresh;
  CHECK_THROWS_WITH(nn::jacobian_rows_after_forward(teacher, X, seeds, fresh, after),
                    Catch::Contains("nn::jacobian_rows_after_forward"));
  // loss level: the teacher rows of TeacherTop equal the teacher's Jacobian rows at its top-1
  // seeds, bitwise, and the value equals the one from recorded TeacherData.
  LossWorkspace<double> lw(1);
  const auto loss = OutputMatch{} + JacobianMatch<TeacherTop<1>>{};
  const double v = loss.value_and_grad(student, Batch(X, teacher), lw).value;
  CHECK(lw.JT == nn::jacobian_rows(teacher, X, nn::seeds_top_k(teacher.forward(X), 1)));
  const auto data = TeacherData<double>::record(teacher, X, true);
  LossWorkspace<double> lw2(1);
  CHECK(loss.value(student, Batch(X, data), lw2) == Approx(v).epsilon(1e-13));
}
