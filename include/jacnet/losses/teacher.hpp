#pragma once
// jacnet/losses/teacher.hpp — where a loss gets the teacher's quantities: a live teacher net or
// TeacherData recorded beforehand, behind one adapter (detail::TeacherSource) so the driver has
// no per-kind branches. Per evaluation the adapter
//   * checks the batch against the teacher and returns its output count Ct (sizes());
//   * provides teacher outputs and activations before the seeds are drawn (before_seeds(): a
//     TeacherTop<k> seed needs the teacher's outputs);
//   * provides the teacher's Jacobian rows at the teacher seeds (after_seeds()).
// TeacherData holds the teacher's Jacobian either whole (all Ct rows per sample: record(...,
// with_jacobian = true)) or only at the rows a given loss reads (record_for(loss, ...): the label
// row for LabelClass, the top-k rows for TeacherTop<k>; Full and RandomProjection need all rows).
// A loss that needs a row TeacherData does not hold fails with a ValueError naming the term, the
// sample and the rows that were recorded.
// A live teacher's forward runs ONCE per evaluation: when the outputs are needed before the
// seeds, the Jacobian rows reuse that forward (nn::jacobian_rows_after_forward); otherwise the
// rows' own pass provides the outputs.
#include <algorithm>
#include <cstddef>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/batch.hpp"
#include "jacnet/losses/plan.hpp"
#include "jacnet/losses/term.hpp"
#include "jacnet/nn/jacobian.hpp"
#include "jacnet/nn/kernels/parallel.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::losses {

/// Teacher quantities recorded beforehand (e.g. once per dataset), used in place of a teacher net:
/// outputs (B x Ct), optionally per-sample Jacobian rows (needed by JacobianMatch, whose rows are
/// then seedsᵀ·J_b) and activations at layer boundaries (activations[l] with per-sample shape
/// shapes[l]; empty = not recorded). The Jacobian rows are either
///   * all of them (jacobian_rows empty): `jacobian` is (B*Ct) x D, row b*Ct + i = ∂T_i/∂x at
///     sample b (record(teacher, X, true)); or
///   * R rows per sample (jacobian_rows has B*R entries, ascending within a sample): `jacobian`
///     is (B*R) x D, row b*R + r = ∂T_i/∂x at sample b with i = jacobian_rows[b*R + r]
///     (record_for(loss, teacher, X, labels): only the rows that loss reads; R = 1 for a
///     LabelClass or TeacherTop<1> term, so Ct times less memory).
template <class T>
struct TeacherData {
  using Scalar = T;
  Matrix<T> outputs;
  Matrix<T> jacobian;
  std::vector<Matrix<T>> activations;
  std::vector<Shape> shapes;
  std::vector<Index> jacobian_rows;  ///< the output index of each row of `jacobian` (empty: all)

  /// Jacobian rows held per sample: Ct when all are recorded (or none: then `jacobian` is empty).
  Index jacobian_rows_per_sample() const {
    if (jacobian_rows.empty()) return outputs.cols();
    return outputs.rows() > 0 ? static_cast<Index>(jacobian_rows.size()) / outputs.rows() : 0;
  }

  /// Records a teacher net's quantities on X (the Jacobian by nn::jacobian: the cheaper mode).
  template <class Net>
  static TeacherData record(const Net& teacher, const Matrix<T>& X, bool with_jacobian,
                            const std::vector<Index>& boundaries = {}) {
    TeacherData d;
    nn::Trace<T> tr;
    teacher.forward(X, tr);
    d.outputs = tr.output();
    if (with_jacobian) d.jacobian = nn::jacobian(teacher, X);
    for (Index l : boundaries) {
      JACNET_CHECK(l >= 0 && l <= static_cast<Index>(Net::num_layers), ValueError,
                   "losses::TeacherData::record", "boundary ", l, " outside [0, ", Net::num_layers,
                   "]");
      const auto u = static_cast<std::size_t>(l);
      if (d.activations.size() <= u) {
        d.activations.resize(u + 1);
        d.shapes.resize(u + 1);
      }
      d.activations[u] = tr.acts[u];
      d.shapes[u] = teacher.shape(u);
    }
    return d;
  }

