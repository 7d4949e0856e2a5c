#pragma once
// jacnet/ad/recorded.hpp — record a function once, evaluate it and its derivatives at new points.
//
//   auto F = jacnet::ad::record(f, x0);      // runs f once on tracing scalars at x0
//   F.value(x)  F.gradient(x)  F.jacfwd(x)  F.jacrev(x)  F.hvp(x, u)  F.hessian(x)
//   F.eval(x)                                  // generic: F itself can be handed to any driver
//
// Recording: f (generic over its scalar, as for the drivers) is called once with
// jacnet::Traced<T> inputs (jacnet/ad/traced.hpp; also named jacnet::ad::Traced). Every
// elementary operation appends one instruction (operation, operand slots, constants) to a
// program; the outputs are slots of that program. The program is then replayed, with no call of
// f. gradient() runs the program as scheduled once, at record(), into runs of one kernel each
// (jacnet/ad/gradient_sweep.hpp): forward, the values and the local partials (closed forms for
// + − × ÷, negation and x·x, Dual<T, 2> on the operands for the rest: the same rules as every
// mode); backward, w̄_a += ∂w_k/∂w_a · w̄_k (no tape; one thread-local buffer, no allocation per
// call once grown). The other queries replay the instructions in recorded order through the
// drivers: in T for values, Dual<T, K> for forward Jacobians, Var<T> on this thread's tape for
// reverse Jacobians, Var<Dual<T, K>> for Hessians and Hessian-vector products; each instruction
// through one dispatch, ad::detail::instr_value (jacnet/ad/recorded_ops.hpp).
// What replay removes is f's own overhead (Eigen temporaries, loops, control flow, calls).
//
// Control flow. A comparison of traced values (x < y, x == 0.5, ...) decides a branch of f while
// it is recorded; the program holds only the branch taken. So every comparison is recorded with
// its outcome (as CppAD's comparison operators do), and every replay re-evaluates it at the new
// point: if an outcome differs, the point lies on another branch of f and the replay throws
// jacnet::BranchError naming the comparison, the recorded and the new outcome (record f again at
// that point; when several differ, gradient() names the first in its schedule's order, the other
// replays the first recorded). same_branches(x) tests this without throwing. Functions with kinks
// inside one operation (abs, max, min, relu, ...) need no comparison: the operation itself is
// replayed and picks its side at each point. Integer logic on values (casts to int, array indices
// from values) is NOT seen by the tracer: such a function must not be recorded.
//
// Threads: a Recorded is immutable after record(); every const member may run from several
// threads at once (each replay has its own buffers, thread-local for gradient(); reverse modes use
// the calling thread's tape).
// record() itself uses a thread-local program builder, one recording per thread at a time.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/gradient_sweep.hpp"
#include "jacnet/ad/recorded_ops.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/traced.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet {

/// A replay of a recorded function reached a comparison whose outcome differs from the recording.
struct BranchError : Error {
  using Error::Error;
};

namespace ad {
using jacnet::Traced;

/// A recorded function (see the file comment). T is float or double.
template <class T>
class Recorded {
 public:
  Recorded(detail::Program<T> prog, std::vector<std::uint32_t> out_slot, std::vector<T> out_const,
           bool scalar)
      : prog_(std::move(prog)),
        out_slot_(std::move(out_slot)),
        out_const_(std::move(out_const)),
        scalar_(scalar) {
    // Only gradient() runs it, and it needs one output.
    if (out_slot_.size() == 1) sweep_ = detail::GradientSweep<T>(prog_, out_slot_[0]);
  }

  Index inputs() const { return prog_.n_inputs; }
  Index outputs() const { return static_cast<Index>(out_slot_.size()); }
  /// Number of recorded instructions (operations and comparisons).
  std::size_t size() const { return prog_.code.size(); }
  /// Number of recorded comparisons (branch points).
  std::size_t comparisons() const {
    std::size_t c = 0;
    for (const auto& I : prog_.code) c += I.op == Op::Compare;
    return c;
  }
  bool scalar_output() const { return scalar_; }
  /// Number of kernel runs in gradient()'s schedule (one dispatch each per call; 0 when the
  /// function has several outputs). See jacnet/ad/gradient_sweep.hpp.
  std::size_t gradient_runs() const { return sweep_.runs(); }

