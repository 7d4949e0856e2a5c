// fuzz/fuzz_safetensors.cpp — io::SafetensorsFile::parse on arbitrary bytes, then every tensor
// read as double, float and int64 (Convert::allow) and as its own type. An accepted file's
// entries must tile its data section, and a read must return numel() elements.
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "jacnet/io/safetensors.hpp"

namespace {
template <class T>
void read_as(const jacnet::io::SafetensorsFile& f, const jacnet::io::SafetensorsEntry& e,
             jacnet::io::Convert conv) {
  jacnet_fuzz::accepts([&] {
    const auto v = f.get<T>(e.name, conv);
    jacnet_fuzz::expect(v.size() == e.numel(), "safetensors: get returns numel() elements");
  });
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace io = jacnet::io;
  jacnet_fuzz::accepts([&] {
    const auto f = io::SafetensorsFile::parse(std::vector<unsigned char>(data, data + size),
                                              "fuzz.safetensors");
    std::uint64_t pos = 0;
    for (const auto& e : f.entries()) {
      jacnet_fuzz::expect(e.begin == pos && e.end >= e.begin, "safetensors: entries tile the data");
      jacnet_fuzz::expect(e.end - e.begin == e.numel() * io::dtype_size(e.dtype),
                          "safetensors: span == numel * element size");
      for (auto d : e.shape) jacnet_fuzz::expect(d >= 0, "safetensors: dimensions are >= 0");
      pos = e.end;
      read_as<double>(f, e, io::Convert::allow);
      read_as<float>(f, e, io::Convert::allow);
      read_as<std::int64_t>(f, e, io::Convert::allow);
      read_as<std::uint8_t>(f, e, io::Convert::exact);
    }
  });
  return 0;
}
