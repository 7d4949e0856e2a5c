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

namespace detail {
/// Eigen::NumTraits of an AD scalar S over the scalar T it carries, with Eigen's cost estimates
/// for one read, add and multiply: S stands in for Real, NonInteger, Nested and Literal, and the
/// limits (epsilon, highest, ...) are T's as constants of S — S::constant(v) when S has it (a
/// Var constant is on no tape; Var(v) would record a new independent variable), else S(v).
template <class S, class T, int Read, int Add, int Mul>
struct ad_num_traits : Eigen::NumTraits<T> {
  using Real = S;
  using NonInteger = S;
  using Nested = S;
  using Literal = S;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = Read,
    AddCost = Add,
    MulCost = Mul
  };
  static S epsilon() { return make(Eigen::NumTraits<T>::epsilon()); }
  static S dummy_precision() { return make(Eigen::NumTraits<T>::dummy_precision()); }
  static S highest() { return make(Eigen::NumTraits<T>::highest()); }
  static S lowest() { return make(Eigen::NumTraits<T>::lowest()); }
  static S infinity() { return make(Eigen::NumTraits<T>::infinity()); }
  static S quiet_NaN() { return make(Eigen::NumTraits<T>::quiet_NaN()); }

 private:
  static S make(const T& v) {
    if constexpr (requires { S::constant(v); })
      return S::constant(v);
    else
      return S(v);
  }
};
}  // namespace detail

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
