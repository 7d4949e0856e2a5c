// bench_dist — MPI costs of data-parallel training: allreduce time vs buffer size, and the time of
// one data-parallel step (shard evaluation + one fused allreduce + Adam) for MLP-784 and LeNet-5.
// Run under MPI, e.g. (as root add --allow-run-as-root):
//   OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to core ./build/bench_dist
//   OMP_NUM_THREADS=1 mpiexec -n 1 --bind-to core ./build/bench_dist
// Google Benchmark with MPI: every rank runs the same benchmarks with the same FIXED iteration
// counts (->Iterations: GBench's adaptive count would differ per rank and the collectives would
// no longer pair up), each iteration is timed by hand between barriers and reported as the
// maximum over ranks (UseManualTime), and only rank 0 prints (the others use a silent reporter).
//
// Benchmarks (float):
//   BM_Allreduce/<floats>       comm.allreduce_sum of a buffer (in place). Counters: MB (per
//                               rank), algbw_GBps = bytes/time, busbw_GBps = 2(P−1)/P · bytes/time
//                               (the bytes each rank sends and receives in a ring allreduce),
//                               best_us = the fastest iteration (least disturbed by other load).
//   BM_Step/<net>/<loss>        one data-parallel step of a global batch of 128: net 0 = MLP-784
//                               (784-256-256-10 tanh, 269,322 parameters), 1 = LeNet-5 (61,706);
//                               loss 0 = CrossEntropy, 1 = CrossEntropy + JacobianMatch<Full> from
//                               recorded TeacherData. Counters: compute_ms (shard value_and_grad,
//                               max over ranks), allreduce_ms (the fused gradient allreduce),
//                               params, P (ranks), samples_per_s = 128 / step time; best_ms,
//                               best_compute_ms, best_allreduce_ms = the fastest iteration of each.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jacnet/dist.hpp"
#include "jacnet/losses/composition.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/train/adam.hpp"
#include "support/nets.hpp"

using namespace jacnet;
using T = float;
using Clock = std::chrono::steady_clock;

