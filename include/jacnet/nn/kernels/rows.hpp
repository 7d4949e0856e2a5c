#pragma once
// jacnet/nn/kernels/rows.hpp — row views: the shards of a pass see contiguous rows of the batch
// matrices (row-major storage) without copies.
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

// ---- row views (the shards of a pass) -------------------------------------------------------
/// A matrix view of contiguous row-major storage (a shard's rows of a batch matrix).
template <class T>
using RowsView = Eigen::Map<Matrix<T>>;
template <class T>
using ConstRowsView = Eigen::Map<const Matrix<T>>;

/// Rows [r0, r1) of a row-major matrix, as a view (no copy).
template <class T>
RowsView<T> row_block(Matrix<T>& M, Index r0, Index r1) {
  return {M.data() + r0 * M.cols(), r1 - r0, M.cols()};
}
template <class T>
ConstRowsView<T> row_block(const Matrix<T>& M, Index r0, Index r1) {
  return {M.data() + r0 * M.cols(), r1 - r0, M.cols()};
}

}  // namespace jacnet::nn
