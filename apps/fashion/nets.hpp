#pragma once
// apps/fashion/nets.hpp — the main job's networks (float):
//   teacher    CNN 1x28x28 → conv5x5 pad2 (8) → ReLU → maxpool 2 → conv5x5 (16) → ReLU →
//              maxpool 2 → 400 → dense C      (its attention boundary: 8x14x14 after layer 3)
//   mlp        784 → 128 → ReLU → 10          (distillation and noise-robustness student)
//   small_cnn  1x28x28 → conv3x3 pad1 (4) → ReLU → maxpool 2 → 784 → dense C
//              (transfer student; its attention boundary 4x14x14 after layer 3)
//   tanh_mlp   784 → h1 → tanh → h2 → tanh → 10: the second distillation pair, whose input
//              Jacobians are smooth: teacher 784-256-256-10, student 784-64-64-10
#include <cstdint>

#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"

namespace jacnet::fashion {

using T = float;

using TeacherNet = nn::Sequential<nn::Conv2d<T>, nn::ReLU<T>, nn::MaxPool2d<T>, nn::Conv2d<T>,
                                  nn::ReLU<T>, nn::MaxPool2d<T>, nn::Flatten<T>, nn::Dense<T>>;
inline constexpr const char* kTeacherDescription =
    "conv5x5p2(8)-ReLU-maxpool2-conv5x5(16)-ReLU-maxpool2-flatten-dense(400,C)";
inline constexpr Index kTeacherAttention = 3;  // boundary after the first pooling: 8x14x14

inline TeacherNet make_teacher(Index classes, std::uint64_t seed) {
  TeacherNet n(Shape{1, 28, 28}, nn::Conv2d<T>(1, 8, 5, 1, 2), nn::ReLU<T>(), nn::MaxPool2d<T>(2),
               nn::Conv2d<T>(8, 16, 5), nn::ReLU<T>(), nn::MaxPool2d<T>(2), nn::Flatten<T>(),
               nn::Dense<T>(400, classes));
  n.init(seed);
  return n;
}

using MlpNet = nn::Sequential<nn::Dense<T>, nn::ReLU<T>, nn::Dense<T>>;
inline MlpNet make_mlp(std::uint64_t seed) {
  MlpNet n(Shape{784}, nn::Dense<T>(784, 128), nn::ReLU<T>(), nn::Dense<T>(128, 10));
  n.init(seed);
  return n;
}

using SmallCnn =
    nn::Sequential<nn::Conv2d<T>, nn::ReLU<T>, nn::MaxPool2d<T>, nn::Flatten<T>, nn::Dense<T>>;
inline constexpr Index kStudentAttention = 3;  // 4x14x14

inline SmallCnn make_small_cnn(Index outputs, std::uint64_t seed) {
  SmallCnn n(Shape{1, 28, 28}, nn::Conv2d<T>(1, 4, 3, 1, 1), nn::ReLU<T>(), nn::MaxPool2d<T>(2),
             nn::Flatten<T>(), nn::Dense<T>(784, outputs));
  n.init(seed);
  return n;
}

using TanhMlp = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
inline constexpr const char* kTanhTeacherDescription = "dense(784,256)-tanh-dense(256,256)-tanh-dense(256,10)";

inline TanhMlp make_tanh_mlp(Index h1, Index h2, std::uint64_t seed) {
  TanhMlp n(Shape{784}, nn::Dense<T>(784, h1), nn::Tanh<T>(), nn::Dense<T>(h1, h2), nn::Tanh<T>(),
            nn::Dense<T>(h2, 10));
  n.init(seed);
  return n;
}
inline TanhMlp make_tanh_teacher(std::uint64_t seed) { return make_tanh_mlp(256, 256, seed); }
inline TanhMlp make_tanh_student(std::uint64_t seed) { return make_tanh_mlp(64, 64, seed); }

}  // namespace jacnet::fashion
