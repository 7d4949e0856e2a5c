#pragma once
// jacnet/nn/execution.hpp — how jacnet's passes use threads (docs/execution.md).
//
// Sample-shard parallelism: a pass (forward, seeded backward / Jacobian, second-order sweep,
// parameter gradient) splits the batch into a FIXED number of contiguous shards that depends on
// the batch size only (`make_shards`), never on the thread count. One OpenMP region per pass;
// its threads take whole shards (dynamic, one at a time) and carry each shard through every
// layer of the pass serially (layer kernels and Eigen single-threaded inside, `SerialScope`).
// Parameter-gradient contributions go to one partial vector per shard and are summed in shard
// order at the end of the pass, so every result is bitwise the same for any number of threads,
// with OMP_NUM_THREADS=1 and when called from inside a user's own OpenMP region (then the shards
// run one after the other on the calling thread).
//
// Threads: `max_threads()` = omp_get_max_threads() (OMP_NUM_THREADS, omp_set_num_threads), capped
// by `set_max_threads(n)` (0 = no cap); 1 inside an active parallel region.
#include <algorithm>
#include <exception>
#include <limits>

#include "jacnet/core/tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace jacnet::nn {

namespace detail {
inline int& thread_cap() {
  static int cap = 0;
  return cap;
}
inline int& serial_depth() {
  thread_local int depth = 0;
  return depth;
}
}  // namespace detail

/// Caps the threads of jacnet's passes at n (0 removes the cap; OpenMP's own setting remains
/// the upper bound). Not thread-safe against passes running concurrently.
inline void set_max_threads(int n) { detail::thread_cap() = std::max(0, n); }

/// Threads a pass started here may use: omp_get_max_threads() under the set_max_threads cap;
/// 1 inside an active OpenMP region (a user's own or one of jacnet's shards).
inline int max_threads() {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  int n = omp_get_max_threads();
#else
  int n = 1;
#endif
  const int cap = detail::thread_cap();
  if (cap > 0) n = std::min(n, cap);
  return std::max(1, n);
}

/// While alive, Eigen does not start threads from this thread (its thread count is the calling
/// thread's OpenMP nthreads ICV, which this sets to 1 and restores; per-thread state only).
class EigenSerialScope {
 public:
#ifdef _OPENMP
  EigenSerialScope() : saved_(omp_get_max_threads()) {
    if (saved_ != 1) omp_set_num_threads(1);
  }
  ~EigenSerialScope() {
    if (saved_ != 1) omp_set_num_threads(saved_);
  }
  EigenSerialScope(const EigenSerialScope&) = delete;
  EigenSerialScope& operator=(const EigenSerialScope&) = delete;

 private:
  int saved_;
#endif
};

/// While alive on a thread, jacnet's kernels (parallel_for, gemm, convolution and pooling loops)
/// run on that thread only, GEMMs as one Eigen product each, and Eigen starts no threads. Every
/// shard of a pass runs inside one, whatever the thread count, so the arithmetic of a shard is
/// always the same.
class SerialScope {
 public:
  SerialScope() { ++detail::serial_depth(); }
  ~SerialScope() { --detail::serial_depth(); }
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  EigenSerialScope eigen_;
};

/// True inside a SerialScope on this thread.
inline bool in_serial_scope() { return detail::serial_depth() > 0; }

/// True when a kernel may open its own OpenMP team: not in a SerialScope, not in an active region.
inline bool may_fork() {
#ifdef _OPENMP
  return !in_serial_scope() && !omp_in_parallel();
#else
  return false;
#endif
}

/// Samples per shard aimed at (a shard of 32 samples keeps GEMMs of 32·K rows efficient) and the
/// most shards a batch is split into (enough for 8 threads; each shard costs one partial
/// parameter-gradient vector in passes that compute gradients).
inline constexpr Index kShardSamples = 32;
inline constexpr Index kMaxShards = 8;

/// A fixed split of `batch` samples into `count` contiguous shards: shard s holds samples
/// [begin(s), end(s)). A function of the batch size only.
struct Shards {
  Index batch = 0;
  Index count = 1;
  Index begin(Index s) const { return batch * s / count; }
  Index end(Index s) const { return batch * (s + 1) / count; }
  Index size(Index s) const { return end(s) - begin(s); }
};

/// The shards of a batch of B samples: max(1, min(kMaxShards, B / kShardSamples)).
inline Shards make_shards(Index B) {
  Shards s;
  s.batch = B;
  s.count = std::clamp<Index>(B / kShardSamples, 1, kMaxShards);
  return s;
}

/// Multiply-adds below which a pass runs on the calling thread: waking a second thread and
/// joining it costs microseconds on an idle machine but up to a scheduler time slice (ms) on a
/// loaded one, which passes this small (e.g. a 32-64-64-4 MLP at batch 128) cannot recover.
/// The shards are the same either way (results do not change).
inline constexpr double kParallelPassWork = 2e7;

namespace detail {
inline double& min_parallel_work_ref() {
  static double w = kParallelPassWork;
  return w;
}
}  // namespace detail
/// Passes estimated below `macs` multiply-adds run on the calling thread (default
/// kParallelPassWork; 0 lets every pass with several shards use threads). Results never change.
inline void set_min_parallel_work(double macs) { detail::min_parallel_work_ref() = macs; }
inline double min_parallel_work() { return detail::min_parallel_work_ref(); }

/// One pass: shard(s) for every s < nshards (each exactly once, on any thread, inside a
/// SerialScope), then — after all shards are done — reduce(c) for every c < nreduce (same). One
/// OpenMP region with min(max_threads(), nshards) threads; serial on the calling thread when
/// that is 1. An exception thrown by a shard is rethrown on the calling thread once every shard
/// has run (the first one caught; the reduction is then skipped).
/// `work` (multiply-adds of the pass, an estimate; unknown = infinite) below min_parallel_work()
/// keeps it on the calling thread.
template <class ShardBody, class ReduceBody>
void run_pass(Index nshards, ShardBody&& shard, Index nreduce, ReduceBody&& reduce,
              double work = std::numeric_limits<double>::infinity()) {
  const int nt = work < min_parallel_work()
                     ? 1
                     : static_cast<int>(
                           std::min<Index>(max_threads(), std::max<Index>(nshards, nreduce)));
  std::exception_ptr error;
  auto guarded = [&](auto&& f, Index i) {
    try {
      f(i);
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(jacnet_run_pass_error)
#endif
      if (!error) error = std::current_exception();
    }
  };
  if (nt <= 1) {
    SerialScope serial;
    for (Index s = 0; s < nshards; ++s) guarded(shard, s);
    if (!error)
      for (Index c = 0; c < nreduce; ++c) guarded(reduce, c);
  } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
      SerialScope serial;
#pragma omp for schedule(dynamic, 1)
      for (Index s = 0; s < nshards; ++s) guarded(shard, s);
      if (nreduce > 0 && !error) {  // (the same on every thread: set before the barrier)
#pragma omp for schedule(static)
        for (Index c = 0; c < nreduce; ++c) guarded(reduce, c);
      }
    }
#endif
  }
  if (error) std::rethrow_exception(error);
}

/// run_pass without a reduction step.
template <class ShardBody>
void run_pass(Index nshards, ShardBody&& shard,
              double work = std::numeric_limits<double>::infinity()) {
  run_pass(nshards, shard, 0, [](Index) {}, work);
}

}  // namespace jacnet::nn
