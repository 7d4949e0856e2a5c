#pragma once
// jacnet/core/thread_pool.hpp — jacnet's own worker threads (docs/execution.md).
//
// `ThreadPool::run(nthreads, n, task)` calls task(i) exactly once for every i < n, on the calling
// thread and up to nthreads - 1 persistent workers, and returns when every call has returned.
// Tasks are claimed one at a time from a shared counter, so the caller never waits for a worker
// that has not started: a worker that is asleep or preempted when a job is published simply
// claims nothing, and the caller runs the tasks itself. The caller only waits for tasks a worker
// has claimed and not finished.
//
// Waiting is passive after a short spin: a worker spins for about `spin` (default 50 µs; the
// environment variable JACNET_SPIN_US overrides it, 0 = sleep at once) after its last task, then
// sleeps on a futex (C++20 std::atomic::wait) until the next job; the caller waits for claimed
// tasks the same way. A pass therefore never keeps a core busy beyond the spin — unlike libgomp
// with OMP_WAIT_POLICY unset, whose team spins for milliseconds and can only be told otherwise
// before the process starts.
//
// Back-off beside competing processes: a job whose caller, after running its own tasks, had to
// wait for a worker's task longer than max(its own work, 100 µs) counts as a *stall* (the worker
// was preempted holding a task: on a shared machine that can cost a scheduler time slice, many
// times a small job). After a stall the next jobs run serially on their callers for a back-off
// period (2 ms, doubling with every further stall up to 1 s; back to 2 ms after a job without a
// stall). Idle machines never stall, so they never back off; an oversubscribed one runs small
// jobs serially most of the time and probes again at most once per back-off period. Which thread
// runs a task never changes what it computes, so this changes timing only, never results.
//
// One job at a time: a second thread calling run() while a job runs gets its tasks run serially
// on its own thread (same results: which thread runs a task never changes what it computes).
// Scratch: while a thread holds a job it uses scratch slot 0, worker k slot k + 1; at every job
// start the slots are grown to the largest sizes asked so far (core/thread_scratch.hpp).
// Workers are created on first use (as many as asked for, never more than kMaxWorkers) and joined
// when the program ends; a child process after fork() starts with a fresh pool.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>

#include "jacnet/core/thread_scratch.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JACNET_CPU_RELAX() _mm_pause()
#else
#define JACNET_CPU_RELAX() ((void)0)
#endif

namespace jacnet {

class ThreadPool {
 public:
  /// Most worker threads a pool starts (the caller is one more).
  static constexpr int kMaxWorkers = 63;
  /// Most tasks of one job (the ticket packs the task index into 16 bits).
  static constexpr std::int64_t kMaxTasks = 0xFFFF;
  static_assert(kMaxWorkers + 1 <= detail::kScratchSlots, "a scratch slot per worker and caller");

  /// The process's pool.
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  /// True on a pool worker thread and on a caller while it runs tasks of a job.
  static bool in_task() { return task_depth() > 0; }

