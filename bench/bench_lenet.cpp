// bench_lenet — LeNet-5 per-sample Jacobians, training steps and Jacobian-matching steps (float,
// batch 128), with GFLOP/s of the conv/dense work and, from the same run, Eigen's sgemm rate at
// 512³ and the ratio to it; plus the conv kernels alone, direct lane-tile SIMD vs im2col + Eigen
// GEMM, on LeNet's two convolutions (the measurement behind docs/nn_conv.md's choice).
//
//   LeNet-5 on 1x28x28: conv 5x5x6 pad 2, tanh, avgpool 2, conv 5x5x16, tanh, avgpool 2, flatten,
//   dense 400-120-84-10 with tanh between the dense layers.
// Counters (ms, GFLOPs, ratio_to_sgemm, first_call_ms, allocs_per_iter, faults_per_iter,
// state_bytes_per_sample, ...): bench/support/timed_run.hpp.
// Benchmarks (all reuse their workspaces: no allocation per iteration):
//   BM_Jacobian         nn::jacrev: forward + one reverse sweep of K = 10 one-hot seeds per sample
//   BM_TrainStep        forward + softmax cross-entropy adjoint + nn::backward
//   BM_JacMatch/0, /1   nn::jacobian_pass with M = 10 (full one-hot seeds) or M = 1 (top-1 class
//                       of a teacher's outputs) + squared-error adjoints + nn::backprop
//   BM_ConvRule/<conv>/<rule>/<method>   conv = 0 (1→6, 28x28, pad 2) or 1 (6→16, 14x14);
//                       rule = 0 forward, 1 vjp, 2 weight gradient; method = 0 direct (jacnet),
//                       1 im2col + Eigen GEMM (batched over chunks of 16 images); N = 1280 rows
//                       (the B·K rows of the LeNet Jacobian)
// FLOP counts (2 per multiply-add of conv/dense layers; P = Σ per-sample forward MACs = 416,520,
// P1 = conv1's 117,600, PL = the last dense layer's 840; the same formulas as
// bench/compare_pytorch.py):
//   forward F = 2BP;  jac F + 2BK(P − PL);  train F + 2BP + 2B(P − P1);
//   jm F + 2·2BM(P − PL) + 2BMP + 2BP + 2B(P − P1).
// Pooling, activations and biases are not counted.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/alloc_counter.hpp"
#include "support/ce_adjoint.hpp"
#include "support/sgemm_rate.hpp"
#include "support/state_bytes.hpp"
#include "support/timed_run.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace jacnet;
using T = float;
using Net = nn::Sequential<nn::Conv2d<T>, nn::Tanh<T>, nn::AvgPool2d<T>, nn::Conv2d<T>, nn::Tanh<T>,
                           nn::AvgPool2d<T>, nn::Flatten<T>, nn::Dense<T>, nn::Tanh<T>,
                           nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;

namespace {

constexpr Index kB = 128, kK = 10;
constexpr double kP = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10;
constexpr double kP1 = 6 * 28 * 28 * 25, kPL = 84 * 10;

Net make_net() {
  Net net(Shape{1, 28, 28}, nn::Conv2d<T>(1, 6, 5, 1, 2), nn::Tanh<T>(), nn::AvgPool2d<T>(2),
          nn::Conv2d<T>(6, 16, 5), nn::Tanh<T>(), nn::AvgPool2d<T>(2), nn::Flatten<T>(),
          nn::Dense<T>(400, 120), nn::Tanh<T>(), nn::Dense<T>(120, 84), nn::Tanh<T>(),
          nn::Dense<T>(84, 10));
  net.init(42);
  return net;
}

Matrix<T> random_input(Index rows, Index cols, std::uint64_t seed, T lo = 0, T hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  Matrix<T> X(rows, cols);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = d(rng);
  return X;
}

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
  const Net net = make_net();
  const Matrix<T> X = random_input(kB, 784, 1);
  nn::Workspace<T> ws;
  Matrix<T> J;
  timed_run(state, 2.0 * kB * kP + 2.0 * kB * kK * (kP - kPL), double(kB), [&] {
    nn::jacrev(net, X, ws, J);
    benchmark::DoNotOptimize(J.data());
  }, [&] { return state_bytes(ws) + state_bytes(J); });
  state.SetLabel("LeNet-5 jacrev, B=128, J: 1280x784");
}

void BM_TrainStep(benchmark::State& state) {
  const Net net = make_net();
  const Matrix<T> X = random_input(kB, 784, 2);
  std::vector<Index> labels(kB);
  for (Index b = 0; b < kB; ++b) labels[std::size_t(b)] = b % kK;
  nn::Workspace<T> ws;
  Matrix<T> Ybar;
  Vector<T> grads;
  timed_run(state, 2.0 * kB * kP * 2 + 2.0 * kB * (kP - kP1), double(kB), [&] {
    net.forward(X, ws.trace);
    bench::ce_adjoint(ws.trace.output(), labels, Ybar);
    nn::backward(net, ws.trace, Ybar, grads, ws);
    benchmark::DoNotOptimize(grads.data());
  }, [&] { return state_bytes(ws) + state_bytes(grads); });
  state.SetLabel("LeNet-5 forward+backward, B=128");
}

