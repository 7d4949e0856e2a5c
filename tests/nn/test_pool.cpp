// Tests of nn::AvgPool2d and nn::MaxPool2d: every rule vs finite differences, the Dual AD core and
// the generic path (strides, padding, non-square windows, K > 1); hand-computed values (padding
// counted in the average, or not with count_include_pad=false against PyTorch's formula; ties →
// first tap, padding never wins the max); the 2x2 fast path equals
// the general loop bitwise; thread-count independence; shape errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>

#include "jacnet/nn/pool.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;
using nn::Size2;

namespace {

template <template <class> class P>
auto pool_maker(Size2 k, std::optional<Size2> s = std::nullopt, Size2 p = 0) {
  return [=](auto tag) { return P<typename decltype(tag)::type>(k, s, p); };
}

// Distinct inputs at least 0.01 apart (a random permutation of a grid per sample), so finite
// differences with h = 1e-6 never move a max-pool argmax.
void distinct_inputs(Mat& X) {
  std::mt19937_64 rng(23);
  for (Index b = 0; b < X.rows(); ++b) {
    std::vector<Index> perm(static_cast<std::size_t>(X.cols()));
    std::iota(perm.begin(), perm.end(), Index{0});
    std::shuffle(perm.begin(), perm.end(), rng);
    for (Index i = 0; i < X.cols(); ++i)
      X(b, i) = -1.0 + 2.0 * double(perm[static_cast<std::size_t>(i)]) / double(X.cols());
  }
}

}  // namespace

TEST_CASE("AvgPool2d rules match finite differences and scalar AD", "[nn][pool]") {
  check_layer(pool_maker<nn::AvgPool2d>(2), Shape{2, 4, 6});
  check_layer(pool_maker<nn::AvgPool2d>(2), Shape{1, 5, 5});  // odd size: last row/col dropped
  check_layer(pool_maker<nn::AvgPool2d>(3, 2, 1), Shape{2, 5, 6});
  check_layer(pool_maker<nn::AvgPool2d>({2, 3}, Size2{1, 2}, Size2{1, 1}), Shape{3, 4, 5});
  LayerCheckOptions one;
  one.K = 1;
  one.B = 4;
  check_layer(pool_maker<nn::AvgPool2d>(2, 1), Shape{2, 3, 3}, one);
}

namespace {
auto avg_exclude_pad(Size2 k, std::optional<Size2> s, Size2 p) {
  return [=](auto tag) { return nn::AvgPool2d<typename decltype(tag)::type>(k, s, p, false); };
}
}  // namespace

TEST_CASE("AvgPool2d count_include_pad=false: rules match finite differences and scalar AD",
          "[nn][pool]") {
  check_layer(avg_exclude_pad(3, 2, 1), Shape{2, 5, 6});
  check_layer(avg_exclude_pad({2, 3}, Size2{1, 2}, Size2{1, 1}), Shape{3, 4, 5});
  check_layer(avg_exclude_pad(3, 1, 1), Shape{1, 4, 4});  // every border window is partial
  LayerCheckOptions one;
  one.K = 1;
  one.B = 4;
  check_layer(avg_exclude_pad(2, 2, 1), Shape{2, 3, 3}, one);
}

