#pragma once
// jacnet/check/gradcheck.hpp — gradcheck and gradgradcheck of a scalar function f: Rⁿ → R, in the
// spirit of torch.autograd.gradcheck: double, central differences, atol/rtol (check/report.hpp).
//
//   gradcheck(f, x)            ∇f(x) by jacnet's reverse mode (f written generically, as for
//                              jacnet::gradient) against central differences of f in every x_i;
//   gradcheck(f, x, g)         a gradient g you computed yourself against the same differences;
//   gradgradcheck(f, x)        ∇²f(x) by reverse over forward (jacnet::hessian) against central
//                              differences of the reverse-mode gradient, column by column.
// Fast mode (Options::fast): instead of n (or n²) entries, `projections` random unit directions
// u (and v): uᵀg against (f(x + hu) − f(x − hu)) / 2h, and vᵀHu against
// vᵀ(∇f(x + hu) − ∇f(x − hu)) / 2h — one FD pair per projection, whatever n is.
// Entries are named "x[i]" (and "H[i,j]"); projections "projection p".
#include <random>
#include <string>
#include <utility>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/report.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet::check {

namespace detail {
inline std::string projection_name(Index p) { return "projection " + std::to_string(p); }
}  // namespace detail

/// Checks a given gradient g = ∇f(x) against central differences of f (f called on doubles).
template <class F>
Report gradcheck(F&& f, const Vector<double>& x, const Vector<double>& g, const Options& o = {}) {
  JACNET_CHECK(g.size() == x.size(), ShapeError, "check::gradcheck", "gradient has ", g.size(),
               " entries, x has ", x.size());
  Report r("gradcheck of f: R^" + std::to_string(x.size()) + " -> R");
  Vector<double> xv = x;
  auto value = [&] { return jacnet::detail::eval_scalar<double>(f, xv, "check::gradcheck"); };
  if (!o.fast) {
    const Vector<double> fd = central_gradient(xv.data(), xv.size(), o.eps, value);
    r.compare("gradient", x.size(), fd.data(), g.data(),
              [](Index i) { return "x[" + std::to_string(i) + "]"; }, o.atol, o.rtol,
              o.scale_atol);
    return r;
  }
  std::mt19937_64 rng(o.seed);
  Vector<double> expected(o.projections), got(o.projections);
  for (int p = 0; p < o.projections; ++p) {
    const Vector<double> u = random_unit(x.size(), rng);
    double t = 0;  // xv = x + t·u
    auto along = [&] {
      xv = x + t * u;
      return value();
    };
    expected(p) = central_difference(t, o.eps, along);
    got(p) = u.dot(g);
  }
  xv = x;
  r.compare("gradient (uᵀg)", o.projections, expected.data(), got.data(),
            detail::projection_name, o.atol, o.rtol, o.scale_atol);
  return r;
}

/// Checks jacnet's reverse-mode gradient of the generic f against central differences.
template <class F>
Report gradcheck(F&& f, const Vector<double>& x, const Options& o = {}) {
  const Vector<double> g = jacnet::gradient(f, x).gradient;
  return gradcheck(f, x, g, o);
}

/// Checks jacnet's Hessian (reverse over forward) of the generic f against central differences of
/// its reverse-mode gradient; includes gradcheck(f, x) as the first quantity.
template <class F>
Report gradgradcheck(F&& f, const Vector<double>& x, const Options& o = {}) {
  Report r = gradcheck(f, x, o);
  const Index n = x.size();
  const Matrix<double> H = jacnet::hessian(f, x).hessian;
  auto grad_at = [&](const Vector<double>& at) { return jacnet::gradient(f, at).gradient; };
  if (!o.fast) {
    Matrix<double> fd(n, n);
    Vector<double> xv = x;
    for (Index j = 0; j < n; ++j) {
      const double x0 = xv(j);
      xv(j) = x0 + o.eps;
      const Vector<double> gp = grad_at(xv);
      xv(j) = x0 - o.eps;
      const Vector<double> gm = grad_at(xv);
      xv(j) = x0;
      for (Index i = 0; i < n; ++i) fd(i, j) = (gp(i) - gm(i)) / (2 * o.eps);
    }
    r.compare("hessian", n * n, fd.data(), H.data(),
              [n](Index k) { return "H[" + std::to_string(k / n) + "," + std::to_string(k % n) + "]"; },
              o.atol, o.rtol, o.scale_atol);
    return r;
  }
  std::mt19937_64 rng(o.seed + 1);
  Vector<double> expected(o.projections), got(o.projections);
  for (int p = 0; p < o.projections; ++p) {
    const Vector<double> u = random_unit(n, rng), v = random_unit(n, rng);
    const Vector<double> gp = grad_at(x + o.eps * u), gm = grad_at(x - o.eps * u);
    expected(p) = v.dot(gp - gm) / (2 * o.eps);
    got(p) = v.dot(H * u);
  }
  r.compare("hessian (vᵀHu)", o.projections, expected.data(), got.data(),
            detail::projection_name, o.atol, o.rtol, o.scale_atol);
  return r;
}

}  // namespace jacnet::check
