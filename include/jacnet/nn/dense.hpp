#pragma once
// jacnet/nn/dense.hpp — fully connected layer y = W x + b (torch.nn.Linear layout).
//
// Parameters (block order): weight W [out x in] row-major, then bias b [out] (optional).
// Rules, batched with samples × directions as GEMM rows (one GEMM for all B*K rows):
//   forward       Y = X Wᵀ + 1 bᵀ
//   jvp           Uout = Uin Wᵀ                 (A = W for every sample; bias drops out)
//   vjp           Vin  = Vout W
//   param_grad    W̄ += Σ_b (Σ_k Vout_{bk}) X_bᵀ,  b̄ += Σ_{bk} Vout_{bk}
//   second_order  Q = Σ <Dout, W Ein>:  W̄ += Doutᵀ Ein  (B*K-deep GEMM); nothing to b̄ or X̄
//                 (A does not depend on x or b).
// Fast paths used by the modes: vjp_onehot copies W's rows for one-hot seeds (jacrev, label
// class, top-k), jvp_identity copies W's columns for identity tangents (jacfwd).
#include <random>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/init.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

template <class T>
class Dense {
 public:
  using Scalar = T;

  /// A Dense layer in → out (with a bias unless `bias` is false).
  Dense(Index in, Index out, bool bias = true) : in_(in), out_(out), bias_(bias) {
    JACNET_CHECK(in > 0 && out > 0, ValueError, "nn::Dense", "sizes in=", in, " out=", out,
                 " must be positive");
  }

  Index in_features() const { return in_; }
  Index out_features() const { return out_; }
  bool has_bias() const { return bias_; }

  std::string name() const {
    return "Dense(" + std::to_string(in_) + "->" + std::to_string(out_) + ")";
  }

  Shape output_shape(const Shape& in) const {
    JACNET_CHECK(in.rank() == 1 && in[0] == in_, ShapeError, "nn::Dense", name(), ": input shape ",
                 in, " does not match expected [", in_, "]",
                 in.rank() > 1 ? " (insert a Flatten before it)" : "");
    return Shape{out_};
  }

  Index num_params() const { return out_ * in_ + (bias_ ? out_ : 0); }
  /// Multiply-adds per sample and direction (the net's thread decision, nn/execution.hpp).
  double macs(const Shape& /*in*/) const { return double(in_) * double(out_); }

  std::vector<ParamInfo> param_info() const {
    std::vector<ParamInfo> v{{"weight", Shape{out_, in_}, true}};
    if (bias_) v.push_back({"bias", Shape{out_}, true});
    return v;
  }

  /// Glorot-uniform weights, zero bias (the net calls the scheme overload: He before ReLUs).
  void init(T* p, std::mt19937_64& rng) const { init(p, rng, InitScheme::Glorot); }
  void init(T* p, std::mt19937_64& rng, InitScheme scheme) const {
    init_weights(p, out_ * in_, in_, out_, scheme, rng);
    if (bias_) constant_fill(p + out_ * in_, out_, 0.0);
  }

  void forward(const T* p, const auto& X, auto&& Y) const {
    check_cols(X, in_, "nn::Dense::forward", *this, "input X");
    const Index B = X.rows();
    Y.resize(B, out_);
    gemm(Y, X, weight(p).transpose(), false);
    if (bias_) {
      const T* b = p + out_ * in_;
      parallel_for(B, double(B) * double(out_),
                   [&](Index r) { simd_add(out_, Y.row(r).data(), b); });
    }
  }

  void jvp(const T* p, const auto& X, const auto& /*Y*/, const auto& Uin,
           auto&& Uout) const {
    check_cols(Uin, in_, "nn::Dense::jvp", *this, "tangents");
    directions(Uin.rows(), X.rows(), "nn::Dense::jvp", *this);
    Uout.resize(Uin.rows(), out_);
    gemm(Uout, Uin, weight(p).transpose(), false);
  }

