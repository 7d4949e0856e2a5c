#pragma once
// jacnet — input Jacobians of small neural networks and the losses built on them.
// Umbrella header: includes every part. Each part can also be included alone; the layering is
// core → ad → nn → losses → train → io (docs/design.md).

// core: tensors, errors
#include "jacnet/core/error.hpp"
#include "jacnet/core/gemm.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/core/thread_scratch.hpp"

// ad: scalar automatic differentiation
#include "jacnet/ad.hpp"

// nn: layers, nets, modes
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/init.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/autodiff_layer.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/nn/net.hpp"
#include "jacnet/nn/workspace.hpp"
#include "jacnet/nn/seeds.hpp"
#include "jacnet/nn/products.hpp"
#include "jacnet/nn/jacobian.hpp"
#include "jacnet/nn/gradient.hpp"
#include "jacnet/nn/second_order.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/trainable.hpp"

// losses
#include "jacnet/losses/term.hpp"
#include "jacnet/losses/plan.hpp"
#include "jacnet/losses/batch.hpp"
#include "jacnet/losses/teacher.hpp"
#include "jacnet/losses/driver.hpp"
#include "jacnet/losses/loss.hpp"
#include "jacnet/losses/seeds.hpp"
#include "jacnet/losses/composition.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/losses/soft_target_kd.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/noisy_match.hpp"
#include "jacnet/losses/attention_transfer.hpp"
#include "jacnet/losses/lwf.hpp"

// train: optimizers, schedules, loops
#include "jacnet/train/random.hpp"
#include "jacnet/train/param_mask.hpp"
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/sgd.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/schedule.hpp"
#include "jacnet/train/batches.hpp"
#include "jacnet/train/subset.hpp"
#include "jacnet/train/evaluate.hpp"
#include "jacnet/train/progress.hpp"
#include "jacnet/train/fit.hpp"

// check: gradcheck and the layer, net and loss checkers for users' own code
#include "jacnet/check.hpp"

// io: data, weights, images (each needs an optional dependency)
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/dtype.hpp"
#include "jacnet/io/npy.hpp"
#if __has_include(<zlib.h>)
#include "jacnet/io/idx.hpp"
#include "jacnet/io/fashion_mnist.hpp"
#endif
// JACNET_HAS_JSON (set by the CMake target when it finds nlohmann-json): 1 includes the
// JSON-based readers, 0 leaves them out; undefined: included when <nlohmann/json.hpp> exists.
#if defined(JACNET_HAS_JSON)
#if JACNET_HAS_JSON
#include "jacnet/io/safetensors.hpp"
#include "jacnet/io/weights.hpp"
#endif
#elif __has_include(<nlohmann/json.hpp>)
#include "jacnet/io/safetensors.hpp"
#include "jacnet/io/weights.hpp"
#endif
#if __has_include(<stb/stb_image_write.h>)
#include "jacnet/io/png.hpp"
#endif
