#pragma once
// jacnet/nn/kernels/parallel.hpp — the shared kernels every layer's rules are written with:
//   gemm(dst, A, B, accumulate)  dst (+)= A·B with dst split into row (or column) blocks whose
//       count depends only on the problem size, never on the thread count; each block is one Eigen
//       GEMM run as a task of jacnet's thread pool (Eigen single-threaded); small products run whole
//       on the calling thread with Eigen's threading off (EigenSerialScope). Results are therefore
//       bitwise identical for any OMP_NUM_THREADS. Inside a SerialScope (a shard of a pass, see
//       nn/execution.hpp) the product is one Eigen call on the calling thread.
//       Generic scalars (AD types) use a plain loop.
//   simd_map<N>(n, out, op, in...)  out[j] = op(in_0[j], ...) as xsimd loops for float/double
//       (the tail goes through a zero-padded batch, so every element sees the same formula);
//       a plain loop for other scalars. `op` is a generic lambda (called with batches or scalars).
//   simd_mul / simd_fma / simd_add   elementwise helpers built on simd_map.
//   parallel_for(n, work, body)  [0, n) in contiguous chunks run by jacnet's thread pool
//       (nn/execution.hpp) when `work` is large enough.
// Never let Eigen thread a product itself (its depth blocking depends on the thread count): use
// gemm, or wrap a direct Eigen product in EigenSerialScope (nn/execution.hpp).
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "jacnet/core/third_party.hpp"  // <immintrin.h>, before xsimd
#include <xsimd/xsimd.hpp>

#include "jacnet/core/error.hpp"
#include "jacnet/core/gemm.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/execution.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace jacnet::nn {

/// float and double take the xsimd / Eigen-GEMM fast paths; every other scalar a plain loop.
template <class T>
inline constexpr bool simd_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// Elementwise work (in scalars) below which loops stay single-threaded. Measured here: for a
/// 32-64-64-4 MLP at batch 128 two threads gain nothing over one even on an idle machine, and
/// they lose a lot when the machine is shared (every fork/join waits for the slowest thread).
inline constexpr double kParallelWork = 131072;
/// GEMMs below this many multiply-adds run on the calling thread.
inline constexpr double kParallelGemmWork = 3e6;

/// body(i) for i in [0, n), in chunks run by jacnet's thread pool when work ≥ kParallelWork
/// (never inside a SerialScope or an active parallel region: then on the calling thread).
/// body must write disjoint outputs per i (then results do not depend on the thread count).
template <class Body>
inline void parallel_for(Index n, [[maybe_unused]] double work, Body&& body) {
  if (work >= kParallelWork && n > 1 && may_fork()) {
    // Contiguous chunks claimed one at a time by the pool's threads (more chunks than threads,
    // so a preempted thread holds back little); which thread runs an index never changes it.
    const int nt = max_threads();
    const Index nchunks = std::min<Index>(n, 4 * Index(nt));
    auto chunk = [&](Index c) {
      for (Index i = n * c / nchunks, e = n * (c + 1) / nchunks; i < e; ++i) body(i);
    };
    detail::pool_run(nt, nchunks, chunk, false);
    return;
  }
  for (Index i = 0; i < n; ++i) body(i);
}

namespace detail {
/// How an m x n x k GEMM is split: nb blocks of rows, or of columns when n > m (each block packs
/// the whole other operand, so the smaller one is the one duplicated), ~≥ 4e6 multiply-adds per
/// block, at most 8. A function of the sizes only (thread-independent). Below kParallelGemmWork
/// the product runs whole on the calling thread (serial) inside an EigenSerialScope; above, the
/// blocks are tasks of jacnet's thread pool, each with Eigen single-threaded. Either way
/// Eigen's own threading never runs: its depth blocking depends on the thread count, and so would
/// the rounding. Blocks are scheduled dynamically: which thread computes a block never changes
/// its value, and a loaded machine balances better.
struct GemmSplit {
  int nb = 1;
  bool by_cols = false;
  bool serial = true;
};
inline GemmSplit gemm_split(Index m, Index n, Index k) {
  const double work = double(m) * double(n) * double(k);
  GemmSplit s;
  if (work < kParallelGemmWork) return s;
  s.serial = false;
  s.by_cols = n > m;
  const Index len = s.by_cols ? n : m;
  s.nb = len >= 2 ? 2 : 1;
  while (s.nb < 8 && work / (2 * s.nb) >= 4e6 && len / (2 * s.nb) >= 16) s.nb *= 2;
  return s;
}
}  // namespace detail

