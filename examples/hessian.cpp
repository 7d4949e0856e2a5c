// hessian — the Hessian of f(x) = log(1 + Σ exp(x_i)) (log-sum-exp, whose Hessian is
// diag(p) − p pᵀ with p = softmax(x)) by reverse over forward (Var<Dual<double, K>>), and a
// Hessian-vector product H·u without forming H.
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  auto lse = [](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    using std::exp, std::log;
    S s = 1.0;
    for (Eigen::Index i = 0; i < x.size(); ++i) s += exp(x(i));
    return S(log(s));
  };
  Eigen::VectorXd x(3), u(3);
  x << 0.5, -1.0, 2.0;
  u << 1.0, 1.0, 0.0;
  const auto h = jacnet::hessian(lse, x);
  const auto hv = jacnet::hvp(lse, x, u);
  std::cout << "f(x) = " << h.value << "\ngrad = " << h.gradient.transpose() << "\nH =\n"
            << h.hessian << "\nH u  = " << hv.hvp.transpose() << "\n";
}
