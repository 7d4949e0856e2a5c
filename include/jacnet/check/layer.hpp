#pragma once
// jacnet/check/layer.hpp — checks every rule of one layer (the nn::Layer contract, docs/design.md)
// against central finite differences of its forward, in double. Use it on your own layer.
//
// With Y = f(X; θ), B samples, K random directions per sample (rows b*K + k):
//   jvp            Uout_{bk}  vs (f(X + hU_k) − f(X − hU_k)) / 2h, row b
//   adjoint        <Vout, jvp(U)> = <vjp(Vout), U> per row (an identity: Options::exact_tol)
//   vjp            Vin_{bk}[i] vs Vout_{bk}·∂f(X_b)/∂x_i by differences in column i of X (samples
//                  are independent, so one pair of forwards serves all samples)
//   param_grad     g − g₀ vs ∂/∂θ_i Σ_{b,k} <Vout_{bk}, f(X_b; θ)> for every trainable θ_i
//                  (the rule accumulates into g₀, a random start)
//   second_order   dθ and dX of Q(θ, X) = Σ_{b,k} <Dout_{bk}, jvp(θ, X; Ein)_{bk}>
// Entries of non-trainable parameters (ParamInfo::trainable = false, e.g. BatchNorm running
// statistics) must be left untouched by param_grad and second_order (an exact requirement).
// Output matrices are passed with a wrong size: the rules must resize them.
// Fast mode: vjp, param_grad and both second_order parts are compared along `projections`
// random unit directions w (one FD pair each): e.g. <g − g₀, w> vs d/dt Σ<V, f(θ + t·w)>.
//
//   check::Report r = check::check_layer(layer, theta, X);           // your θ and X
//   check::Report r = check::check_layer(layer, Shape{3, 8, 8});     // random θ and X
//   if (!r) std::cerr << r;                                          // names the worst entry
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/report.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::check {

struct LayerOptions : Options {
  Index K = 2;               ///< random directions per sample
  Index B = 3;               ///< samples (random-data overload)
  double param_noise = 0.1;  ///< θ = init(θ) + U(−noise, noise) (random-data overload)
  double input_lo = -1.0, input_hi = 1.0;  ///< X ~ U(lo, hi) (random-data overload)
};

namespace detail {
inline Matrix<double> uniform(Index rows, Index cols, std::mt19937_64& rng, double lo = -1,
                              double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}
inline Vector<double> uniform_vector(Index n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> d(-1, 1);
  Vector<double> v(n);
  for (Index i = 0; i < n; ++i) v(i) = d(rng);
  return v;
}
inline double dot(const Matrix<double>& a, const Matrix<double>& b) {
  return (a.array() * b.array()).sum();
}
template <class L>
ParamNames layer_param_names(const L& layer) {
  ParamNames n;
  for (const auto& pi : layer.param_info()) n.add(pi.name, pi.shape, pi.trainable);
  return n;
}
inline std::string row_entry(Index r, Index K, Index j, const char* col) {
  return "row " + std::to_string(r) + " (sample " + std::to_string(r / K) + ", direction " +
         std::to_string(r % K) + "), " + col + " " + std::to_string(j);
}
/// Compares the analytic gradient ga (P entries) of obj(θ) with central differences over the
/// trainable entries (or along random trainable directions in fast mode).
template <class Obj>
void compare_param_gradient(Report& r, const std::string& name, const ParamNames& names,
                            const Vector<double>& theta, const Vector<double>& ga, Obj&& obj,
                            const Options& o, std::mt19937_64& rng) {
  const Index P = theta.size();
  Vector<double> th = theta;
  auto value = [&] { return obj(th); };
  std::vector<Index> train;
  for (Index i = 0; i < P; ++i)
    if (names.trainable(i)) train.push_back(i);
  const Index T = static_cast<Index>(train.size());
  if (T == 0) return;
  if (!o.fast) {
    Vector<double> fd(T), got(T);
    for (Index t = 0; t < T; ++t) {
      fd(t) = central_difference(th(train[std::size_t(t)]), o.eps, value);
      got(t) = ga(train[std::size_t(t)]);
    }
    r.compare(name, T, fd.data(), got.data(),
              [&](Index t) { return names(train[std::size_t(t)]); }, o.atol, o.rtol,
              o.scale_atol);
    return;
  }
  Vector<double> fd(o.projections), got(o.projections);
  for (int p = 0; p < o.projections; ++p) {
    const Vector<double> wt = random_unit(T, rng);
    Vector<double> w = Vector<double>::Zero(P);
    for (Index t = 0; t < T; ++t) w(train[std::size_t(t)]) = wt(t);
    double s = 0;
    auto along = [&] {
      th = theta + s * w;
      return obj(th);
    };
    fd(p) = central_difference(s, o.eps, along);
    got(p) = ga.dot(w);
  }
  r.compare(name + " (projected)", o.projections, fd.data(), got.data(),
            [](Index p) { return "projection " + std::to_string(p); }, o.atol, o.rtol,
            o.scale_atol);
}
/// Non-trainable entries of g must equal g0 exactly.
inline void require_untouched(Report& r, const std::string& name, const ParamNames& names,
                              const Vector<double>& g0, const Vector<double>& g) {
  Index checked = 0, failed = 0;
  std::string first;
  double e = 0, a = 0;
  for (Index i = 0; i < g.size(); ++i) {
    if (names.trainable(i)) continue;
    ++checked;
    if (g(i) != g0(i) && failed++ == 0) {
      first = names(i);
      e = g0(i);
      a = g(i);
    }
  }
  if (checked > 0) r.require(name, checked, failed, first, e, a);
}
}  // namespace detail

/// Checks every rule of `layer` (double, already bound to its input shape if it needs one) at
/// parameters theta and inputs X (B x in). See the header comment.
template <nn::Layer L>
Report check_layer(const L& layer, const Vector<double>& theta, const Matrix<double>& X,
                   const LayerOptions& o = {}) {
  static_assert(std::is_same_v<typename L::Scalar, double>,
                "jacnet::check::check_layer: check the double instance of the layer");
  const Index P = layer.num_params(), B = X.rows(), nin = X.cols(), K = o.K;
  JACNET_CHECK(theta.size() == P, ShapeError, "check::check_layer", layer.name(), ": theta has ",
               theta.size(), " entries, num_params() is ", P);
  JACNET_CHECK(B > 0 && K > 0, ValueError, "check::check_layer", layer.name(),
               ": needs at least one sample and one direction");
  Report r("check_layer " + layer.name());
  const ParamNames names = detail::layer_param_names(layer);
  std::mt19937_64 rng(o.seed);

  auto fwd = [&](const Vector<double>& th, const Matrix<double>& x) {
    Matrix<double> y;
    layer.forward(th.data(), x, y);
    return y;
  };
  Matrix<double> Y(1, 1);  // wrong size on purpose
  layer.forward(theta.data(), X, Y);
  r.require("forward output rows", 1, Y.rows() == B ? 0 : 1, "rows", double(B), double(Y.rows()));
  if (Y.rows() != B) return r;
  const Index nout = Y.cols();
  const Matrix<double> U = detail::uniform(B * K, nin, rng), V = detail::uniform(B * K, nout, rng),
                       Ein = detail::uniform(B * K, nin, rng),
                       Dout = detail::uniform(B * K, nout, rng);

  // ---- jvp vs FD along each direction ----
  Matrix<double> Uout(2, 3);
  layer.jvp(theta.data(), X, Y, U, Uout);
  r.require("jvp output size", 1, Uout.rows() == B * K && Uout.cols() == nout ? 0 : 1, "Uout");
  if (Uout.rows() != B * K || Uout.cols() != nout) return r;
  {
    Matrix<double> fd(B * K, nout);
    for (Index k = 0; k < K; ++k) {
      Matrix<double> Uk(B, nin);
      for (Index b = 0; b < B; ++b) Uk.row(b) = U.row(b * K + k);
      const Matrix<double> d =
          (fwd(theta, X + o.eps * Uk) - fwd(theta, X - o.eps * Uk)) / (2 * o.eps);
      for (Index b = 0; b < B; ++b) fd.row(b * K + k) = d.row(b);
    }
    r.compare("jvp", fd.size(), fd.data(), Uout.data(),
              [&](Index i) { return detail::row_entry(i / nout, K, i % nout, "output"); }, o.atol,
              o.rtol, o.scale_atol);
  }

  // ---- vjp: adjoint identity, then FD ----
  Matrix<double> Vin(1, 7);
  layer.vjp(theta.data(), X, Y, V, Vin);
  r.require("vjp output size", 1, Vin.rows() == B * K && Vin.cols() == nin ? 0 : 1, "Vin");
  if (Vin.rows() != B * K || Vin.cols() != nin) return r;
  {
    Vector<double> lhs(B * K), rhs(B * K);
    for (Index i = 0; i < B * K; ++i) {
      lhs(i) = V.row(i).dot(Uout.row(i));
      rhs(i) = Vin.row(i).dot(U.row(i));
    }
    r.compare("adjoint identity <V, jvp U> = <vjp V, U>", B * K, lhs.data(), rhs.data(),
              [&](Index i) {
                return "row " + std::to_string(i) + " (sample " + std::to_string(i / K) +
                       ", direction " + std::to_string(i % K) + ")";
              },
              o.exact_tol, o.exact_tol);
  }
  if (!o.fast) {
    Matrix<double> fd(B * K, nin);
    for (Index i = 0; i < nin; ++i) {
      Matrix<double> Xp = X, Xm = X;
      Xp.col(i).array() += o.eps;
      Xm.col(i).array() -= o.eps;
      const Matrix<double> d = (fwd(theta, Xp) - fwd(theta, Xm)) / (2 * o.eps);
      for (Index q = 0; q < B * K; ++q) fd(q, i) = V.row(q).dot(d.row(q / K));
    }
    r.compare("vjp", fd.size(), fd.data(), Vin.data(),
              [&](Index i) { return detail::row_entry(i / nin, K, i % nin, "input"); }, o.atol,
              o.rtol, o.scale_atol);
  } else {
    Vector<double> fd(o.projections * B * K), got(o.projections * B * K);
    for (int p = 0; p < o.projections; ++p) {
      const Vector<double> wv = random_unit(B * nin, rng);
      const Matrix<double> W = Eigen::Map<const Matrix<double>>(wv.data(), B, nin);
      const Matrix<double> d = (fwd(theta, X + o.eps * W) - fwd(theta, X - o.eps * W)) / (2 * o.eps);
      for (Index q = 0; q < B * K; ++q) {
        fd(p * B * K + q) = V.row(q).dot(d.row(q / K));
        got(p * B * K + q) = Vin.row(q).dot(W.row(q / K));
      }
    }
    r.compare("vjp (projected)", fd.size(), fd.data(), got.data(),
              [&](Index i) {
                const Index q = i % (B * K);
                return "projection " + std::to_string(i / (B * K)) + ", row " +
                       std::to_string(q) + " (sample " + std::to_string(q / K) + ")";
              },
              o.atol, o.rtol, o.scale_atol);
  }

  // ---- param_grad vs FD of Σ <V, f(X; θ)> (accumulates into g0) ----
  if (P > 0) {
    const Vector<double> g0 = detail::uniform_vector(P, rng);
    Vector<double> g = g0;
    layer.param_grad(theta.data(), X, Y, V, g.data());
    auto obj = [&](const Vector<double>& th) {
      const Matrix<double> y = fwd(th, X);
      double s = 0;
      for (Index q = 0; q < B * K; ++q) s += V.row(q).dot(y.row(q / K));
      return s;
    };
    detail::compare_param_gradient(r, "param_grad", names, theta, Vector<double>(g - g0), obj, o,
                                   rng);
    detail::require_untouched(r, "param_grad leaves non-trainable entries", names, g0, g);
  }

  // ---- second_order vs FD of Q(θ, X) = Σ <Dout, jvp(θ, X; Ein)> ----
  {
    const Vector<double> g0 = detail::uniform_vector(P, rng);
    Vector<double> g2 = g0;
    const Matrix<double> Xbar0 = detail::uniform(B, nin, rng);
    Matrix<double> Xbar = Xbar0;
    layer.second_order(theta.data(), X, Y, Ein, Dout, g2.data(), Xbar);
    auto Q = [&](const Vector<double>& th, const Matrix<double>& x) {
      Matrix<double> y, u;
      layer.forward(th.data(), x, y);
      layer.jvp(th.data(), x, y, Ein, u);
      return detail::dot(Dout, u);
    };
    if (P > 0) {
      detail::compare_param_gradient(
          r, "second_order dQ/dθ", names, theta, Vector<double>(g2 - g0),
          [&](const Vector<double>& th) { return Q(th, X); }, o, rng);
      detail::require_untouched(r, "second_order leaves non-trainable entries", names, g0, g2);
    }
    const Matrix<double> dX = Xbar - Xbar0;
    Matrix<double> xv = X;
    auto qx = [&] { return Q(theta, xv); };
    if (!o.fast) {
      const Vector<double> fd = central_gradient(xv.data(), xv.size(), o.eps, qx);
      r.compare("second_order dQ/dX", dX.size(), fd.data(), dX.data(),
                [&](Index i) {
                  return "X[" + std::to_string(i / nin) + "," + std::to_string(i % nin) + "]";
                },
                o.atol, o.rtol, o.scale_atol);
    } else {
      Vector<double> fd(o.projections), got(o.projections);
      for (int p = 0; p < o.projections; ++p) {
        const Vector<double> wv = random_unit(B * nin, rng);
        const Matrix<double> W = Eigen::Map<const Matrix<double>>(wv.data(), B, nin);
        double s = 0;
        fd(p) = central_difference(s, o.eps, [&] { return Q(theta, X + s * W); });
        got(p) = detail::dot(dX, W);
      }
      r.compare("second_order dQ/dX (projected)", o.projections, fd.data(), got.data(),
                [](Index p) { return "projection " + std::to_string(p); }, o.atol, o.rtol,
                o.scale_atol);
    }
  }
  return r;
}

/// Binds `layer` to in_shape (if it needs it), draws θ = init(θ) + U(−noise, noise) and
/// X ~ U(input_lo, input_hi) (B x in) from o.seed, and checks every rule at them.
template <nn::Layer L>
Report check_layer(L layer, const Shape& in_shape, const LayerOptions& o = {}) {
  if constexpr (nn::BindsInputShape<L>) layer.bind(in_shape);
  (void)layer.output_shape(in_shape);  // throws ShapeError naming the layer on a wrong shape
  std::mt19937_64 rng(o.seed + 0x9e3779b97f4a7c15ULL);
  Vector<double> theta(layer.num_params());
  layer.init(theta.data(), rng);
  std::uniform_real_distribution<double> u(-o.param_noise, o.param_noise);
  for (Index i = 0; i < theta.size(); ++i) theta(i) += u(rng);
  const Matrix<double> X = detail::uniform(o.B, in_shape.size(), rng, o.input_lo, o.input_hi);
  return check_layer(layer, theta, X, o);
}

}  // namespace jacnet::check
