#pragma once
// Test helper: small double nets, batches, and checks of a loss's parameter (and input) gradient
// from value_and_grad against central finite differences of the loss value (through the public
// checker jacnet::check::check_loss).
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "jacnet/check/loss.hpp"
#include "jacnet/losses/loss.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/nets.hpp"

namespace jacnet::losses::testing {

using TanhMLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>,
                               nn::Tanh<double>, nn::Dense<double>>;
using ReluMLP = nn::Sequential<nn::Dense<double>, nn::ReLU<double>, nn::Dense<double>,
                               nn::ReLU<double>, nn::Dense<double>>;
using SmallCNN = nn::Sequential<nn::Conv2d<double>, nn::Tanh<double>, nn::Conv2d<double>,
                                nn::Tanh<double>, nn::Flatten<double>, nn::Dense<double>>;

/// D → h1 → h2 → C with tanh, seeded.
inline TanhMLP tanh_mlp(Index D, Index h1, Index h2, Index C, std::uint64_t seed) {
  TanhMLP net(Shape{D}, nn::Dense<double>(D, h1), nn::Tanh<double>(), nn::Dense<double>(h1, h2),
              nn::Tanh<double>(), nn::Dense<double>(h2, C));
  net.init(seed);
  nn::testing::fill_zero_params(net, seed + 1);  // non-zero biases
  return net;
}
inline ReluMLP relu_mlp(Index D, Index h1, Index h2, Index C, std::uint64_t seed) {
  ReluMLP net(Shape{D}, nn::Dense<double>(D, h1), nn::ReLU<double>(), nn::Dense<double>(h1, h2),
              nn::ReLU<double>(), nn::Dense<double>(h2, C));
  net.init(seed);
  nn::testing::fill_zero_params(net, seed + 1);
  return net;
}
/// {Cin,H,W} → conv 3x3 pad 1 (c1) → tanh → conv 3x3 pad 1 (c2) → tanh → flatten → dense C.
inline SmallCNN small_cnn(Index Cin, Index H, Index W, Index c1, Index c2, Index C,
                          std::uint64_t seed) {
  SmallCNN net(Shape{Cin, H, W}, nn::Conv2d<double>(Cin, c1, 3, 1, 1), nn::Tanh<double>(),
               nn::Conv2d<double>(c1, c2, 3, 1, 1), nn::Tanh<double>(), nn::Flatten<double>(),
               nn::Dense<double>(c2 * H * W, C));
  net.init(seed);
  return net;
}

inline Matrix<double> random_inputs(Index B, Index D, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  Matrix<double> X(B, D);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = N(g);
  return X;
}
inline std::vector<int> random_labels(Index B, Index C, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<int> l(static_cast<std::size_t>(B));
  for (auto& x : l) x = static_cast<int>(g() % static_cast<std::uint64_t>(C));
  return l;
}

/// Central differences of the loss value w.r.t. every parameter (and every input entry when
/// `inputs`, with the teacher's quantities held fixed), each evaluation from the same random
/// state (`seed`), against value_and_grad — by the public checker jacnet::check::check_loss with
/// |FD − analytic| ≤ tol · max(1e-3, max |analytic|) per quantity (atol = tol, rtol = 0,
/// scale_atol). Also checks that value() and value_and_grad agree (and, with a teacher net, that
/// the teacher recorded at X gives the same value). Returns the analytic gradient.
template <class L, class Net, class Teacher>
Vector<double> check_gradients(const L& loss, Net& net, Matrix<double>& X,
                               const std::vector<int>& labels, const Teacher* teacher,
                               bool inputs = true, double h = 1e-5, double tol = 1e-6,
                               std::uint64_t seed = 11) {
  auto batch = [&] {
    if constexpr (std::is_same_v<Teacher, NoTeacher>)
      return Batch<double>(X, labels);
    else
      return Batch<double, Teacher>(X, labels, *teacher);
  };
  Workspace<double> ws(seed);
  const auto& r = loss.value_and_grad(net, batch(), ws);
  const double v0 = r.value;
  const Vector<double> grad = r.grad;
  REQUIRE(grad.size() == net.num_params());
  ws.reseed(seed);
  CHECK(loss.value(net, batch(), ws) == Approx(v0).epsilon(1e-13));
  if constexpr (L::needs.teacher_net) {
    // The teacher is evaluated at other (noisy) inputs: it cannot be recorded at X.
    REQUIRE_FALSE((inputs && !std::is_same_v<Teacher, NoTeacher>));
  } else if constexpr (!std::is_same_v<Teacher, NoTeacher>) {
    if (inputs) {
      std::vector<Index> all;
      for (Index l = 0; l <= Index(Teacher::num_layers); ++l) all.push_back(l);
      const auto recorded =
          TeacherData<double>::record(*teacher, X, L::needs.teacher_jacobian, all);
      ws.reseed(seed);
      CHECK(loss.value(net, Batch<double, TeacherData<double>>(X, labels, recorded), ws) ==
            Approx(v0).epsilon(1e-12));
    }
  }
  check::LossOptions o;
  o.inputs = inputs;
  o.loss_seed = seed;
  o.eps = h;
  o.atol = tol;
  o.rtol = 0;
  o.scale_atol = true;
  const check::Report report = check::check_loss(loss, net, X, labels, teacher, o);
  INFO(report);
  CHECK(report.ok());
  if (inputs) CHECK(report.find("dL/dX") != nullptr);
  return grad;
}

}  // namespace jacnet::losses::testing
