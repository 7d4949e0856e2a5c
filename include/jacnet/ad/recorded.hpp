#pragma once
// jacnet/ad/recorded.hpp — record a function once, evaluate it and its derivatives at new points.
//
//   auto F = jacnet::ad::record(f, x0);      // runs f once on tracing scalars at x0
//   F.value(x)  F.gradient(x)  F.jacfwd(x)  F.jacrev(x)  F.hvp(x, u)  F.hessian(x)
//   F.eval(x)                                  // generic: F itself can be handed to any driver
//
// Recording: f (generic over its scalar, as for the drivers) is called once with
// jacnet::Traced<T> inputs (also named jacnet::ad::Traced; its functions are in namespace jacnet,
// like those of Dual and Var, so `jacnet::softplus(x)` and unqualified calls both work). Every
// elementary operation appends one instruction (operation, operand slots, constants) to a
// program; the outputs are slots of that program. The program is then replayed, with no call of
// f. gradient() is a direct sweep over the instructions: forward, the values and each
// instruction's local partials (closed forms for + − × ÷, negation and x·x, Dual<T, 2> on the operands
// for the rest: the same rules as every mode); backward, w̄_a += ∂w_k/∂w_a · w̄_k (no tape; one
// thread-local buffer, no allocation per call once grown). The other queries replay the instructions through
// the drivers: in T for values, Dual<T, K> for forward Jacobians, Var<T> on this thread's tape
// for reverse Jacobians, Var<Dual<T, K>> for Hessians and Hessian-vector products.
// What replay removes is f's own overhead (Eigen temporaries, loops, control flow, calls).
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
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet {

/// A replay of a recorded function reached a comparison whose outcome differs from the recording.
struct BranchError : Error {
  using Error::Error;
};

namespace ad {

enum class Op : std::uint8_t {
  Add, Sub, Mul, Div, Neg, Exp, Log, Log1p, Expm1, Sqrt, Cbrt, Abs, Sin, Cos, Tan, Tanh,
  Sigmoid, Softplus, Erf, Erfc, Relu, LeakyRelu, Elu, Gelu, Pow, Atan2, Hypot, Max, Min, Compare
};
enum class Cmp : std::uint8_t { Lt, Le, Gt, Ge, Eq, Ne };

namespace detail {

inline constexpr std::uint32_t kConst = std::numeric_limits<std::uint32_t>::max();

/// One instruction: result slot = n_inputs + its position; operands are slots, or kConst with the
/// value in ca/cb. `par` holds an extra parameter (leaky_relu slope, elu alpha); Compare keeps the
/// comparison in `cmp` and the recorded outcome in `outcome`.
template <class T>
struct Instr {
  Op op;
  Cmp cmp = Cmp::Lt;
  bool outcome = false;
  std::uint32_t a = kConst, b = kConst;
  T ca = T(0), cb = T(0), par = T(0);
};

template <class T>
struct Program {
  std::uint32_t n_inputs = 0;
  std::vector<Instr<T>> code;
};

template <class T>
inline thread_local Program<T>* active_program = nullptr;

inline const char* cmp_name(Cmp c) {
  constexpr const char* names[] = {"<", "<=", ">", ">=", "==", "!="};
  return names[static_cast<int>(c)];
}
template <class X, class Y>
bool compare(Cmp c, const X& x, const Y& y) {
  switch (c) {
    case Cmp::Lt: return x < y;
    case Cmp::Le: return x <= y;
    case Cmp::Gt: return x > y;
    case Cmp::Ge: return x >= y;
    case Cmp::Eq: return x == y;
    case Cmp::Ne: return x != y;
  }
  return false;
}

}  // namespace detail
}  // namespace ad

/// The tracing scalar of jacnet::ad::record(): a value and its slot in the program being recorded (or a
/// constant, on no program). Only for use inside record().
template <class T>
class Traced {
  using Op = ad::Op;
  static_assert(std::is_floating_point_v<T>, "jacnet::ad::Traced<T>: T must be float or double");

 public:
  using value_type = T;
  Traced() = default;
  Traced(T v) : v_(v) {}  // NOLINT: a constant, like a number
  template <class R>
    requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>)
  Traced(R v) : v_(static_cast<T>(v)) {}  // NOLINT
  T value() const { return v_; }
  std::uint32_t slot() const { return slot_; }
  bool is_constant() const { return slot_ == ad::detail::kConst; }

  /// Appends instruction I (operands already set) with value v; constant operands only → constant.
  static Traced emit(ad::detail::Instr<T> I, T v) {
    if (I.a == ad::detail::kConst && I.b == ad::detail::kConst) return Traced(v);
    ad::detail::Program<T>* p = ad::detail::active_program<T>;
    JACNET_CHECK(p != nullptr, ValueError, "jacnet::ad::Traced",
                 "a traced value was used outside jacnet::ad::record()");
    JACNET_CHECK(p->code.size() + p->n_inputs < ad::detail::kConst - 1, ValueError,
                 "jacnet::ad::record", "recording too long: the slot index type holds at most ",
                 ad::detail::kConst - 1, " values");
    p->code.push_back(I);
    Traced r(v);
    r.slot_ = p->n_inputs + static_cast<std::uint32_t>(p->code.size() - 1);
    return r;
  }
  static Traced input(T v, std::uint32_t slot) {
    Traced r(v);
    r.slot_ = slot;
    return r;
  }

  Traced& operator+=(const Traced& o) { return *this = *this + o; }
  Traced& operator-=(const Traced& o) { return *this = *this - o; }
  Traced& operator*=(const Traced& o) { return *this = *this * o; }
  Traced& operator/=(const Traced& o) { return *this = *this / o; }

 private:
  T v_ = T(0);
  std::uint32_t slot_ = ad::detail::kConst;
};

