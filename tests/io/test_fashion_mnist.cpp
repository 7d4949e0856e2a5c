#include <catch2/catch.hpp>

#include "support/skip.hpp"
#include <cstdint>
#include <vector>

#include "jacnet/io/fashion_mnist.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;

namespace {
// A miniature Fashion-MNIST directory with the real file names.
void write_mini(const std::filesystem::path& dir, const std::string& split, Index n,
                std::vector<std::uint8_t> labels) {
  std::vector<std::uint8_t> img(static_cast<std::size_t>(n) * 784);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>((i * 7) % 256);
  io::write_idx(dir / (split + "-images-idx3-ubyte.gz"), {n, 28, 28}, img.data(), true);
  io::write_idx(dir / (split + "-labels-idx1-ubyte.gz"), {static_cast<Index>(labels.size())},
                labels.data(), true);
}
}  // namespace

TEST_CASE("Fashion-MNIST loader on a miniature copy: scaling, labels, normalization",
          "[io][fmnist]") {
  TempDir dir;
  write_mini(dir.path(), "train", 3, {0, 9, 4});
  write_mini(dir.path(), "t10k", 2, {1, 2});
  const auto d = io::load_fashion_mnist(dir.path());
  REQUIRE(d.train.images.rows() == 3);
  REQUIRE(d.train.images.cols() == 784);
  CHECK(d.train.labels == std::vector<int>{0, 9, 4});
  CHECK(d.test.labels == std::vector<int>{1, 2});
  CHECK((d.train.shape == Shape{1, 28, 28}));
  // byte (i*7) % 256 at flat index i, scaled by 1/255.
  CHECK(d.train.images(1, 5) == Approx(((784 + 5) * 7 % 256) / 255.0f));
  CHECK(d.train.images.minCoeff() >= 0.0f);
  CHECK(d.train.images.maxCoeff() <= 1.0f);

  io::FashionMnistOptions opt;
  opt.normalize = true;
  opt.max_train = 2;
  const auto n = io::load_fashion_mnist(dir.path(), opt);
  CHECK(n.train.images.rows() == 2);
  // Train statistics: mean 0, std 1 over the training pixels after normalization.
  const double mean = n.train.images.cast<double>().mean();
  const double var = (n.train.images.cast<double>().array() - mean).square().mean();
  CHECK(mean == Approx(0.0).margin(1e-5));
  CHECK(var == Approx(1.0).epsilon(1e-4));
  // The same affine map is applied to the test split; invert() undoes it.
  Matrix<float> t = n.test.images;
  n.normalization.invert(t);
  CHECK((t - d.test.images).cwiseAbs().maxCoeff() < 1e-5f);
}

TEST_CASE("Fashion-MNIST loader errors name the path and the package", "[io][fmnist]") {
  TempDir dir;
  CHECK_THROWS_WITH(io::load_fashion_mnist(dir / "nowhere"),
                    Catch::Contains("nowhere") && Catch::Contains("dataset-fashion-mnist"));
  write_mini(dir.path(), "train", 3, {0, 1, 2});
  CHECK_THROWS_WITH(io::load_fashion_mnist(dir.path()),
                    Catch::Contains("t10k-images-idx3-ubyte.gz") && Catch::Contains("is missing") &&
                        Catch::Contains("dataset-fashion-mnist"));
  write_mini(dir.path(), "t10k", 2, {1, 2, 3});  // 3 labels for 2 images
  CHECK_THROWS_WITH(io::load_fashion_mnist(dir.path()),
                    Catch::Contains("has 3 labels") && Catch::Contains("has 2 images"));
  write_mini(dir.path(), "t10k", 2, {1, 10});
  CHECK_THROWS_WITH(io::load_fashion_mnist(dir.path()),
                    Catch::Contains("label 10 of sample 1 is outside 0..9"));
  // Wrong image size.
  std::vector<std::uint8_t> img(2 * 32 * 32, 0);
  io::write_idx(dir / "t10k-images-idx3-ubyte.gz", {2, 32, 32}, img.data(), true);
  CHECK_THROWS_WITH(io::load_fashion_mnist_split(dir.path(), "t10k"),
                    Catch::Contains("[2x32x32], expected [Nx28x28]"));
  CHECK_THROWS_AS(io::load_fashion_mnist_split(dir.path(), "validation"), ValueError);
  Matrix<float> flat = Matrix<float>::Constant(2, 3, 0.5f);
  CHECK_THROWS_WITH(io::Normalization::fit(flat), Catch::Contains("standard deviation is 0"));
}

TEST_CASE("Debian's dataset-fashion-mnist, when installed", "[io][fmnist]") {
  if (!std::filesystem::exists(std::filesystem::path(io::kFashionMnistDir) /
                               "t10k-images-idx3-ubyte.gz")) {
    JACNET_SKIP("dataset-fashion-mnist is not installed");
  }
  io::FashionMnistOptions opt;
  opt.normalize = true;
  const auto d = io::load_fashion_mnist(io::kFashionMnistDir, opt);
  CHECK(d.train.images.rows() == 60000);
  CHECK(d.test.images.rows() == 10000);
  CHECK(d.train.images.cols() == 784);
  // Published facts about the set: 6000 / 1000 images per class, first test image an ankle boot,
  // pixel mean 0.2860 and std 0.3530 over the training set.
  std::vector<int> count(10, 0);
  for (int y : d.train.labels) ++count[y];
  CHECK(count == std::vector<int>(10, 6000));
  std::vector<int> tcount(10, 0);
  for (int y : d.test.labels) ++tcount[y];
  CHECK(tcount == std::vector<int>(10, 1000));
  CHECK(d.test.labels[0] == 9);
  CHECK(std::string(io::kFashionMnistClasses[9]) == "Ankle boot");
  CHECK(d.normalization.mean == Approx(0.2860).margin(5e-4));
  CHECK(d.normalization.std == Approx(0.3530).margin(5e-4));
}
