// Tests of jacnet/train/evaluate.hpp on a hand-built net with known accuracy and loss, batch-size
// independence, noise (σ = 0 is the clean result; seeded; degrades accuracy), errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/evaluate.hpp"

using namespace jacnet;

namespace {
// logits z = (x0, x1, −x0 − x1): W = [[1, 0], [0, 1], [−1, −1]], b = 0.
template <class T>
nn::Sequential<nn::Dense<T>> hand_net() {
  nn::Sequential<nn::Dense<T>> net(Shape{2}, nn::Dense<T>(2, 3));
  net.params() << 1, 0, 0, 1, -1, -1, 0, 0, 0;
  return net;
}
}  // namespace

TEST_CASE("accuracy and cross-entropy of a hand-built net", "[evaluate]") {
  const auto net = hand_net<double>();
  Matrix<double> X(5, 2);
  X << 2, 1,    // z = (2, 1, −3)     → 0, label 0 ✓
      0, 3,     // z = (0, 3, −3)     → 1, label 1 ✓
      -1, -1,   // z = (−1, −1, 2)    → 2, label 2 ✓
      1, 2,     // z = (1, 2, −3)     → 1, label 0 ✗
      0.5, -2;  // z = (0.5, −2, 1.5) → 2, label 1 ✗
  const std::vector<int> y = {0, 1, 2, 0, 1};
  for (const Index bs : {1, 2, 3, 256}) {
    CAPTURE(bs);
    const auto r = train::evaluate(net, X, y, {.batch_size = bs});
    CHECK(r.samples == 5);
    CHECK(r.correct == 3);
    CHECK(r.accuracy == 0.6);
    // mean of log Σ_c e^{z_c} − z_y over the five rows (computed by hand in Python)
    CHECK(r.loss == Approx(1.123463434791007).epsilon(1e-13));
  }
}

TEST_CASE("ties go to the lowest class index, float nets work", "[evaluate]") {
  const auto net = hand_net<float>();
  Matrix<float> X(2, 2);
  X << 1, 1,  // z = (1, 1, −2): tie between 0 and 1 → 0
      0, 0;   // z = (0, 0, 0): → 0
  const std::vector<int> y0 = {0, 0}, y1 = {1, 1};
  CHECK(train::evaluate(net, X, y0).accuracy == 1.0);
  CHECK(train::evaluate(net, X, y1).accuracy == 0.0);
  CHECK(train::evaluate(net, X, y0).loss ==
        Approx((std::log(2 * std::exp(1.0) + std::exp(-2.0)) - 1.0 + std::log(3.0)) / 2)
            .epsilon(1e-6));
}

TEST_CASE("noise: σ = 0 equals clean, seeded, batch-size independent, degrades accuracy",
          "[evaluate]") {
  using Net = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>>;
  Net net(Shape{8}, nn::Dense<double>(8, 16), nn::Tanh<double>(), nn::Dense<double>(16, 4));
  net.init(3);
  // Inputs of scale 1; labels are the clean predictions, so clean accuracy is exactly 1.
  const Index N = 2000;
  Matrix<double> X(N, 8);
  train::Random rng(17);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
  const Matrix<double> Z = net.forward(X);
  std::vector<int> y(static_cast<std::size_t>(N));
  for (Index n = 0; n < N; ++n) {
    Index best;
    Z.row(n).maxCoeff(&best);
    y[static_cast<std::size_t>(n)] = static_cast<int>(best);
  }
  const auto clean = train::evaluate(net, X, y);
  CHECK(clean.accuracy == 1.0);

  const auto zero = train::evaluate_under_noise(net, X, y, 0.0, 5);
  CHECK(zero.accuracy == clean.accuracy);
  CHECK(zero.loss == clean.loss);

  const auto a = train::evaluate_under_noise(net, X, y, 0.5, 5, {.batch_size = 64});
  const auto b = train::evaluate_under_noise(net, X, y, 0.5, 5, {.batch_size = 1000});
  const auto c = train::evaluate_under_noise(net, X, y, 0.5, 6);
  CHECK(a.accuracy == b.accuracy);
  CHECK(a.loss == b.loss);
  CHECK(a.loss != c.loss);
  CHECK(a.accuracy < 1.0);

  const double small = train::accuracy_under_noise(net, X, y, 0.05, 5);
  const double mid = train::accuracy_under_noise(net, X, y, 1.0, 5);
  const double huge = train::accuracy_under_noise(net, X, y, 100.0, 5);
  CHECK(small > mid);
  CHECK(mid > huge);
  CHECK(small > 0.9);
  CHECK(huge < 0.6);  // near chance for 4 classes (inputs drowned by noise)
}

