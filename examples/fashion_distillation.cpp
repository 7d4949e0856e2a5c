// The main job: Srinivas & Fleuret's (ICML 2018) Jacobian-matching experiments on Fashion-MNIST.
//
//   teacher   a CNN (conv5x5(8)-ReLU-maxpool-conv5x5(16)-ReLU-maxpool-dense) trained with Adam on
//             all 60k training images, cached in <out>/teacher.safetensors;
//   distill   an MLP student 784-128-10 (ReLU) on N samples per class under the paper's six rows
//             CE, Act+CE, Jac+CE, {Act+Jac}+CE, Act, {Act+Jac}; Act = Σ_i (T_i − S_i)² on logits,
//             Jac = ‖∇_x T_y − ∇_x S_y‖² on the label row (‖·/‖·‖ − ·/‖·‖‖² with --normalize-jac);
//             all weights 1, Adam 1e-3; mean ± std over seeds; CSV + PNG plot;
//   transfer  source teacher (teacher architecture) on classes 0–4; target task classes 5–9 with
//             25/50(/all) samples per class; student = a smaller one-conv CNN (so attention maps
//             of equal 14×14 size exist in both nets): no transfer, fine-tuning oracle (teacher
//             architecture initialized from the source teacher except its head), LwF (T = 2),
//             LwF + Jacobians (top-1 teacher row), LwF + attention, LwF + attention + Jacobians;
//   noise     MLP trained with CE + λ‖∇_x S‖²_F, test accuracy under Gaussian input noise σ;
//   saliency  label-row input Jacobians of the teacher and of the CE / Jac+CE students.
//
//   ./example_fashion_distillation                 # quick grid (documented in docs/results.md)
//   ./example_fashion_distillation --full          # the full grid
//   ./example_fashion_distillation --smoke --out /tmp/smoke   # seconds; for ctest
// Without Debian's dataset-fashion-mnist it prints "skipped" and exits with 77 (ctest's
// SKIP_RETURN_CODE). Results, numbers and the quick/full grids: docs/results.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/fashion_mnist.hpp"
#include "jacnet/io/png.hpp"
#include "jacnet/io/weights.hpp"
#include "jacnet/losses/attention_transfer.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/lwf.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/batches.hpp"
#include "jacnet/train/evaluate.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/subset.hpp"

using namespace jacnet;
namespace fs = std::filesystem;
using T = float;
using nlohmann::json;

