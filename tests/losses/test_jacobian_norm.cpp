#include <catch2/catch.hpp>

#include "support/ad_reference.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("JacobianNorm<Exact>: all C rows, value Σ‖J‖²_F / B", "[losses]") {
  JacobianNorm<> jn;
  Quantities q(jn, Sizes{.B = 3, .D = 4, .Cs = 5});
  REQUIRE(q.plan.M == 5);
  REQUIRE(q.plan.MT == 0);
  for (Index b = 0; b < 3; ++b) CHECK(q.seeds.middleRows(b * 5, 5).isIdentity(0));
  CHECK(q.value(jn) == Approx(q.J.squaredNorm() / 3).epsilon(1e-14));
  CHECK(jn.name() == "JacobianNorm<Exact>");
  testing::check_all_adjoints(q, jn);
}

TEST_CASE("JacobianNorm<RandomProjection<n>>: n unit seeds per sample, scale C/n", "[losses]") {
  JacobianNorm<RandomProjection<3>> jn;
  Quantities q(jn, Sizes{.B = 4, .D = 4, .Cs = 6});
  REQUIRE(q.plan.M == 3);
  for (Index r = 0; r < 12; ++r) CHECK(q.seeds.row(r).norm() == Approx(1.0).epsilon(1e-14));
  CHECK(q.value(jn) == Approx(6.0 / 3 * q.J.squaredNorm() / 4).epsilon(1e-14));
  testing::check_all_adjoints(q, jn);
  // Draws are reproducible from the seed and differ between steps.
  Quantities r(jn, Sizes{.B = 4, .D = 4, .Cs = 6});
  CHECK(r.seeds == q.seeds);
  fill_seeds(jn, r.plan, r.context(), r.seeds, r.tseeds, r.rng);
  CHECK(r.seeds != q.seeds);
}

TEST_CASE("JacobianNorm: the unit seeds are uniform on the sphere (moments)", "[losses]") {
  // E[v vᵀ] = I/C for v uniform on S^{C-1}; check with 20000 draws (tolerance ~5 standard errors).
  JacobianNorm<RandomProjection<1>> jn;
  const Index C = 4, B = 20000;
  Quantities q(jn, Sizes{.B = B, .D = 1, .Cs = C});
  const Matrix<double> second = q.seeds.transpose() * q.seeds / double(B);
  for (Index i = 0; i < C; ++i)
    for (Index j = 0; j < C; ++j) {
      INFO(i << "," << j);
      CHECK(std::abs(second(i, j) - (i == j ? 0.25 : 0.0)) < 5 * 0.25 / std::sqrt(double(B)));
    }
  CHECK(q.seeds.colwise().mean().cwiseAbs().maxCoeff() < 5 * 0.5 / std::sqrt(double(B)));
}

// ---- Through the nets
// ----------------------------------------------------------------------------

namespace {
template <class Est, class Net, class Act>
void check_norm_net(Net student, Act act, std::vector<Index> sizes) {
  Matrix<double> X = random_inputs(5, 4, 3);
  const JacobianNorm<Est> jn;
  check_gradients(1.3 * jn, student, X, {}, static_cast<const NoTeacher*>(nullptr));
  Workspace<double> ws(2);
  const auto& r = (1.3 * jn).value_and_grad(student, Batch(X), ws);
  const Matrix<double> seeds = ws.seeds;
  const Index M = ws.plan.M, C = sizes.back();
  const double c = Est::scale(C);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      sizes, student.param_vector(), X, act,
      [&](Index b, const SampleAD& s) {
        V total = V::constant(0.0);
        for (Index k = 0; k < M; ++k)
          for (Index j = 0; j < 4; ++j) {
            V h = V::constant(0.0);
            for (Index i = 0; i < C; ++i)
              h = h + seeds(b * M + k, i) * s.J[std::size_t(i)][std::size_t(j)];
            total = total + h * h;
          }
        return V(1.3 * c * total);
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}
}  // namespace

TEST_CASE("JacobianNorm through nets: gradients vs finite differences and AD", "[losses]") {
  SECTION("Exact, tanh") {
    check_norm_net<Exact>(tanh_mlp(4, 5, 5, 3, 1), TanhAct{}, {4, 5, 5, 3});
  }
  SECTION("RandomProjection<2>, tanh") {
    check_norm_net<RandomProjection<2>>(tanh_mlp(4, 5, 5, 3, 1), TanhAct{}, {4, 5, 5, 3});
  }
  SECTION("Exact, ReLU (no σ'' terms)") {
    check_norm_net<Exact>(relu_mlp(4, 6, 6, 3, 5), ReluAct{}, {4, 6, 6, 3});
  }
}

TEST_CASE("JacobianNorm through nets: the random projection is unbiased (3 s.e.)", "[losses]") {
  auto net = tanh_mlp(4, 8, 8, 10, 1);
  Matrix<double> X = random_inputs(4, 4, 3);
  Workspace<double> ws(17);
  const double exact = JacobianNorm<Exact>{}.value(net, Batch(X), ws);
  CHECK(exact == Approx(nn::jacrev(net, X).squaredNorm() / 4).epsilon(1e-12));
  for (int n : {1, 4}) {
    const int draws = 4000;
    double sum = 0, sum2 = 0;
    for (int d = 0; d < draws; ++d) {
      const double v = n == 1 ? JacobianNorm<RandomProjection<1>>{}.value(net, Batch(X), ws)
                              : JacobianNorm<RandomProjection<4>>{}.value(net, Batch(X), ws);
      sum += v;
      sum2 += v * v;
    }
    const double mean = sum / draws;
    const double se = std::sqrt((sum2 / draws - mean * mean) / (draws - 1));
    INFO("n = " << n << ": mean " << mean << " ± " << se << ", exact " << exact);
    CHECK(std::abs(mean - exact) < 3 * se);
    CHECK(se < 0.05 * exact);
  }
}
