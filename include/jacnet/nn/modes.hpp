#pragma once
// jacnet/nn/modes.hpp — net-level differentiation: products, per-sample Jacobians, parameter
// gradients, and the second-order pass behind Jacobian losses.
//
// Notation: net y = f_{L-1}∘…∘f_0(x), boundary l holds activation a_l (a_0 = X, a_L = Y), A_l the
// per-sample Jacobian of layer l. B samples, D = input size, K = output size. Direction matrices
// have B*M rows ordered [sample][direction] (row b*M+m). Per-sample Jacobians are (B*K) x D with
// row b*K+k = ∂y_k/∂x of sample b.
//
// clang-format off
// ---- exact signatures (T = Net::Scalar; every `ws`/`pass` overload reuses memory) -------------
//   Matrix<T> jvp(net, X, U)                  U: B*M x D → B*M x K (forward mode)
//   Matrix<T> vjp(net, X, V)                  V: B*M x K → B*M x D (reverse mode)
//   Matrix<T> jacrev(net, X)                  (B*K) x D: one reverse sweep of K one-hot seeds
//   Matrix<T> jacfwd(net, X)                  (B*K) x D: one forward sweep of D identity tangents
//   Matrix<T> jacobian(net, X)                jacrev if K ≤ D, else jacfwd
//   Matrix<T> jacobian_rows(net, X, seeds)    seeds B*M x K → B*M x D (rows sᵀJ_b)
//   (each also as f(net, X, [U|V|seeds,] Workspace<T>& ws, Matrix<T>& out): no allocation)
//   seeds_full<T>(B, K), seeds_label<T>(labels, K), seeds_top_k(Yother, k, by_magnitude),
//   top_k_indices(Y, k, by_magnitude), seeds_random_unit<T>(B, M, K, rng)
//   void param_gradient(net, X, Ybar, grads, [ws,] Xbar* = nullptr)   grads = dL/dθ for Ybar = dL/dY
//   void backward(net, trace, Ybar, grads, ws, Xbar* = nullptr, act_bars = {})
//                                             the same from an existing forward trace
//   void jacobian_pass(net, X, seeds, JacobianPass<T>& pass)    forward + seeded backward
//   void backprop(net, JacobianPass<T>& pass, Ybar, Jbar, act_bars, Vector<T>& grads,
//                 Matrix<T>* Xbar = nullptr)
//   void jvp_pass(net, X, U, JvpPass<T>& pass)                  forward + tangent sweep (J·U)
//   void backprop(net, JvpPass<T>& pass, Ybar, JUbar, act_bars, grads, Xbar = nullptr)
// clang-format on
// In backprop: Ybar (B x K), Jbar (B*M x D) / JUbar (B*N x K) may be EMPTY matrices (= zero);
// act_bars is empty or holds L+1 matrices, act_bars[l] = ∂L/∂a_l (B x size(l)) or empty (= zero);
// grads is resized to net.num_params() and OVERWRITTEN with dL/dθ; *Xbar (if given) is
// overwritten with dL/dX (B x D). All matrices are Matrix<T> (row-major).
//
// ---- the second-order rule (docs/design.md "Why this second-order form") ---------------------
// Jacobian pass: δ_L = S (seeds), δ_l = A_lᵀ δ_{l+1}, J = δ_0. For a loss L(Y, J, a_l):
//   tangent sweep  ε_0 = J̄, ε_{l+1} = A_l ε_l (= jvp_l)     — the adjoint of the linear map S ↦ J
//   per layer      second_order_l(Ein = ε_l, Dout = δ_{l+1}): θ̄_l += ∂/∂θ Σ<δ_{l+1}, A_l ε_l>,
//                                                           ā_l  += ∂/∂a_l of the same
//   reverse sweep  ā_L = Ȳ + act_bars[L];  θ̄_l += param_grad_l(ā_{l+1});
//                  ā_l = vjp_l(ā_{l+1}) + (second-order ā_l) + act_bars[l];   X̄ = ā_0.
// Cost ≈ forward + M backward + M tangent + M second-order + 1 reverse ≈ (2 + 3M) passes.
// JVP mode (losses on J·U): ε_l = stored forward tangents, δ_L = J̄U, δ_l = A_lᵀ δ_{l+1}: same rule.
#include <algorithm>
#include <cmath>
#include <utility>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::nn {

template <class Net>
using net_scalar_t = typename Net::Scalar;
/// Matrix of the net's scalar (a non-deduced parameter type: Eigen expressions convert to it).
template <class Net>
using NetMatrix = Matrix<typename Net::Scalar>;

/// Scratch of backprop (kept inside the passes so repeated training steps do not allocate).
template <class T>
struct BackpropScratch {
  std::vector<Matrix<T>> eps;   // tangent (or JVP-mode backward) sweep, per boundary
  std::vector<Matrix<T>> abar;  // reverse sweep adjoints, per boundary
  std::vector<Matrix<T>> xbar;  // second-order adjoints of the activations, per boundary
  Matrix<T> partial;            // parameter-gradient partials of shards 1.. (nn/execution.hpp)
};

