// apps/fashion/teacher.cpp — the cached teachers (protocols.hpp).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <span>

#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/weights.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/fit.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// FNV-1a (64 bit) over the bytes of the training images and labels.
std::string data_hash(const Data& d) {
  std::uint64_t h = 14695981039346656037ull;
  auto add = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  add(d.X.data(), static_cast<std::size_t>(d.X.size()) * sizeof(T));
  add(d.y.data(), d.y.size() * sizeof(int));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

constexpr std::uint64_t kInitSeed = 1, kFitSeed = 7;
constexpr double kLr = 1e-3;

}  // namespace

TeacherNet teacher_for(Context& ctx, const std::string& file, const Data& train, Index classes,
                       const std::string& label) {
  const Config& c = ctx.cfg;
  TeacherNet net = make_teacher(classes, kInitSeed);
  if (ctx.comm.is_root()) {
    const json training = {{"net", kTeacherDescription},
                           {"classes", classes},
                           {"parameters", net.num_params()},
                           {"init_seed", kInitSeed},
                           {"optimizer", "Adam, constant rate"},
                           {"lr", kLr},
                           {"epochs", c.teacher_epochs},
                           {"batch", c.batch},
                           {"fit_seed", kFitSeed},
                           {"train_images", train.X.rows()},
                           {"data_dir", c.data_dir},
                           {"data_hash", data_hash(train)}};
    const fs::path weights = c.out / file, meta = c.out / (file + ".json");
    std::string why;
    if (!fs::exists(weights)) {
      why = "no cache";
    } else if (!fs::exists(meta)) {
      why = "cache without its training record " + meta.filename().string();
    } else {
      const auto bytes = io::read_file(meta, 1 << 20);
      const json got = json::parse(bytes.begin(), bytes.end(), nullptr, false);
      if (got.is_discarded() || !got.contains("training")) {
        why = "unreadable training record";
      } else if (got["training"] != training) {
        why = "trained with another configuration:";
        for (const auto& [k, v] : training.items())
          if (!got["training"].contains(k) || got["training"][k] != v)
            why += " " + k + " " + (got["training"].contains(k) ? got["training"][k].dump() : "-") +
                   " -> " + v.dump();
      }
    }
    json& log = ctx.report.run["teachers"][label];
    if (why.empty()) {
      io::load_weights(net, weights);
      if (!c.quiet) std::cerr << "[" << label << "] loaded " << weights.string() << "\n";
      log["cached"] = true;
    } else {
      if (!c.quiet) std::cerr << "[" << label << "] training (" << why << ")\n";
      train::Adam<T> opt({.lr = kLr});
      train::FitOptions o{.epochs = c.teacher_epochs, .batch_size = c.batch, .seed = kFitSeed};
      o.progress.label = label;
      o.progress.quiet = c.quiet;
      // Checkpoints inside the teacher's training (train/checkpoint.hpp): about 8 per epoch and
      // at least one a minute, in <out>/<file>.ckpt, tagged with the training record. --resume
      // continues from it (bitwise the teacher of an uninterrupted run); without --resume a
      // left-over file is overwritten. Removed once the cache is written.
      const fs::path ckpt = c.out / (file + ".ckpt");
      const Index batches = (train.X.rows() + c.batch - 1) / c.batch;
      o.checkpoint.path = ckpt;
      o.checkpoint.every_steps = std::max<Index>(1, batches / 8);
      o.checkpoint.every_seconds = 60.0;
      o.checkpoint.at_end = true;
      o.checkpoint.resume = c.resume;
      o.checkpoint.tag = training.dump();
      fs::create_directories(c.out);
      const auto t0 = std::chrono::steady_clock::now();
      const auto hist = train::fit(net, losses::CrossEntropy{}, opt,
                                   train::Schedule::constant(kLr), train.X, train.y, o);
      if (hist.resumed_at >= 0 && !c.quiet)
        std::cerr << "[" << label << "] resumed from " << ckpt.string() << " at batch "
                  << hist.resumed_at << "\n";
      // Weights first, then the record: a kill between the two leaves a cache without a record,
      // which is retrained (or, with --resume, taken from the finished checkpoint).
      fs::remove(meta);
      io::save_weights(net, weights);
      io::write_file_atomic(meta, json{{"training", training}}.dump(2) + "\n");
      fs::remove(ckpt);
      log["cached"] = false;
      log["reason"] = why;
      log["resumed_at_batch"] = hist.resumed_at;
      log["train_seconds"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  auto p = net.params();
  ctx.comm.broadcast(std::span<T>(p.data(), static_cast<std::size_t>(p.size())), 0);
  return net;
}

}  // namespace jacnet::fashion
