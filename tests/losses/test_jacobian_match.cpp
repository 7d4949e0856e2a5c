#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "support/ad_reference.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("JacobianMatch<Full>: identity seeds, value Σ‖J_T − J_S‖² / B, adjoints", "[losses]") {
  JacobianMatch<Full> jm;
  Quantities q(jm, Sizes{.B = 3, .D = 5, .Cs = 4, .Ct = 4});
  REQUIRE(q.plan.M == 4);
  REQUIRE(q.plan.MT == 4);
  for (Index b = 0; b < 3; ++b) {
    CHECK(q.seeds.middleRows(b * 4, 4).isIdentity(0));
    CHECK(q.tseeds.middleRows(b * 4, 4).isIdentity(0));
  }
  CHECK(q.value(jm) == Approx((q.J - q.JT).squaredNorm() / 3).epsilon(1e-14));
  testing::check_all_adjoints(q, jm);
  CHECK(jm.name() == "JacobianMatch<Full, NoNorm>");
}

TEST_CASE("JacobianMatch<LabelClass>: seeds the label row of both nets", "[losses]") {
  JacobianMatch<LabelClass> jm;
  Quantities q(jm, Sizes{.B = 4, .D = 3, .Cs = 5, .Ct = 5});
  REQUIRE(q.plan.M == 1);
  for (Index b = 0; b < 4; ++b) {
    Vector<double> e = Vector<double>::Zero(5);
    e(q.labels[b]) = 1;
    CHECK(q.seeds.row(b) == e.transpose());
    CHECK(q.tseeds.row(b) == e.transpose());
  }
  testing::check_all_adjoints(q, jm);
}

TEST_CASE("JacobianMatch<TeacherTop<k>>: seeds the teacher's k largest outputs", "[losses]") {
  JacobianMatch<TeacherTop<3>> jm;
  Quantities q(jm, Sizes{.B = 6, .D = 3, .Cs = 7, .Ct = 7});
  REQUIRE(q.plan.M == 3);
  for (Index b = 0; b < 6; ++b) {
    std::vector<Index> idx(7);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](Index i, Index j) { return q.YT(b, i) > q.YT(b, j); });
    for (Index k = 0; k < 3; ++k) {
      INFO("sample " << b << " k " << k);
      CHECK(q.seeds(b * 3 + k, idx[k]) == 1.0);
      CHECK(q.seeds.row(b * 3 + k).sum() == 1.0);
    }
  }
  testing::check_all_adjoints(q, jm);
  // Ties go to the lower index.
  JacobianMatch<TeacherTop<2>> jm2;
  Quantities t(jm2, Sizes{.B = 1, .D = 2, .Cs = 4, .Ct = 4});
  t.YT << 1.0, 3.0, 3.0, 3.0;
  fill_seeds(jm2, t.plan, t.context(), t.seeds, t.tseeds, t.rng);
  CHECK(t.seeds(0, 1) == 1.0);
  CHECK(t.seeds(1, 2) == 1.0);
  JacobianMatch<TeacherTop<5>> too_many;
  CHECK_THROWS_WITH(Quantities(too_many, Sizes{.B = 1, .D = 2, .Cs = 4, .Ct = 4}),
                    Catch::Contains("selects 5 rows but the teacher has only 4"));
}

TEST_CASE("JacobianMatch<RandomProjection<n>>: shared unit seeds, value scaled by C/n",
          "[losses]") {
  JacobianMatch<RandomProjection<2>> jm{StudentOffset{1}};
  Quantities q(jm, Sizes{.B = 3, .D = 4, .Cs = 6, .Ct = 5});
  REQUIRE(q.plan.M == 2);
  for (Index r = 0; r < 6; ++r) {
    CHECK(q.seeds.row(r).squaredNorm() == Approx(1.0).epsilon(1e-14));
    CHECK(q.seeds(r, 0) == 0.0);
    CHECK(q.tseeds.row(r) == q.seeds.row(r).segment(1, 5));
  }
  CHECK(q.seeds.row(0) != q.seeds.row(1));
  CHECK(q.value(jm) == Approx(5.0 / 2 * (q.J - q.JT).squaredNorm() / 3).epsilon(1e-14));
  testing::check_all_adjoints(q, jm);
}

