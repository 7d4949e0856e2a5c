// Tests of checkpoints inside train::fit (jacnet/train/checkpoint.hpp, FitOptions::checkpoint):
// a run resumed from any of its checkpoints ends bitwise equal to the uninterrupted run
// (parameters, optimizer state, records; SGD with Nesterov momentum and a per-epoch schedule, Adam
// with a per-step cosine schedule and warm-up, a loss with random draws, epochs and step counts);
// a finished checkpoint returns its history; mismatched and corrupted checkpoints are rejected
// naming the file and the field. The real kill -9 test is tests/train_resume/kill9.sh.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "jacnet/losses/composition.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/checkpoint.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/random.hpp"
#include "jacnet/train/sgd.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
namespace fs = std::filesystem;

namespace {

using MLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>>;

MLP mlp(Index H, std::uint64_t seed) {
  MLP net(Shape{4}, nn::Dense<double>(4, H), nn::Tanh<double>(), nn::Dense<double>(H, 3));
  net.init(seed);
  return net;
}

struct Data {
  Matrix<double> X;
  std::vector<int> y;
};
Data blobs(Index n, std::uint64_t seed) {
  Data d;
  d.X.resize(n, 4);
  d.y.resize(static_cast<std::size_t>(n));
  train::Random rng(seed);
  for (Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    d.y[static_cast<std::size_t>(i)] = c;
    for (Index j = 0; j < 4; ++j) d.X(i, j) = (j == c ? 2.0 : 0.0) + rng.normal();
  }
  return d;
}

const auto kLoss =
    losses::CrossEntropy{} + 0.1 * losses::JacobianNorm<losses::RandomProjection<1>>{};

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// Every record field but the wall time, bitwise.
void check_same_history(const train::History& a, const train::History& b) {
  REQUIRE(a.epochs.size() == b.epochs.size());
  CHECK(a.iterations == b.iterations);
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    const auto &x = a.epochs[e], &y = b.epochs[e];
    INFO("epoch " << e);
    CHECK(x.epoch == y.epoch);
    CHECK(same_bits(x.lr, y.lr));
    CHECK(same_bits(x.loss, y.loss));
    CHECK(same_bits(x.accuracy, y.accuracy));
    CHECK(x.samples == y.samples);
    CHECK(x.skipped == y.skipped);
    CHECK(same_bits(x.val_loss, y.val_loss));
    CHECK(same_bits(x.val_accuracy, y.val_accuracy));
    REQUIRE(x.terms.size() == y.terms.size());
    for (std::size_t t = 0; t < x.terms.size(); ++t) CHECK(same_bits(x.terms[t], y.terms[t]));
  }
}

template <class Opt>
void check_same_optimizer(const Opt& a, const Opt& b) {
  CHECK(a.steps() == b.steps());
  CHECK(a.lr() == b.lr());
  const auto va = a.state_vectors(), vb = b.state_vectors();
  REQUIRE(va.size() == vb.size());
  for (std::size_t i = 0; i < va.size(); ++i) {
    INFO(va[i].first);
    CHECK(va[i].first == vb[i].first);
    REQUIRE(va[i].second->size() == vb[i].second->size());
    CHECK(*va[i].second == *vb[i].second);
  }
}

