#pragma once
// jacnet/core/huge_pages.hpp — large workspace buffers backed by transparent huge pages.
//
// The first call of a pass writes its workspaces for the first time, and every 4 KiB page written
// first costs a page fault (a trap, the kernel zeroing the page, a page-table update). A LeNet-5
// Jacobian of B = 128 first touches about 60 MB: 15 000 faults, which on a virtual machine can
// cost more than the pass itself (docs/execution.md, "First call and huge pages"). Linux backs
// memory that is advised MADV_HUGEPAGE with 2 MiB pages when it can (with the common setting
// /sys/kernel/mm/transparent_hugepage/enabled = madvise it does so only for advised memory), so a
// 24 MB buffer costs 12 faults instead of 6 000.
//
// `resize_buffer(m, rows, cols)` is Eigen's resize that, when it allocates a buffer of at least
// kHugePageBufferBytes, advises the 2 MiB-aligned part of it before anything is written. It asks
// nothing when the size repeats (no system call in the steady state), and it is only advice: the
// contents, the results and the memory held are the same with or without huge pages (the
// buffer's own 2 MiB-aligned interior only, so no page outside it is committed). Off with
// `set_huge_pages(false)` or the environment variable JACNET_HUGE_PAGES=0; a no-op where
// madvise/MADV_HUGEPAGE do not exist.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "jacnet/core/tensor.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace jacnet {

/// The huge page size advised for (2 MiB on x86-64 and most arm64 kernels).
inline constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;
/// Buffers from this size on are advised (two huge pages: at least one whole aligned huge page
/// lies inside such a buffer wherever it starts).
inline constexpr std::size_t kHugePageBufferBytes = 2 * kHugePageBytes;

namespace detail {
inline bool& huge_pages_flag() {
  static bool on = [] {
    const char* s = std::getenv("JACNET_HUGE_PAGES");
    return !(s != nullptr && std::strcmp(s, "0") == 0);
  }();
  return on;
}
}  // namespace detail

/// Whether resize_buffer advises huge pages (default on; JACNET_HUGE_PAGES=0 turns it off).
inline bool huge_pages() { return detail::huge_pages_flag(); }
/// Turns the advice on or off for buffers allocated from now on. Not thread-safe against passes
/// running concurrently.
inline void set_huge_pages(bool on) { detail::huge_pages_flag() = on; }

/// Advises the whole 2 MiB-aligned huge pages inside [p, p + bytes) as MADV_HUGEPAGE (Linux).
/// Returns the bytes advised (0 below kHugePageBufferBytes, when turned off, elsewhere than
/// Linux, or when the kernel refused: the advice is a hint, its failure is not an error).
inline std::size_t advise_huge_pages(const void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p == nullptr || bytes < kHugePageBufferBytes || !huge_pages()) return 0;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t b = (a + kHugePageBytes - 1) & ~std::uintptr_t(kHugePageBytes - 1);
  const std::uintptr_t e = (a + bytes) & ~std::uintptr_t(kHugePageBytes - 1);
  if (e <= b) return 0;
  if (::madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE) != 0) return 0;
  return e - b;
#else
  (void)p;
  (void)bytes;
  return 0;
#endif
}

/// m.resize(rows, cols) (contents unspecified, as Eigen's resize); when that allocates a new
/// buffer, its huge pages are advised before anything is written (advise_huge_pages). No system
/// call when rows * cols is unchanged.
template <class Derived>
void resize_buffer(Eigen::PlainObjectBase<Derived>& m, Index rows, Index cols) {
  const Index before = m.size();
  m.resize(rows, cols);
  if (m.size() != before)
    advise_huge_pages(m.data(), static_cast<std::size_t>(m.size()) * sizeof(typename Derived::Scalar));
}

}  // namespace jacnet