/// Reusable buffers of the product/Jacobian modes (pass the same one to repeated calls).
template <class T>
struct Workspace {
  Trace<T> trace;
  std::vector<Matrix<T>> dirs;  // directions at each boundary (fixed sizes: no reallocation)
  Matrix<T> seeds;
  std::vector<Index> cls;
  BackpropScratch<T> scratch;
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

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// B*K x K: every sample gets the K unit vectors (the full Jacobian).
template <class T>
Matrix<T> seeds_full(Index B, Index K) {
  JACNET_CHECK(B > 0 && K > 0, ValueError, "nn::seeds_full", "B=", B, " K=", K);
  Matrix<T> S = Matrix<T>::Zero(B * K, K);
  for (Index b = 0; b < B; ++b)
    for (Index k = 0; k < K; ++k) S(b * K + k, k) = T(1);
  return S;
}

/// B x K: row b = e_{labels[b]} (the Jacobian row of the label class).
template <class T>
Matrix<T> seeds_label(std::span<const Index> labels, Index K) {
  JACNET_CHECK(!labels.empty() && K > 0, ValueError, "nn::seeds_label", labels.size(),
               " labels, K=", K);
  Matrix<T> S = Matrix<T>::Zero(Index(labels.size()), K);
  for (std::size_t b = 0; b < labels.size(); ++b) {
    JACNET_CHECK(labels[b] >= 0 && labels[b] < K, ValueError, "nn::seeds_label", "label ",
                 labels[b], " of sample ", b, " outside [0, ", K, ")");
    S(Index(b), labels[b]) = T(1);
  }
  return S;
}

/// Indices of the k largest entries of each row of Y (by value, or by |value|), largest first;
/// ties go to the lower index. B*k entries, row-major.
template <class T>
std::vector<Index> top_k_indices(const Matrix<T>& Y, Index k, bool by_magnitude = false) {
  JACNET_CHECK(k >= 1 && k <= Y.cols(), ValueError, "nn::top_k_indices", "k=", k,
               " must be in [1, ", Y.cols(), "]");
  std::vector<Index> out(static_cast<std::size_t>(Y.rows() * k));
  std::vector<Index> idx(static_cast<std::size_t>(Y.cols()));
  for (Index b = 0; b < Y.rows(); ++b) {
    std::iota(idx.begin(), idx.end(), Index{0});
    auto key = [&](Index j) {
      const double v = double(value_of(Y(b, j)));
      return by_magnitude ? std::abs(v) : v;
    };
    std::stable_sort(idx.begin(), idx.end(), [&](Index i, Index j) { return key(i) > key(j); });
    std::copy_n(idx.begin(), k, out.begin() + b * k);
  }
  return out;
}

/// B*k x K: for each sample the unit vectors of the k largest outputs of another net's outputs
/// Yother (B x K), e.g. a teacher's logits (by value) or the paper's "largest magnitude" output.
template <class T>
Matrix<T> seeds_top_k(const Matrix<T>& Yother, Index k, bool by_magnitude = false) {
  const auto idx = top_k_indices(Yother, k, by_magnitude);
  Matrix<T> S = Matrix<T>::Zero(Yother.rows() * k, Yother.cols());
  for (Index r = 0; r < S.rows(); ++r) S(r, idx[std::size_t(r)]) = T(1);
  return S;
}

/// B*M x K: independent uniform directions on the unit sphere S^{K-1} (normalized Gaussians),
/// drawn from rng (random projections vᵀJ; Hoffman et al. 2019).
template <class T>
Matrix<T> seeds_random_unit(Index B, Index M, Index K, std::mt19937_64& rng) {
  JACNET_CHECK(B > 0 && M > 0 && K > 0, ValueError, "nn::seeds_random_unit", "B=", B, " M=", M,
               " K=", K);
  std::normal_distribution<double> nd(0.0, 1.0);
  Matrix<T> S(B * M, K);
  std::vector<double> v(static_cast<std::size_t>(K));
  for (Index r = 0; r < B * M; ++r) {
    double n2 = 0;
    do {
      n2 = 0;
      for (auto& x : v) {
        x = nd(rng);
        n2 += x * x;
      }
    } while (n2 == 0);
    const double inv = 1.0 / std::sqrt(n2);
    for (Index k = 0; k < K; ++k) S(r, k) = T(v[std::size_t(k)] * inv);
  }
  return S;
}

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
  for (std::size_t l = lo; l < hi; ++l) mats[l].resize(rows, net.shape(l).size());
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
    for (auto& b : bufs) b.resize(width > 0 ? rows : 0, width);
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

/// Parameter-gradient partials of a pass over `sh`: shard 0 accumulates into grads itself,
/// shard s > 0 into row s−1 of `partial`; the reduction adds them in shard order, chunk by chunk
/// of the parameter vector (a fixed order: bitwise the same for any thread count).
template <class T>
struct GradShards {
  static constexpr Index kChunk = 4096;
  Vector<T>* grads;
  Matrix<T>* partial;
  Index np, count;
  GradShards(Vector<T>& g, Matrix<T>& part, Index num_params, Index shards)
      : grads(&g), partial(&part), np(num_params), count(shards) {
    grads->setZero(np);
    if (count > 1) partial->resize(count - 1, np);
  }
  /// The gradient block of shard s (zeroed here for s > 0).
  T* begin_shard(Index s) const {
    if (s == 0) return grads->data();
    T* p = partial->row(s - 1).data();
    std::fill(p, p + np, T(0));
    return p;
  }
  Index chunks() const { return count > 1 ? (np + kChunk - 1) / kChunk : 0; }
  void reduce(Index c) const {
    const Index i0 = c * kChunk, n = std::min(kChunk, np - i0);
    for (Index s = 1; s < count; ++s) simd_add(n, grads->data() + i0, partial->row(s - 1).data() + i0);
  }
};

/// Reverse sweep of samples [b0, b1) from boundary L (adjoint `top`, B rows, or null/empty =
/// zero) with extra adjoints per boundary (act_bars, second-order xbar). g is the shard's
/// gradient block (accumulated into). s.abar must be sized (B x size(l)) by the caller; Xbar
/// (if given) B x D.
template <class Net, class T>
void reverse_sweep_rows(const Net& net, const Trace<T>& tr, const Matrix<T>* top,
                        std::span<const Matrix<T>> act_bars, const std::vector<Matrix<T>>* xbar,
                        T* g, Matrix<T>* Xbar, BackpropScratch<T>& s, Index b0, Index b1) {
  constexpr std::size_t L = Net::num_layers;
  auto R = [&](auto& m) -> decltype(auto) { return Net::rows(m, b0, b1); };
  auto extra = [&](std::size_t l, auto&& dst, bool& live) {
    if (l < act_bars.size() && act_bars[l].size() > 0) add_or_set(dst, live, R(act_bars[l]));
    if (xbar && (*xbar)[l].size() > 0) add_or_set(dst, live, R(std::as_const((*xbar)[l])));
  };
  bool live = false;
  if (top && top->size() > 0) add_or_set(R(s.abar[L]), live, R(*top));
  extra(L, R(s.abar[L]), live);
  net.for_each_layer_reverse([&](auto I, const auto& layer) {
    const Matrix<T>& x = tr.acts[I];
    const Matrix<T>& y = tr.acts[I + 1];
    if (live)
      layer.param_grad(net.block(I), R(x), R(y), R(std::as_const(s.abar[I + 1])),
                       g + net.param_offset(I));
    const bool need_below = I > 0 || Xbar != nullptr;
    if (!need_below) return;
    bool nlive = false;
    if (live) {
      layer.vjp(net.block(I), R(x), R(y), R(std::as_const(s.abar[I + 1])), R(s.abar[I]));
      nlive = true;
    }
    extra(I, R(s.abar[I]), nlive);
    live = nlive;
  });
  if (Xbar) {
    if (live)
      R(*Xbar) = R(std::as_const(s.abar[0]));
    else
      R(*Xbar).setZero();
  }
}

/// Checks act_bars against the trace (sizes) before a pass.
template <class Net, class T>
void check_act_bars(const Net& net, const Trace<T>& tr, std::span<const Matrix<T>> act_bars) {
  const Index B = tr.batch();
  for (std::size_t l = 0; l < act_bars.size() && l <= Net::num_layers; ++l)
    if (act_bars[l].size() > 0)
      JACNET_CHECK(act_bars[l].rows() == B && act_bars[l].cols() == net.shape(l).size(),
                   ShapeError, "nn::backprop", "act_bars[", l, "] is ", act_bars[l].rows(), "x",
                   act_bars[l].cols(), ", boundary ", l, " is ", B, "x", net.shape(l).size());
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

/// out = J·U per sample: U is B*M x D (M tangents per sample), out B*M x K. Forward mode.
/// One pass: each shard runs its forward and its tangent sweep.
template <class Net, class T = net_scalar_t<Net>>
void jvp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& U, Workspace<T>& ws,
         Matrix<T>& out) {
  constexpr std::size_t L = Net::num_layers;
  net.check_input(X, "nn::jvp");
  detail::check_dirs(U, X.rows(), net.input_size(), "nn::jvp", "tangents U");
  const Index B = X.rows(), M = U.rows() / B;
  net.prepare_trace(X, ws.trace);
  detail::size_sweep(net, ws.dirs, B * M, 1, L);
  out.resize(B * M, net.output_size());
  const Shards sh = net.shards(B);
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    net.forward_rows(X, ws.trace, b0, b1);
    auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
    auto D = [&](std::size_t l) -> decltype(auto) {
      return detail::sweep_rows(net, ws.dirs, l, b0 * M, b1 * M);
    };
    net.for_each_layer([&](auto I, const auto& layer) {
      auto x = R(std::as_const(ws.trace.acts[I]), 1);
      auto y = R(std::as_const(ws.trace.acts[I + 1]), 1);
      if constexpr (I == 0 && I + 1 == L)
        layer.jvp(net.block(I), x, y, R(U, M), R(out, M));
      else if constexpr (I == 0)
        layer.jvp(net.block(I), x, y, R(U, M), D(1));
      else if constexpr (I + 1 == L)
        layer.jvp(net.block(I), x, y, D(I), R(out, M));
      else
        layer.jvp(net.block(I), x, y, D(I), D(I + 1));
    });
  }, net.pass_work(B, double(1 + M)));
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jvp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& U) {
  Workspace<T> ws;
  Matrix<T> out;
  jvp(net, X, U, ws, out);
  return out;
}

