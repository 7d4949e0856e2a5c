#pragma once
// jacnet/losses/batch.hpp — the inputs of one evaluation: Batch(X, labels, teacher).
#include <span>
#include <type_traits>
#include <vector>

#include "jacnet/core/tensor.hpp"

namespace jacnet::losses {

/// Marker: the batch has no teacher.
struct NoTeacher {};

/// The inputs of one evaluation: X (B x D), labels (B, when a term needs them) and a teacher
/// (a net of the same scalar type, or TeacherData<T>). Holds pointers: keep them alive.
///   Batch(X), Batch(X, labels), Batch(X, labels, teacher), Batch(X, teacher)
template <class T, class Teacher = NoTeacher>
struct Batch {
  const Matrix<T>* X = nullptr;
  std::span<const int> labels;
  const Teacher* teacher = nullptr;

  explicit Batch(const Matrix<T>& x, std::span<const int> l = {}) : X(&x), labels(l) {}
  Batch(const Matrix<T>& x, std::span<const int> l, const Teacher& t)
      : X(&x), labels(l), teacher(&t) {}
  Batch(const Matrix<T>& x, const Teacher& t) requires(!std::is_same_v<Teacher, NoTeacher>)
      : X(&x), teacher(&t) {}
};
template <class T>
Batch(const Matrix<T>&) -> Batch<T>;
template <class T>
Batch(const Matrix<T>&, std::span<const int>) -> Batch<T>;
template <class T>
Batch(const Matrix<T>&, const std::vector<int>&) -> Batch<T>;
template <class T, class Tc>
Batch(const Matrix<T>&, std::span<const int>, const Tc&) -> Batch<T, Tc>;
template <class T, class Tc>
Batch(const Matrix<T>&, const std::vector<int>&, const Tc&) -> Batch<T, Tc>;
template <class T, class Tc>
requires(!std::is_convertible_v<const Tc&, std::span<const int>>) Batch(const Matrix<T>&, const Tc&)
->Batch<T, Tc>;

}  // namespace jacnet::losses
