// Proposition 1 of Srinivas & Fleuret (2018): with ξ = σz, z ~ N(0, I),
//   E_ξ[Σ_i (T_i(x+ξ) − S_i(x+ξ))²] = Σ_i (T_i(x) − S_i(x))² + σ² Σ_i ‖∇T_i(x) − ∇S_i(x)‖² + O(σ⁴),
// i.e. (NoisyMatch − OutputMatch)/σ² → JacobianMatch<Full> — exactly (no O(σ⁴)) for ReLU nets
// while no kink is crossed, up to O(σ²) for smooth (tanh) nets. Proposition 2 (Bishop 1995) with
// one-hot labels in place of the teacher: → JacobianNorm<Exact>.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/noisy_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

namespace {

// These tests are statistical (thousands of tiny forward passes); one OpenMP thread keeps them
// fast on a loaded machine, where a spinning team waits for descheduled threads. (Thread-count
// independence of the results is tested in test_loss.cpp.)
[[maybe_unused]] const int kOneThread = [] {
#ifdef _OPENMP
  omp_set_num_threads(1);
#endif
  return 1;
}();

// Shifts the teacher's last bias so that T(x) = S(x) at the single sample x: then the
// OutputMatch term is 0 and the σ-independent cross term 2(T−S)ᵀΔJ ξ vanishes, so the noisy
// estimate of the σ² term has variance O(1) instead of O(1/σ²).
template <class Net>
void align_outputs(Net& teacher, const Net& student, const Matrix<double>& x) {
  const Matrix<double> d = student.forward(x) - teacher.forward(x);
  const Index C = d.cols();
  teacher.params().tail(C) += d.row(0).transpose();
}

// The standard normal draws z (n x D) NoisyMatch<n> uses from a workspace seeded with `seed`.
Matrix<double> draws(Index n, Index D, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Matrix<double> z(n, D);
  for (Index i = 0; i < z.size(); ++i) z.data()[i] = losses::detail::normal(rng);
  return z;
}

struct MeanSe {
  double mean, se;
};
MeanSe mean_se(const std::vector<double>& v) {
  const double n = double(v.size());
  const double m = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / (n - 1) / n)};
}

}  // namespace

TEST_CASE("Proposition 1, ReLU: exact locally, per draw", "[losses][proposition1]") {
  // For a piecewise-linear net, (T − S)(x + ξ) = (T − S)(x) + ΔJ ξ while no kink is crossed,
  // so ‖(T − S)(x + ξ)‖² = OM + 2(T−S)ᵀΔJξ + ‖ΔJξ‖², whose expectation is OM + σ²‖ΔJ‖²_F.
  auto student = relu_mlp(6, 16, 16, 4, 1);
  auto teacher = relu_mlp(6, 20, 12, 4, 2);
  const Matrix<double> X = random_inputs(3, 6, 3);
  const Matrix<double> dJ = nn::jacrev(teacher, X) - nn::jacrev(student, X);
  const Matrix<double> d0 = teacher.forward(X) - student.forward(X);
  const Matrix<double> z = draws(20, 6, 4);
  for (Index b = 0; b < 3; ++b)
    for (Index k = 0; k < 20; ++k) {
      const Matrix<double> xi = 1e-4 * z.row(k);
      const Matrix<double> xp = X.row(b) + xi;
      const Matrix<double> lhs = teacher.forward(xp) - student.forward(xp);
      const Matrix<double> rhs = d0.row(b) + xi * dJ.middleRows(b * 4, 4).transpose();
      CHECK((lhs - rhs).cwiseAbs().maxCoeff() < 1e-12);
    }
}

TEST_CASE("Proposition 1, ReLU: (noisy − output matching)/σ² → Jacobian matching",
          "[losses][proposition1]") {
  auto student = relu_mlp(6, 16, 16, 4, 1);
  const Matrix<double> X = random_inputs(3, 6, 3);
  const double sigma = 1e-6;  // small enough that no kink is crossed
  for (Index b = 0; b < 3; ++b) {
    const Matrix<double> x = X.row(b);
    auto teacher = relu_mlp(6, 20, 12, 4, 2 + b);
    align_outputs(teacher, student, x);
    Workspace<double> ws(100 + b);
    const double om = OutputMatch{}.value(student, Batch(x, teacher), ws);
    const double jm = JacobianMatch<Full>{}.value(student, Batch(x, teacher), ws);
    CHECK(om < 1e-25);
    // Repeated estimates with 64 and with 2048 draws: both unbiased (within 3 standard errors),
    // and the spread shrinks like 1/√draws (ratio √32 ≈ 5.7).
    std::vector<double> e64, e2048;
    for (int r = 0; r < 20; ++r) {
      e64.push_back((NoisyMatch<64>(sigma).value(student, Batch(x, teacher), ws) - om) /
                    (sigma * sigma));
      e2048.push_back((NoisyMatch<2048>(sigma).value(student, Batch(x, teacher), ws) - om) /
                      (sigma * sigma));
    }
    const auto [m64, s64] = mean_se(e64);
    const auto [m4k, s4k] = mean_se(e2048);
    INFO("sample " << b << ": JM " << jm << ", 64 draws " << m64 << " ± " << s64 << ", 2048 draws "
                   << m4k << " ± " << s4k);
    CHECK(std::abs(m64 - jm) < 3 * s64);
    CHECK(std::abs(m4k - jm) < 3 * s4k);
    CHECK(s64 / s4k > 3.0);  // √(2048/64) ≈ 5.7
    CHECK(s4k < 0.01 * jm);
  }
}

