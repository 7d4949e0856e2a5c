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
//   BM_hvp_*          one hvp; counter x_plain.
//   Peers (optional, when bench/CMakeLists.txt finds them): BM_ceres_jacfwd<F, K> (Ceres' Jet,
//   counter x_fd as BM_jacfwd), BM_adolc_gradient (ADOL-C tape + gradient, x_plain) and
//   BM_adolc_replay (gradient on a tape recorded once, x_plain).
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

// Optional peers, found by bench/CMakeLists.txt (reported there as not built when absent).
#ifdef JACNET_BENCH_CERES
#include <ceres/jet.h>
#endif
#ifdef JACNET_BENCH_ADOLC
#include <adolc/adolc.h>
// adouble as an Eigen scalar (storage and coefficient access only: the bench functions index
// their vectors and copy them).
namespace Eigen {
template <>
struct NumTraits<adouble> : NumTraits<double> {
  using Real = adouble;
  using NonInteger = adouble;
  using Nested = adouble;
  using Literal = adouble;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 1,
    AddCost = 3,
    MulCost = 3
  };
};
}  // namespace Eigen
#endif

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
    S s(0.0);  // direct initialization: Ceres' Jet has an explicit constructor from double
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
    S s(0.0);
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

#ifdef JACNET_BENCH_CERES
/// Peer: Ceres' Jet<double, K> (forward mode, K tangents in an Eigen fixed vector) computing the
/// same Jacobian as BM_jacfwd, ⌈N/K⌉ passes; counter x_fd as there.
template <class F, int K>
void BM_ceres_jacfwd(benchmark::State& state) {
  using J = ceres::Jet<double, K>;
  const Index n = state.range(0);
  const VectorXd x = input(n);
  const F f;
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    Vector<J> xj(n);
    for (Index i = 0; i < n; ++i) xj(i) = J(x(i));
    Eigen::Matrix<double, 1, Eigen::Dynamic> G(1, n);
    for (Index c0 = 0; c0 < n; c0 += K) {
      const int width = static_cast<int>(std::min<Index>(K, n - c0));
      for (int k = 0; k < width; ++k) xj(c0 + k).v[k] = 1.0;
      const J y = f(xj);
      for (int k = 0; k < width; ++k) G(0, c0 + k) = y.v[k];
      for (int k = 0; k < width; ++k) xj(c0 + k).v[k] = 0.0;
    }
    benchmark::DoNotOptimize(G.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_fd"] = per / (double(n + 1) * plain);
  state.counters["plain_us"] = plain * 1e6;
}
#endif

#ifdef JACNET_BENCH_ADOLC
/// Peer: ADOL-C. Records f on tape 1 (trace_on/off, adoubles in an Eigen vector) and evaluates
/// the gradient with ADOL-C's driver gradient() (zos_forward + fos_reverse on the tape).
template <class F>
void adolc_record(const F& f, const VectorXd& x, short tag) {
  trace_on(tag);
  Vector<adouble> xa(x.size());
  for (Index i = 0; i < x.size(); ++i) xa(i) <<= x(i);
  adouble y = f(xa);
  double yv = 0.0;
  y >>= yv;
  trace_off();
  benchmark::DoNotOptimize(yv);
}
/// Tape + gradient each iteration (what jacnet::gradient does); counter x_plain.
template <class F>
void BM_adolc_gradient(benchmark::State& state) {
  const VectorXd x = input(state.range(0));
  const F f;
  VectorXd g(x.size());
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    adolc_record(f, x, 1);
    gradient(1, static_cast<int>(x.size()), x.data(), g.data());
    benchmark::DoNotOptimize(g.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_plain"] = per / plain;
}
/// Replay: f recorded once, then only gradient() on the tape per iteration; counter x_plain.
template <class F>
void BM_adolc_replay(benchmark::State& state) {
  const VectorXd x = input(state.range(0));
  const F f;
  VectorXd g(x.size());
  adolc_record(f, x, 2);
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    gradient(2, static_cast<int>(x.size()), x.data(), g.data());
    benchmark::DoNotOptimize(g.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_plain"] = per / plain;
}
#endif

/// One hvp (Var<Dual<double, 1>>: one recording, one sweep); counter x_plain.
template <class F>
void BM_hvp(benchmark::State& state) {
  const VectorXd x = input(state.range(0)), u = VectorXd::Ones(state.range(0));
  const F f;
  const double before = plain_seconds(f, x);
  const double t0 = cpu_seconds();
  for (auto _ : state) {
    auto h = jacnet::hvp(f, x, u);
    benchmark::DoNotOptimize(h.hvp.data());
  }
  const double per = (cpu_seconds() - t0) / double(state.iterations());
  const double plain = 0.5 * (before + plain_seconds(f, x));
  state.counters["x_plain"] = per / plain;
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
BENCHMARK_TEMPLATE(BM_hessian, Ode, 4) JACNET_HESS_SIZES;
BENCHMARK_TEMPLATE(BM_hessian, Ode, 8) JACNET_HESS_SIZES;
BENCHMARK_TEMPLATE(BM_hessian, Ode, 16) JACNET_HESS_SIZES;
BENCHMARK_TEMPLATE(BM_hvp, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_hvp, Ode) JACNET_SIZES;

#ifdef JACNET_BENCH_CERES
BENCHMARK_TEMPLATE(BM_ceres_jacfwd, Rosenbrock, 8) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_ceres_jacfwd, Rosenbrock, 16) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_ceres_jacfwd, Ode, 8) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_ceres_jacfwd, Ode, 16) JACNET_SIZES;
#endif
#ifdef JACNET_BENCH_ADOLC
BENCHMARK_TEMPLATE(BM_adolc_gradient, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_adolc_replay, Rosenbrock) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_adolc_gradient, Ode) JACNET_SIZES;
BENCHMARK_TEMPLATE(BM_adolc_replay, Ode) JACNET_SIZES;
#endif

}  // namespace

BENCHMARK_MAIN();
