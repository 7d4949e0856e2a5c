// Tests of jacnet/train/fit.hpp: a classifier trains to a stated accuracy (synthetic blobs, and a
// 100-per-class Fashion-MNIST subset when Debian's dataset-fashion-mnist is installed),
// reproducibility, distillation from a teacher net and from recorded TeacherData, schedules,
// callbacks, divergence and size errors, and non-finite losses and gradients (stop naming the
// step, term and parameter, or skip the batch). Data-parallel fit: tests/dist/.
#include <catch2/catch.hpp>

#include "support/skip.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <filesystem>
#include <sstream>
#include <vector>

#include "jacnet/io/fashion_mnist.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/batches.hpp"
#include "jacnet/train/evaluate.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/sgd.hpp"
#include "jacnet/train/subset.hpp"

using namespace jacnet;

namespace {

using MLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>>;

MLP mlp(Index D, Index H, Index C, std::uint64_t seed) {
  MLP net(Shape{D}, nn::Dense<double>(D, H), nn::Tanh<double>(), nn::Dense<double>(H, C));
  net.init(seed);
  return net;
}

// Three Gaussian blobs in 4-D (centres at distance ~3, unit noise): ~97% separable.
struct Blobs {
  Matrix<double> X;
  std::vector<int> y;
};
Blobs blobs(Index n, std::uint64_t seed) {
  const double centre[3][4] = {{2, 0, 0, 0}, {-1, 1.8, 0, 0}, {-1, -1.8, 0.5, 0}};
  Blobs b;
  b.X.resize(n, 4);
  b.y.resize(static_cast<std::size_t>(n));
  train::Random rng(seed);
  for (Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    b.y[static_cast<std::size_t>(i)] = c;
    for (Index j = 0; j < 4; ++j) b.X(i, j) = centre[c][j] + rng.normal();
  }
  return b;
}

train::FitOptions quiet(train::FitOptions o) {
  o.progress.quiet = true;
  return o;
}

}  // namespace

TEST_CASE("fit trains a classifier on blobs to ≥ 93% held-out accuracy", "[fit]") {
  const auto tr = blobs(600, 1), te = blobs(600, 2);
  auto net = mlp(4, 16, 3, 7);
  const double before = train::evaluate(net, te.X, te.y).accuracy;
  train::Adam<double> opt({.lr = 0.01});
  const auto hist = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.01),
                               tr.X, tr.y, quiet({.epochs = 15, .batch_size = 32, .seed = 3}));
  REQUIRE(hist.epochs.size() == 15u);
  CHECK(hist.term_names == std::vector<std::string>{"CrossEntropy"});
  CHECK(hist.epochs[0].samples == 600);
  CHECK(hist.last().loss < 0.5 * hist.epochs[0].loss);
  CHECK(hist.last().terms[0] == Approx(hist.last().loss));
  CHECK(hist.last().accuracy > 0.9);
  const auto after = train::evaluate(net, te.X, te.y);
  CHECK(after.accuracy >= 0.93);
  CHECK(after.accuracy > before);
  CHECK(opt.steps() == 15 * 19);  // ⌈600/32⌉ = 19 batches per epoch
}

