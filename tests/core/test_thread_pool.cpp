// Tests of core/thread_pool.hpp: every task runs exactly once for any task and thread count;
// nested runs and concurrent callers run serially and still run everything; the pool keeps
// working across many jobs (the generation ticket), in a child process after fork(), and with
// the spin set to 0 (sleep at once).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <csignal>
#include <cstdlib>

#include <sys/wait.h>
#include <unistd.h>

#include "jacnet/core/thread_pool.hpp"
#include "support/skip.hpp"

using jacnet::ThreadPool;

namespace {

/// Runs a job of n tasks on nt threads; checks each index ran once and reports the threads used.
int run_and_count(int nt, std::int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  std::vector<std::thread::id> who(static_cast<std::size_t>(n));
  std::atomic<bool> outside_task{false};  // (Catch assertions are for the test's own thread)
  auto task = [&](std::int64_t i) {
    if (!ThreadPool::in_task()) outside_task = true;
    hits[static_cast<std::size_t>(i)].fetch_add(1);
    who[static_cast<std::size_t>(i)] = std::this_thread::get_id();
    volatile double x = 0;  // some work, so a second thread gets a chance to claim a task
    for (int k = 0; k < 2000; ++k) x = x + k;
  };
  ThreadPool::instance().run(nt, n, task);
  CHECK(!outside_task.load());
  int bad = 0;
  for (auto& h : hits) bad += h.load() != 1;
  CHECK(bad == 0);
  std::vector<std::thread::id> ids;
  for (auto& w : who) {
    bool seen = false;
    for (auto& i : ids) seen = seen || i == w;
    if (!seen) ids.push_back(w);
  }
  return static_cast<int>(ids.size());
}

/// Runs child() in a forked child process that exits with its return value; waits up to
/// `limit` for it (killing it after that) and returns its exit code, or -1 when it did not exit by
/// itself in time or ended by a signal.
template <class Child>
int exit_code_of_child(Child&& child, std::chrono::seconds limit, bool run_exit_handlers) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int code = child();
    if (run_exit_handlers) std::exit(code);  // runs static destructors (the pool's) too
    _exit(code);
  }
  int status = 0;
  pid_t r = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() - t0 < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  REQUIRE(r == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The job a forked child runs: n counting tasks on nt threads; exit code 0 iff all n ran.
int count_tasks_in_child(int nt, std::int64_t n) {
  std::atomic<std::int64_t> ran{0};
  auto task = [&](std::int64_t) { ran.fetch_add(1); };
  ThreadPool::instance().run(nt, n, task);
  return ran.load() == n ? 0 : 1;
}

}  // namespace

TEST_CASE("every task runs exactly once, for any task and thread count", "[core][threads]") {
  for (int nt : {1, 2, 3, 5})
    for (std::int64_t n : {0, 1, 2, 3, 7, 64, 1000}) {
      INFO("threads " << nt << ", tasks " << n);
      const int used = run_and_count(nt, n);
      CHECK(used <= std::max(nt, 1));
      if (n == 0) CHECK(used == 0);
    }
  CHECK(!ThreadPool::in_task());
  CHECK(ThreadPool::instance().workers() <= ThreadPool::kMaxWorkers);
}

TEST_CASE("many small jobs in a row all complete (job tickets never mix)", "[core][threads]") {
  std::atomic<std::int64_t> sum{0};
  for (int j = 0; j < 20000; ++j) {
    const std::int64_t n = 1 + j % 5;
    auto task = [&](std::int64_t i) { sum.fetch_add(i + 1); };
    ThreadPool::instance().run(2 + j % 2, n, task);
  }
  std::int64_t expect = 0;
  for (int j = 0; j < 20000; ++j) {
    const std::int64_t n = 1 + j % 5;
    expect += n * (n + 1) / 2;
  }
  CHECK(sum.load() == expect);
}