namespace ad::detail {
template <class T>
Instr<T> instr(Op op, const Traced<T>& a) {
  Instr<T> I{op};
  if (a.is_constant()) I.ca = a.value(); else I.a = a.slot();
  return I;
}
template <class T>
Instr<T> instr(Op op, const Traced<T>& a, const Traced<T>& b) {
  Instr<T> I = instr(op, a);
  if (b.is_constant()) I.cb = b.value(); else I.b = b.slot();
  return I;
}
template <class T>
bool record_compare(Cmp c, const Traced<T>& a, const Traced<T>& b) {
  const bool r = compare(c, a.value(), b.value());
  Instr<T> I = instr(Op::Compare, a, b);
  I.cmp = c;
  I.outcome = r;
  Traced<T>::emit(I, T(0));
  return r;
}
}  // namespace ad::detail

// Every operation: the value now, the instruction for replay. Mixed with plain numbers through
// Traced's implicit constructor (overloads below take both sides as Traced<T>).
#define JACNET_TRACED_BINARY(NAME, OP, EXPR)                                                      \
  template <class T>                                                                              \
  Traced<T> NAME(const Traced<T>& a, const Traced<T>& b) {                                        \
    using std::pow, std::atan2, std::hypot;                                                       \
    const T x = a.value(), y = b.value();                                                         \
    return Traced<T>::emit(ad::detail::instr(ad::Op::OP, a, b), EXPR);                                    \
  }                                                                                               \
  template <class T, class R>                                                                     \
    requires std::is_arithmetic_v<R>                                                              \
  Traced<T> NAME(const Traced<T>& a, R b) {                                                       \
    return NAME(a, Traced<T>(static_cast<T>(b)));                                                 \
  }                                                                                               \
  template <class T, class R>                                                                     \
    requires std::is_arithmetic_v<R>                                                              \
  Traced<T> NAME(R a, const Traced<T>& b) {                                                       \
    return NAME(Traced<T>(static_cast<T>(a)), b);                                                 \
  }
JACNET_TRACED_BINARY(operator+, Add, x + y)
JACNET_TRACED_BINARY(operator-, Sub, x - y)
JACNET_TRACED_BINARY(operator*, Mul, x * y)
JACNET_TRACED_BINARY(operator/, Div, x / y)
JACNET_TRACED_BINARY(pow, Pow, pow(x, y))
JACNET_TRACED_BINARY(atan2, Atan2, atan2(x, y))
JACNET_TRACED_BINARY(hypot, Hypot, hypot(x, y))
JACNET_TRACED_BINARY(max, Max, (jacnet::deriv::max_d1_first(x, y) != T(0) ? x : y))
JACNET_TRACED_BINARY(min, Min, (jacnet::deriv::min_d1_first(x, y) != T(0) ? x : y))
JACNET_TRACED_BINARY(fmax, Max, (jacnet::deriv::max_d1_first(x, y) != T(0) ? x : y))
JACNET_TRACED_BINARY(fmin, Min, (jacnet::deriv::min_d1_first(x, y) != T(0) ? x : y))
#undef JACNET_TRACED_BINARY

