#pragma once
// tests/support/thread_independence.hpp — the net-level thread-count independence harness shared
// by the nn, losses and integration tests.
//
// check_same_for_any_thread_count(step) runs `step()` — which builds its own workspaces and
// returns something comparable with == (e.g. a tuple of values and Eigen matrices) — with 1, 2
// and 3 OpenMP threads, under nn::set_max_threads(1) (with 2 threads available), and on both
// threads of a user's own 2-thread OpenMP region, with every pass of several shards allowed to
// use threads (nn::set_min_parallel_work(0); restored after). Every result must equal the
// 1-thread one bitwise. Without OpenMP the test case is skipped (JACNET_SKIP).
#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

#include "jacnet/nn/execution.hpp"
#include "support/skip.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace jacnet::testing {

template <class Step>
void check_same_for_any_thread_count(Step&& step) {
#ifdef _OPENMP
  using R = decltype(step());
  nn::set_min_parallel_work(0);
  const int saved = omp_get_max_threads();
  std::vector<R> runs;
  for (int t = 1; t <= 3; ++t) {
    omp_set_num_threads(t);
    runs.push_back(step());
  }
  omp_set_num_threads(2);
  nn::set_max_threads(1);
  runs.push_back(step());
  nn::set_max_threads(0);
  std::vector<R> nested(2);
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
    if (t < 2) nested[static_cast<std::size_t>(t)] = step();
  }
  omp_set_num_threads(saved);
  nn::set_min_parallel_work(nn::kParallelPassWork);
  const char* what[] = {"1 thread", "2 threads", "3 threads", "set_max_threads(1)"};
  for (std::size_t i = 1; i < runs.size(); ++i) {
    INFO(what[i] << " vs 1 thread");
    CHECK(runs[i] == runs[0]);
  }
  for (std::size_t i = 0; i < nested.size(); ++i) {
    INFO("thread " << i << " of a user's parallel region vs 1 thread");
    CHECK(nested[i] == runs[0]);
  }
#else
  (void)step;
  JACNET_SKIP("built without OpenMP");
#endif
}

}  // namespace jacnet::testing