TEST_CASE("a run inside a task and a run beside another job run serially, completely",
          "[core][threads]") {
  std::atomic<int> inner{0}, moved{0};
  auto outer = [&](std::int64_t) {
    const auto self = std::this_thread::get_id();
    auto nested = [&](std::int64_t) {
      if (std::this_thread::get_id() != self) moved.fetch_add(1);
      inner.fetch_add(1);
    };
    ThreadPool::instance().run(4, 10, nested);
  };
  ThreadPool::instance().run(2, 6, outer);
  CHECK(inner.load() == 60);
  CHECK(moved.load() == 0);

  // Four user threads submit jobs at once: each job completes, whoever gets the workers.
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> users;
  for (int u = 0; u < 4; ++u)
    users.emplace_back([&] {
      for (int j = 0; j < 500; ++j) {
        auto task = [&](std::int64_t i) { total.fetch_add(i); };
        ThreadPool::instance().run(2, 10, task);
      }
    });
  for (auto& t : users) t.join();
  CHECK(total.load() == 4 * 500 * 45);
}

TEST_CASE("the pool works in a child process after fork()", "[core][threads]") {
#if defined(__SANITIZE_THREAD__)
  JACNET_SKIP("ThreadSanitizer does not support starting threads after a multi-threaded fork");
#endif
  run_and_count(2, 16);  // workers exist in the parent
  const auto child = [] { return count_tasks_in_child(2, 32); };
  const int code = exit_code_of_child(child, std::chrono::seconds(60), false);
  CHECK(code == 0);
}

TEST_CASE("a job that waited for a slow worker backs off to the calling thread",
          "[core][threads]") {
  auto& pool = ThreadPool::instance();
  run_and_count(2, 16);  // a worker exists
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past any earlier back-off
  // Two tasks: the one on a worker sleeps 200 ms (a preempted worker, as the caller sees it); the
  // one on the caller waits (up to 2 s) until the other has started, so the worker gets one.
  const auto caller = std::this_thread::get_id();
  std::atomic<int> started{0};
  std::atomic<bool> worker_ran{false};
  auto task = [&](std::int64_t) {
    started.fetch_add(1);
    if (std::this_thread::get_id() != caller) {
      worker_ran = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      while (started.load() < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2))
        std::this_thread::yield();
    }
  };
  const std::uint64_t before = pool.stalls(), jobs0 = pool.parallel_jobs(),
                      tasks0 = pool.parallel_job_tasks(), wtasks0 = pool.worker_tasks();
  pool.run(2, 2, task);
  CHECK(pool.parallel_jobs() == jobs0 + 1);
  CHECK(pool.parallel_job_tasks() == tasks0 + 2);
  CHECK(pool.worker_tasks() >= wtasks0 + 1);
  const auto after_stall = std::chrono::steady_clock::now();
  REQUIRE(worker_ran.load());
  CHECK(pool.stalls() == before + 1);
  // Within the back-off (2 ms after a first stall) the next job runs on the caller only.
  std::atomic<int> elsewhere{0};
  auto probe = [&](std::int64_t) {
    if (std::this_thread::get_id() != caller) elsewhere.fetch_add(1);
  };
  pool.run(2, 64, probe);
  CHECK(pool.stalls() == before + 1);
  if (std::chrono::steady_clock::now() - after_stall >= std::chrono::microseconds(1500))
    JACNET_SKIP(
        "this thread was descheduled past the back-off window: the serial check cannot run");
  CHECK(elsewhere.load() == 0);
  CHECK(pool.parallel_jobs() == jobs0 + 1);  // the probe was not handed to workers
}

TEST_CASE("a process ends even when its workers start only after the pool is stopped",
          "[core][threads]") {
#if defined(__SANITIZE_THREAD__)
  JACNET_SKIP("ThreadSanitizer does not support starting threads after a multi-threaded fork");
#endif
  // Regression: a worker that first ran after stop() had bumped the generation took the bumped
  // value as the one it had seen, slept, and the pool's destructor waited for it for ever (a
  // test binary hung at exit in CI). Each child starts 15 workers with a one-task-each job and
  // exits at once; the parent gives every child 20 s.
  for (int round = 0; round < 20; ++round) {
    const auto child = [] { return count_tasks_in_child(16, 16); };
    const int code = exit_code_of_child(child, std::chrono::seconds(20), true);
    INFO("round " << round);
    REQUIRE(code == 0);  // the child ended by itself, every task run
  }
}
