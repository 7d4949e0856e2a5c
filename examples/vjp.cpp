// vjp — vector-Jacobian product vᵀJ of f(x) = [x0·x1, x1·x2, sin(x0)] by one recording and one
// reverse sweep (Var<double>).
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  auto f = [](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    using std::sin;
    jacnet::Vector<S> y(3);
    y << x(0) * x(1), x(1) * x(2), sin(x(0));
    return y;
  };
  Eigen::VectorXd x(3), v(3);
  x << 1.0, 2.0, 3.0;
  v << 1.0, -1.0, 0.5;
  const auto r = jacnet::vjp(f, x, v);
  std::cout << "f(x)   = " << r.value.transpose() << "\nJ(x)ᵀv = " << r.cotangent.transpose()
            << "\n";
}
