#pragma once
// jacnet/nn/layer.hpp — what a layer is (the `Layer` concept, `ParamInfo`) and the shared kernels
// every layer's rules are written with.
//
// A layer f(x; θ) maps a per-sample input x (a row of X, B rows) to y. Its rules, with
// A_b = ∂f/∂x at sample b and K directions per sample (rows ordered b*K + k):
//   forward       Y_b = f(X_b; θ)
//   jvp           Uout_{bk} = A_b Uin_{bk}                  (tangents, forward mode)
//   vjp           Vin_{bk}  = A_bᵀ Vout_{bk}                (cotangents, reverse mode)
//   param_grad    g += ∂/∂θ Σ_{b,k} <Vout_{bk}, f(X_b; θ)>
//   second_order  Q = Σ_{b,k} <Dout_{bk}, A_b Ein_{bk}>:  g += ∂Q/∂θ,  Xbar_b += ∂Q/∂X_b
// (see docs/design.md "Why this second-order form" and docs/nn.md for each layer's formulas).
//
// Shared kernels here:
//   gemm(dst, A, B, accumulate)  dst (+)= A·B with dst split into row (or column) blocks whose
//       count depends only on the problem size, never on the thread count; each block is one Eigen
//       GEMM run inside an OpenMP region (so Eigen does not re-split it); small products run whole
//       on the calling thread with Eigen's threading off (EigenSerialScope). Results are therefore
//       bitwise identical for any OMP_NUM_THREADS. Inside a SerialScope (a shard of a pass, see
//       nn/execution.hpp) the product is one Eigen call on the calling thread.
//       Generic scalars (AD types) use a plain loop.
//   simd_map<N>(n, out, op, in...)  out[j] = op(in_0[j], ...) as xsimd loops for float/double
//       (the tail goes through a zero-padded batch, so every element sees the same formula);
//       a plain loop for other scalars. `op` is a generic lambda (called with batches or scalars).
//   parallel_for(n, work, body)  OpenMP static split of [0, n) when `work` is large enough.
#include <algorithm>
#include <array>
#include <concepts>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "jacnet/core/error.hpp"
#include "jacnet/core/gemm.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/execution.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace jacnet::nn {

/// One parameter tensor of a layer, in block order: its name ("weight", "bias", "running_mean"),
/// its shape (Dense weight is {out, in} like torch.nn.Linear) and whether optimizers update it.
struct ParamInfo {
  std::string name;
  Shape shape;
  bool trainable = true;
};

/// How a weighted layer initializes its weights when the net chooses (see Sequential::init):
/// He (normal, std √(2/fan_in)) when the next activation is ReLU-family, Glorot (uniform,
/// ±√(6/(fan_in+fan_out))) otherwise.
enum class InitScheme { Glorot, He };

/// The layer contract of docs/design.md. Output matrices are resized by the rules (callers may
/// pass empty matrices); `g` points at the layer's gradient block (accumulated into, +=).
template <class L>
concept Layer = requires(const L& l, const Shape& s, typename L::Scalar* p,
                         const typename L::Scalar* cp, std::mt19937_64& rng,
                         const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O) {
  typename L::Scalar;
  { l.name() } -> std::convertible_to<std::string>;
  { l.output_shape(s) } -> std::same_as<Shape>;
  { l.num_params() } -> std::convertible_to<Index>;
  { l.param_info() } -> std::same_as<std::vector<ParamInfo>>;
  l.init(p, rng);
  l.forward(cp, M, O);
  l.jvp(cp, M, M, M, O);
  l.vjp(cp, M, M, M, O);
  l.param_grad(cp, M, M, M, p);
  l.second_order(cp, M, M, M, M, p, O);
};

