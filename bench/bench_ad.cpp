// bench_ad — cost of jacnet's scalar AD against plain evaluation and finite differences.
//
// Functions (written once over the scalar type):
//   rosenbrock(x) = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²,  N = 16, 128, 1024
//   ode(x): 8 classical RK4 steps (dt = 0.05) of the logistic-diffusion chain
//           y_i' = y_i (1 − y_i) + 0.2 (y_{i−1} − 2 y_i + y_{i+1})   from y(0) = x,
//           returning Σ y_i(T)²  (a scalar-loop function: 8 statements per element per step)
// Benchmarks:
//   BM_gradient_*     reverse mode (jacnet::gradient: record + one sweep, tape reused);
//                     counter x_plain = its time / one plain double evaluation timed in the
//                     same run (target ≤ 10).
//   BM_jacfwd_*<K>    forward mode jacnet::jacfwd<K> (⌈N/K⌉ passes with Dual<double, K>);
//                     counter x_fd = its time / ((N+1) plain evaluations), the cost of one-sided
//                     finite differences (target ≤ 1).
//   BM_plain_*        the plain evaluation itself.
//   BM_recorded_gradient_*  gradient by replaying a recording (jacnet::ad::record) at x.
//   BM_gradient<LinEigen|LinLoop>  Σ softplus(X w) with an Eigen product vs scalar loops.
//   BM_hessian<F, K>  hessian<K>; counter x_hvp = its time / (n · one hvp) (target ≤ 1).
// Both ratios divide thread CPU times measured in the same run (the machine is shared); the plain
// time is the mean of two medians of 7 batches of ≥ 2 ms, taken just before and just after.
// Run: bench_ad --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/recorded.hpp"

namespace {

using Eigen::Index;
using Eigen::VectorXd;
using jacnet::Vector;

template <class X>
using scalar_t = typename std::decay_t<X>::Scalar;

struct Rosenbrock {
  template <class X>
  scalar_t<X> operator()(const X& x) const {
    using S = scalar_t<X>;
    S s = 0.0;
    for (Index i = 0; i + 1 < x.size(); ++i) {
      const S t = x(i + 1) - x(i) * x(i);
      const S u = 1.0 - x(i);
      s += 100.0 * t * t + u * u;
    }
    return s;
  }
};

struct Ode {
  static constexpr int kSteps = 8;
  static constexpr double kDt = 0.05, kDiff = 0.2;
  template <class S>
  static void rhs(const Vector<S>& u, Vector<S>& out) {
    const Index n = u.size();
    for (Index i = 0; i < n; ++i) {
      const S& l = u(i > 0 ? i - 1 : i);
      const S& r = u(i + 1 < n ? i + 1 : i);
      out(i) = u(i) * (1.0 - u(i)) + kDiff * (l - 2.0 * u(i) + r);
    }
  }
  template <class X>
  scalar_t<X> operator()(const X& x) const {
    using S = scalar_t<X>;
    const Index n = x.size();
    Vector<S> y = x, k1(n), k2(n), k3(n), k4(n), t(n);
    for (int step = 0; step < kSteps; ++step) {
      rhs(y, k1);
      for (Index i = 0; i < n; ++i) t(i) = y(i) + (0.5 * kDt) * k1(i);
      rhs(t, k2);
      for (Index i = 0; i < n; ++i) t(i) = y(i) + (0.5 * kDt) * k2(i);
      rhs(t, k3);
      for (Index i = 0; i < n; ++i) t(i) = y(i) + kDt * k3(i);
      rhs(t, k4);
      for (Index i = 0; i < n; ++i)
        y(i) = y(i) + (kDt / 6.0) * (k1(i) + 2.0 * k2(i) + 2.0 * k3(i) + k4(i));
    }
    S s = 0.0;
    for (Index i = 0; i < n; ++i) s += y(i) * y(i);
    return s;
  }
};

/// A linear model written two ways: Σ_i softplus((X w)_i), X (64 × N) fixed, w = x the input.
/// LinEigen uses an Eigen product (one tape statement of N operands per row with product.hpp);
/// LinLoop spells the same dot products as scalar loops.
Eigen::MatrixXd lin_matrix(Index n) {
  Eigen::MatrixXd X(64, n);
  for (Index i = 0; i < 64; ++i)
    for (Index j = 0; j < n; ++j) X(i, j) = 0.1 * std::sin(0.3 + 1.7 * double(i) + 0.9 * double(j));
  return X;
}
struct LinEigen {
  template <class X>
  scalar_t<X> operator()(const X& x) const {
    using S = scalar_t<X>;
    using jacnet::softplus;
    if (A.cols() != x.size()) A = lin_matrix(x.size());
    const Vector<S> z = A * x;
    S s = 0.0;
    for (Index i = 0; i < z.size(); ++i) s += softplus(z(i));
    return s;
  }
  mutable Eigen::MatrixXd A;
};
struct LinLoop {
  template <class X>
  scalar_t<X> operator()(const X& x) const {
    using S = scalar_t<X>;
    using jacnet::softplus;
    if (A.cols() != x.size()) A = lin_matrix(x.size());
    S s = 0.0;
    for (Index i = 0; i < A.rows(); ++i) {
      S z = 0.0;
      for (Index j = 0; j < x.size(); ++j) z += A(i, j) * x(j);
      s += softplus(z);
    }
    return s;
  }
  mutable Eigen::MatrixXd A;
};

VectorXd input(Index n) {
  VectorXd x(n);
  for (Index i = 0; i < n; ++i) x(i) = 0.5 + 0.4 * std::sin(0.37 * i);
  return x;
}

/// This thread's CPU time in seconds. Ratios are taken between CPU times measured in the same
/// run, so time the process spends descheduled on a loaded machine does not enter them.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// CPU seconds per plain double evaluation of f at x: median of 7 batches of ≥ 2 ms each.
template <class F>
double plain_seconds(const F& f, const VectorXd& x) {
  auto run = [&](long reps) {
    const double t0 = cpu_seconds();
    for (long r = 0; r < reps; ++r) {
      benchmark::DoNotOptimize(x.data());
      double y = f(x);
      benchmark::DoNotOptimize(y);
      benchmark::ClobberMemory();
    }
    return cpu_seconds() - t0;
  };
  long reps = 1;
  while (run(reps) < 2e-3) reps *= 2;
  std::vector<double> t;
  for (int b = 0; b < 7; ++b) t.push_back(run(reps) / double(reps));
  std::sort(t.begin(), t.end());
  return t[3];
}

template <class F>
void BM_plain(benchmark::State& state) {
  const VectorXd x = input(state.range(0));
  const F f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x.data());
    double y = f(x);
    benchmark::DoNotOptimize(y);
  }
}

