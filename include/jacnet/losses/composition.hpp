#pragma once
// jacnet/losses/composition.hpp — weighted sums of loss terms: `a + b`, `lambda * a`.
//
// A composite is a compile-time tree of primitive terms with weights; the driver walks it with
// `for_each_term(f)`, which calls f(term, w) with the product of the weights on the way down.
// Its value is Σ_t w_t L_t and its adjoints Σ_t w_t ∂L_t/∂(...). The seeds of all terms are
// concatenated per sample, so one Jacobian pass and one second-order backward serve the whole
// loss; `needs` is the union of the terms' needs.
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "jacnet/losses/loss.hpp"
#include "jacnet/losses/term.hpp"

namespace jacnet::losses {

/// a + b.
template <LossExpression A, LossExpression B>
struct Sum : LossBase<Sum<A, B>> {
  static constexpr Needs needs = A::needs | B::needs;
  static constexpr std::size_t num_terms = A::num_terms + B::num_terms;
  A a;
  B b;

  Sum(A a_, B b_) : a(std::move(a_)), b(std::move(b_)) {}
  template <class F>
  void for_each_term(F&& f, double w = 1.0) const {
    a.for_each_term(f, w);
    b.for_each_term(f, w);
  }
  std::string name() const { return a.name() + " + " + b.name(); }
};

/// lambda * a.
template <LossExpression A>
struct Scaled : LossBase<Scaled<A>> {
  static constexpr Needs needs = A::needs;
  static constexpr std::size_t num_terms = A::num_terms;
  double lambda;
  A a;

  Scaled(double l, A a_) : lambda(l), a(std::move(a_)) {}
  template <class F>
  void for_each_term(F&& f, double w = 1.0) const {
    a.for_each_term(f, w * lambda);
  }
  std::string name() const {
    std::string inner = a.name();
    if (A::num_terms > 1) inner = "(" + inner + ")";
    std::ostringstream os;
    os << lambda << " * " << inner;
    return os.str();
  }
};

namespace detail {
/// Anything derived from LossTag (a term or a composite, well-formed or not): the operators take
/// these and then assert the protocol, so a malformed term fails at the `+` with one message.
template <class A>
concept LossTagged = std::is_base_of_v<LossTag, std::remove_cvref_t<A>>;
}  // namespace detail

#define JACNET_LOSS_TERM_PROTOCOL                                                                \
  "is derived from losses::Term but is not a LossTerm: it needs `static constexpr Needs needs`, " \
  "`std::string name() const`, `Index prepare(const Sizes&) const` and `template <class T> T "    \
  "evaluate(const Context<T>&, const Slot&, T w, Adjoints<T>&) const` (losses/term.hpp)"

template <detail::LossTagged A, detail::LossTagged B>
auto operator+(A&& a, B&& b) {
  static_assert(LossExpression<A>, "jacnet::losses: the left operand of + " JACNET_LOSS_TERM_PROTOCOL);
  static_assert(LossExpression<B>, "jacnet::losses: the right operand of + " JACNET_LOSS_TERM_PROTOCOL);
  if constexpr (LossExpression<A> && LossExpression<B>)
    return Sum<std::remove_cvref_t<A>, std::remove_cvref_t<B>>(std::forward<A>(a),
                                                               std::forward<B>(b));
}

template <class S, detail::LossTagged A>
requires std::is_arithmetic_v<S>
auto operator*(S lambda, A&& a) {
  static_assert(LossExpression<A>, "jacnet::losses: the operand of * " JACNET_LOSS_TERM_PROTOCOL);
  if constexpr (LossExpression<A>)
    return Scaled<std::remove_cvref_t<A>>(static_cast<double>(lambda), std::forward<A>(a));
}

template <detail::LossTagged A, class S>
requires std::is_arithmetic_v<S>
auto operator*(A&& a, S lambda) {
  static_assert(LossExpression<A>, "jacnet::losses: the operand of * " JACNET_LOSS_TERM_PROTOCOL);
  if constexpr (LossExpression<A>)
    return Scaled<std::remove_cvref_t<A>>(static_cast<double>(lambda), std::forward<A>(a));
}

#undef JACNET_LOSS_TERM_PROTOCOL

}  // namespace jacnet::losses
