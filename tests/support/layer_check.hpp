#pragma once
// tests/support/layer_check.hpp — shared verification of nn layers (Catch2, double).
//
// check_layer(make, in_shape, opts) checks every rule of the layer made by `make` three ways:
//   1. central finite differences of forward (double), by the public checker
//      jacnet::check::check_layer (include/jacnet/check/layer.hpp): jvp, vjp (and the adjoint
//      identity <V, jvp U> = <vjp V, U> to 1e-12), param_grad and second_order (dθ and dX of
//      Q(θ, X) = Σ <Dout, jvp(θ, X; Ein)>), each |rule − FD| ≤ tol·(1 + |FD|); entries of
//      non-trainable parameters (ParamInfo::trainable = false) must be left untouched;
//   2. the scalar AD core on the SAME forward code: the layer instantiated with
//        Dual<double, 2>: tangents of forward (X seeded with the two direction rows of each sample)
//                         == jvp rule; θ seeded with a random direction: <V, dY> == <g, dθ>;
//        Dual<Dual<double,1>,1>: inner tangent Ein, outer tangent (dθ, dX) of forward gives
//                         d/d(θ,X) of A·Ein, so Σ<Dout, ∂²y> == <g₂, dθ> + <X̄, dX> (second_order);
//      the parameter tangent dθ is zero on non-trainable entries (the trainable-parameter mask,
//      from param_info(), or LayerCheckOptions::trainable when given);
//   3. the generic (non-SIMD) code paths: every rule run on Dual scalars with zero tangents
//      must reproduce the double rules' values.
// `make` is a generic callable: make(type_tag<S>{}) returns the layer with scalar S, e.g.
//   [](auto tag) { using S = typename decltype(tag)::type; return nn::Dense<S>(4, 3); }
// check_thread_independence(make, in_shape, B, K) runs every rule (float and double) with 1 and 2
// OpenMP threads and requires bitwise-equal results.
#include <catch2/catch.hpp>

#include "support/skip.hpp"
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "jacnet/ad/dual.hpp"
#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/layer.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/layer.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace jacnet::nn::testing {

template <class S>
struct type_tag {
  using type = S;
};

using Mat = Matrix<double>;
using Vec = Vector<double>;

/// Uniform(lo, hi) matrix from a seeded generator.
inline Mat random_matrix(Index rows, Index cols, std::mt19937_64& rng, double lo = -1.0,
                         double hi = 1.0) {
  std::uniform_real_distribution<double> d(lo, hi);
  Mat m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}
inline Vec random_vector(Index n, std::mt19937_64& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(n);
  for (Index i = 0; i < n; ++i) v[i] = d(rng);
  return v;
}

/// max_i |a_i − b_i| / (1 + |b_i|); sizes must match (reported as a failure otherwise).
template <class A, class B>
double rel_err(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  double e = 0;
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j)
      e = std::max(e,
                   std::abs(double(a(i, j)) - double(b(i, j))) / (1.0 + std::abs(double(b(i, j)))));
  return e;
}

#define JACNET_CHECK_CLOSE(a, b, tol, what)                   \
  do {                                                        \
    const double err_ = ::jacnet::nn::testing::rel_err(a, b); \
    INFO(what << ": relative error " << err_);                \
    CHECK(err_ <= (tol));                                     \
  } while (0)

/// Central difference of a scalar function at x in every coordinate (check::central_gradient).
inline Vec fd_gradient(const std::function<double(const Vec&)>& f, const Vec& x, double h = 1e-6) {
  Vec xp = x;
  return check::central_gradient(xp.data(), xp.size(), h, [&] { return f(xp); });
}

inline double dot(const Mat& a, const Mat& b) { return (a.array() * b.array()).sum(); }

struct LayerCheckOptions {
  Index B = 3;               ///< samples
  Index K = 2;               ///< directions per sample (the Dual<.,2> check needs K = 2)
  double h = 1e-6;           ///< FD step
  double tol = 1e-6;         ///< relative tolerance of FD comparisons
  double ad_tol = 1e-11;     ///< relative tolerance of AD / generic-path comparisons
  double ad_rule_tol = 1e-9;  ///< relative tolerance of the Dual param_grad/second_order identities
  std::uint64_t seed = 7;    ///< all random data
  double param_noise = 0.1;  ///< θ = init(θ) + U(−noise, noise) (makes biases nonzero)
  double input_lo = -1.0, input_hi = 1.0;
  /// Optional: adjust the random input (e.g. keep it away from kinks or ties).
  std::function<void(Mat&)> adjust_input;
  /// Optional: adjust the random parameters (e.g. keep a variance positive).
  std::function<void(Vec&)> adjust_params;
  /// Trainable-parameter mask, one flag per parameter; empty = from the layer's param_info().
  std::vector<bool> trainable;
};

