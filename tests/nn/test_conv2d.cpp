// Tests of nn::Conv2d: every rule vs finite differences, the Dual AD core and the generic path
// (tests/support/layer_check.hpp) for strides > 1, padding, non-square kernels, Cin > 1,
// K > 1; the SIMD lane-tile kernels vs the reference loops (double and float, partial tiles);
// a hand-computed example; thread-count independence; shape errors.
#include <catch2/catch.hpp>

#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;
using nn::Size2;

namespace {

// A Conv2d factory for any scalar, bound to `in` (the layer_check binds it again: harmless).
auto conv_maker(Shape in, Index cout, Size2 k, Size2 s, Size2 p, bool bias = true) {
  return [=](auto tag) {
    using S = typename decltype(tag)::type;
    return nn::Conv2d<S>(in[0], cout, k, s, p, bias);
  };
}

struct Geometry {
  Shape in;
  Index cout;
  Size2 k, s, p;
};

// Geometries that exercise every kernel path: LeNet's two convs, strides (phases), padding,
// non-square everything, 1x1, channel tails (Cout, Cin not multiples of the register blocks),
// kernels whose stride skips input columns, the sliding backward kernel (one input channel or a
// tail of one, column stride 1, kw = 3/5/7, row widths with and without remainder blocks).
const std::vector<Geometry>& geometries() {
  static const std::vector<Geometry> g{{{1, 28, 28}, 6, 5, 1, 2},
                                       {{6, 14, 14}, 16, 5, 1, 0},
                                       {{3, 11, 9}, 7, {3, 2}, {2, 3}, {1, 2}},
                                       {{2, 7, 8}, 3, {4, 3}, {3, 2}, {2, 1}},
                                       {{13, 6, 5}, 5, 1, 1, 0},
                                       {{2, 9, 9}, 8, 2, 3, 0},
                                       {{4, 31, 17}, 11, {5, 3}, {1, 2}, {2, 1}},
                                       {{5, 4, 30}, 2, {1, 7}, {1, 1}, {0, 3}},
                                       {{7, 10, 10}, 9, 3, 2, 1},
                                       {{7, 9, 12}, 4, 3, 1, 1},
                                       {{1, 6, 13}, 3, {3, 7}, 1, {1, 3}},
                                       {{1, 5, 11}, 2, {2, 3}, {2, 1}, 0}};
  return g;
}

// Reference rules from the plain per-sample loops (long double accumulation, exact enough to
// judge both float and double kernels).
struct Reference {
  Matrix<long double> Y, Vin, Uout;
  Vector<long double> g, g2;
};
template <class T>
Reference reference(const nn::Window2d& w, Index cout, const Vector<T>& p, const Matrix<T>& X,
                    const Matrix<T>& U, const Matrix<T>& V, const Matrix<T>& E) {
  using LD = long double;
  const Index K = V.rows() / X.rows(), nW = cout * w.C * w.taps();
  const Vector<LD> pl = p.template cast<LD>();
  const Matrix<LD> Xl = X.template cast<LD>(), Ul = U.template cast<LD>(),
                   Vl = V.template cast<LD>(), El = E.template cast<LD>();
  Reference r;
  const Index nout = cout * w.OH * w.OW;
  r.Y.resize(X.rows(), nout);
  r.Uout.resize(U.rows(), nout);
  r.Vin.resize(V.rows(), w.in_size());
  r.g = Vector<LD>::Zero(p.size());
  r.g2 = Vector<LD>::Zero(p.size());
  for (Index b = 0; b < X.rows(); ++b)
    nn::detail::conv_forward_ref(w, cout, pl.data(), pl.data() + nW, Xl.row(b).data(),
                                 r.Y.row(b).data());
  for (Index i = 0; i < U.rows(); ++i) {
    nn::detail::conv_forward_ref<LD>(w, cout, pl.data(), nullptr, Ul.row(i).data(),
                                     r.Uout.row(i).data());
    nn::detail::conv_backward_ref(w, cout, pl.data(), Vl.row(i).data(), r.Vin.row(i).data());
    nn::detail::conv_wgrad_ref(w, cout, Vl.row(i).data(), Xl.row(i / K).data(), r.g.data(),
                               r.g.data() + nW);
    nn::detail::conv_wgrad_ref<LD>(w, cout, Vl.row(i).data(), El.row(i).data(), r.g2.data(),
                                   nullptr);
  }
  return r;
}

template <class A, class B>
double max_rel(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  long double e = 0;
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j)
      e = std::max<long double>(e, std::abs((long double)a(i, j) - (long double)b(i, j)) /
                                       (1 + std::abs((long double)b(i, j))));
  return double(e);
}

