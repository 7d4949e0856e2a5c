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
// (see tape.hpp). Derivatives at kinks follow derivatives.hpp (relu'(0) = 0, abs'(0) = 0, ties of
// min/max pick the first argument, ...). `Var<T>` is an Eigen scalar (NumTraits below); Eigen
// reaches the functions through ADL (call them unqualified: `exp(x)`, not `std::exp(x)`).
//
// Parts: var_expression.hpp (VarExpr and the rev:: helpers), var_scalar.hpp (Var, VarStatement,
// arithmetic, comparisons, NumTraits), var_functions.hpp (elementary functions); matrix products
// as one statement per entry: product.hpp.
#include "jacnet/ad/var_expression.hpp"
#include "jacnet/ad/var_functions.hpp"
#include "jacnet/ad/var_scalar.hpp"

#include "jacnet/ad/product.hpp"
