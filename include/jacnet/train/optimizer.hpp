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
#include "jacnet/core/third_party.hpp"  // <Eigen/Core>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

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

/// An optimizer whose state can be saved and restored (train/checkpoint.hpp, FitOptions::checkpoint):
///   describe()       the options that shape the update, e.g. "SGD(momentum=0.9, dampening=0,
///                    weight_decay=0, nesterov=false)" (not the rate: the schedule sets it)
///   state_vectors()  named views of its state vectors (empty before the first step)
///   restore_state(steps, vectors)  the inverse: steps() and the vectors, names and sizes checked
template <class O>
concept StatefulOptimizer =
    Optimizer<O> && requires(O& o, const O& co, std::int64_t steps,
                             const std::vector<std::pair<std::string, Vector<typename O::Scalar>>>& v) {
  { co.describe() } -> std::convertible_to<std::string>;
  { co.state_vectors() } -> std::convertible_to<
      std::vector<std::pair<std::string, const Vector<typename O::Scalar>*>>>;
  o.restore_state(steps, v);
};

namespace detail {

/// "%.17g" of a double (exact round trip), for describe().
inline std::string fmt_exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

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

  /// Restores the step count and the state vectors `want` (name → destination) from `v`: the
  /// names must be exactly those of `want` (in any order), each vector empty or of one common size.
  void restore_vectors(std::int64_t steps,
                       const std::vector<std::pair<std::string, Vector<T>>>& v,
                       const std::vector<std::pair<std::string, Vector<T>*>>& want) {
    JACNET_CHECK(steps >= 0, ValueError, name_, "restore_state: step count ", steps,
                 " is negative");
    JACNET_CHECK(v.size() == want.size(), ValueError, name_, "restore_state: ", v.size(),
                 " state vectors given, ", name_, " has ", want.size());
    Index size = -1;
    for (const auto& [name, dst] : want) {
      const Vector<T>* src = nullptr;
      for (const auto& [n, x] : v)
        if (n == name) src = &x;
      JACNET_CHECK(src != nullptr, ValueError, name_, "restore_state: state vector '", name,
                   "' is missing");
      if (src->size() > 0) {
        JACNET_CHECK(size < 0 || size == src->size(), ShapeError, name_, "restore_state: '", name,
                     "' has ", src->size(), " entries, another state vector has ", size);
        size = src->size();
      }
    }
    for (const auto& [name, dst] : want)
      for (const auto& [n, x] : v)
        if (n == name) *dst = x;
    steps_ = steps;
  }

  const char* name_;
  double lr_ = 0.0;
  ParamMask mask_;
  std::int64_t steps_ = 0;
};

}  // namespace detail
}  // namespace jacnet::train