// Runs the layer's rules in T and compares with the long-double reference loops.
template <class T>
void check_fast_vs_reference(const Geometry& geo, Index B, Index K, double tol) {
  nn::Conv2d<T> conv(geo.in, geo.cout, geo.k, geo.s, geo.p);
  INFO(conv.name() << " on " << geo.in << ", B=" << B << " K=" << K << ", "
                   << (sizeof(T) == 4 ? "float" : "double"));
  std::mt19937_64 rng(17);
  Vector<T> p(conv.num_params());
  conv.init(p.data(), rng);
  p.tail(geo.cout) = random_vector(geo.cout, rng).cast<T>();  // nonzero bias
  const Index nin = geo.in.size(), nout = conv.out_size();
  const Matrix<T> X = random_matrix(B, nin, rng).cast<T>();
  const Matrix<T> U = random_matrix(B * K, nin, rng).cast<T>();
  const Matrix<T> V = random_matrix(B * K, nout, rng).cast<T>();
  const Matrix<T> E = random_matrix(B * K, nin, rng).cast<T>();
  const Reference ref = reference(conv.window(), geo.cout, p, X, U, V, E);
  Matrix<T> Y, Uout, Vin, Xbar;
  conv.forward(p.data(), X, Y);
  conv.jvp(p.data(), X, Y, U, Uout);
  conv.vjp(p.data(), X, Y, V, Vin);
  Vector<T> g = Vector<T>::Zero(p.size()), g2 = Vector<T>::Zero(p.size());
  conv.param_grad(p.data(), X, Y, V, g.data());
  conv.second_order(p.data(), X, Y, E, V, g2.data(), Xbar);
  CHECK(max_rel(Y, ref.Y) <= tol);
  CHECK(max_rel(Uout, ref.Uout) <= tol);
  CHECK(max_rel(Vin, ref.Vin) <= tol);
  // Gradients sum over B*K*pixels terms: compare relative to their scale.
  const long double gs = ref.g.cwiseAbs().maxCoeff(), g2s = ref.g2.cwiseAbs().maxCoeff();
  CHECK(double((g.template cast<long double>() - ref.g).cwiseAbs().maxCoeff() / gs) <= tol);
  CHECK(double((g2.template cast<long double>() - ref.g2).cwiseAbs().maxCoeff() / g2s) <= tol);
  CHECK(Xbar.rows() == B);
  CHECK(Xbar.cols() == nin);
  CHECK(Xbar.isZero(0));  // conv is linear in x: second_order adds nothing to X̄
}

}  // namespace

TEST_CASE("Conv2d rules match finite differences and scalar AD", "[nn][conv2d]") {
  // stride > 1, padding > 0, non-square kernel, Cin > 1, K = 2 directions
  check_layer(conv_maker({2, 6, 5}, 3, {3, 2}, {2, 1}, {1, 1}), Shape{2, 6, 5});
  // same-size padding, square kernel
  check_layer(conv_maker({1, 5, 5}, 4, 3, 1, 1), Shape{1, 5, 5});
  // non-square stride and padding, no bias
  check_layer(conv_maker({3, 5, 6}, 2, {2, 3}, {1, 2}, {0, 1}, false), Shape{3, 5, 6});
  // stride larger than the kernel (input pixels no window reads)
  check_layer(conv_maker({2, 7, 7}, 2, 2, 3, 0), Shape{2, 7, 7});
  LayerCheckOptions one;
  one.K = 1;
  one.B = 4;
  check_layer(conv_maker({2, 4, 4}, 3, 3, 1, 1), Shape{2, 4, 4}, one);
}