namespace {

// ---- networks ---------------------------------------------------------------------------------
using TeacherNet = nn::Sequential<nn::Conv2d<T>, nn::ReLU<T>, nn::MaxPool2d<T>, nn::Conv2d<T>,
                                  nn::ReLU<T>, nn::MaxPool2d<T>, nn::Flatten<T>, nn::Dense<T>>;
TeacherNet make_teacher(Index classes, std::uint64_t seed) {
  // 1x28x28 → conv5 pad2 (8) → ReLU → pool → 8x14x14 → conv5 (16) → 16x10x10 → pool → 400 → C
  TeacherNet n(Shape{1, 28, 28}, nn::Conv2d<T>(1, 8, 5, 1, 2), nn::ReLU<T>(), nn::MaxPool2d<T>(2),
               nn::Conv2d<T>(8, 16, 5), nn::ReLU<T>(), nn::MaxPool2d<T>(2), nn::Flatten<T>(),
               nn::Dense<T>(400, classes));
  n.init(seed);
  return n;
}
constexpr Index kTeacherAttention = 3;  // boundary after the first pooling: 8x14x14

using MlpNet = nn::Sequential<nn::Dense<T>, nn::ReLU<T>, nn::Dense<T>>;
MlpNet make_mlp(std::uint64_t seed) {
  MlpNet n(Shape{784}, nn::Dense<T>(784, 128), nn::ReLU<T>(), nn::Dense<T>(128, 10));
  n.init(seed);
  return n;
}

using SmallCnn =
    nn::Sequential<nn::Conv2d<T>, nn::ReLU<T>, nn::MaxPool2d<T>, nn::Flatten<T>, nn::Dense<T>>;
SmallCnn make_small_cnn(Index outputs, std::uint64_t seed) {
  // 1x28x28 → conv3 pad1 (4) → ReLU → pool → 4x14x14 → 784 → outputs
  SmallCnn n(Shape{1, 28, 28}, nn::Conv2d<T>(1, 4, 3, 1, 1), nn::ReLU<T>(), nn::MaxPool2d<T>(2),
             nn::Flatten<T>(), nn::Dense<T>(784, outputs));
  n.init(seed);
  return n;
}
constexpr Index kStudentAttention = 3;  // 4x14x14

// ---- configuration ----------------------------------------------------------------------------
struct Config {
  fs::path out = "results";
  std::string mode = "quick";
  int seeds = 2;
  int teacher_epochs = 3;
  Index teacher_train = 0;  // 0: all 60k
  Index min_steps = 500;    // student runs: epochs chosen so that each run has ≥ this many steps
  Index max_epochs = 300;
  Index batch = 64;
  bool normalize_jac = false;
  bool quiet = false;
  int threads = 1;  // OpenMP threads; 1 by default: on a shared 2-core machine 2 threads ran ~20x
                    // slower (each fork/join waits for a preempted thread); results are identical
  std::vector<Index> distill_n{1, 5, 10, 50, 100};  // 0 = all
  std::vector<Index> transfer_n{25, 50};
  Index noise_n = 100;
  std::vector<double> lambdas{0, 0.01, 0.1, 0.5, 1};
  std::vector<double> sigmas{0, 0.1, 0.2, 0.3, 0.4};
  std::set<std::string> experiments{"distill", "transfer", "noise", "saliency"};
  Index test_max = 0;  // 0: all 10k
};

[[noreturn]] void usage(const std::string& msg) {
  std::cerr << "error: " << msg << "\n"
            << "usage: example_fashion_distillation [--out DIR] [--quick|--full|--smoke] "
               "[--seeds N] [--epochs E (teacher)] [--steps S (min steps per student run)] "
               "[--normalize-jac] [--quiet] [--experiments distill,transfer,noise,saliency] "
               "[--threads K (default 1)]\n";
  std::exit(2);
}

Config parse(int argc, char** argv) {
  Config c;
  int seeds = -1, epochs = -1;
  Index steps = -1;
  std::string exps;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto to_int = [](const std::string& s, const char* flag) {
    try {
      std::size_t pos = 0;
      const long v = std::stol(s, &pos);
      if (pos != s.size() || v < 0) throw std::invalid_argument(s);
      return v;
    } catch (...) {
      usage(std::string(flag) + ": '" + s + "' is not a non-negative integer");
    }
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out")
      c.out = need(i);
    else if (a == "--quick")
      c.mode = "quick";
    else if (a == "--full")
      c.mode = "full";
    else if (a == "--smoke")
      c.mode = "smoke";
    else if (a == "--seeds")
      seeds = int(to_int(need(i), "--seeds"));
    else if (a == "--epochs")
      epochs = int(to_int(need(i), "--epochs"));
    else if (a == "--steps")
      steps = to_int(need(i), "--steps");
    else if (a == "--normalize-jac")
      c.normalize_jac = true;
    else if (a == "--quiet")
      c.quiet = true;
    else if (a == "--threads")
      c.threads = int(to_int(need(i), "--threads"));
    else if (a == "--experiments")
      exps = need(i);
    else if (a == "--help" || a == "-h")
      usage("help");
    else
      usage("unknown flag '" + a + "'");
  }
  if (c.mode == "full") {
    c.seeds = 3;
    c.teacher_epochs = 3;
    c.min_steps = 1000;
    c.distill_n = {1, 5, 10, 50, 100, 0};
    c.transfer_n = {25, 50, 0};
    c.noise_n = 500;
  } else if (c.mode == "smoke") {
    c.seeds = 1;
    c.teacher_epochs = 1;
    c.teacher_train = 2000;
    c.min_steps = 20;
    c.distill_n = {5};
    c.transfer_n = {5};
    c.noise_n = 5;
    c.lambdas = {0, 0.1};
    c.sigmas = {0, 0.2};
    c.test_max = 1000;
  }
  if (seeds >= 0) {
    if (seeds == 0) usage("--seeds must be at least 1");
    c.seeds = seeds;
  }
  if (epochs >= 0) {
    if (epochs == 0) usage("--epochs must be at least 1");
    c.teacher_epochs = epochs;
  }
  if (steps >= 0) c.min_steps = std::max<Index>(1, steps);
  if (!exps.empty()) {
    c.experiments.clear();
    std::stringstream ss(exps);
    std::string e;
    while (std::getline(ss, e, ',')) {
      if (e != "distill" && e != "transfer" && e != "noise" && e != "saliency")
        usage("unknown experiment '" + e + "' (distill, transfer, noise, saliency)");
      c.experiments.insert(e);
    }
  }
  return c;
}

// ---- helpers ----------------------------------------------------------------------------------
struct Data {
  Matrix<T> X;
  std::vector<int> y;
};

Data take(const Matrix<T>& X, const std::vector<int>& y, const std::vector<Index>& idx) {
  Data d;
  train::gather(X, y, std::span<const Index>(idx), d.X, d.y);
  return d;
}

/// Rows whose label is in [lo, lo + n), labels shifted to [0, n).
Data classes_range(const Matrix<T>& X, const std::vector<int>& y, int lo, int n) {
  std::vector<Index> idx;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] >= lo && y[i] < lo + n) idx.push_back(static_cast<Index>(i));
  Data d = take(X, y, idx);
  for (auto& l : d.y) l -= lo;
  return d;
}

