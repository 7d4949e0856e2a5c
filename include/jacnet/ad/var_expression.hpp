#pragma once
// jacnet/ad/var_expression.hpp — VarExpr<T, N>, the flattened statement a reverse-mode expression
// builds (value plus N (operand, partial) pairs), and the rev:: helpers that combine operand lists
// as the chain rule inside one statement. Overview: jacnet/ad/var.hpp.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"

/// Reverse-mode operators are always inlined: their results (VarExpr, N partials) then stay in
/// registers up to the statement that records them. Without it GCC keeps large instances (the
/// partials of Var<Dual<T, 16>> are 136 bytes each) out of line and copies every intermediate
/// expression through memcpy (57 % of hessian<16>'s instructions on bench_ad's ode).
#define JACNET_REV_INLINE [[gnu::always_inline]] inline

namespace jacnet {

template <class T>
class Var;
namespace detail {
template <class T, class Derived>
Eigen::Matrix<Var<T>, Eigen::Dynamic, 1> make_vars(const Eigen::MatrixBase<Derived>& x);
}  // namespace detail

/// A linearized expression: its value v and its N operands (index, tag) with the partials d of v
/// with respect to them, computed eagerly as the expression is built (a node combines its
/// children's lists, scaling each by the node's local derivative). Flat arrays copy cheaply and
/// stay in registers after inlining, unlike nested expression trees, and the object holds
/// everything by value, so it is safe to keep (`auto e = a * b;`) or to return from a function.
template <class T, std::size_t N>
struct VarExpr {
  using rev_scalar = T;
  static constexpr std::size_t n_ops = N;
  T v;
  std::array<T, N> d;
  std::array<TapeIndex, N> idx;
  std::array<std::uint64_t, N> tag;
  T value() const { return v; }
};

namespace rev {

/// An expression of reverse-mode scalars: Var itself or a VarExpr built from Vars.
template <class E>
concept Expr = requires { typename std::remove_cvref_t<E>::rev_scalar; };
template <class E, class T>
concept ExprOf = Expr<E> && std::same_as<typename std::remove_cvref_t<E>::rev_scalar, T>;
/// A passive operand: a plain arithmetic number.
template <class S>
concept Passive = std::is_arithmetic_v<std::remove_cvref_t<S>>;

template <class E>
using scalar_of = typename std::remove_cvref_t<E>::rev_scalar;
template <class E>
inline constexpr std::size_t ops_of = std::remove_cvref_t<E>::n_ops;
template <class E>
inline constexpr bool is_var_v = std::is_same_v<std::remove_cvref_t<E>, Var<scalar_of<E>>>;

/// Scale factors known to be +1 / −1 at compile time (sums, differences, negation): partials are
/// copied or negated instead of multiplied. For Var<double> this is what the compiler made of
/// `d * 1.0` anyway; for Var<Dual<double, K>> it saves a full Dual product (2K + 1 multiplies,
/// which cannot be folded) per operand and level of the expression.
struct PlusOne {};
struct MinusOne {};

/// The partial c as a T (c: T, a plain real, PlusOne or MinusOne).
template <class T, class C>
[[gnu::always_inline]] inline T as_partial(const C& c) {
  if constexpr (std::is_same_v<C, PlusOne>)
    return T(1);
  else if constexpr (std::is_same_v<C, MinusOne>)
    return T(-1);
  else
    return T(c);
}
/// d·c (a plain real c multiplies a Dual partial lane by lane: cheaper than Dual·Dual).
template <class T, class C>
[[gnu::always_inline]] inline T scaled(const T& d, const C& c) {
  if constexpr (std::is_same_v<C, PlusOne>)
    return d;
  else if constexpr (std::is_same_v<C, MinusOne>)
    return T(-d);
  else
    return T(d * c);
}

/// Writes a's operands scaled by c into r at offset off.
template <class T, std::size_t N, class A, class C>
[[gnu::always_inline]] inline void put(VarExpr<T, N>& r, std::size_t off, const A& a, const C& c) {
  if constexpr (is_var_v<A>) {
    r.d[off] = as_partial<T>(c);
    r.idx[off] = a.index();
    r.tag[off] = a.tag();
  } else {
    for (std::size_t k = 0; k < ops_of<A>; ++k) {
      r.d[off + k] = scaled(a.d[k], c);
      r.idx[off + k] = a.idx[k];
      r.tag[off + k] = a.tag[k];
    }
  }
}

/// f(a) with value v and derivative dv (a T, a plain real, PlusOne or MinusOne): partials of a
/// scaled by dv.
template <class A, class C = scalar_of<A>>
[[gnu::always_inline]] inline auto unary(const A& a, scalar_of<A> v, const C& dv) {
  VarExpr<scalar_of<A>, ops_of<A>> r;
  r.v = v;
  put(r, 0, a, dv);
  return r;
}
/// f(a, b) with value v and partials da, db.
template <class A, class B, class CA = scalar_of<A>, class CB = scalar_of<A>>
[[gnu::always_inline]] inline auto binary(const A& a, const B& b, scalar_of<A> v, const CA& da,
                                          const CB& db) {
  VarExpr<scalar_of<A>, ops_of<A> + ops_of<B>> r;
  r.v = v;
  put(r, 0, a, da);
  put(r, ops_of<A>, b, db);
  return r;
}

}  // namespace rev

}  // namespace jacnet
