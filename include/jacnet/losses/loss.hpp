#pragma once
// jacnet/losses/loss.hpp — the loss-term concept and the evaluation driver.
//
// A loss term is a small value type (CrossEntropy, JacobianMatch<...>, ...) that declares at
// compile time what it needs (`static constexpr Needs needs`) and, at run time,
//   * `prepare(sizes)`: checks the batch/net sizes and returns how many Jacobian seed rows per
//     sample it needs (M_t; 0 for terms without Jacobians);
//   * `fill_seeds(ctx, slot, seeds, rng)`: writes its M_t output cotangents per sample (rows
//     b*M + slot.off + k of the B*M x C_s seed matrix: unit rows e_i, or random unit vectors);
//   * `evaluate(ctx, slot, w, adj)`: returns its (unweighted) value L_t, a mean over the batch,
//     and adds w·∂L_t/∂(outputs, its Jacobian rows, activations) to `adj`.
// Composites (a + b, λ·a; composition.hpp) concatenate the seeds of their terms, so ONE Jacobian
// pass of the student (nn::jacobian_pass: forward + one seeded backward over all M rows) gives
// every term its rows J = seeds·∂y/∂x (B*M x D), and ONE nn::backprop turns the summed adjoints
// (Ȳ, J̄, Ā) into ∂L/∂θ (and ∂L/∂x). Terms that match a teacher's Jacobian rows get them from
// the same seeds restricted to the teacher's columns (`Slot::col` = student column of teacher
// output 0), computed by nn::jacobian_rows without gradient (or from precomputed TeacherData).
//
//   losses::Workspace<float> ws(seed);                     // reused across steps
//   const auto loss = CrossEntropy{} + JacobianMatch<TeacherTop<1>>{};
//   const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
//   optimizer.step(student.params(), r.grad);              // r.value, r.terms[i].value
//
// Batch reduction: every term is a mean over the B samples of a per-sample loss.
#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/seeds.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::losses {

/// What a loss term (or a composite) needs from a batch, known at compile time.
struct Needs {
  bool labels = false;            ///< integer class labels of the batch
  bool jacobian = false;          ///< input-Jacobian rows of the student (seeded backward)
  bool teacher_outputs = false;   ///< teacher outputs at the batch inputs
  bool teacher_seeds = false;     ///< its seeds depend on the teacher outputs (TeacherTop<k>)
  bool teacher_jacobian = false;  ///< teacher Jacobian rows at the term's seeds
  bool activations = false;       ///< student activations at layer boundaries
  bool teacher_activations = false;
  bool teacher_net = false;  ///< evaluates the teacher at other inputs (needs a net, not data)
  bool own_passes = false;   ///< runs extra passes of the student itself (NoisyMatch)

  constexpr Needs operator|(const Needs& o) const {
    return {labels || o.labels,
            jacobian || o.jacobian,
            teacher_outputs || o.teacher_outputs,
            teacher_seeds || o.teacher_seeds,
            teacher_jacobian || o.teacher_jacobian,
            activations || o.activations,
            teacher_activations || o.teacher_activations,
            teacher_net || o.teacher_net,
            own_passes || o.own_passes};
  }
  /// Anything that requires a teacher (net or precomputed data).
  constexpr bool teacher() const {
    return teacher_outputs || teacher_jacobian || teacher_activations || teacher_net;
  }
};

/// Run-time sizes of one evaluation: batch, input size, student and teacher output sizes.
struct Sizes {
  Index B = 0;   ///< samples
  Index D = 0;   ///< input size (columns of X)
  Index Cs = 0;  ///< student outputs
  Index Ct = 0;  ///< teacher outputs (0 without a teacher)
};

/// Where one term's seed rows sit in the concatenated seed matrices.
struct Slot {
  Index off = 0;    ///< student rows of sample b: b*M + off + k, k < count
  Index count = 0;  ///< seed rows per sample of this term
  Index toff = 0;   ///< teacher rows of sample b: b*MT + toff + k, k < count (teacher_jacobian)
  Index col = 0;    ///< student output column of teacher output 0 (see StudentOffset)
};

/// An activation at a layer boundary (boundary 0 = net input, l+1 = output of layer l).
template <class T>
struct ActivationView {
  const Matrix<T>* values = nullptr;  ///< B x shape.size()
  Shape shape;                        ///< per-sample shape, {C, H, W} for images
};

