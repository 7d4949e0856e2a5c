// ad_recorded — record a function once, then evaluate it and its derivatives at new points.
// f is a logistic-regression negative log-likelihood with one branch (a penalty switched on
// when w0 > 0), recorded at w = x0; replaying at a point on another branch throws BranchError.
#include <iostream>

#include <jacnet/ad.hpp>

int main() {
  using Eigen::Index;
  Eigen::MatrixXd X(6, 3);
  Eigen::VectorXd y(6);
  for (Index i = 0; i < 6; ++i) {
    for (Index j = 0; j < 3; ++j) X(i, j) = std::sin(1.0 + 2.0 * double(i) - double(j));
    y(i) = i % 2;
  }
  const auto nll = [&](const auto& w) -> typename std::decay_t<decltype(w)>::Scalar {
    using S = typename std::decay_t<decltype(w)>::Scalar;
    const jacnet::Vector<S> z = X * w;
    S s = 0.0;
    for (Index i = 0; i < z.size(); ++i) s += jacnet::softplus(z(i)) - y(i) * z(i);
    if (w(0) > 0.0) s += 0.5 * w(0) * w(0);  // a branch: recorded with its outcome
    return s;
  };
  const Eigen::VectorXd x0{{0.5, -0.2, 0.1}};
  const auto F = jacnet::ad::record(nll, x0);
  std::cout << "recorded " << F.size() << " instructions, " << F.comparisons()
            << " comparison(s)\n";
  const Eigen::VectorXd x{{0.3, 0.4, -0.6}};
  const auto g = F.gradient(x);
  std::cout << "f(x) = " << g.value << "\ngradient (replay)  = " << g.gradient.transpose()
            << "\ngradient (drivers) = " << jacnet::gradient(nll, x).gradient.transpose()
            << "\nHessian (replay):\n" << F.hessian(x).hessian << "\n";
  const Eigen::VectorXd other{{-0.3, 0.4, -0.6}};
  std::cout << "same branch at " << other.transpose() << "? " << F.same_branches(other) << "\n";
  try {
    F.gradient(other);
  } catch (const jacnet::BranchError& e) {
    std::cout << e.what() << "\n";
  }
}