void BM_JacMatch(benchmark::State& state) {
  const Index M = state.range(0) == 0 ? kK : 1;
  const Net net = make_net();
  const Matrix<T> X = random_input(kB, 784, 3);
  const Matrix<T> Jt = random_input(kB * M, 784, 4, -0.01f, 0.01f);
  const Matrix<T> Yt = random_input(kB, kK, 5);
  const Matrix<T> seeds = M == kK ? nn::seeds_full<T>(kB, kK) : nn::seeds_top_k(Yt, 1);
  nn::JacobianPass<T> pass;
  Matrix<T> Ybar, Jbar;
  Vector<T> grads;
  const double flops = 2.0 * kB * kP + 2.0 * 2.0 * kB * M * (kP - kPL) + 2.0 * kB * M * kP +
                       2.0 * kB * kP + 2.0 * kB * (kP - kP1);
  timed_run(state, flops, double(kB), [&] {
    nn::jacobian_pass(net, X, seeds, pass);
    Ybar.noalias() = T(2) * (pass.outputs() - Yt);
    Jbar.noalias() = T(2) * (pass.J() - Jt);
    nn::backprop(net, pass, Ybar, Jbar, {}, grads);
    benchmark::DoNotOptimize(grads.data());
  }, [&] { return state_bytes(pass) + state_bytes(grads); });
  state.SetLabel("LeNet-5 Jacobian-matching step, M=" + std::to_string(M));
}

// ---- conv kernels alone: direct lane tiles (jacnet) vs im2col + Eigen GEMM ------------------

/// im2col + GEMM reference (bench only): per chunk of n images, the columns of all n images side
/// by side [Cin·kh·kw x n·OH·OW], so each rule is one Eigen GEMM per chunk.
struct Im2col {
  nn::Window2d g;
  Index Cout;
  static constexpr Index kChunk = 16;
  Index rows() const { return g.C * g.taps(); }
  Index pix() const { return g.OH * g.OW; }

  // Valid output columns [lo, hi) of tap column j: 0 ≤ ox·sw − pw + j < W.
  void col_range(Index j, Index& lo, Index& hi) const {
    lo = std::max<Index>(0, (g.pw - j + g.sw - 1) / g.sw);
    hi = std::min<Index>(g.OW, (g.W - 1 + g.pw - j) / g.sw + 1);
    if (hi < lo) hi = lo;
  }
  void im2col(const T* x, T* cols, Index ld) const {  // cols[(c,i,j)][p] (ld = row stride)
    for (Index c = 0; c < g.C; ++c)
      for (Index i = 0; i < g.kh; ++i)
        for (Index j = 0; j < g.kw; ++j) {
          T* row = cols + ((c * g.kh + i) * g.kw + j) * ld;
          Index lo, hi;
          col_range(j, lo, hi);
          for (Index oy = 0; oy < g.OH; ++oy) {
            T* r = row + oy * g.OW;
            const Index y = oy * g.sh - g.ph + i;
            if (y < 0 || y >= g.H) {
              std::fill(r, r + g.OW, T(0));
              continue;
            }
            const T* xr = x + (c * g.H + y) * g.W - g.pw + j;
            std::fill(r, r + lo, T(0));
            for (Index ox = lo; ox < hi; ++ox) r[ox] = xr[ox * g.sw];
            std::fill(r + hi, r + g.OW, T(0));
          }
        }
  }
  void col2im(const T* cols, Index ld, T* x) const {  // x += scatter of cols
    for (Index c = 0; c < g.C; ++c)
      for (Index i = 0; i < g.kh; ++i)
        for (Index j = 0; j < g.kw; ++j) {
          const T* row = cols + ((c * g.kh + i) * g.kw + j) * ld;
          Index lo, hi;
          col_range(j, lo, hi);
          for (Index oy = 0; oy < g.OH; ++oy) {
            const Index y = oy * g.sh - g.ph + i;
            if (y < 0 || y >= g.H) continue;
            T* xr = x + (c * g.H + y) * g.W - g.pw + j;
            const T* r = row + oy * g.OW;
            for (Index ox = lo; ox < hi; ++ox) xr[ox * g.sw] += r[ox];
          }
        }
  }
  template <class Body>
  void chunks(Index N, Body&& body) const {
    const Index nch = (N + kChunk - 1) / kChunk;
#pragma omp parallel
    {
      Matrix<T> cols(rows(), kChunk * pix()), out(std::max(Cout, rows()), kChunk * pix());
#pragma omp for schedule(static)
      for (Index ch = 0; ch < nch; ++ch)
        body(ch * kChunk, std::min(kChunk, N - ch * kChunk), cols, out);
    }
  }
  void forward(const T* W, const Matrix<T>& X, Matrix<T>& Y) const {
    Y.resize(X.rows(), Cout * pix());
    const Eigen::Map<const Matrix<T>> Wm(W, Cout, rows());
    chunks(X.rows(), [&](Index r0, Index n, Matrix<T>& cols, Matrix<T>& out) {
      for (Index s = 0; s < n; ++s)
        im2col(X.row(r0 + s).data(), cols.data() + s * pix(), cols.cols());
      out.topLeftCorner(Cout, n * pix()).noalias() = Wm * cols.leftCols(n * pix());
      for (Index s = 0; s < n; ++s)
        for (Index o = 0; o < Cout; ++o)
          std::copy_n(out.row(o).data() + s * pix(), pix(), Y.row(r0 + s).data() + o * pix());
    });
  }
  void vjp(const T* W, const Matrix<T>& V, Matrix<T>& Vin) const {
    Vin.setZero(V.rows(), g.in_size());
    const Eigen::Map<const Matrix<T>> Wm(W, Cout, rows());
    chunks(V.rows(), [&](Index r0, Index n, Matrix<T>& cols, Matrix<T>& out) {
      for (Index s = 0; s < n; ++s)
        for (Index o = 0; o < Cout; ++o)
          std::copy_n(V.row(r0 + s).data() + o * pix(), pix(), out.row(o).data() + s * pix());
      cols.leftCols(n * pix()).noalias() = Wm.transpose() * out.topLeftCorner(Cout, n * pix());
      for (Index s = 0; s < n; ++s)
        col2im(cols.data() + s * pix(), cols.cols(), Vin.row(r0 + s).data());
    });
  }
  void wgrad(const Matrix<T>& X, const Matrix<T>& V, T* gW) const {
    const Index N = V.rows();
    const Index nch = (N + kChunk - 1) / kChunk;
    Matrix<T> part = Matrix<T>::Zero(nch, Cout * rows());
    chunks(N, [&](Index r0, Index n, Matrix<T>& cols, Matrix<T>& out) {
      for (Index s = 0; s < n; ++s) {
        im2col(X.row(r0 + s).data(), cols.data() + s * pix(), cols.cols());
        for (Index o = 0; o < Cout; ++o)
          std::copy_n(V.row(r0 + s).data() + o * pix(), pix(), out.row(o).data() + s * pix());
      }
      Eigen::Map<Matrix<T>> gm(part.row(r0 / kChunk).data(), Cout, rows());
      gm.noalias() = out.topLeftCorner(Cout, n * pix()) * cols.leftCols(n * pix()).transpose();
    });
    Eigen::Map<Vector<T>>(gW, Cout * rows()) += part.colwise().sum().transpose();
  }
};

