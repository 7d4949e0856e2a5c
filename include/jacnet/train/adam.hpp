#pragma once
// jacnet/train/adam.hpp — Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), with the
// updates of torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13) entry by entry, at step t ≥ 1:
//   Adam:  g ← g + λ θ                           (coupled weight decay: an L2 term's gradient)
//   AdamW: θ ← θ (1 − γ λ)                       (decoupled weight decay, applied before the
//   update) m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g² v̂ ← max(v̂, v) if amsgrad else v θ ← θ −
//   (γ / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
// (the same bias-corrected step as γ m̂ / (√v̂ + ε), written in PyTorch's order of operations).
// AdamW is Adam with decoupled weight decay; it lives here as one class with a flag, and
// train::AdamW<T> is that class with the flag set and PyTorch's default λ = 0.01.
//
//   train::Adam<float> opt({.lr = 1e-3});
//   train::AdamW<float> optw({.lr = 1e-3, .weight_decay = 0.05});
//   opt.step(net.params(), grads);
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/train/optimizer.hpp"

namespace jacnet::train {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  /// false: λ θ is added to the gradient (torch.optim.Adam); true: θ ← θ(1 − γλ) (AdamW).
  bool decoupled_weight_decay = false;
};

template <class T>
class Adam : public detail::OptimizerBase<T> {
 public:
  explicit Adam(const AdamOptions& o = {})
      : detail::OptimizerBase<T>(o.decoupled_weight_decay ? "AdamW" : "Adam", o.lr), opt_(o) {
    const char* who = this->name_;
    JACNET_CHECK(0.0 <= o.beta1 && o.beta1 < 1.0, ValueError, who, "beta1 ", o.beta1,
                 " is not in [0, 1)");
    JACNET_CHECK(0.0 <= o.beta2 && o.beta2 < 1.0, ValueError, who, "beta2 ", o.beta2,
                 " is not in [0, 1)");
    JACNET_CHECK(o.eps >= 0.0, ValueError, who, "eps ", o.eps, " is negative");
    JACNET_CHECK(o.weight_decay >= 0.0, ValueError, who, "weight_decay ", o.weight_decay,
                 " is negative");
  }

  const AdamOptions& options() const { return opt_; }
  /// First and second moment estimates m, v (empty before the first step).
  const Vector<T>& first_moment() const { return m_; }
  const Vector<T>& second_moment() const { return v_; }

  /// The options that shape the update (checkpoints compare it; the rate is the schedule's).
  std::string describe() const {
    return std::string(this->name_) + "(beta1=" + detail::fmt_exact(opt_.beta1) +
           ", beta2=" + detail::fmt_exact(opt_.beta2) + ", eps=" + detail::fmt_exact(opt_.eps) +
           ", weight_decay=" + detail::fmt_exact(opt_.weight_decay) +
           ", amsgrad=" + (opt_.amsgrad ? "true" : "false") + ")";
  }
  /// The state a checkpoint stores: m, v and (amsgrad) max v (empty before the first step).
  std::vector<std::pair<std::string, const Vector<T>*>> state_vectors() const {
    return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}, {"max_exp_avg_sq", &vmax_}};
  }
  /// Restores steps() and the moments saved from state_vectors().
  void restore_state(std::int64_t steps, const std::vector<std::pair<std::string, Vector<T>>>& v) {
    this->restore_vectors(steps, v, {{"exp_avg", &m_}, {"exp_avg_sq", &v_}, {"max_exp_avg_sq", &vmax_}});
  }

  /// Forget the moments and the step count.
  void reset() {
    m_.resize(0);
    v_.resize(0);
    vmax_.resize(0);
    this->steps_ = 0;
  }

  /// θ ← Adam(W) update of θ with gradient g (same size), in place, on the mask's entries.
  void step(ParamRef<T> params, const ConstParamRef<T>& grads) {
    const Index n = this->check_step(params.size(), grads.size(), m_.size());
    if (m_.size() == 0) {
      m_.setZero(n);
      v_.setZero(n);
      if (opt_.amsgrad) vmax_.setZero(n);
    }
    const std::int64_t t = this->steps_ + 1;
    const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t));
    const T neg_step_size = static_cast<T>(-(this->lr_ / bc1));
    const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
    const T b1 = static_cast<T>(opt_.beta1), one_minus_b1 = static_cast<T>(1.0 - opt_.beta1);
    const T b2 = static_cast<T>(opt_.beta2), one_minus_b2 = static_cast<T>(1.0 - opt_.beta2);
    const T eps = static_cast<T>(opt_.eps);
    const T wd = static_cast<T>(opt_.weight_decay);
    const T shrink = static_cast<T>(1.0 - this->lr_ * opt_.weight_decay);
    const bool coupled = opt_.weight_decay != 0.0 && !opt_.decoupled_weight_decay;
    const bool decoupled = opt_.weight_decay != 0.0 && opt_.decoupled_weight_decay;
    const bool amsgrad = opt_.amsgrad;
    // Vectorized through Eigen arrays (its sqrt and division are the correctly rounded IEEE ones,
    // so the result equals the scalar formula; a plain loop would not vectorize std::sqrt).
    using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
    using Seg = Eigen::Map<Arr>;
    using CSeg = Eigen::Map<const Arr>;
    T* p = params.data();
    const T* g = grads.data();
    this->mask_.for_each_range(n, [&](Index begin, Index end) {
      const Index len = end - begin;
      Seg P(p + begin, len), M(m_.data() + begin, len), V(v_.data() + begin, len);
      CSeg G(g + begin, len);
      if (decoupled) P *= shrink;
      if (coupled) {
        M = M * b1 + one_minus_b1 * (G + wd * P);
        V = V * b2 + (one_minus_b2 * (G + wd * P)) * (G + wd * P);
      } else {
        M = M * b1 + one_minus_b1 * G;
        V = V * b2 + (one_minus_b2 * G) * G;
      }
      if (amsgrad) {
        Seg VM(vmax_.data() + begin, len);
        VM = VM.max(V);
        P += neg_step_size * (M / (VM.sqrt() / bc2_sqrt + eps));
      } else {
        P += neg_step_size * (M / (V.sqrt() / bc2_sqrt + eps));
      }
    });
    ++this->steps_;
  }

 private:
  AdamOptions opt_;
  Vector<T> m_, v_, vmax_;
};

/// Adam with decoupled weight decay (torch.optim.AdamW; default weight_decay 0.01).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

template <class T>
class AdamW : public Adam<T> {
 public:
  explicit AdamW(const AdamWOptions& o = {})
      : Adam<T>(AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, true}) {}
};

}  // namespace jacnet::train
