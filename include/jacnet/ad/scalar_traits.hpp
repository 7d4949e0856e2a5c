#pragma once
// jacnet/ad/scalar_traits.hpp — what every AD scalar of jacnet is, and how Eigen mixes it with
// plain numbers.
//
//   is_ad_scalar_v<S>   S is Dual<T, N> or Var<T>, at any nesting depth
//   uses_tape_v<S>      S records on a reverse-mode tape: Var<T>, or a Dual whose parts are Vars
//                       (Dual<Var<double>, N>, Dual<Dual<Var<double>, M>, N>, ...)
//
// Eigen interop: ScalarBinaryOpTraits<S, R> and <R, S> give S for every AD scalar S and every
// plain floating-point R (double or float, nested S included: Dual<Var<double>, 8> with double),
// so mixed expressions such as `MatrixXd * Vector<S>` or `x - mu` with a VectorXd mu compile for
// every scalar the drivers use, without a `cast<S>()` (which would put one tape statement per
// element). The operators themselves accept plain numbers on either side (dual.hpp, var.hpp).
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <type_traits>

namespace jacnet {

template <class T, int N>
struct Dual;
template <class T>
class Var;

namespace detail {
template <class S>
struct ad_traits {
  static constexpr bool is_ad = false;
  static constexpr bool tape = false;
};
template <class T, int N>
struct ad_traits<Dual<T, N>> {
  static constexpr bool is_ad = true;
  static constexpr bool tape = ad_traits<T>::tape;
};
template <class T>
struct ad_traits<Var<T>> {
  static constexpr bool is_ad = true;
  static constexpr bool tape = true;
};
}  // namespace detail

/// S is one of jacnet's AD scalars (Dual or Var, nested or not).
template <class S>
inline constexpr bool is_ad_scalar_v = detail::ad_traits<std::remove_cvref_t<S>>::is_ad;
/// S records on a reverse-mode tape (contains a Var somewhere).
template <class S>
inline constexpr bool uses_tape_v = detail::ad_traits<std::remove_cvref_t<S>>::tape;

}  // namespace jacnet

namespace Eigen {
/// AD scalar ⊕ plain float/double → the AD scalar (both orders, every binary op).
template <class S, class R, class BinaryOp>
  requires(jacnet::is_ad_scalar_v<S> && std::is_floating_point_v<R>)
struct ScalarBinaryOpTraits<S, R, BinaryOp> {
  using ReturnType = S;
};
template <class R, class S, class BinaryOp>
  requires(jacnet::is_ad_scalar_v<S> && std::is_floating_point_v<R>)
struct ScalarBinaryOpTraits<R, S, BinaryOp> {
  using ReturnType = S;
};
}  // namespace Eigen