/// Accuracy with argmax over the first k outputs.
template <class Net>
double accuracy_first(const Net& net, const Data& d, Index k) {
  Index correct = 0;
  const Index B = 500;
  for (Index s = 0; s < d.X.rows(); s += B) {
    const Index r = std::min(B, d.X.rows() - s);
    const Matrix<T> Z = net.forward(Matrix<T>(d.X.middleRows(s, r)));
    for (Index i = 0; i < r; ++i) {
      Index a;
      Z.row(i).head(k).maxCoeff(&a);
      correct += a == d.y[static_cast<std::size_t>(s + i)];
    }
  }
  return double(correct) / double(d.X.rows());
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(s / double(v.size() - 1)) : 0.0};
}

std::string pm(const std::vector<double>& v) {
  const auto [m, s] = mean_std(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%6.2f ± %5.2f", 100 * m, 100 * s);
  return buf;
}

std::string n_name(Index n) { return n == 0 ? "all" : std::to_string(n); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Index epochs_for(const Config& c, Index samples) {
  const Index per_epoch = (samples + c.batch - 1) / c.batch;
  return std::clamp<Index>((c.min_steps + per_epoch - 1) / per_epoch, 1, c.max_epochs);
}

train::FitOptions quiet_fit(const Config& c, Index samples, std::uint64_t seed) {
  train::FitOptions o{.epochs = epochs_for(c, samples), .batch_size = c.batch, .seed = seed};
  o.progress.quiet = true;
  return o;
}

// ---- teacher ----------------------------------------------------------------------------------
TeacherNet teacher_for(const Config& c, const std::string& file, const Data& train, Index classes,
                       const std::string& label, json& log) {
  TeacherNet net = make_teacher(classes, 1);
  const fs::path path = c.out / file;
  if (fs::exists(path)) {
    io::load_weights(net, path);
    std::cerr << "[" << label << "] loaded " << path << "\n";
    log[label]["cached"] = true;
    return net;
  }
  train::Adam<T> opt({.lr = 1e-3});
  train::FitOptions o{.epochs = c.teacher_epochs, .batch_size = c.batch, .seed = 7};
  o.progress.label = label;
  o.progress.quiet = c.quiet;
  const auto t0 = std::chrono::steady_clock::now();
  train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3), train.X, train.y,
             o);
  io::save_weights(net, path);
  log[label]["cached"] = false;
  log[label]["train_seconds"] = seconds_since(t0);
  return net;
}

// ---- PNG plot ---------------------------------------------------------------------------------
struct Rgb {
  std::uint8_t r, g, b;
};
const Rgb kColors[] = {{0, 0, 0},     {230, 25, 75},  {60, 180, 75},
                       {0, 130, 200}, {245, 130, 48}, {145, 30, 180}};
const char* kColorNames[] = {"black", "red", "green", "blue", "orange", "purple"};

void put(io::Image& im, int x, int y, Rgb c, int thick = 1) {
  for (int dy = -thick / 2; dy <= thick / 2; ++dy)
    for (int dx = -thick / 2; dx <= thick / 2; ++dx) {
      const int px = x + dx, py = y + dy;
      if (px < 0 || py < 0 || px >= im.width || py >= im.height) continue;
      im.at(px, py, 0) = c.r;
      im.at(px, py, 1) = c.g;
      im.at(px, py, 2) = c.b;
    }
}
void line(io::Image& im, int x0, int y0, int x1, int y1, Rgb c, int thick = 1) {
  const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  for (int i = 0; i <= n; ++i) {
    const double t = n ? double(i) / n : 0.0;
    put(im, int(std::lround(x0 + t * (x1 - x0))), int(std::lround(y0 + t * (y1 - y0))), c, thick);
  }
}

