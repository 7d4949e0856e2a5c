#pragma once
// The softmax cross-entropy adjoint of the train-step benchmarks (bench_mlp, bench_lenet): the
// backward seed of a forward+backward step, written by hand so the step times nn::backward alone.
#include <cmath>
#include <cstddef>
#include <vector>

#include "jacnet/core/tensor.hpp"

namespace jacnet::bench {

/// Softmax cross-entropy adjoint (softmax(Y) − onehot(label)) / B into Ybar.
template <class T>
void ce_adjoint(const Matrix<T>& Y, const std::vector<Index>& labels, Matrix<T>& Ybar) {
  Ybar.resize(Y.rows(), Y.cols());
  for (Index b = 0; b < Y.rows(); ++b) {
    const T m = Y.row(b).maxCoeff();
    T z = 0;
    for (Index k = 0; k < Y.cols(); ++k) z += (Ybar(b, k) = std::exp(Y(b, k) - m));
    for (Index k = 0; k < Y.cols(); ++k) Ybar(b, k) /= z * T(Y.rows());
    Ybar(b, labels[std::size_t(b)]) -= T(1) / T(Y.rows());
  }
}

}  // namespace jacnet::bench
