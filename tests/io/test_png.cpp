// PNG output and saliency maps. The PNG encoder is stb_image_write: from libstb (-lstb) when the
// build links it (JACNET_HAS_STB), else compiled into this file via JACNET_PNG_IMPLEMENTATION.
// Decoding for the checks uses stb_image, an independent decoder from the same Debian package.
#ifndef JACNET_HAS_STB
#define JACNET_PNG_IMPLEMENTATION
#endif
#include "jacnet/io/png.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;

namespace {

io::Image decode(const std::vector<unsigned char>& png) {
  int w = 0, h = 0, c = 0;
  unsigned char* p = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 0);
  REQUIRE(p != nullptr);
  io::Image img(w, h, c);
  std::copy(p, p + static_cast<std::size_t>(w) * h * c, img.pixels.begin());
  stbi_image_free(p);
  return img;
}

}  // namespace

TEST_CASE("PNG: gray and RGB images encode losslessly", "[io][png]") {
  io::Image g(5, 3, 1);
  for (std::size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = static_cast<std::uint8_t>(17 * i);
  const auto png = io::encode_png(g);
  const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  REQUIRE(png.size() > 8);
  CHECK(std::equal(sig, sig + 8, png.begin()));
  const io::Image back = decode(png);
  CHECK(back.width == 5);
  CHECK(back.height == 3);
  CHECK(back.channels == 1);
  CHECK(back.pixels == g.pixels);

  io::Image rgb(4, 4, 3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      rgb.at(x, y, 0) = static_cast<std::uint8_t>(60 * x);
      rgb.at(x, y, 1) = static_cast<std::uint8_t>(60 * y);
      rgb.at(x, y, 2) = 200;
    }
  TempDir dir;
  io::write_png(dir / "rgb.png", rgb);
  const io::Image rb = decode(jacnet_test::read_bytes(dir / "rgb.png"));
  CHECK(rb.channels == 3);
  CHECK(rb.pixels == rgb.pixels);
  CHECK(dir.entries() == std::vector<std::string>{"rgb.png"});

  io::Image bad = g;
  bad.pixels.pop_back();
  CHECK_THROWS_WITH(io::write_png(dir / "bad.png", bad),
                    Catch::Contains("bad.png") && Catch::Contains("inconsistent image 5x3x1"));
  CHECK_THROWS_AS(io::Image(0, 3, 1), ValueError);
  CHECK_THROWS_AS(io::Image(2, 3, 2), ValueError);
}

TEST_CASE("PNG: input samples map [lo, hi] to bytes, planar to interleaved", "[io][png]") {
  const std::vector<double> x = {0.0, 0.5, 1.0, 2.0, -1.0, 0.25};  // 1 x 2 x 3
  const io::Image img = io::image_from_sample(x.data(), Shape{1, 2, 3});
  CHECK(img.channels == 1);
  CHECK(img.pixels == std::vector<std::uint8_t>{0, 128, 255, 255, 0, 64});
  // Normalized data: map [-1, 1].
  const io::Image n = io::image_from_sample(x.data(), Shape{2, 3}, -1.0, 1.0);
  CHECK(n.pixels == std::vector<std::uint8_t>{128, 191, 255, 255, 0, 159});
  const std::vector<float> c3 = {1, 0, 0, 1, 0.5f, 0.5f};  // 3 x 1 x 2 planar
  const io::Image rgb = io::image_from_sample(c3.data(), Shape{3, 1, 2});
  CHECK(rgb.channels == 3);
  CHECK(rgb.pixels == std::vector<std::uint8_t>{255, 0, 128, 0, 255, 128});
  CHECK_THROWS_AS(io::image_from_sample(x.data(), Shape{6}), ShapeError);
  CHECK_THROWS_AS(io::image_from_sample(x.data(), Shape{2, 1, 3}), ShapeError);
}

TEST_CASE("Saliency: absolute map scales |g| by its maximum or a percentile", "[io][png]") {
  const std::vector<double> g = {0.0, -2.0, 1.0, 4.0};  // 2 x 2
  io::SaliencyOptions opt;
  opt.percentile = 100;
  const io::Image a = io::saliency_image(g.data(), Shape{1, 2, 2}, opt);
  CHECK(a.channels == 1);
  CHECK(a.pixels == std::vector<std::uint8_t>{0, 128, 64, 255});
  // Percentile: 100 values 1..100; the 99th percentile is 99, so 100 saturates.
  std::vector<float> ramp(100);
  for (int i = 0; i < 100; ++i) ramp[i] = static_cast<float>(i + 1);
  const io::Image r = io::saliency_image(ramp.data(), Shape{10, 10});
  CHECK(r.pixels[99] == 255);
  CHECK(r.pixels[98] == 255);
  CHECK(r.pixels[49] == static_cast<std::uint8_t>(std::lround(255.0 * 50 / 99)));
  CHECK(io::saliency_scale(
            io::saliency_values(ramp.data(), Shape{10, 10}, io::SaliencyMode::absolute), 50.0) ==
        50.0);
  // Channels: absolute takes the max over channels.
  const std::vector<double> two = {1.0, -3.0, -2.0, 0.5};  // 2 x 1 x 2
  const auto s = io::saliency_values(two.data(), Shape{2, 1, 2}, io::SaliencyMode::absolute);
  CHECK(s == std::vector<double>{2.0, 3.0});
  const auto ss = io::saliency_values(two.data(), Shape{2, 1, 2}, io::SaliencyMode::signed_);
  CHECK(ss == std::vector<double>{-1.0, -2.5});
  // A fixed scale shared by several maps.
  opt.scale = 8.0;
  CHECK(io::saliency_image(g.data(), Shape{2, 2}, opt).pixels ==
        std::vector<std::uint8_t>{0, 64, 32, 128});
  // All-zero Jacobian: black, no NaN.
  const std::vector<double> z(4, 0.0);
  CHECK(io::saliency_image(z.data(), Shape{2, 2}).pixels == std::vector<std::uint8_t>(4, 0));
  CHECK_THROWS_AS(io::saliency_image(g.data(), Shape{4}), ShapeError);
  CHECK_THROWS_AS(io::saliency_scale(s, 0.0), ValueError);
}

TEST_CASE("Saliency: signed map is blue-white-red", "[io][png]") {
  const std::vector<double> g = {-4.0, -2.0, 0.0, 2.0, 4.0, 8.0};
  io::SaliencyOptions opt;
  opt.mode = io::SaliencyMode::signed_;
  opt.scale = 4.0;
  const io::Image img = io::saliency_image(g.data(), Shape{1, 6}, opt);
  REQUIRE(img.channels == 3);
  auto px = [&](int x) {
    return std::vector<int>{img.at(x, 0, 0), img.at(x, 0, 1), img.at(x, 0, 2)};
  };
  CHECK(px(0) == std::vector<int>{0, 0, 255});      // -1: blue
  CHECK(px(1) == std::vector<int>{128, 128, 255});  // -0.5: light blue
  CHECK(px(2) == std::vector<int>{255, 255, 255});  // 0: white
  CHECK(px(3) == std::vector<int>{255, 128, 128});  // +0.5: light red
  CHECK(px(4) == std::vector<int>{255, 0, 0});      // +1: red
  CHECK(px(5) == std::vector<int>{255, 0, 0});      // clipped
}

TEST_CASE("Images tile into a grid and upscale", "[io][png]") {
  std::vector<io::Image> imgs;
  for (int k = 0; k < 3; ++k) imgs.emplace_back(2, 2, 1, static_cast<std::uint8_t>(10 * (k + 1)));
  const io::Image t = io::tile_images(imgs, 2, 1, 255);
  CHECK(t.width == 1 + 2 * 3);
  CHECK(t.height == 1 + 2 * 3);
  CHECK(t.channels == 1);
  CHECK(t.at(0, 0) == 255);  // padding
  CHECK(t.at(1, 1) == 10);   // image 0 at (1, 1)
  CHECK(t.at(4, 2) == 20);   // image 1 at (4, 1)
  CHECK(t.at(2, 5) == 30);   // image 2 at (1, 4)
  CHECK(t.at(5, 5) == 255);  // empty cell
  CHECK(t.at(3, 1) == 255);  // gap between cells
  // Mixed gray and RGB: everything becomes RGB; smaller images sit in the cell's corner.
  imgs.emplace_back(1, 1, 3, 7);
  const io::Image m = io::tile_images(imgs, 4, 0, 0);
  CHECK(m.channels == 3);
  CHECK(m.width == 8);
  CHECK(m.height == 2);
  CHECK(m.at(2, 0, 2) == 20);
  CHECK(m.at(6, 0, 1) == 7);
  CHECK(m.at(7, 1, 0) == 0);
  const io::Image u = io::upscale(imgs[0], 3);
  CHECK(u.width == 6);
  CHECK(u.pixels == std::vector<std::uint8_t>(36, 10));
  CHECK_THROWS_AS(io::tile_images({}, 2), ValueError);
  CHECK_THROWS_AS(io::tile_images(imgs, 0), ValueError);
  CHECK_THROWS_AS(io::upscale(imgs[0], 0), ValueError);
  // A saliency grid round-trips through PNG.
  TempDir dir;
  io::write_png(dir / "grid.png", io::upscale(t, 2));
  const io::Image back = decode(jacnet_test::read_bytes(dir / "grid.png"));
  CHECK(back.width == 14);
  CHECK(back.at(3, 3) == 10);
}
