#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "support/ad_reference.hpp"
#include "jacnet/losses/attention_transfer.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/lwf.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"
#include "support/term_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

namespace {
// The row index (in the concatenated B*M layout) of term slot s, sample b, direction k.
Index row(const Quantities& q, const Slot& s, Index b, Index k) { return b * q.plan.M + s.off + k; }
Index trow(const Quantities& q, const Slot& s, Index b, Index k) {
  return b * q.plan.MT + s.toff + k;
}
}  // namespace

TEST_CASE("Composition: seeds concatenate per sample, values and adjoints add", "[losses]") {
  const auto loss = CrossEntropy{} + 0.5 * JacobianMatch<LabelClass, L2>{} +
                    0.25 * (JacobianNorm<RandomProjection<2>>{} + JacobianMatch<Full>{});
  static_assert(decltype(loss)::num_terms == 4);
  static_assert(decltype(loss)::needs.jacobian && decltype(loss)::needs.labels &&
                decltype(loss)::needs.teacher_jacobian && !decltype(loss)::needs.activations);
  Quantities q(loss, Sizes{.B = 3, .D = 4, .Cs = 3, .Ct = 3});
  REQUIRE(q.plan.M == 1 + 2 + 3);
  REQUIRE(q.plan.MT == 1 + 3);
  CHECK(q.plan.slots[1].off == 0);
  CHECK(q.plan.slots[2].off == 1);
  CHECK(q.plan.slots[3].off == 3);
  CHECK(q.plan.slots[3].toff == 1);
  CHECK(q.plan.weights == std::vector<double>{1.0, 0.5, 0.25, 0.25});
  CHECK(loss.name() ==
        "CrossEntropy + 0.5 * JacobianMatch<LabelClass, L2> + 0.25 * "
        "(JacobianNorm<RandomProjection<2>> + JacobianMatch<Full, NoNorm>)");
  // The norm term's rows are unit vectors; the Full rows are the identity, teacher rows follow.
  for (Index b = 0; b < 3; ++b) {
    CHECK(q.seeds.row(b * 6 + 1).norm() == Approx(1.0));
    CHECK(q.seeds.middleRows(b * 6 + 3, 3).isIdentity(0));
    CHECK(q.tseeds.middleRows(b * 4 + 1, 3).isIdentity(0));
    CHECK(q.tseeds.row(b * 4) == q.seeds.row(b * 6));
  }
  // Value = weighted sum of the terms evaluated alone on the same rows.
  Adjoints<double> adj;
  std::vector<double> vals;
  const auto ctx = q.context();
  reset_adjoints(q.plan, ctx, adj);
  const double v = evaluate_terms(loss, q.plan, ctx, adj, vals);
  CHECK(v == Approx(vals[0] + 0.5 * vals[1] + 0.25 * (vals[2] + vals[3])).epsilon(1e-14));
  double full = 0;
  for (Index b = 0; b < 3; ++b)
    for (Index k = 0; k < 3; ++k)
      full += (q.J.row(row(q, q.plan.slots[3], b, k)) - q.JT.row(trow(q, q.plan.slots[3], b, k)))
                  .squaredNorm();
  CHECK(vals[3] == Approx(full / 3).epsilon(1e-14));
  testing::check_all_adjoints(q, loss);
}

