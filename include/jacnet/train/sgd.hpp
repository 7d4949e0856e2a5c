#pragma once
// jacnet/train/sgd.hpp — stochastic gradient descent with momentum, weight decay and Nesterov,
// with torch.optim.SGD's update (PyTorch 1.13) entry by entry:
//   d ← g + λ θ                                (weight decay λ, coupled: an L2 term's gradient)
//   if μ ≠ 0:  b ← d on the first step, else b ← μ b + (1 − τ) d      (momentum μ, dampening τ)
//              d ← d + μ b  (Nesterov)   or   d ← b
//   θ ← θ − γ d                                (learning rate γ)
// As in PyTorch, Nesterov needs μ > 0 and τ = 0.
//
//   train::SGD<float> opt({.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
//   opt.step(net.params(), grads);
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/train/optimizer.hpp"

namespace jacnet::train {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

template <class T>
class SGD : public detail::OptimizerBase<T> {
 public:
  explicit SGD(const SGDOptions& o = {}) : detail::OptimizerBase<T>("SGD", o.lr), opt_(o) {
    JACNET_CHECK(o.momentum >= 0.0, ValueError, "SGD", "momentum ", o.momentum, " is negative");
    JACNET_CHECK(o.weight_decay >= 0.0, ValueError, "SGD", "weight_decay ", o.weight_decay,
                 " is negative");
    JACNET_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0), ValueError, "SGD",
                 "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum ",
                 o.momentum, ", dampening ", o.dampening, ")");
  }

  const SGDOptions& options() const { return opt_; }
  /// Momentum buffer b (empty before the first step or without momentum).
  const Vector<T>& momentum_buffer() const { return buf_; }

  /// The options that shape the update (checkpoints compare it; the rate is the schedule's).
  std::string describe() const {
    return "SGD(momentum=" + detail::fmt_exact(opt_.momentum) +
           ", dampening=" + detail::fmt_exact(opt_.dampening) +
           ", weight_decay=" + detail::fmt_exact(opt_.weight_decay) +
           ", nesterov=" + (opt_.nesterov ? "true" : "false") + ")";
  }
  /// The state a checkpoint stores: the momentum buffer (empty before the first step).
  std::vector<std::pair<std::string, const Vector<T>*>> state_vectors() const {
    return {{"momentum_buffer", &buf_}};
  }
  /// Restores steps() and the momentum buffer saved from state_vectors().
  void restore_state(std::int64_t steps, const std::vector<std::pair<std::string, Vector<T>>>& v) {
    this->restore_vectors(steps, v, {{"momentum_buffer", &buf_}});
  }

  /// Forget the momentum buffer and the step count.
  void reset() {
    buf_.resize(0);
    this->steps_ = 0;
  }

  /// θ ← SGD update of θ with gradient g (same size), in place, on the mask's entries.
  void step(ParamRef<T> params, const ConstParamRef<T>& grads) {
    const Index n = this->check_step(params.size(), grads.size(), buf_.size());
    const bool use_momentum = opt_.momentum != 0.0;
    const bool first = buf_.size() == 0;
    if (use_momentum && first) buf_.setZero(n);
    const T lr = static_cast<T>(this->lr_);
    const T wd = static_cast<T>(opt_.weight_decay);
    const T mu = static_cast<T>(opt_.momentum);
    const T one_minus_tau = static_cast<T>(1.0 - opt_.dampening);
    const bool decay = opt_.weight_decay != 0.0;
    const bool nesterov = opt_.nesterov;
    T* p = params.data();
    const T* g = grads.data();
    T* b = buf_.data();
    this->mask_.for_each_range(n, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        T d = g[i];
        if (decay) d = d + wd * p[i];
        if (use_momentum) {
          b[i] = first ? d : mu * b[i] + one_minus_tau * d;
          d = nesterov ? d + mu * b[i] : b[i];
        }
        p[i] = p[i] + (-lr) * d;
      }
    });
    ++this->steps_;
  }

 private:
  SGDOptions opt_;
  Vector<T> buf_;
};

}  // namespace jacnet::train
