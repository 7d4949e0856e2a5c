// tests/train_resume/worker.cpp — trains a small MLP with train::fit and checkpoints, for
// kill9.sh. Synthetic data (no files needed): 4 Gaussian classes in 64-D.
//   train_resume_worker OUT adam|sgd STEPS [resume]
// writes OUT.ckpt (every 100 batches) while training, then OUT.params (the final parameters,
// raw floats) and OUT.records (every EpochRecord field but the wall time, as hex floats), both
// atomically; prints "resumed_at N" (N = -1 for a fresh run).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "jacnet/io/atomic_file.hpp"
#include "jacnet/losses/composition.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/random.hpp"
#include "jacnet/train/sgd.hpp"

using namespace jacnet;

namespace {

using Net = nn::Sequential<nn::Dense<float>, nn::Tanh<float>, nn::Dense<float>, nn::Tanh<float>,
                           nn::Dense<float>>;

std::string hex(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

template <class Opt>
int run(Opt& opt, const train::Schedule& sched, bool per_step, const std::string& out,
        std::int64_t steps, bool resume) {
  constexpr Index N = 1200, D = 64, C = 4;
  Matrix<float> X(N, D);
  std::vector<int> y(static_cast<std::size_t>(N));
  train::Random rng(11);
  for (Index i = 0; i < N; ++i) {
    const int c = static_cast<int>(i % C);
    y[static_cast<std::size_t>(i)] = c;
    for (Index j = 0; j < D; ++j)
      X(i, j) = static_cast<float>((j % C == c ? 1.0 : 0.0) + rng.normal());
  }
  Net net(Shape{D}, nn::Dense<float>(D, 128), nn::Tanh<float>(), nn::Dense<float>(128, 64),
          nn::Tanh<float>(), nn::Dense<float>(64, C));
  net.init(3);
  train::FitOptions o{.steps = steps, .batch_size = 32, .seed = 5, .schedule_per_step = per_step};
  o.progress.quiet = true;
  o.checkpoint.path = out + ".ckpt";
  o.checkpoint.every_steps = 100;
  o.checkpoint.resume = resume;
  o.checkpoint.tag = "kill9 worker";
  const auto loss = losses::CrossEntropy{} +
                    0.05 * losses::JacobianNorm<losses::RandomProjection<1>>{};
  const auto h = train::fit(net, loss, opt, sched, X, y, o);
  const auto p = net.params();
  io::write_file_atomic(out + ".params",
                        std::string_view(reinterpret_cast<const char*>(p.data()),
                                         static_cast<std::size_t>(p.size()) * sizeof(float)));
  std::string rec = "iterations " + std::to_string(h.iterations) + " optimizer_steps " +
                    std::to_string(opt.steps()) + "\n";
  for (const auto& r : h.epochs) {
    // appended piece by piece, not a + chain (GCC 12 -Wrestrict false positive)
    for (const std::string& f : {std::to_string(r.epoch), hex(r.lr), hex(r.loss), hex(r.accuracy),
                                 std::to_string(r.samples), std::to_string(r.skipped)}) {
      rec += f;
      rec += ' ';
    }
    for (double t : r.terms) {
      rec += hex(t);
      rec += ' ';
    }
    rec.back() = '\n';
  }
  io::write_file_atomic(out + ".records", rec);
  std::cout << "resumed_at " << h.resumed_at << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5 || (argc == 5 && std::string(argv[4]) != "resume")) {
    std::cerr << "usage: " << argv[0] << " OUT adam|sgd STEPS [resume]\n";
    return 2;
  }
  const std::string out = argv[1], kind = argv[2];
  const std::int64_t steps = std::atoll(argv[3]);
  const bool resume = argc == 5;
  try {
    if (kind == "adam") {
      train::Adam<float> opt({.lr = 1e-3});
      return run(opt, train::Schedule::cosine(1e-3, steps, 1e-5).with_warmup(50), true, out,
                 steps, resume);
    }
    if (kind == "sgd") {
      train::SGD<float> opt({.lr = 0.05, .momentum = 0.9, .nesterov = true});
      return run(opt, train::Schedule::step(0.05, 3, 0.5), false, out, steps, resume);
    }
    std::cerr << "unknown optimizer '" << kind << "' (adam or sgd)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
