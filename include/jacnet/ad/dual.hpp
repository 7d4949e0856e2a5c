#pragma once
// jacnet/ad/dual.hpp — forward-mode AD scalar: a value and N tangent directions.
//
// Dual<T, N> represents x + Σ_k ẋ_k ε_k with ε_j ε_k = 0: every operation f maps
//   (x, ẋ_1..ẋ_N) ↦ (f(x), f'(x)·ẋ_1 .. f'(x)·ẋ_N),   binary: (f(a,b), ∂_a f·ȧ_k + ∂_b f·ḃ_k),
// so one evaluation of a function written over a scalar template carries N Jacobian-vector
// products. The derivative formulas are those of jacnet/ad/elementary.hpp (shared with Var).
//
// Storage of the N tangents:
//   * T = float/double and N ≥ W (W = xsimd::batch<T>::size of the compile-time default arch:
//     4 doubles with AVX2, 8 with AVX-512): N / W xsimd batches plus an N % W scalar tail, so
//     each op updates all N directions with vector instructions (AVX-512: N = 8, 16 doubles are
//     1, 2 zmm multiply-adds per product).
//   * T = float/double and N < W, or any other T (nesting: Dual<Dual<double, M>, N>,
//     Dual<Var<double>, N>): a plain array T[N]; N = 1 compiles to the same code as a
//     hand-written (value, derivative) struct.
// Tangent results are computed in place in the result's storage (detail::TangentOp), and all
// operations are forced inline.
// Nesting gives higher orders: Dual<Dual<double, M>, N> seeded inner with u_i and outer with v_j
// carries uᵀ∇²f v in x.d(j).d(i) (second derivatives: Hessian columns/entries).
//
// Supported: + − × ÷ (with T and plain reals on either side), unary ±, compound assignments,
// comparisons (by primal value), exp, log, log1p, expm1, sqrt, cbrt, pow, abs/fabs, sin, cos,
// tan, tanh, sigmoid, softplus, erf, erfc, atan2, hypot, min/max/fmin/fmax, relu, leaky_relu,
// elu, gelu, isfinite/isnan/isinf; all found by ADL in namespace jacnet. Eigen: NumTraits and
// ScalarBinaryOpTraits with float/double (scalar_traits.hpp), so Eigen::Matrix<Dual<double, 4>, ...>
// products, sums, norm() and mixed double/Dual expressions work.
// Kink conventions: see elementary.hpp (relu'(0) = 0, abs'(0) = 0, max/min ties → first arg, ...).
//
// Alignment: with batches, alignof(Dual) is the register width (32 bytes AVX2, 64 AVX-512); heap
// arrays need C++17 aligned new (std::vector) or Eigen's allocator (EIGEN_MAX_ALIGN_BYTES must not
// be lowered). Code exchanging Duals must be compiled for the same SIMD width.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <array>
#include <cmath>
#include <cstddef>
#include <ostream>
#include <type_traits>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/core/error.hpp"

#ifndef JACNET_FORCE_INLINE
#define JACNET_FORCE_INLINE [[gnu::always_inline]] inline
#endif
// For lambdas (placed after the parameter list): small closures in hot paths must not be left to
// the inliner's size heuristics, or N = 1 would not collapse to a plain dual number.
#ifndef JACNET_LAMBDA_INLINE
#define JACNET_LAMBDA_INLINE __attribute__((always_inline))
#endif

namespace jacnet {

template <class T, int N = 1>
struct Dual;

namespace detail {

template <class T>
inline constexpr bool is_simd_real_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
consteval int simd_width() {
  if constexpr (is_simd_real_v<T>)
    return static_cast<int>(xsimd::batch<T>::size);
  else
    return 1;
}

struct uninit_t {};

/// The number v as a constant of T: T(v) for numbers and Duals, Var::constant(v) for a Var (a
/// constant is on no tape; Var(v) would record a new independent variable).
template <class T, class R>
JACNET_FORCE_INLINE constexpr T constant_of(R v) {
  if constexpr (requires { T::constant(real_t<T>(v)); })
    return T::constant(real_t<T>(v));
  else
    return T(v);
}

/// N tangents in a plain array (small N for float/double, and every non-float/double T).
template <class T, int N>
struct ArrayTangents {
  T a[N];

