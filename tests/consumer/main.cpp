// A consumer of the installed jacnet package (built by the install_consumer test): per-sample
// input Jacobians of a small MLP and a scalar-AD gradient, through the umbrella header.
#include <jacnet/jacnet.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace jacnet;
  nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>> net(
      Shape{3}, nn::Dense<double>(3, 4), nn::Tanh<double>(), nn::Dense<double>(4, 2));
  net.init(1);
  Matrix<double> X = Matrix<double>::Random(5, 3);
  Matrix<double> J = nn::jacrev(net, X);
  if (J.rows() != 5 * 2 || J.cols() != 3) return 1;
  auto f = [](const auto& x) { return x.squaredNorm(); };
  Eigen::VectorXd x(2);
  x << 1.0, -2.0;
  auto g = gradient(f, x);
  if (std::abs(g.gradient[0] - 2.0) > 1e-12 || std::abs(g.gradient[1] + 4.0) > 1e-12) return 2;
  std::printf("consumer: jacnet found; J is %ldx%ld\n", long(J.rows()), long(J.cols()));
  return 0;
}
