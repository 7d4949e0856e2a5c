// Tests of jacnet/train/subset.hpp: sizes, classes, reproducibility, nesting, errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <vector>

#include "jacnet/train/subset.hpp"

using namespace jacnet;

namespace {
// 10 classes with 20 + c samples each (class c), interleaved in a fixed pseudo-random order.
std::vector<int> make_labels() {
  std::vector<int> y;
  for (int c = 0; c < 10; ++c)
    for (int k = 0; k < 20 + c; ++k) y.push_back(c);
  train::Random rng(99);
  for (std::size_t i = y.size() - 1; i > 0; --i)
    std::swap(y[i], y[static_cast<std::size_t>(rng.uniform_index(static_cast<Index>(i) + 1))]);
  return y;
}
}  // namespace

TEST_CASE("exactly N distinct samples of every class, sorted", "[subset]") {
  const auto y = make_labels();
  for (const Index N : {1, 5, 20}) {
    CAPTURE(N);
    const auto idx = train::subset_per_class(y, N, 3);
    CHECK(static_cast<Index>(idx.size()) == 10 * N);
    CHECK(std::is_sorted(idx.begin(), idx.end()));
    CHECK(std::set<Index>(idx.begin(), idx.end()).size() == idx.size());
    std::vector<int> sub;
    for (Index i : idx) sub.push_back(y[static_cast<std::size_t>(i)]);
    const auto counts = train::class_counts(std::span<const int>(sub), 10);
    CHECK(std::all_of(counts.begin(), counts.end(), [&](Index c) { return c == N; }));
  }
}

TEST_CASE("subsets are reproducible for a seed, differ for another, and are nested", "[subset]") {
  const auto y = make_labels();
  const auto a = train::subset_per_class(y, 5, 11);
  CHECK(train::subset_per_class(y, 5, 11) == a);
  CHECK(train::subset_per_class(y, 5, 12) != a);
  const auto big = train::subset_per_class(y, 15, 11);
  CHECK(std::includes(big.begin(), big.end(), a.begin(), a.end()));
  // Different seeds pick different samples within a class (not just reorder them).
  std::set<Index> firsts;
  for (std::uint64_t s = 0; s < 20; ++s) firsts.insert(train::subset_per_class(y, 1, s)[0]);
  CHECK(firsts.size() > 5);
}

TEST_CASE("all samples of a class when N equals its count", "[subset]") {
  const std::vector<int> y = {2, 0, 2, 1, 0, 1};
  const auto idx = train::subset_per_class(y, 2, 0);
  CHECK(idx == std::vector<Index>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("labels need not be 0-based without num_classes, unsigned labels work", "[subset]") {
  const std::vector<int> y = {5, 7, 5, 7, 9, 9};
  CHECK(train::subset_per_class(y, 1, 4).size() == 3u);
  const std::vector<std::uint8_t> u = {0, 1, 1, 0};
  CHECK(train::subset_per_class(u, 2, 4) == std::vector<Index>{0, 1, 2, 3});
}

TEST_CASE("clear errors for too-small classes, bad N, labels outside num_classes", "[subset]") {
  const auto y = make_labels();  // class 0 has 20 samples
  CHECK_THROWS_WITH(train::subset_per_class(y, 21, 0),
                    Catch::Contains("class 0 has 20 samples") && Catch::Contains("21"));
  CHECK_THROWS_AS(train::subset_per_class(y, 0, 0), ValueError);
  CHECK_THROWS_WITH(train::subset_per_class(y, 1, 0, 12), Catch::Contains("10 of the 12"));
  CHECK_THROWS_WITH(train::subset_per_class(y, 1, 0, 5), Catch::Contains("outside [0, 5)"));
  CHECK_THROWS_AS(train::subset_per_class(std::vector<int>{}, 1, 0), ValueError);
  const std::vector<std::int8_t> neg = {-1, 0};
  CHECK_THROWS_WITH(train::class_counts(std::span<const std::int8_t>(neg), 2),
                    Catch::Contains("label -1"));
}