/// Runs the full fit with checkpoints, snapshotting the file at the given iterations; then
/// resumes a fresh net and optimizer (other init, unused state) from each snapshot and compares.
template <class MakeOpt>
void check_resume_bitwise(MakeOpt make_opt, const train::Schedule& sched, train::FitOptions o,
                          std::vector<std::int64_t> snapshot_at) {
  jacnet_test::TempDir dir;
  const auto d = blobs(90, 4);
  const fs::path ckpt = dir / "run.ckpt";
  o.progress.quiet = true;
  o.checkpoint.path = ckpt;
  o.checkpoint.every_steps = 1;
  o.checkpoint.tag = "resume test";
  // Snapshots, and the on_epoch side effect (val_accuracy) that is part of the records.
  o.checkpoint.on_write = [&](const fs::path& p, std::int64_t it) {
    for (auto s : snapshot_at)
      if (s == it && !fs::exists(dir / ("at-" + std::to_string(it))))  // the first write at it
        fs::copy_file(p, dir / ("at-" + std::to_string(it)));
  };
  o.on_epoch = [](train::EpochRecord& r) {
    r.val_accuracy = 0.5 + 0.01 * static_cast<double>(r.epoch);
    return true;
  };
  auto net = mlp(6, 1);
  auto opt = make_opt();
  const auto h = train::fit(net, kLoss, opt, sched, d.X, d.y, o);
  CHECK(h.resumed_at == -1);

  // An uninterrupted run without checkpoints is the same run.
  {
    auto plain = mlp(6, 1);
    auto popt = make_opt();
    auto po = o;
    po.checkpoint = {};
    const auto hp = train::fit(plain, kLoss, popt, sched, d.X, d.y, po);
    CHECK(plain.param_vector() == net.param_vector());
    check_same_history(h, hp);
  }

  for (auto s : snapshot_at) {
    INFO("resumed from the checkpoint at iteration " << s);
    REQUIRE(fs::exists(dir / ("at-" + std::to_string(s))));
    fs::copy_file(dir / ("at-" + std::to_string(s)), ckpt, fs::copy_options::overwrite_existing);
    auto net2 = mlp(6, 99);  // other parameters: the checkpoint's must replace them
    auto opt2 = make_opt();
    auto o2 = o;
    o2.checkpoint.resume = true;
    o2.checkpoint.on_write = {};
    const auto h2 = train::fit(net2, kLoss, opt2, sched, d.X, d.y, o2);
    CHECK(h2.resumed_at == s);
    CHECK(net2.param_vector() == net.param_vector());
    check_same_history(h, h2);
    check_same_optimizer(opt, opt2);
  }

  // The run's own final checkpoint is marked finished: resuming returns its history at once.
  auto net3 = mlp(6, 7);
  auto opt3 = make_opt();
  auto o3 = o;
  o3.checkpoint.resume = true;
  o3.on_epoch = [](train::EpochRecord&) -> bool {
    FAIL("on_epoch ran for a finished checkpoint");
    return true;
  };
  const auto h3 = train::fit(net3, kLoss, opt3, sched, d.X, d.y, o3);
  CHECK(net3.param_vector() == net.param_vector());
  check_same_history(h, h3);
  check_same_optimizer(opt, opt3);
}

}  // namespace

TEST_CASE("resuming SGD with Nesterov momentum and a step schedule is bitwise the full run",
          "[fit][checkpoint]") {
  // 90 samples, batch 16: 6 batches per epoch (the last of 10). Snapshots mid-epoch, at the last
  // batch of an epoch (its record not yet made) and right after an epoch boundary.
  check_resume_bitwise(
      [] { return train::SGD<double>({.lr = 0.1, .momentum = 0.9, .nesterov = true}); },
      train::Schedule::step(0.1, 2, 0.5), {.epochs = 5, .batch_size = 16, .seed = 3},
      {1, 6, 7, 15, 29});
}

TEST_CASE("resuming Adam with a per-step cosine schedule and a step count is bitwise the full run",
          "[fit][checkpoint]") {
  check_resume_bitwise([] { return train::Adam<double>({.lr = 1e-2}); },
                       train::Schedule::cosine(1e-2, 40, 1e-4).with_warmup(5),
                       {.steps = 23, .batch_size = 16, .seed = 8, .schedule_per_step = true},
                       {2, 5, 12, 18, 23});
  check_resume_bitwise([] { return train::AdamW<double>({.lr = 1e-2, .amsgrad = true}); },
                       train::Schedule::constant(1e-2),
                       {.epochs = 3, .batch_size = 32, .seed = 2, .drop_last = true}, {1, 4});
}

