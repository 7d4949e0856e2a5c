// Tests of nn::Sequential: shapes and shape errors, flat parameters and PyTorch names, seeded
// He/Glorot init, forward == manual composition, trace reuse, float and double.
#include <catch2/catch.hpp>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/layer_check.hpp"
#include "support/nets.hpp"

using namespace jacnet;
using namespace jacnet::nn::testing;

TEST_CASE("Sequential shapes, offsets and PyTorch names", "[nn][sequential]") {
  using Net =
      nn::Sequential<nn::Flatten<double>, nn::Dense<double>, nn::ReLU<double>, nn::Dense<double>>;
  Net net(Shape{2, 3, 4}, nn::Flatten<double>(), nn::Dense<double>(24, 10), nn::ReLU<double>(),
          nn::Dense<double>(10, 3, false));
  CHECK(Net::num_layers == 4);
  CHECK(net.input_shape() == Shape{2, 3, 4});
  CHECK(net.shape(1) == Shape{24});
  CHECK(net.output_shape() == Shape{3});
  CHECK(net.num_params() == 24 * 10 + 10 + 30);
  CHECK(net.param_offset(0) == 0);
  CHECK(net.param_offset(1) == 0);
  CHECK(net.param_count(1) == 250);
  CHECK(net.param_offset(3) == 250);
  CHECK(net.layer<1>().name() == "Dense(24->10)");
  CHECK(net.layer_name(2) == "ReLU");
  net.init(1);
  const auto np = net.named_parameters();
  REQUIRE(np.size() == 3);
  CHECK(np[0].name == "1.weight");
  CHECK(np[0].shape == Shape{10, 24});
  CHECK(np[1].name == "1.bias");
  CHECK(np[2].name == "3.weight");
  CHECK(np[2].offset == 250);
  CHECK(np[2].data.data() == net.params().data() + 250);
  CHECK(np[2].data.size() == 30);
  // writing through a named span changes the flat vector and the per-layer view
  np[1].data[0] = 42;
  CHECK(net.params()[240] == 42);
  CHECK(net.layer_params<1>()[240] == 42);
  CHECK(net.layer_params<3>().size() == 30);
  Vector<double> g = Vector<double>::Zero(net.num_params());
  CHECK(net.named_view(g.data())[2].data.data() == g.data() + 250);
  CHECK(net.summary().find("1: Dense(24->10) -> [10]  (250 params)") != std::string::npos);
}

TEST_CASE("Sequential shape errors name the layer index, the layer and both shapes",
          "[nn][sequential]") {
  using D = nn::Dense<float>;
  using Net = nn::Sequential<D, nn::Tanh<float>, D>;
  try {
    Net net(Shape{4}, D(4, 3), nn::Tanh<float>(), D(5, 2));
    FAIL("no throw");
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find("layer 2") != std::string::npos);
    CHECK(m.find("Dense(5->2)") != std::string::npos);
    CHECK(m.find("[3]") != std::string::npos);  // what it gets
    CHECK(m.find("[5]") != std::string::npos);  // what it expects
    CHECK(m.find("layer 1 Tanh") != std::string::npos);
  }
  CHECK_THROWS_AS((nn::Sequential<D>(Shape{1, 2, 2}, D(4, 1))), ShapeError);  // needs Flatten
  Net ok(Shape{4}, D(4, 3), nn::Tanh<float>(), D(3, 2));
  Matrix<float> X(2, 5);
  nn::Trace<float> tr;
  CHECK_THROWS_AS(ok.forward(X, tr), ShapeError);
  Vector<float> wrong(3);
  CHECK_THROWS_AS(ok.set_params(wrong), ShapeError);
}

TEST_CASE("Sequential init: seeded, He before ReLU-family, Glorot otherwise", "[nn][sequential]") {
  using namespace jacnet::nn;
  using Net = Sequential<Dense<double>, ReLU<double>, Dense<double>, Tanh<double>, Dense<double>,
                         Flatten<double>, GELU<double>, Dense<double>>;
  auto make = [] {
    return Net(Shape{50}, Dense<double>(50, 400), ReLU<double>(), Dense<double>(400, 300),
               Tanh<double>(), Dense<double>(300, 200), Flatten<double>(), GELU<double>(),
               Dense<double>(200, 2));
  };
  Net a = make(), b = make();
  CHECK(a.init_scheme(0) == InitScheme::He);
  CHECK(a.init_scheme(2) == InitScheme::Glorot);
  CHECK(a.init_scheme(4) == InitScheme::He);  // Flatten is skipped, GELU is ReLU-family
  CHECK(a.init_scheme(7) == InitScheme::Glorot);
  a.init(123);
  b.init(123);
  CHECK(a.param_vector() == b.param_vector());
  b.init(124);
  CHECK(a.param_vector() != b.param_vector());
  // He: std √(2/50); Glorot: bound √(6/700)
  const auto w0 = a.layer_params<0>().head(50 * 400);
  CHECK(std::sqrt(w0.squaredNorm() / double(w0.size())) ==
        Approx(std::sqrt(2.0 / 50)).epsilon(0.03));
  const auto w2 = a.layer_params<2>().head(400 * 300);
  CHECK(w2.cwiseAbs().maxCoeff() <= std::sqrt(6.0 / 700));
  CHECK(std::sqrt(w2.squaredNorm() / double(w2.size())) ==
        Approx(std::sqrt(2.0 / 700)).epsilon(0.03));  // uniform(±a) has std a/√3
  // float net from the same seed: the same values rounded
  auto f = all_activation_mlp<float>();
  auto d = all_activation_mlp<double>();
  f.init(9);
  d.init(9);
  CHECK(f.param_vector() == d.param_vector().cast<float>());
}

TEST_CASE("Sequential forward equals the manual composition, traces are reused",
          "[nn][sequential]") {
  auto net = all_activation_mlp<double>();
  net.init(5);
  std::mt19937_64 rng(2);
  const Matrix<double> X = random_matrix(4, 5, rng);
  // manual
  Matrix<double> a = X, b;
  net.for_each_layer([&](auto I, const auto& layer) {
    layer.forward(net.block(I), a, b);
    a = b;
  });
  nn::Trace<double> tr;
  net.forward(X, tr);
  REQUIRE(tr.acts.size() == net.num_layers + 1);
  CHECK(tr.input() == X);
  CHECK(tr.output() == a);
  CHECK(net.forward(X) == a);
  std::vector<const double*> ptrs;
  for (auto& m : tr.acts) ptrs.push_back(m.data());
  const Matrix<double> X2 = random_matrix(4, 5, rng);
  net.forward(X2, tr);
  for (std::size_t l = 0; l < tr.acts.size(); ++l) CHECK(tr.acts[l].data() == ptrs[l]);
  // the input slot itself as X: no copy, same result
  tr.acts[0] = X;
  net.forward(tr.acts[0], tr);
  CHECK(tr.output() == a);
}
