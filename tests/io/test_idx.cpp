#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "jacnet/io/idx.hpp"
#include "support/temp_dir.hpp"

#ifndef JACNET_HAS_ZLIB
#error "test_idx needs zlib (the jacnet CMake target defines JACNET_HAS_ZLIB when it finds it)"
#endif

using namespace jacnet;
using jacnet_test::TempDir;
using Bytes = std::vector<unsigned char>;

namespace {

// A hand-made IDX header (not through encode_idx), so the reader is checked against the format.
Bytes idx_header(unsigned char type, std::vector<std::uint32_t> dims) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (auto d : dims)
    for (int s = 3; s >= 0; --s) b.push_back(static_cast<unsigned char>(d >> (8 * s)));
  return b;
}

Bytes gzip(const Bytes& raw) {
  // encode_idx gzips whole IDX files; for arbitrary bytes use zlib directly.
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = const_cast<unsigned char*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string error_of(const std::filesystem::path& p) {
  try {
    io::read_idx<float>(p);
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("IDX: hand-made uint8 file, plain and gzip", "[io][idx]") {
  TempDir dir;
  Bytes raw = idx_header(0x08, {2, 3, 4});
  for (int i = 0; i < 24; ++i) raw.push_back(static_cast<unsigned char>(10 * i + 1));
  jacnet_test::write_bytes(dir / "a.idx", raw);
  jacnet_test::write_bytes(dir / "a.idx.gz", gzip(raw));
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const auto a = io::read_idx<std::uint8_t>(dir / name);
    CHECK(a.type == io::IdxType::u8);
    CHECK(a.dims == std::vector<Index>{2, 3, 4});
    REQUIRE(a.size() == 24);
    for (int i = 0; i < 24; ++i) CHECK(a.data[i] == static_cast<std::uint8_t>(10 * i + 1));
    const auto f = io::read_idx<float>(dir / name);
    CHECK(f.data[23] == 231.0f);
  }
}

TEST_CASE("IDX: big-endian multi-byte types convert exactly", "[io][idx]") {
  TempDir dir;
  // int16 -2 = FF FE, int32 70000 = 00 01 11 70, float32 1.5 = 3F C0 00 00,
  // float64 -0.25 = BF D0 00 .., int8 -3 = FD.
  Bytes i16 = idx_header(0x0B, {2});
  i16.insert(i16.end(), {0xFF, 0xFE, 0x01, 0x00});
  Bytes i32 = idx_header(0x0C, {1});
  i32.insert(i32.end(), {0x00, 0x01, 0x11, 0x70});
  Bytes f32 = idx_header(0x0D, {1});
  f32.insert(f32.end(), {0x3F, 0xC0, 0x00, 0x00});
  Bytes f64 = idx_header(0x0E, {1});
  f64.insert(f64.end(), {0xBF, 0xD0, 0, 0, 0, 0, 0, 0});
  Bytes i8 = idx_header(0x09, {1});
  i8.push_back(0xFD);
  jacnet_test::write_bytes(dir / "i16", i16);
  jacnet_test::write_bytes(dir / "i32", i32);
  jacnet_test::write_bytes(dir / "f32", f32);
  jacnet_test::write_bytes(dir / "f64.gz", gzip(f64));
  jacnet_test::write_bytes(dir / "i8", i8);
  CHECK(io::read_idx<double>(dir / "i16").data == std::vector<double>{-2.0, 256.0});
  CHECK(io::read_idx<double>(dir / "i32").data == std::vector<double>{70000.0});
  CHECK(io::read_idx<float>(dir / "f32").data == std::vector<float>{1.5f});
  CHECK(io::read_idx<double>(dir / "f64.gz").data == std::vector<double>{-0.25});
  CHECK(io::read_idx<int>(dir / "i8").data == std::vector<int>{-3});
  CHECK(io::read_idx<double>(dir / "f64.gz").type == io::IdxType::f64);
}

TEST_CASE("IDX: write_idx -> read_idx round trip, plain and gzip", "[io][idx]") {
  TempDir dir;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-3, 3);
  std::vector<double> d(5 * 7);
  for (auto& v : d) v = u(rng);
  std::vector<std::uint8_t> b(3 * 28 * 28);
  for (auto& v : b) v = static_cast<std::uint8_t>(rng());
  for (bool gz : {false, true}) {
    const std::string sfx = gz ? ".gz" : "";
    io::write_idx(dir / ("d" + sfx), {5, 7}, d.data(), gz);
    io::write_idx(dir / ("b" + sfx), {3, 28, 28}, b.data(), gz);
    CHECK(io::read_idx<double>(dir / ("d" + sfx)).data == d);  // bitwise
    const auto rb = io::read_idx<std::uint8_t>(dir / ("b" + sfx));
    CHECK(rb.data == b);
    CHECK(rb.dims == std::vector<Index>{3, 28, 28});
  }
  // The gzip output is a real gzip stream (magic 1F 8B) and smaller than the raw file here.
  const Bytes gz = jacnet_test::read_bytes(dir / "b.gz");
  CHECK((gz[0] == 0x1F && gz[1] == 0x8B));
}

TEST_CASE("IDX: malformed headers are rejected naming file and field", "[io][idx]") {
  TempDir dir;
  auto put = [&](const std::string& name, const Bytes& b, bool gz = false) {
    jacnet_test::write_bytes(dir / name, gz ? gzip(b) : b);
    return dir / name;
  };
  Bytes ok = idx_header(0x08, {2, 2});
  ok.insert(ok.end(), {1, 2, 3, 4});

  Bytes bad_magic = ok;
  bad_magic[0] = 0x12;
  for (bool gz : {false, true}) {
    const auto e = error_of(put(gz ? "magic.gz" : "magic", bad_magic, gz));
    CHECK_THAT(
        e, Catch::Contains("magic") && Catch::Contains("wrong magic") && Catch::Contains("0x12"));
  }
  Bytes bad_type = ok;
  bad_type[2] = 0x07;
  std::string quoted = "'";
  quoted += (dir / "type").string();
  quoted += "'";
  CHECK_THAT(error_of(put("type", bad_type)),
             Catch::Contains(quoted) && Catch::Contains("unknown dtype code 0x07"));
  Bytes zero_dims = {0, 0, 0x08, 0};
  CHECK_THAT(error_of(put("nd0", zero_dims)),
             Catch::Contains("number of dimensions") && Catch::Contains("is 0"));
  Bytes many_dims = {0, 0, 0x08, 40};
  CHECK_THAT(error_of(put("nd40", many_dims)), Catch::Contains("is 40, expected 1..16"));
  Bytes zero_dim = idx_header(0x08, {3, 0});
  CHECK_THAT(error_of(put("dim0", zero_dim)), Catch::Contains("dimension 1 is 0"));
  CHECK_THAT(error_of(put("short", Bytes{0, 0})),
             Catch::Contains("truncated") && Catch::Contains("4-byte magic"));
  CHECK_THAT(error_of(put("empty", Bytes{})), Catch::Contains("truncated"));
  Bytes cut_dims = idx_header(0x08, {2, 2});
  cut_dims.resize(9);
  CHECK_THAT(error_of(put("cutdims", cut_dims)),
             Catch::Contains("truncated in the dimension header: 5 of 8 bytes"));
  CHECK_THAT(error_of(put("cutdims.gz", cut_dims, true)),
             Catch::Contains("dimension header") && Catch::Contains("(gzip)"));
  CHECK_THAT(error_of(dir / "missing.idx"),
             Catch::Contains("missing.idx") && Catch::Contains("does not exist"));
  // uint8 requested from float data.
  Bytes f = idx_header(0x0D, {1});
  f.insert(f.end(), {0, 0, 0, 0});
  CHECK_THROWS_WITH(io::read_idx<std::uint8_t>(put("f32", f)),
                    Catch::Contains("dtype is float32, which cannot be read as uint8"));
}

TEST_CASE("IDX: absurd sizes fail before allocating", "[io][idx]") {
  TempDir dir;
  // 2^32-1 cubed overflows 64 bits; 60000 x 60000 x 60000 float64 is far above the limit.
  jacnet_test::write_bytes(dir / "overflow",
                           idx_header(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}));
  jacnet_test::write_bytes(dir / "huge.gz", gzip(idx_header(0x0E, {60000, 60000, 60000})));
  CHECK_THAT(error_of(dir / "overflow"), Catch::Contains("absurd size") &&
                                             Catch::Contains("[4294967295x4294967295x4294967295]"));
  CHECK_THAT(error_of(dir / "huge.gz"), Catch::Contains("absurd size") &&
                                            Catch::Contains("float64") &&
                                            Catch::Contains("IdxOptions::max_bytes"));
  // A caller-set limit.
  std::vector<std::uint8_t> b(100, 1);
  io::write_idx(dir / "small", {10, 10}, b.data());
  io::IdxOptions opt;
  opt.max_bytes = 99;
  CHECK_THROWS_WITH(io::read_idx<std::uint8_t>(dir / "small", opt),
                    Catch::Contains("limit of 99 bytes"));
  opt.max_bytes = 100;
  CHECK(io::read_idx<std::uint8_t>(dir / "small", opt).size() == 100);
}