/// Accuracy (y, 0..100 %) against log N (x); one line per method; grid lines every 10 %;
/// legend: colored squares top-left in method order.
io::Image plot(const std::vector<Index>& ns, const std::vector<std::vector<double>>& acc) {
  const int W = 640, H = 420, L = 50, R = 20, Tp = 40, Bt = 40;
  io::Image im(W, H, 3, 255);
  auto xpos = [&](std::size_t i) {
    return ns.size() == 1 ? L + (W - L - R) / 2
                          : L + int((W - L - R) * double(i) / double(ns.size() - 1));
  };
  auto ypos = [&](double a) { return H - Bt - int((H - Tp - Bt) * std::clamp(a, 0.0, 1.0)); };
  for (int k = 0; k <= 10; ++k)
    line(im, L, ypos(k / 10.0), W - R, ypos(k / 10.0), k == 0 ? Rgb{0, 0, 0} : Rgb{220, 220, 220});
  line(im, L, ypos(0), L, ypos(1), {0, 0, 0});
  for (std::size_t i = 0; i < ns.size(); ++i)
    line(im, xpos(i), ypos(0), xpos(i), ypos(0) + 6, {0, 0, 0});
  for (std::size_t m = 0; m < acc.size(); ++m) {
    const Rgb c = kColors[m % 6];
    for (std::size_t i = 0; i < acc[m].size(); ++i) {
      if (i > 0) line(im, xpos(i - 1), ypos(acc[m][i - 1]), xpos(i), ypos(acc[m][i]), c, 2);
      for (int d = -3; d <= 3; ++d)
        line(im, xpos(i) - 3, ypos(acc[m][i]) + d, xpos(i) + 3, ypos(acc[m][i]) + d, c);
    }
    for (int d = 0; d < 12; ++d) line(im, 10 + 20 * int(m), 10 + d, 22 + 20 * int(m), 10 + d, c);
  }
  return im;
}

// ---- experiments ------------------------------------------------------------------------------
const char* kRows[] = {"CE", "Act+CE", "Jac+CE", "{Act+Jac}+CE", "Act", "{Act+Jac}"};

template <class Norm>
double distill_run(int row, MlpNet& s, const Config& c, const Data& d,
                   const losses::TeacherData<T>* data, const TeacherNet& teacher,
                   std::uint64_t seed) {
  using namespace losses;
  train::Adam<T> opt({.lr = 1e-3});
  const auto sched = train::Schedule::constant(1e-3);
  const auto o = quiet_fit(c, d.X.rows(), seed);
  auto go = [&](const auto& loss) {
    if (data)
      train::fit(s, loss, opt, sched, d.X, d.y, *data, o);
    else
      train::fit(s, loss, opt, sched, d.X, d.y, teacher, o);
  };
  const JacobianMatch<LabelClass, Norm> jac{};
  switch (row) {
    case 0:
      train::fit(s, CrossEntropy{}, opt, sched, d.X, d.y, o);
      break;
    case 1:
      go(CrossEntropy{} + OutputMatch{});
      break;
    case 2:
      go(CrossEntropy{} + jac);
      break;
    case 3:
      go(CrossEntropy{} + OutputMatch{} + jac);
      break;
    case 4:
      go(OutputMatch{});
      break;
    default:
      go(OutputMatch{} + jac);
      break;
  }
  return double(o.epochs);
}

struct Students {  // for the saliency maps
  std::vector<MlpNet> nets;
  std::vector<std::string> names;
};

