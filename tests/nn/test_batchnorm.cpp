// Tests of nn::BatchNorm (inference form) for {C}, {C, L} and {C, H, W} inputs: the formula by
// hand; jvp/vjp/param_grad/second_order vs central finite differences and the Dual AD core on
// the trainable parameters (γ, β); running statistics are non-trainable and their gradient
// entries are never touched; the generic (AD-scalar) path equals the SIMD path; thread-count
// independence; shape errors.
//
// (The generic tests/nn/support/layer_check.hpp compares every parameter's gradient with finite
// differences, which would include μ and σ²; here the same three-way checks are restricted to
// the trainable block.)
#include <catch2/catch.hpp>

#include "jacnet/ad/dual.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "support/layer_check.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

namespace {

template <class S, int Dims>
nn::BatchNorm<S, Dims> make_bn(Index C, double eps) {
  return nn::BatchNorm<S, Dims>(C, eps);
}

// Random parameters: γ ∈ ±[0.5, 1.5], β, μ ∈ [−0.5, 0.5], σ² ∈ [0.2, 2].
Vec bn_params(Index C, std::mt19937_64& rng) {
  Vec p(4 * C);
  std::uniform_real_distribution<double> u(0, 1);
  for (Index c = 0; c < C; ++c) {
    p[c] = (u(rng) < 0.5 ? -1 : 1) * (0.5 + u(rng));
    p[C + c] = u(rng) - 0.5;
    p[2 * C + c] = u(rng) - 0.5;
    p[3 * C + c] = 0.2 + 1.8 * u(rng);
  }
  return p;
}

template <int Dims>
void check_batchnorm(const Shape& in, Index B, Index K) {
  const Index C = in[0], n = in.size(), inner = n / C;
  const double eps = 1e-3, h = 1e-6, tol = 1e-7, ad_tol = 1e-11;
  auto bn = make_bn<double, Dims>(C, eps);
  INFO(bn.name() << " on " << in << ", B=" << B << " K=" << K);
  REQUIRE(bn.output_shape(in) == in);
  std::mt19937_64 rng(31);
  const Vec p = bn_params(C, rng);
  const Mat X = random_matrix(B, n, rng), U = random_matrix(B * K, n, rng),
            V = random_matrix(B * K, n, rng), E = random_matrix(B * K, n, rng),
            D = random_matrix(B * K, n, rng);
  auto fwd = [&](const Vec& th, const Mat& x) {
    Mat y;
    bn.forward(th.data(), x, y);
    return y;
  };

  // forward: the formula, element by element
  const Mat Y = fwd(p, X);
  Mat Yref(B, n);
  for (Index b = 0; b < B; ++b)
    for (Index c = 0; c < C; ++c)
      for (Index e = 0; e < inner; ++e)
        Yref(b, c * inner + e) =
            p[c] * (X(b, c * inner + e) - p[2 * C + c]) / std::sqrt(p[3 * C + c] + eps) + p[C + c];
  JACNET_CHECK_CLOSE(Y, Yref, 1e-14, "forward vs γ(x−μ)/√(σ²+ε)+β");

  // jvp vs FD
  Mat Uout, Vin;
  bn.jvp(p.data(), X, Y, U, Uout);
  Mat fd(B * K, n);
  for (Index k = 0; k < K; ++k) {
    Mat Xp = X, Xm = X;
    for (Index b = 0; b < B; ++b) {
      Xp.row(b) += h * U.row(b * K + k);
      Xm.row(b) -= h * U.row(b * K + k);
    }
    const Mat d = (fwd(p, Xp) - fwd(p, Xm)) / (2 * h);
    for (Index b = 0; b < B; ++b) fd.row(b * K + k) = d.row(b);
  }
  JACNET_CHECK_CLOSE(Uout, fd, tol, "jvp vs finite differences");
  // vjp: adjoint identity (A is diagonal, so the FD Jacobian-transpose product is the same check)
  bn.vjp(p.data(), X, Y, V, Vin);
  Mat lhs(B * K, 1), rhs(B * K, 1);
  for (Index r = 0; r < B * K; ++r) {
    lhs(r, 0) = V.row(r).dot(Uout.row(r));
    rhs(r, 0) = Vin.row(r).dot(U.row(r));
  }
  JACNET_CHECK_CLOSE(lhs, rhs, 1e-12, "adjoint identity");
  Mat fdv(B * K, n);
  for (Index i = 0; i < n; ++i) {
    Mat Xp = X, Xm = X;
    Xp.col(i).array() += h;
    Xm.col(i).array() -= h;
    const Mat d = (fwd(p, Xp) - fwd(p, Xm)) / (2 * h);
    for (Index r = 0; r < B * K; ++r) fdv(r, i) = V.row(r).dot(d.row(r / K));
  }
  JACNET_CHECK_CLOSE(Vin, fdv, tol, "vjp vs finite differences");

  // param_grad: trainable block vs FD, running statistics untouched
  const Vec g0 = random_vector(4 * C, rng);
  Vec g = g0;
  bn.param_grad(p.data(), X, Y, V, g.data());
  auto obj = [&](const Vec& th) {
    const Mat y = fwd(th, X);
    double s = 0;
    for (Index r = 0; r < B * K; ++r) s += V.row(r).dot(y.row(r / K));
    return s;
  };
  const Vec fdg = fd_gradient(obj, p, h);
  JACNET_CHECK_CLOSE(Mat((g - g0).head(2 * C)), Mat(fdg.head(2 * C)), tol,
                     "param_grad (γ, β) vs finite differences");
  CHECK(g.tail(2 * C) == g0.tail(2 * C));

  // second_order: dQ/dγ vs FD of Q = Σ <D, jvp(E)>; β, μ, σ² and X̄ untouched
  auto Q = [&](const Vec& th, const Mat& x) {
    Mat y, u;
    bn.forward(th.data(), x, y);
    bn.jvp(th.data(), x, y, E, u);
    return dot(D, u);
  };
  Vec g2 = g0;
  Mat Xbar;
  bn.second_order(p.data(), X, Y, E, D, g2.data(), Xbar);
  const Vec fdq = fd_gradient([&](const Vec& th) { return Q(th, X); }, p, h);
  JACNET_CHECK_CLOSE(Mat((g2 - g0).head(C)), Mat(fdq.head(C)), tol,
                     "second_order dQ/dγ vs finite differences");
  CHECK((g2 - g0).segment(C, C).isZero(0));  // β does not enter A
  CHECK(g2.tail(2 * C) == g0.tail(2 * C));
  REQUIRE(Xbar.rows() == B);
  CHECK(Xbar.isZero(0));

  // Dual<double, 1>: tangents of forward with X̄-tangent U_k and θ-tangent dθ on (γ, β) only
  using D1 = Dual<double, 1>;
  auto dl = make_bn<D1, Dims>(C, eps);
  Vec dp = random_vector(4 * C, rng);
  dp.tail(2 * C).setZero();
  Matrix<D1> pd(1, 4 * C);
  for (Index i = 0; i < 4 * C; ++i) {
    pd(0, i) = D1(p[i]);
    pd(0, i).set_d(0, dp[i]);
  }
  double lhs_ad = 0;
  Mat tang(B * K, n);
  for (Index k = 0; k < K; ++k) {
    Matrix<D1> Xd(B, n), Yd;
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        Xd(b, i) = D1(X(b, i));
        Xd(b, i).set_d(0, U(b * K + k, i));
      }
    // tangent = A U_k + ∂y/∂θ dθ
    dl.forward(pd.data(), Xd, Yd);
    Matrix<D1> Xc(B, n), Yc;
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) Xc(b, i) = D1(X(b, i));
    dl.forward(pd.data(), Xc, Yc);  // θ tangent only
    for (Index b = 0; b < B; ++b)
      for (Index j = 0; j < n; ++j) {
        tang(b * K + k, j) = Yd(b, j).d(0) - Yc(b, j).d(0);
        lhs_ad += V(b * K + k, j) * Yc(b, j).d(0);
      }
  }
  JACNET_CHECK_CLOSE(Uout, tang, ad_tol, "jvp rule vs Dual tangents of forward");
  Mat l(1, 1), r(1, 1);
  l(0, 0) = lhs_ad;
  r(0, 0) = (g - g0).dot(dp);
  JACNET_CHECK_CLOSE(l, r, 1e-10, "param_grad rule vs Dual parameter tangent");

  // Nested Dual: inner tangent E_k, outer tangent dθ (γ, β only) and dX → Σ<D, ∂(A E)>
  using D2 = Dual<D1, 1>;
  auto dl2 = make_bn<D2, Dims>(C, eps);
  const Mat dX = random_matrix(B, n, rng);
  Matrix<D2> pd2(1, 4 * C);
  for (Index i = 0; i < 4 * C; ++i) {
    pd2(0, i) = D2(D1(p[i]));
    pd2(0, i).set_d(0, D1(dp[i]));
  }
  double lhs2 = 0;
  for (Index k = 0; k < K; ++k) {
    Matrix<D2> Xd(B, n), Yd;
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        D1 inner_t(X(b, i));
        inner_t.set_d(0, E(b * K + k, i));
        Xd(b, i) = D2(inner_t);
        Xd(b, i).set_d(0, D1(dX(b, i)));
      }
    dl2.forward(pd2.data(), Xd, Yd);
    for (Index b = 0; b < B; ++b)
      for (Index j = 0; j < n; ++j) lhs2 += D(b * K + k, j) * Yd(b, j).d(0).d(0);
  }
  l(0, 0) = lhs2;
  r(0, 0) = (g2 - g0).dot(dp) + dot(Xbar, dX);
  JACNET_CHECK_CLOSE(l, r, 1e-10, "second_order rule vs nested Dual");

  // Generic path (Dual scalars, zero tangents) reproduces the SIMD path
  Matrix<D1> pc(1, 4 * C);
  for (Index i = 0; i < 4 * C; ++i) pc(0, i) = D1(p[i]);
  Matrix<D1> Xc(B, n), Uc(B * K, n), Vc(B * K, n), Ec(B * K, n), Dc(B * K, n);
  for (Index i = 0; i < X.size(); ++i) Xc.data()[i] = D1(X.data()[i]);
  for (Index i = 0; i < U.size(); ++i) {
    Uc.data()[i] = D1(U.data()[i]);
    Vc.data()[i] = D1(V.data()[i]);
    Ec.data()[i] = D1(E.data()[i]);
    Dc.data()[i] = D1(D.data()[i]);
  }
  Matrix<D1> Yg, Ug, Vg, Xbg;
  dl.forward(pc.data(), Xc, Yg);
  dl.jvp(pc.data(), Xc, Yg, Uc, Ug);
  dl.vjp(pc.data(), Xc, Yg, Vc, Vg);
  Matrix<D1> gg = Matrix<D1>::Zero(1, 4 * C), g2g = Matrix<D1>::Zero(1, 4 * C);
  dl.param_grad(pc.data(), Xc, Yg, Vc, gg.data());
  dl.second_order(pc.data(), Xc, Yg, Ec, Dc, g2g.data(), Xbg);
  Mat gv(4 * C, 1), g2v(4 * C, 1);
  for (Index i = 0; i < 4 * C; ++i) {
    gv(i, 0) = gg(0, i).value();
    g2v(i, 0) = g2g(0, i).value();
  }
  JACNET_CHECK_CLOSE(nn::testing::detail::values(Yg), Y, ad_tol, "generic forward");
  JACNET_CHECK_CLOSE(nn::testing::detail::values(Ug), Uout, ad_tol, "generic jvp");
  JACNET_CHECK_CLOSE(nn::testing::detail::values(Vg), Vin, ad_tol, "generic vjp");
  JACNET_CHECK_CLOSE(gv, Mat(g - g0), ad_tol, "generic param_grad");
  JACNET_CHECK_CLOSE(g2v, Mat(g2 - g0), ad_tol, "generic second_order");
}

}  // namespace

