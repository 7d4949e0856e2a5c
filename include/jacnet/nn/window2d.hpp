#pragma once
// jacnet/nn/window2d.hpp — geometry of a 2-d sliding window over a C x H x W image (NCHW without
// the N), shared by Conv2d, AvgPool2d and MaxPool2d.
//
// A window of kh x kw taps moves with stride (sh, sw) over the input zero-padded by (ph, pw) on
// each side. Output position (oy, ox) reads input rows y = oy·sh − ph + i and columns
// x = ox·sw − pw + j for taps (i, j) ∈ [0, kh) x [0, kw), so (PyTorch's floor rule)
//   OH = ⌊(H + 2·ph − kh) / sh⌋ + 1,   OW = ⌊(W + 2·pw − kw) / sw⌋ + 1.
// Taps that land in the padding read zero (convolution, average pooling with padding counted)
// or are skipped (max pooling).
#include <string>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

/// A pair (h, w) of sizes: kernel, stride or padding. `Size2(3)` is square, `Size2(5, 3)` is not.
struct Size2 {
  Index h = 1;
  Index w = 1;
  constexpr Size2() = default;
  constexpr Size2(Index s) : h(s), w(s) {}  // NOLINT(google-explicit-constructor): `Conv2d(.., 5)`
  constexpr Size2(Index h_, Index w_) : h(h_), w(w_) {}
  constexpr bool operator==(const Size2&) const = default;
  std::string str() const {
    return h == w ? std::to_string(h) : std::to_string(h) + "x" + std::to_string(w);
  }
};

/// Sliding-window geometry: input C x H x W, kernel, stride and padding; output C' x OH x OW.
struct Window2d {
  Index C = 0, H = 0, W = 0;  ///< input channels and spatial size
  Index kh = 1, kw = 1;       ///< kernel (taps)
  Index sh = 1, sw = 1;       ///< stride
  Index ph = 0, pw = 0;       ///< zero padding on each side
  Index OH = 0, OW = 0;       ///< output spatial size

  Window2d() = default;
  /// Checks the sizes (throws ValueError/ShapeError naming `layer`) and computes OH, OW.
  Window2d(const std::string& layer, const Shape& in, Size2 kernel, Size2 stride, Size2 padding)
      : kh(kernel.h), kw(kernel.w), sh(stride.h), sw(stride.w), ph(padding.h), pw(padding.w) {
    JACNET_CHECK(in.rank() == 3, ShapeError, layer.c_str(), "input shape ", in,
                 " is not an image {C,H,W}");
    C = in[0];
    H = in[1];
    W = in[2];
    JACNET_CHECK(kh > 0 && kw > 0, ValueError, layer.c_str(), "kernel ", kernel.str(),
                 " must be positive");
    JACNET_CHECK(sh > 0 && sw > 0, ValueError, layer.c_str(), "stride ", stride.str(),
                 " must be positive");
    JACNET_CHECK(ph >= 0 && pw >= 0, ValueError, layer.c_str(), "padding ", padding.str(),
                 " must not be negative");
    JACNET_CHECK(H + 2 * ph >= kh && W + 2 * pw >= kw, ShapeError, layer.c_str(), "kernel ",
                 kernel.str(), " is larger than the padded input ", in, " (padding ", padding.str(),
                 ")");
    OH = (H + 2 * ph - kh) / sh + 1;
    OW = (W + 2 * pw - kw) / sw + 1;
  }

  Shape in_shape() const { return Shape{C, H, W}; }
  Index in_size() const { return C * H * W; }
  Index taps() const { return kh * kw; }
  Index out_pixels() const { return OH * OW; }
};

}  // namespace jacnet::nn