#define JACNET_TRACED_UNARY(NAME, OP, EXPR)                             \
  template <class T>                                                    \
  Traced<T> NAME(const Traced<T>& a) {                                  \
    const T x = a.value();                                              \
    return Traced<T>::emit(ad::detail::instr(ad::Op::OP, a), EXPR);             \
  }
JACNET_TRACED_UNARY(operator-, Neg, -x)
JACNET_TRACED_UNARY(exp, Exp, std::exp(x))
JACNET_TRACED_UNARY(log, Log, std::log(x))
JACNET_TRACED_UNARY(log1p, Log1p, std::log1p(x))
JACNET_TRACED_UNARY(expm1, Expm1, std::expm1(x))
JACNET_TRACED_UNARY(sqrt, Sqrt, std::sqrt(x))
JACNET_TRACED_UNARY(cbrt, Cbrt, std::cbrt(x))
JACNET_TRACED_UNARY(abs, Abs, std::abs(x))
JACNET_TRACED_UNARY(fabs, Abs, std::abs(x))
JACNET_TRACED_UNARY(sin, Sin, std::sin(x))
JACNET_TRACED_UNARY(cos, Cos, std::cos(x))
JACNET_TRACED_UNARY(tan, Tan, std::tan(x))
JACNET_TRACED_UNARY(tanh, Tanh, std::tanh(x))
JACNET_TRACED_UNARY(sigmoid, Sigmoid, jacnet::sigmoid(x))
JACNET_TRACED_UNARY(softplus, Softplus, jacnet::softplus(x))
JACNET_TRACED_UNARY(erf, Erf, std::erf(x))
JACNET_TRACED_UNARY(erfc, Erfc, std::erfc(x))
JACNET_TRACED_UNARY(relu, Relu, jacnet::relu(x))
JACNET_TRACED_UNARY(gelu, Gelu, jacnet::gelu(x))
#undef JACNET_TRACED_UNARY
template <class T>
Traced<T> operator+(const Traced<T>& a) {
  return a;
}
template <class T>
Traced<T> leaky_relu(const Traced<T>& a, T slope = T(0.01)) {
  ad::detail::Instr<T> I = ad::detail::instr(ad::Op::LeakyRelu, a);
  I.par = slope;
  return Traced<T>::emit(I, jacnet::leaky_relu(a.value(), slope));
}
template <class T>
Traced<T> elu(const Traced<T>& a, T alpha = T(1)) {
  ad::detail::Instr<T> I = ad::detail::instr(ad::Op::Elu, a);
  I.par = alpha;
  return Traced<T>::emit(I, jacnet::elu(a.value(), alpha));
}

// Comparisons: on values, recorded with their outcome (checked again at every replay).
#define JACNET_TRACED_COMPARE(OPR, C)                                        \
  template <class T>                                                         \
  bool operator OPR(const Traced<T>& a, const Traced<T>& b) {                \
    return ad::detail::record_compare(ad::Cmp::C, a, b);                             \
  }                                                                          \
  template <class T, class R>                                                \
    requires std::is_arithmetic_v<R>                                         \
  bool operator OPR(const Traced<T>& a, R b) {                               \
    return ad::detail::record_compare(ad::Cmp::C, a, Traced<T>(static_cast<T>(b)));  \
  }                                                                          \
  template <class T, class R>                                                \
    requires std::is_arithmetic_v<R>                                         \
  bool operator OPR(R a, const Traced<T>& b) {                               \
    return ad::detail::record_compare(ad::Cmp::C, Traced<T>(static_cast<T>(a)), b); \
  }
JACNET_TRACED_COMPARE(<, Lt)
JACNET_TRACED_COMPARE(<=, Le)
JACNET_TRACED_COMPARE(>, Gt)
JACNET_TRACED_COMPARE(>=, Ge)
JACNET_TRACED_COMPARE(==, Eq)
JACNET_TRACED_COMPARE(!=, Ne)
#undef JACNET_TRACED_COMPARE

