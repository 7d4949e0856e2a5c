#pragma once
// jacnet/nn/pool.hpp — 2-d average and max pooling (torch.nn.AvgPool2d / MaxPool2d), NCHW.
//
// Window geometry as in nn/window2d.hpp (kernel k, stride s = k by default, padding p ≤ k/2),
// channel by channel. With W(o) the taps of output o that fall inside the image:
//   AvgPool2d  y_o = (1 / n(o)) Σ_{t ∈ W(o)} x_t with n(o) = kh·kw (padding counted, PyTorch's
//              default count_include_pad=True) or n(o) = |W(o)| (count_include_pad=false: only
//              the taps inside the image). Linear in x with a constant matrix P:
//              jvp u_out = P u_in, vjp v_in = Pᵀ v_out (each output spreads v/n(o) over its
//              window), no parameters, second_order adds nothing.
//   MaxPool2d  y_o = x_{a(o)}, a(o) = argmax_{t ∈ W(o)} x_t (ties: the first tap in row-major
//              order; padding never wins). Piecewise linear: A selects x_{a(o)}, so
//              jvp u_out[o] = u_in[a(o)], vjp v_in[a(o)] += v_out[o], and A is constant where
//              the argmax is unique: second_order adds 0 (a.e.). The rules recompute a(o) from
//              the X passed in (they stay const and need no cache), once per sample for all K
//              directions of that sample.
// float/double split samples over OpenMP threads (disjoint rows: thread-count independent);
// AD scalars run a plain loop, comparing primal values (jacnet::value_of).
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/third_party.hpp"  // <immintrin.h>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/lane_tile.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/window2d.hpp"

namespace jacnet::nn {

namespace detail {

/// Shared configuration of the pooling layers: kernel, stride, padding, bound input geometry.
class Pool2dBase {
 public:
  /// Each direction row is pooled on its own (nn::RowLocal).
  static constexpr bool row_local = true;

  Pool2dBase(const char* kind, Size2 kernel, std::optional<Size2> stride, Size2 padding)
      : kind_(kind), k_(kernel), s_(stride.value_or(kernel)), p_(padding) {
    JACNET_CHECK(k_.h > 0 && k_.w > 0 && s_.h > 0 && s_.w > 0, ValueError, where("").c_str(),
                 name(), ": kernel and stride must be positive");
    JACNET_CHECK(p_.h >= 0 && p_.w >= 0 && 2 * p_.h <= k_.h && 2 * p_.w <= k_.w, ValueError,
                 where("").c_str(), name(), ": padding must be between 0 and half the kernel");
  }

  Size2 kernel() const { return k_; }
  Size2 stride() const { return s_; }
  Size2 padding() const { return p_; }
  const Window2d& window() const { return g_; }
  bool bound() const { return g_.H > 0; }

  std::string name() const {
    return std::string(kind_) + "(k" + k_.str() + ", s" + s_.str() +
           (p_ == Size2(0) ? "" : ", p" + p_.str()) + ")";
  }

  Shape output_shape(const Shape& in) const {
    const std::string w = where("");
    JACNET_CHECK(in.rank() == 3, ShapeError, w.c_str(), name(), ": input shape ", in,
                 " is not an image {C,H,W}");
    JACNET_CHECK(!bound() || in == g_.in_shape(), ShapeError, w.c_str(), name(), ": input shape ",
                 in, " does not match the layer's input shape ", g_.in_shape());
    const Window2d g(name(), in, k_, s_, p_);
    return Shape{g.C, g.OH, g.OW};
  }

  /// Fixes the per-sample input shape {C, H, W} (Sequential calls this).
  void bind(const Shape& in) {
    g_ = Window2d();
    output_shape(in);
    g_ = Window2d(name(), in, k_, s_, p_);
  }

  Index num_params() const { return 0; }
  std::vector<ParamInfo> param_info() const { return {}; }
  Index out_size() const { return g_.C * g_.OH * g_.OW; }

