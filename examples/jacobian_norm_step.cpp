// One Jacobian-norm regularized training step (Drucker & LeCun 1992; Hoffman, Roberts & Yaida
// 2019): cross-entropy plus λ·‖J‖²_F, the squared Frobenius norm of the input Jacobian of the
// logits, estimated by one random projection per sample (C/n)·‖v̂ᵀJ‖², v̂ uniform on the unit
// sphere. The estimate is unbiased; the exact norm (all C rows) is printed for comparison.
// Proposition 2 of the paper (Bishop 1995): training with input noise of variance σ² adds
// σ²·‖J‖²_F to the squared error, so this penalty is the noise-free form of noise robustness.
//
//   ./example_jacobian_norm_step
#include <cstdio>
#include <random>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

int main() {
  using T = float;
  using Net = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
  const Index D = 32, C = 10, B = 64;
  Net net(Shape{D}, nn::Dense<T>(D, 64), nn::Tanh<T>(), nn::Dense<T>(64, 64), nn::Tanh<T>(),
          nn::Dense<T>(64, C));
  net.init(1);

  std::mt19937_64 rng(2);
  std::normal_distribution<float> normal(0.f, 1.f);
  Matrix<T> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = normal(rng);
  std::vector<int> labels(B);
  for (auto& l : labels) l = static_cast<int>(rng() % C);

  using namespace jacnet::losses;
  const double lambda = 0.1;
  const auto loss = CrossEntropy{} + lambda * JacobianNorm<RandomProjection<1>>{};
  LossWorkspace<T> ws(/*seed=*/3);

  const auto& r = loss.value_and_grad(net, Batch(X, labels), ws);
  const T exact = JacobianNorm<Exact>{}.value(net, Batch(X), ws);
  std::printf("CrossEntropy %.6f, JacobianNorm<RandomProjection<1>> %.6f (exact %.6f)\n",
              double(r.terms[0].value), double(r.terms[1].value), double(exact));
  std::printf("total %.6f, gradient norm %.6f\n", double(r.value), double(r.grad.norm()));

  // Gradient descent on the same batch, a fresh projection every step.
  const T lr = 0.1f;
  for (int step = 1; step <= 20; ++step) {
    const auto& s = loss.value_and_grad(net, Batch(X, labels), ws);
    net.params() -= lr * s.grad;
    if (step % 5 == 0)
      std::printf("step %2d: CE %.5f, exact ||J||^2_F %.5f\n", step,
                  double(CrossEntropy{}.value(net, Batch(X, labels), ws)),
                  double(JacobianNorm<Exact>{}.value(net, Batch(X), ws)));
  }
  return 0;
}
