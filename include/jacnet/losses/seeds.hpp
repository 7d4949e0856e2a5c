#pragma once
// jacnet/losses/seeds.hpp — which Jacobian rows a loss term uses: the seed selection policies.
//
// A Jacobian row is sᵀ·∂y/∂x for an output cotangent s (a "seed"). Each policy writes K seed
// rows per sample into columns [col, col + C) of that sample's K x Cs block of the seed matrix
// (C = the output space the rows live in: the teacher's outputs for matching, the student's for
// norms; col shifts them onto the matched student outputs):
//   Full                  e_0, ..., e_{C-1}                      K = C,  scale 1
//   LabelClass            e_{l_b}                                K = 1,  scale 1
//   TeacherTop<k>         e_i of the teacher's k largest logits  K = k,  scale 1
//   RandomProjection<n>   v ~ uniform on S^{C-1}, per sample     K = n,  scale C/n
//   Exact                 = Full (JacobianNorm's name for it)
// `scale(C)` makes the sum over the K rows comparable to the full Jacobian: for v uniform on the
// sphere E[v vᵀ] = I/C, so (C/n) Σ_μ ‖v_μᵀJ‖² is unbiased for ‖J‖²_F. The random draws are
// nn::random_unit (Box–Muller normals on std::mt19937_64 bits, normalized: the same on every
// standard library, and the same draws as nn::seeds_random_unit); top-k is nn's (ties to the
// lower index).
#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/seeds.hpp"

namespace jacnet::losses {

namespace detail {
/// The random draws of jacnet live in nn/seeds.hpp (one module for nn and losses); these are
/// their names here.
inline double normal(std::mt19937_64& rng) { return nn::standard_normal(rng); }
using nn::random_unit;
}  // namespace detail

// Each policy writes K seed rows per sample into columns [col, col + C) of the sample's K x Cs
// block of the seed matrix (C = the output space the rows live in: the teacher's outputs for
// matching, the student's for norms). `scale(C)` is the factor that makes the sum over the K
// rows comparable to the full Jacobian (C/n for random projections: E[v vᵀ] = I/C).

/// All C rows of the Jacobian: seeds e_0, ..., e_{C-1}.
struct Full {
  static constexpr bool uses_labels = false, uses_teacher_outputs = false, random = false;
  static std::string name() { return "Full"; }
  static Index rows(Index C) { return C; }
  static double scale(Index) { return 1.0; }
  template <class T, class Blk>
  static void fill(Blk&& blk, Index col, Index C, Index, std::span<const int>, const Matrix<T>*,
                   std::mt19937_64&) {
    for (Index k = 0; k < C; ++k) blk(k, col + k) = T(1);
  }
};

/// The row of the sample's true label: seed e_{l_b} (labels must lie in [0, C)).
struct LabelClass {
  static constexpr bool uses_labels = true, uses_teacher_outputs = false, random = false;
  static std::string name() { return "LabelClass"; }
  static Index rows(Index) { return 1; }
  static double scale(Index) { return 1.0; }
  template <class T, class Blk>
  static void fill(Blk&& blk, Index col, Index, Index b, std::span<const int> labels,
                   const Matrix<T>*, std::mt19937_64&) {
    blk(0, col + labels[static_cast<std::size_t>(b)]) = T(1);
  }
};

/// The rows of the teacher's k largest outputs (by value, ties to the lower index), largest first.
template <int k>
struct TeacherTop {
  static_assert(k >= 1, "jacnet::losses::TeacherTop<k>: k must be at least 1");
  static constexpr bool uses_labels = false, uses_teacher_outputs = true, random = false;
  static std::string name() { return "TeacherTop<" + std::to_string(k) + ">"; }
  static Index rows(Index) { return k; }
  static double scale(Index) { return 1.0; }
  template <class T, class Blk>
  static void fill(Blk&& blk, Index col, Index C, Index b, std::span<const int>,
                   const Matrix<T>* YT, std::mt19937_64&) {
    std::array<Index, static_cast<std::size_t>(k)> top{};
    nn::detail::top_k_row(C, Index{k}, [&](Index i) { return (*YT)(b, i); }, top.data());
    for (Index j = 0; j < k; ++j) blk(j, col + top[static_cast<std::size_t>(j)]) = T(1);
  }
};

/// n random projections vᵀJ with v uniform on the unit sphere S^{C-1}, drawn afresh per sample
/// and step (shared by teacher and student). Scale C/n makes Σ‖vᵀJ‖² unbiased for ‖J‖²_F.
template <int n>
struct RandomProjection {
  static_assert(n >= 1, "jacnet::losses::RandomProjection<n>: n must be at least 1");
  static constexpr bool uses_labels = false, uses_teacher_outputs = false, random = true;
  static std::string name() { return "RandomProjection<" + std::to_string(n) + ">"; }
  static Index rows(Index) { return n; }
  static double scale(Index C) { return static_cast<double>(C) / n; }
  template <class T, class Blk>
  static void fill(Blk&& blk, Index col, Index C, Index, std::span<const int>, const Matrix<T>*,
                   std::mt19937_64& rng) {
    for (Index j = 0; j < n; ++j) detail::random_unit(rng, blk.row(j).segment(col, C));
  }
};

/// Exact Jacobian norm: all C rows (the same seeds as Full).
struct Exact : Full {
  static std::string name() { return "Exact"; }
};

namespace detail {
template <class P>
concept SeedPolicy = requires(Index C) {
  { P::name() } -> std::convertible_to<std::string>;
  { P::rows(C) } -> std::convertible_to<Index>;
  { P::scale(C) } -> std::convertible_to<double>;
  P::uses_labels;
  P::uses_teacher_outputs;
};
}  // namespace detail

}  // namespace jacnet::losses