// ---- optional hooks (detected by the net and the modes) ---------------------------------------
/// `void bind(const Shape& in)`: called once by Sequential's constructor (after the shape check)
/// so that layers whose rules need the per-sample input shape (Conv2d, pooling) can store it.
template <class L>
concept BindsInputShape = requires(L& l, const Shape& s) {
  l.bind(s);
};
/// `void init(T* p, rng, InitScheme)`: weighted layers let the net pick He or Glorot.
template <class L>
concept SchemeInit = requires(const L& l, typename L::Scalar* p, std::mt19937_64& rng) {
  l.init(p, rng, InitScheme::He);
};
/// Activations declare `static constexpr bool is_activation = true` and `relu_family`.
template <class L>
concept ActivationLayer = requires {
  requires L::is_activation;
};
/// `vjp_onehot(p, X, Y, cls, M, Vin)`: the vjp of one-hot seeds (row b*M+m of the seed matrix is
/// e_{cls[b*M+m]}) without materializing them; Dense copies weight rows instead of a GEMM.
template <class L>
concept OneHotVjp = requires(const L& l, const typename L::Scalar* p,
                             const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O,
                             const Index* cls) {
  l.vjp_onehot(p, M, M, cls, Index{1}, O);
};
/// `jvp_identity(p, X, Y, Uout)`: the jvp of the per-sample identity tangents (K = in), i.e. the
/// per-sample Jacobian transposed; Dense copies weight columns.
template <class L>
concept IdentityJvp = requires(const L& l, const typename L::Scalar* p,
                               const Matrix<typename L::Scalar>& M, Matrix<typename L::Scalar>& O) {
  l.jvp_identity(p, M, M, O);
};

// -----------------------------------------------------------------------------------------------
// Kernels
// -----------------------------------------------------------------------------------------------

/// float and double take the xsimd / Eigen-GEMM fast paths; every other scalar a plain loop.
template <class T>
inline constexpr bool simd_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// Elementwise work (in scalars) below which loops stay single-threaded. Measured here: for a
/// 32-64-64-4 MLP at batch 128 two threads gain nothing over one even on an idle machine, and
/// they lose a lot when the machine is shared (every fork/join waits for the slowest thread).
inline constexpr double kParallelWork = 131072;
/// GEMMs below this many multiply-adds run on the calling thread.
inline constexpr double kParallelGemmWork = 3e6;

/// body(i) for i in [0, n), split statically across OpenMP threads when work ≥ kParallelWork
/// (never inside a SerialScope or an active parallel region: then on the calling thread).
/// body must write disjoint outputs per i (then results do not depend on the thread count).
template <class Body>
inline void parallel_for(Index n, double work, Body&& body) {
#ifdef _OPENMP
  if (work >= kParallelWork && n > 1 && may_fork()) {
#pragma omp parallel for schedule(static)
    for (Index i = 0; i < n; ++i) body(i);
    return;
  }
#endif
  for (Index i = 0; i < n; ++i) body(i);
}

namespace detail {
/// How an m x n x k GEMM is split: nb blocks of rows, or of columns when n > m (each block packs
/// the whole other operand, so the smaller one is the one duplicated), ~≥ 4e6 multiply-adds per
/// block, at most 8. A function of the sizes only (thread-independent). Below kParallelGemmWork
/// the product runs whole on the calling thread (serial) inside an EigenSerialScope; above, the
/// blocks run inside an OpenMP region, where Eigen does not start threads of its own. Either way
/// Eigen's own threading never runs: its depth blocking depends on the thread count, and so would
/// the rounding. Blocks are scheduled dynamically: which thread computes a block never changes
/// its value, and a loaded machine balances better.
struct GemmSplit {
  int nb = 1;
  bool by_cols = false;
  bool serial = true;
};
inline GemmSplit gemm_split(Index m, Index n, Index k) {
  const double work = double(m) * double(n) * double(k);
  GemmSplit s;
  if (work < kParallelGemmWork) return s;
  s.serial = false;
  s.by_cols = n > m;
  const Index len = s.by_cols ? n : m;
  s.nb = len >= 2 ? 2 : 1;
  while (s.nb < 8 && work / (2 * s.nb) >= 4e6 && len / (2 * s.nb) >= 16) s.nb *= 2;
  return s;
}
}  // namespace detail