  /// Records what `loss` reads of the teacher on X: its outputs, the activations at
  /// `boundaries`, and only the Jacobian rows of its teacher-Jacobian terms (JacobianMatch):
  /// per sample the union of the rows their seed policies select — the label row (LabelClass:
  /// needs `labels`), the teacher's top-k rows (TeacherTop<k>, from the recorded outputs) — or
  /// all rows when a term uses Full or RandomProjection. Samples with fewer needed rows than
  /// the most are padded with the lowest other rows, so every sample holds R rows. The rows are
  /// those of nn::jacobian(teacher, X) (the same values bit for bit as record(..., true); the
  /// full Jacobian of X is computed, then only the R rows per sample are kept). With the same
  /// labels and loss, the loss's value and gradient equal those from the full recording.
  template <class L, class Net>
  requires LossExpression<L>
  static TeacherData record_for(const L& loss, const Net& teacher, const Matrix<T>& X,
                                std::span<const int> labels = {},
                                const std::vector<Index>& boundaries = {}) {
    TeacherData d = record(teacher, X, false, boundaries);
    if constexpr (L::needs.teacher_jacobian) {
      const Index B = X.rows(), Ct = d.outputs.cols();
      std::vector<char> need(static_cast<std::size_t>(B * Ct), 0);
      bool all = false;
      std::mt19937_64 unused_rng(0);
      loss.for_each_term([&](const auto& t, double) {
        using Tm = std::remove_cvref_t<decltype(t)>;
        if constexpr (Tm::needs.teacher_jacobian) {
          static_assert(requires { typename Tm::Seeds; },
                        "jacnet::losses::TeacherData::record_for: a term that reads teacher "
                        "Jacobian rows must name its seed policy (using Seeds = ...)");
          using P = typename Tm::Seeds;
          if constexpr (P::random) {
            all = true;
          } else {
            if constexpr (P::uses_labels) detail::check_labels(labels, B, Ct, t);
            Matrix<T> blk(P::rows(Ct), Ct);
            for (Index b = 0; b < B; ++b) {
              blk.setZero();
              P::template fill<T>(blk, 0, Ct, b, labels, &d.outputs, unused_rng);
              for (Index k = 0; k < blk.rows(); ++k)
                for (Index i = 0; i < Ct; ++i)
                  if (blk(k, i) != T(0)) need[static_cast<std::size_t>(b * Ct + i)] = 1;
            }
          }
        }
      });
      Index R = 0;
      for (Index b = 0; b < B && !all; ++b)
        R = std::max<Index>(R, std::count(need.begin() + b * Ct, need.begin() + (b + 1) * Ct, 1));
      const Matrix<T> J = nn::jacobian(teacher, X);
      if (all || R >= Ct) {
        d.jacobian = J;
        return d;
      }
      d.jacobian_rows.reserve(static_cast<std::size_t>(B * R));
      d.jacobian.resize(B * R, X.cols());
      for (Index b = 0; b < B; ++b) {
        const char* nb = need.data() + b * Ct;
        Index pad = R - std::count(nb, nb + Ct, 1);
        for (Index i = 0; i < Ct; ++i) {
          if (nb[i] || pad > 0) {
            if (!nb[i]) --pad;
            d.jacobian.row(static_cast<Index>(d.jacobian_rows.size())) = J.row(b * Ct + i);
            d.jacobian_rows.push_back(i);
          }
        }
      }
    }
    return d;
  }
};

/// True for TeacherData<T> (the one trait of its kind; train/ and check/ may use it).
template <class X>
inline constexpr bool is_teacher_data_v = false;
template <class T>
inline constexpr bool is_teacher_data_v<TeacherData<T>> = true;

