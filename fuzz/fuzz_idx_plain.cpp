// fuzz/fuzz_idx_plain.cpp — io::parse_idx on arbitrary bytes (plain IDX; gzip-looking input takes
// the gzip path too). The first byte picks the element type and the size limit; the rest is the
// file. Accepted arrays must hold exactly prod(dims) elements.
#include <cstdint>
#include <vector>

#include "fuzz_idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  jacnet::io::IdxOptions opt;
  if (mode & 0x80) opt.max_bytes = 1024;  // a tight limit must reject, not truncate
  switch (mode % 5) {
    case 0: jacnet_fuzz::idx_case<std::uint8_t>(data + 1, size - 1, "fuzz.idx", opt); break;
    case 1: jacnet_fuzz::idx_case<float>(data + 1, size - 1, "fuzz.idx", opt); break;
    case 2: jacnet_fuzz::idx_case<double>(data + 1, size - 1, "fuzz.idx", opt); break;
    case 3: jacnet_fuzz::idx_case<std::int32_t>(data + 1, size - 1, "fuzz.idx", opt); break;
    default: jacnet_fuzz::idx_case<std::int64_t>(data + 1, size - 1, "fuzz.idx", opt); break;
  }
  return 0;
}