  /// task(i) for every i < n on the calling thread and at most nthreads - 1 workers; returns
  /// when all have returned. task must not throw (wrap it). n > kMaxTasks, nthreads <= 1, a
  /// call from inside a task, or another job running: the tasks run here, in order.
  template <class Task>
  void run(int nthreads, std::int64_t n, Task& task) {
    if (n <= 0) return;
    std::unique_lock<std::mutex> lock(job_mutex_, std::defer_lock);
    if (nthreads <= 1 || n == 1 || n > kMaxTasks || in_task() || !lock.try_lock()) {
      TaskScope scope;
      for (std::int64_t i = 0; i < n; ++i) task(i);
      return;
    }
    const auto start = Clock::now();
    const int helpers =
        start < backoff_until_ ? 0 : ensure_workers(std::min(nthreads - 1, kMaxWorkers));
    // This thread uses scratch slot 0 while it holds the job; every slot is brought up to the
    // largest sizes asked so far, so which thread runs which task never makes a task allocate
    // (core/thread_scratch.hpp). Nothing runs tasks of the pool now: no slot is in use.
    SlotScope slot;
    const int nslots = 1 + static_cast<int>(workers_.size());
    scratch_epoch_ = equalize_scratch(nslots, nslots == scratch_slots_ ? scratch_epoch_ : ~0ull);
    scratch_slots_ = nslots;
    if (helpers == 0) {
      TaskScope scope;
      for (std::int64_t i = 0; i < n; ++i) task(i);
      return;
    }
    call_ = [](void* ctx, std::int64_t i) { (*static_cast<Task*>(ctx))(i); };
    ctx_ = &task;
    helpers_.store(helpers, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const std::uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
    ticket_.store(pack(gen, n, 0), std::memory_order_release);
    // seq_cst: a full barrier between publishing and notify_all's check for sleeping waiters
    // (with a release store that check could run first and miss a worker going to sleep; the
    // worker would only sit this job out — the caller never waits for unclaimed tasks).
    generation_.store(gen, std::memory_order_seq_cst);
    generation_.notify_all();
    jobs_.fetch_add(1, std::memory_order_relaxed);
    job_tasks_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    {
      TaskScope scope;
      work_on(gen, false);
    }
    // Wait for the tasks workers claimed: spin briefly, then sleep until the last one is done.
    const auto un = static_cast<std::uint32_t>(n);
    std::uint32_t d = done_.load(std::memory_order_acquire);
    if (d == un) {
      backoff_ = kFirstBackoff;
      return;
    }
    const auto t0 = Clock::now();
    for (int k = 0; d != un; ++k) {
      JACNET_CPU_RELAX();
      d = done_.load(std::memory_order_acquire);
      if ((k & 63) == 63 && Clock::now() - t0 > spin_) break;
    }
    while (d != un) {
      done_.wait(d, std::memory_order_acquire);
      d = done_.load(std::memory_order_acquire);
    }
    const auto t1 = Clock::now();
    if (t1 - t0 > std::max<Clock::duration>(t0 - start, kMinStall)) {
      stalls_.fetch_add(1, std::memory_order_relaxed);
      backoff_until_ = t1 + backoff_;
      backoff_ = std::min<Clock::duration>(2 * backoff_, kMaxBackoff);
    } else {
      backoff_ = kFirstBackoff;
    }
  }

  /// Jobs so far whose caller waited for a preempted worker (see "Back-off" above).
  std::uint64_t stalls() const { return stalls_.load(std::memory_order_relaxed); }
  /// Jobs so far handed to workers, their tasks, and how many of those tasks workers ran (the
  /// rest ran on the callers): counters for benchmarks and diagnostics.
  std::uint64_t parallel_jobs() const { return jobs_.load(std::memory_order_relaxed); }
  std::uint64_t parallel_job_tasks() const { return job_tasks_.load(std::memory_order_relaxed); }
  std::uint64_t worker_tasks() const { return worker_tasks_.load(std::memory_order_relaxed); }

  /// Workers started so far.
  int workers() const { return static_cast<int>(workers_.size()); }

  ~ThreadPool() { stop(); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  ThreadPool() {
    auto micros = [](const char* name, std::chrono::steady_clock::duration& out) {
      if (const char* s = std::getenv(name)) {
        char* end = nullptr;
        const long us = std::strtol(s, &end, 10);
        if (end != s && *end == '\0' && us >= 0 && us <= 1000000)
          out = std::chrono::microseconds(us);
      }
    };
    micros("JACNET_SPIN_US", spin_);
    static std::once_flag once;
    std::call_once(once, [] {
      pthread_atfork(nullptr, nullptr, [] { instance().forget_workers(); });
    });
  }

  struct SlotScope {
    int saved = detail::scratch_slot();
    SlotScope() { detail::scratch_slot() = 0; }
    ~SlotScope() { detail::scratch_slot() = saved; }
  };
  struct TaskScope {
    TaskScope() { ++task_depth(); }
    ~TaskScope() { --task_depth(); }
  };
  static int& task_depth() {
    thread_local int depth = 0;
    return depth;
  }

  // ticket = generation (32 bits) | task count (16) | next task index (16).
  static std::uint64_t pack(std::uint32_t gen, std::int64_t n, std::int64_t next) {
    return (std::uint64_t(gen) << 32) | (std::uint64_t(n) << 16) | std::uint64_t(next);
  }

  /// Claims and runs tasks of job `gen` until none is left (or a newer job replaced it). A task
  /// claimed belongs to `gen`: the job cannot finish, and call_/ctx_ cannot change, before it is
  /// done.
  void work_on(std::uint32_t gen, bool worker) {
    std::uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if (std::uint32_t(t >> 32) != gen) return;
      const std::uint64_t n = (t >> 16) & 0xFFFF, next = t & 0xFFFF;
      if (next >= n) return;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        continue;
      call_(ctx_, static_cast<std::int64_t>(next));
      if (worker) worker_tasks_.fetch_add(1, std::memory_order_relaxed);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) done_.notify_one();
      t = ticket_.load(std::memory_order_acquire);
    }
  }

