#pragma once
// jacnet/io/png.hpp — 8-bit grayscale / RGB images, PNG output through Debian's stb, and saliency
// maps of input Jacobians.
//
// PNG encoding calls stbi_write_png_to_func from stb_image_write.h (Debian's libstb-dev,
// /usr/include/stb/). stb is a "single-file" library whose function bodies are compiled only where
// STB_IMAGE_WRITE_IMPLEMENTATION is defined, which a header-only library cannot do for its users.
// Debian ships those bodies compiled in libstb.so (pkg-config stb: -lstb), so by default this
// header only declares the functions and the program links -lstb (the jacnet CMake target does
// this when it finds libstb and sets JACNET_HAS_STB). Without libstb, define
// JACNET_PNG_IMPLEMENTATION in exactly one .cpp before its first include of this header (or of
// jacnet/jacnet.hpp) to compile stb's writer into that translation unit.
//
// Saliency: for an input x of shape {C, H, W} (or {H, W}) and a Jacobian row g = ∂f_k/∂x,
//   absolute: s(h,w) = max_c |g(c,h,w)|,      pixel = 255 · min(1, s / scale)       (grayscale)
//   signed:   s(h,w) = Σ_c g(c,h,w),           t = clamp(s / scale, -1, 1), blue (t < 0) —
//             white (0) — red (t > 0)                                                 (RGB)
// where scale is the `percentile` of |s| over the image (100 = the maximum), so one extreme pixel
// does not wash out the map. tile_images() lays several images out in a grid for one PNG.
//
//   io::write_png("sal.png", io::tile_images({io::upscale(io::saliency_image(J.row(0).data(),
//                 Shape{1, 28, 28}), 4), ...}, /*cols=*/8));
#if !__has_include(<stb/stb_image_write.h>)
#error "jacnet/io/png.hpp needs stb_image_write.h (Debian: libstb-dev)"
#endif
#if defined(JACNET_PNG_IMPLEMENTATION) && !defined(STB_IMAGE_WRITE_IMPLEMENTATION)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define JACNET_DEFINED_STBIW_IMPLEMENTATION
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#ifdef JACNET_DEFINED_STBIW_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef JACNET_DEFINED_STBIW_IMPLEMENTATION
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/atomic_file.hpp"