namespace detail {

/// Points `acts` at the boundaries of a trace (shapes reassigned only when they change).
template <class T, class ShapeOf>
void bind_activations(std::vector<ActivationView<T>>& acts, const std::vector<Matrix<T>>& mats,
                      std::size_t count, ShapeOf&& shape_of) {
  acts.resize(count);
  for (std::size_t l = 0; l < count; ++l) {
    acts[l].values = l < mats.size() && mats[l].size() > 0 ? &mats[l] : nullptr;
    if (acts[l].values) {
      const Shape& s = shape_of(l);
      if (!(acts[l].shape == s)) acts[l].shape = s;
    }
  }
}

/// The teacher of a batch, whatever its kind. Primary template: no teacher.
template <class T, class Teacher>
struct TeacherSource {
  static constexpr bool present = false;
  explicit TeacherSource(const Teacher*) {}
  Index sizes(const Sizes&, const char*) const { return 0; }
  template <class WS>
  void before_seeds(const Needs&, const Plan&, const Matrix<T>&, WS&, Context<T>&) const {}
  template <class L, class WS>
  void after_seeds(const L&, const Plan&, const Matrix<T>&, WS&, Context<T>&) const {}
};

/// A live teacher net (nn::NetModel of the student's scalar type).
template <class T, class Teacher>
requires nn::NetModel<Teacher>
struct TeacherSource<T, Teacher> {
  static constexpr bool present = true;
  const Teacher* net;
  bool forwarded = false;  ///< this evaluation's forward is in ws.teacher_ws.trace
  explicit TeacherSource(const Teacher* t) : net(t) {}

  Index sizes(const Sizes& n, const char* where) const {
    JACNET_CHECK(net->input_size() == n.D, ShapeError, where, "the teacher net takes ",
                 net->input_size(), " inputs per sample, the batch has ", n.D);
    return net->output_size();
  }
  template <class WS>
  void bind(WS& ws, Context<T>& ctx, const Plan& plan) const {
    const auto& tr = ws.teacher_ws.trace;
    ctx.YT = &tr.output();
    if (!plan.teacher_at.empty()) {
      bind_activations(ws.tacts, tr.acts, tr.acts.size(),
                       [&](std::size_t l) -> const Shape& { return net->shape(l); });
      ctx.teacher_acts = ws.tacts;
    }
  }
  /// Outputs/activations now when a term reads them and the Jacobian rows' pass cannot provide
  /// them first (no teacher rows, or seeds chosen from the teacher's outputs).
  template <class WS>
  void before_seeds(const Needs& nd, const Plan& plan, const Matrix<T>& X, WS& ws,
                    Context<T>& ctx) {
    forwarded = false;
    if ((nd.teacher_outputs || nd.teacher_activations) && (plan.MT == 0 || nd.teacher_seeds)) {
      net->forward(X, ws.teacher_ws.trace);
      forwarded = true;
      bind(ws, ctx, plan);
    }
  }
  /// Rows at the teacher seeds (no gradient), reusing this evaluation's forward if it ran.
  template <class L, class WS>
  void after_seeds(const L&, const Plan& plan, const Matrix<T>& X, WS& ws, Context<T>& ctx) {
    if (plan.MT == 0) return;
    if (forwarded) {
      nn::jacobian_rows_after_forward(*net, X, ws.tseeds, ws.teacher_ws, ws.JT);
    } else {
      nn::jacobian_rows(*net, X, ws.tseeds, ws.teacher_ws, ws.JT);
      bind(ws, ctx, plan);
    }
    ctx.JT = &ws.JT;
  }
};

/// Recorded teacher quantities.
template <class T>
struct TeacherSource<T, TeacherData<T>> {
  static constexpr bool present = true;
  const TeacherData<T>* data;
  explicit TeacherSource(const TeacherData<T>* d) : data(d) {}

  Index sizes(const Sizes& n, const char* where) const {
    JACNET_CHECK(data->outputs.rows() == n.B, ShapeError, where, "TeacherData has outputs for ",
                 data->outputs.rows(), " samples, the batch has ", n.B);
    return data->outputs.cols();
  }
  template <class WS>
  void before_seeds(const Needs&, const Plan& plan, const Matrix<T>&, WS& ws,
                    Context<T>& ctx) const {
    const TeacherData<T>& d = *data;
    ctx.YT = &d.outputs;
    if (!plan.teacher_at.empty()) {
      bind_activations(ws.tacts, d.activations, d.activations.size(),
                       [&](std::size_t l) -> const Shape& { return d.shapes.at(l); });
      ctx.teacher_acts = ws.tacts;
    }
  }
  /// Rows at the teacher seeds: seedsᵀ·J_b per sample from the recorded Jacobian rows.
  template <class L, class WS>
  void after_seeds(const L& loss, const Plan& plan, const Matrix<T>&, WS& ws,
                   Context<T>& ctx) const {
    if (plan.MT == 0) return;
    const TeacherData<T>& d = *data;
    const Sizes& n = ctx.n;
    if (!d.jacobian_rows.empty()) {
      recorded_rows(loss, plan, ws, ctx);
      return;
    }
    JACNET_CHECK(d.jacobian.rows() == n.B * n.Ct && d.jacobian.cols() == n.D, ShapeError,
                 "losses::value_and_grad",
                 "the loss matches teacher Jacobian rows but TeacherData::jacobian is ",
                 d.jacobian.rows(), "x", d.jacobian.cols(), ", expected (B*Ct)xD = ", n.B * n.Ct,
                 "x", n.D, " (record it with with_jacobian = true)");
    resize_buffer(ws.JT, n.B * plan.MT, n.D);
    nn::parallel_for(n.B, double(n.B) * plan.MT * n.Ct * n.D, [&](Index b) {
      ws.JT.middleRows(b * plan.MT, plan.MT).noalias() =
          ws.tseeds.middleRows(b * plan.MT, plan.MT) * d.jacobian.middleRows(b * n.Ct, n.Ct);
    });
    ctx.JT = &ws.JT;
  }