namespace detail {
/// Forward and reverse sweep of directions from boundary L to 0 in one pass. Seeds given
/// densely (S, B*M x K) or as one-hot classes (cls, M per sample; the last layer's vjp_onehot
/// fast path when it has one, else ws.seeds is materialized first).
template <class Net, class T>
void reverse_directions(const Net& net, const Matrix<T>& X, const Matrix<T>* S,
                        const std::vector<Index>* cls, Index M, Workspace<T>& ws, Matrix<T>& out) {
  constexpr std::size_t L = Net::num_layers;
  using Last = typename Net::template layer_type<L - 1>;
  constexpr bool onehot_fast = Net::row_views ? OneHotVjpView<Last> : OneHotVjp<Last>;
  const Index B = X.rows();
  net.prepare_trace(X, ws.trace);
  if (S == nullptr && !onehot_fast) {  // one-hot seeds, no fast path: materialize them
    ws.seeds.setZero(B * M, net.output_size());
    for (Index r = 0; r < ws.seeds.rows(); ++r) ws.seeds(r, (*cls)[std::size_t(r)]) = T(1);
    S = &ws.seeds;
  }
  const bool use_cls = cls != nullptr && onehot_fast;
  detail::size_sweep(net, ws.dirs, B * M, 1, L);
  out.resize(B * M, net.input_size());
  const Shards sh = net.shards(B);
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    net.forward_rows(X, ws.trace, b0, b1);
    auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
    auto D = [&](std::size_t l) -> decltype(auto) {
      return detail::sweep_rows(net, ws.dirs, l, b0 * M, b1 * M);
    };
    // dst of layer I: boundary I (J itself for I = 0); src: boundary I + 1 (the seeds for L−1)
    auto dst = [&](auto I) -> decltype(auto) {
      if constexpr (I == 0)
        return R(out, M);
      else
        return D(I);
    };
    net.for_each_layer_reverse([&](auto I, const auto& layer) {
      auto x = R(std::as_const(ws.trace.acts[I]), 1);
      auto y = R(std::as_const(ws.trace.acts[I + 1]), 1);
      if constexpr (I + 1 == L) {
        if constexpr (onehot_fast) {
          if (use_cls) {
            layer.vjp_onehot(net.block(I), x, y, cls->data() + b0 * M, M, dst(I));
            return;
          }
        }
        layer.vjp(net.block(I), x, y, R(*S, M), dst(I));
      } else {
        layer.vjp(net.block(I), x, y, D(I + 1), dst(I));
      }
    });
  }, net.pass_work(B, double(1 + M)));
}
}  // namespace detail

