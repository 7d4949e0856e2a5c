// Tests of check/layer.hpp: check_layer passes on jacnet's own layers (full and fast mode) and
// fails, naming the wrong entry, on layers with a deliberately wrong rule: a parameter-gradient
// entry, a second derivative, a write into a non-trainable slot, a wrong jvp.
#include <catch2/catch.hpp>

#include "jacnet/check/layer.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "support/wrong_layers.hpp"

using namespace jacnet;
using namespace jacnet::check_testing;


TEST_CASE("check_layer passes on correct layers, full and fast", "[check]") {
  check::LayerOptions o;
  o.atol = 1e-7;
  o.rtol = 1e-7;
  const check::Report d = check::check_layer(nn::Dense<double>(5, 3), Shape{5}, o);
  INFO(d);
  CHECK(d.ok());
  for (const char* q : {"jvp", "vjp", "param_grad", "second_order dQ/dθ", "second_order dQ/dX",
                        "adjoint identity <V, jvp U> = <vjp V, U>"})
    CHECK(d.find(q) != nullptr);
  CHECK(d.find("param_grad")->checked == 18);
  const check::Report c =
      check::check_layer(nn::Conv2d<double>(2, 3, 3, 1, 1), Shape{2, 4, 5}, o);
  INFO(c);
  CHECK(c.ok());
  const check::Report b = check::check_layer(nn::BatchNorm1d<double>(3), Shape{3}, o);
  INFO(b);
  CHECK(b.ok());
  CHECK(b.find("param_grad")->checked == 6);  // γ, β only
  CHECK(b.find("param_grad leaves non-trainable entries")->checked == 6);
  o.fast = true;
  o.projections = 3;
  const check::Report f = check::check_layer(nn::GELU<double>(), Shape{9}, o);
  INFO(f);
  CHECK(f.ok());
  CHECK(f.find("vjp (projected)") != nullptr);
  CHECK(check::check_layer(nn::Dense<double>(5, 3), Shape{5}, o).ok());
}

TEST_CASE("check_layer names the wrong entry of a wrong rule", "[check]") {
  SECTION("parameter gradient") {
    const check::Report r = check::check_layer(WrongGradDense(3, 2), Shape{3});
    REQUIRE_FALSE(r.ok());
    const auto* q = r.find("param_grad");
    REQUIRE(q != nullptr);
    CHECK(q->failed == 1);
    CHECK(q->worst_entry == "weight[0,1]");
    CHECK(q->got - q->expected == Approx(0.01).epsilon(1e-4));
    CHECK(r.worst() == q);
    CHECK(r.str().find("worst weight[0,1]") != std::string::npos);
    check::LayerOptions fast;
    fast.fast = true;
    CHECK_FALSE(check::check_layer(WrongGradDense(3, 2), Shape{3}, fast).ok());
  }
  SECTION("second derivative") {
    const check::Report r =
        check::check_layer(nn::Activation<double, HalfD2TanhOp>(), Shape{6});
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.find("second_order dQ/dX")->ok());
    CHECK(r.find("jvp")->ok());
    CHECK(r.find("vjp")->ok());
  }
  SECTION("write into a buffer slot") {
    const check::Report r = check::check_layer(LeakyBufferBN(3), Shape{3});
    REQUIRE_FALSE(r.ok());
    const auto* q = r.find("param_grad leaves non-trainable entries");
    REQUIRE(q != nullptr);
    CHECK(q->failed == 1);
    CHECK(q->worst_entry == "running_mean[1]");
    CHECK(r.find("param_grad")->ok());
  }
  SECTION("jvp") {
    const check::Report r = check::check_layer(WrongJvpSigmoid(), Shape{4});
    CHECK_FALSE(r.find("jvp")->ok());
    CHECK_FALSE(r.find("adjoint identity <V, jvp U> = <vjp V, U>")->ok());
    CHECK(r.find("vjp")->ok());
  }
}

TEST_CASE("check_layer rejects a wrong θ size", "[check]") {
  nn::Dense<double> d(3, 2);
  CHECK_THROWS_AS(check::check_layer(d, Vector<double>(Vector<double>::Zero(5)),
                                     Matrix<double>(Matrix<double>::Zero(2, 3))),
                  ShapeError);
}