void BM_ConvRule(benchmark::State& state) {
  const bool first = state.range(0) == 0;
  const int rule = int(state.range(1));
  const bool direct = state.range(2) == 0;
  const Shape in = first ? Shape{1, 28, 28} : Shape{6, 14, 14};
  const Index cout = first ? 6 : 16, N = kB * kK;
  nn::Conv2d<T> conv(in, cout, 5, 1, first ? 2 : 0);
  const Im2col ref{conv.window(), cout};
  std::mt19937_64 rng(1);
  Vector<T> p(conv.num_params());
  conv.init(p.data(), rng);
  const Matrix<T> X = random_input(N, in.size(), 7, -1, 1);
  const Matrix<T> V = random_input(N, conv.out_size(), 8, -1, 1);
  Matrix<T> out;
  Vector<T> g = Vector<T>::Zero(p.size());
  {  // both methods must agree before either is timed
    Matrix<T> a, b;
    Vector<T> ga = Vector<T>::Zero(p.size()), gb = Vector<T>::Zero(p.size());
    if (rule == 0) conv.forward(p.data(), X, a), ref.forward(p.data(), X, b);
    if (rule == 1) conv.vjp(p.data(), X, a, V, a), ref.vjp(p.data(), V, b);
    if (rule == 2) {
      conv.param_grad(p.data(), X, X, V, ga.data());
      ref.wgrad(X, V, gb.data());
      a = ga.head(conv.weight_size()).transpose();
      b = gb.head(conv.weight_size()).transpose();
    }
    const T err = (a - b).cwiseAbs().maxCoeff() / (T(1) + b.cwiseAbs().maxCoeff());
    if (!(a.rows() == b.rows() && a.cols() == b.cols() && err < T(1e-4))) {
      state.SkipWithError("direct and im2col results differ");
      return;
    }
  }
  const double flops =
      2.0 * double(N) * double(conv.weight_size()) * double(conv.window().out_pixels());
  timed_run(state, flops, double(kB), [&] {
    if (rule == 0) direct ? conv.forward(p.data(), X, out) : ref.forward(p.data(), X, out);
    if (rule == 1) direct ? conv.vjp(p.data(), X, out, V, out) : ref.vjp(p.data(), V, out);
    if (rule == 2)
      direct ? conv.param_grad(p.data(), X, out, V, g.data()) : ref.wgrad(X, V, g.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(g.data());
  });
  static const char* rules[] = {"forward", "vjp", "wgrad"};
  state.SetLabel(std::string(first ? "conv1 1->6 28x28 p2" : "conv2 6->16 14x14") + " " +
                 rules[rule] + " N=1280 " + (direct ? "direct lane tiles" : "im2col+GEMM"));
}

}  // namespace

BENCHMARK(BM_EigenSgemm512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Jacobian)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacMatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ConvRule)
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
