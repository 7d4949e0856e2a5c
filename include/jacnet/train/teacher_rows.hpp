#pragma once
// jacnet/train/teacher_rows.hpp — the rows of a recorded teacher (losses::TeacherData on the whole
// training set) for one mini-batch, gathered by train::fit.
#include <span>

#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/teacher.hpp"
#include "jacnet/train/batches.hpp"

namespace jacnet::train {

/// out ← the rows of a whole-data-set TeacherData for the samples idx (outputs, Jacobian blocks
/// of R rows per sample — all Ct, or those record_for kept, with their row indices — recorded
/// activations); buffers are reused across calls.
template <class T>
void gather_teacher(const losses::TeacherData<T>& all, std::span<const Index> idx,
                    losses::TeacherData<T>& out) {
  gather_rows(all.outputs, idx, out.outputs);
  const Index N = all.outputs.rows(), R = all.jacobian_rows_per_sample();
  const auto B = static_cast<Index>(idx.size());
  if (all.jacobian.size() > 0) {
    JACNET_CHECK(all.jacobian.rows() == N * R &&
                     (all.jacobian_rows.empty() ||
                      static_cast<Index>(all.jacobian_rows.size()) == N * R),
                 ShapeError, "train::gather_teacher", "TeacherData::jacobian has ",
                 all.jacobian.rows(), " rows (", all.jacobian_rows.size(),
                 " row indices), expected N*R = ", N * R);
    if (out.jacobian.rows() != B * R || out.jacobian.cols() != all.jacobian.cols())
      out.jacobian.resize(B * R, all.jacobian.cols());
    for (Index r = 0; r < B; ++r)
      out.jacobian.middleRows(r * R, R) =
          all.jacobian.middleRows(idx[static_cast<std::size_t>(r)] * R, R);
  } else if (out.jacobian.size() > 0) {
    out.jacobian.resize(0, 0);
  }
  if (all.jacobian.size() > 0 && !all.jacobian_rows.empty()) {
    out.jacobian_rows.resize(static_cast<std::size_t>(B * R));
    for (Index r = 0; r < B; ++r)
      std::copy_n(all.jacobian_rows.begin() + idx[static_cast<std::size_t>(r)] * R, R,
                  out.jacobian_rows.begin() + r * R);
  } else {
    out.jacobian_rows.clear();
  }
  out.activations.resize(all.activations.size());
  for (std::size_t l = 0; l < all.activations.size(); ++l) {
    if (all.activations[l].size() > 0) {
      JACNET_CHECK(all.activations[l].rows() == N, ShapeError, "train::gather_teacher",
                   "TeacherData::activations[", l, "] has ", all.activations[l].rows(),
                   " rows, the outputs have ", N);
      gather_rows(all.activations[l], idx, out.activations[l]);
    } else if (out.activations[l].size() > 0) {
      out.activations[l].resize(0, 0);
    }
  }
  if (out.shapes != all.shapes) out.shapes = all.shapes;
}

}  // namespace jacnet::train
