#pragma once
// jacnet/ad/drivers.hpp — derivatives of a function written once over its scalar type.
//
// f is a callable template over the scalar S, taking an Eigen column vector of S (x ∈ Rⁿ) and
// returning an Eigen vector of S (y ∈ Rᵐ) or a scalar S (m = 1):
//     auto f = [](const auto& x) { using S = typename std::decay_t<decltype(x)>::Scalar; ... };
// The drivers call it with S = T (plain), Dual<T, K> (forward), Var<T> (reverse) or
// Var<Dual<T, K>> (second order), T = float or double the scalar of the input x.
//
//   jvp(f, x, u)      y and J·u                 one forward pass with Dual<T, 1>
//   vjp(f, x, v)      y and Jᵀ·v                one recording + one reverse sweep
//   jacfwd<K>(f, x)   J (m × n)                 ⌈n/K⌉ forward passes with Dual<T, K>
//   jacrev(f, x, o)   J                         one recording + ⌈m/o.rev_chunk⌉ vector sweeps
//   jacobian(f, x)    J                         one plain evaluation to learn m, then jacfwd if
//                                               n ≤ m (inputs ≤ outputs) else jacrev
//   gradient(f, x)    f, ∇f                     one recording + one sweep (reverse mode)
//   hessian<K>(f, x)  f, ∇f, ∇²f                ⌈n/K⌉ recordings with Var<Dual<T, K>>, each +
//                                               one sweep with Dual adjoints: x_i's adjoint is
//                                               ∂f/∂x_i + Σ_k (H e_k)_i ε_k (reverse over forward)
//   hvp(f, x, u)      f, ∇f, H·u                one Var<Dual<T, 1>> recording + one sweep
// Memory: jacfwd holds n Dual<T, K> inputs (the chunk width K bounds it); the reverse drivers
// hold one recording (statements of f) plus rev_chunk adjoint lanes per statement. The reverse
// drivers record on this thread's tape and rewind it to where they found it (memory is reused
// across calls). Errors: empty x → ValueError; u/v of the wrong size, a non-scalar f passed to
// gradient/hessian/hvp, outputs whose size changes between passes → ShapeError, naming sizes.
// Result types, JacobianOptions and the helpers shared by the drivers: jacnet/ad/driver_support.hpp.
#include "jacnet/core/third_party.hpp"  // <Eigen/Core> (and why not directly)
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "jacnet/ad/driver_support.hpp"
#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet {

// ------------------------------------------------------------------------------------------------
// Forward mode
// ------------------------------------------------------------------------------------------------

/// f(x) and the Jacobian-vector product J·u, by one forward pass with Dual<T, 1>.
template <class F, class DX, class DU>
auto jvp(F&& f, const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DU>& u) {
  using T = typename DX::Scalar;
  using D = Dual<T, 1>;
  detail::require_generic<std::remove_reference_t<F>, D>();
  detail::check_input(x, "jvp");
  JACNET_CHECK(u.size() == x.size() && u.cols() == 1, ShapeError, "jvp", "direction u has size ",
               u.rows(), " x ", u.cols(), ", input x has size ", x.size());
  Vector<D> xd(x.size());
  for (Index i = 0; i < x.size(); ++i) {
    xd(i) = D(x(i));
    xd(i).set_d(0, static_cast<T>(u(i)));
  }
  const Vector<D> y = detail::eval_vector(f, xd);
  JvpResult<T> r{Vector<T>(y.size()), Vector<T>(y.size())};
  for (Index k = 0; k < y.size(); ++k) {
    r.value(k) = y(k).val;
    r.tangent(k) = y(k).d(0);
  }
  return r;
}

