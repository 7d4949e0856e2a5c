// fuzz/fuzz_npy.cpp — io::parse_npy on arbitrary bytes. The first byte picks the element type and
// the conversion policy; the rest is the file. An accepted array must: hold prod(shape) elements,
// convert to a matrix of the same size (NpyArray::matrix), and, read without conversion,
// re-encode and re-read to the same values and shape.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "jacnet/io/npy.hpp"

namespace {
template <class T>
void run(const std::uint8_t* p, std::size_t n, jacnet::io::Convert conv) {
  namespace io = jacnet::io;
  io::NpyOptions opt;
  opt.convert = conv;
  jacnet_fuzz::accepts([&] {
    const auto a = io::parse_npy<T>(p, n, "fuzz.npy", opt);
    std::uint64_t count = 1;
    for (auto d : a.shape) count *= static_cast<std::uint64_t>(d);
    jacnet_fuzz::expect(count == a.data.size(), "npy: data size == prod(shape)");
    const auto m = a.matrix();  // must not throw for an accepted array
    jacnet_fuzz::expect(static_cast<std::uint64_t>(m.size()) == a.data.size(),
                        "npy: matrix() keeps every element");
    if (a.dtype == io::dtype_of<T>()) {
      const auto again = io::encode_npy(a.data.data(), a.shape);
      const auto b = io::parse_npy<T>(again.data(), again.size(), "again.npy");
      jacnet_fuzz::expect(b.shape == a.shape, "npy: round trip keeps the shape");
      jacnet_fuzz::expect(b.data.size() == a.data.size() &&
                              (a.data.empty() || std::memcmp(b.data.data(), a.data.data(),
                                                             a.data.size() * sizeof(T)) == 0),
                          "npy: round trip keeps the bits");
    }
  });
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto conv = (data[0] & 0x80) ? jacnet::io::Convert::allow : jacnet::io::Convert::exact;
  const std::uint8_t* p = data + 1;
  const std::size_t n = size - 1;
  switch (data[0] % 5) {
    case 0: run<float>(p, n, conv); break;
    case 1: run<double>(p, n, conv); break;
    case 2: run<std::uint8_t>(p, n, conv); break;
    case 3: run<std::int32_t>(p, n, conv); break;
    default: run<std::int64_t>(p, n, conv); break;
  }
  return 0;
}
