// Tests of jacnet/train/optimizer.hpp: every optimizer satisfies the Optimizer concept, and SGD,
// Adam and AdamW follow torch.optim step by step on a fixed quadratic (skipped when no python3
// with torch is found: set JACNET_PYTHON, or python3 / /usr/bin/python3 must `import torch`).
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/skip.hpp"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "jacnet/train/adam.hpp"
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/sgd.hpp"

using namespace jacnet;

static_assert(train::Optimizer<train::SGD<float>>);
static_assert(train::Optimizer<train::Adam<double>>);
static_assert(train::Optimizer<train::AdamW<float>>);
static_assert(!train::Optimizer<int>);

namespace {

// The quadratic f(θ) = ½ θᵀAθ − bᵀθ, gradient Aθ − b; the same numbers are written into the
// Python script below.
constexpr int kDim = 4;
constexpr int kSteps = 25;
const double kA[kDim][kDim] = {
    {4.0, 1.0, 0.5, 0.0}, {1.0, 3.0, 0.25, 0.5}, {0.5, 0.25, 2.0, -0.5}, {0.0, 0.5, -0.5, 1.5}};
const double kB[kDim] = {1.0, -2.0, 0.5, 3.0};
const double kTheta0[kDim] = {0.5, -1.5, 2.0, 1.0};
double lr_at(double lr0, int t) { return lr0 * std::pow(0.95, t); }

// Interpreters to try, in order: $JACNET_PYTHON, python3, /usr/bin/python3 (Debian's, where
// python3-torch lives, when another python3 comes first on PATH).
std::vector<std::string> python_candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("JACNET_PYTHON")) c.emplace_back(env);
  c.emplace_back("python3");
  c.emplace_back("/usr/bin/python3");
  return c;
}

std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  REQUIRE(pipe);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
  return out;
}

// name → torch constructor, and a C++ runner producing the iterates.
template <class Opt>
std::vector<std::vector<double>> run_cpp(Opt opt, double lr0) {
  Eigen::Matrix<double, kDim, kDim> A;
  Vector<double> b(kDim), p(kDim), g(kDim);
  for (int i = 0; i < kDim; ++i) {
    b(i) = kB[i];
    p(i) = kTheta0[i];
    for (int j = 0; j < kDim; ++j) A(i, j) = kA[i][j];
  }
  std::vector<std::vector<double>> out;
  for (int t = 0; t < kSteps; ++t) {
    g = A * p - b;
    opt.set_lr(lr_at(lr0, t));
    opt.step(p, g);
    out.emplace_back(p.data(), p.data() + kDim);
  }
  return out;
}

}  // namespace

