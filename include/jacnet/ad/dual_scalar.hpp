#pragma once
// jacnet/ad/dual_scalar.hpp — the forward-mode scalar Dual<T, N>: value, tangents, arithmetic with
// T and plain reals on either side, comparisons by primal value, printing, and Eigen's NumTraits.
// Elementary functions: jacnet/ad/dual_functions.hpp; overview: jacnet/ad/dual.hpp.
#include <cmath>
#include <ostream>
#include <type_traits>

#include "jacnet/ad/dual_tangents.hpp"

namespace jacnet {

/// T is a jacnet::Dual.
template <class T>
inline constexpr bool is_dual_v = detail::is_dual<std::remove_cvref_t<T>>::value;

/// Forward-mode AD scalar: value `val` and N tangents (see the header comment).
template <class T, int N>
struct Dual {
  static_assert(N >= 1, "jacnet::Dual: N (number of directions) must be >= 1");
  using value_type = T;
  using tangent_storage = detail::tangents_t<T, N>;
  static constexpr int directions = N;

  T val;                 ///< the primal value
  tangent_storage tang;  ///< the N directional derivatives

  /// Zero value, zero tangents.
  JACNET_FORCE_INLINE constexpr Dual() : val(detail::constant_of<T>(0)), tang() {}
  /// A constant (zero tangents).
  JACNET_FORCE_INLINE constexpr Dual(const T& v)
      : val(v), tang() {}  // NOLINT: implicit, like a real number
  /// A constant from a plain number of another type (e.g. an int literal, or double into a
  /// nested Dual<Dual<double>>).
  template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>) JACNET_FORCE_INLINE constexpr Dual(R v)
      : val(detail::constant_of<T>(v)), tang() {}  // NOLINT
  /// Value and tangent storage.
  JACNET_FORCE_INLINE constexpr Dual(const T& v, const tangent_storage& t) : val(v), tang(t) {}
  /// Value and tangents computed in place by a deferred tangent op (detail::tan_*).
  template <class Op>
  JACNET_FORCE_INLINE constexpr Dual(const T& v, detail::TangentOp<Op>&& t)
      : val(v), tang(detail::uninit_t{}) {
    t.op(tang);
  }

  /// The independent variable number i of N: value v, tangent e_i.
  JACNET_FORCE_INLINE static Dual variable(const T& v, int i) {
    Dual r(v);
    r.seed(i);
    return r;
  }

  JACNET_FORCE_INLINE constexpr const T& value() const { return val; }
  JACNET_FORCE_INLINE constexpr T& value() { return val; }

  /// Tangent (directional derivative) i, 0 <= i < N.
  JACNET_FORCE_INLINE T d(int i) const {
    check_index(i, "jacnet::Dual::d");
    return tang.get(i);
  }
  /// Same as d(i): the derivative along seeded direction i.
  JACNET_FORCE_INLINE T grad(int i) const { return d(i); }
  /// Set tangent i to v.
  JACNET_FORCE_INLINE void set_d(int i, const T& v) {
    check_index(i, "jacnet::Dual::set_d");
    tang.set(i, v);
  }
  /// Make the tangents the unit vector e_i (all zero but tangent i = 1).
  JACNET_FORCE_INLINE void seed(int i) {
    check_index(i, "jacnet::Dual::seed");
    tang = tangent_storage();
    tang.set(i, detail::constant_of<T>(1));
  }
  /// The value and every tangent are exactly zero (what the reverse sweep of a Var<Dual> tape
  /// tests before propagating an adjoint; comparisons such as == look at the value only).
  JACNET_FORCE_INLINE constexpr bool is_zero() const {
    if constexpr (std::is_arithmetic_v<T>)
      return val == T(0) && tang.all_zero();
    else
      return val.is_zero() && tang.all_zero();
  }
  /// All N tangents.
  JACNET_FORCE_INLINE std::array<T, N> tangents() const {
    std::array<T, N> r;
    for (int i = 0; i < N; ++i) r[static_cast<std::size_t>(i)] = tang.get(i);
    return r;
  }
  /// Set all N tangents.
  JACNET_FORCE_INLINE void set_tangents(const std::array<T, N>& t) {
    for (int i = 0; i < N; ++i) tang.set(i, t[static_cast<std::size_t>(i)]);
  }

