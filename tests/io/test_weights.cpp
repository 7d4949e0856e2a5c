#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jacnet/io/weights.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;

namespace {

template <class T>
using Mlp = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
template <class T>
Mlp<T> make_mlp(Index hidden = 8) {
  return Mlp<T>(Shape{6}, nn::Dense<T>(6, hidden), nn::Tanh<T>(), nn::Dense<T>(hidden, 3));
}

using Cnn =
    nn::Sequential<nn::Conv2d<double>, nn::ReLU<double>, nn::Flatten<double>, nn::Dense<double>>;
Cnn make_cnn() {
  return Cnn(Shape{1, 6, 6}, nn::Conv2d<double>(1, 4, 3, 1, 1), nn::ReLU<double>(),
             nn::Flatten<double>(), nn::Dense<double>(4 * 6 * 6, 5));
}

template <class Net>
bool same_bits(const Net& a, const Net& b) {
  return a.num_params() == b.num_params() &&
         std::memcmp(a.params().data(), b.params().data(),
                     sizeof(typename Net::Scalar) * static_cast<std::size_t>(a.num_params())) == 0;
}

template <class Net>
std::string load_error(Net& net, const std::filesystem::path& p,
                       const io::WeightsLoadOptions& opt = {}) {
  try {
    io::load_weights(net, p, opt);
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("weights: safetensors round trip is bitwise and uses PyTorch names", "[io][weights]") {
  TempDir dir;
  auto a = make_mlp<float>();
  a.init(1);
  auto b = make_mlp<float>();
  b.init(2);
  REQUIRE_FALSE(same_bits(a, b));
  io::save_weights(a, dir / "mlp.safetensors");
  io::load_weights(b, dir / "mlp.safetensors");
  CHECK(same_bits(a, b));
  Matrix<float> X = Matrix<float>::Random(4, 6);
  CHECK((a.forward(X) == b.forward(X)));

  const auto f = io::SafetensorsFile::read(dir / "mlp.safetensors");
  std::vector<std::string> names;
  for (const auto& e : f.entries()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(f.at("0.weight").shape == std::vector<Index>{8, 6});
  CHECK(f.at("2.weight").shape == std::vector<Index>{3, 8});
  CHECK(f.at("0.bias").dtype == io::DType::F32);
  CHECK(f.metadata().at("format") == "pt");
  // The stored weight is row-major [out, in]: element (o, i) of layer 0 is params[o * 6 + i].
  CHECK(f.get<float>("0.weight")[1 * 6 + 4] == a.params()[1 * 6 + 4]);

  // Double nets store F64.
  auto c = make_cnn();
  c.init(5);
  io::save_weights(c, dir / "cnn.safetensors");
  auto d = make_cnn();
  io::load_weights(d, dir / "cnn.safetensors");
  CHECK(same_bits(c, d));
  const auto g = io::SafetensorsFile::read(dir / "cnn.safetensors");
  CHECK(g.at("0.weight").shape == std::vector<Index>{4, 1, 3, 3});
  CHECK(g.at("3.weight").shape == std::vector<Index>{5, 144});
  CHECK(g.at("0.weight").dtype == io::DType::F64);
}

TEST_CASE("weights: directory of .npy files round trip", "[io][weights]") {
  TempDir dir;
  auto c = make_cnn();
  c.init(9);
  io::save_weights(c, dir / "cnn_npy");
  auto names = TempDir::entries_of(dir / "cnn_npy");
  CHECK(names ==
        std::vector<std::string>{"0.bias.npy", "0.weight.npy", "3.bias.npy", "3.weight.npy"});
  const auto w = io::read_npy<double>(dir / "cnn_npy" / "0.weight.npy");
  CHECK(w.shape == std::vector<Index>{4, 1, 3, 3});
  auto d = make_cnn();
  io::load_weights(d, dir / "cnn_npy");
  CHECK(same_bits(c, d));
}

TEST_CASE("weights: loading checks names, shapes and dtypes, all or nothing", "[io][weights]") {
  TempDir dir;
  auto small = make_mlp<double>(8);
  small.init(3);
  io::save_weights(small, dir / "small.safetensors");
  io::save_weights(small, dir / "small_npy");

  // Shape mismatch: hidden 7 instead of 8. The net keeps its values.
  auto other = make_mlp<double>(7);
  other.init(4);
  const Vector<double> before = other.params();
  for (const char* p : {"small.safetensors", "small_npy"}) {
    CHECK_THAT(load_error(other, dir / p),
               Catch::Contains(p) &&
                   Catch::Contains("tensor '0.weight' has shape [8, 6], expected [7, 6]"));
    CHECK((other.params() == before));
  }

  // Missing names: a deeper net needs 4.weight / 4.bias.
  using Deep = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>,
                              nn::Tanh<double>, nn::Dense<double>>;
  Deep deep(Shape{6}, nn::Dense<double>(6, 8), nn::Tanh<double>(), nn::Dense<double>(8, 3),
            nn::Tanh<double>(), nn::Dense<double>(3, 3));
  deep.init(6);
  CHECK_THAT(load_error(deep, dir / "small.safetensors"),
             Catch::Contains("missing tensors for the net's parameters: 4.weight, 4.bias"));
  CHECK_THAT(load_error(deep, dir / "small_npy"),
             Catch::Contains("missing .npy files") && Catch::Contains("4.weight, 4.bias"));

  // Unexpected names: the deep file into the small net, allowed only on request.
  io::save_weights(deep, dir / "deep.safetensors");
  io::save_weights(deep, dir / "deep_npy");
  auto s2 = make_mlp<double>(8);
  s2.init(7);
  for (const char* p : {"deep.safetensors", "deep_npy"}) {
    CHECK_THAT(load_error(s2, dir / p),
               Catch::Contains("unexpected") && Catch::Contains("4.weight") &&
                   Catch::Contains("4.bias") && Catch::Contains("allow_unexpected"));
    io::WeightsLoadOptions opt;
    opt.allow_unexpected = true;
    CHECK(load_error(s2, dir / p, opt) == "no error");
    CHECK((s2.params() == deep.params().head(s2.num_params())));
  }

  // dtype: a float file into a double net needs Convert::allow.
  auto f32 = make_mlp<float>(8);
  f32.init(8);
  io::save_weights(f32, dir / "f32.safetensors");
  io::save_weights(f32, dir / "f32_npy");
  auto d64 = make_mlp<double>(8);
  for (const char* p : {"f32.safetensors", "f32_npy"}) {
    d64.init(1);
    const std::string e = load_error(d64, dir / p);
    CHECK_THAT(e, Catch::Contains("Convert::allow"));
    io::WeightsLoadOptions opt;
    opt.convert = io::Convert::allow;
    CHECK(load_error(d64, dir / p, opt) == "no error");
    CHECK((d64.params() == f32.params().cast<double>()));
  }

  // Missing file / directory.
  CHECK_THAT(load_error(small, dir / "none.safetensors"), Catch::Contains("does not exist"));
  CHECK_THAT(load_error(small, dir / "none_dir"), Catch::Contains("is not a directory"));
}

TEST_CASE("weights: PyTorch's num_batches_tracked is ignored, saving is atomic", "[io][weights]") {
  TempDir dir;
  auto a = make_mlp<double>();
  a.init(11);
  std::vector<io::TensorRef> refs;
  for (const auto& p : a.named_parameters())
    refs.push_back(io::tensor_ref<double>(p.name, p.shape.dims(), p.data.data()));
  const std::uint8_t counter[8] = {42, 0, 0, 0, 0, 0, 0, 0};
  refs.push_back({"1.num_batches_tracked", io::DType::U8, {8}, counter});
  io::write_safetensors(dir / "torch.safetensors", refs);
  auto b = make_mlp<double>();
  io::load_weights(b, dir / "torch.safetensors");
  CHECK(same_bits(a, b));

  // A directory in the way: the save fails, the directory and its content survive, no temp left.
  std::filesystem::create_directory(dir / "taken.safetensors");
  jacnet_test::write_bytes(dir / "taken.safetensors" / "keep", {1});
  CHECK_THROWS_AS(io::save_weights(a, dir / "taken.safetensors"), IoError);
  CHECK(jacnet_test::read_bytes(dir / "taken.safetensors" / "keep") ==
        std::vector<unsigned char>{1});
  auto names = dir.entries();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"taken.safetensors", "torch.safetensors"});
}