TEST_CASE("JacobianMatch<_, L2>: per-row normalized distance and its adjoint", "[losses]") {
  JacobianMatch<TeacherTop<2>, L2> jm;
  Quantities q(jm, Sizes{.B = 3, .D = 6, .Cs = 4, .Ct = 4});
  double expect = 0;
  for (Index r = 0; r < 6; ++r)
    expect += (q.J.row(r) / q.J.row(r).norm() - q.JT.row(r) / q.JT.row(r).norm()).squaredNorm();
  CHECK(q.value(jm) == Approx(expect / 3).epsilon(1e-10));
  testing::check_all_adjoints(q, jm);
  testing::check_all_adjoints(q, 2.5 * jm);
  // Invariant to the scale of the student rows; a zero row stays finite.
  q.J *= 7.0;
  CHECK(q.value(jm) == Approx(expect / 3).epsilon(1e-10));
  q.J.row(0).setZero();
  Adjoints<double> adj;
  CHECK(std::isfinite(q.value(jm, &adj)));
  CHECK(adj.Jbar.allFinite());
}

TEST_CASE("JacobianMatch: label range and teacher sizes are checked", "[losses]") {
  JacobianMatch<LabelClass> jm{StudentOffset{2}};
  Quantities q(jm, Sizes{.B = 2, .D = 2, .Cs = 5, .Ct = 3});
  q.labels = {0, 3};
  CHECK_THROWS_WITH(fill_seeds(jm, q.plan, q.context(), q.seeds, q.tseeds, q.rng),
                    Catch::Contains("label 3 of sample 1") && Catch::Contains("[0, 3)"));
  JacobianMatch<Full> plain;
  CHECK_THROWS_WITH(Quantities(plain, Sizes{.B = 2, .D = 2, .Cs = 5, .Ct = 3}),
                    Catch::Contains("JacobianMatch<Full, NoNorm>") &&
                        Catch::Contains("teacher has 3 outputs but student has 5"));
}

// ---- Through the nets: gradients w.r.t. all parameters ------------------------------------------

namespace {
// Reference value of JacobianMatch for one sample on taped Vars: rows r of the seeds (B*M x C,
// constants from the driver) times the student's J, against the same rows of the teacher's J.
V match_rows(const SampleAD& s, const Matrix<double>& seeds, const Matrix<double>& JT, Index b,
             Index M, double c, bool normalize) {
  const Index C = Index(s.J.size()), D = Index(s.J[0].size());
  V total = V::constant(0.0);
  for (Index k = 0; k < M; ++k) {
    std::vector<V> h(std::size_t(D), V::constant(0.0));
    std::vector<double> t(std::size_t(D), 0.0);
    for (Index i = 0; i < C; ++i) {
      const double w = seeds(b * M + k, i);
      if (w == 0.0) continue;
      for (Index j = 0; j < D; ++j) {
        h[std::size_t(j)] = h[std::size_t(j)] + w * s.J[std::size_t(i)][std::size_t(j)];
        t[std::size_t(j)] += w * JT(b * C + i, j);
      }
    }
    V nh = V::constant(1.0);
    double nt = 1.0;
    if (normalize) {
      V sh = V::constant(1e-12);
      nt = 1e-12;
      for (Index j = 0; j < D; ++j) sh = sh + h[std::size_t(j)] * h[std::size_t(j)];
      for (Index j = 0; j < D; ++j) nt += t[std::size_t(j)] * t[std::size_t(j)];
      nh = sqrt(sh);
      nt = std::sqrt(nt);
    }
    for (Index j = 0; j < D; ++j) {
      const V d = h[std::size_t(j)] / nh - t[std::size_t(j)] / nt;
      total = total + d * d;
    }
  }
  return V(c * total);
}

// FD and AD checks of one JacobianMatch variant on tanh nets (student 4-5-5-C, teacher 4-6-4-C).
template <class Select, class Norm>
void check_match_net(Index C = 4) {
  auto student = tanh_mlp(4, 5, 5, C, 1);
  auto teacher = tanh_mlp(4, 6, 4, C, 2);
  Matrix<double> X = random_inputs(5, 4, 3);
  const auto labels = random_labels(5, C, 4);
  const JacobianMatch<Select, Norm> jm;
  const double w = 0.7;
  check_gradients(w * jm, student, X, labels, &teacher);
  // AD reference with the same seeds.
  Workspace<double> ws(5);
  const auto& r = (w * jm).value_and_grad(student, Batch(X, labels, teacher), ws);
  const Matrix<double> seeds = ws.seeds;
  const Index M = ws.plan.M;
  REQUIRE(M == Select::rows(C));
  const Matrix<double> JT = nn::jacrev(teacher, X);
  const Matrix<double> YT = teacher.forward(X);
  // Independent check of the selected rows for the deterministic policies.
  for (Index b = 0; b < 5; ++b) {
    if constexpr (std::is_same_v<Select, LabelClass>) CHECK(seeds(b, labels[b]) == 1.0);
    if constexpr (std::is_same_v<Select, TeacherTop<1>>) {
      Index arg;
      YT.row(b).maxCoeff(&arg);
      CHECK(seeds(b, arg) == 1.0);
    }
  }
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, C}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        return V(w * match_rows(s, seeds, JT, b, M, Select::scale(C), Norm::normalize));
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}
}  // namespace

