#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstring>
#include <random>

#include "jacnet/core/gemm.hpp"

// gemm_product must give bitwise what Eigen's own single-threaded product gives (it runs the
// same kernel with the same blocking) for every storage order, transposed and scaled operands,
// blocks of larger matrices, assignment and accumulation — and must not grow its packing buffers
// again when a shape repeats.

namespace {

template <class M>
M random_matrix(Eigen::Index r, Eigen::Index c, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  M m(r, c);
  for (Eigen::Index i = 0; i < r; ++i)
    for (Eigen::Index j = 0; j < c; ++j) m(i, j) = static_cast<typename M::Scalar>(u(g));
  return m;
}

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      const auto x = a(i, j), y = b(i, j);
      if (std::memcmp(&x, &y, sizeof x) != 0) return false;
    }
  return true;
}

struct EigenOneThread {
  int saved = Eigen::nbThreads();
  EigenOneThread() { Eigen::setNbThreads(1); }
  ~EigenOneThread() { Eigen::setNbThreads(saved); }
};

template <class T, int DO, int AO, int BO>
void check_orders(Eigen::Index m, Eigen::Index n, Eigen::Index k, unsigned seed) {
  using MD = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, DO>;
  using MA = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, AO>;
  using MB = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, BO>;
  const MA A = random_matrix<MA>(m, k, seed);
  const MB B = random_matrix<MB>(k, n, seed + 1);
  const MD C0 = random_matrix<MD>(m, n, seed + 2);
  INFO("m " << m << " n " << n << " k " << k << " orders dst/A/B " << DO << AO << BO);
  for (bool acc : {false, true}) {
    MD ref = C0, got = C0;
    if (acc)
      ref.noalias() += A * B;
    else
      ref.noalias() = A * B;
    jacnet::gemm_product(got, A, B, acc);
    CHECK(same_bits(ref, got));
  }
  // Transposed operands (Aᵀ stored k x m) and a scalar factor.
  const MA At = random_matrix<MA>(k, m, seed + 3);
  MD ref(m, n), got(m, n);
  ref.noalias() = At.transpose() * (T(0.5) * B);
  jacnet::gemm_product(got, At.transpose(), T(0.5) * B, false);
  CHECK(same_bits(ref, got));
  // Blocks: rows of a taller destination, columns of a wider right operand.
  MD big = random_matrix<MD>(m + 7, n, seed + 4), big_ref = big;
  const MB Bw = random_matrix<MB>(k, n + 5, seed + 5);
  big_ref.middleRows(3, m).noalias() += A * Bw.middleCols(2, n);
  jacnet::gemm_product(big.middleRows(3, m), A, Bw.middleCols(2, n), true);
  CHECK(same_bits(big_ref, big));
}

}  // namespace

TEST_CASE("gemm_product equals Eigen's single-threaded product bitwise", "[core][gemm]") {
  EigenOneThread one;
  // Small (Eigen's lazy product and GEMV are delegated), medium, and above the 128 KB packing
  // size at which Eigen starts to allocate (MLP-784 shapes).
  const Eigen::Index shapes[][3] = {{3, 4, 5}, {1, 50, 40}, {60, 1, 40}, {33, 17, 29},
                                    {128, 300, 784}, {300, 128, 784}, {257, 391, 203}};
  unsigned seed = 1;
  for (const auto& s : shapes) {
    check_orders<float, Eigen::ColMajor, Eigen::ColMajor, Eigen::ColMajor>(s[0], s[1], s[2], seed++);
    check_orders<float, Eigen::RowMajor, Eigen::RowMajor, Eigen::ColMajor>(s[0], s[1], s[2], seed++);
    check_orders<float, Eigen::RowMajor, Eigen::ColMajor, Eigen::RowMajor>(s[0], s[1], s[2], seed++);
    check_orders<double, Eigen::ColMajor, Eigen::RowMajor, Eigen::RowMajor>(s[0], s[1], s[2], seed++);
    check_orders<double, Eigen::RowMajor, Eigen::RowMajor, Eigen::RowMajor>(s[0], s[1], s[2], seed++);
  }
}

TEST_CASE("gemm_product reuses this thread's packing buffers for a repeated shape", "[core][gemm]") {
  EigenOneThread one;
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using PanelA = jacnet::detail::GemmScratchA<float>;
  using PanelB = jacnet::detail::GemmScratchB<float>;
  const M A = random_matrix<M>(128, 784, 7), B = random_matrix<M>(784, 300, 8);
  M C(128, 300);
  // This thread runs no job of the pool: its own buffers (slot -1).
  auto bytes = [] { return (PanelA::capacity(-1) + PanelB::capacity(-1)) * sizeof(float); };
  jacnet::gemm_product(C, A, B, false);
  const std::size_t b0 = bytes();
  CHECK(b0 > 128 * 1024);  // the shape needs more than Eigen's stack limit
  const float* pa = PanelA::get(0);
  const float* pb = PanelB::get(0);
  for (int rep = 0; rep < 3; ++rep) jacnet::gemm_product(C, A, B, rep % 2 == 1);
  CHECK(bytes() == b0);
  CHECK(PanelA::get(0) == pa);
  CHECK(PanelB::get(0) == pb);
  // A smaller product fits in the same buffers.
  M c2(64, 100);
  jacnet::gemm_product(c2, A.topRows(64), B.leftCols(100), false);
  CHECK(bytes() == b0);
  CHECK(PanelA::get(0) == pa);
}