  JACNET_FORCE_INLINE constexpr ArrayTangents() : a() {
    if constexpr (!std::is_arithmetic_v<T>)
      for (auto& x : a) x = detail::constant_of<T>(0);
  }
  JACNET_FORCE_INLINE constexpr explicit ArrayTangents(uninit_t) {}

  JACNET_FORCE_INLINE constexpr T get(int i) const { return a[i]; }
  JACNET_FORCE_INLINE constexpr void set(int i, const T& v) { a[i] = v; }

  /// *this = f(u) elementwise (written in place: no temporary storage to copy).
  template <class F>
  JACNET_FORCE_INLINE constexpr void assign_map(F&& f, const ArrayTangents& u) {
    for (std::size_t i = 0; i < std::size_t(N); ++i) a[i] = f(u.a[i]);
  }
  /// *this = f(u, v) elementwise.
  template <class F>
  JACNET_FORCE_INLINE constexpr void assign_map2(F&& f, const ArrayTangents& u,
                                                 const ArrayTangents& v) {
    for (std::size_t i = 0; i < std::size_t(N); ++i) a[i] = f(u.a[i], v.a[i]);
  }
  template <class F>
  JACNET_FORCE_INLINE constexpr void apply2(F&& f, const ArrayTangents& v) {
    for (std::size_t i = 0; i < std::size_t(N); ++i) f(a[i], v.a[i]);
  }
  /// Every tangent is exactly zero (T a plain number or a Dual).
  JACNET_FORCE_INLINE constexpr bool all_zero() const {
    bool z = true;
    for (std::size_t i = 0; i < std::size_t(N); ++i) {
      if constexpr (std::is_arithmetic_v<T>)
        z = z && a[i] == T(0);
      else
        z = z && a[i].is_zero();
    }
    return z;
  }
};

/// The scalar tail of SimdTangents: an empty base when N is a multiple of the batch width (empty
/// base optimization: no storage, no padding).
template <class T, int NT>
struct SimdTail {
  std::array<T, NT> t;
};
template <class T>
struct SimdTail<T, 0> {};

/// N tangents of float/double as N / W xsimd batches and an N % W scalar tail.
template <class T, int N>
struct SimdTangents : SimdTail<T, N % static_cast<int>(xsimd::batch<T>::size)> {
  using batch = xsimd::batch<T>;
  static constexpr int W = static_cast<int>(batch::size);
  static constexpr int NB = N / W;
  static constexpr int NT = N % W;

  std::array<batch, NB> b;

  JACNET_FORCE_INLINE SimdTangents() {
    for (auto& x : b) x = batch(T(0));
    if constexpr (NT > 0) this->t.fill(T(0));
  }
  JACNET_FORCE_INLINE explicit SimdTangents(uninit_t) {}

  // get/set are forced inline: GCC 12's identical-code folding merged out-of-line split parts of
  // get/set across different N (N = 9 and N = 17 share the source of the batch path) and kept the
  // range facts of one (i < 8) for the other — wrong code. Inlined, there is nothing to merge.
  JACNET_FORCE_INLINE T get(int i) const {
    if constexpr (NT > 0)
      if (i >= NB * W) return this->t[static_cast<std::size_t>(i - NB * W)];
    return b[static_cast<std::size_t>(i / W)].get(static_cast<std::size_t>(i % W));
  }
  JACNET_FORCE_INLINE void set(int i, const T& v) {
    if constexpr (NT > 0) {
      if (i >= NB * W) {
        this->t[static_cast<std::size_t>(i - NB * W)] = v;
        return;
      }
    }
    // Blend v into lane i % W in registers: lane indices 0..W−1 come from a constant table, so no
    // store/reload round trip (a scalar store followed by a wide load of the same bytes stalls
    // store forwarding, which made seeding the directions a large part of a small jacfwd).
    static constexpr T kLane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static_assert(W <= 16);
    auto& blk = b[static_cast<std::size_t>(i / W)];
    const auto in_lane = batch::load_unaligned(kLane) == batch(static_cast<T>(i % W));
    blk = xsimd::select(in_lane, batch(v), blk);
  }