  /// After a record_for(): R rows per sample. Each teacher seed s gives Σ_r s_{i_r}·J_b[i_r]
  /// over the recorded rows i_r of its sample (a unit seed: that row exactly); a seed that is
  /// nonzero at a row not recorded is an error naming the term.
  template <class L, class WS>
  void recorded_rows(const L& loss, const Plan& plan, WS& ws, Context<T>& ctx) const {
    const TeacherData<T>& d = *data;
    const Sizes& n = ctx.n;
    const Index R = static_cast<Index>(d.jacobian_rows.size()) / n.B;
    JACNET_CHECK(R * n.B == static_cast<Index>(d.jacobian_rows.size()) &&
                     d.jacobian.rows() == n.B * R && d.jacobian.cols() == n.D,
                 ShapeError, "losses::value_and_grad", "TeacherData holds ",
                 d.jacobian_rows.size(), " Jacobian row indices and a ", d.jacobian.rows(), "x",
                 d.jacobian.cols(), " jacobian, expected R per sample for ", n.B,
                 " samples and (B*R)xD with D = ", n.D);
    const Index* rows = d.jacobian_rows.data();
    for (Index b = 0; b < n.B; ++b)
      for (Index m = 0; m < plan.MT; ++m)
        for (Index c = 0; c < n.Ct; ++c)
          if (ws.tseeds(b * plan.MT + m, c) != T(0) &&
              std::find(rows + b * R, rows + (b + 1) * R, c) == rows + (b + 1) * R)
            missing_row(loss, plan, b, m, c, R);
    resize_buffer(ws.JT, n.B * plan.MT, n.D);
    ws.JT.setZero();
    nn::parallel_for(n.B, double(n.B) * plan.MT * R * n.D, [&](Index b) {
      for (Index m = 0; m < plan.MT; ++m)
        for (Index r = 0; r < R; ++r) {
          const T s = ws.tseeds(b * plan.MT + m, rows[b * R + r]);
          if (s != T(0)) ws.JT.row(b * plan.MT + m).noalias() += s * d.jacobian.row(b * R + r);
        }
    });
    ctx.JT = &ws.JT;
  }

  /// Throws: the term whose teacher seed row m of sample b needs output row c.
  template <class L>
  [[noreturn]] void missing_row(const L& loss, const Plan& plan, Index b, Index m, Index c,
                                Index R) const {
    std::string term = "a term";
    std::size_t i = 0;
    bool found = false;
    loss.for_each_term([&](const auto& t, double) {
      using Tm = std::remove_cvref_t<decltype(t)>;
      const Slot& s = plan.slots[i++];
      if (Tm::needs.teacher_jacobian && !found && m >= s.toff && m < s.toff + s.count) {
        term = t.name();
        found = true;
      }
    });
    std::ostringstream held;
    for (Index r = 0; r < R; ++r) held << (r ? ", " : "") << data->jacobian_rows[b * R + r];
    ::jacnet::detail::raise<ValueError>(
        "losses::value_and_grad", term, " needs the teacher's Jacobian row ", c, " at sample ", b,
        ", but TeacherData holds only row(s) {", held.str(),
        "} of that sample (recorded for another loss: record it with "
        "TeacherData::record_for(this loss, ...), or all rows with record(..., true))");
  }
};

}  // namespace detail

}  // namespace jacnet::losses
