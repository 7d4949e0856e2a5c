#pragma once
// jacnet/core/tensor.hpp — batch-major buffers viewed through Eigen.
//
// A batch of B samples whose per-sample features have shape `Shape` (e.g. {D} or {C, H, W}, NCHW)
// is a row-major Eigen matrix with B rows and shape.size() columns: sample b is the contiguous row
// b. When K directions (tangents, cotangents, Jacobian rows) travel per sample, the matrix has B*K
// rows ordered [sample][direction]: row b*K + k. Per-sample Jacobians [B x K x D] are therefore one
// (B*K) x D row-major matrix; `sample_block` views sample b's K x D block without copying.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core>
#include <cstddef>
#include <initializer_list>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "jacnet/core/error.hpp"

namespace jacnet {

using Index = Eigen::Index;

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using VectorMap = Eigen::Map<Vector<T>>;
template <class T>
using ConstVectorMap = Eigen::Map<const Vector<T>>;

/// Per-sample feature shape: {D} for vectors, {C, H, W} for images (NCHW without the N).
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<Index> dims) : dims_(dims) { validate(); }
  explicit Shape(std::vector<Index> dims) : dims_(std::move(dims)) { validate(); }

  Index rank() const { return static_cast<Index>(dims_.size()); }
  Index operator[](Index i) const { return dims_[static_cast<std::size_t>(i)]; }
  const std::vector<Index>& dims() const { return dims_; }
  /// Number of scalars per sample (1 for rank 0).
  Index size() const {
    return std::accumulate(dims_.begin(), dims_.end(), Index{1}, std::multiplies<>());
  }
  bool operator==(const Shape&) const = default;

  std::string str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      if (i) s += 'x';
      s += std::to_string(dims_[i]);
    }
    s += ']';
    return s;
  }

 private:
  void validate() const {
    for (Index d : dims_)
      JACNET_CHECK(d > 0, ShapeError, "Shape", "dimension ", d, " is not positive");
  }
  std::vector<Index> dims_;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

/// Sample b's K x D block of a (B*K) x D matrix of per-sample rows (Jacobians, tangents, ...).
template <class Derived>
auto sample_block(Eigen::MatrixBase<Derived>& m, Index b, Index K) {
  return m.middleRows(b * K, K);
}
template <class Derived>
auto sample_block(const Eigen::MatrixBase<Derived>& m, Index b, Index K) {
  return m.middleRows(b * K, K);
}

}  // namespace jacnet