namespace jacnet::io {

/// An 8-bit image: row-major pixels, `channels` interleaved values each (1 gray, 3 RGB, 4 RGBA).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int c, std::uint8_t fill = 0) : width(w), height(h), channels(c) {
    JACNET_CHECK(w > 0 && h > 0 && (c == 1 || c == 3 || c == 4), ValueError, "Image",
                 "invalid size ", w, "x", h, " with ", c, " channels (need w, h > 0, c in 1/3/4)");
    pixels.assign(static_cast<std::size_t>(w) * h * c, fill);
  }
  std::uint8_t& at(int x, int y, int c = 0) {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
  std::uint8_t at(int x, int y, int c = 0) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

/// Encodes an image as PNG bytes (`name` labels errors).
inline std::vector<unsigned char> encode_png(const Image& img, const std::string& name = "image") {
  JACNET_CHECK(
      img.width > 0 && img.height > 0 &&
          (img.channels == 1 || img.channels == 3 || img.channels == 4) &&
          img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * img.channels,
      ValueError, "encode_png", "'", name, "': inconsistent image ", img.width, "x", img.height,
      "x", img.channels, " with ", img.pixels.size(), " bytes");
  std::vector<unsigned char> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(ctx);
    const auto* p = static_cast<const unsigned char*>(data);
    v->insert(v->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(sink, &out, img.width, img.height, img.channels,
                                        img.pixels.data(), img.width * img.channels);
  JACNET_CHECK(ok != 0 && !out.empty(), IoError, "encode_png", "'", name,
               "': stb failed to encode a ", img.width, "x", img.height, "x", img.channels,
               " image");
  return out;
}

/// Writes a PNG atomically.
inline void write_png(const std::filesystem::path& path, const Image& img) {
  write_file_atomic(path, encode_png(img, path.string()));
}

namespace detail {
inline std::uint8_t to_byte(double v) {
  if (!(v > 0.0)) return 0;  // also NaN
  if (v >= 255.0) return 255;
  return static_cast<std::uint8_t>(std::lround(v));
}
/// {C, H, W} or {H, W} -> C, H, W.
inline void chw(const Shape& s, const char* where, int& c, int& h, int& w) {
  JACNET_CHECK(s.rank() == 2 || s.rank() == 3, ShapeError, where, "shape ", s,
               " must be {H, W} or {C, H, W}");
  c = s.rank() == 3 ? static_cast<int>(s[0]) : 1;
  h = static_cast<int>(s[s.rank() - 2]);
  w = static_cast<int>(s[s.rank() - 1]);
}
}  // namespace detail

/// An input sample (C x H x W planar, C = 1 or 3) as an image, mapping [lo, hi] to [0, 255].
template <class T>
Image image_from_sample(const T* x, const Shape& shape, double lo = 0.0, double hi = 1.0) {
  int c, h, w;
  detail::chw(shape, "image_from_sample", c, h, w);
  JACNET_CHECK(c == 1 || c == 3, ShapeError, "image_from_sample", "shape ", shape, " has ", c,
               " channels; images need 1 or 3");
  JACNET_CHECK(hi > lo, ValueError, "image_from_sample", "range [", lo, ", ", hi, "] is empty");
  Image img(w, h, c);
  const double s = 255.0 / (hi - lo);
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < w; ++xx)
        img.at(xx, y, ch) =
            detail::to_byte((static_cast<double>(x[(ch * h + y) * w + xx]) - lo) * s);
  return img;
}

enum class SaliencyMode { absolute, signed_ };

struct SaliencyOptions {
  SaliencyMode mode = SaliencyMode::absolute;
  /// Percentile of |s| that maps to full intensity (100 = the maximum).
  double percentile = 99.0;
  /// If > 0, use this scale instead (e.g. one scale shared by several maps to compare them).
  double scale = 0.0;
};

/// The per-pixel map s(h, w) of a Jacobian row (see the header comment), H*W values.
template <class T>
std::vector<double> saliency_values(const T* g, const Shape& shape, SaliencyMode mode) {
  int c, h, w;
  detail::chw(shape, "saliency_values", c, h, w);
  std::vector<double> s(static_cast<std::size_t>(h) * w, 0.0);
  for (int ch = 0; ch < c; ++ch)
    for (std::size_t i = 0; i < s.size(); ++i) {
      const double v = static_cast<double>(g[ch * s.size() + i]);
      if (mode == SaliencyMode::absolute)
        s[i] = std::max(s[i], std::abs(v));
      else
        s[i] += v;
    }
  return s;
}

/// The `percentile` (0..100] of |s| (nearest rank).
inline double saliency_scale(const std::vector<double>& s, double percentile) {
  JACNET_CHECK(percentile > 0.0 && percentile <= 100.0, ValueError, "saliency_scale", "percentile ",
               percentile, " outside (0, 100]");
  JACNET_CHECK(!s.empty(), ValueError, "saliency_scale", "empty map");
  std::vector<double> a(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) a[i] = std::abs(s[i]);
  const auto k = static_cast<std::size_t>(std::clamp(
      std::ceil(percentile / 100.0 * double(a.size())) - 1.0, 0.0, double(a.size() - 1)));
  std::nth_element(a.begin(), a.begin() + static_cast<long>(k), a.end());
  return a[k];
}

/// A Jacobian row g (shape {C, H, W} or {H, W}) as an 8-bit saliency image: grayscale for
/// SaliencyMode::absolute, blue-white-red RGB for SaliencyMode::signed_.
template <class T>
Image saliency_image(const T* g, const Shape& shape, const SaliencyOptions& opt = {}) {
  int c, h, w;
  detail::chw(shape, "saliency_image", c, h, w);
  const std::vector<double> s = saliency_values(g, shape, opt.mode);
  const double scale = opt.scale > 0.0 ? opt.scale : saliency_scale(s, opt.percentile);
  const double inv = scale > 0.0 && std::isfinite(scale) ? 1.0 / scale : 0.0;
  if (opt.mode == SaliencyMode::absolute) {
    Image img(w, h, 1);
    for (std::size_t i = 0; i < s.size(); ++i) img.pixels[i] = detail::to_byte(255.0 * s[i] * inv);
    return img;
  }
  Image img(w, h, 3);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double t = std::clamp(s[i] * inv, -1.0, 1.0);
    const std::uint8_t fade = detail::to_byte(255.0 * (1.0 - std::abs(t)));
    std::uint8_t* p = &img.pixels[3 * i];
    p[0] = t < 0 ? fade : 255;
    p[1] = fade;
    p[2] = t > 0 ? fade : 255;
  }
  return img;
}