TEST_CASE("checkpoints by time, and resume without a file starts from scratch",
          "[fit][checkpoint]") {
  jacnet_test::TempDir dir;
  const auto d = blobs(60, 1);
  auto net = mlp(5, 2), ref = mlp(5, 2);
  train::SGD<double> opt({.lr = 0.1}), ref_opt({.lr = 0.1});
  train::FitOptions o{.epochs = 2, .batch_size = 10, .seed = 1};
  o.progress.quiet = true;
  o.checkpoint.path = dir / "t.ckpt";
  o.checkpoint.every_seconds = 1e-9;  // after every batch
  o.checkpoint.resume = true;         // no file yet: a fresh run
  std::vector<std::int64_t> writes;
  o.checkpoint.on_write = [&](const fs::path&, std::int64_t it) { writes.push_back(it); };
  const auto h = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), d.X,
                            d.y, o);
  CHECK(h.resumed_at == -1);
  CHECK(writes == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12});
  train::FitOptions plain{.epochs = 2, .batch_size = 10, .seed = 1};
  plain.progress.quiet = true;
  train::fit(ref, losses::CrossEntropy{}, ref_opt, train::Schedule::constant(0.1), d.X, d.y, plain);
  CHECK(ref.param_vector() == net.param_vector());
  // Temporary files of the atomic writes are gone.
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("a checkpoint of another run is rejected naming the file and the field",
          "[fit][checkpoint]") {
  jacnet_test::TempDir dir;
  const auto d = blobs(48, 2);
  const fs::path ckpt = dir / "run.ckpt";
  train::FitOptions o{.epochs = 1, .batch_size = 16, .seed = 1};
  o.progress.quiet = true;
  o.checkpoint.path = ckpt;
  o.checkpoint.every_steps = 1;
  {
    auto net = mlp(5, 1);
    train::Adam<double> opt;
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), d.X, d.y, o);
  }
  REQUIRE(fs::exists(ckpt));
  o.checkpoint.resume = true;
  auto expect = [&](auto net, auto opt, train::FitOptions oo, const Data& data,
                    const std::string& field) {
    INFO("field " << field);
    CHECK_THROWS_WITH(train::fit(net, losses::CrossEntropy{}, opt,
                                 train::Schedule::constant(1e-3), data.X, data.y, oo),
                      Catch::Contains(ckpt.string()) &&
                          Catch::Contains("field '" + field + "' differs"));
  };
  expect(mlp(7, 1), train::Adam<double>(), o, d, "net");  // another hidden size
  expect(mlp(5, 1), train::SGD<double>({.lr = 1e-3}), o, d, "optimizer");
  expect(mlp(5, 1), train::Adam<double>({.beta1 = 0.8}), o, d, "optimizer");
  auto ob = o;
  ob.batch_size = 8;
  expect(mlp(5, 1), train::Adam<double>(), ob, d, "batch_size");
  expect(mlp(5, 1), train::Adam<double>(), o, blobs(45, 2), "samples");
  expect(mlp(5, 1), train::Adam<double>(), o, blobs(48, 3), "data_hash");
  auto os = o;
  os.seed = 2;
  expect(mlp(5, 1), train::Adam<double>(), os, d, "seed");
  auto oe = o;
  oe.epochs = 2;
  expect(mlp(5, 1), train::Adam<double>(), oe, d, "epochs");
  auto ot = o;
  ot.checkpoint.tag = "another run";
  expect(mlp(5, 1), train::Adam<double>(), ot, d, "tag");
  // A float net of the same layout: the scalar type differs.
  {
    using FMLP = nn::Sequential<nn::Dense<float>, nn::Tanh<float>, nn::Dense<float>>;
    FMLP f(Shape{4}, nn::Dense<float>(4, 5), nn::Tanh<float>(), nn::Dense<float>(5, 3));
    train::Adam<float> fopt;
    const Matrix<float> Xf = d.X.cast<float>();
    CHECK_THROWS_WITH(train::fit(f, losses::CrossEntropy{}, fopt, train::Schedule::constant(1e-3),
                                 Xf, d.y, o),
                      Catch::Contains("field 'scalar' differs"));
  }
  // The matching run resumes (the finished checkpoint: nothing left to do).
  auto net = mlp(5, 1);
  train::Adam<double> opt;
  const auto h = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), d.X,
                            d.y, o);
  CHECK(h.resumed_at == 3);
  CHECK(opt.steps() == 3);
}

