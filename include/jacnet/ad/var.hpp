#pragma once
// jacnet/ad/var.hpp — reverse-mode AD scalar `Var<T>` with statement-level expression templates.
//
// A Var is a value and an index on this thread's Tape<T>. Arithmetic on Vars does not touch the
// tape: it builds an expression object `VarExpr<T, N>` holding the value and the N operands with
// their partials, combined as the expression grows (for w = g(u) with u an expression, each
// partial of u is multiplied by g'(u); for g(u, v) the two lists are concatenated, scaled by
// ∂g/∂u and ∂g/∂v: the chain rule applied inside the statement). Constructing or assigning a Var
// from an expression records ONE statement with its N (index, partial) pairs — Adept's design,
// with the expression flattened instead of kept as a tree: flat arrays stay in registers after
// inlining, and everything is held by value, so `auto e = a * b;` or returning `a * b + 1.0` from
// a function is safe. Example: `Var z = sin(x) * y + 2 * x;` records one statement with three
// operands (x: cos(x)·y, y: sin(x), x: 2); the reverse sweep accumulates both entries of x.
//
//   Var<double> x = 1.5, y = -0.5;      // independent variables (statements without operands)
//   Var<double> f = exp(x) * y + x * x;
//   f.set_adjoint(1.0);                 // seed f̄ = 1 (after tape.clear_adjoints() when reusing)
//   Tape<double>::active().reverse();   // x.adjoint() = e^x·y + 2x, y.adjoint() = e^x
//
// `Var()` is the constant 0 and `Var::constant(v)` a constant: they are on no tape (index 0, the
// sink) and may be used on any thread. Every other Var belongs to the tape of the thread that
// recorded it; using it on another thread or after its tape was rewound past it throws TapeError
// (see tape.hpp). Derivatives at kinks follow elementary.hpp (relu'(0) = 0, abs'(0) = 0, ties of
// min/max pick the first argument, ...). `Var<T>` is an Eigen scalar (NumTraits below); Eigen
// reaches the functions through ADL (call them unqualified: `exp(x)`, not `std::exp(x)`).
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"

/// Reverse-mode operators are always inlined: their results (VarExpr, N partials) then stay in
/// registers up to the statement that records them. Without it GCC keeps large instances (the
/// partials of Var<Dual<T, 16>> are 136 bytes each) out of line and copies every intermediate
/// expression through memcpy (57 % of hessian<16>'s instructions on bench_ad's ode).
#define JACNET_REV_INLINE [[gnu::always_inline]] inline

