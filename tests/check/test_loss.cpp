// Tests of check/loss.hpp: check_loss passes on jacnet's losses (with a teacher net, recorded
// teacher data, random projections; full and fast mode) and names the wrong parameter or input of
// a loss term with a deliberately wrong adjoint.
#include <catch2/catch.hpp>

#include "jacnet/check/loss.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/noisy_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/nets.hpp"

using namespace jacnet;
using namespace jacnet::losses;

namespace {
using MLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>>;
MLP mlp(Index D, Index H, Index C, std::uint64_t seed) {
  MLP net(Shape{D}, nn::Dense<double>(D, H), nn::Tanh<double>(), nn::Dense<double>(H, C));
  net.init(seed);
  nn::testing::fill_zero_params(net, seed + 1);  // non-zero biases
  return net;
}
Matrix<double> inputs(Index B, Index D, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  Matrix<double> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = N(g);
  return X;
}
// OutputMatch with the adjoint 3(S − T)/B instead of 2(S − T)/B.
struct WrongMatch : Term<WrongMatch> {
  static constexpr Needs needs{.teacher_outputs = true};
  std::string name() const { return "WrongMatch"; }
  Index prepare(const Sizes&) const { return 0; }
  Index student_offset(const Sizes&) const { return 0; }
  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    const Index B = ctx.n.B, Ct = ctx.n.Ct;
    const auto diff = (ctx.Y->middleCols(s.col, Ct) - *ctx.YT).eval();
    adj.Ybar.middleCols(s.col, Ct) += (T(3) * w / T(B)) * diff;
    return diff.squaredNorm() / T(B);
  }
};
}  // namespace

TEST_CASE("check_loss passes on jacnet's losses, full and fast", "[check]") {
  const MLP student = mlp(4, 5, 3, 1), teacher = mlp(4, 6, 3, 2);
  const Matrix<double> X = inputs(3, 4, 3);
  const std::vector<int> labels{0, 2, 1};
  check::LossOptions o;
  o.eps = 1e-5;
  o.atol = 1e-6;
  o.rtol = 0;
  o.scale_atol = true;
  const auto loss = CrossEntropy{} + OutputMatch{} + 0.7 * JacobianMatch<LabelClass>{};
  const check::Report r = check::check_loss(loss, student, X, labels, &teacher, o);
  INFO(r);
  CHECK(r.ok());
  CHECK(r.find("dL/dθ")->checked == student.num_params());
  CHECK(r.find("dL/dX")->checked == X.size());
  // recorded teacher data instead of the net
  const auto data = TeacherData<double>::record(teacher, X, true);
  CHECK(check::check_loss(loss, student, X, labels, &data, o).ok());
  // random projections (fixed draws through the workspace seed), no teacher
  const check::Report n = check::check_loss(JacobianNorm<RandomProjection<2>>{}, student, X, {},
                                            static_cast<const NoTeacher*>(nullptr), o);
  INFO(n);
  CHECK(n.ok());
  o.fast = true;
  const check::Report f = check::check_loss(loss, student, X, labels, &teacher, o);
  INFO(f);
  CHECK(f.ok());
  CHECK(f.find("dL/dX (projected)")->checked == o.projections);
}

TEST_CASE("check_loss names the wrong entry of a wrong adjoint", "[check]") {
  const MLP student = mlp(3, 4, 2, 7), teacher = mlp(3, 4, 2, 8);
  const Matrix<double> X = inputs(2, 3, 9);
  check::LossOptions o;
  o.eps = 1e-5;
  const check::Report r = check::check_loss(WrongMatch{}, student, X, {}, &teacher, o);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(r.find("dL/dθ")->ok());
  CHECK_FALSE(r.find("dL/dX")->ok());
  // the analytic gradient is 1.5 times the true one
  const auto* q = r.find("dL/dθ");
  CHECK(q->got == Approx(1.5 * q->expected).epsilon(1e-5));
  // a loss that evaluates its teacher elsewhere has no fixed-teacher input gradient to check
  CHECK_THROWS_AS(check::check_loss(NoisyMatch<2>(0.3), student, X, {}, &teacher, o), ValueError);
  o.inputs = false;
  CHECK(check::check_loss(NoisyMatch<2>(0.3), student, X, {}, &teacher, o).ok());
}
