// Tests of nn/execution.hpp and the sharded passes of nn/modes.hpp: the shard split depends on
// the batch size only; every pass gives bitwise the same results for 1, 2 and 3 threads, under
// set_max_threads(1) and when called from inside a user's own OpenMP region; sharded results
// agree with sample-by-sample calls; nets with a layer without row views still work.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "jacnet/core/thread_pool.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/execution.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "support/layer_check.hpp"
#include "support/nets.hpp"
#include "support/skip.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

/// A small conv net (conv, tanh, avgpool, conv, flatten, dense): every lane-tile kernel runs.
template <class S>
auto small_convnet() {
  using namespace nn;
  return Sequential<Conv2d<S>, Tanh<S>, AvgPool2d<S>, Conv2d<S>, Flatten<S>, Dense<S>, Tanh<S>,
                    Dense<S>>(Shape{1, 8, 8}, Conv2d<S>(1, 3, 3, 1, 1), Tanh<S>(), AvgPool2d<S>(2),
                              Conv2d<S>(3, 4, 3), Flatten<S>(), Dense<S>(16, 12), Tanh<S>(),
                              Dense<S>(12, 5));
}

/// Everything a pass computes, for bitwise comparisons.
template <class S>
struct Results {
  Matrix<S> Jr, Jf, Jrows, Xbar, Xbar2;
  Vector<S> g, g2;
  bool operator==(const Results& o) const {
    return Jr == o.Jr && Jf == o.Jf && Jrows == o.Jrows && Xbar == o.Xbar && Xbar2 == o.Xbar2 &&
           g == o.g && g2 == o.g2;
  }
};

template <class Net, class S = typename Net::Scalar>
Results<S> all_passes(const Net& net, const Matrix<S>& X, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Index B = X.rows(), K = net.output_size(), D = net.input_size();
  Results<S> r;
  r.Jr = nn::jacrev(net, X);
  r.Jf = nn::jacfwd(net, X);
  const Matrix<S> seeds = nn::seeds_random_unit<S>(B, 2, K, rng);
  r.Jrows = nn::jacobian_rows(net, X, seeds);
  auto pass = nn::jacobian_pass(net, X, seeds);
  const Matrix<S> Jbar = random_matrix(B * 2, D, rng).cast<S>();
  const Matrix<S> Ybar = random_matrix(B, K, rng).cast<S>();
  nn::backprop(net, pass, Ybar, Jbar, std::span<const Matrix<S>>{}, r.g, &r.Xbar);
  const Matrix<S> U = random_matrix(B * 2, D, rng).cast<S>();
  auto jpass = nn::jvp_pass(net, X, U);
  const Matrix<S> JUbar = random_matrix(B * 2, K, rng).cast<S>();
  nn::backprop(net, jpass, Ybar, JUbar, std::span<const Matrix<S>>{}, r.g2, &r.Xbar2);
  return r;
}

}  // namespace

TEST_CASE("make_shards depends on the batch size only and covers it", "[nn][execution]") {
  for (Index B : {1, 5, 31, 32, 64, 100, 128, 129, 256, 1000, 5000}) {
    const nn::Shards s = nn::make_shards(B);
    CHECK(s.count >= 1);
    CHECK(s.count <= nn::kMaxShards);
    CHECK(s.begin(0) == 0);
    CHECK(s.end(s.count - 1) == B);
    for (Index i = 0; i + 1 < s.count; ++i) CHECK(s.end(i) == s.begin(i + 1));
    for (Index i = 0; i < s.count; ++i) CHECK(s.size(i) >= 1);
  }
  CHECK(nn::make_shards(128).count == 4);
  CHECK(nn::make_shards(31).count == 1);
  CHECK(nn::make_shards(1000).count == 8);
}

