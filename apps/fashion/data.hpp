#pragma once
// apps/fashion/data.hpp — data subsets and the student runs' fit options.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "config.hpp"
#include "jacnet/train/batches.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/schedule.hpp"
#include "jacnet/train/subset.hpp"
#include "nets.hpp"

namespace jacnet::fashion {

struct Data {
  Matrix<T> X;
  std::vector<int> y;
};

inline Data take(const Matrix<T>& X, const std::vector<int>& y, const std::vector<Index>& idx) {
  Data d;
  train::gather(X, y, std::span<const Index>(idx), d.X, d.y);
  return d;
}

/// The first `rows` samples (all of them when rows is 0 or larger than the set).
inline void truncate(Data& d, Index rows) {
  if (rows > 0 && d.X.rows() > rows) {
    d.X.conservativeResize(rows, Eigen::NoChange);
    d.y.resize(static_cast<std::size_t>(rows));
  }
}

/// Rows whose label is in [lo, lo + n), labels shifted to [0, n).
inline Data classes_range(const Matrix<T>& X, const std::vector<int>& y, int lo, int n) {
  std::vector<Index> idx;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] >= lo && y[i] < lo + n) idx.push_back(static_cast<Index>(i));
  Data d = take(X, y, idx);
  for (auto& l : d.y) l -= lo;
  return d;
}

/// Accuracy with argmax over the first k outputs (ties: the lowest index).
template <class Net>
double accuracy_first(const Net& net, const Data& d, Index k) {
  Index correct = 0;
  const Index B = 500;
  for (Index s = 0; s < d.X.rows(); s += B) {
    const Index r = std::min(B, d.X.rows() - s);
    const Matrix<T> Z = net.forward(Matrix<T>(d.X.middleRows(s, r)));
    for (Index i = 0; i < r; ++i) {
      Index a;
      Z.row(i).head(k).maxCoeff(&a);
      correct += a == d.y[static_cast<std::size_t>(s + i)];
    }
  }
  return double(correct) / double(d.X.rows());
}

/// Student runs: epochs chosen so that a run has at least min_steps steps (≤ max_epochs).
inline Index epochs_for(const Config& c, Index samples) {
  const Index per_epoch = (samples + c.batch - 1) / c.batch;
  return std::clamp<Index>((c.min_steps + per_epoch - 1) / per_epoch, 1, c.max_epochs);
}

/// Fit options of a student run; with the cosine schedule the rate is set per optimizer step.
inline train::FitOptions student_fit(const Config& c, Index samples, std::uint64_t seed) {
  train::FitOptions o{.epochs = epochs_for(c, samples), .batch_size = c.batch, .seed = seed};
  o.schedule_per_step = c.schedule == "cosine";
  o.progress.quiet = true;
  return o;
}

/// A student run's cost estimate, for the grid's assignment (grid.hpp; it never changes a result):
/// the rows it trains on — epochs × (samples + 32 per optimizer step, a step's fixed cost) — times
/// the method's factor (methods.hpp cost_factor), plus `eval_rows` (its evaluation, in the same
/// row units).
inline double student_cost(const Config& c, Index samples, double factor, double eval_rows) {
  const Index per_epoch = (samples + c.batch - 1) / c.batch;
  return factor * double(epochs_for(c, samples)) * double(samples + 32 * per_epoch) + eval_rows;
}

inline constexpr double kStudentLr = 1e-3;

/// The students' learning rate: Adam 1e-3, constant, or cosine-annealed to 0 over the run's
/// optimizer steps (epochs × ⌈samples / batch⌉; fit steps it per step, see student_fit).
inline train::Schedule student_schedule(const Config& c, const train::FitOptions& o,
                                        Index samples) {
  if (c.schedule != "cosine") return train::Schedule::constant(kStudentLr);
  const Index per_epoch = (samples + o.batch_size - 1) / o.batch_size;
  return train::Schedule::cosine(kStudentLr, o.epochs * per_epoch);
}

}  // namespace jacnet::fashion
