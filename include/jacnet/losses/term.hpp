#pragma once
// jacnet/losses/term.hpp — the loss-term protocol: what a term declares (Needs), what it sees
// (Sizes, Slot, Context), what it writes (Adjoints), the CRTP bases (Term, LossBase) and the
// LossTerm / LossExpression concepts.
//
// A loss term is a small value type (CrossEntropy, JacobianMatch<...>, ...) that declares at
// compile time what it needs (`static constexpr Needs needs`) and, at run time,
//   * `prepare(sizes)`: checks the batch/net sizes and returns how many Jacobian seed rows per
//     sample it needs (M_t; 0 for terms without Jacobians; Term's default checks a member
//     `offset` (StudentOffset) if the term has one, and returns 0);
//   * `fill_seeds(ctx, slot, seeds, rng)`: writes its M_t output cotangents per sample (rows
//     ctx.row(slot, b, k) of the B*M x Cs seed matrix: unit rows e_i, or random unit vectors);
//   * `evaluate(ctx, slot, w, adj)`: returns its (unweighted) value L_t, a mean over the batch,
//     and adds w·∂L_t/∂(outputs, its Jacobian rows, activations) to `adj`.
// A type derived from Term<...> that lacks one of these fails at the `+` (or `*`) that uses it,
// with one static_assert naming the protocol (composition.hpp).
#include <cmath>
#include <concepts>
#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

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

  /// Row of seed k of slot `s` for sample b in the B*M-row matrices (seeds, J, Adjoints::Jbar).
  Index row(const Slot& s, Index b, Index k = 0) const { return b * M + s.off + k; }
  /// Row of teacher seed k of slot `s` for sample b in the B*MT-row matrices (JT, teacher seeds).
  Index teacher_row(const Slot& s, Index b, Index k = 0) const { return b * MT + s.toff + k; }
  /// The slot's s.count rows of sample b of a B*M-row matrix (seeds, J, Jbar), as a block.
  template <class Mat>
  auto rows(Mat&& m, const Slot& s, Index b) const {
    return m.middleRows(row(s, b), s.count);
  }
  /// The slot's s.count rows of sample b of a B*MT-row matrix (JT).
  template <class Mat>
  auto teacher_rows(Mat&& m, const Slot& s, Index b) const {
    return m.middleRows(teacher_row(s, b), s.count);
  }
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
/// Tag base of primitive terms (every Term<Derived>).
struct TermTag {};

/// A primitive loss term that follows the protocol above: `needs`, name(), prepare(Sizes) and
/// evaluate(Context<T>, Slot, T, Adjoints<T>) -> T (or, for terms with needs.own_passes, the
/// `run` hook instead of evaluate; see NoisyMatch).
template <class L>
concept LossTerm =
    std::is_base_of_v<TermTag, L> && requires(const L& t, const Sizes& n) {
      { L::needs } -> std::convertible_to<Needs>;
      { t.name() } -> std::convertible_to<std::string>;
      { t.prepare(n) } -> std::convertible_to<Index>;
    } && (L::needs.own_passes || requires(const L& t, const Context<double>& c, const Slot& s,
                                          Adjoints<double>& a) {
      { t.evaluate(c, s, 1.0, a) } -> std::convertible_to<double>;
    });

/// A loss expression: a well-formed primitive term (LossTerm) or a composite of expressions.
template <class L>
concept LossExpression =
    std::is_base_of_v<LossTag, std::remove_cvref_t<L>> &&
    (!std::is_base_of_v<TermTag, std::remove_cvref_t<L>> || LossTerm<std::remove_cvref_t<L>>);

namespace detail {

/// This thread's scratch vector number k of term type Tm, of Eigen vector type V (Vector<T> or a
/// row type), sized n: the per-call temporaries of a term's evaluate (log-probabilities,
/// normalized rows) without a heap allocation in the steady state. It is re-sized only when n
/// changes, and there is one per (Tm, k, V), so terms of other sizes never take turns re-sizing
/// it. Contents are unspecified on return; valid until the next call with the same (Tm, k, V) on
/// this thread.
template <class Tm, int k, class V>
V& scratch(Index n) {
  thread_local V v;
  if (v.size() != n) v.resize(n);
  return v;
}

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

template <class T>
struct LossWorkspace;
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
                                  LossWorkspace<T>& ws) const;
  /// The value only (no backward pass); consumes the same random draws as value_and_grad.
  template <class Net, class T, class Teacher>
  T value(const Net& student, const Batch<T, Teacher>& batch, LossWorkspace<T>& ws) const;
};

/// CRTP base of a primitive term, with the defaults of the optional hooks. A term provides
/// `static constexpr Needs needs`, `std::string name() const`, optionally
/// `Index prepare(const Sizes&) const` (checks sizes, returns its seed rows per sample; the
/// default checks `offset` and returns 0) and
/// `template <class T> T evaluate(const Context<T>&, const Slot&, T w, Adjoints<T>&) const`;
/// Jacobian terms also `fill_seeds`, activation terms `student_boundaries` /
/// `teacher_boundaries`. Teacher-matching terms hold a `StudentOffset offset` member (the default
/// student_offset resolves it) or define `student_offset` themselves (LwF). Terms with
/// `needs.own_passes` (NoisyMatch) provide `run(student, teacher*, ctx, slot, scratch, rng, w,
/// grad*, input_grad*)` instead of `evaluate`: the driver calls it after the shared backward pass.
template <class Derived>
struct Term : LossBase<Derived>, TermTag {
  static constexpr std::size_t num_terms = 1;
  /// Calls f(term, weight) for each primitive term (here: this one).
  template <class F>
  void for_each_term(F&& f, double w = 1.0) const {
    f(this->derived(), w);
  }
  /// Student output column of teacher output 0: the term's `offset` resolved against the sizes
  /// (throws ShapeError naming the term), or 0 for terms without one.
  Index student_offset(const Sizes& n) const {
    if constexpr (requires(const Derived& d, const Sizes& s) { d.offset.resolve(s, d); })
      return this->derived().offset.resolve(n, this->derived());
    else
      return 0;
  }
  /// Checks the sizes (the term's `offset`, if any); no seed rows.
  Index prepare(const Sizes& n) const {
    student_offset(n);
    return 0;
  }
  template <class T>
  void fill_seeds(const Context<T>&, const Slot&, Matrix<T>&, std::mt19937_64&) const {}
  void student_boundaries(std::vector<Index>&) const {}
  void teacher_boundaries(std::vector<Index>&) const {}
};

}  // namespace jacnet::losses
