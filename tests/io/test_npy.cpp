#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jacnet/io/npy.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;
using Bytes = std::vector<unsigned char>;

namespace {

Bytes from_hex(const std::string& h) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    b.push_back(static_cast<unsigned char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return b;
}

// Files written by NumPy 1.24 (np.lib.format.write_array), kept as hex:
//   v1: np.arange(6, dtype='<f8').reshape(2, 3) / 4
//   v2: np.array([1.5, -2], dtype='<f4'), version=(2, 0)
//   v3: np.array([[1, 2], [3, 255]], dtype='u1'), version=(3, 0)
const std::string kNumpyV1F8 =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c"
    "73652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020"
    "2020202020202020202020202020202020202020202020202020202020202020200a00000000000000000000000000"
    "00d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f";
const std::string kNumpyV2F4 =
    "934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046"
    "616c73652c20277368617065273a2028322c292c207d20202020202020202020202020202020202020202020202020"
    "2020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c0";
const std::string kNumpyV3U1 =
    "934e554d50590300740000007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046"
    "616c73652c20277368617065273a2028322c2032292c207d2020202020202020202020202020202020202020202020"
    "2020202020202020202020202020202020202020202020202020202020202020200a010203ff";

std::string npy_error(const Bytes& b) {
  try {
    io::parse_npy<double>(b.data(), b.size(), "t.npy");
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

// A v1 file with the given header dict and `data_bytes` zero data bytes, padded like NumPy.
Bytes make_npy(const std::string& dict, std::size_t data_bytes) {
  std::string h = dict;
  const std::size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  const std::string pre = std::string("\x93NUMPY\x01", 7) + '\0' +
                          static_cast<char>(h.size() & 0xFF) + static_cast<char>(h.size() >> 8);
  const std::string all = pre + h + std::string(data_bytes, '\0');
  Bytes b(all.begin(), all.end());
  return b;
}

}  // namespace

TEST_CASE("npy: files written by NumPy (v1, v2, v3) read correctly", "[io][npy]") {
  const Bytes v1 = from_hex(kNumpyV1F8);
  const auto a = io::parse_npy<double>(v1.data(), v1.size(), "v1.npy");
  CHECK(a.shape == std::vector<Index>{2, 3});
  CHECK(a.data == std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25});
  CHECK(a.matrix()(1, 2) == 1.25);
  const Bytes v2 = from_hex(kNumpyV2F4);
  const auto b = io::parse_npy<float>(v2.data(), v2.size(), "v2.npy");
  CHECK(b.shape == std::vector<Index>{2});
  CHECK(b.data == std::vector<float>{1.5f, -2.0f});
  const Bytes v3 = from_hex(kNumpyV3U1);
  const auto c = io::parse_npy<std::uint8_t>(v3.data(), v3.size(), "v3.npy");
  CHECK(c.data == std::vector<std::uint8_t>{1, 2, 3, 255});
  CHECK(io::parse_npy_header(v3.data(), v3.size(), "v3.npy").major == 3);
}

TEST_CASE("npy: the writer produces NumPy's exact bytes", "[io][npy]") {
  const std::vector<double> v = {0, 0.25, 0.5, 0.75, 1.0, 1.25};
  CHECK(io::encode_npy(v.data(), {2, 3}) == from_hex(kNumpyV1F8));
}

TEST_CASE("npy: save -> load round trip is bitwise, for every rank and dtype", "[io][npy]") {
  TempDir dir;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g;
  Matrix<double> X(7, 5);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = g(rng) * 1e-300 * (i % 3 == 0 ? 1e300 : 1);
  X(0, 0) = -0.0;
  X(1, 1) = std::numeric_limits<double>::denorm_min();
  io::write_npy(dir / "x.npy", X);
  const auto x = io::read_npy<double>(dir / "x.npy");
  REQUIRE(x.shape == std::vector<Index>{7, 5});
  CHECK(std::memcmp(x.data.data(), X.data(), sizeof(double) * 35) == 0);
  CHECK(std::signbit(x.data[0]));

  // Column-major input is written in C order.
  Eigen::MatrixXf cm = Eigen::MatrixXf::Random(3, 4);
  io::write_npy(dir / "cm.npy", cm);
  CHECK((io::read_npy<float>(dir / "cm.npy").matrix() == cm));

  const float s = 3.25f;
  io::write_npy(dir / "scalar.npy", &s, {});
  const auto rs = io::read_npy<float>(dir / "scalar.npy");
  CHECK(rs.shape.empty());
  CHECK(rs.data == std::vector<float>{3.25f});

  std::vector<std::uint8_t> img(2 * 3 * 4 * 5);
  for (auto& b : img) b = static_cast<std::uint8_t>(rng());
  io::write_npy(dir / "img.npy", img.data(), {2, 3, 4, 5});
  const auto ri = io::read_npy<std::uint8_t>(dir / "img.npy");
  CHECK(ri.data == img);
  CHECK(ri.matrix().rows() == 2);
  CHECK(ri.matrix().cols() == 60);

  io::write_npy(dir / "empty.npy", X.data(), {0, 5});
  CHECK(io::read_npy<double>(dir / "empty.npy").size() == 0);

  // Headers too long for v1 switch to v2 (a rank-25000 shape).
  std::vector<Index> many(25000, 1);
  const Bytes big = io::encode_npy(&s, many);
  CHECK(big[6] == 2);
  CHECK((big.size() - sizeof(float)) % 64 == 0);
  CHECK(io::parse_npy<float>(big.data(), big.size(), "big.npy").shape.size() == 25000);
}

TEST_CASE("npy: dtype conversion only on request", "[io][npy]") {
  const Bytes v1 = from_hex(kNumpyV1F8);
  CHECK_THROWS_WITH(io::parse_npy<float>(v1.data(), v1.size(), "w.npy"),
                    Catch::Contains("w.npy") && Catch::Contains("'<f8' does not match") &&
                        Catch::Contains("Convert::allow"));
  io::NpyOptions opt;
  opt.convert = io::Convert::allow;
  CHECK(io::parse_npy<float>(v1.data(), v1.size(), "w.npy", opt).data[5] == 1.25f);
  const Bytes v3 = from_hex(kNumpyV3U1);
  CHECK(io::parse_npy<double>(v3.data(), v3.size(), "u.npy", opt).data[3] == 255.0);
  // Never float -> uint8.
  CHECK_THROWS_AS(io::parse_npy<std::uint8_t>(v1.data(), v1.size(), "w.npy", opt), IoError);
}

TEST_CASE("npy: malformed files are rejected naming file and field", "[io][npy]") {
  const Bytes good = from_hex(kNumpyV1F8);
  CHECK(npy_error(good) == "no error");

  Bytes magic = good;
  magic[1] = 'X';
  CHECK_THAT(npy_error(magic), Catch::Contains("t.npy") && Catch::Contains("wrong magic"));
  Bytes version = good;
  version[6] = 9;
  CHECK_THAT(npy_error(version), Catch::Contains("format version 9.0 is not supported"));
  CHECK_THAT(npy_error(Bytes(good.begin(), good.begin() + 7)), Catch::Contains("truncated"));
  CHECK_THAT(npy_error(Bytes(good.begin(), good.begin() + 100)),
             Catch::Contains("truncated: header length 118"));
  CHECK_THAT(
      npy_error(Bytes(good.begin(), good.end() - 1)),
      Catch::Contains("truncated: shape (2, 3) of '<f8' needs 48 data bytes but the file has 47"));
  Bytes longer = good;
  longer.push_back(0);
  CHECK_THAT(npy_error(longer), Catch::Contains("1 trailing bytes"));

  CHECK_THAT(npy_error(make_npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16)),
             Catch::Contains("big-endian"));
  // '<i8' is readable since issue 10 (as int64); int16 is not.
  CHECK_THAT(npy_error(make_npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", 4)),
             Catch::Contains("descr '<i2' is not supported"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16)),
             Catch::Contains("dtype '<i8' does not match the requested <f8"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32)),
             Catch::Contains("fortran_order is True"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", 16)),
             Catch::Contains("negative"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, }", 8)),
             Catch::Contains("key 'shape' is missing"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), "
                                "'extra': 1}",
                                16)),
             Catch::Contains("unexpected key 'extra'"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,), }", 16)),
             Catch::Contains("True or False"));
  CHECK_THAT(npy_error(make_npy("['descr', '<f8']", 16)), Catch::Contains("malformed header"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", 16)),
             Catch::Contains("shape entries must be integers"));
  // Absurd sizes fail before any allocation.
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (100000, 100000, 100000), }",
                                0)),
             Catch::Contains("absurd size") && Catch::Contains("NpyOptions::max_bytes"));
  CHECK_THAT(npy_error(make_npy("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (9999999999999999999999,), }",
                                0)),
             Catch::Contains("absurdly large"));
  TempDir dir;
  CHECK_THROWS_WITH(io::read_npy<double>(dir / "nothing.npy"),
                    Catch::Contains("nothing.npy") && Catch::Contains("does not exist"));
}