TEST_CASE("fit is reproducible from (initial parameters, seed)", "[fit]") {
  const auto tr = blobs(200, 4);
  auto run = [&](std::uint64_t seed) {
    auto net = mlp(4, 8, 3, 5);
    train::SGD<double> opt({.lr = 0.05, .momentum = 0.9});
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05), tr.X, tr.y,
               quiet({.epochs = 3, .batch_size = 16, .seed = seed}));
    return Vector<double>(net.params());
  };
  const auto a = run(1), b = run(1), c = run(2);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("distillation: teacher net and recorded TeacherData give the same training", "[fit]") {
  const auto tr = blobs(300, 6), te = blobs(300, 8);
  auto teacher = mlp(4, 24, 3, 11);
  train::Adam<double> topt({.lr = 0.01});
  train::fit(teacher, losses::CrossEntropy{}, topt, train::Schedule::constant(0.01), tr.X, tr.y,
             quiet({.epochs = 10, .batch_size = 32, .seed = 1}));

  const auto sched = train::Schedule::cosine(0.01, 12);
  const auto opts = quiet({.epochs = 12, .batch_size = 32, .seed = 9});
  auto s1 = mlp(4, 6, 3, 12), s2 = s1;
  train::Adam<double> o1({.lr = 0.01}), o2({.lr = 0.01});
  const auto h1 = train::fit(s1, losses::OutputMatch{}, o1, sched, tr.X, {}, teacher, opts);
  const auto data = losses::TeacherData<double>::record(teacher, tr.X, false);
  const auto h2 = train::fit(s2, losses::OutputMatch{}, o2, sched, tr.X, {}, data, opts);
  CHECK(std::isnan(h1.last().accuracy));  // no labels given
  CHECK(h1.last().loss < 0.2 * h1.epochs[0].loss);
  CHECK(h2.last().loss == Approx(h1.last().loss).epsilon(1e-8));
  CHECK((s1.params() - s2.params()).norm() < 1e-8 * s1.params().norm());
  // The student agrees with its teacher on held-out data.
  const Matrix<double> Zt = teacher.forward(te.X), Zs = s1.forward(te.X);
  Index agree = 0;
  for (Index i = 0; i < te.X.rows(); ++i) {
    Index a, b;
    Zt.row(i).maxCoeff(&a);
    Zs.row(i).maxCoeff(&b);
    agree += a == b;
  }
  CHECK(agree >= 0.9 * te.X.rows());
}

TEST_CASE("gather_teacher picks outputs, Jacobian blocks and activations of the rows", "[fit]") {
  auto teacher = mlp(4, 5, 3, 2);
  const auto d = blobs(6, 3);
  const auto all = losses::TeacherData<double>::record(teacher, d.X, true, {1});
  const std::vector<Index> idx = {4, 1};
  losses::TeacherData<double> out;
  train::gather_teacher(all, std::span<const Index>(idx), out);
  REQUIRE(out.outputs.rows() == 2);
  CHECK(out.outputs.row(0) == all.outputs.row(4));
  CHECK(out.jacobian.middleRows(3, 3) == all.jacobian.middleRows(3, 3));
  CHECK(out.jacobian.middleRows(0, 3) == all.jacobian.middleRows(12, 3));
  CHECK(out.activations.at(1).row(1) == all.activations.at(1).row(1));
  CHECK(out.shapes == all.shapes);
}

TEST_CASE("schedules per epoch or per step, on_epoch can stop and record", "[fit]") {
  const auto tr = blobs(64, 1);
  auto net = mlp(4, 4, 3, 1);
  train::SGD<double> opt({.lr = 1.0});
  const auto sched = train::Schedule::step(0.1, 1, 0.5);
  int calls = 0;
  auto o = quiet({.epochs = 5, .batch_size = 16, .seed = 1});
  o.on_epoch = [&](train::EpochRecord& r) {
    r.val_accuracy = 0.5;
    return ++calls < 3;
  };
  const auto h = train::fit(net, losses::CrossEntropy{}, opt, sched, tr.X, tr.y, o);
  REQUIRE(h.epochs.size() == 3u);
  CHECK(h.epochs[0].lr == 0.1);
  CHECK(h.epochs[2].lr == 0.025);
  CHECK(h.epochs[1].val_accuracy == 0.5);
  CHECK(opt.lr() == 0.025);

  train::SGD<double> opt2({.lr = 1.0});
  auto per_step = quiet({.epochs = 2, .batch_size = 16, .seed = 1, .schedule_per_step = true});
  const auto h2 = train::fit(net, losses::CrossEntropy{}, opt2, sched, tr.X, tr.y, per_step);
  CHECK(h2.epochs[1].lr == Approx(0.1 * std::pow(0.5, 4)));  // 4 steps per epoch
  CHECK(opt2.lr() == Approx(0.1 * std::pow(0.5, 7)));
}

