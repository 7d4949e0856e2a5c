#pragma once
// jacnet/check/net.hpp — checks a whole net (nn::Sequential of double layers) against central
// finite differences of its forward pass: the modes of nn/modes.hpp end to end.
//
// With Y = f(X; θ) (B x K), random V (B*M x K), U (B*M x D), Ybar (B x K), seeds S and Jbar:
//   jacobian        nn::jacobian(net, X) (B*K x D) vs differences in each input column
//                   (fast: Σ_b v_bᵀ J_b w_b along random unit w, v)
//   jvp             nn::jvp(net, X, U) vs (f(X + hU_m) − f(X − hU_m)) / 2h
//   adjoint         <V, jvp U> = <vjp V, U> per row (Options::exact_tol)
//   param_gradient  dθ of Σ <Ybar, f(X; θ)> by nn::param_gradient vs differences in every
//                   trainable θ_i; exactly 0 for non-trainable entries; its dX too
//   jacobian rows   second order, the core of Jacobian matching: Q(θ, X) = <Jbar, Sᵀ·∂f/∂x>
//                   (jacobian_pass + backprop) vs differences in θ and X
// Parameters are named as PyTorch's nn.Sequential names them ("2.weight[3,1]").
//
//   check::Report r = check::check_net(net, X);   if (!r) std::cerr << r;
#include <random>
#include <span>
#include <string>

#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/layer.hpp"
#include "jacnet/check/report.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/nn/modes.hpp"