// NumPy's default integer arrays (labels), written by NumPy 1.24 (np.save):
//   np.array([3, -1, 4000000000], dtype='<i8')
//   np.array([[7, -8], [9, 10]], dtype='<i4')
const std::string kNumpyI8 =
    "934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c"
    "73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020202020200a0300000000000000ffffffff"
    "ffffffff00286bee00000000";
const std::string kNumpyI4 =
    "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c"
    "73652c20277368617065273a2028322c2032292c207d20202020202020202020202020202020202020202020202020"
    "2020202020202020202020202020202020202020202020202020202020202020200a07000000f8ffffff090000000a"
    "000000";

TEST_CASE("npy: int64 and int32 arrays (NumPy's labels) read as integers", "[io][npy][int]") {
  const Bytes i8 = from_hex(kNumpyI8), i4 = from_hex(kNumpyI4);
  const auto a = io::parse_npy<std::int64_t>(i8.data(), i8.size(), "labels.npy");
  CHECK(a.dtype == io::DType::I64);
  CHECK(a.shape == std::vector<Index>{3});
  CHECK(a.data == std::vector<std::int64_t>{3, -1, 4000000000});
  const auto b = io::parse_npy<std::int32_t>(i4.data(), i4.size(), "m.npy");
  CHECK(b.shape == std::vector<Index>{2, 2});
  CHECK(b.data == std::vector<std::int32_t>{7, -8, 9, 10});
  CHECK(b.matrix()(1, 0) == 9);
  // The writer produces NumPy's exact bytes for both.
  CHECK(io::encode_npy(a.data.data(), a.shape) == i8);
  CHECK(io::encode_npy(b.data.data(), b.shape) == i4);
  // Round trip through a file.
  TempDir dir;
  const std::vector<std::int64_t> labels = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  io::write_npy(dir / "y.npy", labels.data(), {10});
  CHECK(io::read_npy<std::int64_t>(dir / "y.npy").data == labels);
}