TEST_CASE("IDX: truncated and over-long data, plain and gzip", "[io][idx]") {
  TempDir dir;
  std::vector<float> v(50);
  for (int i = 0; i < 50; ++i) v[i] = 0.5f * i;
  const Bytes full = io::encode_idx<float>({5, 10}, v.data());
  REQUIRE(full.size() == 4 + 8 + 200);

  Bytes cut(full.begin(), full.end() - 3);
  jacnet_test::write_bytes(dir / "cut", cut);
  CHECK_THAT(error_of(dir / "cut"), Catch::Contains("truncated") && Catch::Contains("need 200") &&
                                        Catch::Contains("has 197"));
  Bytes longer = full;
  longer.push_back(0);
  jacnet_test::write_bytes(dir / "long", longer);
  CHECK_THAT(error_of(dir / "long"),
             Catch::Contains("size mismatch") && Catch::Contains("1 trailing bytes"));
  // gzip of a short IDX (complete gzip stream, too little data inside).
  jacnet_test::write_bytes(dir / "cut.gz", gzip(cut));
  CHECK_THAT(error_of(dir / "cut.gz"),
             Catch::Contains("truncated") && Catch::Contains("the file holds 197"));
  jacnet_test::write_bytes(dir / "long.gz", gzip(longer));
  CHECK_THAT(error_of(dir / "long.gz"), Catch::Contains("trailing data"));

  // gzip stream itself cut short: zlib reports the unexpected end.
  const Bytes gz = io::encode_idx<float>({5, 10}, v.data(), true);
  jacnet_test::write_bytes(dir / "cutstream.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  CHECK_THAT(error_of(dir / "cutstream.gz"),
             Catch::Contains("cutstream.gz") && Catch::Contains("truncated"));
  // Missing gzip trailer only (CRC and length): still detected.
  jacnet_test::write_bytes(dir / "notrailer.gz", Bytes(gz.begin(), gz.end() - 8));
  CHECK_THAT(error_of(dir / "notrailer.gz"), Catch::Contains("truncated"));
  // Corrupt compressed bytes: a CRC or data error, never silent garbage.
  Bytes bad = gz;
  bad[bad.size() - 6] ^= 0xFF;  // inside the CRC/length trailer
  jacnet_test::write_bytes(dir / "crc.gz", bad);
  CHECK_THAT(error_of(dir / "crc.gz"), Catch::Contains("crc.gz") && Catch::Contains("corrupt"));
  // And the intact stream reads back.
  jacnet_test::write_bytes(dir / "ok.gz", gz);
  CHECK(io::read_idx<float>(dir / "ok.gz").data == v);
}
