#pragma once
// jacnet/nn/batchnorm.hpp — batch normalization in inference form (torch.nn.BatchNorm1d/2d in
// eval mode): per channel c,
//   y = γ_c (x − μ_c) / √(σ²_c + ε) + β_c
// over every element of the channel (inputs {C}, {C, L} for 1d, {C, H, W} for 2d; NCHW).
//
// Parameters (block order, PyTorch names): weight γ [C], bias β [C] (trainable), running_mean μ
// [C], running_var σ² [C] (non-trainable: stored statistics; their gradient entries stay 0).
// With s_c = γ_c / √(σ²_c + ε) the layer is affine with a diagonal Jacobian A = diag(s_c):
//   jvp           u_out = s ⊙ u_in          vjp  v_in = s ⊙ v_out
//   param_grad    γ̄_c += Σ_r Σ_{e ∈ c} v_r,e (x_b(r),e − μ_c) / √(σ²_c + ε),   β̄_c += Σ v_r,e
//   second_order  Q = Σ <D_out, s ⊙ E_in>:  γ̄_c += Σ_r Σ_{e ∈ c} D_r,e E_r,e / √(σ²_c + ε);
//                 nothing to β̄ or X̄ (A depends on γ only).
// Training-mode batch statistics are out of scope (the Jacobian nets run in eval mode).
// float/double: per-channel xsimd loops, samples over OpenMP threads, gradients reduced per
// channel in a fixed order (thread-count independent); AD scalars: plain loops.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/lane_tile.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

/// Dims = 1: BatchNorm1d (input {C} or {C, L}); Dims = 2: BatchNorm2d ({C, H, W}); 0: any rank.
template <class T, int Dims = 0>
class BatchNorm {
 public:
  using Scalar = T;

  explicit BatchNorm(Index channels, double eps = 1e-5) : C_(channels), eps_(eps) {
    JACNET_CHECK(C_ > 0, ValueError, "nn::BatchNorm", "channels ", C_, " must be positive");
    JACNET_CHECK(eps_ > 0, ValueError, "nn::BatchNorm", name(), ": eps ", eps_,
                 " must be positive");
  }

  Index channels() const { return C_; }
  double eps() const { return eps_; }

  std::string name() const {
    const char* kind = Dims == 1 ? "BatchNorm1d(" : (Dims == 2 ? "BatchNorm2d(" : "BatchNorm(");
    return kind + std::to_string(C_) + ")";
  }

  Shape output_shape(const Shape& in) const {
    const bool rank_ok = Dims == 1 ? (in.rank() == 1 || in.rank() == 2)
                                   : (Dims == 2 ? in.rank() == 3 : in.rank() >= 1);
    JACNET_CHECK(rank_ok && in[0] == C_, ShapeError, "nn::BatchNorm", name(), ": input shape ", in,
                 " does not match expected ",
                 Dims == 1 ? "[C] or [CxL]" : (Dims == 2 ? "[CxHxW]" : "[Cx...]"),
                 " with C = ", C_);
    return in;
  }

  Index num_params() const { return 4 * C_; }
  std::vector<ParamInfo> param_info() const {
    return {{"weight", Shape{C_}, true},
            {"bias", Shape{C_}, true},
            {"running_mean", Shape{C_}, false},
            {"running_var", Shape{C_}, false}};
  }

  /// γ = 1, β = 0, μ = 0, σ² = 1 (PyTorch's initial state: the identity map up to ε).
  void init(T* p, std::mt19937_64& /*rng*/) const {
    for (Index c = 0; c < C_; ++c) {
      p[c] = T(1);
      p[C_ + c] = T(0);
      p[2 * C_ + c] = T(0);
      p[3 * C_ + c] = T(1);
    }
  }

  void forward(const T* p, const auto& X, auto&& Y) const {
    const Index n = inner(X.cols(), "nn::BatchNorm::forward", "input X");
    const Index B = X.rows();
    Y.resize(B, X.cols());
    const T* s = scales(p);
    for_rows(B, double(B) * double(X.cols()), [&](Index b) {
      const T* x = X.row(b).data();
      T* y = Y.row(b).data();
      if (n == 1) {  // {C}: vectorize across channels
        simd_map<T, 4>(C_, y, {x, p + 2 * C_, s, p + C_},
                       [](const auto& v, const auto& mu, const auto& sc, const auto& beta) {
                         return (v - mu) * sc + beta;
                       });
        return;
      }
      for (Index c = 0; c < C_; ++c) {
        const T sc = s[c], mu = p[2 * C_ + c], beta = p[C_ + c];
        simd_map<T, 1>(n, y + c * n, {x + c * n},
                       [&](const auto& v) { return (v - mu) * sc + beta; });
      }
    });
  }

  void jvp(const T* p, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    scale_rows(p, X, Uin, Uout, "nn::BatchNorm::jvp", "tangents");
  }
  void vjp(const T* p, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    scale_rows(p, X, Vout, Vin, "nn::BatchNorm::vjp", "cotangents");
  }

  void param_grad(const T* p, const auto& X, const auto& /*Y*/, const auto& Vout,
                  T* g) const {
    const char* where = "nn::BatchNorm::param_grad";
    const Index n = inner(X.cols(), where, "input X");
    check_cols(Vout, X.cols(), where, *this, "cotangents");
    const Index K = directions(Vout.rows(), X.rows(), where, *this);
    // Per channel (one thread each, rows in order): Σ v (x − μ) and Σ v.
    for_rows(C_, double(Vout.rows()) * double(X.cols()) * 2, [&](Index c) {
      const T mu = p[2 * C_ + c];
      const T r = inv_std(p, c);
      T sg = T(0), sb = T(0);
      for (Index row = 0; row < Vout.rows(); ++row) {
        const T* v = Vout.row(row).data() + c * n;
        const T* x = X.row(row / K).data() + c * n;
        sg += dot_centered(n, v, x, mu);
        sb += sum(n, v);
      }
      g[c] += sg * r;
      g[C_ + c] += sb;
    });
  }

