#pragma once
// jacnet/nn/kernels/conv2d_tiles.hpp — the register-blocked SIMD kernels of a 2-d convolution on
// one lane tile (nn/lane_tile.hpp: L samples transposed into SIMD lanes), float/double: forward,
// backward (the transposed convolution, with a sliding-window variant for column stride 1) and the
// weight (and bias) gradient. The formulas, the reference loops they are tested against and the
// batch drivers that call them per tile are in nn/conv2d_kernels.hpp.
#include <algorithm>
#include <type_traits>
#include <utility>

#include "jacnet/core/third_party.hpp"  // <immintrin.h>, before xsimd
#include <xsimd/xsimd.hpp>

#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/lane_tile.hpp"
#include "jacnet/nn/window2d.hpp"

namespace jacnet::nn::detail {

// =============================================================================================
// Lane-tile kernels (float/double)
// =============================================================================================

/// Register-block width (positions) that goes with a block of `ch` channels: ch·XB ≤ 12
/// accumulators, so accumulators + operands fit the 16 vector registers of AVX2.
constexpr int block_positions(int ch) { return ch >= 6 ? 2 : (ch == 5 ? 2 : 12 / ch); }

/// Calls f(std::integral_constant<int, v>{}) for the v of {Vs...} that equals `value`, else for
/// the first of Vs: a run-time size becomes the compile-time block size of a kernel.
template <int... Vs, class F>
inline void with_block_size(int value, F&& f) {
  constexpr int first[] = {Vs...};
  const bool hit = ((value == Vs ? (f(std::integral_constant<int, Vs>{}), true) : false) || ...);
  if (!hit) f(std::integral_constant<int, first[0]>{});
}

/// Runs `n` channels in blocks: f(std::integral_constant<int, Full>{}, start) for each full block,
/// then f(std::integral_constant<int, n mod Full>{}, start) once for the remainder, if any.
template <int Full, class F>
inline void for_channel_blocks(Index n, F&& f) {
  Index start = 0;
  for (; start + Full <= n; start += Full) f(std::integral_constant<int, Full>{}, start);
  const int rest = int(n - start);
  if (rest == 0) return;
  [&]<int... R>(std::integer_sequence<int, R...>) {
    with_block_size<(R + 1)...>(rest, [&](auto cb) { f(cb, start); });
  }(std::make_integer_sequence<int, Full - 1>{});
}


/// Hides a pointer's value from the optimizer: keeps GCC's predictive commoning from carrying
/// loads across tap iterations (it then rotates more registers than AVX2 has and spills the
/// accumulators).
template <class P>
inline P* opaque(P* p) {
#if defined(__GNUC__)
  asm("" : "+r"(p));
#endif
  return p;
}

/// Accumulate into acc[CH][XB] the products of CH broadcast weights w[0..CH) with XB vectors
/// loaded from p[q·qstride] — the inner step of the forward and backward kernels. Unrolled by
/// pack expansion, so the accumulators live in registers at any optimization level.
template <class T, int CH, int XB>
inline void fma_block(xsimd::batch<T> (&acc)[CH][XB], const T* w, const T* p, Index qstride) {
  using B = xsimd::batch<T>;
  p = opaque(p);
  [&]<int... Q, int... C>(std::integer_sequence<int, Q...>, std::integer_sequence<int, C...>) {
    if constexpr (CH >= XB) {
      const B v[XB] = {B::load_aligned(p + Q * qstride)...};
      auto row = [&]<int c>(std::integral_constant<int, c>) {
        const B wc(w[c]);
        ((acc[c][Q] = xsimd::fma(wc, v[Q], acc[c][Q])), ...);
      };
      (row(std::integral_constant<int, C>{}), ...);
    } else {
      const B wc[CH] = {B(w[C])...};
      auto col = [&]<int q>(std::integral_constant<int, q>) {
        const B v = B::load_aligned(p + q * qstride);
        ((acc[C][q] = xsimd::fma(wc[C], v, acc[C][q])), ...);
      };
      (col(std::integral_constant<int, Q>{}), ...);
    }
  }
  (std::make_integer_sequence<int, XB>{}, std::make_integer_sequence<int, CH>{});
}

/// Forward on one tile: output channels [o0, o0+OB), row oy, columns ox0 + q (q < XB).
/// Wf is packed [Cin][kh][kw][Cout]; xt is [Cin][H][W + 2pw][L] (zero columns left and right,
/// so every column tap is readable); yt is [Cout][OH][OW][L]. Rows use the exact tap range.
template <class T, int OB, int XB>
inline void conv_fwd_block(const Window2d& g, Index Cout, const T* Wf, const T* bias, const T* xt,
                           T* yt, Index o0, Index oy, Index ox0) {
  using B = xsimd::batch<T>;
  constexpr Index L = Lanes<T>::L;
  const Index WP = g.W + 2 * g.pw;
  B acc[OB][XB];
  for (int a = 0; a < OB; ++a)
    for (int q = 0; q < XB; ++q) acc[a][q] = bias ? B(bias[o0 + a]) : B(T(0));
  const Index y0 = oy * g.sh - g.ph;
  const Index ilo = std::max<Index>(0, -y0), ihi = std::min<Index>(g.kh, g.H - y0);
  for (Index c = 0; c < g.C; ++c)
    for (Index i = ilo; i < ihi; ++i) {
      const T* xrow = xt + ((c * g.H + y0 + i) * WP + ox0 * g.sw) * L;
      const T* wrow = Wf + ((c * g.kh + i) * g.kw) * Cout + o0;
      for (Index j = 0; j < g.kw; ++j)
        fma_block<T, OB, XB>(acc, wrow + j * Cout, xrow + j * L, g.sw * L);
    }
  for (int a = 0; a < OB; ++a)
    for (int q = 0; q < XB; ++q)
      acc[a][q].store_aligned(yt + (((o0 + a) * g.OH + oy) * g.OW + ox0 + q) * L);
}

/// Columns [ox, OW) of row oy in blocks of XB, the remainder in blocks of XB/2, ..., 1.
template <class T, int OB, int XB>
void conv_fwd_run(const Window2d& g, Index Cout, const T* Wf, const T* bias, const T* xt, T* yt,
                  Index o0, Index oy, Index ox) {
  for (; ox + XB <= g.OW; ox += XB)
    conv_fwd_block<T, OB, XB>(g, Cout, Wf, bias, xt, yt, o0, oy, ox);
  if constexpr (XB > 1)
    if (ox < g.OW) conv_fwd_run<T, OB, XB / 2>(g, Cout, Wf, bias, xt, yt, o0, oy, ox);
}

template <class T, int OB>
void conv_fwd_channels(const Window2d& g, Index Cout, const T* Wf, const T* bias, const T* xt,
                       T* yt, Index o0) {
  for (Index oy = 0; oy < g.OH; ++oy)
    conv_fwd_run<T, OB, block_positions(OB)>(g, Cout, Wf, bias, xt, yt, o0, oy, 0);
}

/// Forward on one tile, all output channels (blocks of 6, then the remainder).
template <class T>
void conv_fwd_tile(const Window2d& g, Index Cout, const T* Wf, const T* bias, const T* xt, T* yt) {
  for_channel_blocks<6>(Cout, [&](auto ob, Index o0) {
    conv_fwd_channels<T, decltype(ob)::value>(g, Cout, Wf, bias, xt, yt, o0);
  });
}

/// Zero columns on each side of the output-gradient tile the backward kernels need: a block of
/// XB columns reads up to XB − 1 columns beyond either edge, the sliding kernel up to kw − 1.
inline Index backward_pad(const Window2d& g) {
  const int first = block_positions(int(std::min<Index>(g.C, 6)));
  const int tail = g.C % 6 ? block_positions(int(g.C % 6)) : 1;
  return std::max<Index>(std::max(first, tail) - 1, g.kw - 1);
}

/// Backward for one input channel c0 with column stride 1 and kw = KW (e.g. the first conv of a
/// grayscale net): a sliding window along the row. For tap row i of output channel o, the XB
/// columns x0 + q need v[o, oy, tx − j + q] for j < KW: XB + KW − 1 distinct vectors, each
/// loaded once and FMA'd with up to KW weights held in registers — (XB + KW − 1) loads for
/// XB·KW FMAs instead of one load per FMA. Out-of-range columns read the tile's zero columns.
template <class T, int KW, int XB>
inline void conv_bwd_block_slide(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px,
                                 T* out, Index c0, Index y, Index x0) {
  using B = xsimd::batch<T>;
  constexpr Index L = Lanes<T>::L;
  const Index OWP = g.OW + 2 * px;
  B acc[XB];
  for (int q = 0; q < XB; ++q) acc[q] = B(T(0));
  const Index ty = y + g.ph, tx = x0 + g.pw;
  Index ilo = std::max<Index>(0, ty - (g.OH - 1) * g.sh);
  ilo += ((ty - ilo) % g.sh + g.sh) % g.sh;
  const Index ihi = std::min<Index>(g.kh - 1, ty);
  const Index oy0 = (ty - ilo) / g.sh;
  for (Index o = 0; o < Cout; ++o)
    for (Index i = ilo, oy = oy0; i <= ihi; i += g.sh, --oy) {
      // vector m ↔ column tx − (KW − 1) + m; it meets tap j in column q = m − (KW − 1) + j
      const T* vrow = opaque(vt + ((o * g.OH + oy) * OWP + px + tx - (KW - 1)) * L);
      const T* wrow = Wb + ((o * g.kh + i) * g.kw) * g.C + c0;
      [&]<int... J>(std::integer_sequence<int, J...>) {
        const B w[KW] = {B(wrow[J * g.C])...};
        [&]<int... M>(std::integer_sequence<int, M...>) {
          auto step = [&]<int m>(std::integral_constant<int, m>) {
            const B v = B::load_aligned(vrow + m * L);
            auto tap = [&]<int j>(std::integral_constant<int, j>) {
              constexpr int q = m - (KW - 1) + j;
              if constexpr (q >= 0 && q < XB) acc[q] = xsimd::fma(w[j], v, acc[q]);
            };
            (tap(std::integral_constant<int, J>{}), ...);
          };
          (step(std::integral_constant<int, M>{}), ...);
        }
        (std::make_integer_sequence<int, XB + KW - 1>{});
      }
      (std::make_integer_sequence<int, KW>{});
    }
  for (int q = 0; q < XB; ++q) acc[q].store_aligned(out + ((c0 * g.H + y) * g.W + x0 + q) * L);
}

/// Columns [x, W) of row y with the sliding kernel: blocks of XB, then XB/2, ..., 1.
template <class T, int KW, int XB>
void conv_bwd_slide_run(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px, T* out,
                        Index c0, Index y, Index x) {
  for (; x + XB <= g.W; x += XB)
    conv_bwd_block_slide<T, KW, XB>(g, Cout, Wb, vt, px, out, c0, y, x);
  if constexpr (XB > 1)
    if (x < g.W) conv_bwd_slide_run<T, KW, XB / 2>(g, Cout, Wb, vt, px, out, c0, y, x);
}

/// The sliding kernel for input channel c0 if it applies (column stride 1, kw ∈ {3, 5, 7}).
template <class T>
bool conv_bwd_slide(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px, T* out,
                    Index c0) {
  if (g.sw != 1 || (g.kw != 3 && g.kw != 5 && g.kw != 7)) return false;
  // Block width 8, 7, 6 or 5: the first that divides W (28 → 7, 14 → 7, 32 → 8), else 8.
  int xb = 8;
  for (int c : {8, 7, 6, 5})
    if (g.W % c == 0) {
      xb = c;
      break;
    }
  with_block_size<3, 5, 7>(int(g.kw), [&](auto kw) {
    with_block_size<8, 7, 6, 5>(xb, [&](auto xbc) {
      for (Index y = 0; y < g.H; ++y)
        conv_bwd_slide_run<T, decltype(kw)::value, decltype(xbc)::value>(g, Cout, Wb, vt, px, out,
                                                                          c0, y, 0);
    });
  });
  return true;
}

/// Backward (transposed conv) on one tile: input channels [c0, c0+CB), input row y, columns
/// x0 + q·sw (q < XB, all of one phase modulo sw). Wb is packed [Cout][kh][kw][Cin]; vt is
/// [Cout][OH][OW + 2·px][L] (px zero columns each side); out is [Cin][H][W][L]. Row taps i are
/// exact (oy = (y + ph − i)/sh integral and in [0, OH)); column taps j are the in-phase taps
/// valid for some q of the block, the others read zero columns.
template <class T, int CB, int XB>
inline void conv_bwd_block(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px,
                           T* out, Index c0, Index y, Index x0) {
  using B = xsimd::batch<T>;
  constexpr Index L = Lanes<T>::L;
  const Index OWP = g.OW + 2 * px;
  B acc[CB][XB];
  for (int a = 0; a < CB; ++a)
    for (int q = 0; q < XB; ++q) acc[a][q] = B(T(0));
  const Index ty = y + g.ph, tx = x0 + g.pw, txl = tx + (XB - 1) * g.sw;
  Index ilo = std::max<Index>(0, ty - (g.OH - 1) * g.sh);
  ilo += ((ty - ilo) % g.sh + g.sh) % g.sh;  // first i ≥ ilo with (ty − i) % sh == 0
  const Index ihi = std::min<Index>(g.kh - 1, ty);
  Index jlo = std::max<Index>(0, tx - (g.OW - 1) * g.sw);
  jlo += ((tx - jlo) % g.sw + g.sw) % g.sw;
  const Index jhi = std::min<Index>(g.kw - 1, txl);
  // oy = (ty − i)/sh and ox = (tx − j)/sw step down by one per tap step (no divisions inside);
  // ox may reach 1 − XB for the later columns of a block: the tile has px ≥ XB − 1 zero columns.
  const Index oy0 = (ty - ilo) / g.sh, ox0 = (tx - jlo) / g.sw;
  for (Index o = 0; o < Cout; ++o)
    for (Index i = ilo, oy = oy0; i <= ihi; i += g.sh, --oy) {
      const T* vrow = vt + ((o * g.OH + oy) * OWP + px) * L;
      const T* wrow = Wb + ((o * g.kh + i) * g.kw) * g.C + c0;
      for (Index j = jlo, ox = ox0; j <= jhi; j += g.sw, --ox)
        fma_block<T, CB, XB>(acc, wrow + j * g.C, vrow + ox * L, L);
    }
  for (int a = 0; a < CB; ++a)
    for (int q = 0; q < XB; ++q)
      acc[a][q].store_aligned(out + (((c0 + a) * g.H + y) * g.W + x0 + q * g.sw) * L);
}

/// Columns x = r + m·sw, m ∈ [m, mend), of row y in blocks of XB, then XB/2, ..., 1.
template <class T, int CB, int XB>
void conv_bwd_run(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px, T* out,
                  Index c0, Index y, Index r, Index m, Index mend) {
  for (; m + XB <= mend; m += XB)
    conv_bwd_block<T, CB, XB>(g, Cout, Wb, vt, px, out, c0, y, r + m * g.sw);
  if constexpr (XB > 1)
    if (m < mend) conv_bwd_run<T, CB, XB / 2>(g, Cout, Wb, vt, px, out, c0, y, r, m, mend);
}

template <class T, int CB>
void conv_bwd_channels(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px, T* out,
                       Index c0) {
  for (Index y = 0; y < g.H; ++y)
    for (Index r = 0; r < std::min(g.sw, g.W); ++r) {
      const Index mend = (g.W - 1 - r) / g.sw + 1;  // columns x = r + m·sw, m < mend
      conv_bwd_run<T, CB, block_positions(CB)>(g, Cout, Wb, vt, px, out, c0, y, r, 0, mend);
    }
}

/// Backward on one tile, all input channels.
template <class T>
void conv_bwd_tile(const Window2d& g, Index Cout, const T* Wb, const T* vt, Index px, T* out) {
  for_channel_blocks<6>(g.C, [&](auto cb, Index c0) {
    constexpr int CB = decltype(cb)::value;
    if (CB == 1 && conv_bwd_slide(g, Cout, Wb, vt, px, out, c0)) return;
    conv_bwd_channels<T, CB>(g, Cout, Wb, vt, px, out, c0);
  });
}

/// Weight gradient on one tile for input channel c, tap row i, taps j ∈ [j0, j0+JB), output
/// channels [o0, o0+OB): gW[o,c,i,j] += Σ_lanes Σ_{oy,ox} vt[o,oy,ox] · xt[c, oy·sh+i, ox·sw+j]
/// with xt zero-padded [Cin][H+2ph][W+2pw][L].
template <class T, int OB, int JB>
inline void conv_wgrad_block(const Window2d& g, Index Cout, const T* xt, const T* vt, T* gW,
                             Index c, Index i, Index j0, Index o0) {
  using B = xsimd::batch<T>;
  constexpr Index L = Lanes<T>::L;
  const Index HP = g.H + 2 * g.ph, WP = g.W + 2 * g.pw;
  B acc[OB][JB];
  for (int a = 0; a < OB; ++a)
    for (int b = 0; b < JB; ++b) acc[a][b] = B(T(0));
  const Index plane = g.OH * g.OW * L;
  [&]<int... A, int... J>(std::integer_sequence<int, A...>, std::integer_sequence<int, J...>) {
    for (Index oy = 0; oy < g.OH; ++oy) {
      const T* xrow = opaque(xt + ((c * HP + oy * g.sh + i) * WP + j0) * L);
      const T* vrow = opaque(vt + (o0 * g.OH + oy) * g.OW * L);
      for (Index ox = 0; ox < g.OW; ++ox) {
        const B xv[JB] = {B::load_aligned(xrow + (ox * g.sw + J) * L)...};
        auto row = [&]<int a>(std::integral_constant<int, a>) {
          const B v = B::load_aligned(vrow + a * plane + ox * L);
          ((acc[a][J] = xsimd::fma(v, xv[J], acc[a][J])), ...);
        };
        (row(std::integral_constant<int, A>{}), ...);
      }
    }
  }
  (std::make_integer_sequence<int, OB>{}, std::make_integer_sequence<int, JB>{});
  for (int a = 0; a < OB; ++a)
    for (int b = 0; b < JB; ++b)
      gW[(((o0 + a) * g.C + c) * g.kh + i) * g.kw + j0 + b] += xsimd::hadd(acc[a][b]);
}

template <class T, int OB>
void conv_wgrad_channels(const Window2d& g, Index Cout, const T* xt, const T* vt, T* gW, Index o0) {
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i) {
      Index j = 0;
      for (; j + 3 <= g.kw; j += 3) conv_wgrad_block<T, OB, 3>(g, Cout, xt, vt, gW, c, i, j, o0);
      if (g.kw - j == 2) conv_wgrad_block<T, OB, 2>(g, Cout, xt, vt, gW, c, i, j, o0);
      if (g.kw - j == 1) conv_wgrad_block<T, OB, 1>(g, Cout, xt, vt, gW, c, i, j, o0);
    }
}

/// Weight (and bias) gradient of one tile, added to gW [Cout·Cin·kh·kw] and gb [Cout] (nullable).
template <class T>
void conv_wgrad_tile(const Window2d& g, Index Cout, const T* xt, const T* vt, T* gW, T* gb) {
  using B = xsimd::batch<T>;
  constexpr Index L = Lanes<T>::L;
  for_channel_blocks<4>(Cout, [&](auto ob, Index o0) {
    conv_wgrad_channels<T, decltype(ob)::value>(g, Cout, xt, vt, gW, o0);
  });
  if (gb) {
    const Index P = g.OH * g.OW;
    for (Index o = 0; o < Cout; ++o) {
      B s(T(0));
      const T* v = vt + o * P * L;
      for (Index k = 0; k < P; ++k) s += B::load_aligned(v + k * L);
      gb[o] += xsimd::hadd(s);
    }
  }
}

}  // namespace jacnet::nn::detail