namespace jacnet::check {

struct NetOptions : Options {
  Index M = 2;  ///< directions (and Jacobian-row seeds) per sample
};

namespace detail {
template <class Net>
ParamNames net_param_names(const Net& net) {
  ParamNames n;
  for (const auto& np : net.named_parameters()) n.add(np.name, np.shape, np.trainable);
  return n;
}
}  // namespace detail

/// Checks the net's input Jacobian, jvp/vjp, parameter gradient and the second-order gradient of
/// its Jacobian rows at X (B x D), at its current parameters. The net is copied (its parameters
/// are perturbed in the copy).
template <class Net>
Report check_net(Net net, const Matrix<double>& X, const NetOptions& o = {}) {
  static_assert(std::is_same_v<typename Net::Scalar, double>,
                "jacnet::check::check_net: check the double instance of the net");
  const Index B = X.rows(), D = net.input_size(), K = net.output_size(), M = o.M;
  JACNET_CHECK(X.cols() == D && B > 0, ShapeError, "check::check_net", "X is ", X.rows(), "x",
               X.cols(), ", the net takes ", D, " inputs per sample");
  Report r("check_net (" + std::to_string(Net::num_layers) + " layers, " + std::to_string(D) +
           " -> " + std::to_string(K) + ")");
  const ParamNames names = detail::net_param_names(net);
  const Vector<double> theta = net.param_vector();
  std::mt19937_64 rng(o.seed);
  auto fwd = [&](const Matrix<double>& x) { return net.forward(x); };
  // f() evaluated with the net's parameters set to th (restored afterwards)
  auto at_params = [&](const Vector<double>& th, auto&& f) {
    net.set_params(th);
    const double s = f();
    net.set_params(theta);
    return s;
  };
  auto in_name = [&](Index b, Index i) {
    return "sample " + std::to_string(b) + ", input " + std::to_string(i);
  };

  // ---- input Jacobian ----
  const Matrix<double> J = nn::jacobian(net, X);  // row b*K + j = ∂y_j/∂x at sample b
  if (!o.fast) {
    Matrix<double> fd(B * K, D);
    for (Index i = 0; i < D; ++i) {
      Matrix<double> Xp = X, Xm = X;
      Xp.col(i).array() += o.eps;
      Xm.col(i).array() -= o.eps;
      const Matrix<double> d = (fwd(Xp) - fwd(Xm)) / (2 * o.eps);
      for (Index b = 0; b < B; ++b)
        for (Index j = 0; j < K; ++j) fd(b * K + j, i) = d(b, j);
    }
    r.compare("jacobian", fd.size(), fd.data(), J.data(),
              [&](Index e) {
                const Index row = e / D;
                return "J[" + std::to_string(row % K) + "," + std::to_string(e % D) +
                       "] of sample " + std::to_string(row / K);
              },
              o.atol, o.rtol, o.scale_atol);
  } else {
    Vector<double> fd(o.projections * B), got(o.projections * B);
    for (int p = 0; p < o.projections; ++p) {
      const Vector<double> wv = random_unit(B * D, rng), vv = random_unit(B * K, rng);
      const Matrix<double> W = Eigen::Map<const Matrix<double>>(wv.data(), B, D);
      const Matrix<double> V = Eigen::Map<const Matrix<double>>(vv.data(), B, K);
      const Matrix<double> d = (fwd(X + o.eps * W) - fwd(X - o.eps * W)) / (2 * o.eps);
      for (Index b = 0; b < B; ++b) {
        fd(p * B + b) = V.row(b).dot(d.row(b));
        got(p * B + b) = V.row(b) * J.middleRows(b * K, K) * W.row(b).transpose();
      }
    }
    r.compare("jacobian (vᵀJw)", fd.size(), fd.data(), got.data(),
              [&](Index e) {
                return "projection " + std::to_string(e / B) + ", sample " + std::to_string(e % B);
              },
              o.atol, o.rtol, o.scale_atol);
  }

  // ---- jvp and the adjoint identity with vjp ----
  const Matrix<double> U = detail::uniform(B * M, D, rng), V = detail::uniform(B * M, K, rng);
  const Matrix<double> JU = nn::jvp(net, X, U), VJ = nn::vjp(net, X, V);
  {
    Matrix<double> fd(B * M, K);
    for (Index m = 0; m < M; ++m) {
      Matrix<double> Um(B, D);
      for (Index b = 0; b < B; ++b) Um.row(b) = U.row(b * M + m);
      const Matrix<double> d = (fwd(X + o.eps * Um) - fwd(X - o.eps * Um)) / (2 * o.eps);
      for (Index b = 0; b < B; ++b) fd.row(b * M + m) = d.row(b);
    }
    r.compare("jvp", fd.size(), fd.data(), JU.data(),
              [&](Index e) { return detail::row_entry(e / K, M, e % K, "output"); }, o.atol,
              o.rtol, o.scale_atol);
    Vector<double> lhs(B * M), rhs(B * M);
    for (Index q = 0; q < B * M; ++q) {
      lhs(q) = V.row(q).dot(JU.row(q));
      rhs(q) = VJ.row(q).dot(U.row(q));
    }
    r.compare("adjoint identity <V, jvp U> = <vjp V, U>", B * M, lhs.data(), rhs.data(),
              [&](Index q) { return "row " + std::to_string(q); }, o.exact_tol, o.exact_tol);
  }

  // ---- parameter gradient of Σ <Ybar, f(X; θ)>, and its dX ----
  const Matrix<double> Ybar = detail::uniform(B, K, rng);
  {
    Vector<double> g;
    Matrix<double> Xbar;
    nn::param_gradient(net, X, Ybar, g, &Xbar);
    auto obj = [&](const Vector<double>& th) {
      return at_params(th, [&] { return detail::dot(Ybar, fwd(X)); });
    };
    detail::compare_param_gradient(r, "param_gradient", names, theta, g, obj, o, rng);
    detail::require_untouched(r, "param_gradient is 0 for non-trainable entries", names,
                              Vector<double>::Zero(g.size()), g);
    Matrix<double> xv = X;
    const Vector<double> fdx =
        central_gradient(xv.data(), xv.size(), o.eps, [&] { return detail::dot(Ybar, fwd(xv)); });
    r.compare("param_gradient dX", Xbar.size(), fdx.data(), Xbar.data(),
              [&](Index e) { return in_name(e / D, e % D); }, o.atol, o.rtol, o.scale_atol);
  }

  // ---- second order: Q = <Jbar, J rows of seeds S> ----
  {
    const Matrix<double> S = detail::uniform(B * M, K, rng), Jbar = detail::uniform(B * M, D, rng);
    auto pass = nn::jacobian_pass(net, X, S);
    Vector<double> g;
    Matrix<double> Xbar;
    nn::backprop(net, pass, Matrix<double>(), Jbar, std::span<const Matrix<double>>(), g, &Xbar);
    auto Q = [&](const Matrix<double>& x) {
      return detail::dot(Jbar, nn::jacobian_rows(net, x, S));
    };
    auto obj = [&](const Vector<double>& th) { return at_params(th, [&] { return Q(X); }); };
    detail::compare_param_gradient(r, "jacobian rows dQ/dθ", names, theta, g, obj, o, rng);
    detail::require_untouched(r, "jacobian rows dQ/dθ is 0 for non-trainable entries", names,
                              Vector<double>::Zero(g.size()), g);
    Matrix<double> xv = X;
    if (!o.fast) {
      const Vector<double> fdx = central_gradient(xv.data(), xv.size(), o.eps, [&] { return Q(xv); });
      r.compare("jacobian rows dQ/dX", Xbar.size(), fdx.data(), Xbar.data(),
                [&](Index e) { return in_name(e / D, e % D); }, o.atol, o.rtol, o.scale_atol);
    } else {
      Vector<double> fd(o.projections), got(o.projections);
      for (int p = 0; p < o.projections; ++p) {
        const Vector<double> wv = random_unit(B * D, rng);
        const Matrix<double> W = Eigen::Map<const Matrix<double>>(wv.data(), B, D);
        double s = 0;
        fd(p) = central_difference(s, o.eps, [&] { return Q(X + s * W); });
        got(p) = detail::dot(Xbar, W);
      }
      r.compare("jacobian rows dQ/dX (projected)", o.projections, fd.data(), got.data(),
                [](Index p) { return "projection " + std::to_string(p); }, o.atol, o.rtol,
                o.scale_atol);
    }
  }
  return r;
}

}  // namespace jacnet::check