/// Everything a term sees when it evaluates. Pointers are null where the loss did not ask.
template <class T>
struct Context {
  Sizes n;
  const Matrix<T>* X = nullptr;             ///< inputs, B x D
  std::span<const int> labels;              ///< B class labels (when Needs::labels)
  const Matrix<T>* Y = nullptr;             ///< student outputs, B x Cs
  const Matrix<T>* YT = nullptr;            ///< teacher outputs, B x Ct
  Index M = 0;                              ///< student seed rows per sample, all terms together
  const Matrix<T>* seeds = nullptr;         ///< B*M x Cs
  const Matrix<T>* J = nullptr;             ///< student Jacobian rows, B*M x D
  Index MT = 0;                             ///< teacher seed rows per sample
  const Matrix<T>* JT = nullptr;            ///< teacher Jacobian rows, B*MT x D
  std::span<const ActivationView<T>> acts;  ///< student activations by boundary
  std::span<const ActivationView<T>> teacher_acts;  ///< teacher activations by boundary
};

/// Adjoints a term adds to (all sized by the driver, zeroed once per evaluation).
template <class T>
struct Adjoints {
  Matrix<T> Ybar;                   ///< ∂L/∂Y, B x Cs
  Matrix<T> Jbar;                   ///< ∂L/∂J, B*M x D
  std::vector<Matrix<T>> act_bars;  ///< ∂L/∂acts[l]; empty matrix = no adjoint at boundary l
};

/// How a teacher-matching term pairs teacher outputs with student outputs. By default the two
/// nets have the same number of outputs, matched one to one (a mismatch throws ShapeError); with
/// an explicit offset o the teacher's Ct outputs are matched to student outputs [o, o + Ct)
/// (e.g. the old-task head of a LwF student laid out as [new | old]).
struct StudentOffset {
  Index value = -1;  ///< -1: sizes must be equal
  constexpr StudentOffset() = default;
  constexpr explicit StudentOffset(Index o) : value(o) {}

  /// Resolves and checks against the sizes; `term.name()` names the term in errors.
  template <class Who>
  Index resolve(const Sizes& n, const Who& term) const {
    JACNET_CHECK(n.Ct > 0, ShapeError, term.name().c_str(),
                 "needs a teacher with outputs (teacher has ", n.Ct, ")");
    if (value < 0) {
      JACNET_CHECK(n.Cs == n.Ct, ShapeError, term.name().c_str(), "teacher has ", n.Ct,
                   " outputs but student has ", n.Cs,
                   " (give a StudentOffset to match a slice of the student's outputs)");
      return 0;
    }
    JACNET_CHECK(value + n.Ct <= n.Cs, ShapeError, term.name().c_str(), "teacher outputs [0, ",
                 n.Ct, ") matched to student outputs [", value, ", ", value + n.Ct,
                 ") but student has ", n.Cs, " outputs");
    return value;
  }
};

/// Tag base of every loss expression (primitive terms and composites).
struct LossTag {};

/// A loss expression: a primitive term or a composite of terms.
template <class L>
concept LossExpression = std::is_base_of_v<LossTag, std::remove_cvref_t<L>>;

namespace detail {

/// Stable log-softmax of a row: out = y/temp − logsumexp(y/temp); returns logsumexp.
template <class In, class Out>
auto log_softmax(const Eigen::MatrixBase<In>& y, typename In::Scalar temp,
                 Eigen::MatrixBase<Out>& out) {
  using T = typename In::Scalar;
  using std::exp;
  using std::log;
  const T m = y.maxCoeff() / temp;
  T s = T(0);
  for (Index i = 0; i < y.size(); ++i) s += exp(y(i) / temp - m);
  const T lse = m + log(s);
  for (Index i = 0; i < y.size(); ++i) out(i) = y(i) / temp - lse;
  return lse;
}

/// Checks labels for a term that needs them: B of them, each in [0, classes).
template <class Who>
void check_labels(std::span<const int> labels, Index B, Index classes, const Who& term) {
  JACNET_CHECK(static_cast<Index>(labels.size()) == B, ShapeError, term.name().c_str(), "needs ", B,
               " labels (one per sample), got ", labels.size());
  for (Index b = 0; b < B; ++b) {
    const int l = labels[static_cast<std::size_t>(b)];
    JACNET_CHECK(l >= 0 && l < classes, ValueError, term.name().c_str(), "label ", l, " of sample ",
                 b, " is outside [0, ", classes, ")");
  }
}

/// Adjoint of u = g / sqrt(‖g‖² + eps) given ū: ḡ = ū/n − g (gᵀū)/n³.
template <class G, class U, class Out>
void normalize_adjoint(const Eigen::MatrixBase<G>& g, typename G::Scalar n,
                       const Eigen::MatrixBase<U>& ubar, Out&& gbar, typename G::Scalar scale) {
  using T = typename G::Scalar;
  const T dot = g.dot(ubar);
  const T inv = T(1) / n;
  gbar += scale * (inv * ubar - (dot * inv * inv * inv) * g);
}

}  // namespace detail

