// jvp — Jacobian-vector product J·u of f(x) = softmax(x) in one forward pass (Dual<double, 1>).
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  auto softmax = [](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    using std::exp;
    jacnet::Vector<S> e(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) e(i) = exp(x(i));
    return jacnet::Vector<S>(e / e.sum());
  };
  Eigen::VectorXd x(4), u(4);
  x << 1.0, 2.0, 0.5, -1.0;
  u << 1.0, 0.0, 0.0, -1.0;
  const auto r = jacnet::jvp(softmax, x, u);
  std::cout << "f(x)  = " << r.value.transpose() << "\nJ(x)u = " << r.tangent.transpose() << "\n";
}