/// The m × n Jacobian by forward mode: directions processed Chunk at a time as Dual<T, Chunk>
/// (⌈n/Chunk⌉ evaluations of f; memory n Dual<T, Chunk> inputs and m outputs). For a scalar f the
/// result is a 1 × n row vector (detail::jacobian_t). A Chunk of 16 or more with n ≤ Chunk/2 runs
/// the narrower Dual<T, Chunk/2> (repeatedly, while Chunk/2 ≥ 8): a larger chunk is never a wider
/// pass.
template <int Chunk = 8, class F, class DX>
auto jacfwd(F&& f, const Eigen::MatrixBase<DX>& x) {
  static_assert(Chunk >= 1, "jacfwd: Chunk must be >= 1");
  using T = typename DX::Scalar;
  using D = Dual<T, Chunk>;
  detail::require_generic<std::remove_reference_t<F>, D>();
  detail::check_input(x, "jacfwd");
  const Index n = x.size();
  using R = std::invoke_result_t<std::remove_reference_t<F>&, const Vector<D>&>;
  // A chunk wider than twice the input carries idle lanes through every operation: the narrower
  // Dual gives the same Jacobian (bitwise: each lane's arithmetic is its own) in the same single
  // pass. Halving stops at the default width 8: jacfwd<8> instantiates f once.
  if constexpr (Chunk >= 16)
    if (n <= Chunk / 2) return detail::jacobian_t<T, R>(jacfwd<Chunk / 2>(f, x));
  Vector<D> xd(n);
  for (Index i = 0; i < n; ++i) xd(i) = D(x(i));
  detail::jacobian_t<T, R> J;
  const T one = detail::constant_of<T>(1), zero = detail::constant_of<T>(0);
  for (Index c0 = 0; c0 < n; c0 += Chunk) {
    const int width = static_cast<int>(std::min<Index>(Chunk, n - c0));
    for (int k = 0; k < width; ++k) xd(c0 + k).set_d(k, one);
    if constexpr (detail::is_eigen_v<R>) {
      const Vector<D> y = f(xd);
      if (c0 == 0) {
        J.resize(y.size(), n);
      } else {
        JACNET_CHECK(y.size() == J.rows(), ShapeError, "jacfwd", "f(x) has size ", y.size(),
                     " in pass ", c0 / Chunk, " but ", J.rows(), " in pass 0");
      }
      for (Index r = 0; r < y.size(); ++r)
        for (int k = 0; k < width; ++k) J(r, c0 + k) = y(r).d(k);
    } else {  // scalar f: one row, no output vector
      const D y = f(xd);
      if (c0 == 0) J.resize(1, n);
      for (int k = 0; k < width; ++k) J(0, c0 + k) = y.d(k);
    }
    for (int k = 0; k < width; ++k) xd(c0 + k).set_d(k, zero);
  }
  return J;
}

// ------------------------------------------------------------------------------------------------
// Reverse mode. With AD inputs (a driver called inside a function being differentiated: a
// gradient inside a gradient, a gradient inside jacfwd) vjp, jacrev, jacobian and gradient switch
// to forward mode over the input scalar (Dual<S, 8>): reverse mode does not nest, forward mode
// nests over every scalar. hessian and hvp need float/double inputs.
// ------------------------------------------------------------------------------------------------

/// f(x) and the vector-Jacobian product Jᵀ·v, by one recording and one reverse sweep.
template <class F, class DX, class DV>
auto vjp(F&& f, const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DV>& v) {
  using T = typename DX::Scalar;
  detail::check_input(x, "vjp");
  if constexpr (!detail::reverse_input_v<T>) {  // nested: forward mode, Jᵀv from J
    const Vector<T> xp = detail::to_vector(x);
    VjpResult<T> r{detail::eval_vector(f, xp), Vector<T>(x.size())};
    JACNET_CHECK(v.size() == r.value.size() && v.cols() == 1, ShapeError, "vjp",
                 "cotangent v has size ", v.rows(), " x ", v.cols(), ", f(x) has size ",
                 r.value.size());
    const Matrix<T> J = jacfwd(f, x);
    for (Index i = 0; i < x.size(); ++i) {
      T s = detail::constant_of<T>(0);
      for (Index k = 0; k < J.rows(); ++k) s += J(k, i) * v(k);
      r.cotangent(i) = s;
    }
    return r;
  } else {
    detail::require_generic<std::remove_reference_t<F>, Var<T>>();
    TapeScope<T> scope;
    Tape<T>& tape = scope.tape();
    const Vector<Var<T>> xv = detail::make_vars<T>(x);
    const Vector<Var<T>> y = detail::eval_vector(f, xv);
    JACNET_CHECK(v.size() == y.size() && v.cols() == 1, ShapeError, "vjp",
                 "cotangent v has size ", v.rows(), " x ", v.cols(), ", f(x) has size ", y.size());
    tape.clear_adjoints(scope.mark());
    for (Index k = 0; k < y.size(); ++k) tape.add_adjoint(y(k).index(), static_cast<T>(v(k)));
    tape.reverse(scope.mark());
    VjpResult<T> r{Vector<T>(y.size()), Vector<T>(x.size())};
    for (Index k = 0; k < y.size(); ++k) r.value(k) = y(k).value();
    for (Index i = 0; i < x.size(); ++i) r.cotangent(i) = tape.adjoint(xv(i).index());
    return r;
  }
}

