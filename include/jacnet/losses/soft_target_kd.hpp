#pragma once
// jacnet/losses/soft_target_kd.hpp — Hinton et al. 2015 knowledge distillation (soft targets).
//
// With p = softmax(T_logits / τ) and q = softmax(S_logits / τ) at temperature τ:
//   L = τ² · (1/B) Σ_b KL(p_b ‖ q_b) = τ² (1/B) Σ_b Σ_i p_bi (log p_bi − log q_bi),
//   ∂L/∂S_logits_b = τ (q_b − p_b) / B.
// The τ² factor keeps the gradient scale independent of τ (Hinton et al. §2). Hinton's full loss
// adds the hard-label term: `CrossEntropy{} + alpha * SoftTargetKD<4.0>{}`.
// The temperature is a run-time value (`temperature`, default Temp): SoftTargetKD<>(tau) for a
// sweep over τ without one type per value; SoftTargetKD<4.0>{} keeps τ = 4 in the type's default.
#include <cmath>
#include <sstream>
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// KL divergence between teacher and student softmax at temperature τ, scaled by τ².
template <double Temp = 1.0>
struct SoftTargetKD : Term<SoftTargetKD<Temp>> {
  static_assert(Temp > 0.0, "jacnet::losses::SoftTargetKD<Temp>: the temperature must be positive");
  static constexpr Needs needs{.teacher_outputs = true};
  static constexpr double default_temperature = Temp;
  double temperature = Temp;  ///< τ (run time)
  StudentOffset offset{};

  SoftTargetKD() = default;
  explicit SoftTargetKD(StudentOffset o) : offset(o) {}
  /// Temperature τ at run time (a τ sweep uses one type: SoftTargetKD<>(tau)).
  explicit SoftTargetKD(double tau, StudentOffset o = {}) : temperature(tau), offset(o) {
    JACNET_CHECK(tau > 0.0 && std::isfinite(tau), ValueError, "SoftTargetKD",
                 "the temperature must be finite and positive (got ", tau, ")");
  }

  std::string name() const {
    std::ostringstream os;
    os << "SoftTargetKD<" << temperature << ">";
    return os.str();
  }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    using std::exp;
    const Index B = ctx.n.B, Ct = ctx.n.Ct;
    const T tau = T(temperature);
    Vector<T>& logp = detail::scratch<SoftTargetKD, 0, Vector<T>>(Ct);
    Vector<T>& logq = detail::scratch<SoftTargetKD, 1, Vector<T>>(Ct);
    T total = T(0);
    const T scale = w * tau / T(B);
    for (Index b = 0; b < B; ++b) {
      detail::log_softmax(ctx.YT->row(b), tau, logp);
      detail::log_softmax(ctx.Y->row(b).segment(s.col, Ct), tau, logq);
      for (Index i = 0; i < Ct; ++i) {
        const T p = exp(logp(i));
        if (p > T(0)) total += p * (logp(i) - logq(i));
        adj.Ybar(b, s.col + i) += scale * (exp(logq(i)) - p);
      }
    }
    return tau * tau * total / T(B);
  }
};

}  // namespace jacnet::losses