/// out = Vᵀ·J per sample: V is B*M x K, out B*M x D. Reverse mode.
template <class Net, class T = net_scalar_t<Net>>
void vjp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& V, Workspace<T>& ws,
         Matrix<T>& out) {
  net.check_input(X, "nn::vjp");
  detail::check_dirs(V, X.rows(), net.output_size(), "nn::vjp", "cotangents V");
  detail::reverse_directions<Net, T>(net, X, &V, nullptr, V.rows() / X.rows(), ws, out);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> vjp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& V) {
  Workspace<T> ws;
  Matrix<T> out;
  vjp(net, X, V, ws, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Jacobians
// ---------------------------------------------------------------------------------------------

/// Selected Jacobian rows: seeds B*M x K, J (B*M x D) row b*M+m = seeds_{bm}ᵀ ∂y/∂x (sample b).
/// One-hot seeds take the copy-instead-of-GEMM fast path of the last layer.
template <class Net, class T = net_scalar_t<Net>>
void jacobian_rows(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& seeds,
                   Workspace<T>& ws, Matrix<T>& J) {
  net.check_input(X, "nn::jacobian_rows");
  detail::check_dirs(seeds, X.rows(), net.output_size(), "nn::jacobian_rows", "seeds");
  const Index M = seeds.rows() / X.rows();
  if (detail::onehot_classes(seeds, ws.cls))
    detail::reverse_directions<Net, T>(net, X, &seeds, &ws.cls, M, ws, J);
  else
    detail::reverse_directions<Net, T>(net, X, &seeds, nullptr, M, ws, J);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacobian_rows(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& seeds) {
  Workspace<T> ws;
  Matrix<T> J;
  jacobian_rows(net, X, seeds, ws, J);
  return J;
}

/// Full per-sample Jacobians by reverse mode: K one-hot seeds per sample, (B*K) x D.
template <class Net, class T = net_scalar_t<Net>>
void jacrev(const Net& net, const NetMatrix<Net>& X, Workspace<T>& ws, Matrix<T>& J) {
  net.check_input(X, "nn::jacrev");
  const Index B = X.rows(), K = net.output_size();
  ws.cls.resize(std::size_t(B * K));
  for (Index r = 0; r < B * K; ++r) ws.cls[std::size_t(r)] = r % K;
  detail::reverse_directions<Net, T>(net, X, static_cast<const Matrix<T>*>(nullptr), &ws.cls, K,
                                     ws, J);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacrev(const Net& net, const NetMatrix<Net>& X) {
  Workspace<T> ws;
  Matrix<T> J;
  jacrev(net, X, ws, J);
  return J;
}

/// Full per-sample Jacobians by forward mode: D identity tangents per sample, then a per-sample
/// transpose of the (B*D) x K result into (B*K) x D.
template <class Net, class T = net_scalar_t<Net>>
void jacfwd(const Net& net, const NetMatrix<Net>& X, Workspace<T>& ws, Matrix<T>& J) {
  constexpr std::size_t L = Net::num_layers;
  using First = typename Net::template layer_type<0>;
  constexpr bool identity_fast = Net::row_views ? IdentityJvpView<First> : IdentityJvp<First>;
  net.check_input(X, "nn::jacfwd");
  const Index B = X.rows(), D = net.input_size(), K = net.output_size();
  net.prepare_trace(X, ws.trace);
  if constexpr (!identity_fast) {
    ws.seeds.setZero(B * D, D);
    for (Index b = 0; b < B; ++b) ws.seeds.middleRows(b * D, D).setIdentity();
  }
  detail::size_sweep(net, ws.dirs, B * D, 1, L + 1);
  J.resize(B * K, D);
  const Shards sh = net.shards(B);
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    net.forward_rows(X, ws.trace, b0, b1);
    auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
    auto Dr = [&](std::size_t l) -> decltype(auto) {
      return detail::sweep_rows(net, ws.dirs, l, b0 * D, b1 * D);
    };
    net.for_each_layer([&](auto I, const auto& layer) {
      auto x = R(std::as_const(ws.trace.acts[I]), 1);
      auto y = R(std::as_const(ws.trace.acts[I + 1]), 1);
      if constexpr (I == 0 && identity_fast)
        layer.jvp_identity(net.block(I), x, y, Dr(1));
      else if constexpr (I == 0)
        layer.jvp(net.block(I), x, y, R(std::as_const(ws.seeds), D), Dr(1));
      else
        layer.jvp(net.block(I), x, y, Dr(I), Dr(I + 1));
    });
    const auto& Tn = Dr(L);  // shard rows of (B*D) x K, row b*D+d = ∂y/∂x_d
    for (Index b = b0; b < b1; ++b)
      J.middleRows(b * K, K) = Tn.middleRows((b - b0) * D, D).transpose();
  }, net.pass_work(B, double(1 + D)));
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacfwd(const Net& net, const NetMatrix<Net>& X) {
  Workspace<T> ws;
  Matrix<T> J;
  jacfwd(net, X, ws, J);
  return J;
}

/// True when jacobian() uses reverse mode: K ≤ D (each mode's cost is proportional to its
/// number of directions, K for reverse and D for forward, times the same per-layer work).
template <class Net>
bool jacobian_uses_reverse(const Net& net) {
  return net.output_size() <= net.input_size();
}
/// Full per-sample Jacobians (B*K) x D by the cheaper mode (see jacobian_uses_reverse).
template <class Net, class T = net_scalar_t<Net>>
void jacobian(const Net& net, const NetMatrix<Net>& X, Workspace<T>& ws, Matrix<T>& J) {
  if (jacobian_uses_reverse(net))
    jacrev(net, X, ws, J);
  else
    jacfwd(net, X, ws, J);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacobian(const Net& net, const NetMatrix<Net>& X) {
  Workspace<T> ws;
  Matrix<T> J;
  jacobian(net, X, ws, J);
  return J;
}

// ---------------------------------------------------------------------------------------------
// Gradients
// ---------------------------------------------------------------------------------------------

/// Reverse sweep of an existing forward trace (training step: forward, loss adjoint, backward):
/// grads = dL/dθ (resized, overwritten) for Ybar = dL/dY (B x K); with Xbar also dL/dX; act_bars
/// as in backprop (empty span or L+1 entries). Uses ws's scratch (trace may be ws.trace).
template <class Net, class T = net_scalar_t<Net>>
void backward(const Net& net, const Trace<T>& trace, const NetMatrix<Net>& Ybar, Vector<T>& grads,
              Workspace<T>& ws, Matrix<T>* Xbar = nullptr,
              std::span<const NetMatrix<Net>> act_bars = {}) {
  constexpr std::size_t L = Net::num_layers;
  JACNET_CHECK(trace.acts.size() == L + 1, ValueError, "nn::backward",
               "the trace was not filled by this net's forward");
  JACNET_CHECK(
      Ybar.size() == 0 || (Ybar.rows() == trace.batch() && Ybar.cols() == net.output_size()),
      ShapeError, "nn::backward", "Ybar is ", Ybar.rows(), "x", Ybar.cols(), ", outputs are ",
      trace.batch(), "x", net.output_size());
  JACNET_CHECK(act_bars.empty() || act_bars.size() == L + 1, ShapeError, "nn::backward",
               "act_bars has ", act_bars.size(), " entries, expected 0 or ", L + 1);
  detail::check_act_bars(net, trace, act_bars);
  const Index B = trace.batch();
  auto& s = ws.scratch;
  detail::size_boundaries(net, s.abar, B, 0, L + 1);
  if (Xbar) Xbar->resize(B, net.input_size());
  const Shards sh = net.shards(B);
  const detail::GradShards<T> gs(grads, s.partial, net.num_params(), sh.count);
  Net::run_shards(
      sh.count,
      [&](Index i) {
        detail::reverse_sweep_rows<Net, T>(net, trace, &Ybar, act_bars, nullptr, gs.begin_shard(i),
                                           Xbar, s, sh.begin(i), sh.end(i));
      },
      gs.chunks(), [&](Index c) { gs.reduce(c); }, net.pass_work(B, 2));
}

/// grads = dL/dθ (resized, overwritten) for a loss with output adjoint Ybar = dL/dY (B x K):
/// forward + one reverse sweep. With Xbar, also dL/dX (B x D). The trace in ws is reused.
template <class Net, class T = net_scalar_t<Net>>
void param_gradient(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& Ybar,
                    Vector<T>& grads, Workspace<T>& ws, Matrix<T>* Xbar = nullptr) {
  net.forward(X, ws.trace);
  JACNET_CHECK(Ybar.rows() == X.rows() && Ybar.cols() == net.output_size(), ShapeError,
               "nn::param_gradient", "Ybar is ", Ybar.rows(), "x", Ybar.cols(), ", outputs are ",
               X.rows(), "x", net.output_size());
  backward(net, ws.trace, Ybar, grads, ws, Xbar);
}
template <class Net, class T = net_scalar_t<Net>>
void param_gradient(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& Ybar,
                    Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  Workspace<T> ws;
  param_gradient(net, X, Ybar, grads, ws, Xbar);
}

// ---------------------------------------------------------------------------------------------
// Second order: Jacobian pass + backprop
// ---------------------------------------------------------------------------------------------

/// Forward pass and the seeded backward pass storing δ at every boundary (see JacobianPass).
/// seeds: B*M x K. The J rows are pass.J() (B*M x D). One pass: each shard runs its forward
/// and its seeded backward.
template <class Net, class T = net_scalar_t<Net>>
void jacobian_pass(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& seeds,
                   JacobianPass<T>& pass) {
  constexpr std::size_t L = Net::num_layers;
  using Last = typename Net::template layer_type<L - 1>;
  constexpr bool onehot_fast = Net::row_views ? OneHotVjpView<Last> : OneHotVjp<Last>;
  net.check_input(X, "nn::jacobian_pass");
  detail::check_dirs(seeds, X.rows(), net.output_size(), "nn::jacobian_pass", "seeds");
  const Index B = X.rows(), M = seeds.rows() / B;
  pass.batch = B;
  pass.M = M;
  net.prepare_trace(X, pass.trace);
  detail::size_boundaries(net, pass.delta, B * M, 0, L);
  pass.delta[L] = seeds;
  const bool onehot = detail::onehot_classes(seeds, pass.seed_class);
  if (!onehot) pass.seed_class.clear();
  const Shards sh = net.shards(B);
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    net.forward_rows(X, pass.trace, b0, b1);
    auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
    net.for_each_layer_reverse([&](auto I, const auto& layer) {
      auto x = R(std::as_const(pass.trace.acts[I]), 1);
      auto y = R(std::as_const(pass.trace.acts[I + 1]), 1);
      if constexpr (I + 1 == L && onehot_fast) {
        if (onehot) {
          layer.vjp_onehot(net.block(I), x, y, pass.seed_class.data() + b0 * M, M,
                           R(pass.delta[I], M));
          return;
        }
      }
      layer.vjp(net.block(I), x, y, R(std::as_const(pass.delta[I + 1]), M), R(pass.delta[I], M));
    });
  }, net.pass_work(B, double(1 + M)));
}
template <class Net, class T = net_scalar_t<Net>>
JacobianPass<T> jacobian_pass(const Net& net, const NetMatrix<Net>& X,
                              const NetMatrix<Net>& seeds) {
  JacobianPass<T> pass;
  jacobian_pass(net, X, seeds, pass);
  return pass;
}

/// Exact dL/dθ (grads, overwritten) and optionally dL/dX (*Xbar) of a loss L(Y, J, a) given its
/// adjoints Ybar = ∂L/∂Y (B x K or empty), Jbar = ∂L/∂J (B*M x D or empty; J = pass.J()) and
/// act_bars[l] = ∂L/∂a_l (empty span, or L+1 entries each B x size(l) or empty).
/// One pass: each shard runs its tangent sweep with the second-order terms, then its reverse
/// sweep; the shards' parameter gradients are summed in shard order.
template <class Net, class T = net_scalar_t<Net>>
void backprop(const Net& net, JacobianPass<T>& pass, const NetMatrix<Net>& Ybar,
              const NetMatrix<Net>& Jbar, std::span<const NetMatrix<Net>> act_bars,
              Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  constexpr std::size_t L = Net::num_layers;
  const Index B = pass.batch;
  JACNET_CHECK(pass.delta.size() == L + 1 && B > 0, ValueError, "nn::backprop",
               "the JacobianPass was not filled by jacobian_pass for this net");
  JACNET_CHECK(Ybar.size() == 0 || (Ybar.rows() == B && Ybar.cols() == net.output_size()),
               ShapeError, "nn::backprop", "Ybar is ", Ybar.rows(), "x", Ybar.cols(),
               ", outputs are ", B, "x", net.output_size());
  JACNET_CHECK(Jbar.size() == 0 || (Jbar.rows() == B * pass.M && Jbar.cols() == net.input_size()),
               ShapeError, "nn::backprop", "Jbar is ", Jbar.rows(), "x", Jbar.cols(), ", J is ",
               B * pass.M, "x", net.input_size());
  JACNET_CHECK(act_bars.empty() || act_bars.size() == L + 1, ShapeError, "nn::backprop",
               "act_bars has ", act_bars.size(), " entries, expected 0 or ", L + 1);
  detail::check_act_bars(net, pass.trace, act_bars);
  auto& s = pass.scratch;
  const bool second = Jbar.size() > 0;
  const Index M = pass.M;
  detail::size_boundaries(net, s.abar, B, 0, L + 1);
  if (second) {
    detail::size_boundaries(net, s.xbar, B, 0, L);
    s.xbar[L].resize(0, 0);
    detail::size_sweep(net, s.eps, B * M, 1, L);
  }
  if (Xbar) Xbar->resize(B, net.input_size());
  const Shards sh = net.shards(B);
  const detail::GradShards<T> gs(grads, s.partial, net.num_params(), sh.count);
  Net::run_shards(
      sh.count,
      [&](Index i) {
        const Index b0 = sh.begin(i), b1 = sh.end(i);
        T* g = gs.begin_shard(i);
        auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
        auto E = [&](std::size_t l) -> decltype(auto) {
          return detail::sweep_rows(net, s.eps, l, b0 * M, b1 * M);
        };
        if (second) {
          net.for_each_layer([&](auto I, const auto& layer) {
            auto x = R(std::as_const(pass.trace.acts[I]), 1);
            auto y = R(std::as_const(pass.trace.acts[I + 1]), 1);
            auto step = [&](auto&& eps) {  // ε_I: J̄ for I = 0, else the tangent sweep's boundary
              R(s.xbar[I], 1).setZero();
              layer.second_order(net.block(I), x, y, eps, R(std::as_const(pass.delta[I + 1]), M),
                                 g + net.param_offset(I), R(s.xbar[I], 1));
              if constexpr (std::remove_cvref_t<decltype(I)>::value + 1 < L) layer.jvp(net.block(I), x, y, eps, E(I + 1));
            };
            if constexpr (I == 0)
              step(R(Jbar, M));
            else
              step(E(I));
          });
        }
        detail::reverse_sweep_rows<Net, T>(net, pass.trace, &Ybar, act_bars,
                                           second ? &s.xbar : nullptr, g, Xbar, s, b0, b1);
      },
      gs.chunks(), [&](Index c) { gs.reduce(c); }, net.pass_work(B, second ? double(2 + 2 * M) : 2.0));
}

/// Forward pass and forward tangents U (B*N x D) through every layer (see JvpPass).
template <class Net, class T = net_scalar_t<Net>>
void jvp_pass(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& U, JvpPass<T>& pass) {
  constexpr std::size_t L = Net::num_layers;
  net.check_input(X, "nn::jvp_pass");
  detail::check_dirs(U, X.rows(), net.input_size(), "nn::jvp_pass", "tangents U");
  const Index B = X.rows(), N = U.rows() / B;
  pass.batch = B;
  pass.N = N;
  net.prepare_trace(X, pass.trace);
  detail::size_boundaries(net, pass.eps, B * N, 1, L + 1);
  pass.eps[0] = U;
  const Shards sh = net.shards(B);
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    net.forward_rows(X, pass.trace, b0, b1);
    auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
    net.for_each_layer([&](auto I, const auto& layer) {
      layer.jvp(net.block(I), R(std::as_const(pass.trace.acts[I]), 1),
                R(std::as_const(pass.trace.acts[I + 1]), 1), R(std::as_const(pass.eps[I]), N),
                R(pass.eps[I + 1], N));
    });
  }, net.pass_work(B, double(1 + N)));
}
template <class Net, class T = net_scalar_t<Net>>
JvpPass<T> jvp_pass(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& U) {
  JvpPass<T> pass;
  jvp_pass(net, X, U, pass);
  return pass;
}