  /// No parameters: nothing to add (the shapes are still checked).
  template <class T>
  void param_grad(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
                  T* /*g*/) const {
    check_bound("param_grad");
    check_dirs("param_grad", Vout.rows(), Vout.cols(), out_size(), X.rows(), "cotangents");
  }
  /// Both poolings are piecewise linear in x (average: linear; max: the selection A is locally
  /// constant a.e.) and have no θ: Q has no x- or θ-derivative, so nothing is added to Xbar.
  template <class T>
  void second_order(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Ein,
                    const auto& Dout, T* /*g*/, auto&& Xbar) const {
    check_bound("second_order");
    check_dirs("second_order", Ein.rows(), Ein.cols(), g_.in_size(), X.rows(), "Ein");
    check_dirs("second_order", Dout.rows(), Dout.cols(), out_size(), X.rows(), "Dout");
    if (Xbar.rows() != X.rows() || Xbar.cols() != g_.in_size())
      prepare_accumulator(Xbar, X.rows(), g_.in_size(), where("second_order").c_str(), *this);
  }

 protected:
  std::string where(const char* rule) const {
    return std::string("nn::") + kind_ + (*rule ? "::" : "") + rule;
  }
  void check_bound(const char* rule) const {
    JACNET_CHECK(bound(), ValueError, where(rule).c_str(), name(),
                 ": input spatial size unknown (call bind, or build it inside a Sequential)");
  }
  /// Checks In (in_cols columns, a multiple of B rows); returns K.
  Index check_dirs(const char* rule, Index rows, Index cols, Index want, Index B,
                   const char* what) const {
    // (the message strings are built only on an error: the checks of a rule do not allocate)
    JACNET_CHECK(cols == want, ShapeError, where(rule).c_str(), name(), ": ", what, " has ", cols,
                 " columns, expected ", want);
    if (B > 0 && rows % B == 0) return rows / B;
    return directions(rows, B, where(rule).c_str(), *this);
  }

