// PyTorch parity: nets built and initialized in PyTorch (double), exported by
// scripts/export_torch.py, loaded into the matching jacnet nets; outputs, per-sample input
// Jacobians, JVPs, VJPs and parameter gradients (the trainable ones, compared with torch's .grad
// name by name and packed in parameters() order — BatchNorm's buffers left out the documented way,
// nn/trainable.hpp) must agree to 1e-10 (gradients: 1e-10 relative to their largest entry when
// that exceeds 1). Nets: an MLP, a CNN (BatchNorm, pooling, ReLU, Tanh) and one with PyTorch's
// options (Softplus(beta=2, threshold=3) with inputs on both sides of the threshold, AvgPool2d with
// padding and count_include_pad=False, GELU(approximate='tanh'), BatchNorm). The reverse direction
// too: a jacnet-written safetensors file is loaded by torch (load_state_dict, strict) and gives
// jacnet's outputs. Needs python3 with torch at run time (/usr/bin/python3 with python3-torch,
// or $JACNET_PYTHON); without it the test cases are SKIPPED (JACNET_SKIP), never passed.
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "support/skip.hpp"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "jacnet/io/npy.hpp"
#include "jacnet/io/safetensors.hpp"
#include "jacnet/io/weights.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/batchnorm.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/nn/trainable.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;

namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

/// Python interpreters to try: $JACNET_PYTHON, python3 on PATH, /usr/bin/python3.
std::vector<std::string> python_candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("JACNET_PYTHON")) c.emplace_back(env);
  c.emplace_back("python3");
  c.emplace_back("/usr/bin/python3");
  return c;
}

std::filesystem::path script_path() {
  if (const char* src = std::getenv("JACNET_SOURCE_DIR"))
    return std::filesystem::path(src) / "scripts" / "export_torch.py";
  // Outside ctest: this file is <source>/tests/io/test_torch_parity.cpp.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "scripts" /
         "export_torch.py";
}

/// Runs the export script with `args` under the first interpreter that has torch and numpy (the
/// script exits with 77 when it cannot import them). Returns false if none has; fails the test
/// with the script's output on any other error.
bool run_script(const std::string& args, const TempDir& dir) {
  const auto log = dir / "script.log";
  for (const auto& py : python_candidates()) {
    const std::string cmd = quote(py) + " " + quote(script_path().string()) + " " + args + " > " +
                            quote(log.string()) + " 2>&1";
    const int status = std::system(cmd.c_str());
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc == 0) return true;
    if (rc == 77 || rc == 127) continue;  // no torch/numpy, or no such interpreter
    const auto out = jacnet_test::read_bytes(log);
    FAIL("export_torch.py failed (exit " << rc << "): " << cmd << "\n"
                                         << std::string(out.begin(), out.end()));
  }
  return false;
}

double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

