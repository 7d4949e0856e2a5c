// Per-sample input Jacobians of a small CNN (LeNet-5 layout with both poolings and BatchNorm):
// the full Jacobians by reverse and forward mode, the Jacobian row of each sample's predicted
// class drawn as a saliency map, and a check against central finite differences.
//
//   ./example_cnn_jacobian
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

int main() {
  using T = float;
  using namespace jacnet::nn;
  // 1x28x28 → conv 5x5 pad 2 (6) → BN → tanh → maxpool 2 → conv 5x5 (16) → tanh → avgpool 2
  //         → flatten (400) → dense 120 → tanh → dense 10
  using Net = Sequential<Conv2d<T>, BatchNorm2d<T>, Tanh<T>, MaxPool2d<T>, Conv2d<T>, Tanh<T>,
                         AvgPool2d<T>, Flatten<T>, Dense<T>, Tanh<T>, Dense<T>>;
  Net net(Shape{1, 28, 28}, Conv2d<T>(1, 6, 5, /*stride=*/1, /*padding=*/2), BatchNorm2d<T>(6),
          Tanh<T>(), MaxPool2d<T>(2), Conv2d<T>(6, 16, 5), Tanh<T>(), AvgPool2d<T>(2), Flatten<T>(),
          Dense<T>(400, 120), Tanh<T>(), Dense<T>(120, 10));
  net.init(/*seed=*/1);
  std::printf("%s%lld parameters\n", net.summary().c_str(),
              static_cast<long long>(net.num_params()));

  // A batch of synthetic "images": a bright blob at a random place on a noisy background.
  const Index B = 64, K = net.output_size(), D = net.input_size();
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Matrix<T> X(B, D);
  for (Index b = 0; b < B; ++b) {
    const float cy = 6 + 16 * u(rng), cx = 6 + 16 * u(rng);
    for (Index y = 0; y < 28; ++y)
      for (Index x = 0; x < 28; ++x)
        X(b, y * 28 + x) =
            0.1f * u(rng) + std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / 18.f);
  }

  // Full per-sample Jacobians: (B*K) x D, row b*K+k = ∂y_k/∂x of sample b.
  ModeWorkspace<T> ws;  // reuse across calls
  Matrix<T> Jrev, Jfwd;
  jacrev(net, X, ws, Jrev);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  jacrev(net, X, ws, Jrev);
  const auto t1 = std::chrono::steady_clock::now();
  const Matrix<T> Y = ws.trace.output();  // the outputs (B x K), kept before ws is reused
  // Forward mode carries D = 784 tangents per sample (6·28·28 values each after conv1): use it
  // on a few samples only. jacobian() picks reverse mode here (K = 10 < D = 784).
  const Index Bf = 4;
  const Matrix<T> Xf = X.topRows(Bf);
  jacfwd(net, Xf, ws, Jfwd);
  const auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("J: %lld x %lld (B=%lld samples x K=%lld outputs, D=%lld inputs)\n",
              static_cast<long long>(Jrev.rows()), static_cast<long long>(Jrev.cols()),
              static_cast<long long>(B), static_cast<long long>(K), static_cast<long long>(D));
  std::printf(
      "jacrev %.2f ms for %lld samples (K reverse sweeps); jacfwd %.2f ms for %lld "
      "samples (D tangent sweeps); max |jacrev - jacfwd| = %.3g\n",
      ms(t0, t1), static_cast<long long>(B), ms(t1, t2), static_cast<long long>(Bf),
      double((Jrev.topRows(Bf * K) - Jfwd).cwiseAbs().maxCoeff()));

  // Central differences (in double) for sample 0, output 0, at a few pixels.
  {
    auto netd = Sequential<Conv2d<double>, BatchNorm2d<double>, Tanh<double>, MaxPool2d<double>,
                           Conv2d<double>, Tanh<double>, AvgPool2d<double>, Flatten<double>,
                           Dense<double>, Tanh<double>, Dense<double>>(
        Shape{1, 28, 28}, Conv2d<double>(1, 6, 5, 1, 2), BatchNorm2d<double>(6), Tanh<double>(),
        MaxPool2d<double>(2), Conv2d<double>(6, 16, 5), Tanh<double>(), AvgPool2d<double>(2),
        Flatten<double>(), Dense<double>(400, 120), Tanh<double>(), Dense<double>(120, 10));
    netd.set_params(net.param_vector().cast<double>());
    double worst = 0;
    for (Index i : {Index(100), Index(350), Index(406), Index(600)}) {
      Matrix<double> xp = X.topRows(1).cast<double>(), xm = xp;
      xp(0, i) += 1e-5;
      xm(0, i) -= 1e-5;
      const double fd = (netd.forward(xp)(0, 0) - netd.forward(xm)(0, 0)) / 2e-5;
      worst = std::max(worst, std::abs(fd - double(Jrev(0, i))));
    }
    std::printf("finite differences (double) vs jacrev (float) at 4 pixels: max diff %.2g\n",
                worst);
  }

  // The Jacobian row of each sample's predicted class, drawn as |∂y_c/∂x| for sample 0.
  const auto cls = top_k_indices(Y, 1);
  Matrix<T> rows;
  jacobian_rows(net, X, seeds_top_k(Y, 1), ws, rows);  // B x D
  std::printf("sample 0: predicted class %lld, ||dy_c/dx|| = %.4f; saliency (input blob at '#'):\n",
              static_cast<long long>(cls[0]), double(rows.row(0).norm()));
  const T peak = rows.row(0).cwiseAbs().maxCoeff();
  const char* shades = " .:-=+*%@";
  for (Index y = 0; y < 28; y += 2) {
    std::printf("  ");
    for (Index x = 0; x < 28; ++x) {
      const T s = std::max(std::abs(rows(0, y * 28 + x)), std::abs(rows(0, (y + 1) * 28 + x)));
      std::printf("%c", X(0, y * 28 + x) > 0.6f ? '#' : shades[int(8.999f * s / peak)]);
    }
    std::printf("\n");
  }
  // Per-sample Jacobian norms: how sensitive each prediction is to its input.
  double lo = 1e30, hi = 0;
  for (Index b = 0; b < B; ++b) {
    const double n = sample_block(Jrev, b, K).norm();
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  std::printf("||J_b||_F over the batch: min %.4f, max %.4f\n", lo, hi);
  return 0;
}