TEST_CASE("BatchNorm rules match the formula, finite differences and scalar AD",
          "[nn][batchnorm]") {
  check_batchnorm<1>(Shape{5}, 4, 2);        // BatchNorm1d on features
  check_batchnorm<1>(Shape{3, 7}, 3, 2);     // BatchNorm1d on {C, L}
  check_batchnorm<2>(Shape{3, 4, 5}, 3, 2);  // BatchNorm2d
  check_batchnorm<2>(Shape{2, 3, 3}, 5, 1);  // K = 1
  check_batchnorm<0>(Shape{4, 2, 3}, 2, 3);  // any rank, K = 3
}

TEST_CASE("BatchNorm parameters: PyTorch names, running stats non-trainable, init",
          "[nn][batchnorm]") {
  nn::BatchNorm2d<double> bn(6);
  CHECK(bn.name() == "BatchNorm2d(6)");
  CHECK(nn::BatchNorm1d<float>(3).name() == "BatchNorm1d(3)");
  CHECK(bn.num_params() == 24);
  const auto info = bn.param_info();
  REQUIRE(info.size() == 4);
  CHECK(info[0].name == "weight");
  CHECK(info[1].name == "bias");
  CHECK(info[2].name == "running_mean");
  CHECK(info[3].name == "running_var");
  CHECK(info[0].trainable);
  CHECK(info[1].trainable);
  CHECK_FALSE(info[2].trainable);
  CHECK_FALSE(info[3].trainable);
  for (const auto& pi : info) CHECK(pi.shape == Shape{6});
  std::mt19937_64 rng(1);
  Vector<double> p(24);
  bn.init(p.data(), rng);
  CHECK(p.segment(0, 6).isOnes(0));
  CHECK(p.segment(6, 6).isZero(0));
  CHECK(p.segment(12, 6).isZero(0));
  CHECK(p.segment(18, 6).isOnes(0));
  // Freshly initialized: y = x / √(1 + ε).
  Matrix<double> X = random_matrix(2, 6 * 4, rng), Y;
  bn.forward(p.data(), X, Y);
  CHECK(rel_err(Y, Mat(X / std::sqrt(1 + 1e-5))) < 1e-15);
}