TEST_CASE("fit writes rate-limited progress lines and one summary line", "[fit][progress]") {
  const auto tr = blobs(64, 1);
  auto net = mlp(4, 4, 3, 1);
  train::Adam<double> opt;
  {
    // Every epoch on request (the old behaviour), then the summary.
    std::ostringstream os;
    train::FitOptions o{.epochs = 2, .batch_size = 32};
    o.progress.label = "blobs";
    o.progress.every_epoch = true;
    o.progress.interval = 1e9;  // no time-based lines
    o.progress_stream = &os;
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), tr.X, tr.y, o);
    const std::string out = os.str();
    CHECK(out.find("[blobs] epoch 1/2  64/64  loss ") == 0);
    CHECK(out.find("[blobs] epoch 2/2  64/64  loss ") != std::string::npos);
    CHECK(out.find(" acc ") != std::string::npos);
    CHECK(out.find("[blobs] done: 2 epochs, 4 steps, 128 samples in ") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 3);
  }
  {
    // 200 epochs on a frozen clock: no line is due (interval 5 s), only the summary.
    std::ostringstream os;
    train::FitOptions o{.epochs = 200, .batch_size = 64};
    o.progress.label = "few";
    o.progress.clock = [] { return 100.0; };
    o.progress_stream = &os;
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), tr.X, tr.y, o);
    const std::string out = os.str();
    INFO(out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(out.find("[few] done: 200 epochs, 200 steps, 12800 samples in 0:00") == 0);
  }
  {
    // A clock that advances 1 s per reading, interval 10 s: a line about every 10 readings.
    std::ostringstream os;
    double t = 0.0;
    train::FitOptions o{.epochs = 50, .batch_size = 64};
    o.progress.clock = [&t] { return t += 1.0; };
    o.progress.interval = 10.0;
    o.progress_stream = &os;
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), tr.X, tr.y, o);
    const std::string out = os.str();
    INFO(out);
    const auto lines = std::count(out.begin(), out.end(), '\n');
    CHECK(lines >= 3);
    CHECK(lines <= 25);  // far fewer than the 50 epochs
    CHECK(out.find("done: 50 epochs") != std::string::npos);
  }
  {
    std::ostringstream os;
    train::FitOptions o{.epochs = 2, .batch_size = 32};
    o.progress.quiet = true;
    o.progress_stream = &os;
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), tr.X, tr.y, o);
    CHECK(os.str().empty());
  }
}

TEST_CASE("fit runs a step count across epochs, and needs exactly one of epochs and steps",
          "[fit][steps]") {
  const auto tr = blobs(64, 1);
  auto net = mlp(4, 4, 3, 1);
  const auto net0 = net;
  train::SGD<double> opt({.lr = 0.05});
  // 4 batches per epoch: 7 steps = one whole epoch and 3 batches of the next.
  const auto h = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05),
                            tr.X, tr.y, quiet({.steps = 7, .batch_size = 16, .seed = 2}));
  REQUIRE(h.epochs.size() == 2u);
  CHECK(h.epochs[0].samples == 64);
  CHECK(h.epochs[1].samples == 48);
  CHECK(h.iterations == 7);
  CHECK(opt.steps() == 7);
  // The same batches as the first 7 of a 2-epoch run: the first epoch's record is identical.
  auto net2 = net0;
  train::SGD<double> opt2({.lr = 0.05});
  const auto h2 = train::fit(net2, losses::CrossEntropy{}, opt2, train::Schedule::constant(0.05),
                             tr.X, tr.y, quiet({.epochs = 2, .batch_size = 16, .seed = 2}));
  CHECK(h2.epochs[0].loss == h.epochs[0].loss);
  CHECK(h2.epochs[0].accuracy == h.epochs[0].accuracy);
  CHECK(opt2.steps() == 8);

  std::ostringstream os;
  train::FitOptions o{.steps = 5, .batch_size = 16};
  o.progress.every_epoch = true;
  o.progress_stream = &os;
  train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05), tr.X, tr.y, o);
  CHECK(os.str().find("step 4/5  epoch 1  loss ") == 0);
  CHECK(os.str().find("step 5/5  epoch 2  loss ") != std::string::npos);
  CHECK(os.str().find("done: 2 epochs, 5 steps, 80 samples") != std::string::npos);

  CHECK_THROWS_WITH(train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05),
                               tr.X, tr.y, quiet({})),
                    Catch::Contains("nothing to train") && Catch::Contains("both 0"));
  CHECK_THROWS_WITH(train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05),
                               tr.X, tr.y, quiet({.epochs = 2, .steps = 3})),
                    Catch::Contains("mutually exclusive"));
  CHECK_THROWS_AS(train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05),
                             tr.X, tr.y, quiet({.steps = -1})),
                  ValueError);
  CHECK_THROWS_WITH(
      train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.05), tr.X, tr.y,
                 quiet({.epochs = 1, .batch_size = 100, .drop_last = true})),
      Catch::Contains("no batch in an epoch"));
}