  const char* kind_;
  Size2 k_, s_, p_;
  Window2d g_;
};

/// Runs body(b) for every sample: OpenMP over samples for float/double, a plain loop otherwise.
template <class T, class Body>
inline void for_samples(Index B, double work, Body&& body) {
  if constexpr (simd_scalar_v<T>)
    parallel_for(B, work, body);
  else
    for (Index b = 0; b < B; ++b) body(b);
}

/// 1 / (number of taps averaged) of the window with in-image rows [ilo, ihi) and columns
/// [jlo, jhi): kh·kw counts the padding (count_include_pad), else only the in-image taps.
template <class R>
inline R avgpool_inv_count(const Window2d& g, bool include_pad, Index ilo, Index ihi, Index jlo,
                           Index jhi) {
  return R(1) / R(include_pad ? g.kh * g.kw : (ihi - ilo) * (jhi - jlo));
}

/// Average pooling of one channel-stacked image: y = P x.
template <class T>
void avgpool_forward_row(const Window2d& g, const T* x, T* y, bool include_pad = true) {
  using R = real_t<T>;
  for (Index c = 0; c < g.C; ++c) {
    const T* xc = x + c * g.H * g.W;
    for (Index oy = 0; oy < g.OH; ++oy) {
      const Index y0 = oy * g.sh - g.ph;
      const Index ilo = std::max<Index>(0, -y0), ihi = std::min<Index>(g.kh, g.H - y0);
      for (Index ox = 0; ox < g.OW; ++ox) {
        const Index x0 = ox * g.sw - g.pw;
        const Index jlo = std::max<Index>(0, -x0), jhi = std::min<Index>(g.kw, g.W - x0);
        // Σ over each window row, then over the rows (the 2x2 fast path's order).
        T s = T(0);
        for (Index i = ilo; i < ihi; ++i) {
          const T* xr = xc + (y0 + i) * g.W + x0;
          T rs = xr[jlo];
          for (Index j = jlo + 1; j < jhi; ++j) rs += xr[j];
          s = i == ilo ? rs : T(s + rs);
        }
        y[(c * g.OH + oy) * g.OW + ox] =
            s * avgpool_inv_count<R>(g, include_pad, ilo, ihi, jlo, jhi);
      }
    }
  }
}

/// Transposed average pooling: xbar = Pᵀ v (overwrites xbar).
template <class T>
void avgpool_backward_row(const Window2d& g, const T* v, T* xbar, bool include_pad = true) {
  using R = real_t<T>;
  std::fill(xbar, xbar + g.in_size(), T(0));
  for (Index c = 0; c < g.C; ++c) {
    T* xc = xbar + c * g.H * g.W;
    for (Index oy = 0; oy < g.OH; ++oy) {
      const Index y0 = oy * g.sh - g.ph;
      const Index ilo = std::max<Index>(0, -y0), ihi = std::min<Index>(g.kh, g.H - y0);
      for (Index ox = 0; ox < g.OW; ++ox) {
        const Index x0 = ox * g.sw - g.pw;
        const Index jlo = std::max<Index>(0, -x0), jhi = std::min<Index>(g.kw, g.W - x0);
        const T s = v[(c * g.OH + oy) * g.OW + ox] *
                    avgpool_inv_count<R>(g, include_pad, ilo, ihi, jlo, jhi);
        for (Index i = ilo; i < ihi; ++i)
          for (Index j = jlo; j < jhi; ++j) xc[(y0 + i) * g.W + x0 + j] += s;
      }
    }
  }
}

/// Non-overlapping 2x2 / stride 2 average pooling without padding (LeNet's case), float/double:
/// the same sums as avgpool_*_row ((x00 + x01) + (x10 + x11), then · ¼), vectorized with AVX
/// for float (pairwise horizontal adds forward, lane duplication backward).
template <class T>
void avgpool2x2_forward_row(const Window2d& g, const T* x, T* y) {
  const T inv = T(0.25);
  for (Index c = 0; c < g.C; ++c)
    for (Index oy = 0; oy < g.OH; ++oy) {
      const T* r0 = x + (c * g.H + 2 * oy) * g.W;
      const T* r1 = r0 + g.W;
      T* out = y + (c * g.OH + oy) * g.OW;
      Index ox = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>) {
        const __m256 q = _mm256_set1_ps(0.25f);
        for (; ox + 8 <= g.OW; ox += 8) {
          // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]
          const __m256 h0 =
              _mm256_hadd_ps(_mm256_loadu_ps(r0 + 2 * ox), _mm256_loadu_ps(r0 + 2 * ox + 8));
          const __m256 h1 =
              _mm256_hadd_ps(_mm256_loadu_ps(r1 + 2 * ox), _mm256_loadu_ps(r1 + 2 * ox + 8));
          const __m256 s = _mm256_mul_ps(_mm256_add_ps(h0, h1), q);
          _mm256_storeu_ps(out + ox,
                           _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8)));
        }
      }
#endif
      for (; ox < g.OW; ++ox)
        out[ox] = ((r0[2 * ox] + r0[2 * ox + 1]) + (r1[2 * ox] + r1[2 * ox + 1])) * inv;
    }
}
template <class T>
void avgpool2x2_backward_row(const Window2d& g, const T* v, T* xbar) {
  const T inv = T(0.25);
  for (Index c = 0; c < g.C; ++c) {
    for (Index oy = 0; oy < g.OH; ++oy) {
      const T* in = v + (c * g.OH + oy) * g.OW;
      T* r0 = xbar + (c * g.H + 2 * oy) * g.W;
      T* r1 = r0 + g.W;
      Index ox = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>) {
        const __m256 q = _mm256_set1_ps(0.25f);
        for (; ox + 8 <= g.OW; ox += 8) {
          const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(in + ox), q);
          const __m256 lo = _mm256_unpacklo_ps(s, s), hi = _mm256_unpackhi_ps(s, s);
          const __m256 a = _mm256_permute2f128_ps(lo, hi, 0x20);  // s0 s0 s1 s1 s2 s2 s3 s3
          const __m256 b = _mm256_permute2f128_ps(lo, hi, 0x31);  // s4 s4 ... s7 s7
          _mm256_storeu_ps(r0 + 2 * ox, a);
          _mm256_storeu_ps(r0 + 2 * ox + 8, b);
          _mm256_storeu_ps(r1 + 2 * ox, a);
          _mm256_storeu_ps(r1 + 2 * ox + 8, b);
        }
      }
#endif
      for (; ox < g.OW; ++ox) {
        const T s = in[ox] * inv;
        r0[2 * ox] = s;
        r0[2 * ox + 1] = s;
        r1[2 * ox] = s;
        r1[2 * ox + 1] = s;
      }
      for (Index x = 2 * g.OW; x < g.W; ++x) r0[x] = r1[x] = T(0);  // odd width: last column
    }
    for (Index y = 2 * g.OH; y < g.H; ++y)  // odd height: last row
      std::fill(xbar + (c * g.H + y) * g.W, xbar + (c * g.H + y + 1) * g.W, T(0));
  }
}