namespace {

const dist::Communicator* g_comm = nullptr;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
/// The maximum of x over ranks (the slowest rank sets the pace of a synchronous step).
double max_over_ranks(double x) {
  g_comm->allreduce_max(std::span<double>(&x, 1));
  return x;
}

void BM_Allreduce(benchmark::State& state) {
  const auto& comm = *g_comm;
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<T> buf(n, 1.0f);
  double best = 1e300;  // the fastest iteration: what the transport does when no one interferes
  for (auto _ : state) {
    comm.barrier();
    const auto t0 = Clock::now();
    comm.allreduce_sum(std::span<T>(buf));
    const double dt = max_over_ranks(seconds_since(t0));
    state.SetIterationTime(dt);
    best = std::min(best, dt);
    std::fill(buf.begin(), buf.end(), 1.0f);  // keep the values finite
  }
  state.counters["best_us"] = 1e6 * best;
  const double bytes = double(n) * sizeof(T), P = comm.size();
  state.counters["MB"] = bytes / 1e6;
  state.counters["algbw_GBps"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["busbw_GBps"] = benchmark::Counter(2 * (P - 1) / P * bytes / 1e9,
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.counters["P"] = P;
}

constexpr Index kGlobalBatch = 128;

template <class Net, class L>
void step(benchmark::State& state, Net net, const Net& teacher, const L& loss) {
  const auto& comm = *g_comm;
  // The global batch (the same on every rank), this rank's shard and its teacher rows.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Matrix<T> X(kGlobalBatch, net.input_size());
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = u(rng);
  std::vector<int> y(kGlobalBatch);
  for (Index i = 0; i < kGlobalBatch; ++i) y[std::size_t(i)] = int(i % 10);
  const auto sh = dist::shard(kGlobalBatch, comm.rank(), comm.size());
  const Matrix<T> Xs = X.middleRows(sh.begin, sh.size());
  const std::vector<int> ys(y.begin() + sh.begin, y.begin() + sh.end);
  const auto data = losses::TeacherData<T>::record(teacher, Xs, true);
  losses::Workspace<T> ws(1);
  train::Adam<T> opt({.lr = 1e-4});
  dist::broadcast_params(comm, net);
  double compute = 0, reduce = 0, best = 1e300, best_compute = 1e300, best_reduce = 1e300;
  for (auto _ : state) {
    comm.barrier();
    const auto t0 = Clock::now();
    losses::value_and_grad(loss, net, losses::Batch(Xs, ys, data), ws);
    const auto t1 = Clock::now();
    dist::allreduce_result(comm, ws.result, sh.size(), kGlobalBatch);
    const auto t2 = Clock::now();
    opt.step(net.params(), ws.result.grad);
    const double dt = seconds_since(t0);
    const double c = max_over_ranks(std::chrono::duration<double>(t1 - t0).count());
    const double r = max_over_ranks(std::chrono::duration<double>(t2 - t1).count());
    const double d = max_over_ranks(dt);
    compute += c;
    reduce += r;
    best_compute = std::min(best_compute, c);
    best_reduce = std::min(best_reduce, r);
    best = std::min(best, d);
    state.SetIterationTime(d);
  }
  state.counters["best_ms"] = 1e3 * best;
  state.counters["best_compute_ms"] = 1e3 * best_compute;
  state.counters["best_allreduce_ms"] = 1e3 * best_reduce;
  const double it = double(state.iterations());
  state.counters["compute_ms"] = 1e3 * compute / it;
  state.counters["allreduce_ms"] = 1e3 * reduce / it;
  state.counters["params"] = double(net.num_params());
  state.counters["P"] = comm.size();
  state.counters["samples_per_s"] =
      benchmark::Counter(double(kGlobalBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Step(benchmark::State& state) {
  const bool jm = state.range(1) == 1;
  const auto ce = losses::CrossEntropy{};
  const auto cejm = losses::CrossEntropy{} + losses::JacobianMatch<losses::Full>{};
  if (state.range(0) == 0) {
    if (jm)
      step(state, bench::make_mlp784(1), bench::make_mlp784(2), cejm);
    else
      step(state, bench::make_mlp784(1), bench::make_mlp784(2), ce);
  } else {
    if (jm)
      step(state, bench::make_lenet5(1), bench::make_lenet5(2), cejm);
    else
      step(state, bench::make_lenet5(1), bench::make_lenet5(2), ce);
  }
}

// Fixed iteration counts: identical on every rank (see the header).
void allreduce_args(benchmark::internal::Benchmark* b) {
  for (long n : {256L, 4096L, 65536L, 262144L, 1048576L, 4194304L}) b->Args({n});
}

}  // namespace

BENCHMARK(BM_Allreduce)
    ->Apply(allreduce_args)
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Step)->Args({0, 0})->Args({1, 0})->Iterations(40)->UseManualTime()->Unit(
    benchmark::kMillisecond);
BENCHMARK(BM_Step)->Args({0, 1})->Args({1, 1})->Iterations(10)->UseManualTime()->Unit(
    benchmark::kMillisecond);

namespace {
/// Rank > 0 reports nothing (rank 0 prints the maxima over ranks).
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};
}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  dist::Communicator comm;
  g_comm = &comm;
  return dist::run_or_abort([&] {
    // Only rank 0 writes --benchmark_out (the others would truncate the same file).
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i)
      if (comm.is_root() || std::string_view(argv[i]).rfind("--benchmark_out", 0) != 0)
        args.push_back(argv[i]);
    int nargs = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&nargs, args.data());
    if (comm.is_root()) {
      benchmark::AddCustomContext("mpi_ranks", std::to_string(comm.size()));
      benchmark::RunSpecifiedBenchmarks();
    } else {
      SilentReporter silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
    benchmark::Shutdown();
  });
}
