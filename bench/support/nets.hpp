// bench/support/nets.hpp — the two benchmark nets, float: MLP-784 (784-256-256-10 tanh,
// 269,322 parameters) and LeNet-5 on 1x28x28 (conv 5x5x6 pad 2, tanh, avgpool 2, conv 5x5x16,
// tanh, avgpool 2, flatten, dense 400-120-84-10 with tanh between; 61,706 parameters).
#pragma once

#include <cstdint>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::bench {

using Mlp784 = nn::Sequential<nn::Dense<float>, nn::Tanh<float>, nn::Dense<float>, nn::Tanh<float>,
                              nn::Dense<float>>;
using LeNet5 =
    nn::Sequential<nn::Conv2d<float>, nn::Tanh<float>, nn::AvgPool2d<float>, nn::Conv2d<float>,
                   nn::Tanh<float>, nn::AvgPool2d<float>, nn::Flatten<float>, nn::Dense<float>,
                   nn::Tanh<float>, nn::Dense<float>, nn::Tanh<float>, nn::Dense<float>>;

inline Mlp784 make_mlp784(std::uint64_t seed) {
  Mlp784 net(Shape{784}, nn::Dense<float>(784, 256), nn::Tanh<float>(), nn::Dense<float>(256, 256),
             nn::Tanh<float>(), nn::Dense<float>(256, 10));
  net.init(seed);
  return net;
}

inline LeNet5 make_lenet5(std::uint64_t seed) {
  LeNet5 net(Shape{1, 28, 28}, nn::Conv2d<float>(1, 6, 5, 1, 2), nn::Tanh<float>(),
             nn::AvgPool2d<float>(2), nn::Conv2d<float>(6, 16, 5), nn::Tanh<float>(),
             nn::AvgPool2d<float>(2), nn::Flatten<float>(), nn::Dense<float>(400, 120),
             nn::Tanh<float>(), nn::Dense<float>(120, 84), nn::Tanh<float>(),
             nn::Dense<float>(84, 10));
  net.init(seed);
  return net;
}

}  // namespace jacnet::bench
