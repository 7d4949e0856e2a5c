#pragma once
// jacnet/ad/var_scalar.hpp — the reverse-mode scalar Var<T> (value and tape index), VarStatement
// (record a statement operand by operand), arithmetic and comparisons on expressions, printing
// and Eigen's NumTraits. Elementary functions: jacnet/ad/var_functions.hpp; overview: jacnet/ad/var.hpp.
#include <cmath>
#include <cstdint>
#include <ostream>
#include <type_traits>

#include "jacnet/ad/var_expression.hpp"

namespace jacnet {

/// The reverse-mode AD scalar. See the file comment.
template <class T>
class Var {
  static_assert(detail::is_tape_scalar_v<T>,
                "jacnet::Var<T>: T must be float, double or Dual<float or double, N>. What nests: "
                "Var<Dual<T, N>> (reverse over forward, used by hessian() and hvp()), "
                "Dual<Var<T>, N> (forward over reverse), Dual<Dual<T>> (forward over forward), "
                "and the drivers called inside a function being differentiated (gradient, jacrev, "
                "vjp, jacobian switch to forward mode for AD inputs). Var<Var<...>> (reverse over "
                "reverse) and deeper nestings under a Var are not supported.");

 public:
  using rev_scalar = T;
  using value_type = T;
  static constexpr std::size_t n_ops = 1;

  /// The constant 0 (on no tape).
  Var() = default;
  /// A new independent variable with value v on this thread's tape.
  Var(T v) : v_(v) {  // NOLINT(google-explicit-constructor): scalars convert, as for double
    Tape<T>& t = Tape<T>::active();
    idx_ = t.new_variable();
    tag_ = t.tag();
  }
  template <rev::Passive S>
    requires(!std::same_as<std::remove_cvref_t<S>, T>)
  Var(S v) : Var(static_cast<T>(v)) {}  // NOLINT(google-explicit-constructor)
  /// Records one statement: the value of e and its partials with respect to e's Vars.
  template <rev::ExprOf<T> E>
    requires(!std::same_as<std::remove_cvref_t<E>, Var>)
  Var(const E& e) {  // NOLINT(google-explicit-constructor)
    record(e);
  }

  /// A constant (index 0, on no tape, valid on every thread); its adjoint is always 0.
  static Var constant(T v) {
    Var r;
    r.v_ = v;
    return r;
  }

  Var& operator=(T v) { return *this = Var(v); }
  template <rev::Passive S>
    requires(!std::same_as<std::remove_cvref_t<S>, T>)
  Var& operator=(S v) {
    return *this = Var(static_cast<T>(v));
  }
  template <rev::ExprOf<T> E>
    requires(!std::same_as<std::remove_cvref_t<E>, Var>)
  Var& operator=(const E& e) {
    record(e);
    return *this;
  }

  template <class R>
  Var& operator+=(const R& r) {
    return *this = *this + r;
  }
  template <class R>
  Var& operator-=(const R& r) {
    return *this = *this - r;
  }
  template <class R>
  Var& operator*=(const R& r) {
    return *this = *this * r;
  }
  template <class R>
  Var& operator/=(const R& r) {
    return *this = *this / r;
  }

  T value() const { return v_; }
  /// Index of the statement that defined this Var (0 for constants).
  TapeIndex index() const { return idx_; }
  /// Tape id and generation at recording (0 for constants).
  std::uint64_t tag() const { return tag_; }
  bool is_constant() const { return tag_ == 0; }

  /// This Var's adjoint after a reverse sweep (0 for constants). Throws TapeError if the Var is
  /// not valid on this thread's tape.
  T adjoint() const {
    const Tape<T>& t = Tape<T>::active();
    t.check(tag_, idx_, "Var::adjoint");
    return t.adjoint(idx_);
  }
  /// Seed this Var's adjoint (no effect for constants).
  void set_adjoint(T a) const {
    Tape<T>& t = Tape<T>::active();
    t.check(tag_, idx_, "Var::set_adjoint");
    if (idx_ != 0) t.set_adjoint(idx_, a);
  }