// ---- Loss expressions ---------------------------------------------------------------------------

template <class T>
struct Workspace;
template <class T>
struct Result;
template <class T, class Teacher>
struct Batch;

/// CRTP base of every loss expression: primitive terms (Term) and composites (composition.hpp).
template <class Derived>
struct LossBase : LossTag {
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  /// Value, dL/dθ (and dL/dX if ws.input_gradient) of this loss for `student` on `batch`;
  /// the result lives in `ws` (valid until its next use). See losses::value_and_grad.
  template <class Net, class T, class Teacher>
  const Result<T>& value_and_grad(const Net& student, const Batch<T, Teacher>& batch,
                                  Workspace<T>& ws) const;
  /// The value only (no backward pass); consumes the same random draws as value_and_grad.
  template <class Net, class T, class Teacher>
  T value(const Net& student, const Batch<T, Teacher>& batch, Workspace<T>& ws) const;
};

/// CRTP base of a primitive term, with the defaults of the optional hooks. A term provides
/// `static constexpr Needs needs`, `std::string name() const`, `Index prepare(const Sizes&) const`
/// (checks sizes, returns its seed rows per sample) and
/// `template <class T> T evaluate(const Context<T>&, const Slot&, T w, Adjoints<T>&) const`;
/// Jacobian terms also `fill_seeds`, teacher-matching terms `student_offset`, activation terms
/// `student_boundaries` / `teacher_boundaries`. Terms with `needs.own_passes` (NoisyMatch)
/// provide `run(student, teacher*, ctx, slot, scratch, rng, w, grad*, input_grad*)` instead of
/// `evaluate`: the driver calls it after the shared backward pass.
template <class Derived>
struct Term : LossBase<Derived> {
  static constexpr std::size_t num_terms = 1;
  /// Calls f(term, weight) for each primitive term (here: this one).
  template <class F>
  void for_each_term(F&& f, double w = 1.0) const {
    f(this->derived(), w);
  }
  Index student_offset(const Sizes&) const { return 0; }
  template <class T>
  void fill_seeds(const Context<T>&, const Slot&, Matrix<T>&, std::mt19937_64&) const {}
  void student_boundaries(std::vector<Index>&) const {}
  void teacher_boundaries(std::vector<Index>&) const {}
};

// ---- Evaluation on given quantities (the net-free half of the driver) -------------------------

/// Where each term's seeds go and which activations the loss reads; built once per evaluation.
struct Plan {
  std::vector<Slot> slots;        ///< one per primitive term, in for_each_term order
  std::vector<double> weights;    ///< the term's weight in the composite
  Index M = 0;                    ///< student seed rows per sample
  Index MT = 0;                   ///< teacher seed rows per sample
  std::vector<Index> student_at;  ///< student boundaries read by the loss (sorted, unique)
  std::vector<Index> teacher_at;  ///< teacher boundaries read by the loss (sorted, unique)
};

namespace detail {
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
          teacher_seeds.row(b * plan.MT + s.toff + k) =
              seeds.row(b * plan.M + s.off + k).segment(s.col, ctx.n.Ct);
    }
  });
}