// torch.nn.AvgPool2d(count_include_pad=False): each output is the mean of the window's taps that
// lie inside the (unpadded) image — the formula by brute force over the padded window.
TEST_CASE("AvgPool2d count_include_pad=false matches PyTorch's formula", "[nn][pool]") {
  struct Case {
    Shape in;
    Size2 k, s, p;
  };
  for (const Case& c : {Case{Shape{2, 5, 6}, 3, 2, 1}, Case{Shape{1, 4, 4}, 3, 1, 1},
                        Case{Shape{3, 4, 5}, {2, 3}, Size2{1, 2}, Size2{1, 1}},
                        Case{Shape{1, 6, 6}, 2, 2, 0}}) {
    nn::AvgPool2d<double> ex(c.k, c.s, c.p, false), in(c.k, c.s, c.p);
    ex.bind(c.in);
    in.bind(c.in);
    const nn::Window2d& g = ex.window();
    std::mt19937_64 rng(5);
    const Mat X = random_matrix(2, c.in.size(), rng);
    Mat Y, Yin;
    ex.forward(nullptr, X, Y);
    in.forward(nullptr, X, Yin);
    INFO(ex.name() << " on " << c.in);
    for (Index b = 0; b < 2; ++b)
      for (Index ch = 0; ch < g.C; ++ch)
        for (Index oy = 0; oy < g.OH; ++oy)
          for (Index ox = 0; ox < g.OW; ++ox) {
            double sum = 0;
            Index count = 0;
            for (Index i = 0; i < g.kh; ++i)
              for (Index j = 0; j < g.kw; ++j) {
                const Index y = oy * g.sh - g.ph + i, x = ox * g.sw - g.pw + j;
                if (y < 0 || y >= g.H || x < 0 || x >= g.W) continue;
                sum += X(b, (ch * g.H + y) * g.W + x);
                ++count;
              }
            const Index o = (ch * g.OH + oy) * g.OW + ox;
            CHECK(Y(b, o) == Approx(sum / double(count)).epsilon(1e-14).margin(1e-15));
            CHECK(Yin(b, o) == Approx(sum / double(g.kh * g.kw)).epsilon(1e-14).margin(1e-15));
          }
    if (c.p == Size2(0)) CHECK(Y == Yin);  // without padding the two divisors agree
  }
  // the 3x3 example of the next test: corner window holds 1 tap, edge 2, interior 4
  nn::AvgPool2d<double> avg(2, 2, 1, false);
  avg.bind(Shape{1, 3, 3});
  Matrix<double> X(1, 9), Y;
  X << -1, -2, -3, -4, -5, -6, -7, -8, -9;
  avg.forward(nullptr, X, Y);
  CHECK(Y(0, 0) == -1.0);
  CHECK(Y(0, 1) == Approx((-2 - 3) / 2.0));
  CHECK(Y(0, 3) == Approx((-5 - 6 - 8 - 9) / 4.0));
  CHECK(avg.name() == "AvgPool2d(k2, s2, p1, count_include_pad=false)");
  CHECK_FALSE(avg.count_include_pad());
  CHECK(nn::AvgPool2d<double>(2).count_include_pad());
}

TEST_CASE("MaxPool2d rules match finite differences and scalar AD", "[nn][pool]") {
  LayerCheckOptions o;
  o.adjust_input = distinct_inputs;
  check_layer(pool_maker<nn::MaxPool2d>(2), Shape{2, 4, 6}, o);
  check_layer(pool_maker<nn::MaxPool2d>(3, 2, 1), Shape{2, 5, 6}, o);
  check_layer(pool_maker<nn::MaxPool2d>({2, 3}, Size2{1, 2}, Size2{1, 1}), Shape{3, 4, 5}, o);
  check_layer(pool_maker<nn::MaxPool2d>(3, 1), Shape{1, 5, 4}, o);  // overlapping windows
  o.K = 1;
  o.B = 4;
  check_layer(pool_maker<nn::MaxPool2d>(2, 1), Shape{2, 3, 3}, o);
}

TEST_CASE("Pooling values: padding counted in the average, never wins the max, ties → first",
          "[nn][pool]") {
  // 1 x 3 x 3 input, kernel 2, stride 2, padding 1 → 2 x 2 outputs.
  nn::AvgPool2d<double> avg(2, 2, 1);
  nn::MaxPool2d<double> mx(2, 2, 1);
  avg.bind(Shape{1, 3, 3});
  mx.bind(Shape{1, 3, 3});
  REQUIRE(avg.output_shape(Shape{1, 3, 3}) == (Shape{1, 2, 2}));
  Matrix<double> X(1, 9), Y;
  X << -1, -2, -3, -4, -5, -6, -7, -8, -9;
  avg.forward(nullptr, X, Y);
  CHECK(Y(0, 0) == Approx(-1.0 / 4));        // window (−1..0)x(−1..0): only x[0,0]
  CHECK(Y(0, 1) == Approx((-2 - 3) / 4.0));  // x[0,1], x[0,2]
  CHECK(Y(0, 3) == Approx((-5 - 6 - 8 - 9) / 4.0));
  mx.forward(nullptr, X, Y);
  CHECK(Y(0, 0) == -1);  // the zero padding does not win
  CHECK(Y(0, 1) == -2);
  CHECK(Y(0, 2) == -4);
  CHECK(Y(0, 3) == -5);
  // Ties: the first tap (row-major) receives the cotangent.
  nn::MaxPool2d<double> m2(2);
  m2.bind(Shape{1, 2, 2});
  Matrix<double> T(1, 4), Yt, V(1, 1), Vin, U(1, 4), Uo;
  T << 3, 3, 3, 3;
  V << 1;
  U << 10, 20, 30, 40;
  m2.forward(nullptr, T, Yt);
  m2.vjp(nullptr, T, Yt, V, Vin);
  CHECK(Vin(0, 0) == 1);
  CHECK(Vin.rightCols(3).isZero(0));
  m2.jvp(nullptr, T, Yt, U, Uo);
  CHECK(Uo(0, 0) == 10);
  // Names and empty parameter blocks.
  CHECK(avg.name() == "AvgPool2d(k2, s2, p1)");
  CHECK(nn::MaxPool2d<double>(2).name() == "MaxPool2d(k2, s2)");
  CHECK(nn::MaxPool2d<double>({3, 2}, Size2{1, 2}).name() == "MaxPool2d(k3x2, s1x2)");
  CHECK(avg.num_params() == 0);
  CHECK(avg.param_info().empty());
}