/// dst = A·B (accumulate = false) or dst += A·B. dst must already have A.rows() x B.cols().
/// dst is split into row (or column) blocks fixed by the sizes, each an Eigen GEMM run inside an
/// OpenMP region (Eigen does not nest threads), so the result is bitwise the same for any thread
/// count. Non-float scalars use a plain triple loop.
template <class Dst, class Lhs, class Rhs>
void gemm(Dst&& dst, const Lhs& A, const Rhs& B, bool accumulate) {
  using T = typename std::remove_cvref_t<Dst>::Scalar;
  const Index m = A.rows(), n = B.cols(), k = A.cols();
  JACNET_CHECK(B.rows() == k && dst.rows() == m && dst.cols() == n, ShapeError, "nn::gemm", "(", m,
               "x", k, ")·(", B.rows(), "x", n, ") into ", dst.rows(), "x", dst.cols());
  if constexpr (simd_scalar_v<T>) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
      if (!accumulate) dst.setZero();
      return;
    }
    // Eigen's GEMM kernel with this thread's reused packing buffers (core/gemm.hpp): no heap
    // allocation in the steady state, bitwise the same as noalias() single-threaded.
    auto run = [&](auto&& d, const auto& a, const auto& b) { gemm_product(d, a, b, accumulate); };
    if (in_serial_scope()) {  // a shard of a pass: one product, Eigen single-threaded
      run(dst, A, B);
      return;
    }
    const detail::GemmSplit sp = detail::gemm_split(m, n, k);
    auto block = [&](int i) {
      const Index len = sp.by_cols ? n : m;
      const Index r0 = len * i / sp.nb, r1 = len * (i + 1) / sp.nb;
      if (sp.by_cols)
        run(dst.middleCols(r0, r1 - r0), A, B.middleCols(r0, r1 - r0));
      else
        run(dst.middleRows(r0, r1 - r0), A.middleRows(r0, r1 - r0), B);
    };
#ifdef _OPENMP
    if (!sp.serial && may_fork()) {
#pragma omp parallel for schedule(dynamic, 1)
      for (int i = 0; i < sp.nb; ++i) block(i);
      return;
    }
#endif
    EigenSerialScope serial;
    for (int i = 0; i < sp.nb; ++i) block(i);
  } else {
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < n; ++j) {
        T s = accumulate ? T(dst.coeff(i, j)) : T(0);
        for (Index q = 0; q < k; ++q) s += A.coeff(i, q) * B.coeff(q, j);
        dst.coeffRef(i, j) = s;
      }
    }
  }
}

/// out[j] = op(in[0][j], ..., in[N-1][j]) for j < n. For float/double `op` receives
/// xsimd::batch<T> arguments (the tail through zero-padded batches); otherwise scalars.
template <class T, std::size_t N, class Op>
inline void simd_map(Index n, T* out, const std::array<const T*, N>& in, Op&& op) {
  if constexpr (simd_scalar_v<T>) {
    using V = xsimd::batch<T>;
    constexpr Index W = static_cast<Index>(V::size);
    Index j = 0;
    for (; j + W <= n; j += W) {
      std::array<V, N> v;
      for (std::size_t a = 0; a < N; ++a) v[a] = V::load_unaligned(in[a] + j);
      const V r = std::apply(op, v);
      r.store_unaligned(out + j);
    }
    if (j < n) {
      const Index rem = n - j;
      alignas(64) T buf[N > 0 ? N : 1][W];
      alignas(64) T res[W];
      std::array<V, N> v;
      for (std::size_t a = 0; a < N; ++a) {
        for (Index t = 0; t < W; ++t) buf[a][t] = t < rem ? in[a][j + t] : T(0);
        v[a] = V::load_aligned(buf[a]);
      }
      const V r = std::apply(op, v);
      r.store_aligned(res);
      for (Index t = 0; t < rem; ++t) out[j + t] = res[t];
    }
  } else {
    for (Index j = 0; j < n; ++j) {
      out[j] = [&]<std::size_t... I>(std::index_sequence<I...>) { return T(op(in[I][j]...)); }
      (std::make_index_sequence<N>{});
    }
  }
}

/// out = a ⊙ b (n elements).
template <class T>
inline void simd_mul(Index n, T* out, const T* a, const T* b) {
  simd_map<T, 2>(n, out, {a, b}, [](const auto& x, const auto& y) { return x * y; });
}
/// acc += a ⊙ b (n elements).
template <class T>
inline void simd_fma(Index n, T* acc, const T* a, const T* b) {
  simd_map<T, 3>(n, acc, {acc, a, b},
                 [](const auto& s, const auto& x, const auto& y) { return s + x * y; });
}
/// acc += a (n elements).
template <class T>
inline void simd_add(Index n, T* acc, const T* a) {
  simd_map<T, 2>(n, acc, {acc, a}, [](const auto& s, const auto& x) { return s + x; });
}

