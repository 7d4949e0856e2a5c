#pragma once
// jacnet/ad/custom_rule.hpp — a function with user-given derivative rules (as JAX's custom_jvp /
// custom_vjp, CppAD's atomic functions, ADOL-C's external functions).
//
//   auto g = jacnet::ad::custom_rule(f, jvp, vjp);
//   f(x)          → y                    (x ∈ Rⁿ, y ∈ Rᵐ, Eigen vectors)
//   jvp(x, y, u)  → J(x)·u               (u ∈ Rⁿ; y = f(x) is passed to save work)
//   vjp(x, y, w)  → J(x)ᵀ·w              (w ∈ Rᵐ)
// g(x) is then called like any function of the scalar S inside code being differentiated:
//   S = float/double     f(x)
//   S = Dual<U, N>       y = g(values of x) (in U), tangent k = jvp(values, y, tangent k of x)
//                        (N jvp calls; directions whose tangents are all zero are skipped when
//                        U is a plain number: the jvp is linear in u)
//   S = Var<T>           y = f(values); J from min(m, n) calls: m calls of vjp with unit w
//                        (m ≤ n) or n calls of jvp with unit u; then output i is ONE tape
//                        statement with operands x_j and partials J_ij. The reverse sweep then
//                        applies exactly Jᵀ·ȳ, as computed by the user's rules.
//   S = Var<Dual<U, N>>  (reverse over forward: hessian, hvp) y as Duals (f and N jvp calls in
//                        U), then J(x) in Dual<U, N> from n jvp calls with unit u and Dual x;
//                        output i is ONE statement with operands x_j and Dual partials J_ij.
// Nesting (Var<Dual<T>> in hessian/hvp, Dual<Var<T>>, Dual<Dual<T>>): the jvp is then called
// with vectors of an AD scalar (Dual<T, N> or the inner U), so for second order the jvp must be
// generic over its scalar (written with Eigen ops or other custom rules; a rule can use another
// rule inside it, e.g. J0' = −J1 with J1 a custom rule too). f and vjp are only ever called with
// plain T.
// Errors: results of the wrong size → ShapeError naming the rule's part and the sizes.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <type_traits>
#include <utility>

#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::ad {

template <class F, class Jvp, class Vjp>
class CustomRule {
 public:
  CustomRule(F f, Jvp jvp, Vjp vjp) : f_(std::move(f)), jvp_(std::move(jvp)), vjp_(std::move(vjp)) {}

  template <class Derived>
  auto operator()(const Eigen::MatrixBase<Derived>& x) const {
    using S = typename Derived::Scalar;
    return apply(Vector<S>(x));
  }

 private:
  template <class S>
  struct dual_parts : std::false_type {};
  template <class U, int N>
  struct dual_parts<Dual<U, N>> : std::true_type {
    using inner = U;
    static constexpr int n = N;
  };
  template <class S>
  struct var_parts : std::false_type {};
  template <class T>
  struct var_parts<Var<T>> : std::true_type {
    using real = T;
  };

