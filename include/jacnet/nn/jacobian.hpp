#pragma once
// jacnet/nn/jacobian.hpp — per-sample input Jacobians of a net ((B*K) x D, row b*K+k = ∂y_k/∂x):
//   jacobian_rows(net, X, seeds)   seeds B*M x K → B*M x D (rows sᵀJ_b; one-hot seeds fast)
//   jacrev(net, X)                 one reverse sweep of K one-hot seeds per sample
//   jacfwd(net, X)                 one forward sweep of D identity tangents per sample
//   jacobian(net, X)               jacrev if K ≤ D, else jacfwd
// each also as f(net, X, [seeds,] ModeWorkspace<T>& ws, Matrix<T>& J) (no allocation), and
// jacobian_rows_after_forward(net, X, seeds, ws, J) when ws.trace already holds net.forward(X).
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/products.hpp"
#include "jacnet/nn/workspace.hpp"

namespace jacnet::nn {

/// Selected Jacobian rows: seeds B*M x K, J (B*M x D) row b*M+m = seeds_{bm}ᵀ ∂y/∂x (sample b).
/// One-hot seeds take the copy-instead-of-GEMM fast path of the last layer.
template <class Net, class T = net_scalar_t<Net>>
void jacobian_rows(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& seeds,
                   ModeWorkspace<T>& ws, Matrix<T>& J) {
  net.check_input(X, "nn::jacobian_rows");
  detail::check_dirs(seeds, X.rows(), net.output_size(), "nn::jacobian_rows", "seeds");
  const Index M = seeds.rows() / X.rows();
  if (detail::onehot_classes(seeds, ws.cls))
    detail::reverse_directions<Net, T>(net, X, &seeds, &ws.cls, M, ws, J);
  else
    detail::reverse_directions<Net, T>(net, X, &seeds, nullptr, M, ws, J);
}
/// jacobian_rows when ws.trace already holds the forward of X by this net (net.forward(X,
/// ws.trace), e.g. run by the caller for the outputs that choose the seeds): only the reverse
/// sweep runs, with the same values bit for bit as jacobian_rows.
template <class Net, class T = net_scalar_t<Net>>
void jacobian_rows_after_forward(const Net& net, const NetMatrix<Net>& X,
                                 const NetMatrix<Net>& seeds, ModeWorkspace<T>& ws, Matrix<T>& J) {
  constexpr const char* where = "nn::jacobian_rows_after_forward";
  net.check_input(X, where);
  detail::check_dirs(seeds, X.rows(), net.output_size(), where, "seeds");
  JACNET_CHECK(ws.trace.acts.size() == Net::num_layers + 1 && ws.trace.batch() == X.rows(),
               ValueError, where, "the workspace's trace does not hold this net's forward of the ",
               X.rows(), "-sample batch (run net.forward(X, ws.trace) first)");
  const Index M = seeds.rows() / X.rows();
  if (detail::onehot_classes(seeds, ws.cls))
    detail::reverse_directions<Net, T>(net, X, &seeds, &ws.cls, M, ws, J, false);
  else
    detail::reverse_directions<Net, T>(net, X, &seeds, nullptr, M, ws, J, false);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacobian_rows(const Net& net, const NetMatrix<Net>& X, const NetMatrix<Net>& seeds) {
  return detail::with_new_workspace<T>([&](auto& ws, auto& J) { nn::jacobian_rows(net, X, seeds, ws, J); });
}

/// Full per-sample Jacobians by reverse mode: K one-hot seeds per sample, (B*K) x D.
template <class Net, class T = net_scalar_t<Net>>
void jacrev(const Net& net, const NetMatrix<Net>& X, ModeWorkspace<T>& ws, Matrix<T>& J) {
  net.check_input(X, "nn::jacrev");
  const Index B = X.rows(), K = net.output_size();
  ws.cls.resize(std::size_t(B * K));
  for (Index r = 0; r < B * K; ++r) ws.cls[std::size_t(r)] = r % K;
  detail::reverse_directions<Net, T>(net, X, static_cast<const Matrix<T>*>(nullptr), &ws.cls, K,
                                     ws, J);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacrev(const Net& net, const NetMatrix<Net>& X) {
  return detail::with_new_workspace<T>([&](auto& ws, auto& J) { nn::jacrev(net, X, ws, J); });
}

/// Full per-sample Jacobians by forward mode: D identity tangents per sample, then a per-sample
/// transpose of the (B*D) x K result into (B*K) x D.
template <class Net, class T = net_scalar_t<Net>>
void jacfwd(const Net& net, const NetMatrix<Net>& X, ModeWorkspace<T>& ws, Matrix<T>& J) {
  constexpr std::size_t L = Net::num_layers;
  using First = typename Net::template layer_type<0>;
  constexpr bool identity_fast = Net::row_views ? IdentityJvpView<First> : IdentityJvp<First>;
  net.check_input(X, "nn::jacfwd");
  const Index B = X.rows(), D = net.input_size(), K = net.output_size();
  net.prepare_trace(X, ws.trace);
  if constexpr (!identity_fast) {
    resize_buffer(ws.seeds, B * D, D);
    ws.seeds.setZero();
    for (Index b = 0; b < B; ++b) ws.seeds.middleRows(b * D, D).setIdentity();
  }
  detail::size_sweep(net, ws.dirs, B * D, 1, L + 1);
  resize_buffer(J, B * K, D);
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
  return detail::with_new_workspace<T>([&](auto& ws, auto& J) { nn::jacfwd(net, X, ws, J); });
}

/// True when jacobian() uses reverse mode: K ≤ D (each mode's cost is proportional to its
/// number of directions, K for reverse and D for forward, times the same per-layer work).
template <class Net>
bool jacobian_uses_reverse(const Net& net) {
  return net.output_size() <= net.input_size();
}
/// Full per-sample Jacobians (B*K) x D by the cheaper mode (see jacobian_uses_reverse).
template <class Net, class T = net_scalar_t<Net>>
void jacobian(const Net& net, const NetMatrix<Net>& X, ModeWorkspace<T>& ws, Matrix<T>& J) {
  if (jacobian_uses_reverse(net))
    jacrev(net, X, ws, J);
  else
    jacfwd(net, X, ws, J);
}
template <class Net, class T = net_scalar_t<Net>>
Matrix<T> jacobian(const Net& net, const NetMatrix<Net>& X) {
  return detail::with_new_workspace<T>([&](auto& ws, auto& J) { nn::jacobian(net, X, ws, J); });
}

}  // namespace jacnet::nn
