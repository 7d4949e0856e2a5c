#pragma once
// jacnet/io/fashion_mnist.hpp — Fashion-MNIST (Zalando) from Debian's dataset-fashion-mnist.
//
// The package installs four gzipped IDX files in /usr/share/datasets/fashion-mnist:
//   train-images-idx3-ubyte.gz (60000x28x28 uint8), train-labels-idx1-ubyte.gz (60000 uint8),
//   t10k-images-idx3-ubyte.gz (10000x28x28), t10k-labels-idx1-ubyte.gz (10000).
// Images become rows of a Matrix<float> (N x 784, sample shape {1, 28, 28}) scaled to [0, 1]
// (x = byte / 255); labels become std::vector<int> in 0..9. Optional normalization
// x' = (x - mean) / std uses one mean and std over all training pixels (apply the train
// statistics to the test split too). With FashionMnistOptions::normalize these are computed and
// applied by the loader: mean ≈ 0.2860, std ≈ 0.3530.
//
//   auto data = io::load_fashion_mnist();            // throws IoError if the package is missing
//   data.train.images.rows() == 60000; data.test.labels[0] == 9 ("Ankle boot")
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/idx.hpp"

namespace jacnet::io {

/// Where Debian's dataset-fashion-mnist installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Class names, index = label.
inline constexpr std::array<const char*, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// Images (N x C*H*W, row = sample) and integer labels.
struct LabeledImages {
  Matrix<float> images;
  std::vector<int> labels;
  Shape shape{1, 28, 28};
  Index size() const { return images.rows(); }
};

/// x' = (x - mean) / std with scalar statistics.
struct Normalization {
  double mean = 0.0;
  double std = 1.0;

  /// Mean and (population) standard deviation of every entry of `x`.
  static Normalization fit(const Matrix<float>& x) {
    JACNET_CHECK(x.size() > 0, ValueError, "Normalization::fit", "empty matrix");
    double s = 0.0, s2 = 0.0;
    const float* p = x.data();
    for (Index i = 0; i < x.size(); ++i) {
      s += p[i];
      s2 += double(p[i]) * p[i];
    }
    const double n = double(x.size());
    const double mean = s / n;
    const double var = std::max(0.0, s2 / n - mean * mean);
    JACNET_CHECK(var > 0.0, ValueError, "Normalization::fit", "all ", x.size(), " entries equal ",
                 mean, "; the standard deviation is 0");
    return {mean, std::sqrt(var)};
  }
  void apply(Matrix<float>& x) const {
    JACNET_CHECK(std > 0.0 && std::isfinite(std) && std::isfinite(mean), ValueError,
                 "Normalization::apply", "invalid statistics mean ", mean, ", std ", std);
    const float m = static_cast<float>(mean), inv = static_cast<float>(1.0 / std);
    x.array() = (x.array() - m) * inv;
  }
  /// Inverse map, e.g. to turn a normalized image back into [0, 1] for a PNG.
  void invert(Matrix<float>& x) const {
    const float m = static_cast<float>(mean), s = static_cast<float>(std);
    x.array() = x.array() * s + m;
  }
};

struct FashionMnistOptions {
  /// Fit Normalization on the training images and apply it to both splits.
  bool normalize = false;
  /// Keep only the first n samples of each split (0 = all), e.g. for quick tests.
  Index max_train = 0;
  Index max_test = 0;
};

struct FashionMnist {
  LabeledImages train;
  LabeledImages test;
  /// Statistics applied (identity {0, 1} when not normalized).
  Normalization normalization;
};

/// Reads one split ("train" or "t10k") from `dir`: images scaled to [0, 1], labels checked.
inline LabeledImages load_fashion_mnist_split(const std::filesystem::path& dir,
                                              const std::string& split, Index max_samples = 0) {
  JACNET_CHECK(split == "train" || split == "t10k", ValueError, "load_fashion_mnist_split",
               "split '", split, "' must be \"train\" or \"t10k\"");
  const auto img_path = dir / (split + "-images-idx3-ubyte.gz");
  const auto lbl_path = dir / (split + "-labels-idx1-ubyte.gz");
  std::error_code ec;
  JACNET_CHECK(std::filesystem::is_directory(dir, ec), IoError, "load_fashion_mnist", "directory '",
               dir.string(),
               "' does not exist: install Debian's dataset-fashion-mnist package "
               "(apt-get install dataset-fashion-mnist) or pass the directory holding the "
               "Fashion-MNIST IDX files");
  for (const auto& p : {img_path, lbl_path})
    JACNET_CHECK(std::filesystem::exists(p, ec), IoError, "load_fashion_mnist", "'", p.string(),
                 "' is missing: install Debian's dataset-fashion-mnist package "
                 "(apt-get install dataset-fashion-mnist)");

  const auto imgs = read_idx<std::uint8_t>(img_path);
  const auto lbls = read_idx<std::uint8_t>(lbl_path);
  JACNET_CHECK(imgs.dims.size() == 3 && imgs.dims[1] == 28 && imgs.dims[2] == 28, IoError,
               "load_fashion_mnist", "'", img_path.string(), "': dimensions ",
               detail::dims_str(imgs.dims), ", expected [Nx28x28]");
  JACNET_CHECK(lbls.dims.size() == 1, IoError, "load_fashion_mnist", "'", lbl_path.string(),
               "': dimensions ", detail::dims_str(lbls.dims), ", expected [N]");
  JACNET_CHECK(lbls.dims[0] == imgs.dims[0], IoError, "load_fashion_mnist", "'", lbl_path.string(),
               "' has ", lbls.dims[0], " labels but '", img_path.string(), "' has ", imgs.dims[0],
               " images");
  Index n = imgs.dims[0];
  JACNET_CHECK(max_samples >= 0, ValueError, "load_fashion_mnist", "max_samples ", max_samples,
               " is negative");
  if (max_samples > 0) n = std::min(n, max_samples);

  LabeledImages out;
  out.images.resize(n, 784);
  const std::uint8_t* src = imgs.data.data();
  float* dst = out.images.data();
  for (Index i = 0; i < n * 784; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
  out.labels.resize(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const int y = lbls.data[static_cast<std::size_t>(i)];
    JACNET_CHECK(y < 10, IoError, "load_fashion_mnist", "'", lbl_path.string(), "': label ", y,
                 " of sample ", i, " is outside 0..9");
    out.labels[static_cast<std::size_t>(i)] = y;
  }
  return out;
}

/// Loads both splits from `dir` (default: Debian's install location).
inline FashionMnist load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir,
                                       const FashionMnistOptions& opt = {}) {
  FashionMnist d;
  d.train = load_fashion_mnist_split(dir, "train", opt.max_train);
  d.test = load_fashion_mnist_split(dir, "t10k", opt.max_test);
  if (opt.normalize) {
    d.normalization = Normalization::fit(d.train.images);
    d.normalization.apply(d.train.images);
    d.normalization.apply(d.test.images);
  }
  return d;
}

}  // namespace jacnet::io