/// a(o) for every output of one sample: flat input index of the first maximum in the window.
template <class T>
void maxpool_argmax_row(const Window2d& g, const T* x, std::int32_t* idx) {
  for (Index c = 0; c < g.C; ++c)
    for (Index oy = 0; oy < g.OH; ++oy) {
      const Index y0 = oy * g.sh - g.ph;
      const Index ilo = std::max<Index>(0, -y0), ihi = std::min<Index>(g.kh, g.H - y0);
      for (Index ox = 0; ox < g.OW; ++ox) {
        const Index x0 = ox * g.sw - g.pw;
        const Index jlo = std::max<Index>(0, -x0), jhi = std::min<Index>(g.kw, g.W - x0);
        Index best = (c * g.H + y0 + ilo) * g.W + x0 + jlo;
        auto bv = value_of(x[best]);
        for (Index i = ilo; i < ihi; ++i)
          for (Index j = jlo; j < jhi; ++j) {
            const Index t = (c * g.H + y0 + i) * g.W + x0 + j;
            const auto v = value_of(x[t]);
            if (v > bv) {
              bv = v;
              best = t;
            }
          }
        idx[(c * g.OH + oy) * g.OW + ox] = static_cast<std::int32_t>(best);
      }
    }
}

}  // namespace detail

/// Average pooling (count_include_pad true by default, as PyTorch). Input size from bind().
template <class T>
class AvgPool2d : public detail::Pool2dBase {
 public:
  using Scalar = T;

  /// count_include_pad as torch.nn.AvgPool2d: true divides every window by kh·kw (padding
  /// counted), false by the number of taps inside the image.
  explicit AvgPool2d(Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     bool count_include_pad = true)
      : Pool2dBase("AvgPool2d", kernel, stride, padding), include_pad_(count_include_pad) {}

  bool count_include_pad() const { return include_pad_; }
  std::string name() const {
    return include_pad_ ? Pool2dBase::name()
                        : Pool2dBase::name().insert(Pool2dBase::name().size() - 1,
                                                    ", count_include_pad=false");
  }

  void init(T* /*p*/, std::mt19937_64& /*rng*/) const {}