 private:
  template <std::size_t N>
  [[gnu::always_inline]] void record(const VarExpr<T, N>& e) {
    Tape<T>& t = Tape<T>::active();
    const std::uint64_t tag = t.tag();
    // Validity of every operand with one branch: all carry the tape's current tag (the common
    // case), else each goes through the full check (older generations, constants, misuse).
    std::uint64_t other = 0;
    for (std::size_t k = 0; k < N; ++k) other |= e.tag[k] ^ tag;
    if (other != 0) [[unlikely]]
      for (std::size_t k = 0; k < N; ++k) t.check(e.tag[k], e.idx[k]);
    auto r = t.begin_statement(N);
    std::size_t n = 1;
    r.index[0] = e.idx[0];
    r.partial[0] = e.d[0];
    // An operand repeated next to itself in the statement (x·x, t·t + u·u, ...) becomes one
    // entry with the summed partial: fewer entries, and no back-to-back updates of one adjoint
    // in the sweep. (Only neighbours are compared, in registers: N − 1 compares.)
    for (std::size_t k = 1; k < N; ++k) {
      if (e.idx[k] == e.idx[k - 1] && e.tag[k] == e.tag[k - 1]) {
        r.partial[n - 1] += e.d[k];
      } else {
        r.index[n] = e.idx[k];
        r.partial[n] = e.d[k];
        ++n;
      }
    }
    idx_ = t.end_statement(n);
    tag_ = tag;
    v_ = e.v;
  }

  template <class U>
  friend class VarStatement;
  template <class U, class Derived>
  friend Eigen::Matrix<Var<U>, Eigen::Dynamic, 1> detail::make_vars(
      const Eigen::MatrixBase<Derived>& x);
  Var(T v, TapeIndex i, std::uint64_t tag) : v_(v), idx_(i), tag_(tag) {}

  T v_ = T(0);
  TapeIndex idx_ = 0;
  std::uint64_t tag_ = 0;
};

/// Records one statement w = value with operands given one by one, (x_k, ∂w/∂x_k): the low-level
/// entry for rules that know their partials (matrix products, custom derivative rules). Between
/// construction and finish() nothing else may be recorded on this thread's tape. Constant
/// operands are skipped; a statement without Var operands yields a constant.
///   VarStatement<double> st(n);                 // room for at most n operands
///   for (k ...) st.add(x[k], dfdx[k]);
///   Var<double> w = st.finish(f_value);
template <class T>
class VarStatement {
 public:
  explicit VarStatement(std::size_t max_operands)
      : tape_(Tape<T>::active()), max_(max_operands) {
    if (max_ > 0) rec_ = tape_.begin_statement(max_);
  }
  VarStatement(const VarStatement&) = delete;
  VarStatement& operator=(const VarStatement&) = delete;
  /// Operand x with partial d (throws TapeError if x is not valid on this thread's tape).
  void add(const Var<T>& x, T d) {
    if (x.tag() == 0) return;
    JACNET_CHECK(n_ < max_, TapeError, "VarStatement::add", "more than the ", max_,
                 " operands announced");
    rec_.push(x.tag(), x.index(), d);
    ++n_;
  }
  /// Commits the statement with value v and returns its Var.
  Var<T> finish(T v) {
    if (n_ == 0) return Var<T>::constant(v);
    const TapeIndex i = tape_.end_statement(n_);
    return Var<T>(v, i, tape_.tag());
  }

