#pragma once
// jacnet/nn/execution.hpp — how jacnet's passes use threads (docs/execution.md).
//
// Sample-shard parallelism: a pass (forward, seeded backward / Jacobian, second-order sweep,
// parameter gradient) splits the batch into a FIXED number of contiguous shards that depends on
// the batch size only (`make_shards`), never on the thread count. The shards of a pass are tasks
// of jacnet's own thread pool (core/thread_pool.hpp): the calling thread and the pool's workers
// claim whole shards one at a time and carry each through every layer of the pass serially
// (layer kernels and Eigen single-threaded inside, `SerialScope`). Parameter-gradient
// contributions go to one partial vector per shard and are summed in shard order at the end of
// the pass, so every result is bitwise the same for any number of threads, with
// OMP_NUM_THREADS=1 and when called from inside a user's own OpenMP region or thread (then the
// shards run one after the other on the calling thread).
//
// Threads: `max_threads()` = omp_get_max_threads() (OMP_NUM_THREADS, omp_set_num_threads), capped
// by `set_max_threads(n)` (0 = no cap); 1 inside an active OpenMP region or a task of the pool.
// Waiting is passive after a short spin (JACNET_SPIN_US, default 50 µs), whatever
// OMP_WAIT_POLICY says: jacnet opens no OpenMP region of its own.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>

#include "jacnet/core/tensor.hpp"
#include "jacnet/core/thread_pool.hpp"

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
/// 1 inside an active OpenMP region (a user's) or a task of jacnet's pool (a shard, a block).
inline int max_threads() {
  if (ThreadPool::in_task()) return 1;
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

/// True when a kernel may hand work to the pool: not in a SerialScope, not in a task of the
/// pool, not in an active OpenMP region, and more than one thread allowed.
inline bool may_fork() {
#ifdef _OPENMP
  return !in_serial_scope() && !ThreadPool::in_task() && !omp_in_parallel() && max_threads() > 1;
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

/// Multiply-adds below which a pass runs on the calling thread: handing shards to a worker costs
/// a few atomic operations when it is spinning and a futex wake when it sleeps, which passes
/// this small cannot recover. On a loaded machine a worker preempted holding a shard costs more;
/// the pool's back-off (core/thread_pool.hpp) then runs small passes serially. The shards are
/// the same either way (results do not change).
inline constexpr double kParallelPassWork = 1e6;

namespace detail {
/// kParallelPassWork, or the environment variable JACNET_MIN_PARALLEL_WORK (a number >= 0) when
/// set: read once, at the first pass.
inline double& min_parallel_work_ref() {
  static double w = [] {
    if (const char* s = std::getenv("JACNET_MIN_PARALLEL_WORK")) {
      char* end = nullptr;
      const double v = std::strtod(s, &end);
      if (end != s && *end == '\0' && v >= 0) return v;
    }
    return kParallelPassWork;
  }();
  return w;
}
}  // namespace detail
/// Passes estimated below `macs` multiply-adds run on the calling thread (default
/// kParallelPassWork or JACNET_MIN_PARALLEL_WORK; 0 lets every pass with several shards use
/// threads). Results never change.
inline void set_min_parallel_work(double macs) { detail::min_parallel_work_ref() = macs; }
inline double min_parallel_work() { return detail::min_parallel_work_ref(); }

namespace detail {
/// body(i) for i < n as tasks of the pool on up to nt threads (each task inside an
/// EigenSerialScope; `serial` adds a SerialScope); the first exception a task throws is rethrown
/// here once every task has run.
template <class Body>
void pool_run(int nt, Index n, Body& body, bool serial) {
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  auto task = [&](std::int64_t i) {
    try {
      if (serial) {
        SerialScope scope;
        body(static_cast<Index>(i));
      } else {
        [[maybe_unused]] EigenSerialScope scope;
        body(static_cast<Index>(i));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  };
  ThreadPool::instance().run(nt, n, task);
  if (failed.load(std::memory_order_relaxed)) std::rethrow_exception(error);
}
}  // namespace detail

/// One pass: shard(s) for every s < nshards (each exactly once, on any thread, inside a
/// SerialScope), then — after all shards are done — reduce(c) for every c < nreduce (same). The
/// shards and then the reduction steps are tasks of jacnet's pool on min(max_threads(), count)
/// threads (the calling thread included); on the calling thread alone when that is 1. An
/// exception thrown by a shard is rethrown on the calling thread once every shard has run (the
/// first one caught; the reduction is then skipped).
/// `work` (multiply-adds of the pass, an estimate; unknown = infinite) below min_parallel_work()
/// keeps it on the calling thread; a pass with a reduction hands work to the pool twice, so it
/// stays there below twice that (measured: MLP-32's training-step backward, 1.6·10⁶ multiply-adds
/// at B = 128, was slower on 2 threads than on 1).
template <class ShardBody, class ReduceBody>
void run_pass(Index nshards, ShardBody&& shard, Index nreduce, ReduceBody&& reduce,
              double work = std::numeric_limits<double>::infinity()) {
  const double floor = nreduce > 0 ? 2 * min_parallel_work() : min_parallel_work();
  const int nt = work < floor ? 1 : max_threads();
  detail::pool_run(static_cast<int>(std::min<Index>(nt, nshards)), nshards, shard, true);
  if (nreduce > 0)
    detail::pool_run(static_cast<int>(std::min<Index>(nt, nreduce)), nreduce, reduce, true);
}

/// run_pass without a reduction step.
template <class ShardBody>
void run_pass(Index nshards, ShardBody&& shard,
              double work = std::numeric_limits<double>::infinity()) {
  run_pass(nshards, shard, 0, [](Index) {}, work);
}

}  // namespace jacnet::nn
