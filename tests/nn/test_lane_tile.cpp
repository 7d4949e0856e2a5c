// Tests of jacnet/nn/lane_tile.hpp: gather into and scatter out of lane tiles (L samples side by
// side in SIMD lanes) equal plain element loops exactly, for float and double, full and partial
// tiles, and lengths that exercise every path of the block transposes (whole blocks, the 4-column
// tail of the float path, the element tail). Whatever width this build has (AVX2: 8 floats /
// 4 doubles, one register transpose per block; AVX-512: 16 / 8, two blocks side by side), the
// layout must be tile[d·L + l] = row l, element d.
#include <catch2/catch.hpp>

#include <vector>

#include "jacnet/nn/lane_tile.hpp"

using jacnet::Index;
using jacnet::nn::detail::Lanes;

namespace {

// n rows of D features; value of row l, feature d distinct and exact in float.
template <class T>
std::vector<std::vector<T>> make_rows(Index n, Index D) {
  std::vector<std::vector<T>> rows(static_cast<std::size_t>(n));
  for (Index l = 0; l < n; ++l)
    for (Index d = 0; d < D; ++d) rows[l].push_back(T(1 + l * 1000 + d));
  return rows;
}

template <class T>
void check_gather_scatter() {
  constexpr Index L = Lanes<T>::L;
  for (const Index D : {1, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 20, 23, 33, 64, 67}) {
    for (const Index n : {L, L - 1, Index(1)}) {
      if (n < 1) continue;
      INFO("L = " << L << ", D = " << D << ", n = " << n);
      const auto rows = make_rows<T>(n, D);
      std::vector<const T*> src;
      for (const auto& r : rows) src.push_back(r.data());

      // gather: tile[d·L + l] = rows[l][d], lanes >= n zero.
      std::vector<T> tile(static_cast<std::size_t>(D * L), T(-1));
      jacnet::nn::detail::gather_lanes(src.data(), n, D, tile.data());
      bool same = true;
      for (Index d = 0; d < D; ++d)
        for (Index l = 0; l < L; ++l)
          same = same && tile[d * L + l] == (l < n ? rows[l][d] : T(0));
      CHECK(same);

      // scatter back: rows l < n written, nothing else.
      std::vector<std::vector<T>> out(static_cast<std::size_t>(n),
                                      std::vector<T>(static_cast<std::size_t>(D + 2), T(-7)));
      std::vector<T*> dst;
      for (auto& r : out) dst.push_back(r.data() + 1);  // a guard element on each side
      jacnet::nn::detail::scatter_lanes(tile.data(), n, D, dst.data());
      bool back = true;
      for (Index l = 0; l < n; ++l) {
        back = back && out[l][0] == T(-7) && out[l][D + 1] == T(-7);
        for (Index d = 0; d < D; ++d) back = back && out[l][d + 1] == rows[l][d];
      }
      CHECK(back);
    }
  }
}

template <class T>
void check_gather_padded() {
  constexpr Index L = Lanes<T>::L;
  struct Plane {
    Index C, H, W, ph, pw;
  };
  for (const Plane g : {Plane{1, 28, 28, 0, 0}, Plane{1, 28, 28, 2, 2}, Plane{6, 14, 14, 0, 4},
                        Plane{2, 5, 9, 1, 3}, Plane{3, 7, 12, 0, 1}, Plane{1, 3, 17, 2, 0}}) {
    for (const Index n : {L, Index(1)}) {
      INFO("L = " << L << ", C H W = " << g.C << " " << g.H << " " << g.W << ", pad " << g.ph
                  << " " << g.pw << ", n = " << n);
      const auto rows = make_rows<T>(n, g.C * g.H * g.W);
      std::vector<const T*> src;
      for (const auto& r : rows) src.push_back(r.data());
      const Index HP = g.H + 2 * g.ph, WP = g.W + 2 * g.pw;
      std::vector<T> tile(static_cast<std::size_t>(g.C * HP * WP * L), T(-1));
      jacnet::nn::detail::gather_lanes_padded(src.data(), n, g.C, g.H, g.W, g.ph, g.pw,
                                              tile.data());
      bool same = true;
      for (Index c = 0; c < g.C; ++c)
        for (Index y = 0; y < HP; ++y)
          for (Index x = 0; x < WP; ++x)
            for (Index l = 0; l < L; ++l) {
              const Index yy = y - g.ph, xx = x - g.pw;
              const bool inside = yy >= 0 && yy < g.H && xx >= 0 && xx < g.W && l < n;
              const T want = inside ? rows[l][(c * g.H + yy) * g.W + xx] : T(0);
              same = same && tile[((c * HP + y) * WP + x) * L + l] == want;
            }
      CHECK(same);
    }
  }
}

}  // namespace

TEST_CASE("lane tiles: gather and scatter equal element loops (float)", "[nn][lane_tile]") {
  check_gather_scatter<float>();
  check_gather_padded<float>();
}

TEST_CASE("lane tiles: gather and scatter equal element loops (double)", "[nn][lane_tile]") {
  check_gather_scatter<double>();
  check_gather_padded<double>();
}
