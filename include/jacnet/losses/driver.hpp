#pragma once
// jacnet/losses/driver.hpp — one evaluation of a loss on a student net: the workspace, the result
// and the driver behind value_and_grad / value.
//
// Per evaluation:
//   make_plan (sizes, seed layout) → teacher outputs/activations if the seeds need them →
//   fill_seeds (student and teacher seeds of every term) → teacher Jacobian rows →
//   nn::jacobian_pass of the student (forward + ONE seeded backward over all M rows; a plain
//   forward when M = 0) → evaluate_terms (values, adjoints Ȳ, J̄, Ā) → ONE nn::backprop
//   (∂L/∂θ, ∂L/∂X) → terms with their own passes (NoisyMatch) add theirs.
// The teacher (net or TeacherData) is reached through detail::TeacherSource (teacher.hpp).
//
//   losses::LossWorkspace<float> ws(seed);                 // reused across steps
//   const auto loss = CrossEntropy{} + JacobianMatch<TeacherTop<1>>{};
//   const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
//   optimizer.step(student.params(), r.grad);              // r.value, r.term<CrossEntropy>().value
//
// Batch reduction: every term is a mean over the B samples of a per-sample loss.
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/batch.hpp"
#include "jacnet/losses/plan.hpp"
#include "jacnet/losses/teacher.hpp"
#include "jacnet/losses/term.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/second_order.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/nn/workspace.hpp"

namespace jacnet::losses {

/// One term's weight and (unweighted) value, in the loss's for_each_term order.
template <class T>
struct TermValue {
  double weight = 1.0;
  T value = T(0);
};

/// What value_and_grad returns: a reference into the workspace, valid until the next
/// value_and_grad with that workspace (copy what you keep).
template <class T>
struct Result {
  T value = T(0);        ///< Σ_t w_t L_t
  Vector<T> grad;        ///< dL/dθ, the student's flat parameter layout
  Matrix<T> input_grad;  ///< dL/dX (B x D) when LossWorkspace::input_gradient is set
  std::vector<TermValue<T>> terms;  ///< by position, in for_each_term order (term_names)
  std::vector<const void*> term_ids;  ///< the type of each term (detail::term_id), for term<>()

  /// The weight and value of the loss's term of type Tm (the nth of that type, counting from 0),
  /// e.g. r.term<JacobianMatch<LabelClass>>().value. Throws ValueError when there is none.
  template <class Tm>
  const TermValue<T>& term(std::size_t nth = 0) const {
    const void* id = detail::term_id<std::remove_cvref_t<Tm>>();
    for (std::size_t i = 0; i < terms.size() && i < term_ids.size(); ++i)
      if (term_ids[i] == id && nth-- == 0) return terms[i];
    ::jacnet::detail::raise<ValueError>("losses::Result::term",
                                        "the loss has no such term (or fewer of that type); ",
                                        terms.size(), " terms in this result");
  }
};

/// Scratch of terms that run their own passes (NoisyMatch).
template <class T>
struct OwnPassScratch {
  Matrix<T> X, Ybar, Xbar, empty;
  nn::JacobianPass<T> pass;  // student forward trace (M = 0) for backprop
  nn::Trace<T> teacher_trace;
  Vector<T> g;
};

/// Everything an evaluation allocates, kept across steps (one per thread), and the random source
/// of random projections and noise (seeded; `reseed` to repeat draws). Named apart from
/// nn::ModeWorkspace (the modes' buffers), so both namespaces can be used together.
template <class T>
struct LossWorkspace {
  explicit LossWorkspace(std::uint64_t seed = 0) : rng(seed) {}
  void reseed(std::uint64_t seed) { rng.seed(seed); }

  std::mt19937_64 rng;
  bool input_gradient = false;  ///< also compute dL/dX into Result::input_grad

  // Internals (public for inspection in tests and benchmarks).
  Plan plan;
  Matrix<T> seeds, tseeds, JT, empty;
  nn::JacobianPass<T> pass;
  nn::ModeWorkspace<T> teacher_ws;
  Adjoints<T> adj;
  std::vector<ActivationView<T>> acts, tacts;
  std::vector<T> values;
  OwnPassScratch<T> own;
  Result<T> result;
};
/// Old name of LossWorkspace (kept for compatibility; ambiguous beside nn::Workspace when both
/// namespaces are used: prefer LossWorkspace).
template <class T>
using Workspace = LossWorkspace<T>;

// ---- The driver -----------------------------------------------------------------------------

namespace detail {

/// True when every layer of the net has a second-order rule (the Jacobian terms need it).
template <class L>
consteval bool layer_has_second_order() {
  return requires(const L& l, const typename L::Scalar* p, typename L::Scalar* g,
                  const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O) {
    l.second_order(p, M, M, M, M, g, O);
  };
}
template <class Net>
consteval bool net_has_second_order() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return (layer_has_second_order<typename Net::template layer_type<I>>() && ...);
  }
  (std::make_index_sequence<Net::num_layers>{});
}