/// The m × n Jacobian by reverse mode: f is recorded once, then ⌈m/rev_chunk⌉ vector sweeps each
/// carry rev_chunk output seeds (rev_chunk adjoints per statement). Scalar f: a 1 × n row vector.
template <class F, class DX>
auto jacrev(F&& f, const Eigen::MatrixBase<DX>& x, const JacobianOptions& opts = {}) {
  using T = typename DX::Scalar;
  detail::check_input(x, "jacrev");
  JACNET_CHECK(opts.rev_chunk >= 1, ValueError, "jacrev", "rev_chunk must be >= 1, got ",
               opts.rev_chunk);
  if constexpr (!detail::reverse_input_v<T>) {
    return jacfwd(f, x);  // nested: forward mode
  } else {
    detail::require_generic<std::remove_reference_t<F>, Var<T>>();
    using R = std::invoke_result_t<std::remove_reference_t<F>&, const Vector<Var<T>>&>;
    TapeScope<T> scope;
    Tape<T>& tape = scope.tape();
    const auto base = scope.mark();
    const Index n = x.size();
    const Vector<Var<T>> xv = detail::make_vars<T>(x);
    const Vector<Var<T>> y = detail::eval_vector(f, xv);
    const Index m = y.size();
    detail::jacobian_t<T, R> J(m, n);
    for (Index k = 0; k < m; ++k) tape.check(y(k).tag(), y(k).index(), "jacrev");
    if (opts.rev_chunk == 1) {
      for (Index r = 0; r < m; ++r) {
        tape.clear_adjoints(base);
        tape.add_adjoint(y(r).index(), T(1));
        tape.reverse(base);
        for (Index i = 0; i < n; ++i) J(r, i) = tape.adjoint(xv(i).index());
      }
      return J;
    }
    const std::size_t lanes = static_cast<std::size_t>(std::min<Index>(opts.rev_chunk, m));
    const std::size_t len = tape.size() - base.statements;
    std::vector<T> adj(len * lanes);
    for (Index r0 = 0; r0 < m; r0 += static_cast<Index>(lanes)) {
      const Index width = std::min<Index>(static_cast<Index>(lanes), m - r0);
      std::fill(adj.begin(), adj.end(), T(0));
      for (Index l = 0; l < width; ++l) {
        const TapeIndex s = y(r0 + l).index();
        if (s >= base.statements) adj[std::size_t(s - base.statements) * lanes + l] += T(1);
      }
      tape.reverse_lanes(adj.data(), lanes, base);
      for (Index i = 0; i < n; ++i) {
        const T* ai = adj.data() + std::size_t(xv(i).index() - base.statements) * lanes;
        for (Index l = 0; l < width; ++l) J(r0 + l, i) = ai[l];
      }
    }
    return J;
  }
}

/// The Jacobian, forward mode when n ≤ m (inputs ≤ outputs: ⌈n/Chunk⌉ passes) else reverse
/// (one recording, ⌈m/rev_chunk⌉ sweeps). Mode::Auto first evaluates f once in plain T to learn m.
template <int Chunk = 8, class F, class DX>
auto jacobian(F&& f, const Eigen::MatrixBase<DX>& x, const JacobianOptions& opts = {}) {
  using T = typename DX::Scalar;
  detail::check_input(x, "jacobian");
  bool forward = opts.mode == JacobianOptions::Mode::Forward || !detail::reverse_input_v<T>;
  if (opts.mode == JacobianOptions::Mode::Auto && !forward) {
    const Vector<T> xp = detail::to_vector(x);
    const Index m = detail::eval_vector(f, xp).size();
    forward = x.size() <= m;
  }
  if (forward) return jacfwd<Chunk>(f, x);
  return jacrev(f, x, opts);
}

/// f(x) and ∇f(x) for a scalar f, by one recording and one reverse sweep.
template <class F, class DX>
GradientResult<typename DX::Scalar> gradient(F&& f, const Eigen::MatrixBase<DX>& x) {
  using T = typename DX::Scalar;
  detail::check_input(x, "gradient");
  if constexpr (!detail::reverse_input_v<T>) {  // nested: forward mode
    const Vector<T> xp = detail::to_vector(x);
    GradientResult<T> r{detail::eval_scalar(f, xp, "gradient"), Vector<T>(x.size())};
    r.gradient = jacfwd(f, x).transpose();
    return r;
  } else {
    detail::require_generic<std::remove_reference_t<F>, Var<T>>();
    TapeScope<T> scope;
    Tape<T>& tape = scope.tape();
    const Vector<Var<T>> xv = detail::make_vars<T>(x);
    const Var<T> y = detail::eval_scalar(f, xv, "gradient");
    tape.check(y.tag(), y.index(), "gradient");
    tape.clear_adjoints(scope.mark());
    tape.add_adjoint(y.index(), T(1));
    tape.reverse(scope.mark());
    GradientResult<T> r{y.value(), Vector<T>(x.size())};
    for (Index i = 0; i < x.size(); ++i) r.gradient(i) = tape.adjoint(xv(i).index());
    return r;
  }
}

