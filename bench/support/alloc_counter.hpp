#pragma once
// Heap-allocation and page-fault counters for the benchmark binaries (include in ONE translation
// unit per binary: it defines the allocation functions).
//
// Every heap allocation of the process is counted: the C allocation functions (malloc, calloc,
// realloc, memalign, posix_memalign, aligned_alloc) are replaced by counting wrappers around
// glibc's own (__libc_malloc, ...), and the global operator new (every form) is replaced by one
// that counts and allocates through them. Eigen and xsimd allocate with malloc /
// posix_memalign, the standard library with operator new: all of them show up. `steady_state`
// times the first call of a benchmark step (set-up included), then counts allocations and minor
// page faults (getrusage) over further calls: a step that reuses its workspaces shows 0 and 0.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <new>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace jacnet::bench {
inline std::atomic<unsigned long long> g_allocations{0};
/// Heap allocations made by the process so far (all threads).
inline unsigned long long allocations() { return g_allocations.load(std::memory_order_relaxed); }
/// Minor page faults of the process so far (first touches of fresh memory).
inline long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}
}  // namespace jacnet::bench

#define JACNET_COUNT_ALLOC() \
  jacnet::bench::g_allocations.fetch_add(1, std::memory_order_relaxed)

extern "C" {
void* malloc(std::size_t n) noexcept {
  JACNET_COUNT_ALLOC();
  return __libc_malloc(n);
}
void free(void* p) noexcept { __libc_free(p); }
void* calloc(std::size_t a, std::size_t b) noexcept {
  JACNET_COUNT_ALLOC();
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) noexcept {
  JACNET_COUNT_ALLOC();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) noexcept {
  JACNET_COUNT_ALLOC();
  return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) noexcept {
  JACNET_COUNT_ALLOC();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) noexcept {
  JACNET_COUNT_ALLOC();
  void* p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}

// Global operator new/delete: counted (through malloc above) and released with free.
void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = __libc_memalign(static_cast<std::size_t>(a), n ? n : 1)) {
    JACNET_COUNT_ALLOC();
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace jacnet::bench {

/// What steady_state measured.
struct SetUp {
  double first_ms = 0;  ///< the first call (workspaces sized and first touched)
  double allocs = 0;    ///< heap allocations per call after the first two
  double faults = 0;    ///< minor page faults per call after the first two
};

/// Calls step() once timed (the set-up call), once more untimed (some buffers are only sized
/// on the second call, e.g. a result kept from the first), then `reps` times counting
/// allocations and page faults. Run it before the benchmark loop: the loop then times the
/// steady state only, whatever --benchmark_min_time is.
template <class F>
SetUp steady_state(F&& step, int reps = 3) {
  SetUp r;
  const auto t0 = std::chrono::steady_clock::now();
  step();
  r.first_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  step();
  const unsigned long long a0 = allocations();
  const long f0 = minor_faults();
  for (int i = 0; i < reps; ++i) step();
  r.allocs = double(allocations() - a0) / reps;
  r.faults = double(minor_faults() - f0) / reps;
  return r;
}

/// Counters first_call_ms, allocs_per_iter and faults_per_iter of a SetUp.
inline void report(benchmark::State& state, const SetUp& s) {
  state.counters["first_call_ms"] = s.first_ms;
  state.counters["allocs_per_iter"] = s.allocs;
  state.counters["faults_per_iter"] = s.faults;
}

}  // namespace jacnet::bench
