#pragma once
// jacnet/nn/second_order.hpp — the second-order passes behind Jacobian losses:
//   void jacobian_pass(net, X, seeds, JacobianPass<T>& pass)    forward + seeded backward
//   void backprop(net, JacobianPass<T>& pass, Ybar, Jbar, act_bars, Vector<T>& grads,
//                 Matrix<T>* Xbar = nullptr)
//   void jvp_pass(net, X, U, JvpPass<T>& pass)                  forward + tangent sweep (J·U)
//   void backprop(net, JvpPass<T>& pass, Ybar, JUbar, act_bars, grads, Xbar = nullptr)
// (conventions and the rule itself: nn/modes.hpp and docs/design.md).
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/fused_sweep.hpp"
#include "jacnet/nn/gradient.hpp"
#include "jacnet/nn/workspace.hpp"

namespace jacnet::nn {

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
      if constexpr (detail::fuses_with_activation<Net, I>()) {
        return;  // runs with the activation I − 1, just below
      } else if constexpr (detail::fuses_with_activation<Net, I + 1>()) {
        // layer I + 1 (row-local) and activation I, G samples at a time, so the activation reads
        // boundary I + 1's rows from cache (nn/fused_sweep.hpp)
        auto rows_of = [&](std::size_t l) {
          return [&pass, l](Index r0, Index r1) { return row_block(pass.delta[l], r0, r1); };
        };
        detail::fused_vjp<decltype(I)::value>(net, pass.trace, M, b0, b1, rows_of(I + 2),
                                              rows_of(I + 1), rows_of(I));
        return;
      }
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
  return detail::filled<JacobianPass<T>>([&](auto& pass) { nn::jacobian_pass(net, X, seeds, pass); });
}

namespace detail {

/// What both backprop overloads share: the checks, the buffer sizes, one pass over the shards
/// (each shard runs `second_sweep(b0, b1, g)` — the second-order terms of its layers, adding to
/// g and s.xbar — when the direction adjoint Dbar is non-empty, then its reverse sweep) and the
/// shard-ordered reduction of the parameter gradient. Dbar is Jbar (B*N x D, JacobianPass) or
/// JUbar (B*N x K, JvpPass); s.eps is sized for the sweep's intermediate boundaries.
template <class Net, class T, class SecondSweep>
void backprop_pass(const Net& net, const Trace<T>& trace, Index B, Index N, bool filled,
                   const char* not_filled, const Matrix<T>& Ybar, const Matrix<T>& Dbar,
                   Index dbar_cols, const char* dbar_name, const char* dbar_of,
                   std::span<const Matrix<T>> act_bars, BackpropScratch<T>& s, Vector<T>& grads,
                   Matrix<T>* Xbar, SecondSweep&& second_sweep) {
  constexpr std::size_t L = Net::num_layers;
  JACNET_CHECK(filled && B > 0, ValueError, "nn::backprop", not_filled);
  JACNET_CHECK(Ybar.size() == 0 || (Ybar.rows() == B && Ybar.cols() == net.output_size()),
               ShapeError, "nn::backprop", "Ybar is ", Ybar.rows(), "x", Ybar.cols(),
               ", outputs are ", B, "x", net.output_size());
  JACNET_CHECK(Dbar.size() == 0 || (Dbar.rows() == B * N && Dbar.cols() == dbar_cols), ShapeError,
               "nn::backprop", dbar_name, " is ", Dbar.rows(), "x", Dbar.cols(), ", ", dbar_of,
               " is ", B * N, "x", dbar_cols);
  JACNET_CHECK(act_bars.empty() || act_bars.size() == L + 1, ShapeError, "nn::backprop",
               "act_bars has ", act_bars.size(), " entries, expected 0 or ", L + 1);
  check_act_bars(net, trace, act_bars);
  const bool second = Dbar.size() > 0;
  size_boundaries(net, s.abar, B, 0, L + 1);
  if (second) {
    size_boundaries(net, s.xbar, B, 0, L);
    s.xbar[L].resize(0, 0);
    size_sweep(net, s.eps, B * N, 1, L);
  }
  if (Xbar) Xbar->resize(B, net.input_size());
  const Shards sh = net.shards(B);
  const GradShards<T> gs(grads, s.partial, net.num_params(), sh.count);
  Net::run_shards(
      sh.count,
      [&](Index i) {
        const Index b0 = sh.begin(i), b1 = sh.end(i);
        T* g = gs.begin_shard(i);
        if (second) second_sweep(b0, b1, g);
        reverse_sweep_rows<Net, T>(net, trace, &Ybar, act_bars, second ? &s.xbar : nullptr, g,
                                   Xbar, s, b0, b1);
      },
      gs.chunks(), [&](Index c) { gs.reduce(c); },
      net.pass_work(B, second ? double(2 + 2 * N) : 2.0));
}

}  // namespace detail

