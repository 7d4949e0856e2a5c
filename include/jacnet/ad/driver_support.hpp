#pragma once
// jacnet/ad/driver_support.hpp — what the scalar-AD drivers (jacnet/ad/drivers.hpp) return and
// share: JacobianOptions, the result types (JvpResult, VjpResult, GradientResult, HessianResult,
// HvpResult), and the detail helpers — calling f on a vector of S with one clear error for a
// non-generic f, input checks, fresh independent Vars, the Jacobian's result type.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <cstddef>
#include <type_traits>

#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet {

/// Options of jacrev / jacobian.
struct JacobianOptions {
  /// Reverse mode: output seeds carried per reverse sweep. The sweep keeps rev_chunk adjoints
  /// per recorded statement, so memory is rev_chunk × (statements of f) scalars; 1 = one scalar
  /// sweep per output row.
  int rev_chunk = 8;
  enum class Mode { Auto, Forward, Reverse };
  /// jacobian(): Auto = forward when n ≤ m (inputs ≤ outputs), reverse otherwise.
  Mode mode = Mode::Auto;
};

template <class T>
struct JvpResult {
  Vector<T> value;    ///< f(x) (size 1 for a scalar f)
  Vector<T> tangent;  ///< J·u
};
template <class T>
struct VjpResult {
  Vector<T> value;      ///< f(x)
  Vector<T> cotangent;  ///< Jᵀ·v
};
template <class T>
struct GradientResult {
  T value;             ///< f(x)
  Vector<T> gradient;  ///< ∇f(x)
};
template <class T>
struct HessianResult {
  T value;             ///< f(x)
  Vector<T> gradient;  ///< ∇f(x)
  Matrix<T> hessian;   ///< ∇²f(x), n × n (column k from sweep k; symmetric up to rounding)
};
template <class T>
struct HvpResult {
  T value;             ///< f(x)
  Vector<T> gradient;  ///< ∇f(x)
  Vector<T> hvp;       ///< ∇²f(x)·u
};

namespace detail {

template <class R>
inline constexpr bool is_eigen_v =
    std::is_base_of_v<Eigen::EigenBase<std::remove_cvref_t<R>>, std::remove_cvref_t<R>>;

/// f(x) as a vector of S (a scalar result becomes a 1-vector).
template <class S, class F>
Vector<S> eval_vector(F& f, const Vector<S>& x) {
  using R = decltype(f(x));
  if constexpr (is_eigen_v<R>) {
    Vector<S> y = f(x);
    return y;
  } else {
    Vector<S> y(1);
    y(0) = S(f(x));
    return y;
  }
}

/// f(x) as a scalar S; a vector result must have size 1.
template <class S, class F>
S eval_scalar(F& f, const Vector<S>& x, const char* where) {
  using R = decltype(f(x));
  if constexpr (is_eigen_v<R>) {
    Vector<S> y = f(x);
    JACNET_CHECK(y.size() == 1, ShapeError, where, "f must return a scalar (or a vector of size 1)",
                 "; f(x) has size ", y.size());
    return y(0);
  } else {
    return S(f(x));
  }
}

/// f can be called with a vector of S: a non-generic f (a function of VectorXd, a std::function)
/// fails here with one message instead of deep inside Eigen.
template <class R, class S>
consteval bool returns_scalar() {
  using Rd = std::remove_cvref_t<R>;
  if constexpr (is_eigen_v<Rd>)
    return std::is_same_v<typename Rd::Scalar, S>;
  else
    return !std::is_arithmetic_v<Rd> && std::is_convertible_v<Rd, S>;
}
template <class F, class S>
consteval bool is_generic_over() {
  if constexpr (std::is_invocable_v<F&, const Vector<S>&>)
    return returns_scalar<std::invoke_result_t<F&, const Vector<S>&>, S>();
  else
    return false;
}
template <class F, class S>
consteval void require_generic() {
  // Invocable is not enough: a function of VectorXd accepts a vector of S through Eigen's
  // converting constructor; its result (a plain double or VectorXd) gives it away.
  static_assert(is_generic_over<F, S>(),
                "jacnet AD drivers: f must be generic over its scalar type. The driver calls f "
                "with an Eigen vector of AD scalars (Dual, Var, Dual<Var>), so write f as a "
                "template or a generic lambda: [](const auto& x) { using S = typename "
                "std::decay_t<decltype(x)>::Scalar; ... }. A function of VectorXd or a "
                "std::function cannot be differentiated.");
}

/// Input scalar of the forward drivers: float, double, or an AD scalar (nesting: jvp/jacfwd
/// called inside a function being differentiated).
template <class S>
inline constexpr bool forward_input_v = std::is_floating_point_v<S> || is_ad_scalar_v<S>;

template <class Derived>
void check_input(const Eigen::MatrixBase<Derived>& x, const char* where) {
  static_assert(forward_input_v<typename Derived::Scalar>,
                "jacnet drivers: x must hold float, double or a jacnet AD scalar");
  JACNET_CHECK(x.cols() == 1, ShapeError, where, "x must be a column vector; it is ", x.rows(),
               " x ", x.cols());
  JACNET_CHECK(x.size() > 0, ValueError, where, "input x is empty (size 0)");
}

template <class Derived>
Vector<typename Derived::Scalar> to_vector(const Eigen::MatrixBase<Derived>& x) {
  return Vector<typename Derived::Scalar>(x);
}

/// Fresh independent Vars x_i on this thread's tape (consecutive indices, one capacity check).
template <class T, class Derived>
Eigen::Matrix<Var<T>, Eigen::Dynamic, 1> make_vars(const Eigen::MatrixBase<Derived>& x) {
  Tape<T>& t = Tape<T>::active();
  const TapeIndex first = t.new_variables(static_cast<std::size_t>(x.size()));
  const std::uint64_t tag = t.tag();
  Vector<Var<T>> xv(x.size());
  for (Index i = 0; i < x.size(); ++i)
    xv(i) = Var<T>(static_cast<T>(x(i)), first + static_cast<TapeIndex>(i), tag);
  return xv;
}


/// Result type of a Jacobian: an m × n matrix for a vector f; for a scalar f, a 1 × n row vector
/// (a compile-time row vector: it assigns to a VectorXd as the gradient, by Eigen's implicit
/// transposition of vectors).
template <class T, class R>
using jacobian_t = std::conditional_t<is_eigen_v<R>, Matrix<T>, Eigen::Matrix<T, 1, Eigen::Dynamic>>;

/// Reverse drivers need float/double inputs: reverse mode does not nest (see var.hpp).
template <class T>
inline constexpr bool reverse_input_v = std::is_floating_point_v<T>;

}  // namespace detail

}  // namespace jacnet