void distill(const Config& c, const io::FashionMnist& fm, const Data& test,
             const TeacherNet& teacher, json& log, Students& keep) {
  std::vector<std::vector<std::vector<double>>> acc(
      6, std::vector<std::vector<double>>(c.distill_n.size()));
  std::ostringstream csv;
  csv << "method,samples_per_class,seed,epochs,test_accuracy,seconds\n";
  const auto t_all = std::chrono::steady_clock::now();
  for (std::size_t ni = 0; ni < c.distill_n.size(); ++ni) {
    const Index n = c.distill_n[ni];
    for (int seed = 0; seed < c.seeds; ++seed) {
      Data d;
      if (n == 0) {
        d.X = fm.train.images;
        d.y = fm.train.labels;
      } else {
        d = take(fm.train.images, fm.train.labels,
                 train::subset_per_class(fm.train.labels, n, std::uint64_t(seed) + 1, 10));
      }
      // The teacher's outputs and Jacobians on the subset, once for the six rows (too large for
      // all 60k images: the teacher net then runs per batch).
      std::optional<losses::TeacherData<T>> data;
      if (d.X.rows() <= 5000) data = losses::TeacherData<T>::record(teacher, d.X, true);
      for (int row = 0; row < 6; ++row) {
        MlpNet s = make_mlp(100 + std::uint64_t(seed));
        const auto t0 = std::chrono::steady_clock::now();
        const double epochs =
            c.normalize_jac
                ? distill_run<losses::L2>(row, s, c, d, data ? &*data : nullptr, teacher, 10 + seed)
                : distill_run<losses::NoNorm>(row, s, c, d, data ? &*data : nullptr, teacher,
                                              10 + seed);
        const double a = train::evaluate(s, test.X, test.y).accuracy, sec = seconds_since(t0);
        acc[row][ni].push_back(a);
        csv << '"' << kRows[row] << "\"," << n_name(n) << ',' << seed << ',' << epochs << ',' << a
            << ',' << sec << '\n';
        if (!c.quiet)
          std::fprintf(stderr,
                       "[distill] N=%s seed %d %-13s %3.0f epochs  acc %.4f  %.1fs  (%.0fs)\n",
                       n_name(n).c_str(), seed, kRows[row], epochs, a, sec, seconds_since(t_all));
        if (seed == 0 && ni + 1 == c.distill_n.size() && (row == 0 || row == 2)) {
          keep.nets.push_back(s);
          keep.names.push_back(std::string(kRows[row]) + " student (N=" + n_name(n) + ")");
        }
      }
    }
  }
  io::write_file_atomic(c.out / "distillation.csv", csv.str());
  std::printf(
      "\nDistillation: MLP 784-128-10 student, CNN teacher; test accuracy %% (mean ± std "
      "over %d seeds), Jacobian %s\n%-14s",
      c.seeds, c.normalize_jac ? "normalized" : "unnormalized", "method");
  for (Index n : c.distill_n) std::printf(" | %15s", ("N=" + n_name(n)).c_str());
  std::printf("\n");
  std::vector<std::vector<double>> means(6);
  json table;
  for (int row = 0; row < 6; ++row) {
    std::printf("%-14s", kRows[row]);
    for (std::size_t ni = 0; ni < c.distill_n.size(); ++ni) {
      std::printf(" | %15s", pm(acc[row][ni]).c_str());
      const auto [m, s] = mean_std(acc[row][ni]);
      means[row].push_back(m);
      table[kRows[row]][n_name(c.distill_n[ni])] = {{"mean", m}, {"std", s}};
    }
    std::printf("\n");
  }
  io::write_png(c.out / "distillation.png", plot(c.distill_n, means));
  std::printf("plot distillation.png: x = N per class (");
  for (Index n : c.distill_n) std::printf(" %s", n_name(n).c_str());
  std::printf(" ), y = accuracy 0..100%%; colors:");
  for (int row = 0; row < 6; ++row) std::printf(" %s=%s", kRows[row], kColorNames[row]);
  std::printf("\n");
  log["distill"]["table"] = table;
  log["distill"]["seconds"] = seconds_since(t_all);
}

const char* kTransferRows[] = {"no transfer",   "fine-tuning oracle", "LwF",
                               "LwF+Jacobians", "LwF+attention",      "LwF+attention+Jacobians"};

