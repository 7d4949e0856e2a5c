// Tests of nn::AutodiffLayer: rules derived by the scalar AD core from a per-sample forward,
// against finite differences, against hand-written rules (a Dense written as a functor vs
// nn::Dense), inside a net (jacrev == jacfwd, second-order backprop vs FD), overrides, threads.
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/autodiff_layer.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

/// y_j = tanh(Σ_i W_ji x_i) · x_{j mod in} + c_j · x_0²  (parameters W [out x in], then c [out]).
struct PolyMix {
  Index in = 4, out = 3;
  Index in_size() const { return in; }
  Index out_size() const { return out; }
  Index num_params() const { return out * in + out; }
  std::string name() const { return "PolyMix"; }
  template <class S>
  void operator()(const S* p, const S* x, S* y) const {
    using std::tanh;
    for (Index j = 0; j < out; ++j) {
      S s = p[j * in] * x[0];
      for (Index i = 1; i < in; ++i) s += p[j * in + i] * x[i];
      y[j] = tanh(s) * x[j % in] + p[out * in + j] * x[0] * x[0];
    }
  }
};

/// y = W x + b written as a per-sample functor (same layout as nn::Dense).
struct DenseFn {
  Index in = 5, out = 3;
  Index in_size() const { return in; }
  Index out_size() const { return out; }
  Index num_params() const { return out * in + out; }
  template <class S>
  void operator()(const S* p, const S* x, S* y) const {
    for (Index j = 0; j < out; ++j) {
      S s = p[out * in + j];
      for (Index i = 0; i < in; ++i) s += p[j * in + i] * x[i];
      y[j] = s;
    }
  }
};

/// Elementwise y = x · sigmoid(β x) with one β per feature, plus a hand-written batch jvp.
struct FastSwish {
  Index n = 6;
  inline static int jvp_calls = 0;
  Index in_size() const { return n; }
  Index out_size() const { return n; }
  Index num_params() const { return n; }
  template <class S>
  void operator()(const S* p, const S* x, S* y) const {
    for (Index i = 0; i < n; ++i) y[i] = x[i] * sigmoid(S(p[i] * x[i]));
  }
  // fast rule: ∂y/∂x = σ(βx) + βx σ(βx)(1 − σ(βx)), broadcast over the sample's K rows
  template <class T>
  void jvp(const T* p, const Matrix<T>& X, const Matrix<T>&, const Matrix<T>& U,
           Matrix<T>& Uout) const {
    ++jvp_calls;
    const Index B = X.rows(), K = U.rows() / B;
    Uout.resize(U.rows(), n);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        using std::exp;
        const T z = p[i] * X(b, i), s = T(1) / (T(1) + exp(-z));
        const T d = s + z * s * (T(1) - s);
        for (Index k = 0; k < K; ++k) Uout(b * K + k, i) = d * U(b * K + k, i);
      }
  }
};

/// FastSwish's forward without its hand-written jvp (rules all derived by AD).
struct PlainSwish {
  FastSwish f;
  Index in_size() const { return f.n; }
  Index out_size() const { return f.n; }
  Index num_params() const { return f.n; }
  template <class S>
  void operator()(const S* p, const S* x, S* y) const {
    f(p, x, y);
  }
};

}  // namespace

TEST_CASE("AutodiffLayer rules match finite differences and scalar AD", "[nn][autodiff]") {
  check_layer([](auto tag) { return nn::AutodiffLayer<typename decltype(tag)::type, PolyMix>(); },
              Shape{4});
  LayerCheckOptions o;
  o.K = 11;  // more directions than one Dual evaluation carries (8)
  o.B = 2;
  check_layer(
      [](auto tag) {
        return nn::AutodiffLayer<typename decltype(tag)::type, PolyMix>(PolyMix{10, 9});
      },
      Shape{10}, o);
}