  /// The program evaluated at x in any scalar S (T, Dual, Var, Var<Dual>, ...): a vector of the m
  /// outputs. Throws BranchError when a comparison's outcome differs from the recording.
  template <class S>
  Vector<S> eval(const Vector<S>& x) const {
    check_size(x.size(), "Recorded::eval");
    std::vector<S> w(prog_.n_inputs + prog_.code.size());
    for (std::uint32_t i = 0; i < prog_.n_inputs; ++i) w[i] = x(i);
    run(w);
    Vector<S> y(outputs());
    for (Index k = 0; k < outputs(); ++k) {
      const std::uint32_t s = out_slot_[std::size_t(k)];
      y(k) = s == ad::detail::kConst ? jacnet::detail::constant_of<S>(out_const_[std::size_t(k)])
                                 : w[s];
    }
    return y;
  }
  /// Generic call: a Recorded is itself a valid f for every driver (a vector function; the
  /// scalar drivers accept its size-1 result).
  template <class V>
  auto operator()(const V& x) const {
    using S = typename std::decay_t<V>::Scalar;
    return eval(Vector<S>(x));
  }

  Vector<T> value(const Vector<T>& x) const { return eval(x); }
  /// f and ∇f (scalar f, or a vector f with one output): one forward pass over the lowered
  /// program and one reverse sweep, without a tape.
  GradientResult<T> gradient(const Vector<T>& x) const {
    require_scalar("Recorded::gradient");
    check_size(x.size(), "Recorded::gradient");
    GradientResult<T> g{T(0), Vector<T>::Zero(x.size())};
    const std::uint32_t out = sweep_.output();
    if (out == ad::detail::kConst) {
      g.value = out_const_[0];
      return g;
    }
    // One thread-local buffer per thread: values w and adjoints adj (one per slot), the local
    // partials pd of the other operations. No allocation once it has grown.
    thread_local std::vector<T> scratch;
    const std::size_t nw = sweep_.slots();
    if (scratch.size() < 2 * nw + sweep_.partials()) scratch.resize(2 * nw + sweep_.partials());
    T* const w = scratch.data();
    T* const adj = w + nw;
    T* const pd = adj + nw;
    for (Index i = 0; i < x.size(); ++i) w[i] = x(i);
    sweep_.forward(w, pd, [this](std::size_t k, const detail::Instr<T>& I, T a, T b) {
      check_compare(k, I, a, b);
    });
    g.value = w[out];
    std::fill(adj, adj + nw, T(0));
    adj[out] = T(1);
    sweep_.reverse(w, pd, adj);
    for (Index i = 0; i < x.size(); ++i) g.gradient(i) = adj[i];
    return g;
  }
  /// Jacobian by forward sweeps: ⌈n/K⌉ replays in Dual<T, K>.
  template <int K = 8>
  Matrix<T> jacfwd(const Vector<T>& x) const {
    return jacnet::jacfwd<K>([this](const auto& v) { return eval(v); }, x);
  }
  /// Jacobian by reverse sweeps: one replay on this thread's tape, ⌈m/rev_chunk⌉ vector sweeps.
  Matrix<T> jacrev(const Vector<T>& x, const JacobianOptions& opts = {}) const {
    return jacnet::jacrev([this](const auto& v) { return eval(v); }, x, opts);
  }
  /// f, ∇f and ∇²f·u (scalar f): one replay in Var<Dual<T, 1>> and one sweep.
  HvpResult<T> hvp(const Vector<T>& x, const Vector<T>& u) const {
    require_scalar("Recorded::hvp");
    return jacnet::hvp([this](const auto& v) { return first(v); }, x, u);
  }
  /// f, ∇f and ∇²f (scalar f).
  template <int K = 8>
  HessianResult<T> hessian(const Vector<T>& x) const {
    require_scalar("Recorded::hessian");
    return jacnet::hessian<K>([this](const auto& v) { return first(v); }, x);
  }
  /// Whether every recorded comparison has its recorded outcome at x (x is on the recorded branch).
  bool same_branches(const Vector<T>& x) const {
    check_size(x.size(), "Recorded::same_branches");
    try {
      (void)eval(x);
      return true;
    } catch (const BranchError&) {
      return false;
    }
  }