TEST_CASE("evaluate reports bad labels, sizes and σ clearly", "[evaluate]") {
  const auto net = hand_net<double>();
  Matrix<double> X = Matrix<double>::Zero(3, 2);
  CHECK_THROWS_WITH(train::evaluate(net, X, std::vector<int>{0, 1}),
                    Catch::Contains("3 samples but 2 labels"));
  CHECK_THROWS_WITH(train::evaluate(net, X, std::vector<int>{0, 3, 1}),
                    Catch::Contains("label 3 of sample 1") && Catch::Contains("3 classes"));
  CHECK_THROWS_AS(train::evaluate(net, X, std::vector<int>{0, 0, 0}, {.batch_size = 0}),
                  ValueError);
  Matrix<double> wrong = Matrix<double>::Zero(3, 5);
  CHECK_THROWS_AS(train::evaluate(net, wrong, std::vector<int>{0, 0, 0}), ShapeError);
  CHECK_THROWS_AS(train::evaluate(net, Matrix<double>(0, 2), std::vector<int>{}), ValueError);
  CHECK_THROWS_WITH(train::accuracy_under_noise(net, X, std::vector<int>{0, 0, 0}, -0.1, 1),
                    Catch::Contains("σ"));
}

TEST_CASE("first-k-classes accuracy scores only the first k outputs", "[evaluate]") {
  const auto net = hand_net<double>();
  Matrix<double> X(4, 2);
  X << 2, 1,    // z = (2, 1, −3):     first 2 → 0, label 0 ✓ (all 3: 0 ✓)
      -1, -2,   // z = (−1, −2, 3):    first 2 → 0, label 0 ✓ (all 3: 2 ✗)
      -3, -1,   // z = (−3, −1, 4):    first 2 → 1, label 1 ✓ (all 3: 2 ✗)
      1, 2;     // z = (1, 2, −3):     first 2 → 1, label 0 ✗ (all 3: 1 ✗)
  const std::vector<int> y = {0, 0, 1, 0};
  const auto all = train::evaluate(net, X, y);
  CHECK(all.correct == 1);
  for (const Index bs : {1, 3, 256}) {
    const auto r = train::evaluate(net, X, y, {.batch_size = bs, .accuracy_outputs = 2});
    CHECK(r.correct == 3);
    CHECK(r.accuracy == 0.75);
    // cross-entropy of the softmax over (z0, z1) only
    double want = 0.0;
    const double z[4][2] = {{2, 1}, {-1, -2}, {-3, -1}, {1, 2}};
    for (int i = 0; i < 4; ++i)
      want += std::log(std::exp(z[i][0]) + std::exp(z[i][1])) - z[i][y[std::size_t(i)]];
    CHECK(r.loss == Approx(want / 4).epsilon(1e-13));
  }
  // k = the number of outputs is the plain evaluation.
  const auto k3 = train::evaluate(net, X, y, {.accuracy_outputs = 3});
  CHECK(k3.correct == all.correct);
  CHECK(k3.loss == all.loss);
  // A label outside the first k, a k beyond the outputs, a negative k: errors naming them.
  CHECK_THROWS_WITH(train::evaluate(net, X, std::vector<int>{0, 0, 2, 0}, {.accuracy_outputs = 2}),
                    Catch::Contains("label 2 of sample 2") && Catch::Contains("accuracy_outputs"));
  CHECK_THROWS_WITH(train::evaluate(net, X, y, {.accuracy_outputs = 4}),
                    Catch::Contains("accuracy_outputs 4 exceeds the net's 3 outputs"));
  CHECK_THROWS_AS(train::evaluate(net, X, y, {.accuracy_outputs = -1}), ValueError);
  // Under noise too (σ = 0: the clean result).
  CHECK(train::evaluate_under_noise(net, X, y, 0.0, 1, {.accuracy_outputs = 2}).correct == 3);
}