TEST_CASE("a corrupted or truncated checkpoint is rejected before use", "[fit][checkpoint]") {
  jacnet_test::TempDir dir;
  const auto d = blobs(48, 2);
  const fs::path ckpt = dir / "run.ckpt";
  train::FitOptions o{.epochs = 1, .batch_size = 16, .seed = 1};
  o.progress.quiet = true;
  o.checkpoint.path = ckpt;
  o.checkpoint.every_steps = 2;
  auto net = mlp(5, 1);
  train::SGD<double> opt({.lr = 0.1, .momentum = 0.5});
  train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), d.X, d.y, o);
  const auto good = jacnet_test::read_bytes(ckpt);
  REQUIRE(good.size() > 100);
  // The file parses, and holds what was promised.
  const auto c = train::read_checkpoint(ckpt);
  CHECK(c.get("format") == "jacnet fit checkpoint 1");
  CHECK(c.get("optimizer") == opt.describe());
  CHECK(c.get_int("finished") == 1);
  CHECK(c.get_array<double>("params").size() == std::size_t(net.num_params()));
  CHECK(c.get_array<double>("optimizer.momentum_buffer").size() == std::size_t(net.num_params()));

  auto write = [&](std::vector<unsigned char> bytes) {
    std::ofstream(ckpt, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  };
  o.checkpoint.resume = true;
  auto resume_throws = [&](const std::string& what) {
    auto n = mlp(5, 1);
    train::SGD<double> s({.lr = 0.1, .momentum = 0.5});
    CHECK_THROWS_WITH(
        train::fit(n, losses::CrossEntropy{}, s, train::Schedule::constant(0.1), d.X, d.y, o),
        Catch::Contains(ckpt.string()) && Catch::Contains(what));
  };
  auto flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;  // one bit in the data
  write(flipped);
  resume_throws("checksum mismatch");
  auto header = good;
  header[20] ^= 0x01;  // one bit in the text header
  write(header);
  resume_throws("checksum mismatch");
  write(std::vector<unsigned char>(good.begin(), good.begin() + std::ptrdiff_t(good.size() - 9)));
  resume_throws("checksum mismatch");
  write(std::vector<unsigned char>(good.begin(), good.begin() + 10));
  resume_throws("truncated");
  write(std::vector<unsigned char>{'h', 'e', 'l', 'l', 'o'});
  resume_throws("not a jacnet fit checkpoint");
  // Consistent files (valid checksum) with a bad field or array: named.
  auto edited = [&](const std::string& key, const std::string& value) {
    auto c2 = train::decode_checkpoint(good, ckpt.string());
    c2.set(key, value);
    write(train::encode_checkpoint(c2));
  };
  edited("epoch", "7");
  resume_throws("field 'epoch' is 7, not in [0, 1]");
  edited("iterations", "three");
  resume_throws("field 'iterations' is 'three', not an integer");
  edited("records", "0");
  resume_throws("array 'records' has 10 elements, expected 0");
  {
    auto c2 = train::decode_checkpoint(good, ckpt.string());
    c2.arrays.erase(c2.arrays.begin());  // the parameters
    write(train::encode_checkpoint(c2));
    resume_throws("array 'params' is missing");
  }
  {
    auto c2 = train::decode_checkpoint(good, ckpt.string());
    c2.fields.erase(c2.fields.begin() + 3);  // "parameters"
    write(train::encode_checkpoint(c2));
    resume_throws("field 'parameters' is missing");
  }
  // The untouched file still resumes.
  write(good);
  auto n = mlp(5, 3);
  train::SGD<double> s({.lr = 0.1, .momentum = 0.5});
  train::fit(n, losses::CrossEntropy{}, s, train::Schedule::constant(0.1), d.X, d.y, o);
  CHECK(n.param_vector() == net.param_vector());
}

TEST_CASE("optimizers describe themselves and restore their state exactly", "[fit][checkpoint]") {
  auto copy_state = [](const auto& opt) {
    std::vector<std::pair<std::string, Vector<double>>> v;
    for (const auto& [name, x] : opt.state_vectors()) v.emplace_back(name, *x);
    return v;
  };
  auto run = [&](auto a, auto b) {
    Vector<double> p(5), q, g(5);
    p << 1, -2, 3, 0.5, -0.25;
    for (int t = 0; t < 3; ++t) {
      g = p.array().sin().matrix() + Vector<double>::Constant(5, 0.1 * t);
      a.step(p, g);
    }
    q = p;
    b.restore_state(a.steps(), copy_state(a));
    CHECK(b.steps() == 3);
    for (int t = 3; t < 6; ++t) {
      g = p.array().sin().matrix();
      a.step(p, g);
      b.step(q, g);
    }
    CHECK(p == q);  // bitwise: the restored optimizer continues the same run
  };
  run(train::SGD<double>({.lr = 0.1, .momentum = 0.9, .nesterov = true}),
      train::SGD<double>({.lr = 0.1, .momentum = 0.9, .nesterov = true}));
  run(train::Adam<double>({.lr = 0.1, .amsgrad = true}), train::Adam<double>({.lr = 0.1, .amsgrad = true}));
  run(train::AdamW<double>({.lr = 0.1}), train::AdamW<double>({.lr = 0.1}));

  CHECK(train::SGD<double>({.momentum = 0.9}).describe() ==
        "SGD(momentum=0.90000000000000002, dampening=0, weight_decay=0, nesterov=false)");
  CHECK(train::AdamW<double>().describe().rfind("AdamW(beta1=0.9", 0) == 0);
  CHECK(train::Adam<double>().describe() != train::AdamW<double>().describe());

  train::Adam<double> a;
  const Vector<double> z3 = Vector<double>::Zero(3), z4 = Vector<double>::Zero(4), none;
  using State = std::vector<std::pair<std::string, Vector<double>>>;
  CHECK_THROWS_WITH(a.restore_state(1, State{{"exp_avg", z3}}),
                    Catch::Contains("1 state vectors given, Adam has 3"));
  CHECK_THROWS_WITH(
      a.restore_state(1, State{{"exp_avg", z3}, {"exp_avg_sq", z4}, {"max_exp_avg_sq", none}}),
                    Catch::Contains("has 4 entries, another state vector has 3"));
  train::SGD<double> s;
  CHECK_THROWS_WITH(s.restore_state(1, State{{"momentum", none}}),
                    Catch::Contains("state vector 'momentum_buffer' is missing"));
}