template <class Net>
void check_against_torch(Net& net, const std::filesystem::path& d) {
  io::load_weights(net, d / "weights.safetensors");
  const Matrix<double> X = io::read_npy<double>(d / "inputs.npy").matrix();
  const Matrix<double> Yt = io::read_npy<double>(d / "outputs.npy").matrix();
  const Matrix<double> Jt = io::read_npy<double>(d / "jacobians.npy").matrix();
  REQUIRE(X.cols() == net.input_size());
  REQUIRE(Jt.rows() == X.rows() * net.output_size());

  const Matrix<double> Y = net.forward(X);
  const Matrix<double> J = nn::jacrev(net, X);
  const double ey = max_abs_diff(Y, Yt), ej = max_abs_diff(J, Jt);
  INFO(d.filename().string() << ": max |y - y_torch| = " << ey << ", max |J - J_torch| = " << ej);
  CHECK(ey <= 1e-10);
  CHECK(ej <= 1e-10);
  // The outputs are not trivially small (a lost bias or layer would show).
  CHECK(Yt.cwiseAbs().maxCoeff() > 0.1);
  CHECK(Jt.cwiseAbs().maxCoeff() > 0.01);

  // JVP, VJP and parameter gradients of <v, y(x)>, against torch.autograd.
  const Matrix<double> U = io::read_npy<double>(d / "jvp_u.npy").matrix();
  const Matrix<double> JUt = io::read_npy<double>(d / "jvp_out.npy").matrix();
  const Matrix<double> V = io::read_npy<double>(d / "vjp_v.npy").matrix();
  const Matrix<double> VJt = io::read_npy<double>(d / "vjp_out.npy").matrix();
  const double eu = max_abs_diff(nn::jvp(net, X, U), JUt);
  const double ev = max_abs_diff(nn::vjp(net, X, V), VJt);
  Vector<double> g;
  Matrix<double> Xbar;
  nn::param_gradient(net, X, V, g, &Xbar);
  const double ex = max_abs_diff(Xbar, VJt);
  INFO(d.filename().string() << ": max |Ju - Ju_torch| = " << eu << ", max |vJ - vJ_torch| = "
                             << ev << ", max |dX - x.grad| = " << ex);
  CHECK(eu <= 1e-10);
  CHECK(ev <= 1e-10);
  CHECK(ex <= 1e-10);
  CHECK(JUt.cwiseAbs().maxCoeff() > 0.01);
  CHECK(VJt.cwiseAbs().maxCoeff() > 0.01);

  // Parameter gradients without buffer slots: name by name against .grad, then packed.
  const auto grads = io::SafetensorsFile::read(d / "grads.safetensors");
  const auto views = nn::trainable_view(net, g.data());
  CHECK(views.size() == grads.entries().size());  // torch's parameters(): no buffers
  double gmax = 0.0;
  for (const auto& p : views) {
    INFO(d.filename().string() << ": parameter " << p.name);
    const std::vector<double> t = grads.get<double>(p.name);
    REQUIRE(t.size() == p.data.size());
    for (std::size_t i = 0; i < t.size(); ++i) gmax = std::max(gmax, std::abs(t[i]));
    double e = 0.0;
    for (std::size_t i = 0; i < t.size(); ++i) e = std::max(e, std::abs(p.data[i] - t[i]));
    CHECK(e <= 1e-10 * std::max(1.0, gmax));
  }
  CHECK(gmax > 0.01);
  const Vector<double> packed = nn::gather_trainable(net, g);
  const Matrix<double> Pt = io::read_npy<double>(d / "param_grad.npy").matrix();
  REQUIRE(Pt.size() == packed.size());
  CHECK(nn::num_trainable(net) == packed.size());
  double ep = 0.0;
  for (Index i = 0; i < packed.size(); ++i) ep = std::max(ep, std::abs(packed[i] - Pt.data()[i]));
  INFO(d.filename().string() << ": packed gradient max |g - torch| = " << ep);
  CHECK(ep <= 1e-10 * std::max(1.0, gmax));
  // The buffer slots of the full-layout gradient are exactly 0.
  for (const auto& p : net.named_view(g.data()))
    if (!p.trainable)
      for (double x : p.data) CHECK(x == 0.0);

  // The .npy directory written by numpy holds the same values.
  Net from_npy = net;
  from_npy.params().setZero();
  io::load_weights(from_npy, d / "weights_npy");
  CHECK((from_npy.params() == net.params()));
}

}  // namespace

TEST_CASE("PyTorch-made MLP and CNN load into jacnet and match outputs and Jacobians",
          "[io][torch]") {
  REQUIRE(std::filesystem::exists(script_path()));
  TempDir dir;
  using D = double;
  using Mlp = nn::Sequential<nn::Dense<D>, nn::Tanh<D>, nn::Dense<D>, nn::ReLU<D>, nn::Dense<D>>;
  Mlp mlp(Shape{6}, nn::Dense<D>(6, 16), nn::Tanh<D>(), nn::Dense<D>(16, 12), nn::ReLU<D>(),
          nn::Dense<D>(12, 4));
  using Cnn =
      nn::Sequential<nn::Conv2d<D>, nn::BatchNorm2d<D>, nn::Tanh<D>, nn::AvgPool2d<D>,
                     nn::Conv2d<D>, nn::ReLU<D>, nn::MaxPool2d<D>, nn::Flatten<D>, nn::Dense<D>>;
  Cnn cnn(Shape{1, 12, 12}, nn::Conv2d<D>(1, 3, 3, 1, 1), nn::BatchNorm2d<D>(3), nn::Tanh<D>(),
          nn::AvgPool2d<D>(2), nn::Conv2d<D>(3, 4, 3), nn::ReLU<D>(), nn::MaxPool2d<D>(2),
          nn::Flatten<D>(), nn::Dense<D>(16, 5));

  // Reverse direction, prepared first so one Python start-up does everything: jacnet's own
  // weights (with non-trivial BatchNorm statistics; init leaves μ = 0, σ² = 1) and inputs.
  Cnn mine = cnn;
  mine.init(21);
  for (auto& p : mine.named_parameters())
    if (p.name == "1.running_mean" || p.name == "1.running_var")
      for (std::size_t i = 0; i < p.data.size(); ++i)
        p.data[i] = (p.name == "1.running_var" ? 1.5 : 0.0) + 0.1 * double(i + 1);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g;
  Matrix<double> Xm(3, 144);
  for (Index i = 0; i < Xm.size(); ++i) Xm.data()[i] = g(rng);
  io::save_weights(mine, dir / "jacnet_cnn.safetensors");
  io::write_npy(dir / "jacnet_cnn_x.npy", Xm);

  const bool ran =
      run_script("fixtures --out " + quote(dir.path().string()) + " --seed 3 --batch 5 --run cnn " +
                     quote((dir / "jacnet_cnn.safetensors").string()) + " " +
                     quote((dir / "jacnet_cnn_x.npy").string()) + " " +
                     quote((dir / "jacnet_cnn_y.npy").string()),
                 dir);
  if (!ran) {
    JACNET_SKIP("no python3 with torch and numpy found (set JACNET_PYTHON)");
  }
  check_against_torch(mlp, dir / "mlp");
  check_against_torch(cnn, dir / "cnn");

  const Matrix<double> Yt = io::read_npy<double>(dir / "jacnet_cnn_y.npy").matrix();
  const double e = max_abs_diff(mine.forward(Xm), Yt);
  INFO("jacnet-saved CNN run in torch: max |y - y_torch| = " << e);
  CHECK(e <= 1e-10);
  CHECK(Yt.cwiseAbs().maxCoeff() > 0.1);
}

