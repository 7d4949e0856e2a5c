#pragma once
// jacnet/train/evaluate.hpp — accuracy and mean cross-entropy of a classifier on a data set, and
// accuracy under Gaussian input noise.
//
// The net maps a batch X (B x D) to logits Z (B x C) through `net.forward(X, trace)` (any net
// with nn::Sequential's forward; trace.output() = Z). In batches of `batch_size` rows, in order:
//   accuracy = (1/N) Σ_n [argmax_c Z_nc = y_n]          (ties: the lowest index wins)
//   loss     = (1/N) Σ_n (logsumexp_c Z_nc − Z_{n,y_n}) (cross-entropy of softmax(Z), in double)
// Noise: each input entry gets x + σ·z with z ~ N(0, 1) drawn from train::Random(seed) row by
// row, entry by entry, so the noisy data set — and the result — does not depend on batch_size;
// σ = 0 gives exactly the clean accuracy. No clipping (the inputs may be normalized).
// First k classes (EvalOptions::accuracy_outputs = k > 0, as FitOptions::accuracy_outputs in
// training): only the first k outputs are scored — argmax over Z_n0..Z_n(k−1), and the
// cross-entropy of the softmax over those k — e.g. a net with extra heads, or a task on the first
// k classes of a wider net; every label must then be < k.
//
//   auto r = train::evaluate(net, test.images, test.labels);        // r.accuracy, r.loss
//   double a = train::accuracy_under_noise(net, test.images, test.labels, 0.2, seed);
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/random.hpp"

namespace jacnet::train {

/// A net evaluate() can run: forward(X, trace) filling trace.output() with B x C logits (the one
/// net concept of jacnet, nn::ForwardNet; kept here under its old name).
using nn::ForwardNet;

struct EvalOptions {
  Index batch_size = 256;
  Index accuracy_outputs = 0;  ///< score only the first k outputs (0: all)
};

struct EvalResult {
  double accuracy = 0.0;  ///< fraction correct in [0, 1]
  double loss = 0.0;      ///< mean cross-entropy (nats)
  Index correct = 0;
  Index samples = 0;
};

namespace detail {

/// Adds the batch's correct count and summed cross-entropy; Z is B x C, labels B entries.
/// k > 0 scores only the first k outputs (the classes 0..k−1).
template <class T>
void score_batch(const Matrix<T>& Z, std::span<const int> labels, Index first, Index& correct,
                 double& loss_sum, Index k = 0) {
  const Index C = k > 0 ? k : Z.cols();
  for (Index r = 0; r < Z.rows(); ++r) {
    const int y = labels[static_cast<std::size_t>(first + r)];
    JACNET_CHECK(y >= 0 && y < C, ValueError, "train::evaluate", "label ", y, " of sample ",
                 first + r, " is outside the ", C, k > 0 ? " classes scored (accuracy_outputs)"
                                                         : " classes of the net");
    Index best = 0;
    for (Index c = 1; c < C; ++c)
      if (Z(r, c) > Z(r, best)) best = c;
    correct += best == y;
    const double m = static_cast<double>(Z(r, best));
    double s = 0.0;
    for (Index c = 0; c < C; ++c) s += std::exp(static_cast<double>(Z(r, c)) - m);
    loss_sum += m + std::log(s) - static_cast<double>(Z(r, y));
  }
}

/// Runs the net over X in batches; `fill(first, rows, Xb)` writes the batch inputs.
template <ForwardNet Net, class Fill>
EvalResult evaluate_batches(const Net& net, Index N, std::span<const int> labels,
                            const EvalOptions& opt, Fill&& fill) {
  using T = typename Net::Scalar;
  const Index batch = opt.batch_size;
  JACNET_CHECK(batch > 0, ValueError, "train::evaluate", "batch size ", batch, " is not positive");
  JACNET_CHECK(opt.accuracy_outputs >= 0, ValueError, "train::evaluate", "accuracy_outputs ",
               opt.accuracy_outputs, " is negative");
  JACNET_CHECK(N == static_cast<Index>(labels.size()), ShapeError, "train::evaluate", N,
               " samples but ", labels.size(), " labels");
  JACNET_CHECK(N > 0, ValueError, "train::evaluate", "empty data set");
  nn::Trace<T> trace;
  Matrix<T> Xb;
  EvalResult r;
  double loss_sum = 0.0;
  for (Index first = 0; first < N; first += batch) {
    const Index rows = std::min(batch, N - first);
    fill(first, rows, Xb);
    net.forward(Xb, trace);
    JACNET_CHECK(opt.accuracy_outputs <= trace.output().cols(), ValueError, "train::evaluate",
                 "accuracy_outputs ", opt.accuracy_outputs, " exceeds the net's ",
                 trace.output().cols(), " outputs");
    score_batch(trace.output(), labels, first, r.correct, loss_sum, opt.accuracy_outputs);
  }
  r.samples = N;
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(N);
  r.loss = loss_sum / static_cast<double>(N);
  return r;
}

}  // namespace detail

/// Accuracy and mean cross-entropy of `net` on (X, labels).
template <ForwardNet Net>
EvalResult evaluate(const Net& net, const Matrix<typename Net::Scalar>& X,
                    std::span<const int> labels, EvalOptions opt = {}) {
  using T = typename Net::Scalar;
  return detail::evaluate_batches(
      net, X.rows(), labels, opt,
      [&](Index first, Index rows, Matrix<T>& Xb) { Xb = X.middleRows(first, rows); });
}

/// Accuracy and mean cross-entropy with inputs x + σ·z, z ~ N(0, 1) seeded (see header).
template <ForwardNet Net>
EvalResult evaluate_under_noise(const Net& net, const Matrix<typename Net::Scalar>& X,
                                std::span<const int> labels, double sigma, std::uint64_t seed,
                                EvalOptions opt = {}) {
  using T = typename Net::Scalar;
  JACNET_CHECK(sigma >= 0.0 && std::isfinite(sigma), ValueError, "train::evaluate_under_noise",
               "noise σ = ", sigma, " must be finite and non-negative");
  Random rng(seed);
  return detail::evaluate_batches(
      net, X.rows(), labels, opt, [&](Index first, Index rows, Matrix<T>& Xb) {
        Xb.resize(rows, X.cols());
        for (Index r = 0; r < rows; ++r)
          for (Index c = 0; c < X.cols(); ++c)
            Xb(r, c) = X(first + r, c) + static_cast<T>(sigma * rng.normal());
      });
}

/// Accuracy under Gaussian input noise of standard deviation σ (seeded).
template <ForwardNet Net>
double accuracy_under_noise(const Net& net, const Matrix<typename Net::Scalar>& X,
                            std::span<const int> labels, double sigma, std::uint64_t seed,
                            EvalOptions opt = {}) {
  return evaluate_under_noise(net, X, labels, sigma, seed, opt).accuracy;
}

}  // namespace jacnet::train