  JACNET_FORCE_INLINE Dual& operator+=(const Dual& o) {
    val += o.val;
    tang.apply2([](auto& x, const auto& y) JACNET_LAMBDA_INLINE { x += y; }, o.tang);
    return *this;
  }
  JACNET_FORCE_INLINE Dual& operator-=(const Dual& o) {
    val -= o.val;
    tang.apply2([](auto& x, const auto& y) JACNET_LAMBDA_INLINE { x -= y; }, o.tang);
    return *this;
  }
  JACNET_FORCE_INLINE Dual& operator*=(const Dual& o) { return *this = *this * o; }
  JACNET_FORCE_INLINE Dual& operator/=(const Dual& o) { return *this = *this / o; }
  JACNET_FORCE_INLINE Dual& operator+=(const T& o) {
    val += o;
    return *this;
  }
  JACNET_FORCE_INLINE Dual& operator-=(const T& o) {
    val -= o;
    return *this;
  }
  JACNET_FORCE_INLINE Dual& operator*=(const T& o) { return *this = *this * o; }
  JACNET_FORCE_INLINE Dual& operator/=(const T& o) { return *this = *this / o; }
  template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>) JACNET_FORCE_INLINE Dual& operator+=(
      R o) {
    val += real_t<T>(o);
    return *this;
  }
  template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>) JACNET_FORCE_INLINE Dual& operator-=(
      R o) {
    val -= real_t<T>(o);
    return *this;
  }
  template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>) JACNET_FORCE_INLINE Dual& operator*=(
      R o) {
    return *this = *this * real_t<T>(o);
  }
  template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, T>) JACNET_FORCE_INLINE Dual& operator/=(
      R o) {
    return *this = *this / real_t<T>(o);
  }

 private:
  // Accessors are forced inline (see SimdTangents::get): no out-of-line split parts for GCC's ICF.
  JACNET_FORCE_INLINE static void check_index(int i, const char* where) {
    JACNET_CHECK(i >= 0 && i < N, ValueError, where, "direction index ", i,
                 " out of range for N = ", N);
  }
};

/// Dual provides its own sigmoid/softplus/relu/leaky_relu/elu/gelu.
template <class T, int N>
struct custom_elementary<Dual<T, N>> : std::true_type {};

namespace detail {
/// (f, f'·ẋ): the chain rule for a unary function with derivative d.
template <class T, int N, class D>
JACNET_FORCE_INLINE Dual<T, N> chain(const Dual<T, N>& x, const T& f, const D& d) {
  return Dual<T, N>(f, tan_scale(d, x.tang));
}
template <class T>
using id_t = std::type_identity_t<T>;
template <class T>
concept nonarithmetic = !std::is_arithmetic_v<T>;
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const Dual<T, N>& a) {
  return a;
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const Dual<T, N>& a) {
  return Dual<T, N>(T(-a.val), detail::tan_neg(a.tang));
}

// + ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const Dual<T, N>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a.val + b.val), detail::tan_add(a.tang, b.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return Dual<T, N>(T(a.val + b), a.tang);
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a + b.val), b.tang);
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const Dual<T, N>& a, const real_t<T>& b) {
  return Dual<T, N>(T(a.val + b), a.tang);
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator+(const real_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a + b.val), b.tang);
}

// - ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const Dual<T, N>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a.val - b.val), detail::tan_sub(a.tang, b.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return Dual<T, N>(T(a.val - b), a.tang);
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a - b.val), detail::tan_neg(b.tang));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const Dual<T, N>& a, const real_t<T>& b) {
  return Dual<T, N>(T(a.val - b), a.tang);
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator-(const real_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a - b.val), detail::tan_neg(b.tang));
}

// * ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator*(const Dual<T, N>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a.val * b.val), detail::tan_axpby(b.val, a.tang, a.val, b.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator*(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return Dual<T, N>(T(a.val * b), detail::tan_scale(b, a.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator*(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a * b.val), detail::tan_scale(a, b.tang));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator*(const Dual<T, N>& a, const real_t<T>& b) {
  return Dual<T, N>(T(a.val * b), detail::tan_scale(b, a.tang));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator*(const real_t<T>& a, const Dual<T, N>& b) {
  return Dual<T, N>(T(a * b.val), detail::tan_scale(a, b.tang));
}

