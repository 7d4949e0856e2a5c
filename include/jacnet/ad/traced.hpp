#pragma once
// jacnet/ad/traced.hpp — Traced<T>, the tracing scalar of jacnet::ad::record(), and the program
// it writes: one instruction (operation, operand slots, constants) per elementary operation, and
// every comparison with its outcome. Recording and replay: jacnet/ad/recorded.hpp.
//
// Traced's functions are in namespace jacnet, like those of Dual and Var, so
// `jacnet::softplus(x)` and unqualified calls both work. Integer logic on values (casts to int,
// array indices from values) is NOT seen by the tracer.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet {

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
struct NumTraits<jacnet::Traced<T>>
    : jacnet::detail::ad_num_traits<jacnet::Traced<T>, T, 1, 2, 2> {};
}  // namespace Eigen