TEST_CASE("Conv2d SIMD kernels equal the reference loops (double)", "[nn][conv2d]") {
  for (const auto& geo : geometries()) {
    check_fast_vs_reference<double>(geo, 7, 3, 1e-13);  // 21 rows: partial lane tiles
    check_fast_vs_reference<double>(geo, 1, 1, 1e-13);  // one sample
  }
}

TEST_CASE("Conv2d SIMD kernels equal the reference loops (float)", "[nn][conv2d]") {
  for (const auto& geo : geometries()) check_fast_vs_reference<float>(geo, 13, 2, 2e-5);
}

TEST_CASE("Conv2d computes PyTorch's cross-correlation with weight [Cout, Cin, kh, kw]",
          "[nn][conv2d]") {
  // One 3x3 input channel, two output channels, 2x2 kernel, stride 1, padding 1 → 4x4 outputs.
  nn::Conv2d<double> conv(Shape{1, 3, 3}, 2, 2, 1, 1);
  REQUIRE(conv.output_shape(Shape{1, 3, 3}) == (Shape{2, 4, 4}));
  Vector<double> p(conv.num_params());  // weight [2,1,2,2] then bias [2]
  p << 1, 2, 3, 4, /**/ 0, 0, 0, -1, /**/ 0.5, -0.5;
  Matrix<double> X(1, 9), Y;
  X << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  conv.forward(p.data(), X, Y);
  // y0[oy,ox] = 0.5 + Σ w[i,j] x[oy-1+i, ox-1+j]
  CHECK(Y(0, 0) == Approx(0.5 + 4 * 1));                          // only x[0,0] under w[1,1]
  CHECK(Y(0, 5) == Approx(0.5 + 1 * 1 + 2 * 2 + 3 * 4 + 4 * 5));  // (1,1): x[0..1, 0..1]
  CHECK(Y(0, 15) == Approx(0.5 + 1 * 9));                         // (3,3): x[2,2] under w[0,0]
  CHECK(Y(0, 16 + 5) == Approx(-0.5 - 5));                        // channel 1 at (1,1): −x[1,1]
  CHECK(Y(0, 16 + 0) == Approx(-0.5 - 1));
  // names and layout
  CHECK(conv.name() == "Conv2d(1->2, k2, s1, p1)");
  const auto info = conv.param_info();
  REQUIRE(info.size() == 2);
  CHECK(info[0].name == "weight");
  CHECK(info[0].shape == (Shape{2, 1, 2, 2}));
  CHECK(info[1].name == "bias");
  CHECK(info[1].shape == Shape{2});
  CHECK(nn::Conv2d<double>(3, 8, {5, 3}, {2, 1}, {0, 1}, false).name() ==
        "Conv2d(3->8, k5x3, s2x1, p0x1, no bias)");
  CHECK(nn::Conv2d<double>(3, 8, {5, 3}, {2, 1}, {0, 1}, false).num_params() == 8 * 3 * 15);
}

TEST_CASE("Conv2d jvp_identity (jacfwd's first layer) equals jvp of identity tangents",
          "[nn][conv2d]") {
  for (const auto& geo : {geometries()[0], geometries()[2], geometries()[3]}) {
    nn::Conv2d<double> conv(geo.in, geo.cout, geo.k, geo.s, geo.p);
    INFO(conv.name());
    std::mt19937_64 rng(5);
    Vector<double> p(conv.num_params());
    conv.init(p.data(), rng);
    const Index B = 3, D = geo.in.size();
    const Mat X = random_matrix(B, D, rng);
    Mat I = Mat::Zero(B * D, D), a, b, Y;
    for (Index s = 0; s < B; ++s) I.middleRows(s * D, D).setIdentity();
    conv.forward(p.data(), X, Y);
    conv.jvp(p.data(), X, Y, I, a);
    conv.jvp_identity(p.data(), X, Y, b);
    CHECK(a == b);
  }
}

