#pragma once
// jacnet/losses/output_match.hpp — squared error between student and teacher logits.
//
// The paper's "match activations" (Ba & Caruana 2014) on pre-softmax outputs:
//   L = (1/B) Σ_b Σ_i (T_i(x_b) − S_{o+i}(x_b))²,   ∂L/∂S_{o+i}(x_b) = 2 (S_{o+i} − T_i) / B,
// summed over outputs (as in Proposition 1), mean over the batch. o is the StudentOffset (0 when
// both nets have the same outputs).
#include <string>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Squared error between the student's logits and the teacher's (summed over outputs).
struct OutputMatch : Term<OutputMatch> {
  static constexpr Needs needs{.teacher_outputs = true};
  StudentOffset offset{};

  OutputMatch() = default;
  explicit OutputMatch(StudentOffset o) : offset(o) {}

  std::string name() const { return "OutputMatch"; }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    const Index B = ctx.n.B, Ct = ctx.n.Ct;
    const auto S = ctx.Y->middleCols(s.col, Ct);
    const auto diff = (S - *ctx.YT).eval();
    adj.Ybar.middleCols(s.col, Ct) += (T(2) * w / T(B)) * diff;
    return diff.squaredNorm() / T(B);
  }
};

}  // namespace jacnet::losses
