#pragma once
// fuzz/fuzz_idx.hpp — the IDX check shared by fuzz_idx_plain and fuzz_idx_gzip: parse_idx either
// rejects with jacnet's error or returns exactly prod(dims) elements.
#include <cstdint>

#include "fuzz_common.hpp"
#include "jacnet/io/idx.hpp"

namespace jacnet_fuzz {
template <class T>
void idx_case(const std::uint8_t* p, std::size_t n, const char* name,
              const jacnet::io::IdxOptions& opt = {}) {
  accepts([&] {
    const auto a = jacnet::io::parse_idx<T>(p, n, name, opt);
    std::uint64_t count = 1;
    for (auto d : a.dims) count *= static_cast<std::uint64_t>(d);
    expect(count == a.data.size(), "IDX: data size == prod(dims)");
  });
}
}  // namespace jacnet_fuzz
