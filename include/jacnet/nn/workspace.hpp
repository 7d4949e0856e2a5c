#pragma once
// jacnet/nn/workspace.hpp — the reusable buffers of the modes: ModeWorkspace (products and
// Jacobians), JacobianPass / JvpPass (the second-order passes) and their backprop scratch, plus
// the buffer-sizing helpers every mode shares. Pass the same object to repeated calls: no
// allocation once the sizes repeat.
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::nn {

/// Scratch of backprop (kept inside the passes so repeated training steps do not allocate).
template <class T>
struct BackpropScratch {
  std::vector<Matrix<T>> eps;   // tangent (or JVP-mode backward) sweep, per boundary
  std::vector<Matrix<T>> abar;  // reverse sweep adjoints, per boundary
  std::vector<Matrix<T>> xbar;  // second-order adjoints of the activations, per boundary
  Matrix<T> partial;            // parameter-gradient partials of shards 1.. (nn/execution.hpp)
};

/// Reusable buffers of the product/Jacobian modes (pass the same one to repeated calls).
/// (Named apart from losses::LossWorkspace: both namespaces are often used together.)
template <class T>
struct ModeWorkspace {
  Trace<T> trace;
  std::vector<Matrix<T>> dirs;  // directions at each boundary (fixed sizes: no reallocation)
  Matrix<T> seeds;
  std::vector<Index> cls;
  BackpropScratch<T> scratch;
  std::vector<Matrix<T>> fused;  // per shard: rows between a fused pair (nn/fused_sweep.hpp)
};

/// Forward activations plus every boundary's backward quantity of a seeded Jacobian pass.
template <class T>
struct JacobianPass {
  Index batch = 0;  ///< B
  Index M = 0;      ///< seeds per sample
  Trace<T> trace;   ///< trace.acts[l] = a_l
  /// delta[l] (B*M x size(l)) = A_lᵀ…A_{L-1}ᵀ S: delta[L] = seeds, delta[0] = J (B*M x D).
  std::vector<Matrix<T>> delta;
  /// Class of each seed row when every seed is one-hot with value 1 (else empty).
  std::vector<Index> seed_class;
  BackpropScratch<T> scratch;

  const Matrix<T>& J() const { return delta.front(); }
  const Matrix<T>& outputs() const { return trace.acts.back(); }
  const Matrix<T>& activation(std::size_t l) const { return trace.acts.at(l); }
};

/// Forward activations plus the forward tangents of a JVP pass (losses on J·U).
template <class T>
struct JvpPass {
  Index batch = 0;  ///< B
  Index N = 0;      ///< tangent directions per sample
  Trace<T> trace;
  /// eps[l] (B*N x size(l)) = A_{l-1}…A_0 U: eps[0] = U, eps[L] = J·U (B*N x K).
  std::vector<Matrix<T>> eps;
  BackpropScratch<T> scratch;

  const Matrix<T>& JU() const { return eps.back(); }
  const Matrix<T>& outputs() const { return trace.acts.back(); }
  const Matrix<T>& activation(std::size_t l) const { return trace.acts.at(l); }
};
/// Old name of ModeWorkspace (kept for compatibility; ambiguous beside losses::Workspace when both
/// namespaces are used: prefer ModeWorkspace).
template <class T>
using Workspace = ModeWorkspace<T>;

namespace detail {

/// If every row of S is a unit vector e_c (one entry exactly 1, the rest exactly 0), fills cls.
template <class T>
bool onehot_classes(const Matrix<T>& S, std::vector<Index>& cls) {
  cls.resize(static_cast<std::size_t>(S.rows()));
  for (Index r = 0; r < S.rows(); ++r) {
    Index c = -1;
    for (Index j = 0; j < S.cols(); ++j) {
      const T& v = S(r, j);
      if (v == T(0)) continue;
      if (v != T(1) || c >= 0) return false;
      c = j;
    }
    if (c < 0) return false;
    cls[std::size_t(r)] = c;
  }
  return true;
}

/// dst += src, or dst = src when dst is not live yet (same sizes; row views or matrices).
template <class D, class S>
void add_or_set(D&& dst, bool& live, const S& src) {
  if (!live) {
    dst = src;
    live = true;
    return;
  }
  for (Index r = 0; r < dst.rows(); ++r) simd_add(dst.cols(), dst.row(r).data(), src.row(r).data());
}

template <class T>
void check_dirs(const Matrix<T>& M, Index B, Index cols, const char* where, const char* what) {
  JACNET_CHECK(M.cols() == cols && M.rows() % B == 0 && M.rows() > 0, ShapeError, where, what,
               " is ", M.rows(), "x", M.cols(), ", expected (B*M)x", cols, " with B=", B);
}

/// Sizes mats[l] (l in [lo, hi)) to rows x size(l) of the net (no allocation when sizes repeat).
template <class Net, class T>
void size_boundaries(const Net& net, std::vector<Matrix<T>>& mats, Index rows, std::size_t lo,
                     std::size_t hi) {
  if (mats.size() < Net::num_layers + 1) mats.resize(Net::num_layers + 1);
  for (std::size_t l = lo; l < hi; ++l) resize_buffer(mats[l], rows, net.shape(l).size());
}

/// Buffers of a sweep's intermediate boundaries [lo, hi). With row views two flat buffers of
/// rows x max size(l) alternate (boundary l uses buffer l % 2: a sweep only needs its current
/// input and output), so memory does not grow with the depth; without row views one matrix per
/// boundary.
template <class Net, class T>
void size_sweep(const Net& net, std::vector<Matrix<T>>& bufs, Index rows, std::size_t lo,
                std::size_t hi) {
  if constexpr (Net::row_views) {
    Index width = 0;
    for (std::size_t l = lo; l < hi; ++l) width = std::max(width, net.shape(l).size());
    if (bufs.size() < 2) bufs.resize(2);
    for (auto& b : bufs) resize_buffer(b, width > 0 ? rows : 0, width);
  } else {
    size_boundaries(net, bufs, rows, lo, hi);
  }
}
/// Rows [r0, r1) of boundary l of a sweep sized by size_sweep.
template <class Net, class T>
decltype(auto) sweep_rows(const Net& net, std::vector<Matrix<T>>& bufs, std::size_t l, Index r0,
                          Index r1) {
  if constexpr (Net::row_views) {
    Matrix<T>& b = bufs[l % 2];
    return RowsView<T>(b.data() + r0 * b.cols(), r1 - r0, net.shape(l).size());
  } else {
    return (bufs[l]);
  }
}

/// The allocating form of a mode: a fresh workspace and output matrix filled by f(ws, out).
template <class T, class F>
Matrix<T> with_new_workspace(F&& f) {
  ModeWorkspace<T> ws;
  Matrix<T> out;
  f(ws, out);
  return out;
}
/// The allocating form of a pass: a fresh R filled by f(r).
template <class R, class F>
R filled(F&& f) {
  R r;
  f(r);
  return r;
}

}  // namespace detail

}  // namespace jacnet::nn
