#pragma once
// jacnet/core/thread_scratch.hpp — grow-only scratch buffers that do not depend on which thread
// runs a task (docs/execution.md, "Scratch buffers").
//
// Kernels keep per-thread scratch (GEMM packing panels, lane tiles, pooling indices) so that the
// steady state of a pass allocates nothing. Kept per OS thread, a buffer only grows when its
// thread first runs a task that needs it — and which thread of jacnet's pool claims which task
// changes from call to call (a worker preempted by another process claims nothing; the caller
// then runs every task). A task kind seen only by a worker in the first calls then allocated,
// much later, on the caller: the steady-state allocation check failed about one run in forty on a
// loaded machine (bench_lenet BM_TrainStep, 2 allocations in 3 calls).
//
// Here a buffer belongs to a *slot*: slot 0 is the thread running a job of the pool (the caller,
// while it holds the pool's job), slot k ≥ 1 the pool's worker k − 1; any other thread (no job
// running, a nested or concurrent call whose tasks run inline) uses a buffer of its own. Every
// kind of buffer keeps the largest size any thread has asked of it (its high-water mark), and
// the pool grows every slot of every kind to that mark when a job starts (`equalize_scratch`,
// called by ThreadPool::run with the job held, when no task of the pool is running). A size asked
// once — in the first call of a pass, on whichever thread — is therefore there for every slot
// from the next job on, so later calls allocate nothing whatever thread runs which task.
//
// Contents are unspecified on return (buffers grow by a fresh allocation, nothing is copied).
// Memory: one buffer per slot in use and kind, each of the kind's largest size (as before: one
// per thread). Slot buffers live until the process ends; a thread's own buffers until it exits.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace jacnet {

namespace detail {

/// Slots: 0 (the thread running a job of the pool) and 1 .. kScratchSlots − 1 (its workers).
inline constexpr int kScratchSlots = 64;

/// This thread's slot, −1 when it uses buffers of its own.
inline int& scratch_slot() {
  thread_local int slot = -1;
  return slot;
}

/// A kind of scratch buffer, linked into a process-wide list when first used (no allocation).
struct ScratchKind {
  void (*equalize)(int nslots) = nullptr;
  ScratchKind* next = nullptr;
};

inline std::atomic<ScratchKind*>& scratch_kinds() {
  static std::atomic<ScratchKind*> head{nullptr};
  return head;
}

/// Raised whenever a kind's high-water mark rises: equalize_scratch has nothing to do while it
/// stays the same.
inline std::atomic<std::uint64_t>& scratch_epoch() {
  static std::atomic<std::uint64_t> epoch{0};
  return epoch;
}

}  // namespace detail

/// Grows slots [0, nslots) of every kind of scratch buffer to the kind's high-water mark. Only
/// while no thread uses those slots (ThreadPool::run calls it with the job held, before it
/// publishes the job). Returns the epoch it brought the slots up to.
inline std::uint64_t equalize_scratch(int nslots, std::uint64_t done_epoch) {
  const std::uint64_t e = detail::scratch_epoch().load(std::memory_order_acquire);
  if (e == done_epoch) return e;
  for (auto* k = detail::scratch_kinds().load(std::memory_order_acquire); k; k = k->next)
    k->equalize(nslots);
  return e;
}

/// Scratch buffers of kind `Kind` (a tag type) holding T: `get(n)` returns at least n elements,
/// unspecified contents, valid until the next get of this kind on this thread.
template <class Kind, class T>
class ThreadScratch {
 public:
  static T* get(std::size_t n) {
    static const bool registered = enlist();
    (void)registered;
    const int s = detail::scratch_slot();
    Buffer& b = s < 0 ? own() : slots_[s];
    if (b.cap < n) grow(b, n);
    return b.p;
  }
  /// Elements held by slot s (−1: this thread's own buffer); for tests and diagnostics.
  static std::size_t capacity(int s) { return s < 0 ? own().cap : slots_[s].cap; }
  /// The largest size asked of this kind so far.
  static std::size_t high_water() { return hwm_.load(std::memory_order_acquire); }

 private:
  struct Buffer {
    T* p = nullptr;
    std::size_t cap = 0;
  };
  struct OwnBuffer : Buffer {
    ~OwnBuffer() { release(*this); }
  };
  static constexpr std::align_val_t kAlign{64};

  static Buffer& own() {
    thread_local OwnBuffer b;
    return b;
  }
  static void release(Buffer& b) {
    if (b.p) ::operator delete(static_cast<void*>(b.p), kAlign);
    b.p = nullptr;
    b.cap = 0;
  }
  /// Grows b to max(n, high-water mark) and raises the mark to n.
  static void grow(Buffer& b, std::size_t n) {
    std::size_t mark = hwm_.load(std::memory_order_acquire);
    const std::size_t want = std::max(n, mark);
    release(b);
    b.p = static_cast<T*>(::operator new(want * sizeof(T), kAlign));  // throws bad_alloc
    b.cap = want;
    while (mark < n && !hwm_.compare_exchange_weak(mark, n, std::memory_order_acq_rel)) {
    }
    if (mark < n) detail::scratch_epoch().fetch_add(1, std::memory_order_acq_rel);
  }
  static void equalize(int nslots) {
    const std::size_t mark = hwm_.load(std::memory_order_acquire);
    for (int s = 0; s < std::min(nslots, detail::kScratchSlots); ++s)
      if (slots_[s].cap < mark) grow(slots_[s], mark);
  }
  static bool enlist() {
    node_.equalize = &equalize;
    auto& head = detail::scratch_kinds();
    node_.next = head.load(std::memory_order_relaxed);
    while (!head.compare_exchange_weak(node_.next, &node_, std::memory_order_acq_rel)) {
    }
    return true;
  }

  // Slot buffers are never freed: workers may outlive static destruction order guarantees, and
  // they stay reachable (no leak report).
  static inline Buffer slots_[detail::kScratchSlots]{};
  static inline std::atomic<std::size_t> hwm_{0};
  static inline detail::ScratchKind node_{};
};

}  // namespace jacnet
