// fuzz/fuzz_idx_gzip.cpp — io::parse_idx on gzip input. Random bytes rarely form a valid deflate
// stream, so the first byte picks how the rest becomes a file:
//   mode 0: the rest as is (corrupt streams, bad CRCs, mutated seeds);
//   mode 1: the rest is an IDX payload, gzip-compressed here (valid streams whose header may lie:
//           huge dims, too little or too much data);
//   mode 2: as 1, then cut to a length taken from the second byte (truncated streams);
//   mode 3: as 1, split in two gzip members (concatenated members are valid gzip);
//   mode 4: as 1, followed by the raw rest (trailing bytes that are not gzip).
// Accepted arrays must hold exactly prod(dims) elements.
#include <zlib.h>

#include <cstdint>
#include <vector>

#include "fuzz_idx.hpp"

namespace {
using Bytes = std::vector<unsigned char>;

Bytes gzip(const std::uint8_t* p, std::size_t n, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  Bytes out(deflateBound(&zs, n) + 32);
  zs.next_in = const_cast<std::uint8_t*>(p);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0], arg = data[1];
  const std::uint8_t* p = data + 2;
  const std::size_t n = size - 2;
  Bytes file;
  switch (mode % 5) {
    case 0:
      file.assign(p, p + n);
      break;
    case 1:
      file = gzip(p, n, arg % 10);
      break;
    case 2:
      file = gzip(p, n, 6);
      file.resize(file.size() * arg / 256);
      break;
    case 3: {
      const std::size_t cut = n * arg / 256;
      file = gzip(p, cut, 1);
      const Bytes second = gzip(p + cut, n - cut, 9);
      file.insert(file.end(), second.begin(), second.end());
      break;
    }
    default: {
      const std::size_t cut = n * arg / 256;
      file = gzip(p, cut, 6);
      file.insert(file.end(), p + cut, p + n);
      break;
    }
  }
  if ((mode / 5) % 2)
    jacnet_fuzz::idx_case<double>(file.data(), file.size(), "fuzz.idx.gz");
  else
    jacnet_fuzz::idx_case<std::uint8_t>(file.data(), file.size(), "fuzz.idx.gz");
  return 0;
}