TEST_CASE("fit stops with a clear error when the loss diverges or sizes disagree", "[fit]") {
  const auto tr = blobs(64, 1);
  auto teacher = mlp(4, 4, 3, 1), student = mlp(4, 4, 3, 2);
  teacher.params() *= 50.0;  // large targets, then a huge rate: the squared error explodes
  train::SGD<double> opt({.lr = 1e6});
  CHECK_THROWS_WITH(train::fit(student, losses::OutputMatch{}, opt, train::Schedule::constant(1e6),
                               tr.X, {}, teacher, quiet({.epochs = 50, .batch_size = 8})),
                    Catch::Contains("diverged") && Catch::Contains("epoch"));
  train::Adam<double> a;
  const std::vector<int> short_y(10, 0);
  CHECK_THROWS_WITH(train::fit(student, losses::CrossEntropy{}, a, train::Schedule::constant(1e-3),
                               tr.X, short_y, quiet({.epochs = 1})),
                    Catch::Contains("64 samples but 10 labels"));
  const auto data = losses::TeacherData<double>::record(teacher, blobs(10, 1).X, false);
  CHECK_THROWS_AS(train::fit(student, losses::OutputMatch{}, a, train::Schedule::constant(1e-3),
                             tr.X, {}, data, quiet({.epochs = 1})),
                  ShapeError);
}

TEST_CASE("a non-finite loss names the step, the term and the parameter", "[fit][nonfinite]") {
  auto tr = blobs(64, 1);
  tr.X(37, 2) = std::numeric_limits<double>::quiet_NaN();  // one sample of one batch
  auto net = mlp(4, 5, 3, 1);
  train::SGD<double> opt({.lr = 0.1});
  const train::FitOptions o = quiet({.epochs = 2, .batch_size = 16, .seed = 4});
  // Sample 37 sits in some batch k of epoch 0: the error names that step.
  train::Batches batches(64, 16, 4, {.shuffle = true});
  batches.set_epoch(0);
  Index k = 0;
  for (; k < batches.num_batches(); ++k) {
    const auto idx = batches.batch(k);
    if (std::find(idx.begin(), idx.end(), Index(37)) != idx.end()) break;
  }
  const std::string step = "at step " + std::to_string(k) + " (epoch 0, batch " + std::to_string(k) + ")";
  CHECK_THROWS_AS(train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), tr.X,
                             tr.y, o),
                  train::NonFiniteError);
  net = mlp(4, 5, 3, 1);
  CHECK_THROWS_WITH(train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1),
                               tr.X, tr.y, o),
                    Catch::Contains(step) && Catch::Contains("term 'CrossEntropy' is nan") &&
                        Catch::Contains("parameter '0.weight'[") && Catch::Contains("diverged"));

  // Two terms, only the teacher-matching one is non-finite: that one is named, not the other.
  auto clean = blobs(64, 1);
  const auto teacher = mlp(4, 5, 3, 7);
  auto data = losses::TeacherData<double>::record(teacher, clean.X, false);
  data.outputs(37, 1) = std::numeric_limits<double>::infinity();
  net = mlp(4, 5, 3, 1);
  CHECK_THROWS_WITH(
      train::fit(net, losses::CrossEntropy{} + losses::OutputMatch{}, opt,
                 train::Schedule::constant(0.1), clean.X, clean.y, data, o),
      Catch::Contains(step) && Catch::Contains("term 'OutputMatch' is inf") &&
          !Catch::Contains("term 'CrossEntropy' is") && Catch::Contains("parameter '"));
}

