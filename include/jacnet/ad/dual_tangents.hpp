#pragma once
// jacnet/ad/dual_tangents.hpp — the tangent storage of Dual<T, N> and the algebra on it (detail):
// N directions as xsimd batches plus a scalar tail for float/double, a plain array otherwise, and
// the in-place kernels (negate, add, scale, axpby, quotient, map) every Dual operation uses. See
// jacnet/ad/dual.hpp for the layout rules and the alignment caveat.
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

}  // namespace jacnet
