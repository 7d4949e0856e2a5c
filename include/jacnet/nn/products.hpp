#pragma once
// jacnet/nn/products.hpp — Jacobian-vector products of a net, per sample:
//   jvp(net, X, U)   U: B*M x D → B*M x K   forward mode (one forward + one tangent sweep)
//   vjp(net, X, V)   V: B*M x K → B*M x D   reverse mode (one forward + one reverse sweep)
// each also as f(net, X, U|V, ModeWorkspace<T>& ws, Matrix<T>& out) (no allocation when sizes
// repeat). detail::reverse_directions is the reverse sweep behind vjp and every Jacobian mode.
#include <span>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/fused_sweep.hpp"
#include "jacnet/nn/workspace.hpp"

namespace jacnet::nn {

/// out = J·U per sample: U is B*M x D (M tangents per sample), out B*M x K. Forward mode.
/// One pass: each shard runs its forward and its tangent sweep.
template <class Net, class T = net_scalar_t<Net>>
void jvp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& U, ModeWorkspace<T>& ws,
         Matrix<T>& out) {
  constexpr std::size_t L = Net::num_layers;
  net.check_input(X, "nn::jvp");
  detail::check_dirs(U, X.rows(), net.input_size(), "nn::jvp", "tangents U");
  const Index B = X.rows(), M = U.rows() / B;
  net.prepare_trace(X, ws.trace);
  detail::size_sweep(net, ws.dirs, B * M, 1, L);
  resize_buffer(out, B * M, net.output_size());
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
  return detail::with_new_workspace<T>([&](auto& ws, auto& out) { nn::jvp(net, X, U, ws, out); });
}

namespace detail {
/// Forward and reverse sweep of directions from boundary L to 0 in one pass. Seeds given
/// densely (S, B*M x K) or as one-hot classes (cls, M per sample; the last layer's vjp_onehot
/// fast path when it has one, else ws.seeds is materialized first). With run_forward = false,
/// ws.trace must already hold the forward of X (the caller ran it, e.g. for the outputs): the
/// pass is then the reverse sweep alone (the same shards, so the same values bit for bit).
template <class Net, class T>
void reverse_directions(const Net& net, const Matrix<T>& X, const Matrix<T>* S,
                        const std::vector<Index>* cls, Index M, ModeWorkspace<T>& ws, Matrix<T>& out,
                        bool run_forward = true) {
  constexpr std::size_t L = Net::num_layers;
  using Last = typename Net::template layer_type<L - 1>;
  constexpr bool onehot_fast = Net::row_views ? OneHotVjpView<Last> : OneHotVjp<Last>;
  const Index B = X.rows();
  if (run_forward) net.prepare_trace(X, ws.trace);
  if (S == nullptr && !onehot_fast) {  // one-hot seeds, no fast path: materialize them
    resize_buffer(ws.seeds, B * M, net.output_size());
    ws.seeds.setZero();
    for (Index r = 0; r < ws.seeds.rows(); ++r) ws.seeds(r, (*cls)[std::size_t(r)]) = T(1);
    S = &ws.seeds;
  }
  const bool use_cls = cls != nullptr && onehot_fast;
  detail::size_sweep(net, ws.dirs, B * M, 1, L);
  resize_buffer(out, B * M, net.input_size());
  const Shards sh = net.shards(B);
  detail::size_fused_scratch(ws.fused, sh.count, detail::fused_scratch_size<T>(net, M));
  Net::run_shards(sh.count, [&](Index s) {
    const Index b0 = sh.begin(s), b1 = sh.end(s);
    if (run_forward) net.forward_rows(X, ws.trace, b0, b1);
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
      if constexpr (detail::fuses_with_activation<Net, I>()) {
        return;  // runs with the activation I − 1, just below
      } else if constexpr (detail::fuses_with_activation<Net, I + 1>()) {
        // layer I + 1 (row-local) and activation I, G samples at a time; the rows between them
        // go to this shard's scratch (nn/fused_sweep.hpp)
        // rows [r0, r1) of a shard's contiguous view whose first row is the shard's (b0·M)
        auto part = [&](auto&& v, Index r0, Index r1) {
          return RowsView<T>(v.data() + (r0 - b0 * M) * v.cols(), r1 - r0, v.cols());
        };
        const Index w = net.shape(I + 1).size();
        T* scratch = ws.fused[std::size_t(s)].data();
        detail::fused_vjp<decltype(I)::value>(
            net, ws.trace, M, b0, b1, [&](Index r0, Index r1) { return part(D(I + 2), r0, r1); },
            [&](Index r0, Index r1) { return RowsView<T>(scratch, r1 - r0, w); },
            [&](Index r0, Index r1) { return part(dst(I), r0, r1); });
        return;
      }
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
  }, net.pass_work(B, double(run_forward ? 1 + M : M)));
}
}  // namespace detail

/// out = Vᵀ·J per sample: V is B*M x K, out B*M x D. Reverse mode.
template <class Net, class T = net_scalar_t<Net>>
void vjp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& V, ModeWorkspace<T>& ws,
         Matrix<T>& out) {
  net.check_input(X, "nn::vjp");
  detail::check_dirs(V, X.rows(), net.output_size(), "nn::vjp", "cotangents V");
  detail::reverse_directions<Net, T>(net, X, &V, nullptr, V.rows() / X.rows(), ws, out);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> vjp(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& V) {
  return detail::with_new_workspace<T>([&](auto& ws, auto& out) { nn::vjp(net, X, V, ws, out); });
}

}  // namespace jacnet::nn