 private:
  Tape<T>& tape_;
  typename Tape<T>::Recorder rec_{};
  std::size_t max_ = 0, n_ = 0;
};

/// Every reverse expression uses the overloads below, not elementary.hpp's generic templates.
template <rev::Expr E>
struct custom_elementary<E> : std::true_type {};

// ------------------------------------------------------------------------------------------------
// Arithmetic
// ------------------------------------------------------------------------------------------------

template <rev::Expr A>
JACNET_REV_INLINE auto operator+(const A& a) {
  return rev::unary(a, a.value(), rev::PlusOne{});
}
template <rev::Expr A>
JACNET_REV_INLINE auto operator-(const A& a) {
  return rev::unary(a, -a.value(), rev::MinusOne{});
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto operator+(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  return rev::binary(a, b, T(a.value() + b.value()), rev::PlusOne{}, rev::PlusOne{});
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto operator+(const A& a, S c) {
  using T = rev::scalar_of<A>;
  return rev::unary(a, T(a.value() + static_cast<real_t<T>>(c)), rev::PlusOne{});
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto operator+(S c, const A& a) {
  using T = rev::scalar_of<A>;
  return rev::unary(a, T(static_cast<real_t<T>>(c) + a.value()), rev::PlusOne{});
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto operator-(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  return rev::binary(a, b, T(a.value() - b.value()), rev::PlusOne{}, rev::MinusOne{});
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto operator-(const A& a, S c) {
  using T = rev::scalar_of<A>;
  return rev::unary(a, T(a.value() - static_cast<real_t<T>>(c)), rev::PlusOne{});
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto operator-(S c, const A& a) {
  using T = rev::scalar_of<A>;
  return rev::unary(a, T(static_cast<real_t<T>>(c) - a.value()), rev::MinusOne{});
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto operator*(const A& a, const B& b) {
  const auto av = a.value(), bv = b.value();
  return rev::binary(a, b, av * bv, bv, av);
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto operator*(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const real_t<T> k = static_cast<real_t<T>>(c);
  return rev::unary(a, T(a.value() * k), k);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto operator*(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const real_t<T> k = static_cast<real_t<T>>(c);
  return rev::unary(a, T(k * a.value()), k);
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto operator/(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  const T bv = b.value();
  const T q = a.value() / bv;
  return rev::binary(a, b, q, deriv::div_d1_num(bv), deriv::div_d1_den(bv, q));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto operator/(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const real_t<T> k = static_cast<real_t<T>>(c);
  return rev::unary(a, T(a.value() / k), real_t<T>(1) / k);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto operator/(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const T av = a.value();
  const T q = static_cast<T>(c) / av;
  return rev::unary(a, q, deriv::div_d1_den(av, q));
}

// ------------------------------------------------------------------------------------------------
// Comparisons (on values; never recorded)
// ------------------------------------------------------------------------------------------------

#define JACNET_VAR_COMPARISON(OP)                          \
  template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B> \
  bool operator OP(const A& a, const B& b) {               \
    return a.value() OP b.value();                         \
  }                                                        \
  template <rev::Expr A, rev::Passive S>                   \
  bool operator OP(const A& a, S c) {                      \
    return a.value() OP static_cast<rev::scalar_of<A>>(c); \
  }                                                        \
  template <rev::Passive S, rev::Expr A>                   \
  bool operator OP(S c, const A& a) {                      \
    return static_cast<rev::scalar_of<A>>(c) OP a.value(); \
  }
JACNET_VAR_COMPARISON(==)
JACNET_VAR_COMPARISON(!=)
JACNET_VAR_COMPARISON(<)
JACNET_VAR_COMPARISON(<=)
JACNET_VAR_COMPARISON(>)
JACNET_VAR_COMPARISON(>=)
#undef JACNET_VAR_COMPARISON

template <class T>
std::ostream& operator<<(std::ostream& os, const Var<T>& x) {
  return os << x.value();
}

}  // namespace jacnet

// ------------------------------------------------------------------------------------------------
// Eigen: Var<T> as a scalar. Constants (epsilon, ...) are tape-free Var::constant values; mixing
// Var<T> with T in Eigen expressions yields Var<T>.
// ------------------------------------------------------------------------------------------------
namespace Eigen {
template <class T>
struct NumTraits<jacnet::Var<T>> : jacnet::detail::ad_num_traits<jacnet::Var<T>, T, 1, 2, 4> {};
}  // namespace Eigen
