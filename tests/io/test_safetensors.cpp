#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jacnet/io/safetensors.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;
using Bytes = std::vector<unsigned char>;

namespace {

// A safetensors file assembled by hand: 8-byte LE header length, the JSON text, the data bytes.
Bytes make_file(const std::string& header, const Bytes& data) {
  std::string s;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  s += header;
  s.append(data.begin(), data.end());
  return Bytes(s.begin(), s.end());
}

Bytes le_floats(std::initializer_list<float> v) {
  Bytes b;
  for (float f : v) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(u >> (8 * i)));
  }
  return b;
}

std::string parse_error(const Bytes& b) {
  try {
    io::SafetensorsFile::parse(b, "m.safetensors");
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

}  // namespace

TEST_CASE("safetensors: a hand-made file parses", "[io][safetensors]") {
  const std::string h = "{\"__metadata__\":{\"format\":\"pt\"}," +
                        entry("b", "F32", "[2]", "[16,24]") + "," +
                        entry("a.weight", "F32", "[2,2]", "[0,16]") + "}  ";
  const Bytes file = make_file(h, le_floats({1, 2, 3, 4, -0.5f, 8}));
  const auto f = io::SafetensorsFile::parse(file, "hand.safetensors");
  REQUIRE(f.entries().size() == 2);
  CHECK(f.entries()[0].name == "a.weight");  // sorted by offset
  CHECK(f.at("a.weight").shape == std::vector<Index>{2, 2});
  CHECK(f.at("b").dtype == io::DType::F32);
  CHECK(f.get<float>("a.weight") == std::vector<float>{1, 2, 3, 4});
  CHECK(f.get<float>("b") == std::vector<float>{-0.5f, 8});
  CHECK(f.metadata().at("format") == "pt");
  CHECK_THROWS_WITH(
      f.at("c"), Catch::Contains("hand.safetensors") && Catch::Contains("tensor 'c' is missing"));
}

TEST_CASE("safetensors: write -> read round trip is bitwise", "[io][safetensors]") {
  TempDir dir;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  std::vector<double> w(6 * 5);
  for (auto& v : w) v = g(rng);
  w[0] = -0.0;
  w[1] = std::numeric_limits<double>::denorm_min();
  w[2] = std::numeric_limits<double>::infinity();
  std::vector<float> b(3);
  for (auto& v : b) v = static_cast<float>(g(rng));
  std::vector<std::uint8_t> u = {0, 7, 255};
  const std::vector<io::TensorRef> refs = {
      io::tensor_ref("0.weight", {6, 5}, w.data()), io::tensor_ref("0.bias", {3}, b.data()),
      io::tensor_ref("mask", {3}, u.data()), io::tensor_ref("empty", {0, 4}, w.data())};
  io::write_safetensors(dir / "t.safetensors", refs, {{"note", "round trip"}});
  CHECK(dir.entries() == std::vector<std::string>{"t.safetensors"});
  const auto f = io::SafetensorsFile::read(dir / "t.safetensors");
  const auto rw = f.get<double>("0.weight");
  CHECK(std::memcmp(rw.data(), w.data(), w.size() * sizeof(double)) == 0);
  CHECK(f.get<float>("0.bias") == b);
  CHECK(f.get<std::uint8_t>("mask") == u);
  CHECK(f.at("empty").numel() == 0);
  CHECK(f.metadata().at("note") == "round trip");
  // The data section starts at a multiple of 8 (header padded with spaces).
  const Bytes raw = jacnet_test::read_bytes(dir / "t.safetensors");
  std::uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | raw[i];
  CHECK(hlen % 8 == 0);
  CHECK(raw.size() == 8 + hlen + 30 * 8 + 3 * 4 + 3);
  // Writing the same tensors twice gives the same bytes.
  io::write_safetensors(dir / "t2.safetensors", refs, {{"note", "round trip"}});
  CHECK(jacnet_test::read_bytes(dir / "t2.safetensors") == raw);
}

TEST_CASE("safetensors: dtype and shape checks on access", "[io][safetensors]") {
  std::vector<double> w = {1.0, 2.5, -3.0, 1e-40};
  const Bytes raw = io::encode_safetensors({io::tensor_ref("w", {2, 2}, w.data())});
  const auto f = io::SafetensorsFile::parse(raw, "d.safetensors");
  CHECK_THROWS_WITH(f.get<float>("w"),
                    Catch::Contains("d.safetensors") &&
                        Catch::Contains("tensor 'w' has dtype F64, expected F32") &&
                        Catch::Contains("Convert::allow"));
  const auto conv = f.get<float>("w", io::Convert::allow);
  CHECK(conv == std::vector<float>{1.0f, 2.5f, -3.0f, static_cast<float>(1e-40)});
  const std::vector<Index> wrong = {4};
  std::vector<double> dst(4);
  CHECK_THROWS_WITH(f.copy_to<double>("w", dst.data(), &wrong),
                    Catch::Contains("tensor 'w' has shape [2, 2], expected [4]"));
  const std::vector<Index> right = {2, 2};
  f.copy_to<double>("w", dst.data(), &right);
  CHECK(dst == w);
  CHECK_THROWS_AS(f.get<std::uint8_t>("w", io::Convert::allow), IoError);
}

TEST_CASE("safetensors: malformed files are rejected naming file and tensor", "[io][safetensors]") {
  const Bytes data = le_floats({1, 2, 3, 4});
  auto file = [&](const std::string& body, const Bytes& d) { return make_file(body, d); };
  const std::string good = "{" + entry("x", "F32", "[4]", "[0,16]") + "}";
  CHECK(parse_error(file(good, data)) == "no error");

  CHECK_THAT(parse_error(Bytes{1, 2, 3}),
             Catch::Contains("m.safetensors") && Catch::Contains("shorter than the 8-byte"));
  Bytes big_len = file(good, data);
  big_len[3] = 0x7F;  // header length ~2 GB
  CHECK_THAT(parse_error(big_len), Catch::Contains("absurd header length"));
  Bytes long_len = file(good, data);
  long_len[0] = static_cast<unsigned char>(long_len[0] + 40);
  CHECK_THAT(parse_error(long_len), Catch::Contains("truncated: header length"));
  CHECK_THAT(parse_error(file("[1, 2]", {})), Catch::Contains("does not start with '{'"));
  CHECK_THAT(parse_error(file("{\"x\": ", {})), Catch::Contains("not valid JSON"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F32", "[2]", "[0,8]") + "," +
                                  entry("x", "F32", "[2]", "[8,16]") + "}",
                              data)),
             Catch::Contains("'x' appears twice"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F31", "[4]", "[0,16]") + "}", data)),
             Catch::Contains("tensor 'x': unknown dtype 'F31'"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F32", "[-4]", "[0,16]") + "}", data)),
             Catch::Contains("tensor 'x': shape [-4] must hold non-negative integers"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F32", "[2.5]", "[0,16]") + "}", data)),
             Catch::Contains("non-negative integers"));
  CHECK_THAT(parse_error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4]}}", data)),
             Catch::Contains("tensor 'x': field 'data_offsets'"));
  CHECK_THAT(parse_error(file("{\"x\":{\"shape\":[4],\"data_offsets\":[0,16]}}", data)),
             Catch::Contains("field 'dtype' is missing"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F32", "[4]", "[16,0]") + "}", data)),
             Catch::Contains("begin > end"));
  CHECK_THAT(parse_error(file(good, Bytes(data.begin(), data.begin() + 12))),
             Catch::Contains("reach past the data section of 12 bytes"));
  CHECK_THAT(parse_error(file("{" + entry("x", "F32", "[3]", "[0,16]") + "}", data)),
             Catch::Contains("span 16 bytes but shape [3] of F32 needs 12"));
  // F64 [2] is also 16 bytes: well-formed.
  CHECK(parse_error(file("{" + entry("x", "F64", "[2]", "[0,16]") + "}", data)) == "no error");
  CHECK_THAT(parse_error(file("{" + entry("a", "F32", "[3]", "[0,12]") + "," +
                                  entry("b", "F32", "[2]", "[8,16]") + "}",
                              data)),
             Catch::Contains("'a' [0, 12] and 'b' [8, 16] overlap"));
  CHECK_THAT(parse_error(file("{" + entry("a", "F32", "[1]", "[0,4]") + "," +
                                  entry("b", "F32", "[2]", "[8,16]") + "}",
                              data)),
             Catch::Contains("bytes [4, 8) of the data section belong to no tensor"));
  Bytes extra = data;
  extra.push_back(0);
  CHECK_THAT(parse_error(file(good, extra)), Catch::Contains("1 trailing bytes"));
  CHECK_THAT(parse_error(file(
                 "{\"__metadata__\":{\"n\":1}," + entry("x", "F32", "[4]", "[0,16]") + "}", data)),
             Catch::Contains("__metadata__ value of 'n' is not a string"));
  CHECK_THAT(
      parse_error(file(
          "{" + entry("x", "F32", "[4294967296, 4294967296, 4294967296]", "[0,16]") + "}", data)),
      Catch::Contains("absurd shape"));
  TempDir dir;
  CHECK_THROWS_WITH(io::SafetensorsFile::read(dir / "none.safetensors"),
                    Catch::Contains("none.safetensors") && Catch::Contains("does not exist"));
}

TEST_CASE("safetensors: the writer rejects invalid tensor lists", "[io][safetensors]") {
  float x = 1;
  CHECK_THROWS_WITH(
      io::encode_safetensors({io::tensor_ref("a", {1}, &x), io::tensor_ref("a", {1}, &x)}),
      Catch::Contains("'a' given twice"));
  CHECK_THROWS_AS(io::encode_safetensors({io::tensor_ref("__metadata__", {1}, &x)}), ValueError);
  CHECK_THROWS_AS(io::encode_safetensors({io::tensor_ref("", {1}, &x)}), ValueError);
  CHECK_THROWS_AS(io::encode_safetensors({io::tensor_ref<float>("n", {2}, nullptr)}), ValueError);
}
