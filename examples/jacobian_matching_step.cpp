// One Jacobian-matching distillation step (Srinivas & Fleuret 2018): a small tanh student learns
// from a wider teacher with the paper's loss, cross-entropy + output ("activation") matching +
// matching of the label row of the input Jacobian, normalized per row:
//   L = CE(S(x), y) + Σ_i (T_i(x) − S_i(x))² + ‖∇T_y/‖∇T_y‖ − ∇S_y/‖∇S_y‖‖²   (mean over the batch)
// One call gives the value and the gradient w.r.t. all student parameters: one teacher pass
// (outputs and its label-row Jacobian, no gradient), one Jacobian pass of the student and one
// second-order backward. Then a plain gradient-descent update, and the loss again.
//
//   ./example_jacobian_matching_step
#include <cstdio>
#include <random>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

int main() {
  using T = float;
  using Net = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
  const Index D = 32, C = 4, B = 64;
  Net teacher(Shape{D}, nn::Dense<T>(D, 128), nn::Tanh<T>(), nn::Dense<T>(128, 128), nn::Tanh<T>(),
              nn::Dense<T>(128, C));
  Net student(Shape{D}, nn::Dense<T>(D, 16), nn::Tanh<T>(), nn::Dense<T>(16, 16), nn::Tanh<T>(),
              nn::Dense<T>(16, C));
  teacher.init(1);
  student.init(2);

  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  Matrix<T> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = normal(rng);
  std::vector<int> labels(B);
  for (auto& l : labels) l = static_cast<int>(rng() % C);

  using namespace jacnet::losses;
  const auto loss = CrossEntropy{} + OutputMatch{} + JacobianMatch<LabelClass, L2>{};
  LossWorkspace<T> ws(/*seed=*/4);  // keep it across steps: no reallocation

  const auto& r =
      loss.value_and_grad(student, Batch(X, labels, teacher), ws);  // valid until the
                                                                    // next value_and_grad
  std::printf("loss: %s\n", loss.name().c_str());
  const auto names = term_names(loss);
  for (std::size_t i = 0; i < names.size(); ++i)
    std::printf("  %-34s weight %.2f  value %.6f\n", names[i].c_str(), r.terms[i].weight,
                double(r.terms[i].value));
  std::printf(
      "total %.6f, gradient norm %.6f over %lld parameters (%lld Jacobian row per sample)\n",
      double(r.value), double(r.grad.norm()), static_cast<long long>(r.grad.size()),
      static_cast<long long>(ws.plan.M));

  const T lr = 0.05f;
  student.params() -= lr * r.grad;
  const T after = loss.value(student, Batch(X, labels, teacher), ws);
  std::printf("after one gradient step (lr %.2f): %.6f\n", double(lr), double(after));
  return after < r.value ? 0 : 1;
}
