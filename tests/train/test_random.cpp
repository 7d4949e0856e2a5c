// Tests of jacnet/train/random.hpp: reproducibility, ranges and moments of the draws.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "jacnet/train/random.hpp"

using namespace jacnet;
using train::Random;

TEST_CASE("same (seed, stream) → same draws, other seed or stream → other draws", "[random]") {
  Random a(1, 0), b(1, 0), c(2, 0), d(1, 1);
  std::vector<std::uint64_t> va, vb, vc, vd;
  for (int i = 0; i < 8; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
    vd.push_back(d.next());
  }
  CHECK(va == vb);
  CHECK(va != vc);
  CHECK(va != vd);
  CHECK(train::splitmix64(0) != train::splitmix64(1));
}

TEST_CASE("uniform_index is in range and roughly uniform", "[random]") {
  Random r(5);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const Index k = r.uniform_index(7);
    REQUIRE(k >= 0);
    REQUIRE(k < 7);
    ++counts[static_cast<std::size_t>(k)];
  }
  for (int c : counts) CHECK(std::abs(c - n / 7) < 5 * std::sqrt(n / 7.0));  // ~5σ
  CHECK(r.uniform_index(1) == 0);
  CHECK_THROWS_AS(r.uniform_index(0), ValueError);
}

TEST_CASE("uniform01 lies in the half-open unit interval and normal() has mean 0, variance 1", "[random]") {
  Random r(9);
  const int n = 200000;
  double s = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform01();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    const double z = r.normal();
    REQUIRE(std::isfinite(z));
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
  }
  CHECK(std::abs(s / n) < 0.01);
  CHECK(std::abs(s2 / n - 1.0) < 0.015);
  CHECK(std::abs(s4 / n - 3.0) < 0.06);  // Gaussian kurtosis
}