/// Exact dL/dθ (and dL/dX) of a loss L(Y, J·U, a) given Ybar, JUbar = ∂L/∂(J·U) (B*N x K or
/// empty) and act_bars (as for the JacobianPass overload). U itself is treated as constant.
template <class Net, class T = net_scalar_t<Net>>
void backprop(const Net& net, JvpPass<T>& pass, const NetMatrix<Net>& Ybar,
              const NetMatrix<Net>& JUbar, std::span<const NetMatrix<Net>> act_bars,
              Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  constexpr std::size_t L = Net::num_layers;
  const Index B = pass.batch;
  JACNET_CHECK(pass.eps.size() == L + 1 && B > 0, ValueError, "nn::backprop",
               "the JvpPass was not filled by jvp_pass for this net");
  JACNET_CHECK(Ybar.size() == 0 || (Ybar.rows() == B && Ybar.cols() == net.output_size()),
               ShapeError, "nn::backprop", "Ybar is ", Ybar.rows(), "x", Ybar.cols(),
               ", outputs are ", B, "x", net.output_size());
  JACNET_CHECK(
      JUbar.size() == 0 || (JUbar.rows() == B * pass.N && JUbar.cols() == net.output_size()),
      ShapeError, "nn::backprop", "JUbar is ", JUbar.rows(), "x", JUbar.cols(), ", J·U is ",
      B * pass.N, "x", net.output_size());
  JACNET_CHECK(act_bars.empty() || act_bars.size() == L + 1, ShapeError, "nn::backprop",
               "act_bars has ", act_bars.size(), " entries, expected 0 or ", L + 1);
  detail::check_act_bars(net, pass.trace, act_bars);
  auto& s = pass.scratch;
  const bool second = JUbar.size() > 0;
  const Index N = pass.N;
  detail::size_boundaries(net, s.abar, B, 0, L + 1);
  if (second) {
    detail::size_boundaries(net, s.xbar, B, 0, L);
    s.xbar[L].resize(0, 0);
    detail::size_sweep(net, s.eps, B * N, 1, L);  // here: the backward quantities δ_l
  }
  if (Xbar) Xbar->resize(B, net.input_size());
  const Shards sh = net.shards(B);
  const detail::GradShards<T> gs(grads, s.partial, net.num_params(), sh.count);
  Net::run_shards(
      sh.count,
      [&](Index i) {
        const Index b0 = sh.begin(i), b1 = sh.end(i);
        T* g = gs.begin_shard(i);
        auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
        auto E = [&](std::size_t l) -> decltype(auto) {
          return detail::sweep_rows(net, s.eps, l, b0 * N, b1 * N);
        };
        if (second) {
          net.for_each_layer_reverse([&](auto I, const auto& layer) {
            auto x = R(std::as_const(pass.trace.acts[I]), 1);
            auto y = R(std::as_const(pass.trace.acts[I + 1]), 1);
            auto step = [&](auto&& delta) {  // δ_{I+1}: (J·U)‾ for the last layer
              R(s.xbar[I], 1).setZero();
              layer.second_order(net.block(I), x, y, R(std::as_const(pass.eps[I]), N), delta,
                                 g + net.param_offset(I), R(s.xbar[I], 1));
              if constexpr (std::remove_cvref_t<decltype(I)>::value > 0) layer.vjp(net.block(I), x, y, delta, E(I));
            };
            if constexpr (I + 1 == L)
              step(R(JUbar, N));
            else
              step(E(I + 1));
          });
        }
        detail::reverse_sweep_rows<Net, T>(net, pass.trace, &Ybar, act_bars,
                                           second ? &s.xbar : nullptr, g, Xbar, s, b0, b1);
      },
      gs.chunks(), [&](Index c) { gs.reduce(c); }, net.pass_work(B, second ? double(2 + 2 * N) : 2.0));
}

}  // namespace jacnet::nn