TEST_CASE("npy: integer conversions only on request, never lossy without an error",
          "[io][npy][int]") {
  const Bytes i8 = from_hex(kNumpyI8), i4 = from_hex(kNumpyI4);
  io::NpyOptions allow;
  allow.convert = io::Convert::allow;
  // Exact by default: '<i4' is not int64, '<i8' is not double.
  CHECK_THROWS_WITH(io::parse_npy<std::int64_t>(i4.data(), i4.size(), "m.npy"),
                    Catch::Contains("'m.npy': dtype '<i4' does not match the requested <i8 "
                                    "(pass Convert::allow to convert)"));
  CHECK_THROWS_AS(io::parse_npy<double>(i8.data(), i8.size(), "labels.npy"), IoError);
  // Convert::allow widens int32 -> int64 and converts integers to floating point.
  CHECK(io::parse_npy<std::int64_t>(i4.data(), i4.size(), "m.npy", allow).data ==
        std::vector<std::int64_t>{7, -8, 9, 10});
  CHECK(io::parse_npy<double>(i8.data(), i8.size(), "labels.npy", allow).data ==
        std::vector<double>{3.0, -1.0, 4e9});
  CHECK(io::parse_npy<float>(i4.data(), i4.size(), "m.npy", allow).data ==
        std::vector<float>{7.f, -8.f, 9.f, 10.f});
  // Narrowing int64 -> int32 checks every value: 4e9 does not fit.
  CHECK_THROWS_WITH(io::parse_npy<std::int32_t>(i8.data(), i8.size(), "labels.npy", allow),
                    Catch::Contains("'labels.npy': element 2 of '<i8' data does not fit in the "
                                    "requested <i4"));
  const std::vector<std::int64_t> small = {1, -2, 2147483647};
  const Bytes s = io::encode_npy(small.data(), {3});
  CHECK(io::parse_npy<std::int32_t>(s.data(), s.size(), "s.npy", allow).data ==
        std::vector<std::int32_t>{1, -2, 2147483647});
  // uint8 -> int64 under allow; floating point never becomes an integer.
  const Bytes u = from_hex(kNumpyV3U1);
  CHECK(io::parse_npy<std::int64_t>(u.data(), u.size(), "u.npy", allow).data ==
        std::vector<std::int64_t>{1, 2, 3, 255});
  const Bytes f = from_hex(kNumpyV1F8);
  CHECK_THROWS_AS(io::parse_npy<std::int64_t>(f.data(), f.size(), "f.npy", allow), IoError);
  CHECK_THROWS_AS(io::parse_npy<std::uint8_t>(i4.data(), i4.size(), "m.npy", allow), IoError);
}