TEST_CASE("BatchNorm float path matches double", "[nn][batchnorm]") {
  nn::BatchNorm2d<float> bf(6);
  nn::BatchNorm2d<double> bd(6);
  std::mt19937_64 rng(3);
  const Vec p = bn_params(6, rng);
  const Mat X = random_matrix(9, 6 * 5 * 5, rng), V = random_matrix(18, 6 * 5 * 5, rng);
  const Vector<float> pf = p.cast<float>();
  Matrix<float> Yf, Vf;
  Mat Yd, Vd;
  bf.forward(pf.data(), X.cast<float>(), Yf);
  bd.forward(p.data(), X, Yd);
  bf.vjp(pf.data(), X.cast<float>(), Yf, V.cast<float>(), Vf);
  bd.vjp(p.data(), X, Yd, V, Vd);
  CHECK(rel_err(Yf.cast<double>(), Yd) < 1e-5);
  CHECK(rel_err(Vf.cast<double>(), Vd) < 1e-5);
  Vector<float> gf = Vector<float>::Zero(24);
  Vec gd = Vec::Zero(24);
  bf.param_grad(pf.data(), X.cast<float>(), Yf, V.cast<float>(), gf.data());
  bd.param_grad(p.data(), X, Yd, V, gd.data());
  CHECK((gf.cast<double>() - gd).cwiseAbs().maxCoeff() < 1e-4 * gd.cwiseAbs().maxCoeff());
}