  /// *this = f(u) batch by batch, then the tail (written in place).
  template <class F>
  JACNET_FORCE_INLINE void assign_map(F&& f, const SimdTangents& u) {
    for (std::size_t k = 0; k < std::size_t(NB); ++k) b[k] = f(u.b[k]);
    if constexpr (NT > 0)
      for (std::size_t k = 0; k < std::size_t(NT); ++k) this->t[k] = f(u.t[k]);
  }
  /// *this = f(u, v) batch by batch, then the tail.
  template <class F>
  JACNET_FORCE_INLINE void assign_map2(F&& f, const SimdTangents& u, const SimdTangents& v) {
    for (std::size_t k = 0; k < std::size_t(NB); ++k) b[k] = f(u.b[k], v.b[k]);
    if constexpr (NT > 0)
      for (std::size_t k = 0; k < std::size_t(NT); ++k) this->t[k] = f(u.t[k], v.t[k]);
  }
  template <class F>
  JACNET_FORCE_INLINE void apply2(F&& f, const SimdTangents& v) {
    for (std::size_t k = 0; k < std::size_t(NB); ++k) f(b[k], v.b[k]);
    if constexpr (NT > 0)
      for (std::size_t k = 0; k < std::size_t(NT); ++k) f(this->t[k], v.t[k]);
  }
  /// Every tangent is exactly zero (one vector compare per batch).
  JACNET_FORCE_INLINE bool all_zero() const {
    bool z = true;
    for (std::size_t k = 0; k < std::size_t(NB); ++k) z = z && !xsimd::any(b[k] != batch(T(0)));
    if constexpr (NT > 0)
      for (std::size_t k = 0; k < std::size_t(NT); ++k) z = z && this->t[k] == T(0);
    return z;
  }
};

template <class T, int N>
using tangents_t = std::conditional_t<is_simd_real_v<T> && (N >= simd_width<T>()),
                                      SimdTangents<T, N>, ArrayTangents<T, N>>;

/// A deferred tangent computation: Dual's constructor runs it directly on its own storage, so
/// results are written in place (a returned storage object would be copied; with AVX2 GCC copies
/// arrays of batches through the stack piece by piece). Op is Map1Op or Map2Op.
template <class Op>
struct TangentOp {
  Op op;
};
/// Coefficients are held by value when they are plain numbers (so they stay in registers after
/// inlining) and by reference otherwise (AD scalars such as Var: no copies, no tape entries).
template <class A>
using coef_t = std::conditional_t<std::is_arithmetic_v<A>, A, const A&>;

// Elementwise kernels, applied to whole batches and to scalar elements alike. The result is
// converted to the operand type inside the kernel, which materializes AD expression templates
// (Var) before their temporaries go out of scope.
struct NegF {
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x) const {
    return X(-x);
  }
};
struct AddF {
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x, const X& y) const {
    return X(x + y);
  }
};
struct SubF {
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x, const X& y) const {
    return X(x - y);
  }
};
template <class S>
struct ScaleF {
  coef_t<S> s;
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x) const {
    return X(s * x);
  }
};
template <class A, class B>
struct AxpbyF {
  coef_t<A> a;
  coef_t<B> b;
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x, const X& y) const {
    return X(a * x + b * y);
  }
};

/// (x − q·y)·inv: the quotient rule d(a/b) = (da − q·db)/b with q = a/b, inv = 1/b.
template <class S>
struct QuotientF {
  coef_t<S> q;
  coef_t<S> inv;
  template <class X>
  JACNET_FORCE_INLINE constexpr X operator()(const X& x, const X& y) const {
    return X((x - q * y) * inv);
  }
};