TEST_CASE("Composition: the random estimators average to the exact value", "[losses]") {
  // Rows computed from a fixed full Jacobian per sample: J_rows = seeds_b · Jfull_b.
  const Index B = 2, C = 5, D = 7;
  std::mt19937_64 g(3);
  std::normal_distribution<double> N;
  Matrix<double> Jfull(B * C, D), JTfull(B * C, D);
  for (Index i = 0; i < Jfull.size(); ++i) Jfull.data()[i] = N(g), JTfull.data()[i] = N(g);
  const double exact_norm = Jfull.squaredNorm() / B;
  const double exact_match = (Jfull - JTfull).squaredNorm() / B;
  const auto loss = JacobianNorm<RandomProjection<1>>{} + JacobianMatch<RandomProjection<2>>{};
  Quantities q(loss, Sizes{.B = B, .D = D, .Cs = C, .Ct = C});
  const int draws = 4000;
  std::vector<double> vn(draws), vm(draws);
  for (int d = 0; d < draws; ++d) {
    fill_seeds(loss, q.plan, q.context(), q.seeds, q.tseeds, q.rng);
    for (Index b = 0; b < B; ++b) {
      q.J.middleRows(b * q.plan.M, q.plan.M) =
          q.seeds.middleRows(b * q.plan.M, q.plan.M) * Jfull.middleRows(b * C, C);
      q.JT.middleRows(b * q.plan.MT, q.plan.MT) =
          q.tseeds.middleRows(b * q.plan.MT, q.plan.MT) * JTfull.middleRows(b * C, C);
    }
    Adjoints<double> adj;
    std::vector<double> vals;
    const auto ctx = q.context();
    reset_adjoints(q.plan, ctx, adj);
    evaluate_terms(loss, q.plan, ctx, adj, vals);
    vn[d] = vals[0];
    vm[d] = vals[1];
  }
  auto mean_se = [&](const std::vector<double>& v) {
    double m = std::accumulate(v.begin(), v.end(), 0.0) / draws, s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::pair{m, std::sqrt(s / (draws - 1) / draws)};
  };
  const auto [mn, sn] = mean_se(vn);
  const auto [mm, sm] = mean_se(vm);
  INFO("norm: mean " << mn << " ± " << sn << " exact " << exact_norm);
  CHECK(std::abs(mn - exact_norm) < 3 * sn);
  INFO("match: mean " << mm << " ± " << sm << " exact " << exact_match);
  CHECK(std::abs(mm - exact_match) < 3 * sm);
  CHECK(sn > 0);
}

// ---- Compositions through nets
// -------------------------------------------------------------------

TEST_CASE("Composition through MLPs: the paper's loss CE + Act + Jac (L2, label row)", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 3);
  const auto labels = random_labels(6, 3, 4);
  const auto loss = CrossEntropy{} + OutputMatch{} + JacobianMatch<LabelClass, L2>{};
  check_gradients(loss, student, X, labels, &teacher);
  Workspace<double> ws;
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  CHECK(ws.plan.M == 1);
  const Matrix<double> YT = teacher.forward(X), JT = nn::jacrev(teacher, X);
  double v = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 3}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        const auto l = std::size_t(labels[std::size_t(b)]);
        V om = V::constant(0.0);
        for (std::size_t i = 0; i < 3; ++i)
          om = om + (s.y[i] - YT(b, Index(i))) * (s.y[i] - YT(b, Index(i)));
        V nh = V::constant(1e-12);
        double nt = 1e-12;
        for (std::size_t j = 0; j < 4; ++j) {
          nh = nh + s.J[l][j] * s.J[l][j];
          nt += JT(b * 3 + Index(l), Index(j)) * JT(b * 3 + Index(l), Index(j));
        }
        nh = sqrt(nh);
        nt = std::sqrt(nt);
        V jm = V::constant(0.0);
        for (std::size_t j = 0; j < 4; ++j) {
          const V d = s.J[l][j] / nh - JT(b * 3 + Index(l), Index(j)) / nt;
          jm = jm + d * d;
        }
        return V(logsumexp(s.y) - s.y[l] + om + jm);
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}

TEST_CASE("Composition through MLPs: ReLU student, matching plus norm penalty", "[losses]") {
  auto student = relu_mlp(4, 6, 6, 3, 1);
  auto teacher = relu_mlp(4, 7, 5, 3, 2);
  Matrix<double> X = random_inputs(5, 4, 3);
  const auto loss = OutputMatch{} + JacobianMatch<Full>{} + 0.3 * JacobianNorm<Exact>{};
  check_gradients(loss, student, X, {}, &teacher);
}