template <LossExpression L, class Net, class T, class Teacher>
T run(const L& loss, const Net& net, const Batch<T, Teacher>& batch, LossWorkspace<T>& ws,
      bool grad) {
  constexpr Needs nd = L::needs;
  constexpr bool no_teacher = std::is_same_v<Teacher, NoTeacher>;
  constexpr bool teacher_data = losses::is_teacher_data_v<Teacher>;
  constexpr bool teacher_net = nn::NetModel<Teacher>;
  static_assert(nn::NetModel<Net>,
                "jacnet::losses: the student must be a net (nn::Sequential<...>)");
  static_assert(std::is_same_v<typename Net::Scalar, T>,
                "jacnet::losses: the batch inputs and the student net must have the same scalar "
                "type");
  static_assert(!nd.jacobian || net_has_second_order<Net>(),
                "jacnet::losses: this loss uses input-Jacobian rows of the student (JacobianMatch, "
                "JacobianNorm), but a layer of the student net has no second_order rule, so the "
                "gradient of the loss cannot be computed");
  static_assert(!nd.teacher() || !no_teacher,
                "jacnet::losses: this loss compares the student with a teacher (OutputMatch, "
                "SoftTargetKD, JacobianMatch, AttentionTransfer, LwF, NoisyMatch): pass one in the "
                "batch, Batch(X, labels, teacher)");
  static_assert(
      no_teacher || teacher_data || teacher_net,
      "jacnet::losses: the teacher must be a net (nn::Sequential<...>) or TeacherData<T>");
  static_assert(!nd.teacher_net || !teacher_data,
                "jacnet::losses: NoisyMatch evaluates the teacher at noisy inputs, so it needs the "
                "teacher net, not TeacherData");
  if constexpr (teacher_net)
    static_assert(std::is_same_v<typename Teacher::Scalar, T>,
                  "jacnet::losses: the teacher net and the student net must have the same scalar "
                  "type");
  if constexpr (teacher_data)
    static_assert(std::is_same_v<typename Teacher::Scalar, T>,
                  "jacnet::losses: TeacherData must have the student's scalar type");

  constexpr const char* where = "losses::value_and_grad";
  JACNET_CHECK(batch.X != nullptr, ValueError, where, "the batch has no inputs");
  const Matrix<T>& X = *batch.X;
  net.check_input(X, where);
  Sizes n{X.rows(), X.cols(), net.output_size(), 0};
  constexpr std::size_t L1 = Net::num_layers + 1;
  if constexpr (nd.teacher())
    JACNET_CHECK(batch.teacher != nullptr, ValueError, where,
                 "the loss needs a teacher but the batch's teacher pointer is null");
  TeacherSource<T, Teacher> teacher(batch.teacher);
  const bool has_teacher = batch.teacher != nullptr;
  if (has_teacher) n.Ct = teacher.sizes(n, where);
  Plan& plan = ws.plan;
  make_plan(loss, n, plan);
  if constexpr (nd.labels)
    JACNET_CHECK(static_cast<Index>(batch.labels.size()) == n.B, ShapeError, where,
                 "the loss needs one label per sample: ", n.B, " samples, ", batch.labels.size(),
                 " labels");

  Context<T> ctx;
  ctx.n = n;
  ctx.X = &X;
  ctx.labels = batch.labels;
  ctx.M = plan.M;
  ctx.MT = plan.MT;

  // Teacher outputs and activations (before the seeds: TeacherTop needs the outputs), the seeds
  // of all terms, then the teacher's rows at its seeds (no gradient).
  if (has_teacher) teacher.before_seeds(nd, plan, X, ws, ctx);
  fill_seeds(loss, plan, ctx, ws.seeds, ws.tseeds, ws.rng);
  if (has_teacher) teacher.after_seeds(loss, plan, X, ws, ctx);

  // Student: forward + one seeded backward over all M rows (or a plain forward when M = 0).
  if (plan.M > 0) {
    nn::jacobian_pass(net, X, ws.seeds, ws.pass);
  } else {
    net.forward(X, ws.pass.trace);
    ws.pass.batch = n.B;
    ws.pass.M = 0;
    ws.pass.delta.resize(L1);
    for (auto& d : ws.pass.delta)
      if (d.size() > 0) d.resize(0, 0);
  }
  ctx.Y = &ws.pass.outputs();
  ctx.seeds = &ws.seeds;
  ctx.J = plan.M > 0 ? &ws.pass.J() : &ws.empty;
  if (!plan.student_at.empty()) {
    bind_activations(ws.acts, ws.pass.trace.acts, L1,
                     [&](std::size_t l) -> const Shape& { return net.shape(l); });
    ctx.acts = ws.acts;
  }

  // Values and adjoints of all terms, then one backward for the whole loss.
  reset_adjoints(plan, ctx, ws.adj);
  T total = evaluate_terms(loss, plan, ctx, ws.adj, ws.values);
  Matrix<T>* xbar = (grad && ws.input_gradient) ? &ws.result.input_grad : nullptr;
  if (grad)
    nn::backprop(net, ws.pass, ws.adj.Ybar, plan.M > 0 ? ws.adj.Jbar : ws.empty,
                 std::span<const Matrix<T>>(ws.adj.act_bars), ws.result.grad, xbar);

  // Terms with their own passes (NoisyMatch) add to value, gradient and input gradient.
  if constexpr (nd.own_passes) {
    std::size_t i = 0;
    loss.for_each_term([&](const auto& t, double w) {
      using Tm = std::remove_cvref_t<decltype(t)>;
      if constexpr (Tm::needs.own_passes) {
        const T v = t.run(net, batch.teacher, ctx, plan.slots[i], ws.own, ws.rng, T(w),
                          grad ? &ws.result.grad : nullptr, xbar);
        ws.values[i] = v;
        total += T(w) * v;
      }
      ++i;
    });
  }

  if (grad) {
    ws.result.value = total;
    ws.result.terms.resize(plan.slots.size());
    for (std::size_t i = 0; i < plan.slots.size(); ++i)
      ws.result.terms[i] = {plan.weights[i], ws.values[i]};
    ws.result.term_ids.assign(plan.ids.begin(), plan.ids.end());
  }
  return total;
}

}  // namespace detail