void transfer(const Config& c, const io::FashionMnist& fm, json& log) {
  using namespace losses;
  const auto t_all = std::chrono::steady_clock::now();
  const Data src = classes_range(fm.train.images, fm.train.labels, 0, 5);
  const Data tgt = classes_range(fm.train.images, fm.train.labels, 5, 5);
  Data tgt_test = classes_range(fm.test.images, fm.test.labels, 5, 5);
  if (c.test_max > 0 && tgt_test.X.rows() > c.test_max) {
    tgt_test.X.conservativeResize(c.test_max, Eigen::NoChange);
    tgt_test.y.resize(std::size_t(c.test_max));
  }
  const Data src_test = classes_range(fm.test.images, fm.test.labels, 0, 5);
  Data src_train = src;
  if (c.teacher_train > 0 && src_train.X.rows() > c.teacher_train) {
    src_train.X.conservativeResize(c.teacher_train, Eigen::NoChange);
    src_train.y.resize(std::size_t(c.teacher_train));
  }
  const TeacherNet source =
      teacher_for(c, "source_teacher.safetensors", src_train, 5, "source-teacher", log);
  const double src_acc = accuracy_first(source, src_test, 5);
  std::printf("\nSource teacher (classes 0-4, CNN): test accuracy on classes 0-4: %.2f%%\n",
              100 * src_acc);
  log["transfer"]["source_teacher_accuracy"] = src_acc;

  std::vector<std::vector<std::vector<double>>> acc(
      6, std::vector<std::vector<double>>(c.transfer_n.size()));
  std::ostringstream csv;
  csv << "method,samples_per_class,seed,epochs,target_test_accuracy,seconds\n";
  const double beta = 1000.0 / (14 * 14);  // Zagoruyko & Komodakis' β = 1000 with their mean
  for (std::size_t ni = 0; ni < c.transfer_n.size(); ++ni) {
    const Index n = c.transfer_n[ni];
    for (int seed = 0; seed < c.seeds; ++seed) {
      const Data d = n == 0 ? tgt
                            : take(tgt.X, tgt.y,
                                   train::subset_per_class(tgt.y, n, std::uint64_t(seed) + 1, 5));
      // Source teacher on the target images: outputs, Jacobians, attention boundary.
      std::optional<TeacherData<T>> data;
      if (d.X.rows() <= 5000) data = TeacherData<T>::record(source, d.X, true, {kTeacherAttention});
      for (int row = 0; row < 6; ++row) {
        const auto t0 = std::chrono::steady_clock::now();
        train::Adam<T> opt({.lr = 1e-3});
        const auto sched = train::Schedule::constant(1e-3);
        auto o = quiet_fit(c, d.X.rows(), 20 + seed);
        o.accuracy_outputs = 5;
        double a = 0;
        const std::uint64_t init = 200 + std::uint64_t(seed);
        if (row == 0) {
          SmallCnn s = make_small_cnn(5, init);
          train::fit(s, CrossEntropy{}, opt, sched, d.X, d.y, o);
          a = accuracy_first(s, tgt_test, 5);
        } else if (row == 1) {
          TeacherNet s = make_teacher(5, init);
          const Index head = s.param_offset(TeacherNet::num_layers - 1);
          s.params().head(head) = source.params().head(head);
          train::fit(s, CrossEntropy{}, opt, sched, d.X, d.y, o);
          a = accuracy_first(s, tgt_test, 5);
        } else {
          SmallCnn s = make_small_cnn(10, init);  // [new 5 | old 5]
          const LwF<2.0> lwf(5);
          const JacobianMatch<TeacherTop<1>> jac{StudentOffset{5}};
          const AttentionTransfer at(kStudentAttention, kTeacherAttention, beta);
          auto go = [&](const auto& loss) {
            if (data)
              train::fit(s, loss, opt, sched, d.X, d.y, *data, o);
            else
              train::fit(s, loss, opt, sched, d.X, d.y, source, o);
          };
          if (row == 2)
            go(lwf);
          else if (row == 3)
            go(lwf + jac);
          else if (row == 4)
            go(lwf + at);
          else
            go(lwf + at + jac);
          a = accuracy_first(s, tgt_test, 5);
        }
        const double sec = seconds_since(t0);
        acc[row][ni].push_back(a);
        csv << '"' << kTransferRows[row] << "\"," << n_name(n) << ',' << seed << ',' << o.epochs
            << ',' << a << ',' << sec << '\n';
        if (!c.quiet)
          std::fprintf(stderr, "[transfer] N=%s seed %d %-24s acc %.4f  %.1fs  (%.0fs)\n",
                       n_name(n).c_str(), seed, kTransferRows[row], a, sec, seconds_since(t_all));
      }
    }
  }
  io::write_file_atomic(c.out / "transfer.csv", csv.str());
  std::printf(
      "Transfer: classes 0-4 → 5-9, one-conv CNN student; target test accuracy %% (mean ± "
      "std over %d seeds)\n%-24s",
      c.seeds, "method");
  for (Index n : c.transfer_n) std::printf(" | %15s", ("N=" + n_name(n)).c_str());
  std::printf("\n");
  for (int row = 0; row < 6; ++row) {
    std::printf("%-24s", kTransferRows[row]);
    for (std::size_t ni = 0; ni < c.transfer_n.size(); ++ni) {
      std::printf(" | %15s", pm(acc[row][ni]).c_str());
      const auto [m, s] = mean_std(acc[row][ni]);
      log["transfer"]["table"][kTransferRows[row]][n_name(c.transfer_n[ni])] = {{"mean", m},
                                                                                {"std", s}};
    }
    std::printf("\n");
  }
  log["transfer"]["seconds"] = seconds_since(t_all);
}

