// tests/io/test_hostile_input.cpp — the readers' rules for hostile input (docs/io.md): sizes are
// checked against the limits and against what the bytes can hold before anything is allocated
// (gzip included), shape products are checked with zero dimensions too, and every rejection is
// jacnet's IoError naming the file and the field. Each case below is an input found by review or
// by the fuzz targets in fuzz/ (issue 10).
#include <zlib.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jacnet/io/idx.hpp"
#include "jacnet/io/npy.hpp"
#include "jacnet/io/safetensors.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;
using Bytes = std::vector<unsigned char>;
using Catch::Matchers::Contains;

namespace {

Bytes idx_header(unsigned char type, std::vector<std::uint32_t> dims) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (auto d : dims)
    for (int s = 3; s >= 0; --s) b.push_back(static_cast<unsigned char>(d >> (8 * s)));
  return b;
}

Bytes gzip(const Bytes& raw, int level = 6) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
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

template <class T>
std::string idx_error(const Bytes& b, const std::string& name, const io::IdxOptions& opt = {}) {
  try {
    io::parse_idx<T>(b.data(), b.size(), name, opt);
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

Bytes make_npy(const std::string& dict, std::size_t data_bytes) {
  std::string h = dict;
  const std::size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  const std::string pre = std::string("\x93NUMPY\x01", 7) + '\0' +
                          static_cast<char>(h.size() & 0xFF) + static_cast<char>(h.size() >> 8);
  const std::string all = pre + h + std::string(data_bytes, '\0');
  return Bytes(all.begin(), all.end());
}

Bytes make_safetensors(const std::string& header, const Bytes& data) {
  // sized once and copied into (growing it by insert drew a GCC 12 -Warray-bounds false positive)
  Bytes b(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xFF);
  std::copy(header.begin(), header.end(), b.begin() + 8);
  std::copy(data.begin(), data.end(), b.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return b;
}

}  // namespace

TEST_CASE("IDX gzip: a header declaring 2^32 bytes is rejected before any allocation",
          "[io][idx][hostile]") {
  // The issue's input: a 26-byte gzip file whose IDX header declares a 4294967295-byte uint8
  // array. It used to zero-fill 4.2 GB before noticing the data is missing.
  const Bytes raw = idx_header(0x08, {0xFFFFFFFFu});
  const Bytes gz = gzip(raw);
  REQUIRE(gz.size() < 64);
  const std::string err = idx_error<std::uint8_t>(gz, "bomb.idx.gz");
  CHECK_THAT(err, Contains("'bomb.idx.gz' (gzip): truncated"));
  CHECK_THAT(err, Contains("need 4294967295 data bytes"));
  CHECK_THAT(err, Contains("decompresses to at most"));
  // Read as double (8 bytes per element) it exceeds the 4 GiB limit counted in output bytes.
  CHECK_THAT(idx_error<double>(gz, "bomb.idx.gz"), Contains("absurd size"));
  // The same through the file API.
  TempDir dir;
  jacnet_test::write_bytes(dir / "bomb.idx.gz", gz);
  CHECK_THROWS_WITH(io::read_idx<std::uint8_t>(dir / "bomb.idx.gz"),
                    Contains("bomb.idx.gz' (gzip): truncated"));
}

TEST_CASE("IDX gzip: a header that lies within the ratio bound fails as truncated",
          "[io][idx][hostile]") {
  // 2 000 000 declared elements; the file is big enough (> 2e6 / 1032 bytes) for the ratio bound
  // to pass, but holds only 1000 data bytes: the reader must stop at "truncated" with a buffer
  // grown only as data arrived.
  Bytes raw = idx_header(0x08, {2000000u});
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) raw.push_back(static_cast<unsigned char>(rng()));
  Bytes gz = gzip(raw, 0);  // level 0: stored blocks, the file is larger than its content
  Bytes pad;                // second member: incompressible bytes to enlarge the file
  for (int i = 0; i < 3000; ++i) pad.push_back(static_cast<unsigned char>(rng()));
  const Bytes gz2 = gzip(pad, 0);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  REQUIRE(gz.size() * io::detail::kDeflateMaxRatio > 2000000u + 8);
  const std::string err = idx_error<float>(gz, "liar.gz");
  CHECK_THAT(err, Contains("'liar.gz' (gzip): truncated"));
  CHECK_THAT(err, Contains("need 2000000 data bytes, the file holds 4000"));
}

TEST_CASE("IDX: max_bytes counts the bytes of the requested type", "[io][idx][hostile]") {
  Bytes raw = idx_header(0x08, {1000});
  raw.resize(raw.size() + 1000, 7);
  io::IdxOptions opt;
  opt.max_bytes = 4000;
  CHECK(io::parse_idx<std::uint8_t>(raw.data(), raw.size(), "u8.idx", opt).size() == 1000);
  CHECK(io::parse_idx<float>(raw.data(), raw.size(), "u8.idx", opt).size() == 1000);
  // 1000 doubles = 8000 bytes > 4000, for the plain and the gzip form.
  CHECK_THAT(idx_error<double>(raw, "u8.idx", opt),
             Contains("'u8.idx': absurd size: dimensions [1000] of uint8 read as 8-byte elements "
                      "exceed the limit of 4000 bytes (IdxOptions::max_bytes)"));
  CHECK_THAT(idx_error<double>(gzip(raw), "u8.idx.gz", opt), Contains("absurd size"));
}

TEST_CASE("IDX gzip: concatenated members, trailing garbage, parse_idx == read_idx",
          "[io][idx][hostile]") {
  Bytes raw = idx_header(0x0D, {3});
  for (float f : {1.5f, -2.0f, 0.25f}) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int s = 3; s >= 0; --s) raw.push_back(static_cast<unsigned char>(u >> (8 * s)));
  }
  // Two gzip members (as `cat a.gz b.gz` makes) decode as one stream.
  Bytes two = gzip(Bytes(raw.begin(), raw.begin() + 9));
  const Bytes tail = gzip(Bytes(raw.begin() + 9, raw.end()));
  two.insert(two.end(), tail.begin(), tail.end());
  CHECK(io::parse_idx<float>(two.data(), two.size(), "two.gz").data ==
        std::vector<float>{1.5f, -2.0f, 0.25f});
  // Bytes after the last member that are not gzip are an error, not silently ignored.
  Bytes junk = gzip(raw);
  for (unsigned char c : {'j', 'u', 'n', 'k'}) junk.push_back(c);
  CHECK_THAT(idx_error<float>(junk, "junk.gz"),
             Contains("'junk.gz' (gzip): corrupt compressed data after the end of a gzip member"));
  // A flipped CRC byte.
  Bytes crc = gzip(raw);
  crc[crc.size() - 6] ^= 0x55;
  CHECK_THAT(idx_error<float>(crc, "crc.gz"), Contains("'crc.gz' (gzip): corrupt compressed data"));
  // The in-memory and the file entry points agree.
  TempDir dir;
  jacnet_test::write_bytes(dir / "two.gz", two);
  CHECK(io::read_idx<float>(dir / "two.gz").data == std::vector<float>{1.5f, -2.0f, 0.25f});
  jacnet_test::write_bytes(dir / "plain.idx", raw);
  CHECK(io::read_idx<double>(dir / "plain.idx").data ==
        io::parse_idx<double>(raw.data(), raw.size(), "plain.idx").data);
}

