#pragma once
// Test helper: random quantities (outputs, Jacobian rows, activations) for loss terms evaluated
// without a net, and a central-finite-difference check of a loss's adjoints w.r.t. them.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/report.hpp"
#include "jacnet/losses/loss.hpp"

namespace jacnet::losses::testing {

/// Random inputs for a loss: sizes, labels, Y, YT, J, JT (any values: at term level the rows are
/// free variables), activations at every boundary up to `boundaries` with the given shapes.
struct Quantities {
  Sizes n;
  Plan plan;
  Matrix<double> X, Y, YT, seeds, tseeds, J, JT;
  std::vector<int> labels;
  std::vector<Matrix<double>> act_store, tact_store;
  std::vector<ActivationView<double>> acts, tacts;
  std::mt19937_64 rng{7};

  template <LossExpression L>
  Quantities(const L& loss, Sizes sizes, std::vector<Shape> act_shapes = {},
             std::vector<Shape> tact_shapes = {}, unsigned seed = 1)
      : n(sizes), rng(seed) {
    std::mt19937_64 g(seed + 100);
    std::normal_distribution<double> N(0.0, 1.0);
    auto fill = [&](Matrix<double>& m, Index r, Index c) {
      m.resize(r, c);
      for (Index i = 0; i < m.size(); ++i) m.data()[i] = N(g);
    };
    fill(X, n.B, n.D);
    fill(Y, n.B, n.Cs);
    fill(YT, n.B, n.Ct);
    labels.resize(static_cast<std::size_t>(n.B));
    const Index lc = std::max<Index>(1, std::min(n.Cs, n.Ct > 0 ? n.Ct : n.Cs));
    for (auto& l : labels) l = static_cast<int>(g() % static_cast<std::uint64_t>(lc));
    make_plan(loss, n, plan);
    act_store.resize(act_shapes.size());
    for (std::size_t l = 0; l < act_shapes.size(); ++l)
      fill(act_store[l], n.B, act_shapes[l].size());
    tact_store.resize(tact_shapes.size());
    for (std::size_t l = 0; l < tact_shapes.size(); ++l)
      fill(tact_store[l], n.B, tact_shapes[l].size());
    for (std::size_t l = 0; l < act_shapes.size(); ++l)
      acts.push_back({&act_store[l], act_shapes[l]});
    for (std::size_t l = 0; l < tact_shapes.size(); ++l)
      tacts.push_back({&tact_store[l], tact_shapes[l]});
    fill_seeds(loss, plan, context(), seeds, tseeds, rng);
    fill(J, n.B * plan.M, n.D);
    fill(JT, n.B * plan.MT, n.D);
  }

  Context<double> context() const {
    Context<double> c;
    c.n = n;
    c.X = &X;
    c.labels = labels;
    c.Y = &Y;
    c.YT = n.Ct > 0 ? &YT : nullptr;
    c.M = plan.M;
    c.seeds = &seeds;
    c.J = &J;
    c.MT = plan.MT;
    c.JT = &JT;
    c.acts = acts;
    c.teacher_acts = tacts;
    return c;
  }

  template <LossExpression L>
  double value(const L& loss, Adjoints<double>* out = nullptr) {
    Adjoints<double> adj;
    std::vector<double> vals;
    const auto ctx = context();
    reset_adjoints(plan, ctx, adj);
    const double v = evaluate_terms(loss, plan, ctx, adj, vals);
    if (out) *out = std::move(adj);
    return v;
  }
};

/// Central differences of the loss value w.r.t. each entry of m, compared with `adjoint`:
/// |FD − adjoint| ≤ tol · max(1e-3, max |adjoint|) (check::Report with atol = tol, rtol = 0,
/// scale_atol), the worst entry named by row and column.
template <LossExpression L>
void check_fd(Quantities& q, const L& loss, Matrix<double>& m, const Matrix<double>& adjoint,
              const char* what, double h = 1e-6, double tol = 1e-6) {
  INFO("adjoint w.r.t. " << what);
  REQUIRE(adjoint.rows() == m.rows());
  REQUIRE(adjoint.cols() == m.cols());
  const Vector<double> fd =
      check::central_gradient(m.data(), m.size(), h, [&] { return q.value(loss); });
  check::Report r(what);
  const Index cols = m.cols();
  r.compare(
      "adjoint", m.size(), fd.data(), adjoint.data(),
      [cols](Index i) {
        return "row " + std::to_string(i / cols) + ", col " + std::to_string(i % cols);
      },
      tol, 0.0, true);
  INFO(r);
  CHECK(r.ok());
}

/// Checks all adjoints of `loss` on `q` by central differences.
template <LossExpression L>
void check_all_adjoints(Quantities& q, const L& loss) {
  Adjoints<double> adj;
  q.value(loss, &adj);
  check_fd(q, loss, q.Y, adj.Ybar, "student outputs Y");
  if (q.plan.M > 0) check_fd(q, loss, q.J, adj.Jbar, "student Jacobian rows J");
  for (Index l : q.plan.student_at)
    check_fd(q, loss, q.act_store[static_cast<std::size_t>(l)],
             adj.act_bars[static_cast<std::size_t>(l)], "student activation");
}

}  // namespace jacnet::losses::testing
