// jacobian — the Jacobian of a small tanh layer y = tanh(W x + b) (R⁵ → R³) three ways:
// jacfwd (forward, Dual<double, Chunk> chunks), jacrev (one recording, reverse sweeps) and
// jacobian() (forward when inputs ≤ outputs, reverse otherwise: here 5 > 3, so reverse).
#include <iostream>

#include "jacnet/ad/drivers.hpp"

int main() {
  Eigen::MatrixXd W(3, 5);
  W << 0.2, -0.1, 0.4, 0.0, 0.3,  //
      -0.5, 0.1, 0.2, 0.3, -0.2,  //
      0.1, 0.6, -0.3, 0.2, 0.1;
  Eigen::VectorXd b(3);
  b << 0.1, 0.0, -0.1;
  auto layer = [&](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::Scalar;
    using std::tanh;
    jacnet::Vector<S> a = W.cast<S>() * x + b.cast<S>();
    for (Eigen::Index i = 0; i < a.size(); ++i) a(i) = tanh(a(i));
    return a;
  };
  Eigen::VectorXd x(5);
  x << 1.0, -0.5, 0.25, 2.0, 0.0;
  const jacnet::Matrix<double> Jf = jacnet::jacfwd<2>(layer, x);  // 3 passes of 2 directions
  const jacnet::Matrix<double> Jr = jacnet::jacrev(layer, x);
  const jacnet::Matrix<double> J = jacnet::jacobian(layer, x);
  std::cout << "J (jacobian):\n"
            << J << "\n|jacfwd - jacrev| = " << (Jf - Jr).cwiseAbs().maxCoeff() << "\n";
}
