// Tests of jacnet/nn/fused_sweep.hpp: a reverse sweep that runs a pooling layer and the
// activation before it a few samples at a time gives bitwise the same results as the same net
// swept layer by layer. The reference is the same net with each pooling layer wrapped in
// `NotRowLocal` (everything inherited, `row_local = false`), so nothing is fused there; both nets
// share their parameters. Checked: nn::jacrev, nn::vjp with dense seeds, every boundary of
// nn::jacobian_pass and the gradients of backprop after it, in double (a CNN with max and average
// pooling after tanh and softplus) and float (LeNet-5 as benchmarked), with batch sizes that
// leave a partial group of samples in each shard.
#include <catch2/catch.hpp>

#include <random>
#include <span>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/fused_sweep.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

/// A layer L that is not row-local: the sweeps run it layer by layer.
template <class L>
struct NotRowLocal : L {
  static constexpr bool row_local = false;
  explicit NotRowLocal(L l) : L(std::move(l)) {}
};

/// {2,12,12} → conv 3x3 pad 1 (4) → tanh → maxpool 2 → [4,6,6] → conv 3x3 (5) → softplus →
/// avgpool 2 stride 1 → [5,3,3] → flatten → dense 45→6 → tanh → dense 6→3. Pool<S> is the
/// pooling template applied to both pools (nn::MaxPool2d/AvgPool2d or their NotRowLocal forms).
template <class S, class MaxP, class AvgP>
auto cnn() {
  using namespace nn;
  return Sequential<Conv2d<S>, Tanh<S>, MaxP, Conv2d<S>, Softplus<S>, AvgP, Flatten<S>, Dense<S>,
                    Tanh<S>, Dense<S>>(
      Shape{2, 12, 12}, Conv2d<S>(2, 4, 3, 1, 1), Tanh<S>(), MaxP(MaxPool2d<S>(2)),
      Conv2d<S>(4, 5, 3), Softplus<S>(), AvgP(AvgPool2d<S>(2, 1)), Flatten<S>(), Dense<S>(45, 6),
      Tanh<S>(), Dense<S>(6, 3));
}

template <class S, class AvgP>
auto lenet5() {
  using namespace nn;
  return Sequential<Conv2d<S>, Tanh<S>, AvgP, Conv2d<S>, Tanh<S>, AvgP, Flatten<S>, Dense<S>,
                    Tanh<S>, Dense<S>, Tanh<S>, Dense<S>>(
      Shape{1, 28, 28}, Conv2d<S>(1, 6, 5, 1, 2), Tanh<S>(), AvgP(AvgPool2d<S>(2)),
      Conv2d<S>(6, 16, 5), Tanh<S>(), AvgP(AvgPool2d<S>(2)), Flatten<S>(), Dense<S>(400, 120),
      Tanh<S>(), Dense<S>(120, 84), Tanh<S>(), Dense<S>(84, 10));
}

template <class A, class B>
bool bitwise_equal(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index i = 0; i < a.size(); ++i)
    if (a.data()[i] != b.data()[i]) return false;
  return true;
}

