// A custom layer from a per-sample forward only: nn::AutodiffLayer derives its jvp, vjp,
// parameter gradient and second-order rule with the scalar AD core (Dual numbers), so it works
// in every mode — per-sample Jacobians and Jacobian-matching gradients — next to built-in layers.
// A second version overrides the derived jvp/vjp with a hand-written elementwise rule.
//
//   ./example_custom_layer
#include <cstdio>
#include <random>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/autodiff_layer.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

/// Swish with a learnable slope per feature: y_i = x_i · sigmoid(β_i x_i).
struct Swish {
  Index n;
  Index in_size() const { return n; }
  Index out_size() const { return n; }
  Index num_params() const { return n; }
  std::string name() const { return "Swish(" + std::to_string(n) + ")"; }
  std::vector<nn::ParamInfo> param_info() const { return {{"beta", Shape{n}, true}}; }
  template <class S>
  void init(S* p, std::mt19937_64&) const {
    for (Index i = 0; i < n; ++i) p[i] = S(1.0);
  }
  // The only required code: one sample's forward, templated on the scalar.
  template <class S>
  void operator()(const S* beta, const S* x, S* y) const {
    for (Index i = 0; i < n; ++i) y[i] = x[i] * sigmoid(S(beta[i] * x[i]));
  }
};

/// The same layer with fast batch rules for jvp and vjp (A = diag(σ + βxσ(1−σ)) per sample);
/// param_grad and second_order stay derived by AD.
struct FastSwish : Swish {
  template <class T>
  void jvp(const T* beta, const Matrix<T>& X, const Matrix<T>&, const Matrix<T>& U,
           Matrix<T>& out) const {
    const Index B = X.rows(), K = U.rows() / B;
    out.resize(U.rows(), n);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        const T z = beta[i] * X(b, i), s = T(1) / (T(1) + std::exp(-z));
        const T d = s + z * s * (T(1) - s);
        for (Index k = 0; k < K; ++k) out(b * K + k, i) = d * U(b * K + k, i);
      }
  }
  template <class T>
  void vjp(const T* beta, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& V,
           Matrix<T>& out) const {
    jvp(beta, X, Y, V, out);  // A is diagonal: Aᵀ = A
  }
};

template <class Act>
using Net = nn::Sequential<nn::Dense<double>, nn::AutodiffLayer<double, Act>, nn::Dense<double>>;

template <class Act>
Net<Act> make() {
  Net<Act> net(Shape{8}, nn::Dense<double>(8, 16), nn::AutodiffLayer<double, Act>(Act{{16}}),
               nn::Dense<double>(16, 3));
  net.init(7);
  return net;
}

int main() {
  auto slow = make<Swish>();
  auto fast = make<FastSwish>();
  std::printf("%s", slow.summary().c_str());
  for (const auto& p : slow.named_parameters())
    std::printf("  %s %s\n", p.name.c_str(), p.shape.str().c_str());

  std::mt19937_64 rng(1);
  std::normal_distribution<double> nd;
  Matrix<double> X(4, 8);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = nd(rng);

  // Per-sample Jacobians through the custom layer, both modes, both versions.
  const Matrix<double> Jr = nn::jacrev(slow, X), Jf = nn::jacfwd(slow, X);
  const Matrix<double> Jfast = nn::jacrev(fast, X);
  std::printf("max |jacrev - jacfwd| = %.2e, max |AD rules - fast rules| = %.2e\n",
              (Jr - Jf).cwiseAbs().maxCoeff(), (Jr - Jfast).cwiseAbs().maxCoeff());

  // Gradient of a Jacobian-norm penalty L = Σ ||J_b||²_F (needs the layer's second-order rule,
  // derived by nested Dual numbers), checked against a central difference in one parameter.
  const Matrix<double> seeds = nn::seeds_full<double>(4, 3);
  auto pass = nn::jacobian_pass(slow, X, seeds);
  Vector<double> g;
  nn::backprop(slow, pass, Matrix<double>(), Matrix<double>(2.0 * pass.J()), {}, g);
  const Index i = slow.param_offset(1) + 5;  // β_5 of the custom layer
  auto L = [&](double d) {
    auto n = slow;
    n.params()[i] += d;
    return nn::jacobian_rows(n, X, seeds).squaredNorm();
  };
  const double h = 1e-6, fd = (L(h) - L(-h)) / (2 * h);
  std::printf("dL/dbeta_5: backprop %.8f, finite difference %.8f\n", g[i], fd);
  return 0;
}