TEST_CASE("Composition through CNNs: CE + attention + Jacobian terms (conv second order)",
          "[losses]") {
  auto student = small_cnn(1, 4, 4, 3, 2, 3, 1);
  auto teacher = small_cnn(1, 4, 4, 5, 4, 3, 2);
  Matrix<double> X = random_inputs(3, 16, 2);
  const auto labels = random_labels(3, 3, 5);
  const auto loss = CrossEntropy{} + 0.5 * AttentionTransfer(2, 2) +
                    JacobianMatch<TeacherTop<1>>{} + 0.25 * JacobianNorm<RandomProjection<2>>{};
  check_gradients(loss, student, X, labels, &teacher);
  Workspace<double> ws(4);
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  REQUIRE(ws.plan.M == 3);
  const Matrix<double> seeds = ws.seeds;
  nn::Trace<double> tt;
  teacher.forward(X, tt);
  const Matrix<double> JT = nn::jacrev(teacher, X);
  double v = 0;
  const Vector<double> g = ad_cnn_gradient<16>(
      1, 4, 4, 3, 2, 3, student.param_vector(), X,
      [&](Index b, const CnnSampleAD& s) {
        const auto l = std::size_t(labels[std::size_t(b)]);
        // attention between boundary 2 of both nets
        std::vector<V> q(16, V::constant(0.0));
        std::vector<double> qt(16, 0.0);
        for (Index c = 0; c < 3; ++c)
          for (Index p = 0; p < 16; ++p)
            q[p] = q[p] + s.act2[std::size_t(c * 16 + p)] * s.act2[std::size_t(c * 16 + p)];
        for (Index c = 0; c < 5; ++c)
          for (Index p = 0; p < 16; ++p)
            qt[p] += tt.acts[2](b, c * 16 + p) * tt.acts[2](b, c * 16 + p);
        V nq = V::constant(1e-12);
        double nqt = 1e-12;
        for (Index p = 0; p < 16; ++p) nq = nq + q[p] * q[p], nqt += qt[p] * qt[p];
        nq = sqrt(nq);
        V at = V::constant(0.0);
        for (Index p = 0; p < 16; ++p) {
          const V d = q[p] / nq - qt[p] / std::sqrt(nqt);
          at = at + d * d;
        }
        // Jacobian rows: TeacherTop<1> (row 0 of the sample's seeds), RandomProjection<2>.
        V jm = V::constant(0.0), jn = V::constant(0.0);
        for (Index j = 0; j < 16; ++j) {
          V h = V::constant(0.0);
          double t = 0;
          for (Index i = 0; i < 3; ++i) {
            h = h + seeds(b * 3, i) * s.J[std::size_t(i)][std::size_t(j)];
            t += seeds(b * 3, i) * JT(b * 3 + i, j);
          }
          jm = jm + (h - t) * (h - t);
          for (Index k = 1; k < 3; ++k) {
            V u = V::constant(0.0);
            for (Index i = 0; i < 3; ++i)
              u = u + seeds(b * 3 + k, i) * s.J[std::size_t(i)][std::size_t(j)];
            jn = jn + u * u;
          }
        }
        return V(logsumexp(s.y) - s.y[l] + 0.5 * 0.5 * at + jm + 0.25 * 1.5 * jn);
      },
      &v);
  CHECK(r.value == Approx(v).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}

TEST_CASE("Composition through MLPs: LwF + Jacobians of the old head (StudentOffset)", "[losses]") {
  // The paper's transfer experiment: the student's outputs are [2 new | 3 old]; the original net
  // (3 outputs) is the teacher of the old head, for its soft targets and its Jacobian rows.
  auto student = tanh_mlp(4, 5, 5, 2 + 3, 1);
  auto original = tanh_mlp(4, 6, 4, 3, 2);
  Matrix<double> X = random_inputs(5, 4, 3);
  const auto labels = random_labels(5, 2, 4);
  const auto loss = LwF<>(2) + JacobianMatch<TeacherTop<1>>{StudentOffset{2}};
  check_gradients(loss, student, X, labels, &original);
  Workspace<double> ws;
  loss.value_and_grad(student, Batch(X, labels, original), ws);
  const Matrix<double> YT = original.forward(X);
  for (Index b = 0; b < 5; ++b) {
    Index arg;
    YT.row(b).maxCoeff(&arg);
    CHECK(ws.seeds(b, 2 + arg) == 1.0);  // the student's old-head row of the teacher's top class
    CHECK(ws.tseeds(b, arg) == 1.0);
  }
}
