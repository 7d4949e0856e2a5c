#include <catch2/catch.hpp>

#include "jacnet/core/tensor.hpp"

using namespace jacnet;

TEST_CASE("Shape counts scalars and rejects non-positive dimensions", "[core]") {
  Shape s{3, 28, 28};
  CHECK(s.rank() == 3);
  CHECK(s.size() == 3 * 28 * 28);
  CHECK(s.str() == "[3x28x28]");
  CHECK(Shape{} .size() == 1);
  CHECK_THROWS_AS((Shape{4, 0}), ShapeError);
  CHECK_THROWS_WITH((Shape{4, -2}), Catch::Contains("dimension -2"));
}

TEST_CASE("sample_block views one sample's K x D block", "[core]") {
  Matrix<double> J(2 * 3, 4);
  for (Index i = 0; i < J.size(); ++i) J.data()[i] = double(i);
  auto blk = sample_block(J, 1, 3);
  CHECK(blk.rows() == 3);
  CHECK(blk(0, 0) == 12.0);
  blk(2, 3) = -1.0;
  CHECK(J(5, 3) == -1.0);
}

TEST_CASE("JACNET_CHECK streams where and what", "[core]") {
  auto f = [](int n) { JACNET_CHECK(n > 0, ValueError, "f", "n = ", n, " must be positive"); };
  CHECK_NOTHROW(f(1));
  CHECK_THROWS_WITH(f(-3), "jacnet: f: n = -3 must be positive");
}