/// Exact dL/dθ (grads, overwritten) and optionally dL/dX (*Xbar) of a loss L(Y, J, a) given its
/// adjoints Ybar = ∂L/∂Y (B x K or empty), Jbar = ∂L/∂J (B*M x D or empty; J = pass.J()) and
/// act_bars[l] = ∂L/∂a_l (empty span, or L+1 entries each B x size(l) or empty).
/// One pass: each shard runs its tangent sweep ε (started from J̄) with the second-order terms,
/// then its reverse sweep; the shards' parameter gradients are summed in shard order.
template <class Net, class T = net_scalar_t<Net>>
void backprop(const Net& net, JacobianPass<T>& pass, const NetMatrix<Net>& Ybar,
              const NetMatrix<Net>& Jbar, std::span<const NetMatrix<Net>> act_bars,
              Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  constexpr std::size_t L = Net::num_layers;
  const Index M = pass.M;
  auto& s = pass.scratch;
  detail::backprop_pass(
      net, pass.trace, pass.batch, M, pass.delta.size() == L + 1,
      "the JacobianPass was not filled by jacobian_pass for this net", Ybar, Jbar,
      net.input_size(), "Jbar", "J", act_bars, s, grads, Xbar, [&](Index b0, Index b1, T* g) {
        auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
        auto E = [&](std::size_t l) -> decltype(auto) {
          return detail::sweep_rows(net, s.eps, l, b0 * M, b1 * M);
        };
        net.for_each_layer([&](auto I, const auto& layer) {
          auto x = R(std::as_const(pass.trace.acts[I]), 1);
          auto y = R(std::as_const(pass.trace.acts[I + 1]), 1);
          auto step = [&](auto&& eps) {  // ε_I: J̄ for I = 0, else the tangent sweep's boundary
            R(s.xbar[I], 1).setZero();
            layer.second_order(net.block(I), x, y, eps, R(std::as_const(pass.delta[I + 1]), M),
                               g + net.param_offset(I), R(s.xbar[I], 1));
            if constexpr (std::remove_cvref_t<decltype(I)>::value + 1 < L)
              layer.jvp(net.block(I), x, y, eps, E(I + 1));
          };
          if constexpr (I == 0)
            step(R(Jbar, M));
          else
            step(E(I));
        });
      });
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
  return detail::filled<JvpPass<T>>([&](auto& pass) { nn::jvp_pass(net, X, U, pass); });
}

/// Exact dL/dθ (and dL/dX) of a loss L(Y, J·U, a) given Ybar, JUbar = ∂L/∂(J·U) (B*N x K or
/// empty) and act_bars (as for the JacobianPass overload). U itself is treated as constant.
/// The same pass with the roles swapped: ε = the stored forward tangents, δ = a backward sweep
/// started from (J·U)‾.
template <class Net, class T = net_scalar_t<Net>>
void backprop(const Net& net, JvpPass<T>& pass, const NetMatrix<Net>& Ybar,
              const NetMatrix<Net>& JUbar, std::span<const NetMatrix<Net>> act_bars,
              Vector<T>& grads, Matrix<T>* Xbar = nullptr) {
  constexpr std::size_t L = Net::num_layers;
  const Index N = pass.N;
  auto& s = pass.scratch;
  detail::backprop_pass(
      net, pass.trace, pass.batch, N, pass.eps.size() == L + 1,
      "the JvpPass was not filled by jvp_pass for this net", Ybar, JUbar, net.output_size(),
      "JUbar", "J·U", act_bars, s, grads, Xbar, [&](Index b0, Index b1, T* g) {
        auto R = [&](auto& m, Index k) -> decltype(auto) { return Net::rows(m, b0 * k, b1 * k); };
        auto E = [&](std::size_t l) -> decltype(auto) {  // here: the backward quantities δ_l
          return detail::sweep_rows(net, s.eps, l, b0 * N, b1 * N);
        };
        net.for_each_layer_reverse([&](auto I, const auto& layer) {
          auto x = R(std::as_const(pass.trace.acts[I]), 1);
          auto y = R(std::as_const(pass.trace.acts[I + 1]), 1);
          auto step = [&](auto&& delta) {  // δ_{I+1}: (J·U)‾ for the last layer
            R(s.xbar[I], 1).setZero();
            layer.second_order(net.block(I), x, y, R(std::as_const(pass.eps[I]), N), delta,
                               g + net.param_offset(I), R(s.xbar[I], 1));
            if constexpr (std::remove_cvref_t<decltype(I)>::value > 0)
              layer.vjp(net.block(I), x, y, delta, E(I));
          };
          if constexpr (I + 1 == L)
            step(R(JUbar, N));
          else
            step(E(I + 1));
        });
      });
}

}  // namespace jacnet::nn