TEST_CASE("BatchNorm results do not depend on the thread count", "[nn][batchnorm][threads]") {
  auto make2 = [](auto tag) { return nn::BatchNorm2d<typename decltype(tag)::type>(6); };
  auto make1 = [](auto tag) { return nn::BatchNorm1d<typename decltype(tag)::type>(120); };
  check_thread_independence(make2, Shape{6, 28, 28}, 40, 3);
  check_thread_independence(make1, Shape{120}, 300, 2);
}

TEST_CASE("BatchNorm shape errors name the layer and both shapes", "[nn][batchnorm]") {
  nn::BatchNorm2d<double> bn(6);
  try {
    (void)bn.output_shape(Shape{4, 5, 5});
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    CHECK(m.find("BatchNorm2d(6)") != std::string::npos);
    CHECK(m.find("[4x5x5]") != std::string::npos);
    CHECK(m.find("[CxHxW]") != std::string::npos);
  }
  CHECK_THROWS_AS(bn.output_shape(Shape{6}), ShapeError);  // 2d needs {C,H,W}
  CHECK_THROWS_AS(nn::BatchNorm1d<double>(6).output_shape(Shape{6, 2, 2}), ShapeError);
  CHECK(nn::BatchNorm1d<double>(6).output_shape(Shape{6, 3}) == (Shape{6, 3}));
  Vector<double> p = Vector<double>::Ones(24);
  Matrix<double> X = Matrix<double>::Zero(2, 13), Y;
  CHECK_THROWS_AS(bn.forward(p.data(), X, Y), ShapeError);  // 13 columns, 6 channels
  Matrix<double> X6 = Matrix<double>::Zero(2, 12), V = Matrix<double>::Zero(3, 12), Vin;
  bn.forward(p.data(), X6, Y);
  CHECK_THROWS_AS(bn.vjp(p.data(), X6, Y, V, Vin), ShapeError);  // 3 rows for 2 samples
  CHECK_THROWS_AS(nn::BatchNorm2d<double>(0), ValueError);
  CHECK_THROWS_AS(nn::BatchNorm2d<double>(3, -1.0), ValueError);
}