TEST_CASE("npy: zero dimensions do not hide an overflowing shape", "[io][npy][hostile]") {
  // The issue's input: (0, 2^62 - 1, 2^62 - 1) has 0 elements, but NpyArray::matrix() used to
  // overflow cols *= shape[i] and Eigen aborted.
  const Bytes b = make_npy(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387903, "
      "4611686018427387903), }",
      0);
  CHECK_THROWS_WITH(io::parse_npy<double>(b.data(), b.size(), "zero.npy"),
                    Contains("'zero.npy': absurd size: shape (0, 4611686018427387903, "
                             "4611686018427387903) of '<f8': the product of its non-zero "
                             "dimensions exceeds the limit"));
  // matrix() itself refuses a shape that does not describe its data.
  io::NpyArray<double> a;
  a.shape = {0, Index{1} << 40, Index{1} << 40};
  CHECK_THROWS_AS(a.matrix(), ShapeError);
  a.shape = {Index{1} << 32, Index{1} << 32};  // rows * cols wraps to 0 in 64 bits
  CHECK_THROWS_AS(a.matrix(), ShapeError);
  a.shape = {2, 0, 5};
  CHECK(a.matrix().rows() == 2);
  CHECK(a.matrix().cols() == 0);
}

TEST_CASE("empty arrays decode without touching null pointers", "[io][npy][safetensors][hostile]") {
  // decode_le used to call memcpy(nullptr, src, 0) here (undefined behavior, reported by UBSan).
  const Bytes b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", 0);
  const auto a = io::parse_npy<double>(b.data(), b.size(), "empty.npy");
  CHECK(a.data.empty());
  CHECK(a.shape == std::vector<Index>{0, 3});
  CHECK(a.matrix().rows() == 0);
  CHECK(io::decode_le<float>(io::DType::F64, nullptr, 0, static_cast<float*>(nullptr)) == 0);
  const auto f = io::SafetensorsFile::parse(
      make_safetensors(R"({"z":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", {}),
      "empty.safetensors");
  CHECK(f.get<float>("z").empty());
  CHECK(f.get<double>("z", io::Convert::allow).empty());
}

