#pragma once
// apps/fashion/grid.hpp — the experiment grid across ranks and threads, with checkpoints.
//
// A protocol is a list of independent runs ("tasks" 0..n−1: method × N × seed, λ × seed, ...);
// each run is a pure function of (configuration, task index): its subset, initial parameters,
// batch order and noise draws all come from seeds derived from the index. So:
//  * Distribution over ranks: the tasks not yet done are assigned longest-processing-time first
//    (LPT) from a cost estimate known before running (the protocol's `cost(task)`, e.g. training
//    rows × a method factor): tasks in decreasing cost (ties: task order) each go to the rank with
//    the least cost so far (ties: the lowest rank). Static and deterministic (every rank computes
//    the same assignment); every rank returns fixed-width records [task, seconds, values...] and
//    an allgatherv puts them together on every rank. The table is assembled by task index, so it
//    is the same bits for any P and any assignment.
//  * Threads inside a rank: the rank's tasks run concurrently, one per thread (an OpenMP region
//    of nn::max_threads() threads, at most one per task), each thread taking the next task of the
//    rank's list (cost descending) from a shared counter. Inside the region every jacnet pass runs
//    on its calling thread (nn::max_threads() is 1 there), so a run is single-threaded and its bits
//    are those of a run alone. Shared per-rank data of several runs (a subset and the teacher's
//    recordings on it) goes through SharedPerKey: computed once, by the first run that needs it.
//  * Checkpoints: after each run a rank rewrites <out>/checkpoint/rank-<r>.json atomically
//    (io::write_file_atomic: a kill -9 leaves the previous file or the new one, never half of
//    one) with the configuration and every finished run's record; the threads of a rank take
//    turns (a mutex). The position in the grid is the set of finished tasks; parameters,
//    optimizer state and RNG state of a run are never needed after it ends, and a run cut off by a
//    kill restarts from its own seeds, which gives the same bits. `--resume` reads all rank files
//    (any earlier P and thread count), skips the finished tasks and runs the rest. Records store
//    doubles as JSON numbers with 17 significant digits (exact round trip).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet::fashion {

class Checkpoint {
 public:
  /// dir: the checkpoint folder. resume: load the records of every rank file, which must have
  /// been written for `config` (else IoError naming the file and the first differing key);
  /// otherwise rank 0 removes the folder. Both end with a barrier.
  Checkpoint(const Comm& comm, std::filesystem::path dir, nlohmann::json config, bool resume);

  /// The record of a finished task (null if none). Not to be called while runs record.
  const std::vector<double>* find(const std::string& protocol, std::size_t task) const;
  /// Adds a finished task's record and rewrites this rank's file atomically. Thread-safe: the
  /// threads of a rank take turns (the file always holds every record added before it).
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
  std::mutex write_;  ///< record(): one thread at a time
};

struct GridResults {
  std::vector<std::vector<double>> values;  ///< [task] → the run's values
  std::vector<double> seconds;              ///< [task] → wall time of the run (0 if restored)
  std::size_t restored = 0;
  std::size_t concurrent = 0;  ///< the most runs this rank had going at once

  /// run.json's entry of a grid: run_seconds, restored_runs, concurrent_runs (this rank's).
  nlohmann::json log() const {
    return {{"run_seconds", seconds}, {"restored_runs", restored}, {"concurrent_runs", concurrent}};
  }
};

/// The ranks of a grid's pending tasks by LPT: tasks in decreasing `cost` (ties: task order), each
/// to the rank with the least cost so far (ties: the lowest rank). Returns, per rank, its tasks in
/// that order. A function of (pending, cost, ranks) only. ValueError for a cost that is negative
/// or not finite.
std::vector<std::vector<std::size_t>> assign_lpt(std::span<const std::size_t> pending,
                                                 std::span<const double> cost, std::size_t ranks);

