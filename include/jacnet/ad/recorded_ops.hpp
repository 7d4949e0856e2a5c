#pragma once
// jacnet/ad/recorded_ops.hpp — one recorded instruction (jacnet/ad/traced.hpp's Instr) evaluated
// in any scalar S: `ad::detail::instr_value<S>(I, w)`, the operation dispatch of every replay of
// jacnet::ad::Recorded (values in T, Dual<T, K>, Var<T>, Var<Dual<T, K>>, and the Dual<T, 2>
// local partials of Recorded::gradient()). w[slot] gives the operands; a constant side of a binary
// operation is passed as a plain T. max and min tie to the first argument on every scalar, as
// when recorded. Recording and replay: jacnet/ad/recorded.hpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/traced.hpp"

namespace jacnet::ad::detail {

// max/min with ties to the first argument on every scalar (std::max does the same for T).
template <class X, class Y>
auto max_first(const X& x, const Y& y) {
  if constexpr (std::is_arithmetic_v<X> && std::is_arithmetic_v<Y>)
    return x < y ? y : x;
  else
    return max(x, y);
}
template <class X, class Y>
auto min_first(const X& x, const Y& y) {
  if constexpr (std::is_arithmetic_v<X> && std::is_arithmetic_v<Y>)
    return y < x ? y : x;
  else
    return min(x, y);
}

/// An operand's value: the constant c when the slot is kConst, else the value of w[slot] (a T or
/// a scalar whose value is one).
template <class T, class W>
T operand_value(std::uint32_t slot, T c, const W& w) {
  return slot == kConst ? c : T(value_of(w[slot]));
}

/// The value of instruction I (not a comparison) in scalar S; w[slot] gives the operands.
template <class S, class T, class W>
S instr_value(const Instr<T>& I, const W& w) {
  using std::abs, std::exp, std::log, std::log1p, std::expm1, std::sqrt, std::cbrt, std::sin,
      std::cos, std::tan, std::tanh, std::erf, std::erfc, std::pow, std::atan2, std::hypot,
      std::max, std::min;
  using jacnet::sigmoid, jacnet::softplus, jacnet::relu, jacnet::gelu, jacnet::leaky_relu,
      jacnet::elu;
  // Unary: a constant operand cannot occur (it would have been folded while recording).
  const auto un = [&](auto&& f) { return S(f(w[I.a])); };
  // Binary: a constant side is passed as a plain T (cheaper mixed overloads, no tape entry).
  const auto bin = [&](auto&& f) {
    if (I.a == ad::detail::kConst) return S(f(I.ca, w[I.b]));
    if (I.b == ad::detail::kConst) return S(f(w[I.a], I.cb));
    return S(f(w[I.a], w[I.b]));
  };
  switch (I.op) {
    case Op::Add: return bin([](const auto& x, const auto& y) { return x + y; });
    case Op::Sub: return bin([](const auto& x, const auto& y) { return x - y; });
    case Op::Mul: return bin([](const auto& x, const auto& y) { return x * y; });
    case Op::Div: return bin([](const auto& x, const auto& y) { return x / y; });
    case Op::Pow: return bin([](const auto& x, const auto& y) { return pow(x, y); });
    case Op::Atan2: return bin([](const auto& x, const auto& y) { return atan2(x, y); });
    case Op::Hypot: return bin([](const auto& x, const auto& y) { return hypot(x, y); });
    case Op::Max: return bin([](const auto& x, const auto& y) { return max_first(x, y); });
    case Op::Min: return bin([](const auto& x, const auto& y) { return min_first(x, y); });
    case Op::Neg: return un([](const auto& x) { return -x; });
    case Op::Exp: return un([](const auto& x) { return exp(x); });
    case Op::Log: return un([](const auto& x) { return log(x); });
    case Op::Log1p: return un([](const auto& x) { return log1p(x); });
    case Op::Expm1: return un([](const auto& x) { return expm1(x); });
    case Op::Sqrt: return un([](const auto& x) { return sqrt(x); });
    case Op::Cbrt: return un([](const auto& x) { return cbrt(x); });
    case Op::Abs: return un([](const auto& x) { return abs(x); });
    case Op::Sin: return un([](const auto& x) { return sin(x); });
    case Op::Cos: return un([](const auto& x) { return cos(x); });
    case Op::Tan: return un([](const auto& x) { return tan(x); });
    case Op::Tanh: return un([](const auto& x) { return tanh(x); });
    case Op::Sigmoid: return un([](const auto& x) { return sigmoid(x); });
    case Op::Softplus: return un([](const auto& x) { return softplus(x); });
    case Op::Erf: return un([](const auto& x) { return erf(x); });
    case Op::Erfc: return un([](const auto& x) { return erfc(x); });
    case Op::Relu: return un([](const auto& x) { return relu(x); });
    case Op::Gelu: return un([](const auto& x) { return gelu(x); });
    case Op::LeakyRelu: return un([&](const auto& x) { return leaky_relu(x, I.par); });
    case Op::Elu: return un([&](const auto& x) { return elu(x, I.par); });
    case Op::Compare: break;
  }
  return S();
}

}  // namespace jacnet::ad::detail
