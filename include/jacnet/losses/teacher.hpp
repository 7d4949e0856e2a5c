#pragma once
// jacnet/losses/teacher.hpp — where a loss gets the teacher's quantities: a live teacher net or
// TeacherData recorded beforehand, behind one adapter (detail::TeacherSource) so the driver has
// no per-kind branches. Per evaluation the adapter
//   * checks the batch against the teacher and returns its output count Ct (sizes());
//   * provides teacher outputs and activations before the seeds are drawn (before_seeds(): a
//     TeacherTop<k> seed needs the teacher's outputs);
//   * provides the teacher's Jacobian rows at the teacher seeds (after_seeds()).
// A live teacher's forward runs ONCE per evaluation: when the outputs are needed before the
// seeds, the Jacobian rows reuse that forward (nn::jacobian_rows_after_forward); otherwise the
// rows' own pass provides the outputs.
#include <cstddef>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
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
/// outputs (B x Ct), optionally the full per-sample Jacobians ((B*Ct) x D, row b*Ct + i =
/// ∂T_i/∂x at sample b; needed by JacobianMatch, whose rows are then seedsᵀ·J_b) and activations
/// at layer boundaries (activations[l] with per-sample shape shapes[l]; empty = not recorded).
template <class T>
struct TeacherData {
  using Scalar = T;
  Matrix<T> outputs;
  Matrix<T> jacobian;
  std::vector<Matrix<T>> activations;
  std::vector<Shape> shapes;

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
  template <class WS>
  void after_seeds(const Plan&, const Matrix<T>&, WS&, Context<T>&) const {}
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
  template <class WS>
  void after_seeds(const Plan& plan, const Matrix<T>& X, WS& ws, Context<T>& ctx) {
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
  /// Rows at the teacher seeds: seedsᵀ·J_b per sample from the recorded full Jacobians.
  template <class WS>
  void after_seeds(const Plan& plan, const Matrix<T>&, WS& ws, Context<T>& ctx) const {
    if (plan.MT == 0) return;
    const TeacherData<T>& d = *data;
    const Sizes& n = ctx.n;
    JACNET_CHECK(d.jacobian.rows() == n.B * n.Ct && d.jacobian.cols() == n.D, ShapeError,
                 "losses::value_and_grad",
                 "the loss matches teacher Jacobian rows but TeacherData::jacobian is ",
                 d.jacobian.rows(), "x", d.jacobian.cols(), ", expected (B*Ct)xD = ", n.B * n.Ct,
                 "x", n.D, " (record it with with_jacobian = true)");
    ws.JT.resize(n.B * plan.MT, n.D);
    nn::parallel_for(n.B, double(n.B) * plan.MT * n.Ct * n.D, [&](Index b) {
      ws.JT.middleRows(b * plan.MT, plan.MT).noalias() =
          ws.tseeds.middleRows(b * plan.MT, plan.MT) * d.jacobian.middleRows(b * n.Ct, n.Ct);
    });
    ctx.JT = &ws.JT;
  }
};

}  // namespace detail

}  // namespace jacnet::losses