TEST_CASE("SGD, Adam and AdamW match torch.optim step by step on a quadratic", "[optimizer]") {
  // name, torch constructor, base lr; the C++ optimizers are built below in the same order.
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"sgd", "torch.optim.SGD([p], lr=0.1)"},
      {"sgd_mom_wd", "torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.05)"},
      {"sgd_damp", "torch.optim.SGD([p], lr=0.1, momentum=0.8, dampening=0.3)"},
      {"sgd_nesterov",
       "torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)"},
      {"adam", "torch.optim.Adam([p], lr=0.1)"},
      {"adam_wd", "torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)"},
      {"adam_ams", "torch.optim.Adam([p], lr=0.1, weight_decay=0.02, amsgrad=True)"},
      {"adamw", "torch.optim.AdamW([p], lr=0.1)"},
      {"adamw_ams",
       "torch.optim.AdamW([p], lr=0.1, betas=(0.85, 0.95), weight_decay=0.3, amsgrad=True)"},
  };
  std::ostringstream script;
  script.precision(17);
  script << "try:\n    import torch\nexcept ImportError:\n    print('NO_TORCH')\n    raise "
            "SystemExit(0)\n"
         << "torch.set_default_dtype(torch.float64)\n";
  script << "A = torch.tensor([";
  for (int i = 0; i < kDim; ++i) {
    script << "[";
    for (int j = 0; j < kDim; ++j) script << kA[i][j] << ",";
    script << "],";
  }
  script << "])\nb = torch.tensor([";
  for (double v : kB) script << v << ",";
  script << "])\nth0 = torch.tensor([";
  for (double v : kTheta0) script << v << ",";
  script << "])\n";
  script << "configs = [\n";
  for (const auto& [name, ctor] : configs)
    script << "  ('" << name << "', lambda p: " << ctor << "),\n";
  script << "]\n"
         << "for name, make in configs:\n"
         << "    p = th0.clone().requires_grad_(True)\n"
         << "    opt = make(p)\n"
         << "    lr0 = opt.param_groups[0]['lr']\n"
         << "    for t in range(" << kSteps << "):\n"
         << "        with torch.no_grad():\n"
         << "            p.grad = A @ p - b\n"
         << "        for grp in opt.param_groups: grp['lr'] = lr0 * 0.95 ** t\n"
         << "        opt.step()\n"
         << "        print(name, t, ' '.join(repr(float(v)) for v in p.detach()))\n";
  const auto path = std::filesystem::temp_directory_path() /
                    ("jacnet_test_optimizer_" + std::to_string(::getpid()) + ".py");
  {
    std::ofstream f(path);
    f << script.str();
  }
  // Run the script with the first interpreter that has torch (one import per candidate: the
  // script's first line fails fast with a marker when torch is missing).
  std::string out;
  bool found = false;
  const std::vector<std::string> candidates = python_candidates();  // a named vector: a range-for
  for (const auto& py : candidates) {  // over the temporary drew GCC 12 -Wfree-nonheap-object
    out = run(py + " " + path.string() + " 2>&1");
    if (out.rfind("NO_TORCH", 0) == 0 || out.find("not found") != std::string::npos ||
        out.find("No such file") != std::string::npos)
      continue;
    found = true;
    break;
  }
  std::filesystem::remove(path);
  if (!found) {
    JACNET_SKIP("no python3 with torch (set JACNET_PYTHON to one)");
  }
  std::map<std::string, std::vector<std::vector<double>>> torch_iterates;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    std::string name;
    int t = -1;
    ls >> name >> t;
    std::vector<double> v(kDim);
    for (auto& x : v) ls >> x;
    INFO("python output line: " << line);
    REQUIRE(!ls.fail());
    torch_iterates[name].push_back(v);
  }
  REQUIRE(torch_iterates.size() == configs.size());

  std::map<std::string, std::vector<std::vector<double>>> ours;
  ours["sgd"] = run_cpp(train::SGD<double>({.lr = 0.1}), 0.1);
  ours["sgd_mom_wd"] =
      run_cpp(train::SGD<double>({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05}), 0.1);
  ours["sgd_damp"] =
      run_cpp(train::SGD<double>({.lr = 0.1, .momentum = 0.8, .dampening = 0.3}), 0.1);
  ours["sgd_nesterov"] = run_cpp(
      train::SGD<double>({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}),
      0.1);
  ours["adam"] = run_cpp(train::Adam<double>({.lr = 0.1}), 0.1);
  ours["adam_wd"] =
      run_cpp(train::Adam<double>(
                  {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1}),
              0.1);
  ours["adam_ams"] =
      run_cpp(train::Adam<double>({.lr = 0.1, .weight_decay = 0.02, .amsgrad = true}), 0.1);
  ours["adamw"] = run_cpp(train::AdamW<double>({.lr = 0.1}), 0.1);
  ours["adamw_ams"] =
      run_cpp(train::AdamW<double>(
                  {.lr = 0.1, .beta1 = 0.85, .beta2 = 0.95, .weight_decay = 0.3, .amsgrad = true}),
              0.1);

  for (const auto& [name, ctor] : configs) {
    const auto& ref = torch_iterates[name];
    const auto& mine = ours.at(name);
    REQUIRE(ref.size() == static_cast<std::size_t>(kSteps));
    for (int t = 0; t < kSteps; ++t)
      for (int i = 0; i < kDim; ++i) {
        CAPTURE(name, t, i);
        CHECK(mine[t][i] == Approx(ref[t][i]).epsilon(1e-12).margin(1e-14));
      }
  }
}
