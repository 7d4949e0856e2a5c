#pragma once
// jacnet/nn/fused_sweep.hpp — a reverse sweep's row-local layer and the activation before it,
// run a few samples at a time so the cotangents between them stay in cache.
//
// In a seeded backward sweep (the Jacobian rows: nn::jacrev, nn::vjp, nn::jacobian_pass) a
// pooling layer J writes B·M cotangent rows of boundary J, and the activation J−1 before it reads
// them back at once to multiply each by σ'(X_b). On LeNet-5 (M = 10, boundary 6×28×28) those
// rows are 24 MB per batch: the two layers were two streaming passes through memory. Both are
// row-local (`RowLocal`: a cotangent row r depends on input row r and its sample's activations
// only), so the sweep runs them back to back on G samples at a time, G·M rows of at most
// kFusedBytes, and the activation reads rows still in cache. Each row gets the same operations in
// the same order as layer by layer: the results are bitwise the same (tests/nn/test_fused_sweep.cpp).
//
// Where boundary J is not kept (nn::jacrev, nn::vjp: two alternating buffers) the G·M rows go to
// a small per-shard scratch instead of memory; nn::jacobian_pass keeps boundary J (the second-
// order sweep reads it) and only gains the cache reuse.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/kernels/rows.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::nn::detail {

/// Bytes of one group of cotangent rows between a fused pair: chosen so that the rows, the
/// activations of the group and the output rows fit in a 512 KB L2 together (a quarter of it;
/// Zen 4's L2 is 1 MB per core). Not tuned beyond that (docs/execution.md).
inline constexpr std::size_t kFusedBytes = std::size_t(128) << 10;

/// True when a reverse sweep fuses layer J (row-local) with the activation J − 1 before it:
/// the net takes row views and J is not the last layer (whose input is the seeds).
template <class Net, std::size_t J>
constexpr bool fuses_with_activation() {
  if constexpr (!Net::row_views || J == 0 || J + 1 >= Net::num_layers) {
    return false;
  } else {
    return RowLocal<typename Net::template layer_type<J>> &&
           ActivationLayer<typename Net::template layer_type<J - 1>>;
  }
}

/// Samples per group of a fused pair whose boundary holds `width` values per row, M rows per
/// sample (at least 1).
template <class T>
Index fused_group(Index M, Index width) {
  const auto row_bytes = std::size_t(M) * std::size_t(width) * sizeof(T);
  return row_bytes == 0 ? 1 : std::max<Index>(1, Index(kFusedBytes / row_bytes));
}

/// Values of the per-shard scratch the fused pairs of Net need for M rows per sample (0: none).
template <class T, class Net>
Index fused_scratch_size(const Net& net, Index M) {
  Index n = 0;
  net.for_each_layer([&](auto J, const auto&) {
    if constexpr (fuses_with_activation<Net, J>()) {
      const Index w = net.shape(J).size();
      n = std::max(n, fused_group<T>(M, w) * M * w);
    }
  });
  return n;
}

/// One scratch buffer of at least `values` values per shard; buffers only grow, so calls that
/// alternate between sizes (M = 10 and M = 1 on one workspace) do not reallocate.
template <class T>
void size_fused_scratch(std::vector<Matrix<T>>& bufs, Index shards, Index values) {
  if (values == 0) return;
  if (bufs.size() < std::size_t(shards)) bufs.resize(std::size_t(shards));
  for (auto& b : bufs)
    if (b.size() < values) resize_buffer(b, 1, values);
}

/// Runs layer J = A + 1 (row-local) and activation A of a reverse sweep on samples [b0, b1) of a
/// shard, G samples at a time. `src(r0, r1)`, `mid(r0, r1)` and `dst(r0, r1)` give rows of the
/// cotangents at boundaries A + 2 (layer J's input), A + 1 (between the two) and A.
///
/// src and dst may share storage (nn::jacrev's two alternating buffers: boundaries A and A + 2
/// are the same buffer, each packed from the shard's start at its own width). A group reads all
/// its src rows (into mid) before it writes its dst rows, and the groups run in the order that
/// never writes over src rows of a group still to come: last to first when dst rows are at least
/// as wide as src rows (pooling: dst rows of groups ≥ g start at or after src rows of groups < g
/// end), first to last otherwise.
template <std::size_t A, class Net, class T, class Src, class Mid, class Dst>
void fused_vjp(const Net& net, const Trace<T>& trace, Index M, Index b0, Index b1, Src&& src,
               Mid&& mid, Dst&& dst) {
  const auto& act = net.template layer<A>();
  const auto& next = net.template layer<A + 1>();
  const Index G = fused_group<T>(M, net.shape(A + 1).size());
  const bool backwards = net.shape(A).size() >= net.shape(A + 2).size();
  const Index groups = (b1 - b0 + G - 1) / G;
  for (Index i = 0; i < groups; ++i) {
    const Index g0 = b0 + (backwards ? groups - 1 - i : i) * G, g1 = std::min(b1, g0 + G);
    auto m = mid(g0 * M, g1 * M);
    next.vjp(net.block(A + 1), row_block(trace.acts[A + 1], g0, g1),
             row_block(trace.acts[A + 2], g0, g1), src(g0 * M, g1 * M), m);
    act.vjp(net.block(A), row_block(trace.acts[A], g0, g1), row_block(trace.acts[A + 1], g0, g1),
            std::as_const(m), dst(g0 * M, g1 * M));
  }
}

}  // namespace jacnet::nn::detail