TEST_CASE("safetensors: [0, 2^64 - 1] is rejected, not stored as [0, -1]",
          "[io][safetensors][hostile]") {
  const auto err = [](const std::string& shape) {
    try {
      io::SafetensorsFile::parse(
          make_safetensors(R"({"t":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,0]}})",
                           {}),
          "shape.safetensors");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(err("[0,18446744073709551615]"),
             Contains("'shape.safetensors': tensor 't': absurd shape [0,18446744073709551615]"));
  CHECK_THAT(err("[4611686018427387904,0]"), Contains("absurd shape"));
  CHECK_THAT(err("[0,2147483648,1073741824]"), Contains("absurd shape"));  // 2^61 * 4 bytes
  CHECK(err("[0,5]") == "no error");
}

TEST_CASE("IDX: values an integer type cannot hold are an error, not undefined behavior",
          "[io][idx][hostile]") {
  // Found by fuzz_idx_plain (UBSan: -2.53883e+38 is outside the range of representable values
  // of type 'int'): float32 data read as int32.
  const Bytes crash = {0x00, 0x00, 0x0d, 0x01, 0x00, 0x00, 0x00, 0x02,
                       0xff, 0x3f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
  CHECK_THAT(idx_error<std::int32_t>(crash, "crash.idx"),
             Contains("'crash.idx': element 0 of the float32 data does not fit in the requested "
                      "4-byte integer"));
  CHECK(io::parse_idx<double>(crash.data(), crash.size(), "crash.idx").data.size() == 2);
  // NaN, 2^31 and a negative int8 read as unsigned; values that fit convert by truncation.
  Bytes f = idx_header(0x0D, {1});
  for (unsigned char c : {0x7f, 0xc0, 0x00, 0x00}) f.push_back(c);  // NaN
  CHECK_THAT(idx_error<std::int64_t>(f, "nan.idx"), Contains("element 0"));
  Bytes big = idx_header(0x0E, {2});
  for (unsigned char c : {0xC0, 0x00, 0, 0, 0, 0, 0, 0}) big.push_back(c);  // -2.0
  for (unsigned char c : {0x41, 0xE0, 0, 0, 0, 0, 0, 0}) big.push_back(c);  // 2^31
  CHECK_THAT(idx_error<std::int32_t>(big, "big.idx"), Contains("element 1 of the float64 data"));
  CHECK(io::parse_idx<std::int64_t>(big.data(), big.size(), "big.idx").data ==
        std::vector<std::int64_t>{-2, 2147483648});
  Bytes i8 = idx_header(0x09, {2});
  i8.push_back(5);
  i8.push_back(0xFD);  // -3
  CHECK_THAT(idx_error<std::uint32_t>(i8, "i8.idx"), Contains("element 1 of the int8 data"));
  CHECK(io::parse_idx<int>(i8.data(), i8.size(), "i8.idx").data == std::vector<int>{5, -3});
}
