// Tests of jacnet/train/param_mask.hpp.
#include <catch2/catch.hpp>
#include <vector>

#include "jacnet/train/param_mask.hpp"

using namespace jacnet;
using train::ParamMask;

namespace {
std::vector<ParamMask::Range> visit(const ParamMask& m, Index n) {
  std::vector<ParamMask::Range> r;
  m.for_each_range(n, [&](Index b, Index e) { r.emplace_back(b, e); });
  return r;
}
}  // namespace

TEST_CASE("the default mask trains everything, for any size", "[param_mask]") {
  ParamMask m;
  CHECK(m.is_all());
  CHECK(visit(m, 7) == std::vector<ParamMask::Range>{{0, 7}});
  CHECK(visit(m, 0).empty());
  CHECK(m.num_trainable(5) == 5);
  CHECK(m.trainable(123));
}

TEST_CASE("flags become maximal runs", "[param_mask]") {
  const auto m = ParamMask::from_flags({false, true, true, false, false, true, true, true});
  CHECK(visit(m, 8) == std::vector<ParamMask::Range>{{1, 3}, {5, 8}});
  CHECK(m.num_trainable(8) == 5);
  CHECK(!m.trainable(0));
  CHECK(m.trainable(2));
  CHECK(!m.trainable(3));
  CHECK(m.trainable(7));
  CHECK(visit(ParamMask::from_flags({false, false}), 2).empty());
  CHECK_THROWS_WITH(m.num_trainable(9), Catch::Contains("built for 8") && Catch::Contains("9"));
}

TEST_CASE("ranges are sorted, merged when touching, and checked", "[param_mask]") {
  const auto m = ParamMask::from_ranges(10, {{6, 8}, {0, 2}, {2, 4}, {5, 5}});
  CHECK(visit(m, 10) == std::vector<ParamMask::Range>{{0, 4}, {6, 8}});
  CHECK(m.size() == 10);
  CHECK_THROWS_WITH(ParamMask::from_ranges(10, {{0, 5}, {4, 6}}), Catch::Contains("overlaps"));
  CHECK_THROWS_WITH(ParamMask::from_ranges(10, {{8, 11}}), Catch::Contains("[8, 11)"));
  CHECK_THROWS_AS(ParamMask::from_ranges(10, {{3, 2}}), ValueError);
}