TEST_CASE("sharded passes are bitwise the same for any thread count, capped or nested",
          "[nn][execution][threads]") {
#ifdef _OPENMP
  // Every pass with several shards uses threads here, however small (the conv net is below the
  // default kParallelPassWork): tests/support/thread_independence.hpp.
  auto check_net = [](const auto& net, Index B, Index D) {
    using S = typename std::remove_cvref_t<decltype(net)>::Scalar;
    std::mt19937_64 rng(11);
    const Matrix<S> X = random_matrix(B, D, rng).template cast<S>();
    REQUIRE(nn::make_shards(B).count > 1);
    jacnet::testing::check_same_for_any_thread_count([&] { return all_passes(net, X, 5); });
  };
  {
    auto net = wide_mlp<float>();
    net.init(3);
    check_net(net, 100, 300);  // 3 shards of 33-34 samples
  }
  {
    auto net = small_convnet<float>();
    net.init(4);
    check_net(net, 97, 64);
  }
  {
    auto net = small_convnet<double>();
    net.init(5);
    check_net(net, 70, 64);
  }
  nn::set_min_parallel_work(nn::kParallelPassWork);
#else
  JACNET_SKIP("built without OpenMP");
#endif
}

TEST_CASE("sharded passes agree with sample-by-sample calls", "[nn][execution]") {
  auto net = small_convnet<double>();
  net.init(6);
  std::mt19937_64 rng(7);
  const Index B = 90;
  const Mat X = random_matrix(B, 64, rng);
  REQUIRE(nn::make_shards(B).count == 2);
  const Mat J = nn::jacrev(net, X);
  const Mat Ybar = random_matrix(B, 5, rng);
  Vector<double> g, gsum = Vector<double>::Zero(net.num_params()), gb;
  nn::param_gradient(net, X, Ybar, g);
  for (Index b = 0; b < B; ++b) {
    const Mat Jb = nn::jacrev(net, Mat(X.row(b)));
    JACNET_CHECK_CLOSE(Mat(J.middleRows(b * 5, 5)), Jb, 1e-13, "sample rows of jacrev");
    nn::param_gradient(net, Mat(X.row(b)), Mat(Ybar.row(b)), gb);
    gsum += gb;
  }
  JACNET_CHECK_CLOSE(Mat(g.transpose()), Mat(gsum.transpose()), 1e-12,
                     "gradient = sum of per-sample gradients");
}

TEST_CASE("run_pass rethrows a shard's exception on the calling thread", "[nn][execution]") {
  int done = 0;
  auto shard = [&](Index s) {
    if (s == 2) throw ValueError("shard 2");
#pragma omp atomic
    ++done;
  };
  CHECK_THROWS_AS(nn::run_pass(4, shard), ValueError);
  CHECK(done == 3);  // the other shards still ran
}

TEST_CASE("small passes stay on the calling thread, a pass with a reduction below twice the floor too",
          "[nn][execution]") {
  const double saved = nn::min_parallel_work();
  nn::set_min_parallel_work(1000);
  const auto caller = std::this_thread::get_id();
  auto& pool = ThreadPool::instance();
  // Each pass: 4 shards, then (when nreduce > 0) 3 reduction steps; every task must run once
  // and, below the floor, on the calling thread without a job of the pool.
  auto run = [&](Index nreduce, double work) {
    std::vector<std::thread::id> ran(4 + nreduce);
    std::vector<std::atomic<int>> times(4 + nreduce);  // value-initialized: 0
    const std::uint64_t jobs0 = pool.parallel_jobs();
    nn::run_pass(
        4,
        [&](Index s) {
          ran[s] = std::this_thread::get_id();
          ++times[s];
        },
        nreduce,
        [&](Index c) {
          ran[4 + c] = std::this_thread::get_id();
          ++times[4 + c];
        },
        work);
    for (const auto& n : times) CHECK(n.load() == 1);
    return std::pair{pool.parallel_jobs() - jobs0,
                     std::all_of(ran.begin(), ran.end(), [&](auto id) { return id == caller; })};
  };
  {
    const auto [jobs, inline_only] = run(0, 999);  // below the floor
    CHECK(jobs == 0);
    CHECK(inline_only);
  }
  {
    const auto [jobs, inline_only] = run(3, 1500);  // above the floor, below twice it
    CHECK(jobs == 0);
    CHECK(inline_only);
  }
  {
    // Above the floor without a reduction: the pool may be used (whether a worker joins depends
    // on the machine's load and the pool's back-off); every shard still runs exactly once.
    const auto [jobs, inline_only] = run(0, 1500);
    CHECK(jobs <= 1);
    CHECK((jobs == 1 || inline_only));  // no pool job means every task ran on the caller
  }
  nn::set_min_parallel_work(saved);
}
