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

#include "jacnet/losses/loss.hpp"

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

template <LossExpression A, LossExpression B>
Sum<std::remove_cvref_t<A>, std::remove_cvref_t<B>> operator+(A&& a, B&& b) {
  return {std::forward<A>(a), std::forward<B>(b)};
}

template <class S, LossExpression A>
requires std::is_arithmetic_v<S> Scaled<std::remove_cvref_t<A>>
operator*(S lambda, A&& a) { return {static_cast<double>(lambda), std::forward<A>(a)}; }

template <LossExpression A, class S>
requires std::is_arithmetic_v<S> Scaled<std::remove_cvref_t<A>>
operator*(A&& a, S lambda) { return {static_cast<double>(lambda), std::forward<A>(a)}; }

}  // namespace jacnet::losses
