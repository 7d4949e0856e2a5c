#pragma once
// jacnet/core/gemm.hpp — dst (+)= A·B through Eigen's own GEMM kernel without allocating.
//
// Eigen's `dst.noalias() = A * B` packs panels of A and B into scratch buffers (kc × mc and
// kc × nc scalars, sizes from its cache-blocking heuristic). Below EIGEN_STACK_ALLOCATION_LIMIT
// (128 KB) they live on the stack; above, every product calls aligned_malloc/free — 12 to 65 heap
// allocations per MLP-784 training or Jacobian step. `gemm_product` runs the same kernel
// (Eigen::internal::general_matrix_matrix_product, the same blocking sizes for one thread) with
// packing buffers that grow to the largest size seen and are then reused — one per slot of
// jacnet's thread pool or per other thread, all grown to the largest panel any thread has packed
// (core/thread_scratch.hpp): after the first call of a given shape no product allocates, whichever
// thread runs it. The arithmetic is Eigen's,
// operation for operation, so results are bitwise those of `noalias()` with Eigen single-threaded
// (the only way jacnet runs Eigen's products, see nn::gemm).
//
// Products that Eigen itself does not run as a GEMM (a lazy coefficient-based product below
// EIGEN_GEMM_TO_COEFFBASED_THRESHOLD, a GEMV when dst has one row or column) or whose operands have
// no direct linear access are handed to `noalias()` unchanged: they do not allocate packing
// buffers (a non-contiguous operand is copied by Eigen, as before).
//
// Eigen 3.4's internal GEMM interface is used on purpose (stable through the 3.4 series); the
// static_assert below stops a build against another Eigen version instead of misbehaving.

#include "jacnet/core/third_party.hpp"  // <Eigen/Core>
#include "jacnet/core/thread_scratch.hpp"

#include <cstddef>
#include <type_traits>

static_assert(EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4,
              "jacnet/core/gemm.hpp uses Eigen 3.4's internal GEMM interface");

namespace jacnet {

namespace detail {

/// Packing buffers of gemm_product for scalar type T (kinds of core/thread_scratch.hpp: one per
/// pool slot or thread, grown to the largest panel any thread has packed).
struct GemmPanelA {};
struct GemmPanelB {};
template <class T>
using GemmScratchA = ThreadScratch<GemmPanelA, T>;
template <class T>
using GemmScratchB = ThreadScratch<GemmPanelB, T>;

/// Eigen's level-3 blocking with the sizes Eigen picks for one thread and buffers we own.
template <class T>
class FixedGemmBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  FixedGemmBlocking(Eigen::Index mc, Eigen::Index nc, Eigen::Index kc, T* a, T* b) {
    this->m_mc = mc;
    this->m_nc = nc;
    this->m_kc = kc;
    this->m_blockA = a;
    this->m_blockB = b;
  }
};

template <class X>
inline constexpr bool gemm_direct_v =
    bool(Eigen::internal::blas_traits<X>::HasUsableDirectAccess);

}  // namespace detail

/// dst = A·B (accumulate = false) or dst += A·B for float or double, dst already sized
/// A.rows() x B.cols() and not aliasing A or B. Runs on the calling thread; Eigen must not be
/// threading this product itself (nn::gemm guarantees it). No heap allocation once this thread's
/// packing buffers have grown to the shape's size.
template <class Dst, class Lhs, class Rhs>
void gemm_product(Dst&& dst, const Lhs& A, const Rhs& B, bool accumulate) {
  using D = std::remove_cvref_t<Dst>;
  using T = typename D::Scalar;
  using Eigen::Index;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "jacnet::gemm_product: float or double");
  static_assert(std::is_same_v<typename Lhs::Scalar, T> && std::is_same_v<typename Rhs::Scalar, T>,
                "jacnet::gemm_product: operands of the destination's scalar type");
  const Index rows = dst.rows(), cols = dst.cols(), depth = A.cols();
  auto eigen = [&] {
    if (accumulate)
      dst.noalias() += A * B;
    else
      dst.noalias() = A * B;
  };
  constexpr bool direct = detail::gemm_direct_v<Lhs> && detail::gemm_direct_v<Rhs> &&
                          bool(int(D::Flags) & Eigen::DirectAccessBit) &&
                          int(D::InnerStrideAtCompileTime) == 1;
  // Eigen's own dispatch (GeneralProduct.h / GeneralMatrixMatrix.h): lazy below the threshold,
  // GEMV for a single row or column, nothing for an empty product.
  if constexpr (!direct) {
    eigen();
    return;
  } else {
    if (B.rows() + rows + cols < EIGEN_GEMM_TO_COEFFBASED_THRESHOLD || rows <= 1 || cols <= 1 ||
        depth == 0) {
      eigen();
      return;
    }
    using LT = Eigen::internal::blas_traits<Lhs>;
    using RT = Eigen::internal::blas_traits<Rhs>;
    const auto& lhs = LT::extract(A);
    const auto& rhs = RT::extract(B);
    using LhsC = std::remove_cvref_t<decltype(lhs)>;
    using RhsC = std::remove_cvref_t<decltype(rhs)>;
    const T alpha = Eigen::internal::combine_scalar_factors(T(1), A, B);
    constexpr bool dst_row_major = bool(int(D::Flags) & Eigen::RowMajorBit);
    // gemm_blocking_space(rows, cols, depth, 1, true): Eigen's sizes for one thread.
    Index kc = depth, mc = dst_row_major ? cols : rows, nc = dst_row_major ? rows : cols;
    Eigen::internal::computeProductBlockingSizes<T, T, 1, Index>(kc, mc, nc, Index(1));
    T* pa = detail::GemmScratchA<T>::get(static_cast<std::size_t>(kc * mc));
    T* pb = detail::GemmScratchB<T>::get(static_cast<std::size_t>(kc * nc));
    detail::FixedGemmBlocking<T> blocking(mc, nc, kc, pa, pb);
    using Gemm = Eigen::internal::general_matrix_matrix_product<
        Index, T, (int(LhsC::Flags) & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor,
        bool(LT::NeedToConjugate), T,
        (int(RhsC::Flags) & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor,
        bool(RT::NeedToConjugate), dst_row_major ? Eigen::RowMajor : Eigen::ColMajor, 1>;
    if (!accumulate) dst.setZero();
    Gemm::run(rows, cols, depth, &lhs.coeffRef(0, 0), lhs.outerStride(), &rhs.coeffRef(0, 0),
              rhs.outerStride(), &dst.coeffRef(0, 0), dst.innerStride(), dst.outerStride(), alpha,
              blocking, nullptr);
  }
}

}  // namespace jacnet