  void second_order(const T* p, const auto& X, const auto& /*Y*/, const auto& Ein,
                    const auto& Dout, T* g, auto&& Xbar) const {
    const char* where = "nn::BatchNorm::second_order";
    const Index n = inner(X.cols(), where, "input X");
    check_cols(Ein, X.cols(), where, *this, "Ein");
    check_cols(Dout, X.cols(), where, *this, "Dout");
    JACNET_CHECK(Ein.rows() == Dout.rows(), ShapeError, where, name(), ": Ein has ", Ein.rows(),
                 " rows, Dout ", Dout.rows());
    directions(Ein.rows(), X.rows(), where, *this);
    prepare_accumulator(Xbar, X.rows(), X.cols(), where, *this);
    for_rows(C_, double(Ein.rows()) * double(X.cols()), [&](Index c) {
      T s = T(0);
      for (Index row = 0; row < Ein.rows(); ++row)
        s += dot(n, Dout.row(row).data() + c * n, Ein.row(row).data() + c * n);
      g[c] += s * inv_std(p, c);
    });
  }

 private:
  /// Elements per channel for a row of `cols` columns (checks divisibility).
  Index inner(Index cols, const char* where, const char* what) const {
    JACNET_CHECK(cols > 0 && cols % C_ == 0, ShapeError, where, name(), ": ", what, " has ", cols,
                 " columns, not a multiple of ", C_, " channels");
    return cols / C_;
  }
  T inv_std(const T* p, Index c) const {
    using std::sqrt;
    return T(1) / T(sqrt(p[3 * C_ + c] + T(eps_)));
  }
  T scale(const T* p, Index c) const { return p[c] * inv_std(p, c); }

  template <class Body>
  static void for_rows(Index n, double work, Body&& body) {
    if constexpr (simd_scalar_v<T>)
      parallel_for(n, work, body);
    else
      for (Index i = 0; i < n; ++i) body(i);
  }

  void scale_rows(const T* p, const auto& X, const auto& In, auto&& Out,
                  const char* where, const char* what) const {
    const Index n = inner(In.cols(), where, what);
    check_cols(In, X.cols(), where, *this, what);
    directions(In.rows(), X.rows(), where, *this);
    const Index R = In.rows();
    Out.resize(R, In.cols());
    const T* s = scales(p);
    for_rows(R, double(R) * double(In.cols()), [&](Index r) {
      const T* in = In.row(r).data();
      T* out = Out.row(r).data();
      if (n == 1) {
        simd_mul(C_, out, in, s);
        return;
      }
      for (Index c = 0; c < C_; ++c) {
        const T sc = s[c];
        simd_map<T, 1>(n, out + c * n, {in + c * n}, [&](const auto& v) { return v * sc; });
      }
    });
  }

  /// s_c = γ_c / √(σ²_c + ε) for all channels, in the calling thread's scratch buffer.
  const T* scales(const T* p) const {
    T* s = detail::scratch<T, 7>(C_);
    for (Index c = 0; c < C_; ++c) s[c] = scale(p, c);
    return s;
  }

  // Σ v, Σ a·b and Σ v·(x − μ) over n elements: xsimd lanes then a fixed-order horizontal sum.
  static T sum(Index n, const T* v) {
    if constexpr (simd_scalar_v<T>) {
      using V = xsimd::batch<T>;
      constexpr Index W = V::size;
      V acc(T(0));
      Index j = 0;
      for (; j + W <= n; j += W) acc += V::load_unaligned(v + j);
      T s = xsimd::hadd(acc);
      for (; j < n; ++j) s += v[j];
      return s;
    } else {
      T s = T(0);
      for (Index j = 0; j < n; ++j) s += v[j];
      return s;
    }
  }
  static T dot(Index n, const T* a, const T* b) {
    if constexpr (simd_scalar_v<T>) {
      using V = xsimd::batch<T>;
      constexpr Index W = V::size;
      V acc(T(0));
      Index j = 0;
      for (; j + W <= n; j += W)
        acc = xsimd::fma(V::load_unaligned(a + j), V::load_unaligned(b + j), acc);
      T s = xsimd::hadd(acc);
      for (; j < n; ++j) s += a[j] * b[j];
      return s;
    } else {
      T s = T(0);
      for (Index j = 0; j < n; ++j) s += a[j] * b[j];
      return s;
    }
  }
  static T dot_centered(Index n, const T* v, const T* x, const T& mu) {
    if constexpr (simd_scalar_v<T>) {
      using V = xsimd::batch<T>;
      constexpr Index W = V::size;
      V acc(T(0));
      const V m(mu);
      Index j = 0;
      for (; j + W <= n; j += W)
        acc = xsimd::fma(V::load_unaligned(v + j), V::load_unaligned(x + j) - m, acc);
      T s = xsimd::hadd(acc);
      for (; j < n; ++j) s += v[j] * (x[j] - mu);
      return s;
    } else {
      T s = T(0);
      for (Index j = 0; j < n; ++j) s += v[j] * (x[j] - mu);
      return s;
    }
  }

  Index C_;
  double eps_;
};

/// BatchNorm over {C} or {C, L} inputs (torch.nn.BatchNorm1d, eval mode).
template <class T>
using BatchNorm1d = BatchNorm<T, 1>;
/// BatchNorm over {C, H, W} inputs (torch.nn.BatchNorm2d, eval mode).
template <class T>
using BatchNorm2d = BatchNorm<T, 2>;

}  // namespace jacnet::nn
