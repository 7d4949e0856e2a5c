#pragma once
// jacnet/nn/conv2d_kernels.hpp — the three kernels of a 2-d convolution, in two forms.
//
// With W [Cout, Cin, kh, kw] (PyTorch layout) and the window geometry g (nn/window2d.hpp):
//   forward   y[o,oy,ox] = b[o] + Σ_{c,i,j} W[o,c,i,j] · x[c, oy·sh−ph+i, ox·sw−pw+j]
//   backward  x̄[c,y,x]   = Σ_{o,i,j : y = oy·sh−ph+i, x = ox·sw−pw+j} W[o,c,i,j] · ȳ[o,oy,ox]
//             (the transposed convolution: the adjoint of the linear map x ↦ W ⋆ x)
//   wgrad     W̄[o,c,i,j] += Σ_{oy,ox} ȳ[o,oy,ox] · x[c, oy·sh−ph+i, ox·sw−pw+j]
//             b̄[o] += Σ_{oy,ox} ȳ[o,oy,ox]
// (taps outside the image read zero).
//
// Reference form (`*_ref`, any scalar T incl. AD scalars): plain loops over one sample.
// Fast form (`conv_*_rows`, float/double): direct SIMD kernels on lane tiles (nn/lane_tile.hpp):
// L samples (rows) are transposed into SIMD lanes, so a weight is broadcast once and FMA'd into
// L samples at a time; register blocks of (channels x columns) accumulators keep the loads per
// FMA below one. Tap rows are exact ranges; in x the tiles carry a few zero columns (forward:
// the padding; backward: the block overhang), the weight gradient reads a zero-padded tile.
// OpenMP splits tiles (for large enough calls); each tile's arithmetic is fixed, and weight
// gradients are summed per fixed chunk of tiles and then chunk by chunk in order, so results are
// bitwise identical for any number of threads.
// (Measured against im2col + Eigen GEMM on LeNet-5 shapes: 2.7–4.1x faster; docs/nn_conv.md.)
#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/third_party.hpp"  // <immintrin.h>, before xsimd
#include <xsimd/xsimd.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/execution.hpp"
#include "jacnet/nn/kernels/conv2d_tiles.hpp"
#include "jacnet/nn/kernels/parallel.hpp"
#include "jacnet/nn/lane_tile.hpp"
#include "jacnet/nn/window2d.hpp"

