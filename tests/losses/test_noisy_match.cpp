#include <catch2/catch.hpp>
#include <cmath>

#include "support/ad_reference.hpp"
#include "jacnet/losses/noisy_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

namespace {
// The noisy inputs NoisyMatch<n> draws from a fresh Workspace(seed) when nothing else draws first.
Matrix<double> noisy_copies(const Matrix<double>& X, int n, double sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Matrix<double> Xn(X.rows() * n, X.cols());
  for (Index b = 0; b < X.rows(); ++b)
    for (int j = 0; j < n; ++j)
      for (Index d = 0; d < X.cols(); ++d)
        Xn(b * n + j, d) = X(b, d) + sigma * losses::detail::normal(rng);
  return Xn;
}
}  // namespace

TEST_CASE("NoisyMatch: value is output matching at the noisy copies", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(5, 4, 2);
  Workspace<double> ws(21);
  const double v = NoisyMatch<3>(0.2).value(student, Batch(X, teacher), ws);
  const Matrix<double> Xn = noisy_copies(X, 3, 0.2, 21);
  const double expect = (student.forward(Xn) - teacher.forward(Xn)).squaredNorm() / 15;
  CHECK(v == Approx(expect).epsilon(1e-13));
  // σ = 0 is plain output matching.
  CHECK(NoisyMatch<2>(0.0).value(student, Batch(X, teacher), ws) ==
        Approx(OutputMatch{}.value(student, Batch(X, teacher), ws)).epsilon(1e-13));
  CHECK_THROWS_AS(NoisyMatch<2>(-1.0), ValueError);
  CHECK(NoisyMatch<4, FromLabels>(0.1).name() == "NoisyMatch<4, FromLabels>");
}

TEST_CASE("NoisyMatch: gradient vs finite differences and AD", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(4, 4, 2);
  const auto labels = random_labels(4, 3, 5);
  SECTION("FromTeacher (parameters; the input gradient holds the teacher fixed)") {
    check_gradients(NoisyMatch<3>(0.3), student, X, {}, &teacher, false);
    Workspace<double> ws(11);
    const auto& r = (0.5 * NoisyMatch<3>(0.3)).value_and_grad(student, Batch(X, teacher), ws);
    const Matrix<double> Xn = noisy_copies(X, 3, 0.3, 11);
    const Matrix<double> Tn = teacher.forward(Xn);
    double v = 0;
    const Vector<double> g = ad_mlp_gradient<4>(
        {4, 5, 5, 3}, student.param_vector(), Xn, TanhAct{},
        [&](Index r_, const SampleAD& s) {
          V t = V::constant(0.0);
          for (Index i = 0; i < 3; ++i)
            t = t + (s.y[std::size_t(i)] - Tn(r_, i)) * (s.y[std::size_t(i)] - Tn(r_, i));
          return V(0.5 * t);
        },
        &v);
    CHECK(r.value == Approx(v).epsilon(1e-12));
    CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
  }
  SECTION("FromLabels (parameters and inputs)") {
    check_gradients(NoisyMatch<2, FromLabels>(0.3), student, X, labels,
                    static_cast<const NoTeacher*>(nullptr), true);
  }
}