  int ensure_workers(int want) {
    while (static_cast<int>(workers_.size()) < want) {
      const int id = static_cast<int>(workers_.size());
      try {
        workers_.emplace_back([this, id] { worker_loop(id); });
      } catch (...) {  // no more threads (resource limits): use those we have
        break;
      }
    }
    return std::min(want, static_cast<int>(workers_.size()));
  }

  void worker_loop(int id) {
    ++task_depth();  // a worker's whole life counts as inside a task
    detail::scratch_slot() = id + 1;
    std::uint32_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      // Checked before every wait: a worker that starts only after stop() has bumped the
      // generation reads the bumped value as `seen` and would otherwise sleep for ever.
      if (stopping_.load(std::memory_order_acquire)) return;
      std::uint32_t g = generation_.load(std::memory_order_acquire);
      if (g == seen) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; g == seen; ++k) {
          JACNET_CPU_RELAX();
          g = generation_.load(std::memory_order_acquire);
          if ((k & 63) == 63 && std::chrono::steady_clock::now() - t0 > spin_) break;
        }
        while (g == seen) {
          generation_.wait(seen, std::memory_order_acquire);
          g = generation_.load(std::memory_order_acquire);
        }
      }
      seen = g;
      if (stopping_.load(std::memory_order_acquire)) return;
      if (id < helpers_.load(std::memory_order_relaxed)) work_on(g, true);
    }
  }

  void stop() {
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_)
      if (w.joinable()) w.join();
    workers_.clear();
  }

  /// In a child after fork(): the workers do not exist there. Their handles are moved to a
  /// vector that is never destroyed (joining or detaching a thread of the parent is undefined;
  /// destroying a joinable std::thread terminates), kept reachable from a static pointer so leak
  /// checkers do not report it. If another thread of the parent was running a job, job_mutex_
  /// stays locked in the child and every run() there runs its tasks serially (correct, one thread).
  void forget_workers() {
    if (workers_.empty()) return;
    static auto* forgotten = new std::vector<std::thread>();
    for (auto& w : workers_) forgotten->push_back(std::move(w));
    workers_.clear();
  }

  std::mutex job_mutex_;
  std::vector<std::thread> workers_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint64_t> ticket_{0};
  std::atomic<std::uint32_t> done_{0};
  std::atomic<int> helpers_{0};
  std::atomic<bool> stopping_{false};
  void (*call_)(void*, std::int64_t) = nullptr;
  void* ctx_ = nullptr;
  std::chrono::steady_clock::duration spin_ = std::chrono::microseconds(50);
  // Back-off state (read and written by the thread holding job_mutex_ only).
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kMinStall = std::chrono::microseconds(100);
  static constexpr Clock::duration kFirstBackoff = std::chrono::milliseconds(2);
  static constexpr Clock::duration kMaxBackoff = std::chrono::seconds(1);
  Clock::time_point backoff_until_{};
  Clock::duration backoff_ = kFirstBackoff;
  std::atomic<std::uint64_t> stalls_{0};
  // Scratch slots brought up to date at the last job start (read and written with the job held).
  std::uint64_t scratch_epoch_ = 0;
  int scratch_slots_ = 0;
  std::atomic<std::uint64_t> jobs_{0}, job_tasks_{0}, worker_tasks_{0};
};

}  // namespace jacnet
