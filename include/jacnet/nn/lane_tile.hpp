#pragma once
// jacnet/nn/lane_tile.hpp — "images in SIMD lanes": transposes between L row-major samples and a
// lane tile, the layout the direct convolution kernels (nn/conv2d_kernels.hpp) work on.
//
// A batch keeps one sample per row (design.md). A lane tile holds L = xsimd::batch<T>::size
// consecutive rows side by side: element d of row l sits at tile[d·L + l], so one SIMD register
// holds the same feature of L samples and a kernel that broadcasts a weight and FMAs it into
// whole registers does L samples per instruction with no shuffles and no edge cases in the
// spatial loops. Gather and scatter are block transposes in registers (AVX intrinsics, 8 x 8
// floats or 4 x 4 doubles; an AVX-512 tile of 16 floats or 8 doubles is two blocks side by side),
// plain loops otherwise; missing lanes of a partial tile are zero.
// `gather_lanes_padded` also zero-pads every image plane (the layout the weight-gradient kernel
// reads, so its loops have no bounds).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "jacnet/core/third_party.hpp"  // <immintrin.h>, before xsimd
#include <xsimd/xsimd.hpp>

#include "jacnet/core/tensor.hpp"
#include "jacnet/core/thread_scratch.hpp"

namespace jacnet::nn::detail {

/// SIMD lane geometry for T (float or double).
template <class T>
struct Lanes {
  static_assert(std::is_floating_point_v<T>, "lane tiles are for float/double");
  using batch = xsimd::batch<T>;
  static constexpr Index L = static_cast<Index>(batch::size);
};

/// Scratch buffer number `slot` for T, at least n elements (contents undefined): a kind of
/// core/thread_scratch.hpp (one buffer per pool slot or other thread, grown to the largest size
/// any thread has asked), so hot paths do not allocate after warm-up whichever thread runs them.
template <int slot>
struct LaneScratch {};
template <class T, int slot>
T* scratch(Index n) {
  return ThreadScratch<LaneScratch<slot>, T>::get(static_cast<std::size_t>(n));
}

#if defined(__AVX__)
// 8x8 float transpose of rows src[r] + off (stride-free pointers) into dst[r*ld .. r*ld + 8).
inline void transpose8x8(const float* const* src, Index off, float* dst, Index ld) {
  __m256 r0 = _mm256_loadu_ps(src[0] + off), r1 = _mm256_loadu_ps(src[1] + off);
  __m256 r2 = _mm256_loadu_ps(src[2] + off), r3 = _mm256_loadu_ps(src[3] + off);
  __m256 r4 = _mm256_loadu_ps(src[4] + off), r5 = _mm256_loadu_ps(src[5] + off);
  __m256 r6 = _mm256_loadu_ps(src[6] + off), r7 = _mm256_loadu_ps(src[7] + off);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}
// 8 rows x 4 columns (float): dst[k*ld + l] = src[l][off + k] for k < 4, l < 8.
inline void transpose8x4(const float* const* src, Index off, float* dst, Index ld) {
  auto pair = [&](int a) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(src[a] + off)),
                                _mm_loadu_ps(src[a + 4] + off), 1);
  };
  const __m256 a0 = pair(0), a1 = pair(1), a2 = pair(2), a3 = pair(3);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  _mm256_storeu_ps(dst + 0 * ld, _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)));
  _mm256_storeu_ps(dst + 1 * ld, _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)));
  _mm256_storeu_ps(dst + 2 * ld, _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)));
  _mm256_storeu_ps(dst + 3 * ld, _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)));
}
// The inverse: 4 tile columns src[k*8 .. k*8+8) (k < 4) to rows dst[l][off .. off+4), l < 8.
inline void transpose4x8(const float* src, float* const* dst, Index off) {
  const __m256 c0 = _mm256_loadu_ps(src), c1 = _mm256_loadu_ps(src + 8);
  const __m256 c2 = _mm256_loadu_ps(src + 16), c3 = _mm256_loadu_ps(src + 24);
  const __m256 t0 = _mm256_unpacklo_ps(c0, c1), t1 = _mm256_unpackhi_ps(c0, c1);
  const __m256 t2 = _mm256_unpacklo_ps(c2, c3), t3 = _mm256_unpackhi_ps(c2, c3);
  const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
  for (int r = 0; r < 4; ++r) {
    _mm_storeu_ps(dst[r] + off, _mm256_castps256_ps128(u[r]));
    _mm_storeu_ps(dst[r + 4] + off, _mm256_extractf128_ps(u[r], 1));
  }
}
// 4x4 double transpose, same contract.
inline void transpose4x4(const double* const* src, Index off, double* dst, Index ld) {
  __m256d r0 = _mm256_loadu_pd(src[0] + off), r1 = _mm256_loadu_pd(src[1] + off);
  __m256d r2 = _mm256_loadu_pd(src[2] + off), r3 = _mm256_loadu_pd(src[3] + off);
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  _mm256_storeu_pd(dst + 0 * ld, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(dst + 1 * ld, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(dst + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(dst + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

/// Side of the register block transpose for T here: 8 (float) / 4 (double) with AVX, else 0.
template <class T>
constexpr Index transpose_block() {
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) return 8;
  if constexpr (std::is_same_v<T, double>) return 4;
#endif
  return 0;
}

/// True when T's lane tiles go through register block transposes here: L is a multiple of the
/// block (8 floats / 4 doubles: AVX2's one register, AVX-512's two, each half its own block).
template <class T>
constexpr bool has_block_transpose() {
  constexpr Index TB = transpose_block<T>();
  return TB > 0 && Lanes<T>::L % TB == 0;
}

/// dst[x·L + l] = src[l][off + x] for x ∈ [0, len), l ∈ [0, L): one full tile segment.
template <class T>
inline void gather_segment(const T* const* src, Index off, Index len, T* dst) {
  constexpr Index L = Lanes<T>::L;
  Index x = 0;
  if constexpr (has_block_transpose<T>()) {
#if defined(__AVX__)
    // Blocks of TB columns; lanes [h·TB, h·TB + TB) of each block are one TB x TB transpose.
    constexpr Index TB = transpose_block<T>();
    for (; x + TB <= len; x += TB)
      for (Index h = 0; h < L; h += TB) {
        if constexpr (std::is_same_v<T, float>)
          transpose8x8(src + h, off + x, dst + x * L + h, L);
        else
          transpose4x4(src + h, off + x, dst + x * L + h, L);
      }
    if constexpr (std::is_same_v<T, float>)
      if (x + 4 <= len) {
        for (Index h = 0; h < L; h += TB) transpose8x4(src + h, off + x, dst + x * L + h, L);
        x += 4;
      }
#endif
  }
  for (; x < len; ++x)
    for (Index l = 0; l < L; ++l) dst[x * L + l] = src[l][off + x];
}

/// dst[l][off + x] = src[x·L + l] for x ∈ [0, len), l < n (n ≤ L rows are written).
template <class T>
inline void scatter_segment(const T* src, Index len, Index n, T* const* dst, Index off) {
  constexpr Index L = Lanes<T>::L;
  Index x = 0;
  if constexpr (has_block_transpose<T>()) {
#if defined(__AVX__)
    if (n == L) {
      // Transposing a tile block back is the same register transpose with the roles swapped:
      // TB columns x lanes [h, h + TB) of the tile become TB-element pieces of rows h .. h+TB−1.
      constexpr Index TB = transpose_block<T>();
      const T* cols[TB];
      T tmp[TB * TB];
      for (; x + TB <= len; x += TB)
        for (Index h = 0; h < L; h += TB) {
          for (Index r = 0; r < TB; ++r) cols[r] = src + (x + r) * L + h;
          if constexpr (std::is_same_v<T, float>)
            transpose8x8(cols, 0, tmp, TB);
          else
            transpose4x4(cols, 0, tmp, TB);
          for (Index k = 0; k < TB; ++k)
            std::memcpy(dst[h + k] + off + x, tmp + k * TB, sizeof(T) * TB);
        }
      if constexpr (std::is_same_v<T, float> && L == 8)
        if (x + 4 <= len) {
          transpose4x8(src + x * L, dst, off + x);
          x += 4;
        }
    }
#endif
  }
  for (; x < len; ++x)
    for (Index l = 0; l < n; ++l) dst[l][off + x] = src[x * L + l];
}

/// Gathers n ≤ L rows (pointers in `rows`, D features each) into tile[d·L + l]; lanes ≥ n are 0.
template <class T>
void gather_lanes(const T* const* rows, Index n, Index D, T* tile) {
  constexpr Index L = Lanes<T>::L;
  if (n == L) {
    gather_segment(rows, 0, D, tile);
    return;
  }
  std::fill(tile, tile + D * L, T(0));
  for (Index d = 0; d < D; ++d)
    for (Index l = 0; l < n; ++l) tile[d * L + l] = rows[l][d];
}

/// Gathers n ≤ L images [C][H][W] into a zero-padded tile [C][H + 2ph][W + 2pw][L].
template <class T>
void gather_lanes_padded(const T* const* rows, Index n, Index C, Index H, Index W, Index ph,
                         Index pw, T* tile) {
  constexpr Index L = Lanes<T>::L;
  const Index HP = H + 2 * ph, WP = W + 2 * pw;
  if (ph == 0 && pw == 0) {
    gather_lanes(rows, n, C * H * W, tile);
    return;
  }
  if (n < L) {
    std::fill(tile, tile + C * HP * WP * L, T(0));
    for (Index c = 0; c < C; ++c)
      for (Index y = 0; y < H; ++y)
        for (Index x = 0; x < W; ++x)
          for (Index l = 0; l < n; ++l)
            tile[((c * HP + y + ph) * WP + x + pw) * L + l] = rows[l][(c * H + y) * W + x];
    return;
  }
  for (Index c = 0; c < C; ++c) {
    T* plane = tile + c * HP * WP * L;
    std::fill(plane, plane + ph * WP * L, T(0));                      // top rows
    std::fill(plane + (ph + H) * WP * L, plane + HP * WP * L, T(0));  // bottom rows
    for (Index y = 0; y < H; ++y) {
      T* row = plane + (y + ph) * WP * L;
      std::fill(row, row + pw * L, T(0));
      std::fill(row + (pw + W) * L, row + WP * L, T(0));
      gather_segment(rows, (c * H + y) * W, W, row + pw * L);
    }
  }
}

/// Writes lanes l < n of tile[d·L + l] (D features) to rows[l] (overwrite).
template <class T>
void scatter_lanes(const T* tile, Index n, Index D, T* const* rows) {
  scatter_segment(tile, D, n, rows, 0);
}

}  // namespace jacnet::nn::detail