/// out = f(u) / out = f(u, v), run by Dual's constructor on its own storage.
template <class F, class V>
struct Map1Op {
  F f;
  const V& u;
  JACNET_FORCE_INLINE constexpr void operator()(V& out) const { out.assign_map(f, u); }
};
template <class F, class V>
struct Map2Op {
  F f;
  const V& u;
  const V& v;
  JACNET_FORCE_INLINE constexpr void operator()(V& out) const { out.assign_map2(f, u, v); }
};

// Tangent algebra on either storage. Coefficients s, a, b are T or the plain real_t<T>; the ops
// refer to their tangent operands, which live until the end of the full expression.
template <class V>
JACNET_FORCE_INLINE constexpr auto tan_neg(const V& u) {
  return TangentOp<Map1Op<NegF, V>>{{NegF{}, u}};
}
template <class V>
JACNET_FORCE_INLINE constexpr auto tan_add(const V& u, const V& v) {
  return TangentOp<Map2Op<AddF, V>>{{AddF{}, u, v}};
}
template <class V>
JACNET_FORCE_INLINE constexpr auto tan_sub(const V& u, const V& v) {
  return TangentOp<Map2Op<SubF, V>>{{SubF{}, u, v}};
}
/// s·u
template <class V, class S>
JACNET_FORCE_INLINE constexpr auto tan_scale(const S& s, const V& u) {
  return TangentOp<Map1Op<ScaleF<S>, V>>{{ScaleF<S>{s}, u}};
}
/// a·u + b·v
template <class V, class A, class B>
JACNET_FORCE_INLINE constexpr auto tan_axpby(const A& a, const V& u, const B& b, const V& v) {
  return TangentOp<Map2Op<AxpbyF<A, B>, V>>{{AxpbyF<A, B>{a, b}, u, v}};
}
/// (u − q·v)·inv
template <class V, class S>
JACNET_FORCE_INLINE constexpr auto tan_quotient(const V& u, const V& v, const S& q, const S& inv) {
  return TangentOp<Map2Op<QuotientF<S>, V>>{{QuotientF<S>{q, inv}, u, v}};
}

template <class T>
struct is_dual : std::false_type {};
template <class T, int N>
struct is_dual<Dual<T, N>> : std::true_type {};

}  // namespace detail

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

// ---------------------------------------------------------------------------------------------
// Unary functions
// ---------------------------------------------------------------------------------------------

