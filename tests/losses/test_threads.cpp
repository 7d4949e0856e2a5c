// Thread-count independence of the loss driver on a conv student with several sample shards
// (nn/execution.hpp): value and gradients bitwise the same for 1, 2 and 3 threads, under
// nn::set_max_threads(1), and when value_and_grad runs inside a user's own OpenMP region.
#include <catch2/catch.hpp>
#include <utility>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/execution.hpp"
#include "support/net_fixture.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("driver: a sharded conv student is bitwise the same for any thread count",
          "[losses][threads]") {
  const Index B = 100;  // 3 shards
  REQUIRE(nn::make_shards(B).count == 3);
  auto student = small_cnn(1, 6, 6, 3, 4, 5, 1);
  auto teacher = small_cnn(1, 6, 6, 2, 3, 5, 2);
  const Matrix<double> X = random_inputs(B, 36, 3);
  const auto labels = random_labels(B, 5, 4);
  const auto loss = CrossEntropy{} + JacobianMatch<Full>{} + JacobianNorm<RandomProjection<1>>{};
  auto step = [&] {
    LossWorkspace<double> ws(7);
    const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
    return std::make_pair(r.value, Vector<double>(r.grad));
  };
  CHECK(step().second.cwiseAbs().maxCoeff() > 0);
  jacnet::testing::check_same_for_any_thread_count(step);
}
