#pragma once
// jacnet/nn/gradient.hpp — parameter gradients: the reverse sweep every gradient of jacnet ends
// with (reverse_sweep_rows, shared with nn::backprop), backward (from an existing forward trace)
// and param_gradient (forward + backward).
//   void backward(net, trace, Ybar, grads, ws, Xbar* = nullptr, act_bars = {})
//   void param_gradient(net, X, Ybar, grads, [ws,] Xbar* = nullptr)
// grads is resized to net.num_params() and OVERWRITTEN with dL/dθ; the parameter-gradient
// partials of the shards are summed in shard order (bitwise the same for any thread count).
#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/workspace.hpp"

namespace jacnet::nn {

namespace detail {

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

/// Reverse sweep of an existing forward trace (training step: forward, loss adjoint, backward):
/// grads = dL/dθ (resized, overwritten) for Ybar = dL/dY (B x K); with Xbar also dL/dX; act_bars
/// as in backprop (empty span or L+1 entries). Uses ws's scratch (trace may be ws.trace).
template <class Net, class T = net_scalar_t<Net>>
void backward(const Net& net, const Trace<T>& trace, const NetMatrix<Net>& Ybar, Vector<T>& grads,
              ModeWorkspace<T>& ws, Matrix<T>* Xbar = nullptr,
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
                    Vector<T>& grads, ModeWorkspace<T>& ws, Matrix<T>* Xbar = nullptr) {
  net.forward(X, ws.trace);
  JACNET_CHECK(Ybar.rows() == X.rows() && Ybar.cols() == net.output_size(), ShapeError,
               "nn::param_gradient", "Ybar is ", Ybar.rows(), "x", Ybar.cols(), ", outputs are ",
               X.rows(), "x", net.output_size());
  backward(net, ws.trace, Ybar, grads, ws, Xbar);
}
template <class Net, class T = net_scalar_t<Net>>
void param_gradient(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& Ybar,
                    Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  ModeWorkspace<T> ws;
  param_gradient(net, X, Ybar, grads, ws, Xbar);
}

}  // namespace jacnet::nn