/// Zeroes the adjoints to the sizes of `ctx` (act_bars only at the boundaries the plan reads).
template <class T>
void reset_adjoints(const Plan& plan, const Context<T>& ctx, Adjoints<T>& adj) {
  adj.Ybar.setZero(ctx.n.B, ctx.n.Cs);
  adj.Jbar.setZero(ctx.n.B * plan.M, ctx.n.D);
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

// ---- Batches, teachers, workspace, result ----------------------------------------------------

/// Marker: the batch has no teacher.
struct NoTeacher {};

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

/// The inputs of one evaluation: X (B x D), labels (B, when a term needs them) and a teacher
/// (a net of the same scalar type, or TeacherData<T>). Holds pointers: keep them alive.
///   Batch(X), Batch(X, labels), Batch(X, labels, teacher), Batch(X, teacher)
template <class T, class Teacher = NoTeacher>
struct Batch {
  const Matrix<T>* X = nullptr;
  std::span<const int> labels;
  const Teacher* teacher = nullptr;

  explicit Batch(const Matrix<T>& x, std::span<const int> l = {}) : X(&x), labels(l) {}
  Batch(const Matrix<T>& x, std::span<const int> l, const Teacher& t)
      : X(&x), labels(l), teacher(&t) {}
  Batch(const Matrix<T>& x, const Teacher& t) requires(!std::is_same_v<Teacher, NoTeacher>)
      : X(&x), teacher(&t) {}
};
template <class T>
Batch(const Matrix<T>&) -> Batch<T>;
template <class T>
Batch(const Matrix<T>&, std::span<const int>) -> Batch<T>;
template <class T>
Batch(const Matrix<T>&, const std::vector<int>&) -> Batch<T>;
template <class T, class Tc>
Batch(const Matrix<T>&, std::span<const int>, const Tc&) -> Batch<T, Tc>;
template <class T, class Tc>
Batch(const Matrix<T>&, const std::vector<int>&, const Tc&) -> Batch<T, Tc>;
template <class T, class Tc>
requires(!std::is_convertible_v<const Tc&, std::span<const int>>) Batch(const Matrix<T>&, const Tc&)
->Batch<T, Tc>;

/// One term's weight and (unweighted) value, in the loss's for_each_term order.
template <class T>
struct TermValue {
  double weight = 1.0;
  T value = T(0);
};

/// What value_and_grad returns: a reference into the Workspace, valid until the next
/// value_and_grad with that workspace (copy what you keep).
template <class T>
struct Result {
  T value = T(0);        ///< Σ_t w_t L_t
  Vector<T> grad;        ///< dL/dθ, the student's flat parameter layout
  Matrix<T> input_grad;  ///< dL/dX (B x D) when Workspace::input_gradient is set
  std::vector<TermValue<T>> terms;
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
/// of random projections and noise (seeded; `reseed` to repeat draws).
template <class T>
struct Workspace {
  explicit Workspace(std::uint64_t seed = 0) : rng(seed) {}
  void reseed(std::uint64_t seed) { rng.seed(seed); }

  std::mt19937_64 rng;
  bool input_gradient = false;  ///< also compute dL/dX into Result::input_grad

  // Internals (public for inspection in tests and benchmarks).
  Plan plan;
  Matrix<T> seeds, tseeds, JT, empty;
  nn::JacobianPass<T> pass;
  nn::Workspace<T> teacher_ws;
  Adjoints<T> adj;
  std::vector<ActivationView<T>> acts, tacts;
  std::vector<T> values;
  OwnPassScratch<T> own;
  Result<T> result;
};

// ---- The driver -----------------------------------------------------------------------------

namespace detail {

template <class N>
concept NetModel = requires(const N& n, const Matrix<typename N::Scalar>& X,
                            nn::Trace<typename N::Scalar>& tr) {
  typename N::Scalar;
  n.forward(X, tr);
  { n.input_size() } -> std::convertible_to<Index>;
  { n.output_size() } -> std::convertible_to<Index>;
  { n.shape(std::size_t{0}) } -> std::convertible_to<Shape>;
  { n.num_params() } -> std::convertible_to<Index>;
  N::num_layers;
};

/// A layer has a usable second-order rule unless it says otherwise
/// (`static constexpr bool has_second_order = false`, e.g. a custom layer without one).
template <class L>
consteval bool layer_has_second_order() {
  if constexpr (requires { L::has_second_order; })
    return L::has_second_order;
  else
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

template <class X>
inline constexpr bool is_teacher_data_v = false;
template <class T>
inline constexpr bool is_teacher_data_v<TeacherData<T>> = true;

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

template <LossExpression L, class Net, class T, class Teacher>
T run(const L& loss, const Net& net, const Batch<T, Teacher>& batch, Workspace<T>& ws, bool grad) {
  constexpr Needs nd = L::needs;
  constexpr bool no_teacher = std::is_same_v<Teacher, NoTeacher>;
  constexpr bool teacher_data = is_teacher_data_v<Teacher>;
  constexpr bool teacher_net = NetModel<Teacher>;
  static_assert(NetModel<Net>, "jacnet::losses: the student must be a net (nn::Sequential<...>)");
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
  if constexpr (!no_teacher) {
    if constexpr (nd.teacher())
      JACNET_CHECK(batch.teacher != nullptr, ValueError, where,
                   "the loss needs a teacher but the "
                   "batch's teacher pointer is null");
    if (batch.teacher) {
      if constexpr (teacher_net) {
        JACNET_CHECK(batch.teacher->input_size() == n.D, ShapeError, where,
                     "the teacher net takes ", batch.teacher->input_size(),
                     " inputs per sample, the batch has ", n.D);
        n.Ct = batch.teacher->output_size();
      } else {
        const TeacherData<T>& d = *batch.teacher;
        JACNET_CHECK(d.outputs.rows() == n.B, ShapeError, where, "TeacherData has outputs for ",
                     d.outputs.rows(), " samples, the batch has ", n.B);
        n.Ct = d.outputs.cols();
      }
    }
  }
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

  // Teacher outputs and activations (before the seeds: TeacherTop needs the outputs).
  [[maybe_unused]] auto bind_teacher_trace = [&](const auto& tr, const auto& tn) {
    ctx.YT = &tr.output();
    if (!plan.teacher_at.empty()) {
      bind_activations(ws.tacts, tr.acts, tr.acts.size(),
                       [&](std::size_t l) -> const Shape& { return tn.shape(l); });
      ctx.teacher_acts = ws.tacts;
    }
  };
  if constexpr (teacher_net && (nd.teacher_outputs || nd.teacher_activations)) {
    if (plan.MT == 0 || nd.teacher_seeds) {
      batch.teacher->forward(X, ws.teacher_ws.trace);
      bind_teacher_trace(ws.teacher_ws.trace, *batch.teacher);
    }
  }
  if constexpr (teacher_data) {
    if (batch.teacher) {
      const TeacherData<T>& d = *batch.teacher;
      ctx.YT = &d.outputs;
      if (!plan.teacher_at.empty()) {
        bind_activations(ws.tacts, d.activations, d.activations.size(),
                         [&](std::size_t l) -> const Shape& { return d.shapes.at(l); });
        ctx.teacher_acts = ws.tacts;
      }
    }
  }

  // Seeds of all terms, then the teacher's rows at its seeds (no gradient).
  fill_seeds(loss, plan, ctx, ws.seeds, ws.tseeds, ws.rng);
  if (plan.MT > 0) {
    if constexpr (teacher_net) {
      nn::jacobian_rows(*batch.teacher, X, ws.tseeds, ws.teacher_ws, ws.JT);
      bind_teacher_trace(ws.teacher_ws.trace, *batch.teacher);
    } else if constexpr (teacher_data) {
      const TeacherData<T>& d = *batch.teacher;
      JACNET_CHECK(d.jacobian.rows() == n.B * n.Ct && d.jacobian.cols() == n.D, ShapeError, where,
                   "the loss matches teacher Jacobian rows but TeacherData::jacobian is ",
                   d.jacobian.rows(), "x", d.jacobian.cols(), ", expected (B*Ct)xD = ", n.B * n.Ct,
                   "x", n.D, " (record it with with_jacobian = true)");
      ws.JT.resize(n.B * plan.MT, n.D);
      nn::parallel_for(n.B, double(n.B) * plan.MT * n.Ct * n.D, [&](Index b) {
        ws.JT.middleRows(b * plan.MT, plan.MT).noalias() =
            ws.tseeds.middleRows(b * plan.MT, plan.MT) * d.jacobian.middleRows(b * n.Ct, n.Ct);
      });
    }
    ctx.JT = &ws.JT;
  }

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
  }
  return total;
}

}  // namespace detail

/// Value and gradients of `loss` for the student net on a batch:
///   one teacher pass if needed (forward and/or Jacobian rows at the loss's seeds, no gradient),
///   one nn::jacobian_pass of the student over the concatenated seeds of all terms,
///   the terms' values and adjoints, one nn::backprop → Result::grad (and input_grad).
/// Throws ShapeError/ValueError on mismatched sizes, labels or teachers; compile-time errors for
/// a missing teacher, a Jacobian term on a net without second-order rules, or mixed scalars.
template <LossExpression L, class Net, class T, class Teacher>
const Result<T>& value_and_grad(const L& loss, const Net& student, const Batch<T, Teacher>& batch,
                                Workspace<T>& ws) {
  detail::run(loss, student, batch, ws, true);
  return ws.result;
}

/// The loss value only (forward and Jacobian passes, no backward). Same random draws as
/// value_and_grad from the same workspace state. Leaves ws.result (the last value_and_grad)
/// untouched; the terms' values are in ws.values.
template <LossExpression L, class Net, class T, class Teacher>
T value(const L& loss, const Net& student, const Batch<T, Teacher>& batch, Workspace<T>& ws) {
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
                                                   Workspace<T>& ws) const {
  return losses::value_and_grad(derived(), student, batch, ws);
}

template <class Derived>
template <class Net, class T, class Teacher>
T LossBase<Derived>::value(const Net& student, const Batch<T, Teacher>& batch,
                           Workspace<T>& ws) const {
  return losses::value(derived(), student, batch, ws);
}

}  // namespace jacnet::losses
