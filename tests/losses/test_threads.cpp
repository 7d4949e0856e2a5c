// Thread-count independence of the loss driver on a conv student with several sample shards
// (nn/execution.hpp): value and gradients bitwise the same for 1, 2 and 3 threads, under
// nn::set_max_threads(1), and when value_and_grad runs inside a user's own OpenMP region.
#include <catch2/catch.hpp>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/execution.hpp"
#include "net_fixture.hpp"
#include "support/skip.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("driver: a sharded conv student is bitwise the same for any thread count",
          "[losses][threads]") {
#ifdef _OPENMP
  const Index B = 100;  // 3 shards
  REQUIRE(nn::make_shards(B).count == 3);
  auto student = small_cnn(1, 6, 6, 3, 4, 5, 1);
  auto teacher = small_cnn(1, 6, 6, 2, 3, 5, 2);
  const Matrix<double> X = random_inputs(B, 36, 3);
  const auto labels = random_labels(B, 5, 4);
  const auto loss = CrossEntropy{} + JacobianMatch<Full>{} + JacobianNorm<RandomProjection<1>>{};
  auto step = [&] {
    Workspace<double> ws(7);
    const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
    return std::make_pair(r.value, Vector<double>(r.grad));
  };
  nn::set_min_parallel_work(0);  // this small student would otherwise run every pass serially
  const int saved = omp_get_max_threads();
  std::pair<double, Vector<double>> r[3];
  for (int t = 0; t < 3; ++t) {
    omp_set_num_threads(t + 1);
    r[t] = step();
  }
  omp_set_num_threads(2);
  nn::set_max_threads(1);
  auto capped = step();
  nn::set_max_threads(0);
  std::pair<double, Vector<double>> nested[2];
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
    if (t < 2) nested[t] = step();
  }
  omp_set_num_threads(saved);
  nn::set_min_parallel_work(nn::kParallelPassWork);
  for (const auto* o : {&r[1], &r[2], &capped, &nested[0], &nested[1]}) {
    CHECK(o->first == r[0].first);
    CHECK(o->second == r[0].second);
  }
  CHECK(r[0].second.cwiseAbs().maxCoeff() > 0);
#else
  JACNET_SKIP("built without OpenMP");
#endif
}
