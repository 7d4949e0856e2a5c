#pragma once
// jacnet/nn/conv2d.hpp — 2-d convolution (cross-correlation, like torch.nn.Conv2d), NCHW per
// sample.
//
// Parameters (block order): weight W [Cout, Cin, kh, kw] (PyTorch layout), then bias b [Cout]
// (optional). With x ⋆ W the correlation of nn/conv2d_kernels.hpp (stride, zero padding):
//   forward       y = W ⋆ x + b
//   jvp           u_out = W ⋆ u_in                          (conv is linear in x: A = W⋆, no bias)
//   vjp           v_in  = Wᵀ ⋆ v_out                        (transposed convolution)
//   param_grad    W̄ += Σ_r v_r ⊗ x_{b(r)}, b̄ += Σ_r Σ_pixels v_r
//                 (W̄[o,c,i,j] += Σ_{oy,ox} v[o,oy,ox] x[c, oy·sh−ph+i, ox·sw−pw+j])
//   second_order  Q = Σ <D_out, W ⋆ E_in>:  W̄ += D_out ⊗ E_in (the weight gradient of a conv with
//                 input E_in and output gradient D_out); nothing to b̄ or X̄ (A does not depend
//                 on x or b).
// All B·K direction rows run through the same kernels (samples × directions flattened). float
// and double use direct SIMD kernels on lane tiles (L samples per register, OpenMP over tiles,
// bitwise thread-count independent); other scalars (AD types) a plain loop per row.
//
// Input spatial size: either given at construction (Conv2d(Shape{C,H,W}, Cout, ...)) and checked
// by output_shape, or set by bind(shape) — Sequential calls it when it builds the net.
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/conv2d_kernels.hpp"
#include "jacnet/nn/init.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/window2d.hpp"

namespace jacnet::nn {

template <class T>
class Conv2d {
 public:
  using Scalar = T;

  /// Cin → Cout channels, kernel (kh, kw), stride, zero padding; input H x W set by bind().
  Conv2d(Index in_channels, Index out_channels, Size2 kernel, Size2 stride = 1, Size2 padding = 0,
         bool bias = true)
      : cin_(in_channels), cout_(out_channels), k_(kernel), s_(stride), p_(padding), bias_(bias) {
    JACNET_CHECK(cin_ > 0 && cout_ > 0, ValueError, "nn::Conv2d", "channels in=", cin_,
                 " out=", cout_, " must be positive");
    JACNET_CHECK(k_.h > 0 && k_.w > 0 && s_.h > 0 && s_.w > 0 && p_.h >= 0 && p_.w >= 0, ValueError,
                 "nn::Conv2d", name(), ": kernel and stride must be positive, ",
                 "padding non-negative");
  }
  /// Same, with the per-sample input shape {Cin, H, W} fixed at construction.
  Conv2d(const Shape& input, Index out_channels, Size2 kernel, Size2 stride = 1, Size2 padding = 0,
         bool bias = true)
      : Conv2d(image_channels(input), out_channels, kernel, stride, padding, bias) {
    bind(input);
  }

  Index in_channels() const { return cin_; }
  Index out_channels() const { return cout_; }
  Size2 kernel() const { return k_; }
  Size2 stride() const { return s_; }
  Size2 padding() const { return p_; }
  bool has_bias() const { return bias_; }
  /// The bound geometry (input size, output size); OH = OW = 0 before bind().
  const Window2d& window() const { return g_; }
  bool bound() const { return g_.H > 0; }

  std::string name() const {
    return "Conv2d(" + std::to_string(cin_) + "->" + std::to_string(cout_) + ", k" + k_.str() +
           ", s" + s_.str() + ", p" + p_.str() + (bias_ ? "" : ", no bias") + ")";
  }