TEST_CASE("JacobianMatch through nets: gradients vs finite differences and AD", "[losses]") {
  SECTION("Full, NoNorm") { check_match_net<Full, NoNorm>(); }
  SECTION("Full, L2") { check_match_net<Full, L2>(); }
  SECTION("LabelClass, NoNorm") { check_match_net<LabelClass, NoNorm>(); }
  SECTION("LabelClass, L2") { check_match_net<LabelClass, L2>(); }
  SECTION("TeacherTop<1>, NoNorm") { check_match_net<TeacherTop<1>, NoNorm>(); }
  SECTION("TeacherTop<2>, L2") { check_match_net<TeacherTop<2>, L2>(); }
  SECTION("RandomProjection<1>, NoNorm") { check_match_net<RandomProjection<1>, NoNorm>(); }
  SECTION("RandomProjection<3>, L2") { check_match_net<RandomProjection<3>, L2>(); }
}

TEST_CASE("JacobianMatch through nets: the teacher rows are the teacher's Jacobian", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(4, 4, 3);
  Workspace<double> ws;
  JacobianMatch<Full>{}.value_and_grad(student, Batch(X, teacher), ws);
  CHECK((ws.JT - nn::jacrev(teacher, X)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((ws.pass.J() - nn::jacrev(student, X)).cwiseAbs().maxCoeff() < 1e-14);
  // The same value when the student is the teacher: zero, and a zero gradient.
  const auto& r = JacobianMatch<Full>{}.value_and_grad(teacher, Batch(X, teacher), ws);
  CHECK(r.value == 0.0);
  CHECK(r.grad.cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("JacobianMatch through nets: a random projection averages to Full", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 6, 1);
  auto teacher = tanh_mlp(4, 6, 4, 6, 2);
  Matrix<double> X = random_inputs(3, 4, 3);
  Workspace<double> ws(9);
  const double exact = JacobianMatch<Full>{}.value(student, Batch(X, teacher), ws);
  const Vector<double> gexact =
      JacobianMatch<Full>{}.value_and_grad(student, Batch(X, teacher), ws).grad;
  const int draws = 3000;
  double sum = 0, sum2 = 0;
  Vector<double> gsum = Vector<double>::Zero(student.num_params());
  for (int d = 0; d < draws; ++d) {
    const auto& r =
        JacobianMatch<RandomProjection<2>>{}.value_and_grad(student, Batch(X, teacher), ws);
    sum += r.value;
    sum2 += r.value * r.value;
    gsum += r.grad;
  }
  const double mean = sum / draws;
  const double se = std::sqrt((sum2 / draws - mean * mean) / (draws - 1));
  INFO("mean " << mean << " ± " << se << ", exact " << exact);
  CHECK(std::abs(mean - exact) < 3 * se);
  CHECK(se < 0.1 * exact);
  // The gradient estimate is unbiased too (loose check on its direction).
  const Vector<double> gmean = gsum / draws;
  CHECK(gmean.dot(gexact) / (gmean.norm() * gexact.norm()) > 0.95);
}