/// Grayscale -> RGB (RGB and RGBA are returned as they are).
inline Image to_rgb(const Image& img) {
  if (img.channels != 1) return img;
  Image out(img.width, img.height, 3);
  for (std::size_t i = 0; i < img.pixels.size(); ++i)
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = img.pixels[i];
  return out;
}

/// Nearest-neighbour enlargement by an integer factor (28x28 digits are tiny on screen).
inline Image upscale(const Image& img, int factor) {
  JACNET_CHECK(factor >= 1 && factor <= 64, ValueError, "upscale", "factor ", factor,
               " outside 1..64");
  Image out(img.width * factor, img.height * factor, img.channels);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < img.channels; ++c) out.at(x, y, c) = img.at(x / factor, y / factor, c);
  return out;
}

/// Lays images out row by row in a grid of `cols` columns, each cell the size of the largest
/// image, `pad` pixels of `background` between and around cells. Grayscale if every image is
/// grayscale, else RGB (RGBA images are not accepted).
inline Image tile_images(const std::vector<Image>& images, int cols, int pad = 2,
                         std::uint8_t background = 255) {
  JACNET_CHECK(!images.empty(), ValueError, "tile_images", "no images");
  JACNET_CHECK(cols >= 1, ValueError, "tile_images", "cols ", cols, " must be >= 1");
  JACNET_CHECK(pad >= 0, ValueError, "tile_images", "pad ", pad, " must be >= 0");
  int cw = 0, ch = 0, channels = 1;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Image& im = images[i];
    JACNET_CHECK(im.channels == 1 || im.channels == 3, ValueError, "tile_images", "image ", i,
                 " has ", im.channels, " channels; only gray and RGB can be tiled");
    JACNET_CHECK(im.pixels.size() == static_cast<std::size_t>(im.width) * im.height * im.channels &&
                     im.width > 0,
                 ValueError, "tile_images", "image ", i, " is empty or inconsistent");
    cw = std::max(cw, im.width);
    ch = std::max(ch, im.height);
    if (im.channels == 3) channels = 3;
  }
  cols = std::min<int>(cols, static_cast<int>(images.size()));
  const int rows = (static_cast<int>(images.size()) + cols - 1) / cols;
  Image out(pad + cols * (cw + pad), pad + rows * (ch + pad), channels, background);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Image im = channels == 3 ? to_rgb(images[i]) : images[i];
    const int ox = pad + static_cast<int>(i % cols) * (cw + pad);
    const int oy = pad + static_cast<int>(i / cols) * (ch + pad);
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x)
        for (int c = 0; c < channels; ++c) out.at(ox + x, oy + y, c) = im.at(x, y, c);
  }
  return out;
}

}  // namespace jacnet::io
