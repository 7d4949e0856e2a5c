#pragma once
// jacnet/train/schedule.hpp — learning-rate schedules: a pure function t ↦ γ(t) of a step counter.
//
// t counts whatever the caller steps the schedule by (epochs or optimizer steps), starting at 0.
// With base rate γ0:
//   constant:    γ(t) = γ0
//   step:        γ(t) = γ0 · gammaᶠˡᵒᵒʳ⁽ᵗ ᐟ ˢᵗᵉᵖ⁾                         (torch StepLR)
//   multi_step:  γ(t) = γ0 · gammaᵏ, k = number of milestones ≤ t        (torch MultiStepLR)
//   cosine:      γ(t) = γmin + (γ0 − γmin) · (1 + cos(π · t / T)) / 2,   γ(t ≥ T) = γmin
//                (torch CosineAnnealingLR's closed form, held at γmin after T)
// Optional linear warm-up over the first W steps (torch LinearLR): for t < W,
//   γ(t) = γ0 · (f + (1 − f) · t / W)      (f = warmup_start_factor, default 0)
// after which the main schedule runs on t − W (so a cosine schedule's T counts steps after
// warm-up; total length W + T).
//
//   auto sched = train::Schedule::cosine(1e-3, /*T=*/1000).with_warmup(100);
//   opt.set_lr(sched(step));
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"

namespace jacnet::train {

class Schedule {
 public:
  enum class Kind { kConstant, kStep, kMultiStep, kCosine };

  static Schedule constant(double lr) { return Schedule(Kind::kConstant, lr); }

  /// γ0 multiplied by gamma every `step_size` steps.
  static Schedule step(double lr, std::int64_t step_size, double gamma = 0.1) {
    JACNET_CHECK(step_size > 0, ValueError, "Schedule::step", "step_size ", step_size,
                 " is not positive");
    JACNET_CHECK(gamma >= 0.0, ValueError, "Schedule::step", "gamma ", gamma, " is negative");
    Schedule s(Kind::kStep, lr);
    s.step_size_ = step_size;
    s.gamma_ = gamma;
    return s;
  }

  /// γ0 multiplied by gamma at each milestone (e.g. the paper's 1e-3 → 1e-4 at epoch 400).
  static Schedule multi_step(double lr, std::vector<std::int64_t> milestones, double gamma = 0.1) {
    JACNET_CHECK(gamma >= 0.0, ValueError, "Schedule::multi_step", "gamma ", gamma, " is negative");
    for (std::size_t i = 0; i < milestones.size(); ++i) {
      JACNET_CHECK(milestones[i] >= 0, ValueError, "Schedule::multi_step", "milestone ",
                   milestones[i], " is negative");
      JACNET_CHECK(i == 0 || milestones[i - 1] < milestones[i], ValueError, "Schedule::multi_step",
                   "milestones must increase strictly (", milestones[i - 1], " then ",
                   milestones[i], ")");
    }
    Schedule s(Kind::kMultiStep, lr);
    s.milestones_ = std::move(milestones);
    s.gamma_ = gamma;
    return s;
  }

  /// Cosine annealing from γ0 to lr_min over `length` steps, then held at lr_min.
  static Schedule cosine(double lr, std::int64_t length, double lr_min = 0.0) {
    JACNET_CHECK(length > 0, ValueError, "Schedule::cosine", "length ", length, " is not positive");
    JACNET_CHECK(lr_min >= 0.0 && lr_min <= lr, ValueError, "Schedule::cosine", "lr_min ", lr_min,
                 " is not in [0, lr = ", lr, "]");
    Schedule s(Kind::kCosine, lr);
    s.length_ = length;
    s.lr_min_ = lr_min;
    return s;
  }

  /// The same schedule preceded by a linear warm-up from start_factor·γ0 to γ0 over `steps` steps.
  Schedule with_warmup(std::int64_t steps, double start_factor = 0.0) const {
    JACNET_CHECK(steps >= 0, ValueError, "Schedule::with_warmup", "warm-up steps ", steps,
                 " is negative");
    JACNET_CHECK(0.0 <= start_factor && start_factor <= 1.0, ValueError, "Schedule::with_warmup",
                 "start_factor ", start_factor, " is not in [0, 1]");
    Schedule s = *this;
    s.warmup_ = steps;
    s.warmup_start_ = start_factor;
    return s;
  }

  /// Learning rate at step t ≥ 0.
  double operator()(std::int64_t t) const {
    JACNET_CHECK(t >= 0, ValueError, "Schedule", "step ", t, " is negative");
    if (t < warmup_)
      return lr_ * (warmup_start_ +
                    (1.0 - warmup_start_) * static_cast<double>(t) / static_cast<double>(warmup_));
    t -= warmup_;
    switch (kind_) {
      case Kind::kConstant:
        return lr_;
      case Kind::kStep:
        return lr_ * std::pow(gamma_, static_cast<double>(t / step_size_));
      case Kind::kMultiStep: {
        const auto k =
            std::upper_bound(milestones_.begin(), milestones_.end(), t) - milestones_.begin();
        return lr_ * std::pow(gamma_, static_cast<double>(k));
      }
      case Kind::kCosine:
        if (t >= length_) return lr_min_;
        return lr_min_ + (lr_ - lr_min_) *
                             (1.0 + std::cos(std::numbers::pi * static_cast<double>(t) /
                                             static_cast<double>(length_))) /
                             2.0;
    }
    return lr_;
  }

  Kind kind() const { return kind_; }
  double base_lr() const { return lr_; }
  std::int64_t warmup_steps() const { return warmup_; }

  /// One-line description, e.g. "cosine(lr=0.001, T=1000, lr_min=0) + warmup(100, from 0)".
  std::string str() const {
    std::ostringstream os;
    switch (kind_) {
      case Kind::kConstant:
        os << "constant(lr=" << lr_ << ")";
        break;
      case Kind::kStep:
        os << "step(lr=" << lr_ << ", every " << step_size_ << ", gamma=" << gamma_ << ")";
        break;
      case Kind::kMultiStep:
        os << "multi_step(lr=" << lr_ << ", at";
        for (auto m : milestones_) os << ' ' << m;
        os << ", gamma=" << gamma_ << ")";
        break;
      case Kind::kCosine:
        os << "cosine(lr=" << lr_ << ", T=" << length_ << ", lr_min=" << lr_min_ << ")";
        break;
    }
    if (warmup_ > 0) os << " + warmup(" << warmup_ << ", from " << warmup_start_ << ")";
    return os.str();
  }

 private:
  Schedule(Kind k, double lr) : kind_(k), lr_(lr) {
    JACNET_CHECK(lr >= 0.0, ValueError, "Schedule", "learning rate ", lr, " is negative");
  }

  Kind kind_;
  double lr_;
  double gamma_ = 1.0;
  std::int64_t step_size_ = 1;
  std::vector<std::int64_t> milestones_;
  std::int64_t length_ = 1;
  double lr_min_ = 0.0;
  std::int64_t warmup_ = 0;
  double warmup_start_ = 0.0;
};

}  // namespace jacnet::train