TEST_CASE("Conv2d init: Glorot/He with fan_in = Cin·kh·kw, zero bias", "[nn][conv2d]") {
  nn::Conv2d<double> conv(Shape{16, 10, 10}, 32, 3);
  std::mt19937_64 rng(9);
  Vector<double> p(conv.num_params());
  conv.init(p.data(), rng);
  const Index nW = conv.weight_size();
  const double a = std::sqrt(6.0 / (16 * 9 + 32 * 9));
  CHECK(p.head(nW).cwiseAbs().maxCoeff() <= a);
  CHECK(p.head(nW).cwiseAbs().maxCoeff() > 0.95 * a);
  CHECK(p.tail(32).isZero(0));
  conv.init(p.data(), rng, nn::InitScheme::He);
  const double sd = std::sqrt(p.head(nW).squaredNorm() / double(nW));
  CHECK(sd == Approx(std::sqrt(2.0 / (16 * 9))).epsilon(0.05));
}

TEST_CASE("Conv2d results do not depend on the thread count", "[nn][conv2d][threads]") {
  // Enough rows for several lane tiles and weight-gradient chunks per thread.
  check_thread_independence(conv_maker({1, 28, 28}, 6, 5, 1, 2), Shape{1, 28, 28}, 37, 3);
  check_thread_independence(conv_maker({6, 14, 14}, 16, 5, 1, 0), Shape{6, 14, 14}, 29, 2);
  check_thread_independence(conv_maker({3, 9, 11}, 5, {3, 2}, {2, 3}, {1, 1}), Shape{3, 9, 11}, 41,
                            1);
}

TEST_CASE("Conv2d shape errors name the layer and both shapes", "[nn][conv2d]") {
  nn::Conv2d<double> conv(3, 4, 3);
  try {
    (void)conv.output_shape(Shape{2, 8, 8});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("Conv2d(3->4, k3, s1, p0)") != std::string::npos);
    CHECK(m.find("[2x8x8]") != std::string::npos);
    CHECK(m.find("[3xHxW]") != std::string::npos);
  }
  CHECK_THROWS_AS(conv.output_shape(Shape{48}), ShapeError);
  CHECK_THROWS_AS(conv.output_shape(Shape{3, 2, 8}), ShapeError);  // kernel taller than input
  CHECK(conv.output_shape(Shape{3, 8, 6}) == (Shape{4, 6, 4}));
  // Unbound: the rules do not know H and W.
  Vector<double> p = Vector<double>::Zero(conv.num_params());
  Matrix<double> X = Matrix<double>::Zero(2, 3 * 8 * 8), Y;
  CHECK_THROWS_AS(conv.forward(p.data(), X, Y), ValueError);
  conv.bind(Shape{3, 8, 8});
  conv.forward(p.data(), X, Y);
  CHECK(Y.cols() == 4 * 6 * 6);
  // Bound: another spatial size names both shapes.
  try {
    (void)conv.output_shape(Shape{3, 9, 9});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("[3x9x9]") != std::string::npos);
    CHECK(m.find("[3x8x8]") != std::string::npos);
  }
  Matrix<double> Xw = Matrix<double>::Zero(2, 100), V = Matrix<double>::Zero(3, 4 * 36), Vin;
  CHECK_THROWS_AS(conv.forward(p.data(), Xw, Y), ShapeError);
  CHECK_THROWS_AS(conv.vjp(p.data(), X, Y, V, Vin), ShapeError);  // 3 rows for 2 samples
  CHECK_THROWS_AS(conv.jvp(p.data(), X, Y, Xw, Vin), ShapeError);
  CHECK_THROWS_AS(nn::Conv2d<double>(0, 4, 3), ValueError);
  CHECK_THROWS_AS(nn::Conv2d<double>(1, 4, 3, 0), ValueError);
  CHECK_THROWS_AS(nn::Conv2d<double>(Shape{8, 8}, 4, 3), ShapeError);
  // Inside a Sequential: the error names the layer index and the previous layer's output.
  using C = nn::Conv2d<double>;
  try {
    nn::Sequential<C, C> net(Shape{1, 10, 10}, C(1, 4, 3), C(3, 2, 3));
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("layer 1") != std::string::npos);
    CHECK(m.find("[4x8x8]") != std::string::npos);
  }
}