 private:
  template <class S>
  S first(const Vector<S>& x) const {
    return eval(x)(0);
  }
  void require_scalar(const char* where) const {
    JACNET_CHECK(outputs() == 1, ShapeError, where, "the recorded function has ", outputs(),
                 " outputs; gradient/hvp/hessian need a scalar function");
  }
  void check_size(Index n, const char* where) const {
    JACNET_CHECK(n == inputs(), ShapeError, where, "x has size ", n, ", the function was recorded "
                 "with ", inputs(), " inputs");
  }

  // w holds the inputs in its first n_inputs slots; run() fills the rest.
  template <class S>
  void run(std::vector<S>& w) const {
    const std::uint32_t n0 = prog_.n_inputs;
    for (std::size_t k = 0; k < prog_.code.size(); ++k) {
      const detail::Instr<T>& I = prog_.code[k];
      if (I.op == Op::Compare)
        check_compare(k, I, detail::operand_value(I.a, I.ca, w),
                      detail::operand_value(I.b, I.cb, w));
      else
        w[n0 + k] = detail::instr_value<S>(I, w);
    }
  }

  void check_compare(std::size_t k, const detail::Instr<T>& I, T x, T y) const {
    const bool now = detail::compare(I.cmp, x, y);
    JACNET_CHECK(now == I.outcome, BranchError, "jacnet::ad::Recorded", "comparison #",
                 comparison_number(k), " (instruction ", k, ": ", x, " ", detail::cmp_name(I.cmp),
                 " ", y, ") is ", now ? "true" : "false", " at this point but was ",
                 I.outcome ? "true" : "false",
                 " when recorded: f takes another branch here; record it again at this point");
  }

  std::size_t comparison_number(std::size_t k) const {
    std::size_t c = 0;
    for (std::size_t i = 0; i < k; ++i) c += prog_.code[i].op == Op::Compare;
    return c;
  }

  detail::Program<T> prog_;
  std::vector<std::uint32_t> out_slot_;
  std::vector<T> out_const_;
  bool scalar_;
  detail::GradientSweep<T> sweep_;  // the program scheduled for gradient() (one output only)
};

/// Records f at x0 (see the file comment): f is called once with Traced<T> inputs.
template <class F, class DX>
Recorded<typename DX::Scalar> record(F&& f, const Eigen::MatrixBase<DX>& x0) {
  using T = typename DX::Scalar;
  using Tr = Traced<T>;
  static_assert(std::is_floating_point_v<T>, "jacnet::ad::record: x0 must hold float or double");
  jacnet::detail::require_generic<std::remove_reference_t<F>, Tr>();
  jacnet::detail::check_input(x0, "jacnet::ad::record");
  JACNET_CHECK(detail::active_program<T> == nullptr, ValueError, "jacnet::ad::record",
               "record() called while f is being recorded on this thread (recordings do not nest)");
  detail::Program<T> prog;
  prog.n_inputs = static_cast<std::uint32_t>(x0.size());
  struct Guard {
    detail::Program<T>*& slot;
    ~Guard() { slot = nullptr; }
  } guard{detail::active_program<T>};
  detail::active_program<T> = &prog;
  Vector<Tr> x(x0.size());
  for (Index i = 0; i < x0.size(); ++i) x(i) = Tr::input(x0(i), static_cast<std::uint32_t>(i));
  using R = std::invoke_result_t<std::remove_reference_t<F>&, const Vector<Tr>&>;
  const bool scalar = !jacnet::detail::is_eigen_v<R>;
  const Vector<Tr> y = jacnet::detail::eval_vector(f, x);
  detail::active_program<T> = nullptr;
  std::vector<std::uint32_t> slots(std::size_t(y.size()));
  std::vector<T> consts(std::size_t(y.size()));
  for (Index k = 0; k < y.size(); ++k) {
    slots[std::size_t(k)] = y(k).slot();
    consts[std::size_t(k)] = y(k).value();
  }
  return Recorded<T>(std::move(prog), std::move(slots), std::move(consts), scalar);
}

}  // namespace ad

}  // namespace jacnet