namespace detail {
template <class L>
void maybe_bind(L& l, const Shape& s) {
  if constexpr (BindsInputShape<L>) l.bind(s);
}
template <class S>
Matrix<S> to_scalar(const Mat& m) {
  Matrix<S> r(m.rows(), m.cols());
  for (Index i = 0; i < m.size(); ++i) r.data()[i] = S(m.data()[i]);
  return r;
}
template <class S>
Mat values(const Matrix<S>& m) {
  Mat r(m.rows(), m.cols());
  for (Index i = 0; i < m.size(); ++i) r.data()[i] = value_of(m.data()[i]);
  return r;
}
}  // namespace detail

/// Checks forward/jvp/vjp/param_grad/second_order of one layer (see the header comment).
template <class Make>
void check_layer(Make make, const Shape& in_shape, const LayerCheckOptions& o = {}) {
  auto layer = make(type_tag<double>{});
  detail::maybe_bind(layer, in_shape);
  const Shape out_shape = layer.output_shape(in_shape);
  const Index B = o.B, K = o.K, nin = in_shape.size(), nout = out_shape.size();
  const Index P = layer.num_params();
  INFO("layer " << layer.name() << " in " << in_shape << " out " << out_shape);

  std::mt19937_64 rng(o.seed);
  Vec p(P);
  layer.init(p.data(), rng);
  if (P > 0) p += random_vector(P, rng, -o.param_noise, o.param_noise);
  if (o.adjust_params) o.adjust_params(p);
  Mat X = random_matrix(B, nin, rng, o.input_lo, o.input_hi);
  if (o.adjust_input) o.adjust_input(X);
  const Mat U = random_matrix(B * K, nin, rng);
  const Mat V = random_matrix(B * K, nout, rng);
  const Mat Ein = random_matrix(B * K, nin, rng);
  const Mat Dout = random_matrix(B * K, nout, rng);

  // ---- 1. finite differences: the public checker ----
  {
    check::LayerOptions lo;
    lo.K = K;
    lo.eps = o.h;
    lo.atol = o.tol;  // |rule − FD| ≤ tol + tol·|FD|, i.e. tol·(1 + |FD|)
    lo.rtol = o.tol;
    lo.exact_tol = 1e-12;
    lo.seed = o.seed + 1;
    const check::Report report = check::check_layer(layer, p, X, lo);
    INFO(report);
    CHECK(report.ok());
  }

  // The double rules on the directions of the AD comparisons below.
  Mat Y, Uout, Vin, Xbar;
  layer.forward(p.data(), X, Y);
  REQUIRE(Y.rows() == B);
  REQUIRE(Y.cols() == nout);
  layer.jvp(p.data(), X, Y, U, Uout);
  layer.vjp(p.data(), X, Y, V, Vin);
  Vec g2 = Vec::Zero(P);
  layer.second_order(p.data(), X, Y, Ein, Dout, g2.data(), Xbar);
  // dθ directions of the AD checks are zero on non-trainable entries.
  std::vector<bool> trainable = o.trainable;
  if (trainable.empty()) {
    for (const auto& pi : layer.param_info())
      trainable.insert(trainable.end(), static_cast<std::size_t>(pi.shape.size()), pi.trainable);
  }
  REQUIRE(Index(trainable.size()) == P);
  auto masked = [&](Vec d) {
    for (Index i = 0; i < P; ++i)
      if (!trainable[static_cast<std::size_t>(i)]) d[i] = 0;
    return d;
  };

  // ---- scalar AD on the same forward code: Dual<double, 2> ----
  if (K == 2) {
    using D = Dual<double, 2>;
    auto dl = make(type_tag<D>{});
    detail::maybe_bind(dl, in_shape);
    Matrix<D> Xd(B, nin), Yd;
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < nin; ++i) {
        Xd(b, i) = D(X(b, i));
        Xd(b, i).set_d(0, U(b * 2, i));
        Xd(b, i).set_d(1, U(b * 2 + 1, i));
      }
    const Matrix<D> pd = detail::to_scalar<D>(Mat(p.transpose()));
    dl.forward(pd.data(), Xd, Yd);
    Mat tang(B * 2, nout);
    for (Index b = 0; b < B; ++b)
      for (Index j = 0; j < nout; ++j) {
        tang(b * 2, j) = Yd(b, j).d(0);
        tang(b * 2 + 1, j) = Yd(b, j).d(1);
      }
    JACNET_CHECK_CLOSE(detail::values(Yd), Y, o.ad_tol, "Dual forward values vs double forward");
    JACNET_CHECK_CLOSE(Uout, tang, o.ad_tol, "jvp rule vs Dual tangents of forward");
  }
  if (P > 0) {
    using D = Dual<double, 1>;
    auto dl = make(type_tag<D>{});
    detail::maybe_bind(dl, in_shape);
    const Vec dp = masked(random_vector(P, rng));
    Matrix<D> pd(1, P), Yd;
    for (Index i = 0; i < P; ++i) {
      pd(0, i) = D(p[i]);
      pd(0, i).set_d(0, dp[i]);
    }
    dl.forward(pd.data(), detail::to_scalar<D>(X), Yd);
    // <V summed over k, dY> vs <param_grad(V), dθ>
    Vec g = Vec::Zero(P);
    layer.param_grad(p.data(), X, Y, V, g.data());
    double lhs = 0;
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k)
        for (Index j = 0; j < nout; ++j) lhs += V(b * K + k, j) * Yd(b, j).d(0);
    Mat l(1, 1), r(1, 1);
    l(0, 0) = lhs;
    r(0, 0) = g.dot(dp);
    JACNET_CHECK_CLOSE(l, r, o.ad_rule_tol, "param_grad rule vs Dual parameter tangent");
  }
  // ---- second order through nested Dual<Dual<double,1>,1>: inner = Ein_k, outer = (dθ, dX) ----
  {
    using D1 = Dual<double, 1>;
    using D2 = Dual<D1, 1>;
    auto dl = make(type_tag<D2>{});
    detail::maybe_bind(dl, in_shape);
    const Vec dp = masked(random_vector(P, rng));
    const Mat dX = random_matrix(B, nin, rng);
    Matrix<D2> pd(1, std::max<Index>(P, 1));
    for (Index i = 0; i < P; ++i) {
      pd(0, i) = D2(D1(p[i]));
      pd(0, i).set_d(0, D1(dp[i]));
    }
    double lhs = 0;
    for (Index k = 0; k < K; ++k) {
      Matrix<D2> Xd(B, nin), Yd;
      for (Index b = 0; b < B; ++b)
        for (Index i = 0; i < nin; ++i) {
          D1 inner(X(b, i));
          inner.set_d(0, Ein(b * K + k, i));
          D1 outer(dX(b, i));  // the outer tangent's own inner part stays 0
          Xd(b, i) = D2(inner);
          Xd(b, i).set_d(0, outer);
        }
      dl.forward(pd.data(), Xd, Yd);
      for (Index b = 0; b < B; ++b)
        for (Index j = 0; j < nout; ++j) lhs += Dout(b * K + k, j) * Yd(b, j).d(0).d(0);
    }
    Vec g = Vec::Zero(P);
    Mat Xb;
    layer.second_order(p.data(), X, Y, Ein, Dout, g.data(), Xb);
    Mat l(1, 1), r(1, 1);
    l(0, 0) = lhs;
    r(0, 0) = (P > 0 ? g.dot(dp) : 0.0) + dot(Xb, dX);
    JACNET_CHECK_CLOSE(l, r, o.ad_rule_tol,
                       "second_order rule vs nested Dual (forward-over-forward)");
  }

  // ---- generic (non-SIMD) code paths: rules on Dual scalars reproduce the double rules ----
  {
    using D = Dual<double, 1>;
    auto dl = make(type_tag<D>{});
    detail::maybe_bind(dl, in_shape);
    const Matrix<D> pd = detail::to_scalar<D>(Mat(p.transpose()));
    const Matrix<D> Xd = detail::to_scalar<D>(X);
    Matrix<D> Yd, Uo, Vi, Xb;
    dl.forward(pd.data(), Xd, Yd);
    dl.jvp(pd.data(), Xd, Yd, detail::to_scalar<D>(U), Uo);
    dl.vjp(pd.data(), Xd, Yd, detail::to_scalar<D>(V), Vi);
    JACNET_CHECK_CLOSE(detail::values(Uo), Uout, o.ad_tol, "generic-path jvp vs double jvp");
    JACNET_CHECK_CLOSE(detail::values(Vi), Vin, o.ad_tol, "generic-path vjp vs double vjp");
    Matrix<D> gd = Matrix<D>::Zero(1, std::max<Index>(P, 1));
    dl.param_grad(pd.data(), Xd, Yd, detail::to_scalar<D>(V), gd.data());
    Matrix<D> g2d = Matrix<D>::Zero(1, std::max<Index>(P, 1));
    dl.second_order(pd.data(), Xd, Yd, detail::to_scalar<D>(Ein), detail::to_scalar<D>(Dout),
                    g2d.data(), Xb);
    if (P > 0) {
      Vec g = Vec::Zero(P);
      layer.param_grad(p.data(), X, Y, V, g.data());
      JACNET_CHECK_CLOSE(Mat(detail::values(gd).leftCols(P).transpose()), Mat(g), o.ad_tol,
                         "generic-path param_grad vs double");
      JACNET_CHECK_CLOSE(Mat(detail::values(g2d).leftCols(P).transpose()), Mat(g2), o.ad_tol,
                         "generic-path second_order dθ vs double");
    }
    JACNET_CHECK_CLOSE(detail::values(Xb), Xbar, o.ad_tol,
                       "generic-path second_order dX vs double");
  }
}

