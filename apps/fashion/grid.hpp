#pragma once
// apps/fashion/grid.hpp — the experiment grid across ranks, with checkpoints.
//
// A protocol is a list of independent runs ("tasks" 0..n−1: method × N × seed, λ × seed, ...);
// each run is a pure function of (configuration, task index): its subset, initial parameters,
// batch order and noise draws all come from seeds derived from the index. So:
//  * Distribution: the tasks not yet done are numbered j = 0, 1, ... in task order and task j runs
//    on rank j mod P (static and deterministic); every rank returns fixed-width records
//    [task, seconds, values...] and an allgatherv puts them together on every rank in rank order.
//    The table is assembled by task index, so it is the same bits for any P.
//  * Checkpoints: after each run a rank rewrites <out>/checkpoint/rank-<r>.json atomically
//    (io::write_file_atomic: a kill -9 leaves the previous file or the new one, never half of
//    one) with the configuration and every finished run's record. The position in the grid is the
//    set of finished tasks; parameters, optimizer state and RNG state of a run are never needed
//    after it ends, and a run cut off by a kill restarts from its own seeds, which gives the same
//    bits. `--resume` reads all rank files (any earlier P), skips the finished tasks and runs the
//    rest. Records store doubles as JSON numbers with 17 significant digits (exact round trip).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm.hpp"

namespace jacnet::fashion {

class Checkpoint {
 public:
  /// dir: the checkpoint folder. resume: load the records of every rank file, which must have
  /// been written for `config` (else IoError naming the file and the first differing key);
  /// otherwise rank 0 removes the folder. Both end with a barrier.
  Checkpoint(const Comm& comm, std::filesystem::path dir, nlohmann::json config, bool resume);

  /// The record of a finished task (null if none).
  const std::vector<double>* find(const std::string& protocol, std::size_t task) const;
  /// Adds a finished task's record and rewrites this rank's file atomically.
  void record(const std::string& protocol, std::size_t task, std::vector<double> values);
  /// Records loaded by --resume.
  std::size_t restored() const { return restored_; }
  /// After the final outputs are written: barrier, then rank 0 removes the folder.
  void remove();

 private:
  const Comm& comm_;
  std::filesystem::path dir_;
  nlohmann::json config_;
  std::map<std::string, std::vector<double>> done_;
  std::size_t restored_ = 0;
};

struct GridResults {
  std::vector<std::vector<double>> values;  ///< [task] → the run's values
  std::vector<double> seconds;              ///< [task] → wall time of the run (0 if restored)
  std::size_t restored = 0;
};

/// Runs tasks 0..tasks−1 of `protocol` over the ranks of `comm` (each run returns `width`
/// values), skipping the ones in the checkpoint; every rank gets all results.
GridResults run_grid(const Comm& comm, Checkpoint& checkpoint, const std::string& protocol,
                     std::size_t tasks, std::size_t width,
                     const std::function<std::vector<double>(std::size_t)>& run);

}  // namespace jacnet::fashion