namespace detail {
/// The name of `who` in an error message: a layer (its name(), built only when an error is
/// raised, so the checks of a rule do not allocate) or a string.
template <class W>
decltype(auto) who_name(const W& who) {
  if constexpr (requires { who.name(); })
    return who.name();
  else
    return (who);
}
}  // namespace detail

/// Number of directions K = rows / B of a (B*K)-row matrix; throws naming `where` if not whole.
/// `who`: the layer (or its name).
template <class Who>
inline Index directions(Index rows, Index B, const char* where, const Who& who) {
  JACNET_CHECK(B > 0 && rows % B == 0, ShapeError, where, detail::who_name(who), ": ", rows,
               " direction rows are not a multiple of the batch size ", B);
  return rows / B;
}

/// Checks that M has `cols` columns (the layer's per-sample size), naming layer and sizes.
template <class M_, class Who>
inline void check_cols(const M_& M, Index cols, const char* where, const Who& who,
                       const char* what) {
  JACNET_CHECK(M.cols() == cols, ShapeError, where, detail::who_name(who), ": ", what, " has ", M.cols(),
               " columns, expected ", cols);
}

/// Prepares an accumulation target (Xbar) of rows x cols: an empty matrix becomes zeros, a
/// matrix of the right size is kept (accumulated into), anything else is a ShapeError.
template <class M_, class Who>
inline void prepare_accumulator(M_&& M, Index rows, Index cols, const char* where,
                                const Who& who) {
  if constexpr (requires { M.setZero(rows, cols); }) {  // a matrix (a row view cannot resize)
    if (M.size() == 0) {
      M.setZero(rows, cols);
      return;
    }
  }
  JACNET_CHECK(M.rows() == rows && M.cols() == cols, ShapeError, where, detail::who_name(who),
               ": accumulator is ",
               M.rows(), "x", M.cols(), ", expected ", rows, "x", cols);
}

// ---- row views (the shards of a pass) -------------------------------------------------------
/// A matrix view of contiguous row-major storage (a shard's rows of a batch matrix).
template <class T>
using RowsView = Eigen::Map<Matrix<T>>;
template <class T>
using ConstRowsView = Eigen::Map<const Matrix<T>>;

/// Rows [r0, r1) of a row-major matrix, as a view (no copy).
template <class T>
RowsView<T> row_block(Matrix<T>& M, Index r0, Index r1) {
  return {M.data() + r0 * M.cols(), r1 - r0, M.cols()};
}
template <class T>
ConstRowsView<T> row_block(const Matrix<T>& M, Index r0, Index r1) {
  return {M.data() + r0 * M.cols(), r1 - r0, M.cols()};
}

/// Layers whose rules also take row views (`const auto&` inputs, `auto&&` outputs): the passes
/// then run them on shards of the batch matrices without copies. A layer written against
/// `const Matrix<T>&` / `Matrix<T>&` only still works: a net containing one runs its passes as a
/// single shard (the layers' own loops parallelize as before).
template <class L>
concept ViewRules = requires(const L& l, const typename L::Scalar* cp, typename L::Scalar* p,
                             ConstRowsView<typename L::Scalar> M, RowsView<typename L::Scalar> O) {
  l.forward(cp, M, O);
  l.jvp(cp, M, M, M, O);
  l.vjp(cp, M, M, M, O);
  l.param_grad(cp, M, M, M, p);
  l.second_order(cp, M, M, M, M, p, O);
};
/// vjp_onehot / jvp_identity taking row views.
template <class L>
concept OneHotVjpView = requires(const L& l, const typename L::Scalar* p,
                                 ConstRowsView<typename L::Scalar> M,
                                 RowsView<typename L::Scalar> O, const Index* cls) {
  l.vjp_onehot(p, M, M, cls, Index{1}, O);
};
template <class L>
concept IdentityJvpView = requires(const L& l, const typename L::Scalar* p,
                                   ConstRowsView<typename L::Scalar> M,
                                   RowsView<typename L::Scalar> O) {
  l.jvp_identity(p, M, M, O);
};

}  // namespace jacnet::nn