/// Runs every rule of the layer (float and double, B samples, K directions) with 1 and 2 OpenMP
/// threads and requires bitwise-identical outputs.
template <class Make>
void check_thread_independence(Make make, const Shape& in_shape, Index B, Index K,
                               std::uint64_t seed = 11) {
#ifdef _OPENMP
  auto run = [&](auto tag) {
    using S = typename decltype(tag)::type;
    auto layer = make(tag);
    detail::maybe_bind(layer, in_shape);
    const Index nin = in_shape.size(), nout = layer.output_shape(in_shape).size();
    const Index P = layer.num_params();
    std::mt19937_64 rng(seed);
    Vector<S> p(P);
    layer.init(p.data(), rng);
    const Matrix<S> X = random_matrix(B, nin, rng).cast<S>();
    const Matrix<S> U = random_matrix(B * K, nin, rng).cast<S>();
    const Matrix<S> V = random_matrix(B * K, nout, rng).cast<S>();
    const Matrix<S> V1 = random_matrix(B, nout, rng).cast<S>();
    auto once = [&](int threads) {
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      Matrix<S> Y, Uo, Vi, Xb;
      Vector<S> g = Vector<S>::Zero(P), g1 = Vector<S>::Zero(P);
      layer.forward(p.data(), X, Y);
      layer.jvp(p.data(), X, Y, U, Uo);
      layer.vjp(p.data(), X, Y, V, Vi);
      layer.param_grad(p.data(), X, Y, V1, g1.data());
      layer.param_grad(p.data(), X, Y, V, g.data());
      layer.second_order(p.data(), X, Y, U, V, g.data(), Xb);
      omp_set_num_threads(saved);
      return std::make_tuple(Y, Uo, Vi, Xb, g, g1);
    };
    const auto a = once(1);
    const auto b = once(2);
    INFO(layer.name() << " scalar " << (sizeof(S) == 4 ? "float" : "double"));
    CHECK(std::get<0>(a) == std::get<0>(b));
    CHECK(std::get<1>(a) == std::get<1>(b));
    CHECK(std::get<2>(a) == std::get<2>(b));
    CHECK(std::get<3>(a) == std::get<3>(b));
    CHECK(std::get<4>(a) == std::get<4>(b));
    CHECK(std::get<5>(a) == std::get<5>(b));
  };
  run(type_tag<float>{});
  run(type_tag<double>{});
#else
  JACNET_SKIP("built without OpenMP: thread independence is trivial");
#endif
}

}  // namespace jacnet::nn::testing