  Shape output_shape(const Shape& in) const {
    JACNET_CHECK(in.rank() == 3 && in[0] == cin_, ShapeError, "nn::Conv2d", name(),
                 ": input shape ", in, " does not match expected [", cin_, "xHxW]");
    JACNET_CHECK(!bound() || in == g_.in_shape(), ShapeError, "nn::Conv2d", name(),
                 ": input shape ", in, " does not match the layer's input shape ", g_.in_shape());
    const Window2d w(name(), in, k_, s_, p_);
    return Shape{cout_, w.OH, w.OW};
  }

  /// Fixes the per-sample input shape {Cin, H, W} (checked like output_shape).
  void bind(const Shape& in) {
    g_ = Window2d();  // re-binding to another size is allowed (a copy used in another net)
    output_shape(in);
    g_ = Window2d(name(), in, k_, s_, p_);
  }

  Index num_params() const { return weight_size() + (bias_ ? cout_ : 0); }
  Index weight_size() const { return cout_ * cin_ * k_.h * k_.w; }
  /// Multiply-adds per sample and direction for input shape `in` (the net's thread decision).
  double macs(const Shape& in) const {
    const Window2d w(name(), in, k_, s_, p_);
    return double(weight_size()) * double(w.OH * w.OW);
  }

  std::vector<ParamInfo> param_info() const {
    std::vector<ParamInfo> v{{"weight", Shape{cout_, cin_, k_.h, k_.w}, true}};
    if (bias_) v.push_back({"bias", Shape{cout_}, true});
    return v;
  }

  /// Glorot-uniform (or He-normal) weights with fan_in = Cin·kh·kw, fan_out = Cout·kh·kw; bias 0.
  void init(T* p, std::mt19937_64& rng) const { init(p, rng, InitScheme::Glorot); }
  void init(T* p, std::mt19937_64& rng, InitScheme scheme) const {
    const Index taps = k_.h * k_.w;
    init_weights(p, weight_size(), cin_ * taps, cout_ * taps, scheme, rng);
    if (bias_) constant_fill(p + weight_size(), cout_, 0.0);
  }

  void forward(const T* p, const auto& X, auto&& Y) const {
    check_bound("nn::Conv2d::forward");
    check_cols(X, g_.in_size(), "nn::Conv2d::forward", *this, "input X");
    apply(p, bias_ ? p + weight_size() : nullptr, X, Y);
  }

  void jvp(const T* p, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    check_bound("nn::Conv2d::jvp");
    check_cols(Uin, g_.in_size(), "nn::Conv2d::jvp", *this, "tangents");
    directions(Uin.rows(), X.rows(), "nn::Conv2d::jvp", *this);
    apply(p, nullptr, Uin, Uout);
  }

  void vjp(const T* p, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    check_bound("nn::Conv2d::vjp");
    check_cols(Vout, out_size(), "nn::Conv2d::vjp", *this, "cotangents");
    directions(Vout.rows(), X.rows(), "nn::Conv2d::vjp", *this);
    if constexpr (simd_scalar_v<T>) {
      detail::conv_backward_rows(g_, cout_, p, Vout, Vin);
    } else {
      Vin.resize(Vout.rows(), g_.in_size());
      for (Index r = 0; r < Vout.rows(); ++r)
        detail::conv_backward_ref(g_, cout_, p, Vout.row(r).data(), Vin.row(r).data());
    }
  }

  void param_grad(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
                  T* g) const {
    check_bound("nn::Conv2d::param_grad");
    check_cols(X, g_.in_size(), "nn::Conv2d::param_grad", *this, "input X");
    check_cols(Vout, out_size(), "nn::Conv2d::param_grad", *this, "cotangents");
    directions(Vout.rows(), X.rows(), "nn::Conv2d::param_grad", *this);
    wgrad(X, Vout, g, bias_ ? g + weight_size() : nullptr);
  }