template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> exp(const Dual<T, N>& x) {
  using std::exp;
  const T f = T(exp(x.val));
  return detail::chain(x, f, deriv::exp_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> log(const Dual<T, N>& x) {
  using std::log;
  return detail::chain(x, T(log(x.val)), deriv::log_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> log1p(const Dual<T, N>& x) {
  using std::log1p;
  return detail::chain(x, T(log1p(x.val)), deriv::log1p_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> expm1(const Dual<T, N>& x) {
  using std::expm1;
  const T f = T(expm1(x.val));
  return detail::chain(x, f, deriv::expm1_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sqrt(const Dual<T, N>& x) {
  using std::sqrt;
  const T f = T(sqrt(x.val));
  return detail::chain(x, f, deriv::sqrt_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> cbrt(const Dual<T, N>& x) {
  using std::cbrt;
  const T f = T(cbrt(x.val));
  return detail::chain(x, f, deriv::cbrt_d1(x.val, f));
}
/// |x|, with abs'(0) = 0.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> abs(const Dual<T, N>& x) {
  using std::abs;
  return detail::chain(x, T(abs(x.val)), deriv::abs_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> fabs(const Dual<T, N>& x) {
  return abs(x);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sin(const Dual<T, N>& x) {
  using std::sin;
  return detail::chain(x, T(sin(x.val)), deriv::sin_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> cos(const Dual<T, N>& x) {
  using std::cos;
  return detail::chain(x, T(cos(x.val)), deriv::cos_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> tan(const Dual<T, N>& x) {
  using std::tan;
  const T f = T(tan(x.val));
  return detail::chain(x, f, deriv::tan_d1(x.val, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> tanh(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::tanh_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> sigmoid(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::sigmoid_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> softplus(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::softplus_vd(x.val);
  return detail::chain(x, r.f, r.d);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> erf(const Dual<T, N>& x) {
  using std::erf;
  return detail::chain(x, T(erf(x.val)), deriv::erf_d1(x.val));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> erfc(const Dual<T, N>& x) {
  using std::erfc;
  return detail::chain(x, T(erfc(x.val)), deriv::erfc_d1(x.val));
}
/// relu(x) = max(x, 0), relu'(0) = 0.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> relu(const Dual<T, N>& x) {
  if (value_of(x) > real_t<T>(0)) return x;
  return Dual<T, N>();
}
/// leaky_relu(x) = x > 0 ? x : slope·x, leaky_relu'(0) = slope.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> leaky_relu(const Dual<T, N>& x, real_t<T> slope = real_t<T>(0.01)) {
  if (value_of(x) > real_t<T>(0)) return x;
  return Dual<T, N>(T(slope * x.val), detail::tan_scale(slope, x.tang));
}
/// elu(x, α) = x > 0 ? x : α(e^x − 1), elu'(0) = α.
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> elu(const Dual<T, N>& x, real_t<T> alpha = real_t<T>(1)) {
  if (value_of(x) > real_t<T>(0)) return x;
  const deriv::ValDer<T> r = deriv::elu_vd(x.val, alpha);
  return detail::chain(x, r.f, r.d);
}
/// gelu(x) = x·Φ(x) (exact form).
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> gelu(const Dual<T, N>& x) {
  const deriv::ValDer<T> r = deriv::gelu_vd(x.val);
  return detail::chain(x, r.f, r.d);
}

// ---------------------------------------------------------------------------------------------
// Binary functions
// ---------------------------------------------------------------------------------------------

// pow --------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a.val, b.val));
  const T da = deriv::pow_d1_base(a.val, b.val, f);
  const T db = deriv::pow_d1_exp(a.val, f);
  return Dual<T, N>(f, detail::tan_axpby(da, a.tang, db, b.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const detail::id_t<T>& b) {
  using std::pow;
  const T f = T(pow(a.val, b));
  return detail::chain(a, f, deriv::pow_d1_base(a.val, b, f));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const detail::id_t<T>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a, b.val));
  return detail::chain(b, f, deriv::pow_d1_exp(a, f));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const Dual<T, N>& a, const real_t<T>& b) {
  using std::pow;
  const T f = T(pow(a.val, b));
  return detail::chain(a, f, deriv::pow_d1_base(a.val, b, f));
}
template <detail::nonarithmetic T, int N>
JACNET_FORCE_INLINE Dual<T, N> pow(const real_t<T>& a, const Dual<T, N>& b) {
  using std::pow;
  const T f = T(pow(a, b.val));
  return detail::chain(b, f, deriv::pow_d1_exp(a, f));
}

// atan2 ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const Dual<T, N>& y, const Dual<T, N>& x) {
  using std::atan2;
  const T dy = deriv::atan2_d1_y(y.val, x.val);
  const T dx = deriv::atan2_d1_x(y.val, x.val);
  return Dual<T, N>(T(atan2(y.val, x.val)), detail::tan_axpby(dy, y.tang, dx, x.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const Dual<T, N>& y, const detail::id_t<T>& x) {
  using std::atan2;
  return detail::chain(y, T(atan2(y.val, x)), deriv::atan2_d1_y(y.val, x));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> atan2(const detail::id_t<T>& y, const Dual<T, N>& x) {
  using std::atan2;
  return detail::chain(x, T(atan2(y, x.val)), deriv::atan2_d1_x(y, x.val));
}

// hypot ------------------------------------------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const Dual<T, N>& x, const Dual<T, N>& y) {
  using std::hypot;
  const T h = T(hypot(x.val, y.val));
  const T dx = deriv::hypot_d1(x.val, h);
  const T dy = deriv::hypot_d1(y.val, h);
  return Dual<T, N>(h, detail::tan_axpby(dx, x.tang, dy, y.tang));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const Dual<T, N>& x, const detail::id_t<T>& y) {
  using std::hypot;
  const T h = T(hypot(x.val, y));
  return detail::chain(x, h, deriv::hypot_d1(x.val, h));
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> hypot(const detail::id_t<T>& x, const Dual<T, N>& y) {
  using std::hypot;
  const T h = T(hypot(x, y.val));
  return detail::chain(y, h, deriv::hypot_d1(y.val, h));
}

// max, min (ties pick the first argument) ---------------------------------------------------------
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const Dual<T, N>& a, const Dual<T, N>& b) {
  return deriv::max_d1_first(a, b) != 0 ? a : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return deriv::max_d1_first(a, b) != 0 ? a : Dual<T, N>(b);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> max(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return deriv::max_d1_first(a, b) != 0 ? Dual<T, N>(a) : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const Dual<T, N>& a, const Dual<T, N>& b) {
  return deriv::min_d1_first(a, b) != 0 ? a : b;
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const Dual<T, N>& a, const detail::id_t<T>& b) {
  return deriv::min_d1_first(a, b) != 0 ? a : Dual<T, N>(b);
}
template <class T, int N>
JACNET_FORCE_INLINE Dual<T, N> min(const detail::id_t<T>& a, const Dual<T, N>& b) {
  return deriv::min_d1_first(a, b) != 0 ? Dual<T, N>(a) : b;
}
template <class A, class B>
requires(is_dual_v<A> || is_dual_v<B>) JACNET_FORCE_INLINE auto fmax(const A& a, const B& b)
    -> decltype(max(a, b)) {
  return max(a, b);
}
template <class A, class B>
requires(is_dual_v<A> || is_dual_v<B>) JACNET_FORCE_INLINE auto fmin(const A& a, const B& b)
    -> decltype(min(a, b)) {
  return min(a, b);
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
struct NumTraits<jacnet::Dual<T, N>> : NumTraits<T> {
  using Real = jacnet::Dual<T, N>;
  using NonInteger = jacnet::Dual<T, N>;
  using Nested = jacnet::Dual<T, N>;
  using Literal = typename NumTraits<T>::Literal;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = (N + 1) * int(NumTraits<T>::ReadCost),
    AddCost = (N + 1) * int(NumTraits<T>::AddCost),
    MulCost = (2 * N + 1) * int(NumTraits<T>::MulCost) + N * int(NumTraits<T>::AddCost)
  };
  static inline Real epsilon() { return Real(NumTraits<T>::epsilon()); }
  static inline Real dummy_precision() { return Real(NumTraits<T>::dummy_precision()); }
  static inline Real highest() { return Real(NumTraits<T>::highest()); }
  static inline Real lowest() { return Real(NumTraits<T>::lowest()); }
  static inline Real infinity() { return Real(NumTraits<T>::infinity()); }
  static inline Real quiet_NaN() { return Real(NumTraits<T>::quiet_NaN()); }
};

// ScalarBinaryOpTraits with float/double (nested Duals too): jacnet/ad/scalar_traits.hpp.

namespace internal {
/// Eigen's numext::sqrt (norm(), normalized(), ...) on a Dual: at exactly 0 the result is the
/// constant 0, i.e. norm() at the zero vector has derivative 0, the minimum-norm subgradient
/// (jacnet::sqrt itself keeps sqrt'(0) = +inf, which would give 0·inf = NaN here).
template <class T, int N>
struct sqrt_impl<jacnet::Dual<T, N>> {
  static jacnet::Dual<T, N> run(const jacnet::Dual<T, N>& x) {
    if (jacnet::value_of(x) == 0) return jacnet::Dual<T, N>();
    return jacnet::sqrt(x);
  }
};
}  // namespace internal

}  // namespace Eigen
