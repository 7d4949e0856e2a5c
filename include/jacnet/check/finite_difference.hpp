#pragma once
// jacnet/check/finite_difference.hpp — central differences in double, the numerical side of
// every checker.
//   central_difference(x, h, value)   perturbs the double x in place (x ± h), calls value() at
//       both points, restores x exactly and returns (value(x + h) − value(x − h)) / 2h
//       (error O(h²·f''') plus rounding O(ε_mach·|f| / h); h = 1e-6 balances them in double).
//   central_gradient(x, n, h, value)  the same for each of n doubles at x[0..n) (n·2 calls).
//   random_unit(n, rng)               a random direction, normalized (fast-mode projections).
#include <cmath>
#include <random>

#include "jacnet/core/tensor.hpp"

namespace jacnet::check {

template <class Value>
double central_difference(double& x, double h, Value&& value) {
  const double x0 = x;
  x = x0 + h;
  const double fp = double(value());
  x = x0 - h;
  const double fm = double(value());
  x = x0;
  return (fp - fm) / (2 * h);
}

template <class Value>
Vector<double> central_gradient(double* x, Index n, double h, Value&& value) {
  Vector<double> g(n);
  for (Index i = 0; i < n; ++i) g(i) = central_difference(x[i], h, value);
  return g;
}

/// Gaussian direction normalized to length 1 (all zeros stay impossible for n > 0).
inline Vector<double> random_unit(Index n, std::mt19937_64& rng) {
  std::normal_distribution<double> N(0.0, 1.0);
  Vector<double> u(n);
  for (Index i = 0; i < n; ++i) u(i) = N(rng);
  const double norm = u.norm();
  if (norm > 0) u /= norm;
  return u;
}

}  // namespace jacnet::check