  void forward(const T* /*p*/, const auto& X, auto&& Y) const {
    check_bound("forward");
    check_dirs("forward", X.rows(), X.cols(), g_.in_size(), 1, "input X");
    apply(X, Y);
  }
  void jvp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    check_bound("jvp");
    check_dirs("jvp", Uin.rows(), Uin.cols(), g_.in_size(), X.rows(), "tangents");
    apply(Uin, Uout);
  }
  void vjp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    check_bound("vjp");
    check_dirs("vjp", Vout.rows(), Vout.cols(), out_size(), X.rows(), "cotangents");
    const Index R = Vout.rows();
    Vin.resize(R, g_.in_size());
    const bool fast = simple();
    detail::for_samples<T>(R, double(R) * double(g_.in_size()), [&](Index r) {
      if constexpr (simd_scalar_v<T>)
        if (fast) return detail::avgpool2x2_backward_row(g_, Vout.row(r).data(), Vin.row(r).data());
      detail::avgpool_backward_row(g_, Vout.row(r).data(), Vin.row(r).data(), include_pad_);
    });
  }

 private:
  bool simple() const {  // no padding: both divisors are kh·kw
    return g_.kh == 2 && g_.kw == 2 && g_.sh == 2 && g_.sw == 2 && g_.ph == 0 && g_.pw == 0;
  }
  bool include_pad_ = true;
  void apply(const auto& In, auto&& Out) const {
    const Index R = In.rows();
    Out.resize(R, out_size());
    const bool fast = simple();
    detail::for_samples<T>(R, double(R) * double(g_.in_size()), [&](Index r) {
      if constexpr (simd_scalar_v<T>)
        if (fast) return detail::avgpool2x2_forward_row(g_, In.row(r).data(), Out.row(r).data());
      detail::avgpool_forward_row(g_, In.row(r).data(), Out.row(r).data(), include_pad_);
    });
  }
};

/// Max pooling (padding never wins; ties pick the first tap). Input size from bind().
template <class T>
class MaxPool2d : public detail::Pool2dBase {
 public:
  using Scalar = T;

  explicit MaxPool2d(Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : Pool2dBase("MaxPool2d", kernel, stride, padding) {}

  void init(T* /*p*/, std::mt19937_64& /*rng*/) const {}

  void forward(const T* /*p*/, const auto& X, auto&& Y) const {
    check_bound("forward");
    check_dirs("forward", X.rows(), X.cols(), g_.in_size(), 1, "input X");
    const Index B = X.rows(), n = out_size();
    Y.resize(B, n);
    detail::for_samples<T>(B, double(B) * double(g_.in_size()), [&](Index b) {
      std::int32_t* idx = detail::scratch<std::int32_t, 0>(n);
      detail::maxpool_argmax_row(g_, X.row(b).data(), idx);
      const T* x = X.row(b).data();
      T* y = Y.row(b).data();
      for (Index o = 0; o < n; ++o) y[o] = x[idx[o]];
    });
  }
  void jvp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    check_bound("jvp");
    if (X.cols() != g_.in_size()) check_cols(X, g_.in_size(), where("jvp").c_str(), *this, "input X");
    const Index K = check_dirs("jvp", Uin.rows(), Uin.cols(), g_.in_size(), X.rows(), "tangents");
    const Index B = X.rows(), n = out_size();
    Uout.resize(Uin.rows(), n);
    detail::for_samples<T>(B, double(B) * double(K + 1) * double(g_.in_size()), [&](Index b) {
      std::int32_t* idx = detail::scratch<std::int32_t, 0>(n);
      detail::maxpool_argmax_row(g_, X.row(b).data(), idx);
      for (Index k = 0; k < K; ++k) {
        const T* u = Uin.row(b * K + k).data();
        T* out = Uout.row(b * K + k).data();
        for (Index o = 0; o < n; ++o) out[o] = u[idx[o]];
      }
    });
  }
  void vjp(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    check_bound("vjp");
    if (X.cols() != g_.in_size()) check_cols(X, g_.in_size(), where("vjp").c_str(), *this, "input X");
    const Index K = check_dirs("vjp", Vout.rows(), Vout.cols(), out_size(), X.rows(), "cotangents");
    const Index B = X.rows(), n = out_size(), D = g_.in_size();
    Vin.resize(Vout.rows(), D);
    detail::for_samples<T>(B, double(B) * double(K + 1) * double(D), [&](Index b) {
      std::int32_t* idx = detail::scratch<std::int32_t, 0>(n);
      detail::maxpool_argmax_row(g_, X.row(b).data(), idx);
      for (Index k = 0; k < K; ++k) {
        const T* v = Vout.row(b * K + k).data();
        T* out = Vin.row(b * K + k).data();
        std::fill(out, out + D, T(0));
        for (Index o = 0; o < n; ++o) out[idx[o]] += v[o];
      }
    });
  }
};

}  // namespace jacnet::nn