namespace jacnet {

template <class T>
class Var;
namespace detail {
template <class T, class Derived>
Eigen::Matrix<Var<T>, Eigen::Dynamic, 1> make_vars(const Eigen::MatrixBase<Derived>& x);
}  // namespace detail

/// A linearized expression: its value v and its N operands (index, tag) with the partials d of v
/// with respect to them, computed eagerly as the expression is built (a node combines its
/// children's lists, scaling each by the node's local derivative). Flat arrays copy cheaply and
/// stay in registers after inlining, unlike nested expression trees, and the object holds
/// everything by value, so it is safe to keep (`auto e = a * b;`) or to return from a function.
template <class T, std::size_t N>
struct VarExpr {
  using rev_scalar = T;
  static constexpr std::size_t n_ops = N;
  T v;
  std::array<T, N> d;
  std::array<TapeIndex, N> idx;
  std::array<std::uint64_t, N> tag;
  T value() const { return v; }
};

namespace rev {

/// An expression of reverse-mode scalars: Var itself or a VarExpr built from Vars.
template <class E>
concept Expr = requires { typename std::remove_cvref_t<E>::rev_scalar; };
template <class E, class T>
concept ExprOf = Expr<E> && std::same_as<typename std::remove_cvref_t<E>::rev_scalar, T>;
/// A passive operand: a plain arithmetic number.
template <class S>
concept Passive = std::is_arithmetic_v<std::remove_cvref_t<S>>;

template <class E>
using scalar_of = typename std::remove_cvref_t<E>::rev_scalar;
template <class E>
inline constexpr std::size_t ops_of = std::remove_cvref_t<E>::n_ops;
template <class E>
inline constexpr bool is_var_v = std::is_same_v<std::remove_cvref_t<E>, Var<scalar_of<E>>>;

/// Scale factors known to be +1 / −1 at compile time (sums, differences, negation): partials are
/// copied or negated instead of multiplied. For Var<double> this is what the compiler made of
/// `d * 1.0` anyway; for Var<Dual<double, K>> it saves a full Dual product (2K + 1 multiplies,
/// which cannot be folded) per operand and level of the expression.
struct PlusOne {};
struct MinusOne {};

/// The partial c as a T (c: T, a plain real, PlusOne or MinusOne).
template <class T, class C>
[[gnu::always_inline]] inline T as_partial(const C& c) {
  if constexpr (std::is_same_v<C, PlusOne>)
    return T(1);
  else if constexpr (std::is_same_v<C, MinusOne>)
    return T(-1);
  else
    return T(c);
}
/// d·c (a plain real c multiplies a Dual partial lane by lane: cheaper than Dual·Dual).
template <class T, class C>
[[gnu::always_inline]] inline T scaled(const T& d, const C& c) {
  if constexpr (std::is_same_v<C, PlusOne>)
    return d;
  else if constexpr (std::is_same_v<C, MinusOne>)
    return T(-d);
  else
    return T(d * c);
}

/// Writes a's operands scaled by c into r at offset off.
template <class T, std::size_t N, class A, class C>
[[gnu::always_inline]] inline void put(VarExpr<T, N>& r, std::size_t off, const A& a, const C& c) {
  if constexpr (is_var_v<A>) {
    r.d[off] = as_partial<T>(c);
    r.idx[off] = a.index();
    r.tag[off] = a.tag();
  } else {
    for (std::size_t k = 0; k < ops_of<A>; ++k) {
      r.d[off + k] = scaled(a.d[k], c);
      r.idx[off + k] = a.idx[k];
      r.tag[off + k] = a.tag[k];
    }
  }
}

/// f(a) with value v and derivative dv (a T, a plain real, PlusOne or MinusOne): partials of a
/// scaled by dv.
template <class A, class C = scalar_of<A>>
[[gnu::always_inline]] inline auto unary(const A& a, scalar_of<A> v, const C& dv) {
  VarExpr<scalar_of<A>, ops_of<A>> r;
  r.v = v;
  put(r, 0, a, dv);
  return r;
}
/// f(a, b) with value v and partials da, db.
template <class A, class B, class CA = scalar_of<A>, class CB = scalar_of<A>>
[[gnu::always_inline]] inline auto binary(const A& a, const B& b, scalar_of<A> v, const CA& da,
                                          const CB& db) {
  VarExpr<scalar_of<A>, ops_of<A> + ops_of<B>> r;
  r.v = v;
  put(r, 0, a, da);
  put(r, ops_of<A>, b, db);
  return r;
}

}  // namespace rev

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

// ------------------------------------------------------------------------------------------------
// Elementary functions (derivative formulas from elementary.hpp, evaluated on plain values)
// ------------------------------------------------------------------------------------------------

template <rev::Expr A>
JACNET_REV_INLINE auto exp(const A& a) {
  using std::exp;
  const auto x = a.value();
  const auto v = exp(x);
  return rev::unary(a, v, deriv::exp_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto log(const A& a) {
  using std::log;
  const auto x = a.value();
  return rev::unary(a, log(x), deriv::log_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto log1p(const A& a) {
  using std::log1p;
  const auto x = a.value();
  return rev::unary(a, log1p(x), deriv::log1p_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto expm1(const A& a) {
  using std::expm1;
  const auto x = a.value();
  const auto v = expm1(x);
  return rev::unary(a, v, deriv::expm1_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto sqrt(const A& a) {
  using std::sqrt;
  const auto x = a.value();
  const auto v = sqrt(x);
  return rev::unary(a, v, deriv::sqrt_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto cbrt(const A& a) {
  using std::cbrt;
  const auto x = a.value();
  const auto v = cbrt(x);
  return rev::unary(a, v, deriv::cbrt_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto abs(const A& a) {
  using std::abs;
  const auto x = a.value();
  return rev::unary(a, abs(x), deriv::abs_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto fabs(const A& a) {
  return abs(a);
}
template <rev::Expr A>
JACNET_REV_INLINE auto sin(const A& a) {
  using std::sin;
  const auto x = a.value();
  return rev::unary(a, sin(x), deriv::sin_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto cos(const A& a) {
  using std::cos;
  const auto x = a.value();
  return rev::unary(a, cos(x), deriv::cos_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto tan(const A& a) {
  using std::tan;
  const auto x = a.value();
  const auto v = tan(x);
  return rev::unary(a, v, deriv::tan_d1(x, v));
}
template <rev::Expr A>
JACNET_REV_INLINE auto tanh(const A& a) {
  const auto vd = deriv::tanh_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto sigmoid(const A& a) {
  const auto vd = deriv::sigmoid_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto softplus(const A& a) {
  const auto vd = deriv::softplus_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto erf(const A& a) {
  using std::erf;
  const auto x = a.value();
  return rev::unary(a, erf(x), deriv::erf_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto erfc(const A& a) {
  using std::erfc;
  const auto x = a.value();
  return rev::unary(a, erfc(x), deriv::erfc_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto relu(const A& a) {
  using T = rev::scalar_of<A>;
  const T x = a.value();
  return rev::unary(a, x > T(0) ? x : T(0), deriv::relu_d1(x));
}
template <rev::Expr A>
JACNET_REV_INLINE auto leaky_relu(const A& a, real_t<rev::scalar_of<A>> slope = real_t<rev::scalar_of<A>>(0.01)) {
  using T = rev::scalar_of<A>;
  const T x = a.value();
  return rev::unary(a, x > T(0) ? x : T(slope * x), T(deriv::leaky_relu_d1(x, slope)));
}
template <rev::Expr A>
JACNET_REV_INLINE auto elu(const A& a, real_t<rev::scalar_of<A>> alpha = real_t<rev::scalar_of<A>>(1)) {
  const auto vd = deriv::elu_vd(a.value(), alpha);
  return rev::unary(a, vd.f, vd.d);
}
template <rev::Expr A>
JACNET_REV_INLINE auto gelu(const A& a) {
  const auto vd = deriv::gelu_vd(a.value());
  return rev::unary(a, vd.f, vd.d);
}

// ---- two arguments: (expr, expr), (expr, number), (number, expr) ------------------------------

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto pow(const A& a, const B& b) {
  using std::pow;
  const auto x = a.value(), y = b.value();
  const auto v = pow(x, y);
  return rev::binary(a, b, v, deriv::pow_d1_base(x, y, v), deriv::pow_d1_exp(x, v));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto pow(const A& a, S c) {
  using std::pow;
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T v = pow(x, y);
  return rev::unary(a, v, deriv::pow_d1_base(x, y, v));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto pow(S c, const A& a) {
  using std::pow;
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T v = pow(x, y);
  return rev::unary(a, v, deriv::pow_d1_exp(x, v));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto atan2(const A& a, const B& b) {
  using std::atan2;
  const auto y = a.value(), x = b.value();
  return rev::binary(a, b, atan2(y, x), deriv::atan2_d1_y(y, x), deriv::atan2_d1_x(y, x));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto atan2(const A& a, S c) {
  using std::atan2;
  using T = rev::scalar_of<A>;
  const T y = a.value(), x = static_cast<T>(c);
  return rev::unary(a, atan2(y, x), deriv::atan2_d1_y(y, x));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto atan2(S c, const A& a) {
  using std::atan2;
  using T = rev::scalar_of<A>;
  const T y = static_cast<T>(c), x = a.value();
  return rev::unary(a, atan2(y, x), deriv::atan2_d1_x(y, x));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto hypot(const A& a, const B& b) {
  using std::hypot;
  const auto x = a.value(), y = b.value();
  const auto h = hypot(x, y);
  return rev::binary(a, b, h, deriv::hypot_d1(x, h), deriv::hypot_d1(y, h));
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto hypot(const A& a, S c) {
  using std::hypot;
  using T = rev::scalar_of<A>;
  const T x = a.value();
  const T h = hypot(x, static_cast<T>(c));
  return rev::unary(a, h, deriv::hypot_d1(x, h));
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto hypot(S c, const A& a) {
  using std::hypot;
  using T = rev::scalar_of<A>;
  const T y = a.value();
  const T h = hypot(static_cast<T>(c), y);
  return rev::unary(a, h, deriv::hypot_d1(y, h));
}

template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto max(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = b.value();
  const T da = deriv::max_d1_first(x, y);
  return rev::binary(a, b, da != T(0) ? x : y, da, T(1) - da);
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto max(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T da = deriv::max_d1_first(x, y);
  return rev::unary(a, da != T(0) ? x : y, da);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto max(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T dc = deriv::max_d1_first(x, y);
  return rev::unary(a, dc != T(0) ? x : y, T(1) - dc);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto min(const A& a, const B& b) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = b.value();
  const T da = deriv::min_d1_first(x, y);
  return rev::binary(a, b, da != T(0) ? x : y, da, T(1) - da);
}
template <rev::Expr A, rev::Passive S>
JACNET_REV_INLINE auto min(const A& a, S c) {
  using T = rev::scalar_of<A>;
  const T x = a.value(), y = static_cast<T>(c);
  const T da = deriv::min_d1_first(x, y);
  return rev::unary(a, da != T(0) ? x : y, da);
}
template <rev::Passive S, rev::Expr A>
JACNET_REV_INLINE auto min(S c, const A& a) {
  using T = rev::scalar_of<A>;
  const T x = static_cast<T>(c), y = a.value();
  const T dc = deriv::min_d1_first(x, y);
  return rev::unary(a, dc != T(0) ? x : y, T(1) - dc);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto fmax(const A& a, const B& b) {
  return max(a, b);
}
template <rev::Expr A, rev::ExprOf<rev::scalar_of<A>> B>
JACNET_REV_INLINE auto fmin(const A& a, const B& b) {
  return min(a, b);
}

// ---- classification (Eigen's numext reaches these through ADL) --------------------------------
template <rev::Expr A>
bool isfinite(const A& a) {
  return std::isfinite(a.value());
}
template <rev::Expr A>
bool isnan(const A& a) {
  return std::isnan(a.value());
}
template <rev::Expr A>
bool isinf(const A& a) {
  return std::isinf(a.value());
}

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
struct NumTraits<jacnet::Var<T>> : NumTraits<T> {
  using Real = jacnet::Var<T>;
  using NonInteger = jacnet::Var<T>;
  using Nested = jacnet::Var<T>;
  using Literal = jacnet::Var<T>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 1,
    AddCost = 2,
    MulCost = 4
  };
  static Real epsilon() { return Real::constant(NumTraits<T>::epsilon()); }
  static Real dummy_precision() { return Real::constant(NumTraits<T>::dummy_precision()); }
  static Real highest() { return Real::constant(NumTraits<T>::highest()); }
  static Real lowest() { return Real::constant(NumTraits<T>::lowest()); }
  static Real infinity() { return Real::constant(NumTraits<T>::infinity()); }
  static Real quiet_NaN() { return Real::constant(NumTraits<T>::quiet_NaN()); }
};
namespace internal {
/// Eigen's numext::sqrt (norm(), normalized(), ...) on a Var: at exactly 0 the constant 0, so
/// norm() at the zero vector has derivative 0, the minimum-norm subgradient (jacnet::sqrt keeps
/// sqrt'(0) = +inf, which would give 0·inf = NaN in norm()).
template <class T>
struct sqrt_impl<jacnet::Var<T>> {
  static jacnet::Var<T> run(const jacnet::Var<T>& x) {
    if (x.value() == T(0)) return jacnet::Var<T>();
    return jacnet::sqrt(x);
  }
};
}  // namespace internal
}  // namespace Eigen

#include "jacnet/ad/product.hpp"
