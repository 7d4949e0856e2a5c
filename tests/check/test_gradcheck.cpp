// Tests of check/report.hpp and check/gradcheck.hpp: the criterion |got − expected| ≤ atol +
// rtol·|expected|, the worst entry's name, printing; gradcheck and gradgradcheck pass on correct
// derivatives (full and fast mode) and name the wrong entry when a derivative is wrong.
#include <catch2/catch.hpp>
#include <cmath>

#include "jacnet/check/gradcheck.hpp"

using namespace jacnet;

namespace {
// f(x) = Σ sin(x_i)·x_{i+1} + x_0³ (generic: called with double, Var, Var<Dual>).
auto f = [](const auto& x) {
  using S = typename std::remove_cvref_t<decltype(x)>::Scalar;
  using std::sin;
  S s = x(0) * x(0) * x(0);
  for (Index i = 0; i + 1 < x.size(); ++i) s = s + sin(x(i)) * x(i + 1);
  return s;
};
Vector<double> point() {
  Vector<double> x(5);
  x << 0.3, -1.2, 0.7, 2.0, -0.4;
  return x;
}
Vector<double> exact_gradient(const Vector<double>& x) {
  Vector<double> g = Vector<double>::Zero(x.size());
  g(0) = 3 * x(0) * x(0);
  for (Index i = 0; i + 1 < x.size(); ++i) {
    g(i) += std::cos(x(i)) * x(i + 1);
    g(i + 1) += std::sin(x(i));
  }
  return g;
}
}  // namespace

TEST_CASE("Report applies atol + rtol·|expected| and names the worst entry", "[check]") {
  check::Report r("demo");
  const double expected[3] = {1.0, 100.0, 0.0};
  const double got[3] = {1.0 + 1.5e-3, 100.05, 1e-6};
  auto& q = r.compare("g", 3, expected, got, [](Index i) { return "e" + std::to_string(i); }, 1e-5,
                      1e-3);
  // bounds: 1.01e-3 (fails by 1.5e-3), 0.10001 (passes 0.05), 1e-5 (passes 1e-6)
  CHECK(q.failed == 1);
  CHECK(q.worst_entry == "e0");
  CHECK(q.expected == 1.0);
  CHECK(q.got == 1.0 + 1.5e-3);
  CHECK(q.abs_error == Approx(1.5e-3));
  CHECK(q.rel_error == Approx(1.5e-3));
  CHECK_FALSE(r.ok());
  CHECK(r.worst() == &r.quantities()[0]);
  const std::string s = r.str();
  CHECK(s.find("FAIL demo") != std::string::npos);
  CHECK(s.find("1 of 3 entries failed; worst e0") != std::string::npos);
  // scale_atol: atol · max(1e-3, max |got|) = 1e-5 · 100.05 admits e0's error? no (1.5e-3 >
  // 1.0005e-3 + 1e-3·1) — but it does with rtol 1e-3 and atol 1e-3 scaled by 100.05.
  check::Report s2;
  CHECK(s2.compare("g", 3, expected, got, [](Index) { return ""; }, 1e-3, 0.0, true).ok());
  // NaN never passes
  const double nan = std::nan("");
  check::Report r3;
  CHECK_FALSE(r3.compare("g", 1, expected, &nan, [](Index) { return "n"; }, 1, 1).ok());
}

TEST_CASE("ParamNames and entry_name give PyTorch-style indices", "[check]") {
  check::ParamNames n;
  n.add("0.weight", Shape{3, 2}, true);
  n.add("0.bias", Shape{3}, true);
  n.add("1.running_mean", Shape{3}, false);
  CHECK(n(0) == "0.weight[0,0]");
  CHECK(n(5) == "0.weight[2,1]");
  CHECK(n(7) == "0.bias[1]");
  CHECK(n(9) == "1.running_mean[0]");
  CHECK_FALSE(n.trainable(10));
  CHECK(n.trainable(8));
  CHECK(check::entry_name("w", Shape{2, 3, 4}, 23) == "w[1,2,3]");
}

TEST_CASE("gradcheck passes on a correct gradient, full and fast", "[check]") {
  const Vector<double> x = point();
  const check::Report ad = check::gradcheck(f, x);
  INFO(ad);
  CHECK(ad.ok());
  CHECK(ad.quantities().at(0).checked == 5);
  CHECK(check::gradcheck(f, x, exact_gradient(x)).ok());
  check::Options fast;
  fast.fast = true;
  fast.projections = 3;
  const check::Report r = check::gradcheck(f, x, exact_gradient(x), fast);
  CHECK(r.ok());
  CHECK(r.quantities().at(0).checked == 3);
  // tight tolerances still pass: the central difference error is O(h²) here
  check::Options tight;
  tight.atol = 1e-8;
  tight.rtol = 1e-8;
  CHECK(check::gradcheck(f, x, tight).ok());
}

TEST_CASE("gradcheck names the wrong entry of a wrong gradient", "[check]") {
  const Vector<double> x = point();
  Vector<double> g = exact_gradient(x);
  g(3) += 1e-2;  // a wrong partial in x[3]
  const check::Report r = check::gradcheck(f, x, g);
  REQUIRE_FALSE(r.ok());
  const auto* w = r.worst();
  REQUIRE(w != nullptr);
  CHECK(w->worst_entry == "x[3]");
  CHECK(w->failed == 1);
  CHECK(w->got - w->expected == Approx(1e-2).epsilon(1e-4));
  check::Options fast;
  fast.fast = true;
  CHECK_FALSE(check::gradcheck(f, x, g, fast).ok());
  CHECK_THROWS_AS(check::gradcheck(f, x, Vector<double>(Vector<double>::Zero(4))), ShapeError);
}

TEST_CASE("gradgradcheck checks the Hessian, full and fast", "[check]") {
  const Vector<double> x = point();
  const check::Report r = check::gradgradcheck(f, x);
  INFO(r);
  CHECK(r.ok());
  REQUIRE(r.find("hessian") != nullptr);
  CHECK(r.find("hessian")->checked == 25);
  check::Options fast;
  fast.fast = true;
  const check::Report rf = check::gradgradcheck(f, x, fast);
  CHECK(rf.ok());
  CHECK(rf.find("hessian (vᵀHu)") != nullptr);
}
