// Check your custom layer: a layer written by hand (every rule, no AD), verified with
// jacnet::check against central finite differences of its forward — alone, inside a net, and
// under a Jacobian-matching loss. A second copy with a typical mistake in its second-order rule
// shows what a failing report looks like. See docs/check.md.
//
//   ./example_check_custom_layer        (exit code 0 when the correct layer passes and the buggy
//                                        one is caught)
#include <cmath>
#include <iostream>
#include <random>

#include "jacnet/check.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"

using namespace jacnet;

/// y_i = tanh(w_i x_i), one learnable slope w_i per feature. With t = 1 − y², per sample:
///   A = diag(w ⊙ t)                     jvp  u_out = w ⊙ t ⊙ u,  vjp  v_in = w ⊙ t ⊙ v
///   param_grad  g_w += Σ_k v_k ⊙ x ⊙ t
///   second_order Q = Σ_k <d_k, w ⊙ t ⊙ e_k>, s = Σ_k d_k ⊙ e_k, dt/dz = −2y·t (z = w x):
///       ∂Q/∂w = s ⊙ (t + w ⊙ (−2y t) ⊙ x),   ∂Q/∂x = s ⊙ w ⊙ (−2y t) ⊙ w
template <class T, bool Buggy = false>
struct SlopeTanh {
  using Scalar = T;
  Index n;
  explicit SlopeTanh(Index features) : n(features) {}
  std::string name() const { return Buggy ? "SlopeTanh (buggy)" : "SlopeTanh"; }
  Shape output_shape(const Shape& in) const {
    JACNET_CHECK(in.size() == n, ShapeError, "SlopeTanh", "input ", in, " is not ", n, " wide");
    return in;
  }
  Index num_params() const { return n; }
  std::vector<nn::ParamInfo> param_info() const { return {{"slope", Shape{n}, true}}; }
  void init(T* w, std::mt19937_64&) const {
    for (Index i = 0; i < n; ++i) w[i] = T(1);
  }
  void forward(const T* w, const Matrix<T>& X, Matrix<T>& Y) const {
    Y.resize(X.rows(), n);
    for (Index b = 0; b < X.rows(); ++b)
      for (Index i = 0; i < n; ++i) Y(b, i) = std::tanh(w[i] * X(b, i));
  }
  void jvp(const T* w, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& U,
           Matrix<T>& Out) const {
    const Index K = U.rows() / X.rows();
    Out.resize(U.rows(), n);
    for (Index r = 0; r < U.rows(); ++r)
      for (Index i = 0; i < n; ++i) {
        const T y = Y(r / K, i);
        Out(r, i) = w[i] * (T(1) - y * y) * U(r, i);
      }
  }
  void vjp(const T* w, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& V,
           Matrix<T>& Out) const {
    jvp(w, X, Y, V, Out);  // A is diagonal
  }
  void param_grad(const T*, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& V,
                  T* g) const {
    const Index K = V.rows() / X.rows();
    for (Index r = 0; r < V.rows(); ++r)
      for (Index i = 0; i < n; ++i) {
        const T y = Y(r / K, i);
        g[i] += V(r, i) * X(r / K, i) * (T(1) - y * y);
      }
  }
  void second_order(const T* w, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& E,
                    const Matrix<T>& D, T* g, Matrix<T>& Xbar) const {
    const Index B = X.rows(), K = E.rows() / B;
    if (Xbar.size() == 0) Xbar.setZero(B, n);  // accumulate into Xbar (zeros when empty)
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        T s = 0;
        for (Index k = 0; k < K; ++k) s += D(b * K + k, i) * E(b * K + k, i);
        const T y = Y(b, i), t = T(1) - y * y, dt = T(-2) * y * t;
        // The typical slip: forgetting that t depends on w too (product rule).
        g[i] += Buggy ? s * t : s * (t + w[i] * dt * X(b, i));
        Xbar(b, i) += s * w[i] * dt * w[i];
      }
  }
};

int main() {
  // 1. The layer alone: every rule at random θ and X (B = 3 samples, K = 2 directions).
  check::LayerOptions lo;
  lo.atol = 1e-7;
  lo.rtol = 1e-7;
  const check::Report good = check::check_layer(SlopeTanh<double>(6), Shape{6}, lo);
  std::cout << good;
  const check::Report bad = check::check_layer(SlopeTanh<double, true>(6), Shape{6}, lo);
  std::cout << bad;
  if (const auto* w = bad.worst())
    std::cout << "worst: " << w->name << " at " << w->worst_entry << " (expected " << w->expected
              << ", got " << w->got << ")\n";

  // 2. Inside a net: Jacobians, jvp/vjp, parameter gradient, Jacobian-row second order.
  using Net = nn::Sequential<nn::Dense<double>, SlopeTanh<double>, nn::Dense<double>>;
  Net net(Shape{4}, nn::Dense<double>(4, 6), SlopeTanh<double>(6), nn::Dense<double>(6, 3));
  net.init(1);
  std::mt19937_64 rng(2);
  std::normal_distribution<double> N(0.0, 1.0);
  Matrix<double> X(5, 4);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = N(rng);
  check::NetOptions no;
  no.atol = 1e-7;
  no.rtol = 1e-7;
  const check::Report in_net = check::check_net(net, X, no);
  std::cout << in_net;

  // 3. Under a loss with a teacher: gradients w.r.t. parameters and inputs (fast mode: random
  //    projections, one pair of loss evaluations each).
  Net teacher = net;
  teacher.init(3);
  const std::vector<int> labels{0, 1, 2, 1, 0};
  check::LossOptions opt;
  opt.fast = true;
  opt.projections = 8;
  opt.eps = 1e-5;
  const auto loss = losses::CrossEntropy{} + losses::JacobianMatch<losses::LabelClass>{};
  const check::Report in_loss = check::check_loss(loss, net, X, labels, &teacher, opt);
  std::cout << in_loss;

  const bool ok = good.ok() && !bad.ok() && in_net.ok() && in_loss.ok();
  std::cout << (ok ? "correct layer passes, buggy layer caught\n" : "unexpected result\n");
  return ok ? 0 : 1;
}
