// tests/core/test_huge_pages.cpp — resize_buffer: Eigen's resize plus huge-page advice that never
// changes sizes or contents, and advice only for whole aligned huge pages of large buffers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "jacnet/core/huge_pages.hpp"

using jacnet::Index;
using jacnet::Matrix;

TEST_CASE("advise_huge_pages advises only whole aligned huge pages of large buffers", "[core]") {
  using jacnet::kHugePageBufferBytes;
  using jacnet::kHugePageBytes;
  REQUIRE(jacnet::advise_huge_pages(nullptr, 64 << 20) == 0);
  std::vector<char> small(kHugePageBufferBytes - 1);
  REQUIRE(jacnet::advise_huge_pages(small.data(), small.size()) == 0);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // 3 huge pages + 4 KiB starting 4 KiB past a huge-page boundary: the advised part is the two
  // whole huge pages inside it (or 0 when the kernel refuses the advice, e.g. THP compiled out).
  std::vector<char> big(5 * kHugePageBytes);
  const auto a = reinterpret_cast<std::uintptr_t>(big.data());
  char* start = big.data() + ((kHugePageBytes - a % kHugePageBytes) % kHugePageBytes) + 4096;
  const std::size_t advised = jacnet::advise_huge_pages(start, 3 * kHugePageBytes + 4096);
  CHECK((advised == 0 || advised == 2 * kHugePageBytes));
  jacnet::set_huge_pages(false);
  CHECK(jacnet::advise_huge_pages(start, 3 * kHugePageBytes + 4096) == 0);
  jacnet::set_huge_pages(true);
#endif
}

TEST_CASE("resize_buffer is Eigen's resize: sizes, reuse and contents", "[core]") {
  for (bool on : {true, false}) {
    jacnet::set_huge_pages(on);
    Matrix<float> m;
    jacnet::resize_buffer(m, 1280, 4704);  // 24 MB: advised when on
    REQUIRE(m.rows() == 1280);
    REQUIRE(m.cols() == 4704);
    m.setConstant(1.5f);
    const float* p = m.data();
    jacnet::resize_buffer(m, 4704, 1280);  // same size: same storage, contents kept (as Eigen)
    CHECK(m.data() == p);
    CHECK(m.rows() == 4704);
    CHECK(m.cols() == 1280);
    CHECK((m.array() == 1.5f).all());
    jacnet::resize_buffer(m, 3, 5);
    CHECK(m.size() == 15);
    jacnet::Vector<double> v;
    jacnet::resize_buffer(v, 1 << 20, 1);
    CHECK(v.size() == (1 << 20));
    v.setZero();
    CHECK(v.sum() == 0.0);
  }
  jacnet::set_huge_pages(true);
}
