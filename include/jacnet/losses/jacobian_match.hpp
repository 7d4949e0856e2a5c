#pragma once
// jacnet/losses/jacobian_match.hpp — match the student's input Jacobian rows to the teacher's.
//
// Srinivas & Fleuret 2018. With the selected seed rows s_bk (Select policy; the same seeds for
// both nets, the student's shifted to its matched outputs) and the rows g = s_bkᵀ ∂T/∂x(x_b),
// h = s_bkᵀ ∂S/∂x(x_b) (each 1 x D):
//   NoNorm: L = (c/B) Σ_b Σ_k ‖g_bk − h_bk‖²,                 ∂L/∂h = 2c (h − g) / B
//   L2:     L = (c/B) Σ_b Σ_k ‖g/‖g‖ − h/‖h‖‖²,                ∂L/∂h = (ū − ĥ(ĥᵀū)) / ‖h‖,
//           ū = 2c (ĥ − ĝ) / B, ĥ = h/‖h‖ (norms are sqrt(‖·‖² + 1e-12) so zero rows are finite).
// c = 1 for Full | LabelClass | TeacherTop<k>, c = Ct/n for RandomProjection<n> (then the NoNorm
// value is an unbiased estimate of the Full one). Per-row normalization is the paper's
// ‖∇T/‖∇T‖ − ∇S/‖∇S‖‖² for each selected output.
#include <string>
#include <type_traits>

#include "jacnet/losses/composition.hpp"

namespace jacnet::losses {

/// Normalization of JacobianMatch: none (the paper's CIFAR-100 setting).
struct NoNorm {
  static constexpr bool normalize = false;
  static std::string name() { return "NoNorm"; }
};
/// Per-row L2 normalization of both Jacobian rows (the paper's CIFAR-10 setting).
struct L2 {
  static constexpr bool normalize = true;
  static constexpr double eps = 1e-12;  ///< added to squared norms
  static std::string name() { return "L2"; }
};

/// Squared distance between selected Jacobian rows of teacher and student (mean over the batch).
template <class Select = Full, class Normalize = NoNorm>
struct JacobianMatch : Term<JacobianMatch<Select, Normalize>> {
  static_assert(detail::SeedPolicy<Select>,
                "jacnet::losses::JacobianMatch<Select, Normalize>: Select must be Full, "
                "LabelClass, TeacherTop<k> or RandomProjection<n>");
  static_assert(std::is_same_v<Normalize, NoNorm> || std::is_same_v<Normalize, L2>,
                "jacnet::losses::JacobianMatch<Select, Normalize>: Normalize must be NoNorm or L2");
  static constexpr Needs needs{.labels = Select::uses_labels,
                               .jacobian = true,
                               .teacher_outputs = Select::uses_teacher_outputs,
                               .teacher_seeds = Select::uses_teacher_outputs,
                               .teacher_jacobian = true};
  /// The seed policy: which teacher rows the term reads (TeacherData::record_for).
  using Seeds = Select;
  StudentOffset offset{};

  JacobianMatch() = default;
  explicit JacobianMatch(StudentOffset o) : offset(o) {}

  std::string name() const {
    return "JacobianMatch<" + Select::name() + ", " + Normalize::name() + ">";
  }
  Index prepare(const Sizes& n) const {
    offset.resolve(n, *this);
    const Index K = Select::rows(n.Ct);
    JACNET_CHECK(K <= n.Ct || Select::random, ShapeError, name().c_str(), "selects ", K,
                 " rows but the teacher has only ", n.Ct, " outputs");
    return K;
  }

  template <class T>
  void fill_seeds(const Context<T>& ctx, const Slot& s, Matrix<T>& seeds,
                  std::mt19937_64& rng) const {
    if constexpr (Select::uses_labels) detail::check_labels(ctx.labels, ctx.n.B, ctx.n.Ct, *this);
    for (Index b = 0; b < ctx.n.B; ++b)
      Select::template fill<T>(ctx.rows(seeds, s, b), s.col, ctx.n.Ct, b, ctx.labels, ctx.YT,
                               rng);
  }

  template <class T>
  T evaluate(const Context<T>& ctx, const Slot& s, T w, Adjoints<T>& adj) const {
    using std::sqrt;
    const Index B = ctx.n.B;
    const T c = T(Select::scale(ctx.n.Ct));
    const T g = T(2) * w * c / T(B);
    T total = T(0);
    for (Index b = 0; b < B; ++b) {
      for (Index k = 0; k < s.count; ++k) {
        const auto h = ctx.J->row(ctx.row(s, b, k));
        const auto t = ctx.JT->row(ctx.teacher_row(s, b, k));
        auto hbar = adj.Jbar.row(ctx.row(s, b, k));
        if constexpr (!Normalize::normalize) {
          total += (h - t).squaredNorm();
          hbar += g * (h - t);
        } else {
          const T nh = sqrt(h.squaredNorm() + T(L2::eps));
          const T nt = sqrt(t.squaredNorm() + T(L2::eps));
          using Row = typename std::remove_cv_t<decltype(h)>::PlainObject;
          Row& u = detail::scratch<JacobianMatch, 0, Row>(h.size());
          u = h / nh - t / nt;
          total += u.squaredNorm();
          detail::normalize_adjoint(h, nh, u, hbar, g);
        }
      }
    }
    return c * total / T(B);
  }
};

}  // namespace jacnet::losses