// / ------------------------------------------------------------------------------------------
// q = a/b: dq = (da − q·db)/b.
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator/(const Dual<T, N>& a, const Dual<T, N>& b) {
  const T inv = deriv::div_d1_num(b.val);
  const T q = T(a.val * inv);
  return Dual<T, N>(q, detail::tan_quotient(a.tang, b.tang, q, inv));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator/(const Dual<T, N>& a, const detail::id_t<T>& b) {
  const T inv = deriv::div_d1_num(b);
  return Dual<T, N>(T(a.val * inv), detail::tan_scale(inv, a.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator/(const detail::id_t<T>& a, const Dual<T, N>& b) {
  const T inv = deriv::div_d1_num(b.val);
  const T q = T(a * inv);
  return Dual<T, N>(q, detail::tan_scale(T(-q * inv), b.tang));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator/(const Dual<T, N>& a, const real_t<T>& b) {
  const real_t<T> inv = real_t<T>(1) / b;
  return Dual<T, N>(T(a.val * inv), detail::tan_scale(inv, a.tang));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE constexpr Dual<T, N> operator/(const real_t<T>& a, const Dual<T, N>& b) {
  const T inv = deriv::div_d1_num(b.val);
  const T q = T(a * inv);
  return Dual<T, N>(q, detail::tan_scale(T(-q * inv), b.tang));
}

// ---------------------------------------------------------------------------------------------
// Comparisons: by primal value (value_of), never by tangents.
// ---------------------------------------------------------------------------------------------

#define JACNET_DUAL_COMPARISON(OP)                                                         \
  template <class T, int N>                                                                \
  constexpr bool operator OP(const Dual<T, N>& a, const Dual<T, N>& b) {                   \
    return value_of(a) OP value_of(b);                                                     \
  }                                                                                        \
  template <class T, int N, class R>                                                       \
  requires std::is_arithmetic_v<R>                                                         \
  constexpr bool operator OP(const Dual<T, N>& a, const R& b) { return value_of(a) OP b; } \
  template <class T, int N, class R>                                                       \
  requires std::is_arithmetic_v<R>                                                         \
  constexpr bool operator OP(const R& a, const Dual<T, N>& b) { return a OP value_of(b); } \
  template <detail::nonarithmetic T, int N>                                                \
  constexpr bool operator OP(const Dual<T, N>& a, const detail::id_t<T>& b) {              \
    return value_of(a) OP value_of(b);                                                     \
  }                                                                                        \
  template <detail::nonarithmetic T, int N>                                                \
  constexpr bool operator OP(const detail::id_t<T>& a, const Dual<T, N>& b) {              \
    return value_of(a) OP value_of(b);                                                     \
  }
JACNET_DUAL_COMPARISON(==)
JACNET_DUAL_COMPARISON(!=)
JACNET_DUAL_COMPARISON(<)
JACNET_DUAL_COMPARISON(<=)
JACNET_DUAL_COMPARISON(>)
JACNET_DUAL_COMPARISON(>=)
#undef JACNET_DUAL_COMPARISON

template <class T, int N>
bool isfinite(const Dual<T, N>& x) {
  return std::isfinite(value_of(x));
}
template <class T, int N>
bool isnan(const Dual<T, N>& x) {
  return std::isnan(value_of(x));
}
template <class T, int N>
bool isinf(const Dual<T, N>& x) {
  return std::isinf(value_of(x));
}

/// Prints "val [d0, d1, ...]".
template <class T, int N>
std::ostream& operator<<(std::ostream& os, const Dual<T, N>& x) {
  os << x.val << " [";
  for (int i = 0; i < N; ++i) os << (i ? ", " : "") << x.tang.get(i);
  return os << "]";
}

}  // namespace jacnet

// -------------------------------------------------------------------------------------------------
// Eigen integration
// -------------------------------------------------------------------------------------------------
namespace Eigen {

template <class T, int N>
struct NumTraits<jacnet::Dual<T, N>>
    : jacnet::detail::ad_num_traits<
          jacnet::Dual<T, N>, T, (N + 1) * int(NumTraits<T>::ReadCost),
          (N + 1) * int(NumTraits<T>::AddCost),
          (2 * N + 1) * int(NumTraits<T>::MulCost) + N * int(NumTraits<T>::AddCost)> {
  using Literal = typename NumTraits<T>::Literal;  // plain literals mix with Duals
};

// ScalarBinaryOpTraits with float/double (nested Duals too): jacnet/ad/scalar_traits.hpp.

}  // namespace Eigen
