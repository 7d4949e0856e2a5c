#pragma once
// jacnet/losses/cross_entropy.hpp — softmax cross-entropy with integer labels.
//
//   L = (1/B) Σ_b [ logsumexp(y_b) − y_b[l_b] ],   ∂L/∂y_b = (softmax(y_b) − e_{l_b}) / B.
// The log-softmax is evaluated stably (max subtracted before exp). Labels must lie in [0, C).
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Cross-entropy of softmax(student logits) against the batch labels; mean over the batch.
struct CrossEntropy : Term<CrossEntropy> {
  static constexpr Needs needs{.labels = true};

  std::string name() const { return "CrossEntropy"; }

  Index prepare(const Sizes& n) const {
    JACNET_CHECK(n.Cs > 0, ShapeError, "CrossEntropy", "student has no outputs");
    return 0;
  }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot&, T w, Adjoints<T>& adj) const {
    using std::exp;
    const Index B = ctx.n.B, C = ctx.n.Cs;
    detail::check_labels(ctx.labels, B, C, *this);
    const Matrix<T>& Y = *ctx.Y;
    Vector<T>& logp = detail::scratch<CrossEntropy, 0, Vector<T>>(C);
    T total = T(0);
    const T scale = w / T(B);
    for (Index b = 0; b < B; ++b) {
      const int l = ctx.labels[static_cast<std::size_t>(b)];
      detail::log_softmax(Y.row(b), T(1), logp);
      total -= logp(l);
      for (Index i = 0; i < C; ++i) adj.Ybar(b, i) += scale * exp(logp(i));
      adj.Ybar(b, l) -= scale;
    }
    return total / T(B);
  }
};

}  // namespace jacnet::losses