void noise(const Config& c, const io::FashionMnist& fm, const Data& test, json& log) {
  using namespace losses;
  const auto t_all = std::chrono::steady_clock::now();
  std::vector<std::vector<std::vector<double>>> acc(
      c.lambdas.size(), std::vector<std::vector<double>>(c.sigmas.size()));
  std::ostringstream csv;
  csv << "lambda,sigma,seed,test_accuracy\n";
  for (int seed = 0; seed < c.seeds; ++seed) {
    const Data d =
        take(fm.train.images, fm.train.labels,
             train::subset_per_class(fm.train.labels, c.noise_n, std::uint64_t(seed) + 1, 10));
    for (std::size_t li = 0; li < c.lambdas.size(); ++li) {
      const auto t0 = std::chrono::steady_clock::now();
      MlpNet s = make_mlp(300 + std::uint64_t(seed));
      train::Adam<T> opt({.lr = 1e-3});
      const auto loss = CrossEntropy{} + c.lambdas[li] * JacobianNorm<Exact>{};
      train::fit(s, loss, opt, train::Schedule::constant(1e-3), d.X, d.y,
                 quiet_fit(c, d.X.rows(), 30 + seed));
      for (std::size_t si = 0; si < c.sigmas.size(); ++si) {
        // σ in the units of the raw [0, 1] pixels: the inputs are standardized, so scale by 1/std.
        const double sig = c.sigmas[si] / fm.normalization.std;
        const double a = train::evaluate_under_noise(s, test.X, test.y, sig, 1000 + si).accuracy;
        acc[li][si].push_back(a);
        csv << c.lambdas[li] << ',' << c.sigmas[si] << ',' << seed << ',' << a << '\n';
      }
      if (!c.quiet)
        std::fprintf(stderr, "[noise] seed %d λ=%-5g clean acc %.4f  %.1fs  (%.0fs)\n", seed,
                     c.lambdas[li], acc[li][0].back(), seconds_since(t0), seconds_since(t_all));
    }
  }
  io::write_file_atomic(c.out / "noise.csv", csv.str());
  std::printf(
      "\nNoise robustness: MLP, CE + λ‖J‖²_F, %lld samples per class; test accuracy %% "
      "under x + σz (σ in raw pixel units, pixels in [0,1]), mean ± std over %d seeds\n%-8s",
      static_cast<long long>(c.noise_n), c.seeds, "λ");
  for (double s : c.sigmas) {
    char b[32];
    std::snprintf(b, sizeof b, "σ=%.1f", s);
    std::printf(" | %16s", b);
  }
  std::printf("\n");
  for (std::size_t li = 0; li < c.lambdas.size(); ++li) {
    std::printf("%-7g", c.lambdas[li]);
    for (std::size_t si = 0; si < c.sigmas.size(); ++si) {
      std::printf(" | %15s", pm(acc[li][si]).c_str());
      const auto [m, s] = mean_std(acc[li][si]);
      char lk[32], sk[32];
      std::snprintf(lk, sizeof lk, "%g", c.lambdas[li]);
      std::snprintf(sk, sizeof sk, "%g", c.sigmas[si]);
      log["noise"]["table"][lk][sk] = {{"mean", m}, {"std", s}};
    }
    std::printf("\n");
  }
  log["noise"]["seconds"] = seconds_since(t_all);
}

template <class Net>
Matrix<T> label_rows(const Net& net, const Data& d) {
  const auto rec = losses::TeacherData<T>::record(net, d.X, true);
  const Index C = rec.outputs.cols();
  Matrix<T> G(d.X.rows(), d.X.cols());
  for (Index b = 0; b < d.X.rows(); ++b) G.row(b) = rec.jacobian.row(b * C + d.y[std::size_t(b)]);
  return G;
}

