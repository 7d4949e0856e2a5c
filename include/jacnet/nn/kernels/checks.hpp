#pragma once
// jacnet/nn/kernels/checks.hpp — the shape checks of layer rules: errors name the rule, the layer
// and the offending sizes (the layer's name() is built only when an error is raised).
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

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

}  // namespace jacnet::nn