TEST_CASE("Proposition 1, tanh: the relative error shrinks as σ → 0", "[losses][proposition1]") {
  auto student = tanh_mlp(5, 12, 12, 3, 7);
  const Matrix<double> x = random_inputs(1, 5, 8);
  auto teacher = tanh_mlp(5, 16, 10, 3, 9);
  align_outputs(teacher, student, x);
  constexpr int n = 4096;
  const std::uint64_t seed = 5;
  Workspace<double> ws(seed);
  const double jm = JacobianMatch<Full>{}.value(student, Batch(x, teacher), ws);
  const Matrix<double> dJ = nn::jacrev(teacher, x) - nn::jacrev(student, x);  // C x D
  // With the same draws z for every σ (common random numbers), the noisy estimate tends to its
  // linearization (1/n)Σ‖ΔJ z‖² as σ → 0; that one is unbiased for JM (checked within 3 s.e.).
  const Matrix<double> z = draws(n, 5, seed);
  std::vector<double> lin(n);
  for (Index k = 0; k < n; ++k) lin[std::size_t(k)] = (dJ * z.row(k).transpose()).squaredNorm();
  const auto [mlin, selin] = mean_se(lin);
  INFO("JM " << jm << ", linearized estimate " << mlin << " ± " << selin);
  CHECK(std::abs(mlin - jm) < 3 * selin);
  double prev = 1e300;
  for (double sigma : {0.4, 0.1, 0.025, 0.00625}) {
    ws.reseed(seed);
    const double est = NoisyMatch<n>(sigma).value(student, Batch(x, teacher), ws) / (sigma * sigma);
    const double rel = std::abs(est - mlin) / mlin;
    INFO("sigma " << sigma << ": estimate " << est << ", relative error " << rel);
    CHECK(rel < 0.6 * prev);
    prev = rel;
  }
  CHECK(prev < 0.01);
  // Against JM itself the error is then the sampling error of the draws.
  ws.reseed(seed);
  const double est =
      NoisyMatch<n>(0.00625).value(student, Batch(x, teacher), ws) / (0.00625 * 0.00625);
  CHECK(std::abs(est - jm) < 3 * selin + 0.01 * jm);
}

TEST_CASE("Proposition 2 (labels, ReLU): (noisy − Σ(y−S)²)/σ² → Jacobian norm",
          "[losses][proposition1]") {
  const Matrix<double> X = random_inputs(3, 6, 3);
  const std::vector<int> labels{0, 3, 1};
  const double sigma = 1e-6;
  for (Index b = 0; b < 3; ++b) {
    // As above, remove the cross term 2(y−S)ᵀJξ by shifting the student's last bias so that
    // S(x) = y at this sample; the noisy estimate then has O(1) variance.
    auto student = relu_mlp(6, 16, 16, 4, 1);
    const Matrix<double> x = X.row(b);
    const std::vector<int> y{labels[std::size_t(b)]};
    Matrix<double> onehot = Matrix<double>::Zero(1, 4);
    onehot(0, y[0]) = 1.0;
    student.params().tail(4) += (onehot - student.forward(x)).row(0).transpose();
    Workspace<double> ws(300 + b);
    const double jn = JacobianNorm<Exact>{}.value(student, Batch(x, y), ws);
    const double fit = (onehot - student.forward(x)).squaredNorm();
    CHECK(fit < 1e-25);
    std::vector<double> e;
    for (int r = 0; r < 20; ++r)
      e.push_back((NoisyMatch<2048, FromLabels>(sigma).value(student, Batch(x, y), ws) - fit) /
                  (sigma * sigma));
    const auto [m, se] = mean_se(e);
    INFO("sample " << b << ": JacobianNorm " << jn << ", noisy estimate " << m << " ± " << se);
    CHECK(std::abs(m - jn) < 3 * se);
    CHECK(se < 0.01 * jn);
  }
}
