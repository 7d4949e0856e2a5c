#pragma once
// jacnet/losses/plan.hpp — the net-free half of an evaluation: where each term's seed rows go
// (Plan, make_plan), the seeds of every term and the teacher's (fill_seeds), the adjoints
// (reset_adjoints) and the terms' values (evaluate_terms). The driver (driver.hpp) wraps these
// around the student's and teacher's passes; tests call them on given quantities.
#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/term.hpp"

namespace jacnet::losses {

/// Where each term's seeds go and which activations the loss reads; built once per evaluation.
struct Plan {
  std::vector<Slot> slots;        ///< one per primitive term, in for_each_term order
  std::vector<double> weights;    ///< the term's weight in the composite
  Index M = 0;                    ///< student seed rows per sample
  Index MT = 0;                   ///< teacher seed rows per sample
  std::vector<Index> student_at;  ///< student boundaries read by the loss (sorted, unique)
  std::vector<Index> teacher_at;  ///< teacher boundaries read by the loss (sorted, unique)
  std::vector<const void*> ids;   ///< detail::term_id<Term> of each term (Result::term<Term>())
};

namespace detail {
/// A distinct address per term type: identifies a term's type at run time without RTTI.
template <class Tm>
inline constexpr char term_id_tag = 0;
template <class Tm>
constexpr const void* term_id() {
  return &term_id_tag<Tm>;
}
inline void sort_unique(std::vector<Index>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}
}  // namespace detail

/// Checks the sizes against every term and lays out the seeds (throws what a term throws).
template <LossExpression L>
void make_plan(const L& loss, const Sizes& n, Plan& plan) {
  plan.slots.clear();
  plan.weights.clear();
  plan.student_at.clear();
  plan.teacher_at.clear();
  plan.ids.clear();
  plan.M = plan.MT = 0;
  loss.for_each_term([&](const auto& t, double w) {
    using Tm = std::remove_cvref_t<decltype(t)>;
    Slot s;
    s.count = t.prepare(n);
    if constexpr (Tm::needs.teacher()) s.col = t.student_offset(n);
    s.off = plan.M;
    plan.M += s.count;
    if constexpr (Tm::needs.teacher_jacobian) {
      s.toff = plan.MT;
      plan.MT += s.count;
    }
    t.student_boundaries(plan.student_at);
    t.teacher_boundaries(plan.teacher_at);
    plan.slots.push_back(s);
    plan.weights.push_back(w);
    plan.ids.push_back(detail::term_id<Tm>());
  });
  detail::sort_unique(plan.student_at);
  detail::sort_unique(plan.teacher_at);
}

/// Fills the student seeds (B*M x Cs) of every term and derives the teacher seeds (B*MT x Ct):
/// a teacher-matching term's teacher seed is its student seed restricted to columns
/// [col, col + Ct). `ctx` must carry sizes, labels and (if a term needs them) teacher outputs;
/// ctx.M and ctx.MT are taken from the plan.
template <LossExpression L, class T>
void fill_seeds(const L& loss, const Plan& plan, Context<T> ctx, Matrix<T>& seeds,
                Matrix<T>& teacher_seeds, std::mt19937_64& rng) {
  const Index B = ctx.n.B;
  ctx.M = plan.M;
  ctx.MT = plan.MT;
  seeds.setZero(B * plan.M, ctx.n.Cs);
  teacher_seeds.setZero(B * plan.MT, ctx.n.Ct);
  std::size_t i = 0;
  loss.for_each_term([&](const auto& t, double) {
    using Tm = std::remove_cvref_t<decltype(t)>;
    const Slot& s = plan.slots[i++];
    if (s.count == 0) return;
    t.fill_seeds(ctx, s, seeds, rng);
    if constexpr (Tm::needs.teacher_jacobian) {
      for (Index b = 0; b < B; ++b)
        for (Index k = 0; k < s.count; ++k)
          teacher_seeds.row(ctx.teacher_row(s, b, k)) =
              seeds.row(ctx.row(s, b, k)).segment(s.col, ctx.n.Ct);
    }
  });
}

/// Zeroes the adjoints to the sizes of `ctx` (act_bars only at the boundaries the plan reads).
template <class T>
void reset_adjoints(const Plan& plan, const Context<T>& ctx, Adjoints<T>& adj) {
  adj.Ybar.setZero(ctx.n.B, ctx.n.Cs);
  resize_buffer(adj.Jbar, ctx.n.B * plan.M, ctx.n.D);
  adj.Jbar.setZero();
  adj.act_bars.resize(plan.student_at.empty() ? 0 : ctx.acts.size());
  std::size_t next = 0;  // plan.student_at is sorted
  for (std::size_t l = 0; l < adj.act_bars.size(); ++l) {
    if (next < plan.student_at.size() && plan.student_at[next] == static_cast<Index>(l)) {
      adj.act_bars[l].setZero(ctx.n.B, ctx.acts[l].shape.size());
      ++next;
    } else if (adj.act_bars[l].size() > 0) {
      adj.act_bars[l].resize(0, 0);
    }
  }
  for (Index l : plan.student_at)
    JACNET_CHECK(l < static_cast<Index>(ctx.acts.size()) && ctx.acts[l].values, ShapeError,
                 "losses", "the loss reads student boundary ", l, " but the net has ",
                 static_cast<Index>(ctx.acts.size()) - 1, " layers (boundaries 0..",
                 static_cast<Index>(ctx.acts.size()) - 1, ")");
}

/// Evaluates every term on `ctx` (whose M/MT/J/JT/acts match the plan) and adds the weighted
/// adjoints to `adj` (call reset_adjoints first). Returns Σ_t w_t L_t; `values` gets each L_t.
template <LossExpression L, class T>
T evaluate_terms(const L& loss, const Plan& plan, const Context<T>& ctx, Adjoints<T>& adj,
                 std::vector<T>& values) {
  values.assign(plan.slots.size(), T(0));
  T total = T(0);
  std::size_t i = 0;
  loss.for_each_term([&](const auto& t, double w) {
    using Tm = std::remove_cvref_t<decltype(t)>;
    if constexpr (!Tm::needs.own_passes) {
      const T v = t.evaluate(ctx, plan.slots[i], T(w), adj);
      values[i] = v;
      total += T(w) * v;
    }
    ++i;
  });
  return total;
}

}  // namespace jacnet::losses
