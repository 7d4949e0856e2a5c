#pragma once
// jacnet/train/fit_options.hpp — what train::fit is asked to do (train/fit.hpp): length (epochs or
// steps), batches, seed, the non-finite policy, progress, checkpoints, the per-epoch callback.
#include <cstdint>
#include <functional>
#include <iosfwd>

#include "jacnet/core/tensor.hpp"
#include "jacnet/train/checkpoint.hpp"
#include "jacnet/train/history.hpp"
#include "jacnet/train/progress.hpp"

namespace jacnet::train {

/// What fit does when a batch's loss or gradient is NaN or infinite.
enum class NonFinite {
  stop,  ///< throw NonFiniteError (default)
  skip,  ///< skip the batch: no optimizer step, EpochRecord::skipped += 1
};

struct FitOptions {
  std::int64_t epochs = 0;  ///< whole epochs to run, or
  std::int64_t steps = 0;   ///< batches to run (exactly one of epochs and steps is positive)
  Index batch_size = 128;
  std::uint64_t seed = 0;  ///< batch order and the loss workspace's random draws
  bool drop_last = false;
  bool schedule_per_step = false;  ///< schedule(t) counts optimizer steps instead of epochs
  Index accuracy_outputs = 0;      ///< argmax over the first k outputs (0: all outputs)
  NonFinite on_nonfinite = NonFinite::stop;
  ProgressOptions progress{};
  std::ostream* progress_stream = nullptr;       ///< default std::cerr
  CheckpointOptions checkpoint{};                ///< checkpoints inside the run, resume
  std::function<bool(EpochRecord&)> on_epoch{};  ///< after each epoch; false stops training
};

}  // namespace jacnet::train