/// Every result of the fused net equals the unfused one bit for bit.
template <class Fused, class Plain, class T = typename Fused::Scalar>
void check_same(const Fused& fused, const Plain& plain, Index B, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Index D = fused.input_size(), K = fused.output_size();
  const Matrix<T> X = random_matrix(B, D, rng, -1, 1).template cast<T>();
  INFO("B = " << B);

  // jacrev: one-hot seeds through the whole net; ws.fused holds the rows between the pairs.
  nn::ModeWorkspace<T> ws;
  Matrix<T> Jf, Jp;
  nn::jacrev(fused, X, ws, Jf);
  CHECK(!ws.fused.empty());
  CHECK(ws.fused.front().size() > 0);
  nn::ModeWorkspace<T> wsp;
  nn::jacrev(plain, X, wsp, Jp);
  CHECK(wsp.fused.empty());
  CHECK(bitwise_equal(Jf, Jp));
  CHECK(Jf.allFinite());

  // vjp with dense seeds, 3 per sample.
  const Matrix<T> V = random_matrix(B * 3, K, rng, -1, 1).template cast<T>();
  CHECK(bitwise_equal(nn::vjp(fused, X, V), nn::vjp(plain, X, V)));

  // jacobian_pass keeps every boundary: all equal; then backprop's gradients.
  const Matrix<T> S = random_matrix(B * 2, K, rng, -1, 1).template cast<T>();
  auto pf = nn::jacobian_pass(fused, X, S);
  auto pp = nn::jacobian_pass(plain, X, S);
  REQUIRE(pf.delta.size() == pp.delta.size());
  for (std::size_t l = 0; l < pf.delta.size(); ++l) {
    INFO("boundary " << l);
    CHECK(bitwise_equal(pf.delta[l], pp.delta[l]));
  }
  const Matrix<T> Jbar = random_matrix(B * 2, D, rng, -1, 1).template cast<T>();
  const Matrix<T> Ybar = random_matrix(B, K, rng, -1, 1).template cast<T>();
  Vector<T> gf, gp;
  Matrix<T> Xf, Xp;
  nn::backprop(fused, pf, Ybar, Jbar, std::span<const Matrix<T>>{}, gf, &Xf);
  nn::backprop(plain, pp, Ybar, Jbar, std::span<const Matrix<T>>{}, gp, &Xp);
  CHECK(bitwise_equal(gf, gp));
  CHECK(bitwise_equal(Xf, Xp));
}

}  // namespace

TEST_CASE("Fused pooling + activation sweeps equal layer-by-layer sweeps bitwise (double CNN)",
          "[nn][fused]") {
  using S = double;
  auto fused = cnn<S, nn::MaxPool2d<S>, nn::AvgPool2d<S>>();
  auto plain = cnn<S, NotRowLocal<nn::MaxPool2d<S>>, NotRowLocal<nn::AvgPool2d<S>>>();
  using F = decltype(fused);
  using P = decltype(plain);
  // Which pairs fuse: (tanh 1, maxpool 2) and (softplus 4, avgpool 5); none in the plain net.
  STATIC_REQUIRE(nn::detail::fuses_with_activation<F, 2>());
  STATIC_REQUIRE(nn::detail::fuses_with_activation<F, 5>());
  STATIC_REQUIRE(!nn::detail::fuses_with_activation<F, 7>());  // dense: not row-local
  STATIC_REQUIRE(!nn::detail::fuses_with_activation<P, 2>());
  STATIC_REQUIRE(!nn::detail::fuses_with_activation<P, 5>());
  fused.init(11);
  std::mt19937_64 rng(12);
  fused.set_params(fused.param_vector() + 0.1 * random_vector(fused.num_params(), rng));
  plain.set_params(fused.param_vector());
  // Group sizes here: boundary 2 has 4·12·12 = 576 values, 3 rows per sample (K = 3) → 9
  // samples per group of 128 KB; B = 29 leaves partial groups in both shards.
  CHECK(nn::detail::fused_group<S>(3, 576) == 9);
  for (const Index B : {1, 29}) check_same(fused, plain, B, 100 + std::uint64_t(B));
}

TEST_CASE("Fused pooling + activation sweeps equal layer-by-layer sweeps bitwise (LeNet-5, float)",
          "[nn][fused][lenet]") {
  using S = float;
  auto fused = lenet5<S, nn::AvgPool2d<S>>();
  auto plain = lenet5<S, NotRowLocal<nn::AvgPool2d<S>>>();
  STATIC_REQUIRE(nn::detail::fuses_with_activation<decltype(fused), 2>());
  STATIC_REQUIRE(nn::detail::fuses_with_activation<decltype(fused), 5>());
  fused.init(5);
  plain.set_params(fused.param_vector());
  // 6·28·28 = 4704 floats × 10 rows per sample > 128 KB: one sample per group.
  CHECK(nn::detail::fused_group<S>(10, 4704) == 1);
  check_same(fused, plain, 7, 7);
}