namespace jacnet::nn::detail {

// =============================================================================================
// Reference kernels (one sample, any T)
// =============================================================================================

/// y[Cout·OH·OW] = W ⋆ x (+ b if b != nullptr).
template <class T>
void conv_forward_ref(const Window2d& g, Index Cout, const T* W, const T* b, const T* x, T* y) {
  for (Index o = 0; o < Cout; ++o)
    for (Index oy = 0; oy < g.OH; ++oy)
      for (Index ox = 0; ox < g.OW; ++ox) {
        T acc = b ? b[o] : T(0);
        for (Index c = 0; c < g.C; ++c)
          for (Index i = 0; i < g.kh; ++i) {
            const Index yy = oy * g.sh - g.ph + i;
            if (yy < 0 || yy >= g.H) continue;
            for (Index j = 0; j < g.kw; ++j) {
              const Index xx = ox * g.sw - g.pw + j;
              if (xx < 0 || xx >= g.W) continue;
              acc += W[((o * g.C + c) * g.kh + i) * g.kw + j] * x[(c * g.H + yy) * g.W + xx];
            }
          }
        y[(o * g.OH + oy) * g.OW + ox] = acc;
      }
}

/// xbar[Cin·H·W] = Wᵀ ⋆ ybar (overwrites xbar).
template <class T>
void conv_backward_ref(const Window2d& g, Index Cout, const T* W, const T* ybar, T* xbar) {
  std::fill(xbar, xbar + g.in_size(), T(0));
  for (Index o = 0; o < Cout; ++o)
    for (Index oy = 0; oy < g.OH; ++oy)
      for (Index ox = 0; ox < g.OW; ++ox) {
        const T v = ybar[(o * g.OH + oy) * g.OW + ox];
        for (Index c = 0; c < g.C; ++c)
          for (Index i = 0; i < g.kh; ++i) {
            const Index yy = oy * g.sh - g.ph + i;
            if (yy < 0 || yy >= g.H) continue;
            for (Index j = 0; j < g.kw; ++j) {
              const Index xx = ox * g.sw - g.pw + j;
              if (xx < 0 || xx >= g.W) continue;
              xbar[(c * g.H + yy) * g.W + xx] += W[((o * g.C + c) * g.kh + i) * g.kw + j] * v;
            }
          }
      }
}

/// gW += ybar ⊗ x (as the weight gradient), gb += Σ ybar per channel (if gb != nullptr).
template <class T>
void conv_wgrad_ref(const Window2d& g, Index Cout, const T* ybar, const T* x, T* gW, T* gb) {
  for (Index o = 0; o < Cout; ++o)
    for (Index oy = 0; oy < g.OH; ++oy)
      for (Index ox = 0; ox < g.OW; ++ox) {
        const T v = ybar[(o * g.OH + oy) * g.OW + ox];
        if (gb) gb[o] += v;
        for (Index c = 0; c < g.C; ++c)
          for (Index i = 0; i < g.kh; ++i) {
            const Index yy = oy * g.sh - g.ph + i;
            if (yy < 0 || yy >= g.H) continue;
            for (Index j = 0; j < g.kw; ++j) {
              const Index xx = ox * g.sw - g.pw + j;
              if (xx < 0 || xx >= g.W) continue;
              gW[((o * g.C + c) * g.kh + i) * g.kw + j] += v * x[(c * g.H + yy) * g.W + xx];
            }
          }
      }
}

// =============================================================================================
// Batch drivers (rows of row-major matrices; float/double)
// =============================================================================================

/// Whether a conv rule over `tiles` lane tiles is worth an OpenMP team: at least two tiles and
/// 2·10⁵ multiply-adds in total (below that, waking the other threads costs more than the work,
/// and on a loaded machine every team waits for its slowest thread to be scheduled), and not
/// already inside a parallel region. The split itself never changes the results.
inline bool conv_parallel(Index tiles, Index rows, Index Cout, const Window2d& g) {
  const double macs = double(rows) * double(Cout) * double(g.C * g.taps()) * double(g.out_pixels());
  return tiles >= 2 && macs >= 2e5 && may_fork();
}
/// The `work` to hand parallel_for (nn/kernels/parallel.hpp) for a conv rule: unbounded when
/// conv_parallel says fork, 0 otherwise. parallel_for runs a plain loop unless it really forks (an
/// `omp parallel if (false)` would still create a one-thread team, which libgomp allocates: a
/// heap allocation per call in the steady state).
inline double conv_work(Index tiles, Index rows, Index Cout, const Window2d& g) {
  return conv_parallel(tiles, rows, Cout, g) ? std::numeric_limits<double>::infinity() : 0.0;
}

/// Packs W [Cout][Cin][kh][kw] as [Cin][kh][kw][Cout] (forward) into Wf.
template <class T>
void pack_forward_weights(const Window2d& g, Index Cout, const T* W, T* Wf) {
  for (Index o = 0; o < Cout; ++o)
    for (Index c = 0; c < g.C; ++c)
      for (Index t = 0; t < g.taps(); ++t)
        Wf[(c * g.taps() + t) * Cout + o] = W[(o * g.C + c) * g.taps() + t];
}
/// Packs W [Cout][Cin][kh][kw] as [Cout][kh][kw][Cin] (backward) into Wb.
template <class T>
void pack_backward_weights(const Window2d& g, Index Cout, const T* W, T* Wb) {
  for (Index o = 0; o < Cout; ++o)
    for (Index c = 0; c < g.C; ++c)
      for (Index t = 0; t < g.taps(); ++t)
        Wb[(o * g.taps() + t) * g.C + c] = W[(o * g.C + c) * g.taps() + t];
}

/// Y.row(r) = W ⋆ X.row(r) (+ b) for every row (Y resized to X.rows() x Cout·OH·OW).
template <class T>
void conv_forward_rows(const Window2d& g, Index Cout, const T* W, const T* b, const auto& X,
                       auto&& Y) {
  constexpr Index L = Lanes<T>::L;
  const Index N = X.rows(), Dout = Cout * g.out_pixels();
  Y.resize(N, Dout);
  T* Wf = scratch<T, 0>(Cout * g.C * g.taps());
  pack_forward_weights(g, Cout, W, Wf);
  const Index ntiles = (N + L - 1) / L;
  auto tile = [&](Index t) {
    T* xt = scratch<T, 1>(g.C * g.H * (g.W + 2 * g.pw) * L);
    T* yt = scratch<T, 2>(Dout * L);
    const Index n = std::min(L, N - t * L);
    const T* in[L];
    T* outp[L];
    for (Index l = 0; l < L; ++l) {
      in[l] = X.row(t * L + std::min(l, n - 1)).data();
      outp[l] = Y.row(t * L + std::min(l, n - 1)).data();
    }
    gather_lanes_padded(in, n, g.C, g.H, g.W, 0, g.pw, xt);
    conv_fwd_tile(g, Cout, Wf, b, xt, yt);
    scatter_lanes(yt, n, Dout, outp);
  };
  parallel_for(ntiles, conv_work(ntiles, N, Cout, g), tile);
}

/// Xbar.row(r) = Wᵀ ⋆ V.row(r) for every row (Xbar resized to V.rows() x Cin·H·W).
template <class T>
void conv_backward_rows(const Window2d& g, Index Cout, const T* W, const auto& V,
                        auto&& Xbar) {
  constexpr Index L = Lanes<T>::L;
  const Index N = V.rows(), Din = g.in_size();
  Xbar.resize(N, Din);
  T* Wb = scratch<T, 0>(Cout * g.C * g.taps());
  pack_backward_weights(g, Cout, W, Wb);
  const Index ntiles = (N + L - 1) / L;
  const Index px = backward_pad(g);
  auto tile = [&](Index t) {
    T* vt = scratch<T, 1>(Cout * g.OH * (g.OW + 2 * px) * L);
    T* xt = scratch<T, 2>(Din * L);
    const Index n = std::min(L, N - t * L);
    const T* in[L];
    T* outp[L];
    for (Index l = 0; l < L; ++l) {
      in[l] = V.row(t * L + std::min(l, n - 1)).data();
      outp[l] = Xbar.row(t * L + std::min(l, n - 1)).data();
    }
    gather_lanes_padded(in, n, Cout, g.OH, g.OW, 0, px, vt);
    conv_bwd_tile(g, Cout, Wb, vt, px, xt);
    scatter_lanes(xt, n, Din, outp);
  };
  parallel_for(ntiles, conv_work(ntiles, N, Cout, g), tile);
}

/// gW += Σ_r V.row(r) ⊗ X.row(r / K) (weight gradient), gb += Σ_r Σ_pixels V.row(r) (if gb),
/// with K = V.rows() / X.rows(). Thread-count independent: fixed chunks of tiles, summed in order.
template <class T>
void conv_wgrad_rows(const Window2d& g, Index Cout, const auto& X, const auto& V, T* gW,
                     T* gb) {
  constexpr Index L = Lanes<T>::L;
  const Index N = V.rows(), K = N / X.rows(), Dout = Cout * g.out_pixels();
  const Index HP = g.H + 2 * g.ph, WP = g.W + 2 * g.pw;
  const Index nW = Cout * g.C * g.taps(), nP = nW + (gb ? Cout : 0);
  const Index ntiles = (N + L - 1) / L;
  const Index nchunks = std::min<Index>(ntiles, 16);
  const Index per_chunk = (ntiles + nchunks - 1) / nchunks;
  T* partial = scratch<T, 3>(nchunks * nP);
  auto tile = [&](Index ch) {
    T* part = partial + ch * nP;
    std::fill(part, part + nP, T(0));
    T* xt = scratch<T, 1>(g.C * HP * WP * L);
    T* vt = scratch<T, 2>(Dout * L);
    for (Index t = ch * per_chunk; t < std::min(ntiles, (ch + 1) * per_chunk); ++t) {
      const Index n = std::min(L, N - t * L);
      const T* xin[L];
      const T* vin[L];
      for (Index l = 0; l < L; ++l) {
        const Index r = t * L + std::min(l, n - 1);
        xin[l] = X.row(r / K).data();
        vin[l] = V.row(r).data();
      }
      gather_lanes_padded(xin, n, g.C, g.H, g.W, g.ph, g.pw, xt);
      gather_lanes(vin, n, Dout, vt);
      conv_wgrad_tile(g, Cout, xt, vt, part, gb ? part + nW : nullptr);
    }
  };
  parallel_for(nchunks, conv_work(ntiles, N, Cout, g), tile);
  for (Index ch = 0; ch < nchunks; ++ch) {
    const T* part = partial + ch * nP;
    for (Index k = 0; k < nW; ++k) gW[k] += part[k];
    if (gb)
      for (Index o = 0; o < Cout; ++o) gb[o] += part[nW + o];
  }
}

}  // namespace jacnet::nn::detail
