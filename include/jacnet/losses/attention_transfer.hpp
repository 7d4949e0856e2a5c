#pragma once
// jacnet/losses/attention_transfer.hpp — activation-based attention transfer between two layers.
//
// Zagoruyko & Komodakis 2017. For an activation A_b (C x H x W) at a layer boundary, the spatial
// attention map is Q_b = Σ_c A_bc² (H·W values, flattened) and q_b = Q_b / ‖Q_b‖. Between a
// student boundary (C_s x H x W) and a teacher boundary (C_t x H x W; channels may differ, the
// spatial sizes must match):
//   L = (β/2) (1/B) Σ_b ‖q^S_b − q^T_b‖²,
//   ∂L/∂A^S_bcp = 2 A^S_bcp Q̄_bp,  Q̄ = (ū − q (qᵀū)) / ‖Q‖,  ū = β (q^S − q^T) / B.
// Norms are sqrt(‖Q‖² + 1e-12). Boundary l is the input of layer l (0 = the net input, l+1 =
// output of layer l). The public code uses mean((q^S − q^T)²) over the H·W positions with
// β = 1000, which is β = 1000/(H·W) here. Compose several pairs with `+`.
#include <cmath>
#include <sstream>
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Attention-map distance between student boundary `student_at` and teacher boundary `teacher_at`.
struct AttentionTransfer : Term<AttentionTransfer> {
  static constexpr Needs needs{.activations = true, .teacher_activations = true};
  static constexpr double eps = 1e-12;
  Index student_at = 0;
  Index teacher_at = 0;
  double beta = 1.0;

  AttentionTransfer(Index student_boundary, Index teacher_boundary, double beta_ = 1.0)
      : student_at(student_boundary), teacher_at(teacher_boundary), beta(beta_) {
    JACNET_CHECK(student_boundary >= 0 && teacher_boundary >= 0, ValueError, "AttentionTransfer",
                 "boundaries must be non-negative (got student ", student_boundary, ", teacher ",
                 teacher_boundary, ")");
  }

  std::string name() const {
    std::ostringstream os;
    os << "AttentionTransfer(" << student_at << "->" << teacher_at << ")";
    return os.str();
  }
  Index prepare(const Sizes&) const { return 0; }
  void student_boundaries(std::vector<Index>& v) const { v.push_back(student_at); }
  void teacher_boundaries(std::vector<Index>& v) const { v.push_back(teacher_at); }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot&, T w, Adjoints<T>& adj) const {
    using std::sqrt;
    const std::string who = name();
    JACNET_CHECK(student_at < static_cast<Index>(ctx.acts.size()) && ctx.acts[student_at].values,
                 ShapeError, who.c_str(), "student boundary ", student_at, " is not available (",
                 ctx.acts.size(), " boundaries)");
    JACNET_CHECK(teacher_at < static_cast<Index>(ctx.teacher_acts.size()) &&
                     ctx.teacher_acts[teacher_at].values,
                 ShapeError, who.c_str(), "teacher boundary ", teacher_at, " is not available (",
                 ctx.teacher_acts.size(), " boundaries)");
    const ActivationView<T>& as = ctx.acts[student_at];
    const ActivationView<T>& at = ctx.teacher_acts[teacher_at];
    JACNET_CHECK(as.shape.rank() == 3 && at.shape.rank() == 3, ShapeError, who.c_str(),
                 "needs image activations {C,H,W}; student boundary has ", as.shape,
                 ", teacher boundary has ", at.shape);
    JACNET_CHECK(as.shape[1] == at.shape[1] && as.shape[2] == at.shape[2], ShapeError, who.c_str(),
                 "spatial sizes differ: student ", as.shape, ", teacher ", at.shape);
    const Index B = ctx.n.B, P = as.shape[1] * as.shape[2];
    const Index Cs = as.shape[0], Ct = at.shape[0];
    Matrix<T>& abar = adj.act_bars[static_cast<std::size_t>(student_at)];
    Vector<T>& qs = detail::scratch<AttentionTransfer, 0, Vector<T>>(P);
    Vector<T>& qt = detail::scratch<AttentionTransfer, 1, Vector<T>>(P);
    Vector<T>& qbar = detail::scratch<AttentionTransfer, 2, Vector<T>>(P);
    Vector<T>& u = detail::scratch<AttentionTransfer, 3, Vector<T>>(P);
    T total = T(0);
    const T beta_w = T(beta) * w / T(B);
    for (Index b = 0; b < B; ++b) {
      const T* As = as.values->row(b).data();
      const T* At = at.values->row(b).data();
      qs.setZero();
      qt.setZero();
      for (Index c = 0; c < Cs; ++c)
        for (Index p = 0; p < P; ++p) qs(p) += As[c * P + p] * As[c * P + p];
      for (Index c = 0; c < Ct; ++c)
        for (Index p = 0; p < P; ++p) qt(p) += At[c * P + p] * At[c * P + p];
      const T ns = sqrt(qs.squaredNorm() + T(eps));
      const T nt = sqrt(qt.squaredNorm() + T(eps));
      u = qs / ns - qt / nt;
      total += u.squaredNorm();
      qbar.setZero();
      detail::normalize_adjoint(qs, ns, u, qbar, beta_w);
      T* Ab = abar.row(b).data();
      for (Index c = 0; c < Cs; ++c)
        for (Index p = 0; p < P; ++p) Ab[c * P + p] += T(2) * As[c * P + p] * qbar(p);
    }
    return T(beta) / T(2) * total / T(B);
  }
};

}  // namespace jacnet::losses
