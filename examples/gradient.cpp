// gradient — value and gradient of the 6-dimensional Rosenbrock function by reverse mode (one
// recording on this thread's tape and one adjoint sweep).
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  auto rosenbrock = [](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    S s = 0.0;
    for (Eigen::Index i = 0; i + 1 < x.size(); ++i)
      s +=
          100.0 * (x(i + 1) - x(i) * x(i)) * (x(i + 1) - x(i) * x(i)) + (1.0 - x(i)) * (1.0 - x(i));
    return s;
  };
  Eigen::VectorXd x(6);
  x << -1.2, 1.0, 0.5, 0.8, 1.1, 1.3;
  const auto g = jacnet::gradient(rosenbrock, x);
  std::cout << "f(x)  = " << g.value << "\ngrad  = " << g.gradient.transpose() << "\n";
}
