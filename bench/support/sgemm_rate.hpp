#pragma once
// Eigen's sgemm rate at 512³ (GFLOP/s): the roofline jacnet's Jacobian kernels are compared to,
// best of 30 products, measured once per process so every benchmark of a run shares one value.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>

namespace jacnet::bench {

inline double sgemm_rate() {
  static const double rate = [] {
    const Eigen::Index n = 512;
    Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), Bm = Eigen::MatrixXf::Random(n, n), C(n, n);
    C.noalias() = A * Bm;  // warm up
    double best = 1e30;
    for (int rep = 0; rep < 30; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      C.noalias() = A * Bm;
      const auto t1 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(C.data());
      best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    }
    return 2.0 * double(n) * n * n / best * 1e-9;
  }();
  return rate;
}

}  // namespace jacnet::bench
