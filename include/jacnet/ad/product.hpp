#pragma once
// jacnet/ad/product.hpp — Eigen matrix products of reverse-mode scalars (included by var.hpp).
//
// 1. Var products (Var·Var, double·Var, Var·double; matrix-matrix and matrix-vector): every output
//    coefficient is ONE tape statement
//        c_ij = Σ_k a_ik b_kj,   ∂c_ij/∂a_ik = b_kj,   ∂c_ij/∂b_kj = a_ik
//    with K operands (one side constant: `X * w` with a MatrixXd X) or 2K (both Vars), instead of
//    the 2K − 1 statements Eigen's scalar kernels would record (a product and a sum per term).
//    `dst += A*B` adds dst_ij as one more operand (partial 1); `dst -= A*B` scales by −1.
// 2. Other scalars that record on a tape (Dual<Var<T>, N>, ...): matrix-matrix products run as
//    Eigen's coefficient-based (lazy) product.
// Both run whole on the calling thread. Eigen's GEMM would otherwise split a product above its
// threading threshold (about 50 000 multiply-adds, e.g. 64×64·64×64) across OpenMP threads, and a
// worker thread would record on its own tape (TapeError "recorded on another tape").
// Operands are evaluated once first (Eigen's nested_eval), so an operand expression of Vars is
// recorded once, never between the begin and the end of a statement.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <cstddef>
#include <type_traits>

#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"

namespace jacnet {
namespace detail {

template <class S>
struct var_real {
  static constexpr bool value = false;
};
template <class T>
struct var_real<Var<T>> {
  static constexpr bool value = true;
  using type = T;
};

/// A product Lhs·Rhs whose result is Var<T> and whose operands are Var<T> or plain numbers.
template <class Lhs, class Rhs>
concept VarProduct = requires {
  typename Lhs::Scalar;
  typename Rhs::Scalar;
} && (var_real<typename Eigen::Product<Lhs, Rhs>::Scalar>::value) &&
    (std::is_arithmetic_v<typename Lhs::Scalar> ||
     std::is_same_v<typename Lhs::Scalar, typename Eigen::Product<Lhs, Rhs>::Scalar>) &&
    (std::is_arithmetic_v<typename Rhs::Scalar> ||
     std::is_same_v<typename Rhs::Scalar, typename Eigen::Product<Lhs, Rhs>::Scalar>);

/// Another scalar recording on a tape (a Dual holding Vars).
template <class Lhs, class Rhs>
concept TapedProduct = requires {
  typename Lhs::Scalar;
  typename Rhs::Scalar;
} && uses_tape_v<typename Eigen::Product<Lhs, Rhs>::Scalar> && !VarProduct<Lhs, Rhs>;

template <class T, class S>
[[gnu::always_inline]] inline T value_part(const S& s) {
  if constexpr (std::is_arithmetic_v<S>)
    return static_cast<T>(s);
  else
    return s.value();
}

/// dst (+)= alpha · lhs · rhs for Var results: one statement per output coefficient (see the file
/// comment). `accumulate` adds the old dst_ij (partial 1).
template <class T, class Dst, class L, class R>
void var_product(Dst& dst, const L& lhs_xpr, const R& rhs_xpr, T alpha, bool accumulate) {
  using V = Var<T>;
  const typename Eigen::internal::nested_eval<L, Eigen::Dynamic>::type lhs(lhs_xpr);
  const typename Eigen::internal::nested_eval<R, Eigen::Dynamic>::type rhs(rhs_xpr);
  using LS = typename L::Scalar;
  using RS = typename R::Scalar;
  constexpr bool lvar = !std::is_arithmetic_v<LS>, rvar = !std::is_arithmetic_v<RS>;
  const Eigen::Index m = lhs.rows(), K = lhs.cols(), n = rhs.cols();
  const std::size_t max_ops = std::size_t(K) * (std::size_t(lvar) + std::size_t(rvar)) +
                              std::size_t(accumulate);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < m; ++i) {
      T v = T(0);
      VarStatement<T> st(max_ops);
      for (Eigen::Index k = 0; k < K; ++k) {
        const LS& a = lhs.coeff(i, k);
        const RS& b = rhs.coeff(k, j);
        const T av = value_part<T>(a), bv = value_part<T>(b);
        v += av * bv;
        if constexpr (lvar) st.add(a, alpha * bv);
        if constexpr (rvar) st.add(b, alpha * av);
      }
      v *= alpha;
      if (accumulate) {
        const V& old = dst.coeff(i, j);
        st.add(old, T(1));
        v += old.value();
      }
      dst.coeffRef(i, j) = st.finish(v);
    }
  }
}

/// The Eigen product implementation for VarProduct (GEMM and GEMV alike).
template <class Lhs, class Rhs>
struct VarProductImpl {
  using Scalar = typename Eigen::Product<Lhs, Rhs>::Scalar;
  using T = typename var_real<Scalar>::type;
  template <class Dst>
  static void evalTo(Dst& dst, const Lhs& lhs, const Rhs& rhs) {
    var_product<T>(dst, lhs, rhs, T(1), false);
  }
  template <class Dst>
  static void addTo(Dst& dst, const Lhs& lhs, const Rhs& rhs) {
    var_product<T>(dst, lhs, rhs, T(1), true);
  }
  template <class Dst>
  static void subTo(Dst& dst, const Lhs& lhs, const Rhs& rhs) {
    var_product<T>(dst, lhs, rhs, T(-1), true);
  }
  template <class Dst>
  static void scaleAndAddTo(Dst& dst, const Lhs& lhs, const Rhs& rhs, const Scalar& alpha) {
    if (alpha.is_constant()) {
      var_product<T>(dst, lhs, rhs, alpha.value(), true);
      return;
    }
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> tmp(dst.rows(), dst.cols());
    var_product<T>(tmp, lhs, rhs, T(1), false);
    for (Eigen::Index j = 0; j < dst.cols(); ++j)
      for (Eigen::Index i = 0; i < dst.rows(); ++i)
        dst.coeffRef(i, j) = dst.coeff(i, j) + alpha * tmp(i, j);
  }
};

}  // namespace detail
}  // namespace jacnet

namespace Eigen::internal {

template <class Lhs, class Rhs>
  requires jacnet::detail::VarProduct<Lhs, Rhs>
struct generic_product_impl<Lhs, Rhs, DenseShape, DenseShape, GemmProduct>
    : jacnet::detail::VarProductImpl<Lhs, Rhs> {};

template <class Lhs, class Rhs>
  requires jacnet::detail::VarProduct<Lhs, Rhs>
struct generic_product_impl<Lhs, Rhs, DenseShape, DenseShape, GemvProduct>
    : jacnet::detail::VarProductImpl<Lhs, Rhs> {};

/// Taped non-Var scalars: the serial coefficient-based product instead of (threaded) GEMM.
template <class Lhs, class Rhs>
  requires jacnet::detail::TapedProduct<Lhs, Rhs>
struct generic_product_impl<Lhs, Rhs, DenseShape, DenseShape, GemmProduct>
    : generic_product_impl<Lhs, Rhs, DenseShape, DenseShape, CoeffBasedProductMode> {
  using Base = generic_product_impl<Lhs, Rhs, DenseShape, DenseShape, CoeffBasedProductMode>;
  using Scalar = typename Product<Lhs, Rhs>::Scalar;
  template <class Dst>
  static void scaleAndAddTo(Dst& dst, const Lhs& lhs, const Rhs& rhs, const Scalar& alpha) {
    dst += alpha * lhs.lazyProduct(rhs);
  }
};

}  // namespace Eigen::internal
