// Per-sample input Jacobians of an MLP: the full Jacobians by reverse and forward mode, the
// Jacobian row of each sample's predicted class, and random projections vᵀJ.
//
//   ./example_mlp_jacobian
#include <cstdio>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

int main() {
  using T = float;
  using Net = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
  Net net(Shape{784}, nn::Dense<T>(784, 256), nn::Tanh<T>(), nn::Dense<T>(256, 256), nn::Tanh<T>(),
          nn::Dense<T>(256, 10));
  net.init(/*seed=*/1);
  std::printf("%s%lld parameters\n", net.summary().c_str(),
              static_cast<long long>(net.num_params()));

  const Index B = 128, K = net.output_size(), D = net.input_size();
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  Matrix<T> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = u(rng);

  // Full per-sample Jacobians: (B*K) x D, row b*K+k = ∂y_k/∂x of sample b.
  nn::ModeWorkspace<T> ws;  // reuse across calls: no allocation after the first
  Matrix<T> Jrev, Jfwd;
  nn::jacrev(net, X, ws, Jrev);
  nn::jacfwd(net, X, ws, Jfwd);
  std::printf("J: %lld x %lld, max |jacrev - jacfwd| = %.3g\n", static_cast<long long>(Jrev.rows()),
              static_cast<long long>(Jrev.cols()), double((Jrev - Jfwd).cwiseAbs().maxCoeff()));
  std::printf("jacobian() uses %s mode (K = %lld outputs, D = %lld inputs)\n",
              nn::jacobian_uses_reverse(net) ? "reverse" : "forward", static_cast<long long>(K),
              static_cast<long long>(D));
  auto J0 = sample_block(Jrev, 0, K);  // sample 0's 10 x 784 block, no copy
  std::printf("sample 0: ||dy_0/dx|| = %.4f\n", double(J0.row(0).norm()));

  // Rows of selected outputs: each sample's top-1 class (here of the net's own outputs).
  const Matrix<T>& Y = ws.trace.output();
  Matrix<T> top1;
  nn::jacobian_rows(net, X, nn::seeds_top_k(Y, 1), ws, top1);  // B x D
  const auto cls = nn::top_k_indices(Y, 1);
  std::printf(
      "top-1 row of sample 3 (class %lld) equals its row of J: %s\n",
      static_cast<long long>(cls[3]),
      (top1.row(3) - Jrev.row(3 * K + cls[3])).cwiseAbs().maxCoeff() < 1e-5f ? "yes" : "no");

  // Random projections vᵀJ with v uniform on the unit sphere (2 per sample).
  std::mt19937_64 seed_rng(3);
  const Matrix<T> V = nn::seeds_random_unit<T>(B, 2, K, seed_rng);
  Matrix<T> VJ;
  nn::jacobian_rows(net, X, V, ws, VJ);  // (B*2) x D
  std::printf("projections: %lld x %lld; (C/n)·Σ||vᵀJ||² over sample 0 = %.4f, ||J_0||²_F = %.4f\n",
              static_cast<long long>(VJ.rows()), static_cast<long long>(VJ.cols()),
              double(K) / 2.0 * double(VJ.topRows(2).squaredNorm()), double(J0.squaredNorm()));
  return 0;
}
