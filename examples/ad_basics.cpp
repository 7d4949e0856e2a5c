// ad_basics — the Jacobian and the Hessian of small functions, each written once over its scalar
// type, by jacnet's automatic differentiation; both checked against central finite differences.
//   f(x) = [x0·x1 + sin(x2),  exp(x0)·x2²,  tanh(x0 − x1·x2)]     (R³ → R³): Jacobian
//   g(x) = x0²·x1 + x1·x2³ + exp(x0·x2)                          (R³ → R):  gradient, Hessian
#include <cmath>
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  auto f = [](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    using std::exp, std::sin, std::tanh;
    jacnet::Vector<S> y(3);
    y << x(0) * x(1) + sin(x(2)), exp(x(0)) * x(2) * x(2), tanh(x(0) - x(1) * x(2));
    return y;
  };
  auto g = [](const auto& x) {
    using std::exp;
    return x(0) * x(0) * x(1) + x(1) * x(2) * x(2) * x(2) + exp(x(0) * x(2));
  };
  Eigen::VectorXd x(3);
  x << 0.5, -1.0, 2.0;

  const Eigen::IOFormat fmt(6, 0, "  ", "\n", "  [", "]");
  const jacnet::Matrix<double> J = jacnet::jacobian(f, x);  // 3 inputs <= 3 outputs: forward
  const auto H = jacnet::hessian(g, x);                     // reverse over forward
  std::cout << "x = " << x.transpose() << "\n\nJacobian of f at x:\n" << J.format(fmt) << "\n\n";
  std::cout << "g(x) = " << H.value << "\ngradient of g: " << H.gradient.transpose()
            << "\nHessian of g at x:\n"
            << H.hessian.format(fmt) << "\n\n";

  // Central differences (step 1e-6) for comparison.
  double ej = 0, eh = 0;
  for (int i = 0; i < 3; ++i) {
    Eigen::VectorXd xp = x, xm = x;
    xp(i) += 1e-6;
    xm(i) -= 1e-6;
    const Eigen::VectorXd dj = (f(xp) - f(xm)) / 2e-6;
    const Eigen::VectorXd dh =
        (jacnet::gradient(g, xp).gradient - jacnet::gradient(g, xm).gradient) / 2e-6;
    ej = std::max(ej, (J.col(i) - dj).cwiseAbs().maxCoeff());
    eh = std::max(eh, (H.hessian.col(i) - dh).cwiseAbs().maxCoeff());
  }
  std::cout << "max |AD - central differences|: Jacobian " << ej << ", Hessian " << eh << "\n";
  return (ej < 1e-6 && eh < 1e-5) ? 0 : 1;
}