/// f(x), ∇f(x) and ∇²f(x) for a scalar f, by reverse over forward: ⌈n/Chunk⌉ recordings of f
/// over Var<Dual<T, Chunk>> (chunk c: inputs x_i + Σ_k δ_{i,c+k} ε_k, so every recorded partial
/// carries its derivatives along the chunk's Chunk directions), each followed by ONE reverse sweep
/// with Dual adjoints seeded f̄ = 1: the adjoint of x_i is ∂f/∂x_i + Σ_k H_{i,c+k} ε_k, i.e. the
/// gradient and Chunk columns of the Hessian at once. The tape is rewound after each chunk.
template <int Chunk = 8, class F, class DX>
HessianResult<typename DX::Scalar> hessian(F&& f, const Eigen::MatrixBase<DX>& x) {
  static_assert(Chunk >= 1, "hessian: Chunk must be >= 1");
  using T = typename DX::Scalar;
  static_assert(detail::reverse_input_v<T>,
                "jacnet::hessian: x must hold float or double. Inside a function being "
                "differentiated use gradient()/jacfwd() (forward mode for AD inputs), or nest "
                "jacfwd over jacfwd (Dual<Dual<T>>).");
  using D = Dual<T, Chunk>;
  using V = Var<D>;
  detail::require_generic<std::remove_reference_t<F>, V>();
  detail::check_input(x, "hessian");
  const Index n = x.size();
  TapeScope<D> scope;
  Tape<D>& tape = scope.tape();
  HessianResult<T> r{T(0), Vector<T>(n), Matrix<T>(n, n)};
  Vector<V> xv(n);
  for (Index c0 = 0; c0 < n; c0 += Chunk) {
    const int width = static_cast<int>(std::min<Index>(Chunk, n - c0));
    for (Index i = 0; i < n; ++i) {
      D xi(static_cast<T>(x(i)));
      if (i >= c0 && i < c0 + width) xi.set_d(static_cast<int>(i - c0), T(1));
      xv(i) = V(xi);
    }
    const V y = detail::eval_scalar(f, xv, "hessian");
    tape.check(y.tag(), y.index(), "hessian");
    r.value = y.value().val;
    tape.clear_adjoints(scope.mark());
    tape.add_adjoint(y.index(), D(T(1)));
    tape.reverse(scope.mark());
    for (Index i = 0; i < n; ++i) {
      const D a = tape.adjoint(xv(i).index());
      if (c0 == 0) r.gradient(i) = a.val;
      for (int k = 0; k < width; ++k) r.hessian(i, c0 + k) = a.d(k);
    }
    tape.rewind(scope.mark());
  }
  return r;
}

/// f(x), ∇f(x) and the Hessian-vector product ∇²f(x)·u: one recording over Var<Dual<T, 1>>
/// (inputs x + εu) and one reverse sweep with Dual adjoints, whose values are ∇f and tangents H·u.
template <class F, class DX, class DU>
HvpResult<typename DX::Scalar> hvp(F&& f, const Eigen::MatrixBase<DX>& x,
                                   const Eigen::MatrixBase<DU>& u) {
  using T = typename DX::Scalar;
  static_assert(detail::reverse_input_v<T>,
                "jacnet::hvp: x must hold float or double. Inside a function being "
                "differentiated use gradient()/jacfwd() (forward mode for AD inputs), or jvp over "
                "jacfwd (Dual<Dual<T>>).");
  using D = Dual<T, 1>;
  using V = Var<D>;
  detail::require_generic<std::remove_reference_t<F>, V>();
  detail::check_input(x, "hvp");
  JACNET_CHECK(u.size() == x.size() && u.cols() == 1, ShapeError, "hvp", "direction u has size ",
               u.rows(), " x ", u.cols(), ", input x has size ", x.size());
  const Index n = x.size();
  TapeScope<D> scope;
  Tape<D>& tape = scope.tape();
  Vector<V> xv(n);
  for (Index i = 0; i < n; ++i) {
    D xi(static_cast<T>(x(i)));
    xi.set_d(0, static_cast<T>(u(i)));
    xv(i) = V(xi);
  }
  const V y = detail::eval_scalar(f, xv, "hvp");
  tape.check(y.tag(), y.index(), "hvp");
  HvpResult<T> r{y.value().val, Vector<T>(n), Vector<T>(n)};
  tape.clear_adjoints(scope.mark());
  tape.add_adjoint(y.index(), D(T(1)));
  tape.reverse(scope.mark());
  for (Index i = 0; i < n; ++i) {
    const D a = tape.adjoint(xv(i).index());
    r.gradient(i) = a.val;
    r.hvp(i) = a.d(0);
  }
  return r;
}

}  // namespace jacnet
