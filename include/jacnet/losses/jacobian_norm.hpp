#pragma once
// jacnet/losses/jacobian_norm.hpp — penalty on the squared Frobenius norm of the input Jacobian.
//
//   Exact:               L = (1/B) Σ_b ‖J_b‖²_F = (1/B) Σ_b Σ_{i<C} ‖e_iᵀ J_b‖²          (M = C
//   rows) RandomProjection<n>: L = (1/B) Σ_b (C/n) Σ_{μ<n} ‖v̂_bμᵀ J_b‖²,  v̂ uniform on S^{C-1}  (M
//   = n)
// J_b = ∂S/∂x (x_b), C = student outputs. The projection estimate is unbiased (E[v̂ v̂ᵀ] = I/C;
// Hoffman, Roberts & Yaida 2019, who penalize half of it: use 0.5 * JacobianNorm<...>{}).
// Adjoint of each row r: ∂L/∂r = 2 c r / B with c = 1 or C/n. With labels in place of a teacher
// this is the σ² term of Proposition 2 (Bishop 1995).
#include <string>
#include <type_traits>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Squared Frobenius norm of the student's input Jacobian, exact or by random projections.
template <class Estimator = Exact>
struct JacobianNorm : Term<JacobianNorm<Estimator>> {
  static_assert(std::is_same_v<Estimator, Exact> || Estimator::random,
                "jacnet::losses::JacobianNorm<Estimator>: Estimator must be Exact or "
                "RandomProjection<n>");
  static constexpr Needs needs{.jacobian = true};

  std::string name() const {  // appended, not a + chain (GCC 12 -Warray-bounds false positive)
    std::string s = "JacobianNorm<";
    s += Estimator::name();
    s += '>';
    return s;
  }
  Index prepare(const Sizes& n) const {
    JACNET_CHECK(n.Cs > 0, ShapeError, name().c_str(), "student has no outputs");
    return Estimator::rows(n.Cs);
  }

  template <class T>
  void fill_seeds(const Context<T>& ctx, const Slot& s, Matrix<T>& seeds,
                  std::mt19937_64& rng) const {
    for (Index b = 0; b < ctx.n.B; ++b)
      Estimator::template fill<T>(ctx.rows(seeds, s, b), 0, ctx.n.Cs, b, ctx.labels, ctx.YT, rng);
  }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    const Index B = ctx.n.B;
    const T c = T(Estimator::scale(ctx.n.Cs));
    const T g = T(2) * w * c / T(B);
    T total = T(0);
    for (Index b = 0; b < B; ++b) {
      const auto rows = ctx.rows(*ctx.J, s, b);
      total += rows.squaredNorm();
      ctx.rows(adj.Jbar, s, b) += g * rows;
    }
    return c * total / T(B);
  }
};

}  // namespace jacnet::losses