template <class T>
bool isfinite(const Traced<T>& a) {
  return std::isfinite(a.value());
}
template <class T>
bool isnan(const Traced<T>& a) {
  return std::isnan(a.value());
}
template <class T>
bool isinf(const Traced<T>& a) {
  return std::isinf(a.value());
}

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
        scalar_(scalar) {}

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
  /// f and ∇f (scalar f): one replay on this thread's tape and one reverse sweep.
  GradientResult<T> gradient(const Vector<T>& x) const {
    require_scalar("Recorded::gradient");
    check_size(x.size(), "Recorded::gradient");
    // Forward: values and the local partials (∂w_k/∂w_a, ∂w_k/∂w_b) of every instruction, from
    // Dual<T, 2> on the operands (the same rules as every other mode). Reverse: the adjoint sweep
    // w̄_a += ∂w_k/∂w_a · w̄_k over the instructions, last to first. No tape involved.
    const std::uint32_t n0 = prog_.n_inputs;
    const std::size_t K = static_cast<std::uint32_t>(prog_.code.size());  // < 2³² (emit checks)
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
      const detail::Instr<T>& I = prog_.code[k];
      if (fast_partials(I, w, w[n0 + k], pd[2 * k], pd[2 * k + 1])) continue;
      if (I.op == Op::Compare) {
        check_compare(k, I, operand_value(I.a, I.ca, w), operand_value(I.b, I.cb, w));
        pd[2 * k] = pd[2 * k + 1] = T(0);
        continue;
      }
      const Dual<T, 2> r = op<Dual<T, 2>>(I, PartialView{w, I.a, I.b});
      w[n0 + k] = r.val;
      pd[2 * k] = r.d(0);
      pd[2 * k + 1] = I.a == I.b ? T(0) : r.d(1);  // x·x: both tangents carry the whole derivative
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
      const detail::Instr<T>& I = prog_.code[k];
      if (I.a != ad::detail::kConst) adj[I.a] += pd[2 * k] * a;
      if (I.b != ad::detail::kConst) adj[I.b] += pd[2 * k + 1] * a;
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
        w[n0 + k] = op<S>(I, w);
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

  /// The value of instruction I (not a comparison) in scalar S; w[slot] gives the operands.
  template <class S, class W>
  static S op(const detail::Instr<T>& I, const W& w) {
    using std::abs, std::exp, std::log, std::log1p, std::expm1, std::sqrt, std::cbrt, std::sin,
        std::cos, std::tan, std::tanh, std::erf, std::erfc, std::pow, std::atan2, std::hypot,
        std::max, std::min;
    using jacnet::sigmoid, jacnet::softplus, jacnet::relu, jacnet::gelu, jacnet::leaky_relu,
        jacnet::elu;
    // Unary: a constant operand cannot occur (it would have been folded while recording).
    const auto un = [&](auto&& f) { return S(f(w[I.a])); };
    // Binary: a constant side is passed as a plain T (cheaper mixed overloads, no tape entry).
    const auto bin = [&](auto&& f) {
      if (I.a == ad::detail::kConst) return S(f(I.ca, w[I.b]));
      if (I.b == ad::detail::kConst) return S(f(w[I.a], I.cb));
      return S(f(w[I.a], w[I.b]));
    };
    switch (I.op) {
      case Op::Add: return bin([](const auto& x, const auto& y) { return x + y; });
      case Op::Sub: return bin([](const auto& x, const auto& y) { return x - y; });
      case Op::Mul: return bin([](const auto& x, const auto& y) { return x * y; });
      case Op::Div: return bin([](const auto& x, const auto& y) { return x / y; });
      case Op::Pow: return bin([](const auto& x, const auto& y) { return pow(x, y); });
      case Op::Atan2: return bin([](const auto& x, const auto& y) { return atan2(x, y); });
      case Op::Hypot: return bin([](const auto& x, const auto& y) { return hypot(x, y); });
      case Op::Max: return bin([](const auto& x, const auto& y) { return max_first(x, y); });
      case Op::Min: return bin([](const auto& x, const auto& y) { return min_first(x, y); });
      case Op::Neg: return un([](const auto& x) { return -x; });
      case Op::Exp: return un([](const auto& x) { return exp(x); });
      case Op::Log: return un([](const auto& x) { return log(x); });
      case Op::Log1p: return un([](const auto& x) { return log1p(x); });
      case Op::Expm1: return un([](const auto& x) { return expm1(x); });
      case Op::Sqrt: return un([](const auto& x) { return sqrt(x); });
      case Op::Cbrt: return un([](const auto& x) { return cbrt(x); });
      case Op::Abs: return un([](const auto& x) { return abs(x); });
      case Op::Sin: return un([](const auto& x) { return sin(x); });
      case Op::Cos: return un([](const auto& x) { return cos(x); });
      case Op::Tan: return un([](const auto& x) { return tan(x); });
      case Op::Tanh: return un([](const auto& x) { return tanh(x); });
      case Op::Sigmoid: return un([](const auto& x) { return sigmoid(x); });
      case Op::Softplus: return un([](const auto& x) { return softplus(x); });
      case Op::Erf: return un([](const auto& x) { return erf(x); });
      case Op::Erfc: return un([](const auto& x) { return erfc(x); });
      case Op::Relu: return un([](const auto& x) { return relu(x); });
      case Op::Gelu: return un([](const auto& x) { return gelu(x); });
      case Op::LeakyRelu: return un([&](const auto& x) { return leaky_relu(x, I.par); });
      case Op::Elu: return un([&](const auto& x) { return elu(x, I.par); });
      case Op::Compare: break;
    }
    return S();
  }

  /// Value and local partials of +, −, ×, ÷ and negation with distinct operands, and of x·x, in closed form
  /// (the gradient sweep's common case; the same numbers as the Dual<T, 2> rules of dual.hpp,
  /// which the other operations go through). Returns false for every other instruction.
  static bool fast_partials(const detail::Instr<T>& I, const T* w, T& v, T& pa, T& pb) {
    if (I.a == I.b) {  // x∘x (both partials on one slot): x·x here, the rest on the Dual path
      if (I.op != Op::Mul) return false;
      const T x = w[I.a];
      v = x * x;
      pa = x + x;  // Dual: x·1 + 1·x
      pb = T(0);
      return true;
    }
    const T x = I.a == ad::detail::kConst ? I.ca : w[I.a];
    const T y = I.b == ad::detail::kConst ? I.cb : w[I.b];
    switch (I.op) {
      case Op::Add: v = x + y; pa = T(1); pb = T(1); return true;
      case Op::Sub: v = x - y; pa = T(1); pb = T(-1); return true;
      case Op::Mul: v = x * y; pa = y; pb = x; return true;
      case Op::Div: {
        const T inv = deriv::div_d1_num(y);  // as Dual: q = x·(1/y), ∂q/∂y = −q·(1/y)
        v = x * inv;
        pa = inv;
        pb = -v * inv;
        return true;
      }
      case Op::Neg: v = -x; pa = T(-1); pb = T(0); return true;
      default: return false;
    }
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

  // max/min with ties to the first argument on every scalar (std::max does the same for T).
  template <class X, class Y>
  static auto max_first(const X& x, const Y& y) {
    if constexpr (std::is_arithmetic_v<X> && std::is_arithmetic_v<Y>)
      return x < y ? y : x;
    else
      return max(x, y);
  }
  template <class X, class Y>
  static auto min_first(const X& x, const Y& y) {
    if constexpr (std::is_arithmetic_v<X> && std::is_arithmetic_v<Y>)
      return y < x ? y : x;
    else
      return min(x, y);
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

namespace detail {
template <class T>
struct ad_traits<Traced<T>> {
  static constexpr bool is_ad = true;
  static constexpr bool tape = true;  // records into a thread-local program: Eigen must stay serial
};
}  // namespace detail

/// Traced provides its own sigmoid/softplus/relu/leaky_relu/elu/gelu.
template <class T>
struct custom_elementary<Traced<T>> : std::true_type {};

}  // namespace jacnet

namespace Eigen {
template <class T>
struct NumTraits<jacnet::Traced<T>> : NumTraits<T> {
  using Real = jacnet::Traced<T>;
  using NonInteger = jacnet::Traced<T>;
  using Nested = jacnet::Traced<T>;
  using Literal = jacnet::Traced<T>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 1,
    AddCost = 2,
    MulCost = 2
  };
  static Real epsilon() { return Real(NumTraits<T>::epsilon()); }
  static Real dummy_precision() { return Real(NumTraits<T>::dummy_precision()); }
  static Real highest() { return Real(NumTraits<T>::highest()); }
  static Real lowest() { return Real(NumTraits<T>::lowest()); }
  static Real infinity() { return Real(NumTraits<T>::infinity()); }
  static Real quiet_NaN() { return Real(NumTraits<T>::quiet_NaN()); }
};
}  // namespace Eigen