  void second_order(const T* /*p*/, const auto& X, const auto& /*Y*/,
                    const auto& Ein, const auto& Dout, T* g, auto&& Xbar) const {
    const char* where = "nn::Conv2d::second_order";
    check_bound(where);
    check_cols(Ein, g_.in_size(), where, *this, "Ein");
    check_cols(Dout, out_size(), where, *this, "Dout");
    JACNET_CHECK(Ein.rows() == Dout.rows(), ShapeError, where, name(), ": Ein has ", Ein.rows(),
                 " rows, Dout ", Dout.rows());
    directions(Ein.rows(), X.rows(), where, *this);
    prepare_accumulator(Xbar, X.rows(), g_.in_size(), where, *this);
    wgrad(Ein, Dout, g, nullptr);  // ∂/∂W <Dout, W ⋆ Ein>; bias and x do not enter A
  }

  Index out_size() const { return cout_ * g_.OH * g_.OW; }

  /// jvp of the per-sample identity tangents (K = Cin·H·W, used by jacfwd): rows b·D .. b·D+D−1
  /// of Uout hold Aᵀ, whose row d (input pixel c, y, x) is W's taps scattered to the outputs
  /// that read that pixel: Uout(d, (o, oy, ox)) = W[o, c, y − oy·sh + ph, x − ox·sw + pw].
  /// Built once by scattering the weights (no convolution of D unit images), then copied.
  void jvp_identity(const T* p, const auto& X, const auto& /*Y*/, auto&& Uout) const {
    check_bound("nn::Conv2d::jvp_identity");
    check_cols(X, g_.in_size(), "nn::Conv2d::jvp_identity", *this, "input X");
    const Index B = X.rows(), D = g_.in_size(), n = out_size();
    Uout.resize(B * D, n);
    if (B == 0) return;
    auto first = Uout.topRows(D);
    first.setZero();
    for (Index o = 0; o < cout_; ++o)
      for (Index oy = 0; oy < g_.OH; ++oy)
        for (Index ox = 0; ox < g_.OW; ++ox) {
          const Index col = (o * g_.OH + oy) * g_.OW + ox;
          for (Index c = 0; c < cin_; ++c)
            for (Index i = 0; i < g_.kh; ++i) {
              const Index y = oy * g_.sh - g_.ph + i;
              if (y < 0 || y >= g_.H) continue;
              for (Index j = 0; j < g_.kw; ++j) {
                const Index x = ox * g_.sw - g_.pw + j;
                if (x < 0 || x >= g_.W) continue;
                first((c * g_.H + y) * g_.W + x, col) = p[((o * cin_ + c) * g_.kh + i) * g_.kw + j];
              }
            }
        }
    for (Index b = 1; b < B; ++b) Uout.middleRows(b * D, D) = first;
  }

 private:
  static Index image_channels(const Shape& in) {
    JACNET_CHECK(in.rank() == 3, ShapeError, "nn::Conv2d", "input shape ", in,
                 " is not an image {C,H,W}");
    return in[0];
  }
  void check_bound(const char* where) const {
    JACNET_CHECK(bound(), ValueError, where, name(),
                 ": input spatial size unknown (construct with Shape{C,H,W} or call bind)");
  }

  // Y = W ⋆ X (+ b) for every row of X.
  void apply(const T* W, const T* b, const auto& X, auto&& Y) const {
    if constexpr (simd_scalar_v<T>) {
      detail::conv_forward_rows(g_, cout_, W, b, X, Y);
    } else {
      Y.resize(X.rows(), out_size());
      for (Index r = 0; r < X.rows(); ++r)
        detail::conv_forward_ref(g_, cout_, W, b, X.row(r).data(), Y.row(r).data());
    }
  }

  // gW += Σ_r V_r ⊗ X_{r/K}, gb += Σ V (if gb).
  void wgrad(const auto& X, const auto& V, T* gW, T* gb) const {
    if constexpr (simd_scalar_v<T>) {
      detail::conv_wgrad_rows(g_, cout_, X, V, gW, gb);
    } else {
      const Index K = V.rows() / X.rows();
      for (Index r = 0; r < V.rows(); ++r)
        detail::conv_wgrad_ref(g_, cout_, V.row(r).data(), X.row(r / K).data(), gW, gb);
    }
  }

  Index cin_, cout_;
  Size2 k_, s_, p_;
  bool bias_;
  Window2d g_;
};

}  // namespace jacnet::nn