void saliency(const Config& c, const Data& test, const TeacherNet& teacher, const Students& st,
              json& log) {
  const Index K = std::min<Index>(8, test.X.rows());
  std::vector<Index> idx;
  for (Index i = 0; i < K; ++i) idx.push_back(i * (test.X.rows() / K));
  const Data d = take(test.X, test.y, idx);
  std::vector<io::Image> tiles;
  const Shape sh{1, 28, 28};
  const float lo = d.X.minCoeff(), hi = d.X.maxCoeff();
  for (Index b = 0; b < K; ++b)
    tiles.push_back(
        io::upscale(io::to_rgb(io::image_from_sample(d.X.row(b).data(), sh, lo, hi)), 3));
  std::vector<std::string> rows{"input"};
  auto add = [&](const Matrix<T>& G, const std::string& name) {
    rows.push_back(name);
    for (Index b = 0; b < K; ++b)
      tiles.push_back(
          io::upscale(io::saliency_image(G.row(b).data(), sh,
                                         {.mode = io::SaliencyMode::signed_, .percentile = 99}),
                      3));
  };
  add(label_rows(teacher, d), "teacher");
  for (std::size_t i = 0; i < st.nets.size(); ++i) add(label_rows(st.nets[i], d), st.names[i]);
  io::write_png(c.out / "saliency.png", io::tile_images(tiles, int(K)));
  log["saliency"]["rows"] = rows;
  std::printf("\nsaliency.png: %lld test images (columns); rows:", static_cast<long long>(K));
  for (const auto& r : rows) std::printf(" [%s]", r.c_str());
  std::printf(" — label-row input Jacobian, signed (red +, blue −), 99th-percentile scale\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = parse(argc, argv);
#ifdef _OPENMP
  if (c.threads > 0) omp_set_num_threads(c.threads);
#endif
  const auto t_start = std::chrono::steady_clock::now();
  if (!fs::exists(fs::path(io::kFashionMnistDir) / "train-images-idx3-ubyte.gz")) {
    std::cerr << "skipped: Fashion-MNIST not found in " << io::kFashionMnistDir
              << " (Debian package dataset-fashion-mnist)\n";
    return 77;  // ctest SKIP_RETURN_CODE
  }
  try {
    fs::create_directories(c.out);
    json log;
    log["command"] = [&] {
      std::string s;
      for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
      return s;
    }();
    log["config"] = {
        {"mode", c.mode},
        {"seeds", c.seeds},
        {"teacher_epochs", c.teacher_epochs},
        {"teacher_train_images", c.teacher_train},
        {"student_min_steps", c.min_steps},
        {"student_max_epochs", c.max_epochs},
        {"batch", c.batch},
        {"optimizer", "Adam lr 1e-3 (all runs)"},
        {"normalize_jac", c.normalize_jac},
        {"distill_samples_per_class", c.distill_n},
        {"transfer_samples_per_class", c.transfer_n},
        {"noise_samples_per_class", c.noise_n},
        {"lambdas", c.lambdas},
        {"sigmas", c.sigmas},
        {"experiments", std::vector<std::string>(c.experiments.begin(), c.experiments.end())},
        {"threads", c.threads},
        {"note",
         "0 samples per class = all; distill plot colors in order: "
         "CE black, Act+CE red, Jac+CE green, {Act+Jac}+CE blue, Act orange, "
         "{Act+Jac} purple"}};
    const io::FashionMnist fm = io::load_fashion_mnist(io::kFashionMnistDir, {.normalize = true});
    Data test{fm.test.images, fm.test.labels};
    if (c.test_max > 0 && test.X.rows() > c.test_max) {
      test.X.conservativeResize(c.test_max, Eigen::NoChange);
      test.y.resize(std::size_t(c.test_max));
    }
    Students keep;
    const bool need_teacher = c.experiments.count("distill") || c.experiments.count("saliency");
    if (need_teacher) {
      Data tr{fm.train.images, fm.train.labels};
      if (c.teacher_train > 0) {
        tr.X.conservativeResize(c.teacher_train, Eigen::NoChange);
        tr.y.resize(std::size_t(c.teacher_train));
      }
      const TeacherNet teacher = teacher_for(c, "teacher.safetensors", tr, 10, "teacher", log);
      const double ta = train::evaluate(teacher, test.X, test.y).accuracy;
      std::printf("Teacher CNN (%lld parameters): test accuracy %.2f%% on %lld images\n",
                  static_cast<long long>(teacher.num_params()), 100 * ta,
                  static_cast<long long>(test.X.rows()));
      log["teacher"]["test_accuracy"] = ta;
      if (c.experiments.count("distill")) distill(c, fm, test, teacher, log, keep);
      if (c.experiments.count("saliency")) {
        if (keep.nets.empty()) {  // saliency without distill: train the two students here
          const Index n = c.distill_n.back();
          const Data d = take(fm.train.images, fm.train.labels,
                              train::subset_per_class(fm.train.labels, n == 0 ? 100 : n, 1, 10));
          const auto data = losses::TeacherData<T>::record(teacher, d.X, true);
          for (int row : {0, 2}) {
            MlpNet s = make_mlp(100);
            if (c.normalize_jac)
              distill_run<losses::L2>(row, s, c, d, &data, teacher, 10);
            else
              distill_run<losses::NoNorm>(row, s, c, d, &data, teacher, 10);
            keep.nets.push_back(s);
            keep.names.push_back(std::string(kRows[row]) + " student");
          }
        }
        saliency(c, test, teacher, keep, log);
      }
    }
    if (c.experiments.count("transfer")) transfer(c, fm, log);
    if (c.experiments.count("noise")) noise(c, fm, test, log);
    log["total_seconds"] = seconds_since(t_start);
    io::write_file_atomic(c.out / "config.json", log.dump(2) + "\n");
    std::printf("\nwrote %s (total %.0f s)\n", c.out.string().c_str(), seconds_since(t_start));
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