/// Value and gradients of `loss` for the student net on a batch:
///   the teacher's forward at most once (outputs and/or Jacobian rows at the loss's seeds, no
///   gradient), one nn::jacobian_pass of the student over the concatenated seeds of all terms,
///   the terms' values and adjoints, one nn::backprop → Result::grad (and input_grad).
/// Throws ShapeError/ValueError on mismatched sizes, labels or teachers; compile-time errors for
/// a missing teacher, a Jacobian term on a net without second-order rules, or mixed scalars.
template <LossExpression L, class Net, class T, class Teacher>
const Result<T>& value_and_grad(const L& loss, const Net& student, const Batch<T, Teacher>& batch,
                                LossWorkspace<T>& ws) {
  detail::run(loss, student, batch, ws, true);
  return ws.result;
}

/// The loss value only (forward and Jacobian passes, no backward). Same random draws as
/// value_and_grad from the same workspace state. Leaves ws.result (the last value_and_grad)
/// untouched; the terms' values are in ws.values.
template <LossExpression L, class Net, class T, class Teacher>
T value(const L& loss, const Net& student, const Batch<T, Teacher>& batch, LossWorkspace<T>& ws) {
  return detail::run(loss, student, batch, ws, false);
}

/// The names of a loss's terms in Result::terms order.
template <LossExpression L>
std::vector<std::string> term_names(const L& loss) {
  std::vector<std::string> names;
  loss.for_each_term([&](const auto& t, double) { names.push_back(t.name()); });
  return names;
}

template <class Derived>
template <class Net, class T, class Teacher>
const Result<T>& LossBase<Derived>::value_and_grad(const Net& student,
                                                   const Batch<T, Teacher>& batch,
                                                   LossWorkspace<T>& ws) const {
  return losses::value_and_grad(derived(), student, batch, ws);
}

template <class Derived>
template <class Net, class T, class Teacher>
T LossBase<Derived>::value(const Net& student, const Batch<T, Teacher>& batch,
                           LossWorkspace<T>& ws) const {
  return losses::value(derived(), student, batch, ws);
}

}  // namespace jacnet::losses