  template <class S>
  Vector<S> apply(const Vector<S>& x) const {
    if constexpr (std::is_arithmetic_v<S>) {
      Vector<S> y = f_(x);
      return y;
    } else if constexpr (dual_parts<S>::value) {
      using U = typename dual_parts<S>::inner;
      constexpr int N = dual_parts<S>::n;
      const Index n = x.size();
      Vector<U> xv(n), u(n);
      for (Index i = 0; i < n; ++i) xv(i) = x(i).val;
      const Vector<U> y = apply(xv);
      Vector<S> r(y.size());
      for (Index i = 0; i < y.size(); ++i) r(i) = S(y(i));
      for (int k = 0; k < N; ++k) {
        bool zero = true;
        for (Index i = 0; i < n; ++i) {
          u(i) = x(i).d(k);
          if constexpr (std::is_arithmetic_v<U>) zero = zero && u(i) == U(0);
        }
        if constexpr (std::is_arithmetic_v<U>)
          if (zero) continue;  // J·0 = 0: tangents stay zero
        const Vector<U> t = jvp_(xv, y, u);
        JACNET_CHECK(t.size() == y.size(), ShapeError, "jacnet::ad::custom_rule",
                     "jvp returned size ", t.size(), ", f returned size ", y.size());
        for (Index i = 0; i < y.size(); ++i) r(i).set_d(k, t(i));
      }
      return r;
    } else if constexpr (var_parts<S>::value && dual_parts<typename var_parts<S>::real>::value) {
      // Var<Dual<U, N>> (reverse over forward, hessian/hvp): the outputs as Duals (f and the JVP
      // in U), and J(x) as Duals, column j = jvp(x, y, e_j) evaluated in Dual<U, N> (so its
      // tangents are the directional derivatives of J: the JVP must be generic, as for every
      // second-order use). Output i = one statement with operands x_j and partials J_ij.
      using D = typename var_parts<S>::real;
      const Index n = x.size();
      Vector<D> xd(n);
      for (Index i = 0; i < n; ++i) xd(i) = x(i).value();
      const Vector<D> y = apply(xd);
      const Index m = y.size();
      Matrix<D> J(m, n);
      Vector<D> u = Vector<D>::Zero(n);
      for (Index j = 0; j < n; ++j) {
        u(j) = D(1);
        const Vector<D> col = jvp_(xd, y, u);
        JACNET_CHECK(col.size() == m, ShapeError, "jacnet::ad::custom_rule", "jvp returned size ",
                     col.size(), ", f returned size ", m);
        J.col(j) = col;
        u(j) = D(0);
      }
      Vector<S> r(m);
      for (Index i = 0; i < m; ++i) {
        VarStatement<D> st(static_cast<std::size_t>(n));
        for (Index j = 0; j < n; ++j)
          if (!J(i, j).is_zero()) st.add(x(j), J(i, j));
        r(i) = st.finish(y(i));
      }
      return r;
    } else if constexpr (var_parts<S>::value) {
      using T = typename var_parts<S>::real;
      const Index n = x.size();
      Vector<T> xv(n);
      for (Index i = 0; i < n; ++i) xv(i) = x(i).value();
      const Vector<T> y = f_(xv);
      const Index m = y.size();
      Matrix<T> J(m, n);
      if (m <= n) {  // rows Jᵀe_i by the user's vjp
        Vector<T> w = Vector<T>::Zero(m);
        for (Index i = 0; i < m; ++i) {
          w(i) = T(1);
          const Vector<T> row = vjp_(xv, y, w);
          JACNET_CHECK(row.size() == n, ShapeError, "jacnet::ad::custom_rule",
                       "vjp returned size ", row.size(), ", the input has size ", n);
          J.row(i) = row.transpose();
          w(i) = T(0);
        }
      } else {  // columns J e_j by the user's jvp
        Vector<T> u = Vector<T>::Zero(n);
        for (Index j = 0; j < n; ++j) {
          u(j) = T(1);
          const Vector<T> col = jvp_(xv, y, u);
          JACNET_CHECK(col.size() == m, ShapeError, "jacnet::ad::custom_rule",
                       "jvp returned size ", col.size(), ", f returned size ", m);
          J.col(j) = col;
          u(j) = T(0);
        }
      }
      // Output i = one statement: ȳ_i reaches x_j with partial J_ij.
      Vector<S> r(m);
      for (Index i = 0; i < m; ++i) {
        VarStatement<T> st(static_cast<std::size_t>(n));
        for (Index j = 0; j < n; ++j)
          if (J(i, j) != T(0)) st.add(x(j), J(i, j));
        r(i) = st.finish(y(i));
      }
      return r;
    } else {
      static_assert(dual_parts<S>::value || var_parts<S>::value,
                    "jacnet::ad::custom_rule: scalar type not supported (float, double, Dual, "
                    "Var and their nestings are)");
      return {};
    }
  }

  F f_;
  Jvp jvp_;
  Vjp vjp_;
};

/// Wraps f with its own JVP and VJP rules (see the file comment).
template <class F, class Jvp, class Vjp>
CustomRule<std::decay_t<F>, std::decay_t<Jvp>, std::decay_t<Vjp>> custom_rule(F&& f, Jvp&& jvp,
                                                                              Vjp&& vjp) {
  return {std::forward<F>(f), std::forward<Jvp>(jvp), std::forward<Vjp>(vjp)};
}

}  // namespace jacnet::ad
