#pragma once
// The timing loop shared by bench_mlp and bench_lenet. Before the loop, steady_state() times the
// first call (set-up: workspaces sized and first touched) and counts allocations and page faults
// of later calls; the loop then times steady-state calls only, whatever --benchmark_min_time is.
// Counters (one statistic per name in every binary):
//   ms                    mean time of the loop's iterations (the benchmark's own Time column)
//   best_ms               fastest iteration
//   GFLOPs                the step's GEMM flops / mean time
//   best_GFLOPs           the step's GEMM flops / fastest iteration
//   sgemm_GFLOPs          Eigen sgemm 512³ in this process (best of 30, support/sgemm_rate.hpp)
//   ratio_to_sgemm        best_GFLOPs / sgemm_GFLOPs (both best-of: comparable on a shared machine)
//   first_call_ms, allocs_per_iter, faults_per_iter    support/alloc_counter.hpp
//   x_first               first_call_ms / ms
//   threads               nn::max_threads() (the threads a pass may use)
//   state_bytes_per_sample  bytes of the step's workspaces / batch size (support/state_bytes.hpp)
//   pool_jobs_per_iter    jobs handed to the thread pool's workers per iteration (core/thread_pool.hpp)
//   worker_task_share     of those jobs' tasks, the fraction the workers ran (the rest: the caller)
//   stalls                jobs of the loop whose caller waited for a preempted worker (back-off)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "jacnet/core/thread_pool.hpp"
#include "jacnet/nn/execution.hpp"
#include "alloc_counter.hpp"
#include "sgemm_rate.hpp"

namespace jacnet::bench {

template <class F, class Bytes>
void timed_run(benchmark::State& state, double flops, double batch, F&& step, Bytes&& bytes) {
  const SetUp setup = steady_state(step);
  const ThreadPool& pool = ThreadPool::instance();
  const std::uint64_t jobs0 = pool.parallel_jobs(), tasks0 = pool.parallel_job_tasks(),
                      wtasks0 = pool.worker_tasks(), stalls0 = pool.stalls();
  double total = 0, best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total += dt;
    best = std::min(best, dt);
  }
  const double mean = total / double(std::max<benchmark::IterationCount>(1, state.iterations()));
  state.counters["ms"] = mean * 1e3;
  state.counters["best_ms"] = best * 1e3;
  state.counters["GFLOPs"] = flops / mean * 1e-9;
  state.counters["best_GFLOPs"] = flops / best * 1e-9;
  state.counters["sgemm_GFLOPs"] = sgemm_rate();
  state.counters["ratio_to_sgemm"] = flops / best * 1e-9 / sgemm_rate();
  state.counters["x_first"] = setup.first_ms / (mean * 1e3);
  state.counters["threads"] = nn::max_threads();
  const double iters = double(std::max<benchmark::IterationCount>(1, state.iterations()));
  const double jobs = double(pool.parallel_jobs() - jobs0);
  const double tasks = double(pool.parallel_job_tasks() - tasks0);
  state.counters["pool_jobs_per_iter"] = jobs / iters;
  state.counters["worker_task_share"] = tasks > 0 ? double(pool.worker_tasks() - wtasks0) / tasks : 0;
  state.counters["stalls"] = double(pool.stalls() - stalls0);
  report(state, setup);
  const std::size_t b = bytes();
  if (b > 0) state.counters["state_bytes_per_sample"] = double(b) / batch;
}

template <class F>
void timed_run(benchmark::State& state, double flops, double batch, F&& step) {
  timed_run(state, flops, batch, step, [] { return std::size_t(0); });
}

}  // namespace jacnet::bench
