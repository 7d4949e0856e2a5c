// fuzz/fuzz_weights.cpp — loading a net's weights (io/weights.hpp) from hostile bytes.
// The net is nn::Sequential(Dense(3, 4), Tanh, BatchNorm1d(4), Dense(4, 2)) in double or float;
// its parameters are 0.weight [4, 3], 0.bias [4], 2.weight, 2.bias, 2.running_mean,
// 2.running_var [4], 3.weight [2, 4], 3.bias [2]. The first byte picks:
//   bit 0: safetensors (the rest is the file) or .npy (the rest is a list of records
//          {name index: 1 byte, length: 2 bytes little-endian, .npy bytes});
//   bit 1: double or float net;  bit 2: Convert::allow;  bit 3: allow_unexpected.
// Property: loading either succeeds or throws jacnet's error and leaves the net unchanged.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "jacnet/io/weights.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"

namespace {
namespace io = jacnet::io;
namespace nn = jacnet::nn;

template <class T>
using Net = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::BatchNorm<T, 1>, nn::Dense<T>>;

template <class T>
Net<T> make_net() {
  Net<T> net(jacnet::Shape{3}, nn::Dense<T>(3, 4), nn::Tanh<T>(), nn::BatchNorm<T, 1>(4),
             nn::Dense<T>(4, 2));
  net.init(7);
  return net;
}

const char* const kNames[] = {"0.weight",      "0.bias",       "2.weight", "2.bias",
                              "2.running_mean", "2.running_var", "3.weight", "3.bias",
                              "2.num_batches_tracked", "extra"};

template <class T>
void run(std::uint8_t mode, const std::uint8_t* p, std::size_t n) {
  static Net<T> net = make_net<T>();
  io::WeightsLoadOptions opt;
  opt.convert = (mode & 4) ? io::Convert::allow : io::Convert::exact;
  opt.allow_unexpected = (mode & 8) != 0;
  const std::vector<T> before(net.params().data(), net.params().data() + net.num_params());
  const bool ok = jacnet_fuzz::accepts([&] {
    if (mode & 1) {
      std::map<std::string, std::vector<unsigned char>> files;
      std::size_t i = 0;
      while (i + 3 <= n) {
        const std::string name = kNames[p[i] % 10];
        const std::size_t len = std::min<std::size_t>(p[i + 1] | (p[i + 2] << 8), n - i - 3);
        files[name].assign(p + i + 3, p + i + 3 + len);
        i += 3 + len;
      }
      io::load_npy_bytes(net, files, "fuzz_npy", opt);
    } else {
      io::load_safetensors(
          net, io::SafetensorsFile::parse(std::vector<unsigned char>(p, p + n), "fuzz.safetensors"),
          opt);
    }
  });
  if (!ok)
    jacnet_fuzz::expect(std::memcmp(before.data(), net.params().data(),
                                    before.size() * sizeof(T)) == 0,
                        "weights: a failed load leaves the net unchanged");
  std::copy(before.begin(), before.end(), net.params().data());  // next input starts equal
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (data[0] & 2)
    run<float>(data[0], data + 1, size - 1);
  else
    run<double>(data[0], data + 1, size - 1);
  return 0;
}