  void vjp(const T* p, const auto& X, const auto& /*Y*/, const auto& Vout,
           auto&& Vin) const {
    check_cols(Vout, out_, "nn::Dense::vjp", *this, "cotangents");
    directions(Vout.rows(), X.rows(), "nn::Dense::vjp", *this);
    Vin.resize(Vout.rows(), in_);
    gemm(Vin, Vout, weight(p), false);
  }

  void param_grad(const T* /*p*/, const auto& X, const auto& /*Y*/, const auto& Vout,
                  T* g) const {
    check_cols(Vout, out_, "nn::Dense::param_grad", *this, "cotangents");
    const Index B = X.rows();
    const Index K = directions(Vout.rows(), B, "nn::Dense::param_grad", *this);
    MatrixMap<T> gW(g, out_, in_);
    if (K == 1) {
      gemm(gW, Vout.transpose(), X, true);
    } else {
      Matrix<T> Vsum(B, out_);  // Σ_k Vout_{bk}; K > 1 only in custom uses (not a hot path)
      for (Index b = 0; b < B; ++b) {
        std::copy_n(Vout.row(b * K).data(), out_, Vsum.row(b).data());
        for (Index k = 1; k < K; ++k)
          simd_add(out_, Vsum.row(b).data(), Vout.row(b * K + k).data());
      }
      gemm(gW, Vsum.transpose(), X, true);
    }
    if (bias_) {
      T* gb = g + out_ * in_;
      for (Index r = 0; r < Vout.rows(); ++r) simd_add(out_, gb, Vout.row(r).data());
    }
  }

  void second_order(const T* /*p*/, const auto& X, const auto& /*Y*/,
                    const auto& Ein, const auto& Dout, T* g, auto&& Xbar) const {
    check_cols(Ein, in_, "nn::Dense::second_order", *this, "Ein");
    check_cols(Dout, out_, "nn::Dense::second_order", *this, "Dout");
    JACNET_CHECK(Ein.rows() == Dout.rows(), ShapeError, "nn::Dense::second_order", name(),
                 ": Ein has ", Ein.rows(), " rows, Dout ", Dout.rows());
    directions(Ein.rows(), X.rows(), "nn::Dense::second_order", *this);
    prepare_accumulator(Xbar, X.rows(), in_, "nn::Dense::second_order", *this);
    MatrixMap<T> gW(g, out_, in_);
    gemm(gW, Dout.transpose(), Ein, true);
  }

  /// vjp of one-hot seeds: row r = b*M+m of Vin is W.row(cls[r]) (no GEMM).
  void vjp_onehot(const T* p, const auto& X, const auto& /*Y*/, const Index* cls, Index M,
                  auto&& Vin) const {
    const Index R = X.rows() * M;
    Vin.resize(R, in_);
    for (Index r = 0; r < R; ++r)
      JACNET_CHECK(cls[r] >= 0 && cls[r] < out_, ValueError, "nn::Dense::vjp_onehot", name(),
                   ": seed class ", cls[r], " outside [0, ", out_, ")");
    parallel_for(R, double(R) * double(in_),
                 [&](Index r) { std::copy_n(p + cls[r] * in_, in_, Vin.row(r).data()); });
  }

  /// jvp of per-sample identity tangents: rows b*in .. b*in+in-1 of Uout hold Wᵀ (no GEMM).
  void jvp_identity(const T* p, const auto& X, const auto& /*Y*/, auto&& Uout) const {
    const Index B = X.rows();
    Uout.resize(B * in_, out_);
    if (B == 0) return;
    Uout.topRows(in_) = weight(p).transpose();
    parallel_for(B - 1, double(B) * double(in_) * double(out_), [&](Index b) {
      std::copy_n(Uout.data(), in_ * out_, Uout.data() + (b + 1) * in_ * out_);
    });
  }

  /// W as an out x in row-major view of the block.
  Eigen::Map<const Matrix<T>> weight(const T* p) const { return {p, out_, in_}; }

 private:
  Index in_, out_;
  bool bias_;
};

}  // namespace jacnet::nn
