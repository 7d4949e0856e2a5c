#pragma once
// jacnet/train/history.hpp — what train::fit returns: one record per epoch (train/fit.hpp), also
// stored in fit checkpoints (train/checkpoint.hpp).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::train {

/// One epoch of a fit (with FitOptions::steps the last one may be partial: `samples` says).
struct EpochRecord {
  std::int64_t epoch = 0;
  double lr = 0.0;            ///< rate at the epoch's first step
  double loss = NAN;          ///< mean of the total loss over the epoch's samples
  std::vector<double> terms;  ///< mean unweighted value of each term (History::term_names)
  double accuracy = NAN;      ///< running training accuracy (outputs before each step)
  Index samples = 0;
  Index skipped = 0;  ///< batches skipped for a non-finite loss or gradient (NonFinite::skip)
  double seconds = 0.0;   ///< wall time (the only field that differs between equal runs)
  double val_loss = NAN;  ///< for on_epoch to fill (fit leaves them NaN)
  double val_accuracy = NAN;
};

struct History {
  std::vector<std::string> term_names;
  std::vector<EpochRecord> epochs;
  std::int64_t iterations = 0;   ///< batches processed (each one optimizer step unless skipped)
  std::int64_t resumed_at = -1;  ///< iteration the run was resumed from a checkpoint at (-1: not)
  const EpochRecord& last() const {
    JACNET_CHECK(!epochs.empty(), ValueError, "train::History::last", "no epoch was run");
    return epochs.back();
  }
};

}  // namespace jacnet::train
