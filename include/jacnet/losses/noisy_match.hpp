#pragma once
// jacnet/losses/noisy_match.hpp — output matching under Gaussian input noise (data augmentation).
//
// The left-hand side of Proposition 1 (Srinivas & Fleuret 2018), by n draws per sample:
//   FromTeacher: L = (1/B) Σ_b (1/n) Σ_j Σ_i (T_i(x_b + σ z_bj) − S_{o+i}(x_b + σ z_bj))²,
//   FromLabels:  L = (1/B) Σ_b (1/n) Σ_j Σ_i (y_bi − S_i(x_b + σ z_bj))²,  y_b = one-hot(l_b),
// z_bj ~ N(0, I) drawn from the workspace's random source. Proposition 1: E[L] = OutputMatch +
// σ²·JacobianMatch<Full> + O(σ⁴) (exact locally for piecewise-linear nets); Proposition 2 (labels,
// Bishop 1995): E[L] = Σ(y − S)² + σ²·JacobianNorm<Exact> + O(σ⁴). No Jacobian is computed: the
// term runs its own forward (teacher and student) and backward on the B·n noisy inputs; its
// gradient is ∂L/∂S = 2(S − T)/(B n) pushed through one reverse sweep (∂L/∂x sums the draws).
#include <cmath>
#include <sstream>
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Target of NoisyMatch: the teacher net evaluated at the same noisy inputs.
struct FromTeacher {
  static constexpr Needs needs{.teacher_net = true};
  static std::string name() { return ""; }
};
/// Target of NoisyMatch: the one-hot labels (Proposition 2).
struct FromLabels {
  static constexpr Needs needs{.labels = true};
  static std::string name() { return ", FromLabels"; }
};

/// Squared output error at n noisy copies of each input (σ = `sigma`).
template <int n, class Target = FromTeacher>
struct NoisyMatch : Term<NoisyMatch<n, Target>> {
  static_assert(n >= 1, "jacnet::losses::NoisyMatch<n>: n must be at least 1");
  static_assert(std::is_same_v<Target, FromTeacher> || std::is_same_v<Target, FromLabels>,
                "jacnet::losses::NoisyMatch<n, Target>: Target must be FromTeacher or FromLabels");
  static constexpr Needs needs = Needs{.own_passes = true} | Target::needs;
  double sigma = 0.1;
  StudentOffset offset{};

  explicit NoisyMatch(double sigma_, StudentOffset o = {}) : sigma(sigma_), offset(o) {
    JACNET_CHECK(sigma_ >= 0 && std::isfinite(sigma_), ValueError, "NoisyMatch",
                 "sigma must be finite and non-negative (got ", sigma_, ")");
  }

  std::string name() const {
    std::ostringstream os;
    os << "NoisyMatch<" << n << Target::name() << ">";
    return os.str();
  }
  Index prepare(const Sizes& s) const {
    if constexpr (std::is_same_v<Target, FromTeacher>) offset.resolve(s, *this);
    return 0;
  }

  /// Draws the noisy batch, runs teacher and student on it, returns L and adds w·∂L/∂θ to *grad
  /// and w·∂L/∂X to *Xbar (when given).
  template <class Net, class Teacher, class T>
  T run(const Net& net, const Teacher* teacher, const Context<T>& ctx, const Slot& slot,
        OwnPassScratch<T>& s, std::mt19937_64& rng, T w, Vector<T>* grad, Matrix<T>* Xbar) const {
    const Index B = ctx.n.B, D = ctx.n.D, Cs = ctx.n.Cs;
    const Index R = B * n;
    s.X.resize(R, D);
    const T sg = T(sigma);
    for (Index b = 0; b < B; ++b)
      for (Index j = 0; j < n; ++j) {
        T* row = s.X.row(b * n + j).data();
        const T* x = ctx.X->row(b).data();
        for (Index d = 0; d < D; ++d) row[d] = x[d] + sg * T(detail::normal(rng));
      }
    net.forward(s.X, s.pass.trace);
    const Matrix<T>& S = s.pass.trace.output();
    s.Ybar.setZero(R, Cs);
    T total = T(0);
    if constexpr (std::is_same_v<Target, FromTeacher>) {
      teacher->forward(s.X, s.teacher_trace);
      const Matrix<T>& Tt = s.teacher_trace.output();
      const Index Ct = ctx.n.Ct;
      s.Ybar.middleCols(slot.col, Ct) = S.middleCols(slot.col, Ct) - Tt;
    } else {
      detail::check_labels(ctx.labels, B, Cs, *this);
      s.Ybar = S;
      for (Index b = 0; b < B; ++b)
        for (Index j = 0; j < n; ++j) s.Ybar(b * n + j, ctx.labels[std::size_t(b)]) -= T(1);
    }
    total = s.Ybar.squaredNorm() / T(R);
    if (grad) {
      s.Ybar *= T(2) * w / T(R);
      s.pass.batch = R;
      s.pass.M = 0;
      s.pass.delta.resize(Net::num_layers + 1);
      for (auto& d : s.pass.delta)
        if (d.size() > 0) d.resize(0, 0);
      nn::backprop(net, s.pass, s.Ybar, s.empty, std::span<const Matrix<T>>{}, s.g,
                   Xbar ? &s.Xbar : nullptr);
      *grad += s.g;
      if (Xbar)
        for (Index b = 0; b < B; ++b)
          for (Index j = 0; j < n; ++j) Xbar->row(b) += s.Xbar.row(b * n + j);
    }
    return total;
  }
};

}  // namespace jacnet::losses