TEST_CASE("PyTorch options Softplus beta and threshold, GELU tanh, AvgPool without padding counts and BatchNorm gradients match torch",
          "[io][torch]") {
  REQUIRE(std::filesystem::exists(script_path()));
  TempDir dir;
  using D = double;
  using Opts = nn::Sequential<nn::Conv2d<D>, nn::BatchNorm2d<D>, nn::Softplus<D>, nn::AvgPool2d<D>,
                              nn::Flatten<D>, nn::Dense<D>, nn::GELU<D>, nn::Dense<D>>;
  Opts opts(Shape{2, 8, 8}, nn::Conv2d<D>(2, 3, 3, 1, 1), nn::BatchNorm2d<D>(3),
            nn::Softplus<D>(2.0, 3.0), nn::AvgPool2d<D>(3, 2, 1, false), nn::Flatten<D>(),
            nn::Dense<D>(48, 10), nn::GELU<D>(nn::GELUApproximate::Tanh), nn::Dense<D>(10, 4));
  CHECK(opts.summary().find("Softplus(beta=2, threshold=3)") != std::string::npos);
  CHECK(opts.summary().find("count_include_pad=false") != std::string::npos);
  CHECK(opts.summary().find("GELU(approximate='tanh')") != std::string::npos);

  // The reverse direction with these options too: jacnet's weights run in torch.
  Opts mine = opts;
  mine.init(4);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g;
  Matrix<double> Xm(3, 128);
  for (Index i = 0; i < Xm.size(); ++i) Xm.data()[i] = 2.0 * g(rng);
  io::save_weights(mine, dir / "jacnet_opts.safetensors");
  io::write_npy(dir / "jacnet_opts_x.npy", Xm);

  const bool ran =
      run_script("fixtures --out " + quote(dir.path().string()) +
                     " --model opts --seed 11 --batch 6 --run opts " +
                     quote((dir / "jacnet_opts.safetensors").string()) + " " +
                     quote((dir / "jacnet_opts_x.npy").string()) + " " +
                     quote((dir / "jacnet_opts_y.npy").string()),
                 dir);
  if (!ran) {
    JACNET_SKIP("no python3 with torch and numpy found (set JACNET_PYTHON)");
  }
  check_against_torch(opts, dir / "opts");

  // Softplus saw inputs on both sides of its threshold (βx > 3: the identity branch).
  const Matrix<double> X = io::read_npy<double>(dir / "opts" / "inputs.npy").matrix();
  nn::Trace<double> trace;
  opts.forward(X, trace);
  const Matrix<double>& pre = trace.acts[2];  // input of layer 2, the Softplus
  Index above = 0, below = 0;
  for (Index i = 0; i < pre.size(); ++i) (2.0 * pre.data()[i] > 3.0 ? above : below) += 1;
  INFO("Softplus inputs: " << above << " above the threshold, " << below << " below");
  CHECK(above >= 10);
  CHECK(below >= 10);

  const Matrix<double> Yt = io::read_npy<double>(dir / "jacnet_opts_y.npy").matrix();
  const double e = max_abs_diff(mine.forward(Xm), Yt);
  INFO("jacnet-saved options net run in torch: max |y - y_torch| = " << e);
  CHECK(e <= 1e-10);
  CHECK(Yt.cwiseAbs().maxCoeff() > 0.1);
}
