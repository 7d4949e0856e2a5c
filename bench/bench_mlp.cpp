// bench_mlp — per-sample Jacobians, training steps and Jacobian-matching steps of tanh MLPs
// (float, batch 128), with GFLOP/s of the GEMM work and, from the same run, Eigen's sgemm rate at
// 512³ (threaded as Eigen does by default, best of 30) and the ratio to it. Counters (ms, GFLOPs,
// best_GFLOPs, ratio_to_sgemm, first_call_ms, allocs_per_iter, faults_per_iter,
// state_bytes_per_sample, ...): bench/support/timed_run.hpp.
//
//   MLP-784: 784-256-256-10 tanh      MLP-32: 32-64-64-4 tanh
// Benchmarks (all reuse their workspaces: no allocation per iteration):
//   Jacobian/<net>      nn::jacrev: forward + one reverse sweep of K one-hot seeds per sample
//   TrainStep/<net>     forward + softmax cross-entropy adjoint + nn::backward (reverse sweep)
//   JacMatch/<net>/M    nn::jacobian_pass with M seeds per sample (M = K: full one-hot seeds,
//                       M = 1: top-1 class) + squared-error adjoints + nn::backprop
// GEMM flop counts (2·m·n·k per product, Σ over the layers' in·out = P_w):
//   forward 2·B·P_w; jacrev reverse 2·B·K·(P_w − K·h_last) (the last layer is a copy);
//   train step adds 2·B·P_w (weight grads) + 2·B·(P_w − in·h1) (vjps above the first layer);
//   JacMatch adds 2·B·M·(P_w − K·h_last) backward + the same tangent sweep + 2·B·M·P_w second
//   order (the tangent sweep skips the last layer, Dense(h_last→K)'s jvp).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/alloc_counter.hpp"
#include "support/ce_adjoint.hpp"
#include "support/sgemm_rate.hpp"
#include "support/state_bytes.hpp"
#include "support/timed_run.hpp"

using namespace jacnet;
using T = float;
using Net = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;

namespace {

constexpr Index kB = 128;

struct Spec {
  Index in, h1, h2, out;
};
constexpr Spec kSpecs[2] = {{784, 256, 256, 10}, {32, 64, 64, 4}};

Net make_net(const Spec& s) {
  Net net(Shape{s.in}, nn::Dense<T>(s.in, s.h1), nn::Tanh<T>(), nn::Dense<T>(s.h1, s.h2),
          nn::Tanh<T>(), nn::Dense<T>(s.h2, s.out));
  net.init(42);
  return net;
}

Matrix<T> random_input(Index rows, Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  Matrix<T> X(rows, cols);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = d(rng);
  return X;
}

double weight_sum(const Spec& s) { return double(s.in * s.h1 + s.h1 * s.h2 + s.h2 * s.out); }

using jacnet::bench::sgemm_rate;

using jacnet::bench::state_bytes;
using jacnet::bench::timed_run;

void BM_EigenSgemm512(benchmark::State& state) {
  const Index n = 512;
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), Bm = Eigen::MatrixXf::Random(n, n), C(n, n);
  timed_run(state, 2.0 * double(n) * n * n, double(kB), [&] {
    C.noalias() = A * Bm;
    benchmark::DoNotOptimize(C.data());
  });
}

void BM_Jacobian(benchmark::State& state) {
  const Spec s = kSpecs[state.range(0)];
  const Net net = make_net(s);
  const Matrix<T> X = random_input(kB, s.in, 1);
  nn::Workspace<T> ws;
  Matrix<T> J;
  const double Pw = weight_sum(s);
  const double flops = 2.0 * kB * Pw + 2.0 * kB * s.out * (Pw - double(s.out * s.h2));
  timed_run(state, flops, double(kB), [&] {
    nn::jacrev(net, X, ws, J);
    benchmark::DoNotOptimize(J.data());
  }, [&] { return state_bytes(ws) + state_bytes(J); });
  state.SetLabel(s.in == 784 ? "MLP-784 jacrev" : "MLP-32 jacrev");
}

void BM_TrainStep(benchmark::State& state) {
  const Spec s = kSpecs[state.range(0)];
  const Net net = make_net(s);
  const Matrix<T> X = random_input(kB, s.in, 2);
  std::vector<Index> labels(kB);
  for (Index b = 0; b < kB; ++b) labels[std::size_t(b)] = b % s.out;
  nn::Workspace<T> ws;
  Matrix<T> Ybar;
  Vector<T> grads;
  const double Pw = weight_sum(s);
  const double flops = 2.0 * kB * Pw * 2 + 2.0 * kB * (Pw - double(s.in * s.h1));
  timed_run(state, flops, double(kB), [&] {
    net.forward(X, ws.trace);
    bench::ce_adjoint(ws.trace.output(), labels, Ybar);
    nn::backward(net, ws.trace, Ybar, grads, ws);
    benchmark::DoNotOptimize(grads.data());
  }, [&] { return state_bytes(ws) + state_bytes(grads); });
  state.SetLabel(s.in == 784 ? "MLP-784 forward+backward" : "MLP-32 forward+backward");
}

void BM_JacMatch(benchmark::State& state) {
  const Spec s = kSpecs[state.range(0)];
  const Index M = state.range(1) == 0 ? s.out : 1;
  const Net net = make_net(s);
  const Matrix<T> X = random_input(kB, s.in, 3);
  const Matrix<T> Jt = random_input(kB * M, s.in, 4) * T(0.01);
  const Matrix<T> Yt = random_input(kB, s.out, 5);
  const Matrix<T> seeds =
      M == s.out ? nn::seeds_full<T>(kB, s.out) : nn::seeds_top_k(Yt, 1);  // teacher's top-1
  nn::JacobianPass<T> pass;
  Matrix<T> Ybar, Jbar;
  Vector<T> grads;
  const double Pw = weight_sum(s), Pb = Pw - double(s.out * s.h2);
  const double flops = 2.0 * kB * Pw + 2.0 * kB * M * Pb * 2 + 2.0 * kB * M * Pw + 2.0 * kB * Pw +
                       2.0 * kB * (Pw - double(s.in * s.h1));
  timed_run(state, flops, double(kB), [&] {
    nn::jacobian_pass(net, X, seeds, pass);
    Ybar.noalias() = T(2) * (pass.outputs() - Yt);
    Jbar.noalias() = T(2) * (pass.J() - Jt);
    nn::backprop(net, pass, Ybar, Jbar, {}, grads);
    benchmark::DoNotOptimize(grads.data());
  }, [&] { return state_bytes(pass) + state_bytes(grads); });
  state.SetLabel(std::string(s.in == 784 ? "MLP-784" : "MLP-32") +
                 " Jacobian-matching step, M=" + std::to_string(M));
}

}  // namespace

BENCHMARK(BM_EigenSgemm512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Jacobian)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacMatch)
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
