// apps/fashion/tanh_teacher.cpp — the tanh MLP teacher of the second distillation pair
// (protocols.hpp). Trained by rank 0 in every run (no cache: a few seconds to a minute; training
// is deterministic, so every run gets the same bits) and broadcast to the other ranks.
#include <chrono>
#include <iostream>
#include <span>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/fit.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

TanhMlp tanh_teacher(Context& ctx, const Data& train) {
  const Config& c = ctx.cfg;
  constexpr std::uint64_t kInitSeed = 1, kFitSeed = 7;
  constexpr double kLr = 1e-3;
  TanhMlp net = make_tanh_teacher(kInitSeed);
  if (ctx.comm.is_root()) {
    if (!c.quiet) std::cerr << "[tanh-teacher] training " << kTanhTeacherDescription << "\n";
    train::Adam<T> opt({.lr = kLr});
    train::FitOptions o{.epochs = c.teacher_epochs, .batch_size = c.batch, .seed = kFitSeed};
    o.progress.label = "tanh-teacher";
    o.progress.quiet = c.quiet;
    const auto t0 = std::chrono::steady_clock::now();
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(kLr), train.X, train.y, o);
    ctx.report.run["tanh_teacher"] = {
        {"net", kTanhTeacherDescription},
        {"train_images", train.X.rows()},
        {"epochs", c.teacher_epochs},
        {"train_seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  }
  auto p = net.params();
  ctx.comm.broadcast(std::span<T>(p.data(), static_cast<std::size_t>(p.size())), 0);
  return net;
}

}  // namespace jacnet::fashion
