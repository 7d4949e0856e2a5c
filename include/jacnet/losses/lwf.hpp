#pragma once
// jacnet/losses/lwf.hpp — Learning without Forgetting (Li & Hoiem 2016).
//
// Representation: ONE student Sequential whose last layer has n_new + C_old outputs laid out as
// [new-task logits | old-task logits] (the shared trunk is everything before; the old head's rows
// of the last Dense start as the original net's weights). The teacher is the original net (or
// its recorded outputs, TeacherData), with C_old outputs on the new task's inputs. Then
//   L = (1/B) Σ_b [ CE(s_b[0, n_new), l_b) + λ_old · (−Σ_i p_bi log q_bi) ],
//   p = softmax(teacher logits / τ), q = softmax(student old logits / τ), τ = Temp (2 in the
//   paper), ∂L/∂s_new = (softmax(s_new) − e_l) / B,   ∂L/∂s_old = λ_old (q − p) / (τ B).
// The old-task term is the cross-entropy of Li & Hoiem (y' = y^{1/τ}/Σ y^{1/τ} equals the softmax
// of logits/τ), not scaled by τ². Labels index the new task's classes, [0, n_new).
#include <cmath>
#include <sstream>
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// New-task cross-entropy plus old-head soft-target cross-entropy at temperature τ (run time,
/// default Temp: LwF<>(n_new, lambda_old, tau) for a sweep over τ).
template <double Temp = 2.0>
struct LwF : Term<LwF<Temp>> {
  static_assert(Temp > 0.0, "jacnet::losses::LwF<Temp>: the temperature must be positive");
  static constexpr Needs needs{.labels = true, .teacher_outputs = true};
  static constexpr double default_temperature = Temp;
  Index new_classes = 0;  ///< n_new: student outputs [0, n_new) are the new task's logits
  double lambda_old = 1.0;
  double temperature = Temp;  ///< τ (run time)

  explicit LwF(Index n_new, double lambda_old_ = 1.0, double tau = Temp)
      : new_classes(n_new), lambda_old(lambda_old_), temperature(tau) {
    JACNET_CHECK(n_new > 0, ValueError, "LwF", "the new task needs at least one class (got ", n_new,
                 ")");
    JACNET_CHECK(tau > 0.0 && std::isfinite(tau), ValueError, "LwF",
                 "the temperature must be finite and positive (got ", tau, ")");
  }

  std::string name() const {
    std::ostringstream os;
    os << "LwF<" << temperature << ">(new " << new_classes << ")";
    return os.str();
  }
  Index prepare(const Sizes& n) const {
    student_offset(n);
    return 0;
  }
  /// The teacher's outputs are matched to the student's old head [n_new, n_new + C_old).
  Index student_offset(const Sizes& n) const {
    JACNET_CHECK(n.Ct > 0 && n.Cs == new_classes + n.Ct, ShapeError, name().c_str(),
                 "student must have n_new + teacher outputs = ", new_classes, " + ", n.Ct, " = ",
                 new_classes + n.Ct, " outputs laid out [new | old], but has ", n.Cs);
    return new_classes;
  }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    using std::exp;
    const Index B = ctx.n.B, Ct = ctx.n.Ct, Nn = new_classes;
    detail::check_labels(ctx.labels, B, Nn, *this);
    const T tau = T(temperature), lam = T(lambda_old);
    Vector<T>& logn = detail::scratch<LwF, 0, Vector<T>>(Nn);
    Vector<T>& logp = detail::scratch<LwF, 1, Vector<T>>(Ct);
    Vector<T>& logq = detail::scratch<LwF, 2, Vector<T>>(Ct);
    T total = T(0);
    const T scale = w / T(B);
    for (Index b = 0; b < B; ++b) {
      const int l = ctx.labels[static_cast<std::size_t>(b)];
      detail::log_softmax(ctx.Y->row(b).head(Nn), T(1), logn);
      total -= logn(l);
      for (Index i = 0; i < Nn; ++i) adj.Ybar(b, i) += scale * exp(logn(i));
      adj.Ybar(b, l) -= scale;
      detail::log_softmax(ctx.YT->row(b), tau, logp);
      detail::log_softmax(ctx.Y->row(b).segment(s.col, Ct), tau, logq);
      for (Index i = 0; i < Ct; ++i) {
        const T p = exp(logp(i));
        total -= lam * p * logq(i);
        adj.Ybar(b, s.col + i) += scale * lam / tau * (exp(logq(i)) - p);
      }
    }
    return total / T(B);
  }
};

}  // namespace jacnet::losses
