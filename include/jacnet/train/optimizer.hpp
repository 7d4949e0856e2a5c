#pragma once
// jacnet/train/optimizer.hpp — what every jacnet optimizer provides, and their shared bookkeeping.
//
// An optimizer updates a flat parameter vector θ in place from a gradient g of the same size:
//   opt.step(params, grads);   // θ ← update(θ, g, state); state sized on the first step
// Parameters and gradients are any contiguous Eigen vectors of the optimizer's scalar
// (jacnet::Vector<T>, an Eigen::Map of one such as net.params(), or a segment). The learning rate
// is read at every step, so a schedule sets it between steps: opt.set_lr(schedule(t)).
// Entries outside the optimizer's ParamMask are never touched and keep zero state.
// Concrete optimizers: train::SGD (sgd.hpp), train::Adam and train::AdamW (adam.hpp); both follow
// torch.optim's update formulas exactly (see docs/train.md).
#include <Eigen/Core>
#include <concepts>
#include <cstdint>
#include <utility>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/train/param_mask.hpp"

namespace jacnet::train {

template <class T>
using ParamRef = Eigen::Ref<Vector<T>>;
template <class T>
using ConstParamRef = Eigen::Ref<const Vector<T>>;

/// An optimizer over scalar O::Scalar.
template <class O>
concept Optimizer = requires(O& o, const O& co, ParamRef<typename O::Scalar> p,
                             const ConstParamRef<typename O::Scalar>& g, double lr, ParamMask m) {
  typename O::Scalar;
  o.step(p, g);
  { co.lr() } -> std::convertible_to<double>;
  o.set_lr(lr);
  o.set_mask(std::move(m));
  o.reset();
  { co.steps() } -> std::convertible_to<std::int64_t>;
};

namespace detail {

/// Shared state of the optimizers: learning rate, mask, step counter and size checks.
template <class T>
class OptimizerBase {
 public:
  using Scalar = T;

  double lr() const { return lr_; }
  void set_lr(double lr) {
    JACNET_CHECK(lr >= 0.0, ValueError, name_, "learning rate ", lr, " is negative");
    lr_ = lr;
  }
  /// Restrict updates to the mask's ranges. Changing the mask keeps the state of entries that
  /// stay trainable; entries that become trainable start from zero state.
  void set_mask(ParamMask mask) { mask_ = std::move(mask); }
  const ParamMask& mask() const { return mask_; }
  /// Number of steps taken since construction or reset().
  std::int64_t steps() const { return steps_; }

 protected:
  OptimizerBase(const char* name, double lr) : name_(name) { set_lr(lr); }

  /// Checks sizes at the start of a step; returns the size. `state_size` is the size of the
  /// optimizer's state vectors (0 before the first step).
  Index check_step(Index params, Index grads, Index state_size) const {
    JACNET_CHECK(params == grads, ShapeError, name_, "step: ", params, " parameters but ", grads,
                 " gradient entries");
    JACNET_CHECK(state_size == 0 || state_size == params, ShapeError, name_,
                 "step: optimizer state has ", state_size, " entries but the parameter vector has ",
                 params, " (call reset() before reusing an optimizer on another net)");
    if (!mask_.is_all())
      JACNET_CHECK(mask_.size() == params, ShapeError, name_, "step: mask built for ", mask_.size(),
                   " parameters but the parameter vector has ", params);
    return params;
  }

  const char* name_;
  double lr_ = 0.0;
  ParamMask mask_;
  std::int64_t steps_ = 0;
};

}  // namespace detail
}  // namespace jacnet::train