TEST_CASE("a gradient-only non-finite step names the term found by re-evaluating each term",
          "[fit][nonfinite]") {
  // An input of +inf in one feature: every hidden pre-activation is ±inf, tanh gives ±1, so
  // outputs and loss stay finite, but ∂L/∂W1 = δ·x has 0·inf = NaN in that feature's column.
  auto tr = blobs(16, 1);
  tr.X(3, 0) = std::numeric_limits<double>::infinity();
  auto net = mlp(4, 5, 3, 1);
  train::SGD<double> opt({.lr = 0.1});
  try {
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), tr.X, tr.y,
               quiet({.epochs = 1, .batch_size = 16, .seed = 1}));
    FAIL("fit did not throw");
  } catch (const train::NonFiniteError& e) {
    const std::string w = e.what();
    INFO(w);
    CHECK(w.find("at step 0 (epoch 0, batch 0)") != std::string::npos);
    CHECK(w.find("the loss is nan") == std::string::npos);  // the value is finite
    CHECK(w.find("parameter '0.weight'[") != std::string::npos);
    CHECK(w.find("term 'CrossEntropy' alone has a non-finite value or gradient") !=
          std::string::npos);
  }
}

TEST_CASE("NonFinite::skip leaves out the bad batch and trains on", "[fit][nonfinite]") {
  auto tr = blobs(64, 1);
  tr.X(37, 2) = std::numeric_limits<double>::quiet_NaN();
  auto net = mlp(4, 5, 3, 1);
  train::SGD<double> opt({.lr = 0.1});
  auto o = quiet({.epochs = 2, .batch_size = 16, .seed = 4});
  o.on_nonfinite = train::NonFinite::skip;
  const auto h = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), tr.X,
                            tr.y, o);
  REQUIRE(h.epochs.size() == 2);
  for (const auto& e : h.epochs) {
    CHECK(e.skipped == 1);  // sample 37's batch, once per epoch
    CHECK(e.samples == 48);
    CHECK(std::isfinite(e.loss));
  }
  CHECK(opt.steps() == 6);
  CHECK(net.param_vector().allFinite());
}

TEST_CASE("Fashion-MNIST, 100 samples per class: an MLP reaches ≥ 78% test accuracy", "[fit]") {
  if (!std::filesystem::exists(std::filesystem::path(io::kFashionMnistDir) /
                               "train-images-idx3-ubyte.gz")) {
    JACNET_SKIP("dataset-fashion-mnist is not installed");
  }
  const auto data = io::load_fashion_mnist(
      io::kFashionMnistDir, {.normalize = true, .max_train = 10000, .max_test = 2000});
  const auto idx = train::subset_per_class(data.train.labels, 100, 1, 10);
  Matrix<float> X;
  std::vector<int> y;
  train::gather(data.train.images, data.train.labels, std::span<const Index>(idx), X, y);
  using Net = nn::Sequential<nn::Dense<float>, nn::ReLU<float>, nn::Dense<float>>;
  Net net(Shape{784}, nn::Dense<float>(784, 64), nn::ReLU<float>(), nn::Dense<float>(64, 10));
  net.init(1);
  train::Adam<float> opt({.lr = 1e-3});
  train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), X, y,
             quiet({.epochs = 15, .batch_size = 32, .seed = 1}));
  const auto r = train::evaluate(net, data.test.images, data.test.labels);
  INFO("test accuracy " << r.accuracy << ", loss " << r.loss);
  CHECK(r.accuracy >= 0.78);
}