/// dst = A·B (accumulate = false) or dst += A·B. dst must already have A.rows() x B.cols().
/// dst is split into row (or column) blocks fixed by the sizes, each an Eigen GEMM run as a
/// task of jacnet's pool (Eigen single-threaded), so the result is bitwise the same for any thread
/// count. Non-float scalars use a plain triple loop.
template <class Dst, class Lhs, class Rhs>
void gemm(Dst&& dst, const Lhs& A, const Rhs& B, bool accumulate) {
  using T = typename std::remove_cvref_t<Dst>::Scalar;
  const Index m = A.rows(), n = B.cols(), k = A.cols();
  JACNET_CHECK(B.rows() == k && dst.rows() == m && dst.cols() == n, ShapeError, "nn::gemm", "(", m,
               "x", k, ")·(", B.rows(), "x", n, ") into ", dst.rows(), "x", dst.cols());
  if constexpr (simd_scalar_v<T>) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
      if (!accumulate) dst.setZero();
      return;
    }
    // Eigen's GEMM kernel with this thread's reused packing buffers (core/gemm.hpp): no heap
    // allocation in the steady state, bitwise the same as noalias() single-threaded.
    auto run = [&](auto&& d, const auto& a, const auto& b) { gemm_product(d, a, b, accumulate); };
    if (in_serial_scope()) {  // a shard of a pass: one product, Eigen single-threaded
      run(dst, A, B);
      return;
    }
    const detail::GemmSplit sp = detail::gemm_split(m, n, k);
    auto block = [&](int i) {
      const Index len = sp.by_cols ? n : m;
      const Index r0 = len * i / sp.nb, r1 = len * (i + 1) / sp.nb;
      if (sp.by_cols)
        run(dst.middleCols(r0, r1 - r0), A, B.middleCols(r0, r1 - r0));
      else
        run(dst.middleRows(r0, r1 - r0), A.middleRows(r0, r1 - r0), B);
    };
    if (!sp.serial && may_fork()) {
      auto task = [&](Index i) { block(static_cast<int>(i)); };
      detail::pool_run(max_threads(), sp.nb, task, false);
      return;
    }
    [[maybe_unused]] EigenSerialScope serial;
    for (int i = 0; i < sp.nb; ++i) block(i);
  } else {
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < n; ++j) {
        T s = accumulate ? T(dst.coeff(i, j)) : T(0);
        for (Index q = 0; q < k; ++q) s += A.coeff(i, q) * B.coeff(q, j);
        dst.coeffRef(i, j) = s;
      }
    }
  }
}

/// out[j] = op(in[0][j], ..., in[N-1][j]) for j < n. For float/double `op` receives
/// xsimd::batch<T> arguments (the tail through zero-padded batches); otherwise scalars.
template <class T, std::size_t N, class Op>
inline void simd_map(Index n, T* out, const std::array<const T*, N>& in, Op&& op) {
  if constexpr (simd_scalar_v<T>) {
    using V = xsimd::batch<T>;
    constexpr Index W = static_cast<Index>(V::size);
    Index j = 0;
    for (; j + W <= n; j += W) {
      std::array<V, N> v;
      for (std::size_t a = 0; a < N; ++a) v[a] = V::load_unaligned(in[a] + j);
      const V r = std::apply(op, v);
      r.store_unaligned(out + j);
    }
    if (j < n) {
      const Index rem = n - j;
      alignas(64) T buf[N > 0 ? N : 1][W];
      alignas(64) T res[W];
      std::array<V, N> v;
      for (std::size_t a = 0; a < N; ++a) {
        for (Index t = 0; t < W; ++t) buf[a][t] = t < rem ? in[a][j + t] : T(0);
        v[a] = V::load_aligned(buf[a]);
      }
      const V r = std::apply(op, v);
      r.store_aligned(res);
      for (Index t = 0; t < rem; ++t) out[j + t] = res[t];
    }
  } else {
    for (Index j = 0; j < n; ++j) {
      out[j] = [&]<std::size_t... I>(std::index_sequence<I...>) { return T(op(in[I][j]...)); }
      (std::make_index_sequence<N>{});
    }
  }
}

/// out = a ⊙ b (n elements).
template <class T>
inline void simd_mul(Index n, T* out, const T* a, const T* b) {
  simd_map<T, 2>(n, out, {a, b}, [](const auto& x, const auto& y) { return x * y; });
}
/// acc += a ⊙ b (n elements).
template <class T>
inline void simd_fma(Index n, T* acc, const T* a, const T* b) {
  simd_map<T, 3>(n, acc, {acc, a, b},
                 [](const auto& s, const auto& x, const auto& y) { return s + x * y; });
}
/// acc += a (n elements).
template <class T>
inline void simd_add(Index n, T* acc, const T* a) {
  simd_map<T, 2>(n, acc, {acc, a}, [](const auto& s, const auto& x) { return s + x; });
}

}  // namespace jacnet::nn