/// One grid: the tasks 0..tasks−1 of `protocol`, `width` values each, spread over the ranks of
/// `comm` (assign_lpt with `cost`; empty = every task costs the same) and run concurrently on
/// each rank's threads. Tasks in the checkpoint are not run again.
class Grid {
 public:
  Grid(const Comm& comm, Checkpoint& checkpoint, std::string protocol, std::size_t tasks,
       std::size_t width, const std::function<double(std::size_t)>& cost = {});

  /// This rank's tasks, in the order its threads start them.
  const std::vector<std::size_t>& mine() const { return mine_; }

  /// Runs this rank's tasks (run(task) returns `width` values; it is called from several threads
  /// at once, so it may share only read-only data or SharedPerKey values) and gathers every
  /// rank's records: every rank gets all results. An exception in a run stops this rank's
  /// threads from starting further runs and is rethrown here once the running ones are done.
  GridResults run(const std::function<std::vector<double>(std::size_t)>& run);

 private:
  const Comm& comm_;
  Checkpoint& checkpoint_;
  std::string protocol_;
  std::size_t tasks_, width_;
  GridResults out_;
  std::vector<std::size_t> pending_, mine_;
};

/// Grid(comm, checkpoint, protocol, tasks, width, cost).run(run).
GridResults run_grid(const Comm& comm, Checkpoint& checkpoint, const std::string& protocol,
                     std::size_t tasks, std::size_t width,
                     const std::function<std::vector<double>(std::size_t)>& run,
                     const std::function<double(std::size_t)>& cost = {});

/// Data shared by several runs of a grid on one rank (e.g. a training subset and the teacher's
/// outputs and Jacobians on it, one per (N, seed)), keyed by key_of(task). Thread-safe: the first
/// run of a key computes the value (make(key), once; runs of other keys go on meanwhile, runs of
/// the same key wait for it); the value is dropped when the last of the announced tasks of its key
/// has released it. Values are read-only (shared_ptr<const V>).
template <class V>
class SharedPerKey {
 public:
  /// tasks: every task that will acquire (e.g. Grid::mine()), each at most once.
  SharedPerKey(std::span<const std::size_t> tasks, std::function<std::size_t(std::size_t)> key_of)
      : key_of_(std::move(key_of)) {
    for (std::size_t t : tasks) ++entries_[key_of_(t)].unacquired;
  }

  /// Holds a value; releases it when destroyed.
  class Lease {
   public:
    Lease(SharedPerKey* owner, std::size_t key, std::shared_ptr<const V> value)
        : owner_(owner), key_(key), value_(std::move(value)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { owner_->release(key_); }
    const V& operator*() const { return *value_; }
    const V* operator->() const { return value_.get(); }

   private:
    SharedPerKey* owner_;
    std::size_t key_;
    std::shared_ptr<const V> value_;
  };

  /// The value of task's key (make(key) → V on the key's first acquisition).
  template <class Make>
  Lease acquire(std::size_t task, Make&& make) {
    const std::size_t key = key_of_(task);
    Entry* e = nullptr;
    {
      std::lock_guard lock(mutex_);
      const auto it = entries_.find(key);
      JACNET_CHECK(it != entries_.end() && it->second.unacquired > 0, ValueError,
                   "fashion::SharedPerKey", "task ", task, " (key ", key,
                   ") was not announced, or acquires twice");
      e = &it->second;
      --e->unacquired;
      ++e->held;
    }
    try {
      std::call_once(e->once, [&] { e->value = std::make_shared<const V>(make(key)); });
    } catch (...) {
      release(key);
      throw;
    }
    return Lease(this, key, e->value);
  }

 private:
  struct Entry {
    std::once_flag once;
    std::shared_ptr<const V> value;
    std::size_t unacquired = 0, held = 0;
  };
  void release(std::size_t key) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (--it->second.held == 0 && it->second.unacquired == 0) entries_.erase(it);
  }

  std::function<std::size_t(std::size_t)> key_of_;
  std::mutex mutex_;
  std::map<std::size_t, Entry> entries_;  // node-based: an Entry never moves
};

/// Writes one progress line to stderr in one piece (concurrent runs never interleave mid-line);
/// `line` ends without '\n'.
void progress_line(const std::string& line);

}  // namespace jacnet::fashion