TEST_CASE("AutodiffLayer on a Dense functor equals nn::Dense's hand-written rules",
          "[nn][autodiff]") {
  nn::AutodiffLayer<double, DenseFn> ad;
  nn::Dense<double> dense(5, 3);
  CHECK(ad.name() == "Autodiff(5->3)");
  REQUIRE(ad.num_params() == dense.num_params());
  std::mt19937_64 rng(3);
  const Vec p = random_vector(ad.num_params(), rng);
  const Index B = 4, K = 3;
  const Mat X = random_matrix(B, 5, rng), U = random_matrix(B * K, 5, rng),
            V = random_matrix(B * K, 3, rng), E = random_matrix(B * K, 5, rng),
            Dm = random_matrix(B * K, 3, rng);
  Mat y1, y2, a1, a2;
  ad.forward(p.data(), X, y1);
  dense.forward(p.data(), X, y2);
  JACNET_CHECK_CLOSE(y1, y2, 1e-14, "forward");
  ad.jvp(p.data(), X, y1, U, a1);
  dense.jvp(p.data(), X, y2, U, a2);
  JACNET_CHECK_CLOSE(a1, a2, 1e-14, "jvp");
  ad.vjp(p.data(), X, y1, V, a1);
  dense.vjp(p.data(), X, y2, V, a2);
  JACNET_CHECK_CLOSE(a1, a2, 1e-14, "vjp");
  Vec g1 = Vec::Zero(p.size()), g2 = Vec::Zero(p.size());
  ad.param_grad(p.data(), X, y1, V, g1.data());
  dense.param_grad(p.data(), X, y2, V, g2.data());
  JACNET_CHECK_CLOSE(Mat(g1), Mat(g2), 1e-14, "param_grad");
  g1.setZero();
  g2.setZero();
  Mat xb1, xb2;
  ad.second_order(p.data(), X, y1, E, Dm, g1.data(), xb1);
  dense.second_order(p.data(), X, y2, E, Dm, g2.data(), xb2);
  JACNET_CHECK_CLOSE(Mat(g1), Mat(g2), 1e-14, "second_order dθ");
  JACNET_CHECK_CLOSE(xb1, xb2, 1e-14, "second_order dX (zero for a linear layer)");
}

TEST_CASE("AutodiffLayer overrides: a hand-written jvp is used and agrees", "[nn][autodiff]") {
  nn::AutodiffLayer<double, FastSwish> fast;
  // PlainSwish: the same forward without the override
  nn::AutodiffLayer<double, PlainSwish> plain;
  std::mt19937_64 rng(9);
  const Vec p = random_vector(6, rng);
  const Mat X = random_matrix(3, 6, rng), U = random_matrix(6, 6, rng);
  Mat y, a, b;
  fast.forward(p.data(), X, y);
  FastSwish::jvp_calls = 0;
  fast.jvp(p.data(), X, y, U, a);
  CHECK(FastSwish::jvp_calls == 1);
  plain.jvp(p.data(), X, y, U, b);
  JACNET_CHECK_CLOSE(a, b, 1e-14, "override jvp vs AD-derived jvp");
  check_layer([](auto tag) { return nn::AutodiffLayer<typename decltype(tag)::type, FastSwish>(); },
              Shape{6});
}

TEST_CASE("AutodiffLayer inside a net: Jacobians and second-order backprop", "[nn][autodiff]") {
  auto make = [](auto tag) {
    using S = typename decltype(tag)::type;
    using namespace jacnet::nn;
    return Sequential<Dense<S>, AutodiffLayer<S, PolyMix>, Tanh<S>, Dense<S>>(
        Shape{3}, Dense<S>(3, 4), AutodiffLayer<S, PolyMix>(), Tanh<S>(), Dense<S>(3, 2));
  };
  auto net = make(type_tag<double>{});
  net.init(4);
  CHECK(net.named_parameters()[2].name == "1.weight");
  std::mt19937_64 rng(5);
  const Mat X = random_matrix(3, 3, rng);
  const Mat Jr = nn::jacrev(net, X), Jf = nn::jacfwd(net, X);
  JACNET_CHECK_CLOSE(Jr, Jf, 1e-12, "jacrev vs jacfwd");
  // L = Σ J² + Σ y² through backprop vs FD
  const Mat seeds = nn::seeds_full<double>(3, 2);
  auto loss = [&](const Vec& th) {
    auto n = net;
    n.set_params(th);
    const auto pass = nn::jacobian_pass(n, X, seeds);
    return pass.J().squaredNorm() + pass.outputs().squaredNorm();
  };
  auto pass = nn::jacobian_pass(net, X, seeds);
  Vec g;
  nn::backprop(net, pass, Mat(2 * pass.outputs()), Mat(2 * pass.J()), {}, g);
  const Vec fd = fd_gradient(loss, net.param_vector(), 1e-6);
  JACNET_CHECK_CLOSE(Mat(g), Mat(fd), 1e-6, "backprop through an AutodiffLayer vs FD");
}

TEST_CASE("AutodiffLayer results do not depend on the thread count", "[nn][autodiff][threads]") {
  check_thread_independence(
      [](auto tag) {
        return nn::AutodiffLayer<typename decltype(tag)::type, PolyMix>(PolyMix{12, 10});
      },
      Shape{12}, 64, 3);
}

TEST_CASE("AutodiffLayer shape errors", "[nn][autodiff]") {
  nn::AutodiffLayer<double, PolyMix> l;
  CHECK_THROWS_AS(l.output_shape(Shape{5}), ShapeError);
  Mat X(2, 4), Y, U(3, 4), O;
  X.setRandom();
  Vec p = Vec::Zero(l.num_params());
  l.forward(p.data(), X, Y);
  CHECK_THROWS_AS(l.jvp(p.data(), X, Y, U, O), ShapeError);
}