template <class F>
void BM_gradient(benchmark::State& state) {
  const VectorXd x = input(state.range(0));
  const F f;
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    auto g = jacnet::gradient(f, x);
    benchmark::DoNotOptimize(g.gradient.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_plain"] = per / plain;
  state.counters["plain_us"] = plain * 1e6;
}

template <class F, int K>
void BM_jacfwd(benchmark::State& state) {
  const Index n = state.range(0);
  const VectorXd x = input(n);
  const F f;
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    auto J = jacnet::jacfwd<K>(f, x);
    benchmark::DoNotOptimize(J.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_fd"] = per / (double(n + 1) * plain);
  state.counters["plain_us"] = plain * 1e6;
}

/// Gradient by replaying a function recorded once (jacnet::ad::record) instead of calling f.
template <class F>
void BM_recorded_gradient(benchmark::State& state) {
  const VectorXd x = input(state.range(0));
  const F f;
  const auto R = jacnet::ad::record(f, x);
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    auto g = R.gradient(x);
    benchmark::DoNotOptimize(g.gradient.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_plain"] = per / plain;
}

/// Full Hessian: hessian<K> vs n hvp calls (counter x_hvp = hessian time / (n · one hvp)).
template <class F, int K>
void BM_hessian(benchmark::State& state) {
  const Index n = state.range(0);
  const VectorXd x = input(n), u = VectorXd::Ones(n);
  const F f;
  auto hvp_once = [&] {
    const double t0 = cpu_seconds();
    long reps = 0;
    while (cpu_seconds() - t0 < 2e-3) {
      auto h = jacnet::hvp(f, x, u);
      benchmark::DoNotOptimize(h.hvp.data());
      ++reps;
    }
    return (cpu_seconds() - t0) / double(reps);
  };
  const double hv = hvp_once();
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    auto H = jacnet::hessian<K>(f, x);
    benchmark::DoNotOptimize(H.hessian.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  state.counters["x_hvp"] = per / (double(n) * 0.5 * (hv + hvp_once()));
}

#define JACNET_SIZES ->Arg(16)->Arg(128)->Arg(1024)->Unit(benchmark::kMicrosecond)

BENCHMARK_TEMPLATE(BM_plain, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_gradient, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Rosenbrock, 8) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Rosenbrock, 16) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Rosenbrock, 32) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_plain, Ode) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_gradient, Ode) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Ode, 8) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Ode, 16) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_jacfwd, Ode, 32) JACNET_SIZES;

BENCHMARK_TEMPLATE(BM_recorded_gradient, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_recorded_gradient, Ode) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_gradient, LinEigen) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_gradient, LinLoop) JACNET_SIZES;
#define JACNET_HESS_SIZES ->Arg(16)->Arg(50)->Arg(128)->Unit(benchmark::kMicrosecond)
BENCHMARK_TEMPLATE(BM_hessian, Rosenbrock, 4) JACNET_HESS_SIZES;
BENCHMARK_TEMPLATE(BM_hessian, Rosenbrock, 8) JACNET_HESS_SIZES;
BENCHMARK_TEMPLATE(BM_hessian, Rosenbrock, 16) JACNET_HESS_SIZES;

}  // namespace

BENCHMARK_MAIN();
