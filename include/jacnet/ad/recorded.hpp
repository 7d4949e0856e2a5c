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
// f. gradient() is a direct sweep over the instructions: forward, the values and each
// instruction's local partials (closed forms for + − × ÷, negation and x·x, Dual<T, 2> on the operands
// for the rest: the same rules as every mode); backward, w̄_a += ∂w_k/∂w_a · w̄_k (no tape; one
// thread-local buffer, no allocation per call once grown). The other queries replay the instructions through
// the drivers: in T for values, Dual<T, K> for forward Jacobians, Var<T> on this thread's tape
// for reverse Jacobians, Var<Dual<T, K>> for Hessians and Hessian-vector products.
// What replay removes is f's own overhead (Eigen temporaries, loops, control flow, calls).
// Every replay evaluates an instruction through one dispatch, ad::detail::instr_value
// (jacnet/ad/recorded_ops.hpp).
//
// Control flow. A comparison of traced values (x < y, x == 0.5, ...) decides a branch of f while
// it is recorded; the program holds only the branch taken. So every comparison is recorded with
// its outcome (as CppAD's comparison operators do), and every replay re-evaluates it at the new
// point: if an outcome differs, the point lies on another branch of f and the replay throws
// jacnet::BranchError naming the comparison, the recorded and the new outcome (record f again at
// that point). same_branches(x) tests this without throwing. Functions with kinks inside one
// operation (abs, max, min, relu, ...) need no comparison: the operation itself is replayed and
// picks its side at each point. Integer logic on values (casts to int, array indices from
// values) is NOT seen by the tracer: such a function must not be recorded.
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
    if (out_slot_.size() == 1) lower();  // only gradient() reads it, and it needs one output
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
    // Forward over the lowered instructions (see lower()): the values w and the local partials
    // (∂w_k/∂w_a, ∂w_k/∂w_b) of every instruction — closed forms for + − × ÷, negation and x·x,
    // Dual<T, 2> on the operands for the rest (the same rules as every other mode). Reverse: the
    // adjoint sweep w̄_a += ∂w_k/∂w_a · w̄_k over the instructions, last to first. No tape.
    const std::uint32_t n0 = prog_.n_inputs;
    const std::size_t K = low_.size();  // < 2³² (emit checks)
    // One thread-local buffer per thread: values w (n0 + K), partials pd (2K, interleaved
    // (∂w_k/∂w_a, ∂w_k/∂w_b)), adjoints adj (n0 + K). No allocation once it has grown.
    thread_local std::vector<T> scratch;
    const std::size_t nw = std::size_t(n0) + K;
    if (scratch.size() < 2 * nw + 2 * K) scratch.resize(2 * nw + 2 * K);
    T* const w = scratch.data();
    T* const pd = w + nw;
    T* const adj = pd + 2 * K;
    for (std::uint32_t i = 0; i < n0; ++i) w[i] = x(i);
    for (std::size_t k = 0; k < K; ++k) {
      const Step st = forward_step(k, w);
      w[n0 + k] = st.v;
      pd[2 * k] = st.pa;
      pd[2 * k + 1] = st.pb;
    }
    GradientResult<T> g{T(0), Vector<T>::Zero(x.size())};
    const std::uint32_t out = out_slot_[0];
    if (out == ad::detail::kConst) {
      g.value = out_const_[0];
      return g;
    }
    g.value = w[out];
    std::fill(adj, adj + nw, T(0));
    adj[out] = T(1);
    for (std::size_t k = K; k-- > 0;) {
      const T a = adj[n0 + k];
      if (a == T(0)) continue;
      const Lowered& L = low_[k];
      adj[L.ra] += pd[2 * k] * a;
      adj[L.rb] += pd[2 * k + 1] * a;
    }
    for (std::uint32_t i = 0; i < n0; ++i) g.gradient(i) = adj[i];
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
        check_compare(k, I, operand_value(I.a, I.ca, w), operand_value(I.b, I.cb, w));
      else
        w[n0 + k] = detail::instr_value<S>(I, w);
    }
  }

  template <class W>
  static T operand_value(std::uint32_t slot, T c, const W& w) {
    return slot == ad::detail::kConst ? c : value_of(w[slot]);
  }
  void check_compare(std::size_t k, const detail::Instr<T>& I, T x, T y) const {
    const bool now = detail::compare(I.cmp, x, y);
    JACNET_CHECK(now == I.outcome, BranchError, "jacnet::ad::Recorded", "comparison #",
                 comparison_number(k), " (instruction ", k, ": ", x, " ", detail::cmp_name(I.cmp),
                 " ", y, ") is ", now ? "true" : "false", " at this point but was ",
                 I.outcome ? "true" : "false",
                 " when recorded: f takes another branch here; record it again at this point");
  }

  // The program lowered for gradient(): one record per instruction (24 bytes for double, against
  // 40 for an Instr) with the operation specialised by operand kind (variable V or constant C,
  // the constant inline), so the forward step is one switch with no constant tests and no second
  // array to read, and the adjoint targets ra/rb of the reverse sweep: for a constant
  // operand or a comparison the instruction's own slot n_inputs + k, whose adjoint the sweep has
  // read before and never reads again (no branch per operand, and no chain of updates of one
  // shared sink slot).
  enum class LOp : std::uint8_t {
    AddVV, AddVC, SubVV, SubVC, SubCV, MulVV, MulVC, Sqr, DivVV, DivVC, DivCV, Neg, Other, Compare
  };
  struct Step {
    T v, pa, pb;
  };
  struct Lowered {
    std::uint32_t ra, rb;  // adjoint targets (operand slots, or the instruction's own slot)
    LOp op;
    T c;  // the constant operand (…VC, …CV)
  };

  void lower() {
    constexpr std::uint32_t kC = ad::detail::kConst;
    low_.reserve(prog_.code.size());
    for (const detail::Instr<T>& I : prog_.code) {
      const std::uint32_t sink = prog_.n_inputs + static_cast<std::uint32_t>(low_.size());
      Lowered L{I.a == kC ? sink : I.a, I.b == kC ? sink : I.b, LOp::Other, T(0)};
      const bool va = I.a != kC, vb = I.b != kC;
      switch (I.op) {
        case Op::Add:
        case Op::Mul: {  // commutative (exactly, in IEEE arithmetic): the constant to the right
          const LOp vv = I.op == Op::Add ? LOp::AddVV : LOp::MulVV;
          const LOp vc = I.op == Op::Add ? LOp::AddVC : LOp::MulVC;
          if (va && vb) {
            L.op = I.a == I.b ? (I.op == Op::Mul ? LOp::Sqr : LOp::Other) : vv;
          } else if (va) {
            L.op = vc;
            L.c = I.cb;
          } else {
            L = Lowered{I.b, sink, vc, I.ca};
          }
          break;
        }
        case Op::Sub:
        case Op::Div: {
          const bool sub = I.op == Op::Sub;
          if (va && vb) {
            L.op = I.a == I.b ? LOp::Other : (sub ? LOp::SubVV : LOp::DivVV);
          } else if (va) {
            L.op = sub ? LOp::SubVC : LOp::DivVC;
            L.c = I.cb;
          } else {
            L.op = sub ? LOp::SubCV : LOp::DivCV;
            L.c = I.ca;
          }
          break;
        }
        case Op::Neg: L.op = LOp::Neg; break;
        case Op::Compare: L = Lowered{sink, sink, LOp::Compare, T(0)}; break;
        default: break;
      }
      low_.push_back(L);
    }
  }

  /// Value v and local partials pa, pb of instruction k (closed forms: the same numbers as the
  /// Dual<T, 2> rules of dual.hpp, which the other operations go through). pa/pb belong to
  /// low_[k].ra/rb: for …CV the variable is the right operand and its partial is pb.
  Step forward_step(std::size_t k, const T* w) const {
    const Lowered& L = low_[k];
    switch (L.op) {
      case LOp::AddVV: return {w[L.ra] + w[L.rb], T(1), T(1)};
      case LOp::AddVC: return {w[L.ra] + L.c, T(1), T(0)};
      case LOp::SubVV: return {w[L.ra] - w[L.rb], T(1), T(-1)};
      case LOp::SubVC: return {w[L.ra] - L.c, T(1), T(0)};
      case LOp::SubCV: return {L.c - w[L.rb], T(0), T(-1)};
      case LOp::MulVV: {
        const T x = w[L.ra], y = w[L.rb];
        return {x * y, y, x};
      }
      case LOp::MulVC: return {w[L.ra] * L.c, L.c, T(0)};
      case LOp::Sqr: {  // x·x: both partials on one slot (Dual: x·1 + 1·x)
        const T x = w[L.ra];
        return {x * x, x + x, T(0)};
      }
      case LOp::DivVV:
      case LOp::DivVC:
      case LOp::DivCV: {  // as Dual: q = x·(1/y), ∂q/∂x = 1/y, ∂q/∂y = −q·(1/y)
        const T x = L.op == LOp::DivCV ? L.c : w[L.ra];
        const T y = L.op == LOp::DivVC ? L.c : w[L.rb];
        const T inv = deriv::div_d1_num(y);
        const T v = x * inv;
        return {v, L.op == LOp::DivCV ? T(0) : inv, L.op == LOp::DivVC ? T(0) : -v * inv};
      }
      case LOp::Neg: return {-w[L.ra], T(-1), T(0)};
      case LOp::Compare: {
        const detail::Instr<T>& I = prog_.code[k];
        check_compare(k, I, operand_value(I.a, I.ca, w), operand_value(I.b, I.cb, w));
        return {T(0), T(0), T(0)};
      }
      case LOp::Other: {
        const detail::Instr<T>& I = prog_.code[k];
        const Dual<T, 2> r = detail::instr_value<Dual<T, 2>>(I, PartialView{w, I.a, I.b});
        // x∘x: both tangents carry the whole derivative, which goes to ra.
        return {r.val, r.d(0), I.a == I.b ? T(0) : r.d(1)};
      }
    }
    return {};
  }

  /// Operand view of the gradient sweep: slot a as Dual tangent e0, slot b as e1 (both when a = b).
  struct PartialView {
    const T* w;
    std::uint32_t a, b;
    Dual<T, 2> operator[](std::uint32_t i) const {
      Dual<T, 2> d(w[i]);
      if (i == a) d.set_d(0, T(1));
      if (i == b) d.set_d(1, T(1));
      return d;
    }
  };

  std::size_t comparison_number(std::size_t k) const {
    std::size_t c = 0;
    for (std::size_t i = 0; i < k; ++i) c += prog_.code[i].op == Op::Compare;
    return c;
  }

  detail::Program<T> prog_;
  std::vector<std::uint32_t> out_slot_;
  std::vector<T> out_const_;
  bool scalar_;
  std::vector<Lowered> low_;  // the program lowered for gradient() (one output only)
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