TEST_CASE("AvgPool2d 2x2 fast path equals the general loops bitwise", "[nn][pool]") {
  for (const Shape& s : {Shape{3, 8, 8}, Shape{2, 7, 9}}) {
    nn::Window2d w("test", s, 2, 2, 0);
    std::mt19937_64 rng(4);
    const Mat X = random_matrix(3, s.size(), rng);
    const Mat V = random_matrix(3, w.C * w.OH * w.OW, rng);
    Mat y1(3, V.cols()), y2(3, V.cols()), x1(3, X.cols()), x2(3, X.cols());
    for (Index r = 0; r < 3; ++r) {
      nn::detail::avgpool2x2_forward_row(w, X.row(r).data(), y1.row(r).data());
      nn::detail::avgpool_forward_row(w, X.row(r).data(), y2.row(r).data());
      nn::detail::avgpool2x2_backward_row(w, V.row(r).data(), x1.row(r).data());
      nn::detail::avgpool_backward_row(w, V.row(r).data(), x2.row(r).data());
    }
    CHECK(y1 == y2);
    CHECK(x1 == x2);
  }
}

TEST_CASE("Pooling results do not depend on the thread count", "[nn][pool][threads]") {
  check_thread_independence(pool_maker<nn::AvgPool2d>(2), Shape{6, 28, 28}, 40, 3);
  check_thread_independence(pool_maker<nn::AvgPool2d>(3, 2, 1), Shape{4, 13, 13}, 40, 3);
  check_thread_independence(avg_exclude_pad(3, 2, 1), Shape{4, 13, 13}, 40, 3);
  check_thread_independence(pool_maker<nn::MaxPool2d>(2), Shape{6, 28, 28}, 40, 3);
  check_thread_independence(pool_maker<nn::MaxPool2d>(3, 2, 1), Shape{4, 13, 13}, 40, 3);
}

TEST_CASE("Pooling shape errors name the layer and both shapes", "[nn][pool]") {
  nn::MaxPool2d<double> mp(3);
  try {
    (void)mp.output_shape(Shape{2, 2, 5});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("MaxPool2d(k3, s3)") != std::string::npos);
    CHECK(m.find("[2x2x5]") != std::string::npos);
  }
  CHECK_THROWS_AS(mp.output_shape(Shape{50}), ShapeError);
  Matrix<double> X = Matrix<double>::Zero(2, 2 * 6 * 6), Y;
  CHECK_THROWS_AS(mp.forward(nullptr, X, Y), ValueError);  // not bound
  mp.bind(Shape{2, 6, 6});
  mp.forward(nullptr, X, Y);
  CHECK(Y.cols() == 2 * 2 * 2);
  try {
    (void)mp.output_shape(Shape{2, 7, 7});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("[2x7x7]") != std::string::npos);
    CHECK(m.find("[2x6x6]") != std::string::npos);
  }
  Matrix<double> Xw = Matrix<double>::Zero(2, 10), V = Matrix<double>::Zero(3, 8), Vin;
  CHECK_THROWS_AS(mp.forward(nullptr, Xw, Y), ShapeError);
  CHECK_THROWS_AS(mp.vjp(nullptr, X, Y, V, Vin), ShapeError);  // 3 rows for 2 samples
  nn::AvgPool2d<double> ap(2);
  ap.bind(Shape{2, 6, 6});
  CHECK_THROWS_AS(ap.jvp(nullptr, X, Y, Xw, Vin), ShapeError);
  CHECK_THROWS_AS(nn::AvgPool2d<double>(2, 2, 2), ValueError);  // padding > kernel / 2
  CHECK_THROWS_AS(nn::MaxPool2d<double>(0), ValueError);
}
