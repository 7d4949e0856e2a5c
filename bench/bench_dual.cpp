// bench_dual — cost of one forward-mode evaluation with jacnet::Dual<double, N> against the plain
// double evaluation, and of Dual<double, 1> against a hand-written (value, derivative) struct.
//
// Kernels (applied elementwise to 256 inputs, written once over the scalar type):
//   arith: 16 steps of y ← y·(1 + 0.1y) − 0.05·y²/(2 + y²)      (+, −, ×, ÷ only)
//   trans: 4 steps of y ← tanh(y)·exp(−0.1y) + 0.5·sigmoid(y)     (transcendental-bound)
// Counters:
//   x_plain  = time / time of the plain double evaluation (measured in the same process)
//   per_dir  = x_plain / N: cost of one directional derivative in units of a plain evaluation
//              (one-sided finite differences cost 1 per direction; ≤ 1 means cheaper than FD)
// Run: bench_dual --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <vector>

#include "jacnet/ad/dual.hpp"

namespace {

constexpr int kLen = 256;

struct Arith {
  template <class S>
  static S f(S y) {
    for (int k = 0; k < 16; ++k) y = y * (1.0 + 0.1 * y) - 0.05 * y * y / (2.0 + y * y);
    return y;
  }
};
struct Trans {
  template <class S>
  static S f(S y) {
    using jacnet::sigmoid;
    using std::exp;
    using std::tanh;
    for (int k = 0; k < 4; ++k) y = tanh(y) * exp(-0.1 * y) + 0.5 * sigmoid(y);
    return y;
  }
};

/// The textbook dual number (value, derivative) as the N = 1 baseline, forced inline like Dual
/// so that both leave the same freedom to the optimizer.
struct PlainDual {
  double v, d;
  [[gnu::always_inline]] PlainDual& operator+=(PlainDual o) {
    v += o.v;
    d += o.d;
    return *this;
  }
};
[[gnu::always_inline]] inline PlainDual operator+(PlainDual a, PlainDual b) {
  return {a.v + b.v, a.d + b.d};
}
[[gnu::always_inline]] inline PlainDual operator-(PlainDual a, PlainDual b) {
  return {a.v - b.v, a.d - b.d};
}
[[gnu::always_inline]] inline PlainDual operator*(PlainDual a, PlainDual b) {
  return {a.v * b.v, a.d * b.v + a.v * b.d};
}
[[gnu::always_inline]] inline PlainDual operator/(PlainDual a, PlainDual b) {
  const double inv = 1 / b.v, q = a.v * inv;
  return {q, (a.d - q * b.d) * inv};
}
[[gnu::always_inline]] inline PlainDual operator-(PlainDual a) { return {-a.v, -a.d}; }
[[gnu::always_inline]] inline PlainDual operator+(double a, PlainDual b) { return {a + b.v, b.d}; }
[[gnu::always_inline]] inline PlainDual operator*(double a, PlainDual b) {
  return {a * b.v, a * b.d};
}
[[gnu::always_inline]] inline PlainDual operator*(PlainDual a, double b) {
  return {a.v * b, a.d * b};
}
[[gnu::always_inline]] inline PlainDual exp(PlainDual a) {
  const double e = std::exp(a.v);
  return {e, e * a.d};
}
[[gnu::always_inline]] inline PlainDual tanh(PlainDual a) {
  const double t = std::tanh(a.v);
  return {t, (1 - t * t) * a.d};
}
[[gnu::always_inline]] inline PlainDual sigmoid(PlainDual a) {
  const double s = jacnet::sigmoid(a.v);
  return {s, s * (1 - s) * a.d};
}

std::vector<double> inputs() {
  std::vector<double> x(kLen);
  for (int i = 0; i < kLen; ++i) x[std::size_t(i)] = -1.5 + 3.0 * i / kLen;
  return x;
}

/// Median CPU time of one plain double pass over the inputs (seconds), measured once per kernel
/// (CPU time, like Google Benchmark's rate counters).
template <class K>
double plain_seconds() {
  static const double t = [] {
    const auto x = inputs();
    std::array<double, 7> runs{};
    for (auto& r : runs) {
      const std::clock_t t0 = std::clock();
      constexpr int reps = 2000;
      for (int k = 0; k < reps; ++k) {
        double s = 0;
        for (double xi : x) s += K::f(xi);
        benchmark::DoNotOptimize(s);
      }
      r = double(std::clock() - t0) / CLOCKS_PER_SEC / reps;
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
  }();
  return t;
}

template <class K>
void BM_plain(benchmark::State& state) {
  const auto x = inputs();
  for (auto _ : state) {
    double s = 0;
    for (double xi : x) s += K::f(xi);
    benchmark::DoNotOptimize(s);
  }
  state.counters["x_plain"] =
      benchmark::Counter(plain_seconds<K>() * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <class K, int N>
void BM_dual(benchmark::State& state) {
  using D = jacnet::Dual<double, N>;
  const auto x = inputs();
  std::vector<D> xd(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xd[i] = D::variable(x[i], int(i % N));
  for (auto _ : state) {
    D s;
    for (const D& xi : xd) s += K::f(xi);
    benchmark::DoNotOptimize(s);
  }
  // x_plain = (elapsed / iterations) / plain; Counter kIsRate divides by elapsed, kInvert flips.
  const double plain = plain_seconds<K>();
  state.counters["x_plain"] =
      benchmark::Counter(plain * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["per_dir"] =
      benchmark::Counter(plain * double(state.iterations()) * N,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <class K, class KP>
void BM_plain_dual(benchmark::State& state) {
  const auto x = inputs();
  std::vector<PlainDual> xd(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xd[i] = {x[i], 1.0};
  for (auto _ : state) {
    PlainDual s{0, 0};
    for (const PlainDual& xi : xd) s += KP::f(xi);
    benchmark::DoNotOptimize(s);
  }
  state.counters["x_plain"] =
      benchmark::Counter(plain_seconds<K>() * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_plain, Arith)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_plain_dual, Arith, Arith)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 4)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 8)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 16)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 17)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Arith, 32)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_plain, Trans)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_plain_dual, Trans, Trans)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Trans, 1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Trans, 8)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Trans, 16)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_dual, Trans, 32)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
