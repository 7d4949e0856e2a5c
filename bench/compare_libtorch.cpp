// compare_libtorch — the libtorch C++ peer of jacnet's benchmarks (issue 8): the nets and tasks of
// bench/compare_pytorch.py in Debian's libtorch 1.13 (libtorch-dev), timed by Google Benchmark.
//
// Nets (float32, batch B = 128, PyTorch's default initialization; student seed 1, teacher seed 2):
//   mlp784  784-256-256-10 tanh        mlp32  32-64-64-4 tanh
//   lenet5  1x28x28: conv 5x5x6 pad 2, tanh, avgpool 2, conv 5x5x16, tanh, avgpool 2, flatten,
//           dense 400-120-84-10 with tanh between the dense layers
// Benchmarks, named <task>/<net>/<method> (+ "/real_time"), unit ms, wall time:
//   train/*/autograd         grad(cross_entropy(net(x), y), params)
//   jac/*/backward_loop      per-sample Jacobian [B, K, D]: one forward, K backward calls with
//                            retain_graph, call k seeded with the one-hot column k for every sample
//   jac/*/vmap_grad          the same K seeds in ONE backward call through ATen's batched tensors
//                            (at::_add_batch_dim under at::impl::VmapMode: the mechanism behind
//                            Python's autograd.grad(is_grads_batched=True) in 1.13; the C++ API has
//                            no is_grads_batched and no functorch vmap/jacrev)
//   jm_full/*/<method>       Jacobian matching on the full Jacobian, double backprop: CE +
//                            (1/B) sum ||J_T - J_S||^2, J_S by either method with create_graph,
//                            gradients w.r.t. the student's parameters; J_T precomputed (as
//                            compare_pytorch.py --teacher precomputed and jacnet's TeacherData)
//   jm_top1/*/autograd       the same on one row per sample, the teacher's argmax class
//   jnorm_rp1/*/autograd     CE + 1/2 (K/B) sum_b ||v_b^T J_b||^2, v_b uniform on the unit sphere,
//                            drawn in the step (Hoffman, Roberts & Yaida 2019)
// The table (bench/run_all.sh) keeps the faster method per task and net.
// Every benchmark makes one untimed call before its timed loop (autograd buffers, oneDNN
// primitives), so a set-up call is never reported as the steady state.
// Counters: GFLOPs (the task's GEMM FLOPs, bench/compare_pytorch.py's task_flops, per second),
// M (Jacobian rows per sample), threads.
//
// Checks before timing (exit 1 on failure): the two Jacobian methods agree (float32, 1e-5 of the
// largest entry); the two jm_full methods give the same gradients (1e-4); in float64 on 4 samples
// the directional derivative of every loss along a random parameter direction matches fourth-order
// central differences (1e-6).
//
// The peer runs at its best: OMP_WAIT_POLICY=PASSIVE (libgomp reads it when libtorch is loaded,
// before main, so the program re-executes itself with it when it is unset; set it to ACTIVE to
// measure spinning), torch's and OpenBLAS's thread counts both = OMP_NUM_THREADS (default: all
// cores).
#include <ATen/VmapMode.h>
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using torch::Tensor;
namespace F = torch::nn::functional;

constexpr int64_t kB = 128;

struct NetInfo {
  const char* name;
  std::vector<int64_t> input;  // per-sample input shape
  int64_t K;                   // outputs
  double P, P1, PL;            // forward multiply-adds per sample: all GEMM layers, first, last
};
const NetInfo kNets[3] = {
    {"mlp784", {784}, 10, 784 * 256 + 256 * 256 + 256 * 10, 784 * 256, 256 * 10},
    {"mlp32", {32}, 4, 32 * 64 + 64 * 64 + 64 * 4, 32 * 64, 64 * 4},
    {"lenet5", {1, 28, 28}, 10,
     6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10, 6 * 28 * 28 * 25,
     84 * 10},
};

/// compare_pytorch.py's task_flops (2 FLOPs per multiply-add; the teacher's work not counted).
double task_flops(const std::string& task, const NetInfo& n, int64_t batch) {
  const double b = double(batch), k = double(n.K);
  const double fwd = 2 * b * n.P;
  if (task == "train") return fwd + 2 * b * n.P + 2 * b * (n.P - n.P1);
  if (task == "jac") return fwd + 2 * b * k * (n.P - n.PL);
  const double m = task == "jm_full" ? k : 1.0;
  return fwd + 4 * b * m * (n.P - n.PL) + 2 * b * m * n.P + 2 * b * n.P + 2 * b * (n.P - n.P1);
}

torch::nn::Sequential make_net(int id, uint64_t seed) {
  namespace nn = torch::nn;
  torch::manual_seed(seed);
  switch (id) {
    case 0:
      return nn::Sequential(nn::Linear(784, 256), nn::Tanh(), nn::Linear(256, 256), nn::Tanh(),
                            nn::Linear(256, 10));
    case 1:
      return nn::Sequential(nn::Linear(32, 64), nn::Tanh(), nn::Linear(64, 64), nn::Tanh(),
                            nn::Linear(64, 4));
    default:
      return nn::Sequential(
          nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::Tanh(), nn::AvgPool2d(2),
          nn::Conv2d(nn::Conv2dOptions(6, 16, 5)), nn::Tanh(), nn::AvgPool2d(2), nn::Flatten(),
          nn::Linear(400, 120), nn::Tanh(), nn::Linear(120, 84), nn::Tanh(), nn::Linear(84, 10));
  }
}

/// A deep copy of `net` in `dtype`.
torch::nn::Sequential clone_as(const torch::nn::Sequential& net, torch::Dtype dtype) {
  torch::nn::Sequential c(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net->clone()));
  c->to(dtype);
  return c;
}

void freeze(torch::nn::Sequential& net) {
  for (auto& p : net->parameters()) p.set_requires_grad(false);
}

enum class Method { backward_loop, vmap_grad };

/// Per-sample Jacobian [B, K, *input] (row k of every sample at once: samples are independent)
/// and the net's output, by K backward calls with retain_graph or one vmap-batched call.
std::pair<Tensor, Tensor> jacobian(torch::nn::Sequential& net, const Tensor& x,
                                   const Tensor& seeds, Method method, bool create_graph) {
  const int64_t K = seeds.size(0);
  Tensor xr = x.detach().requires_grad_(true);
  Tensor out = net->forward(xr);
  if (method == Method::backward_loop) {
    std::vector<Tensor> rows;
    rows.reserve(std::size_t(K));
    for (int64_t k = 0; k < K; ++k)
      rows.push_back(torch::autograd::grad({out}, {xr}, {seeds[k]}, create_graph || k + 1 < K,
                                           create_graph)[0]);
    return {torch::stack(rows, 1), out};
  }
  // seeds is [K, B, K]; its dim 0 becomes a vmap batch dimension of the grad output, so the
  // engine runs one backward pass on batched tensors (ATen's legacy vmap; ops without a batching
  // rule, e.g. tanh_backward, fall back to a loop over the K slices inside ATen).
  const int64_t level = at::impl::VmapMode::increment_nesting();
  Tensor g;
  try {
    const Tensor go = at::_add_batch_dim(seeds, 0, level);
    g = torch::autograd::grad({out}, {xr}, {go}, create_graph, create_graph)[0];
    g = at::_remove_batch_dim(g, level, K, 0);  // [K, B, *input]
  } catch (...) {
    at::impl::VmapMode::decrement_nesting();
    throw;
  }
  at::impl::VmapMode::decrement_nesting();
  return {g.transpose(0, 1), out};
}

/// One net with its data, teacher (precomputed, no graph) and seeds.
struct Problem {
  int id;
  int64_t K;
  torch::nn::Sequential S, T, Sj;  // student, teacher, student without parameter grads
  Tensor x, y, seeds;              // seeds [K, B, K]: seeds[k] = one-hot column k for every sample
  Tensor jt_full, cls, jt_row;     // teacher: full Jacobian; argmax class [B, 1] and its row
  std::vector<Tensor> params;

  Problem(int id_, torch::nn::Sequential S_, torch::nn::Sequential T_, Tensor x_, Tensor y_)
      : id(id_), K(kNets[id_].K), S(S_), T(T_), x(x_), y(y_) {
    Sj = clone_as(S, x.scalar_type());
    freeze(Sj);
    freeze(T);
    const int64_t B = x.size(0);
    seeds = torch::eye(K, x.options()).unsqueeze(1).expand({K, B, K}).contiguous();
    jt_full = jacobian(T, x, seeds, Method::backward_loop, false).first.detach();
    Tensor xr = x.detach().requires_grad_(true);
    Tensor tout = T->forward(xr);
    cls = tout.detach().argmax(1, true);
    jt_row = torch::autograd::grad({tout.gather(1, cls).sum()}, {xr})[0].detach();
    params = S->parameters();
  }
};

Problem make_problem(int id, torch::Dtype dtype, int64_t batch) {
  torch::nn::Sequential S = make_net(id, 1), T = make_net(id, 2);
  if (dtype != torch::kFloat32) {
    S = clone_as(S, dtype);
    T = clone_as(T, dtype);
  }
  torch::manual_seed(3);
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), kNets[id].input.begin(), kNets[id].input.end());
  Tensor x = torch::randn(shape, torch::TensorOptions().dtype(dtype));
  Tensor y = torch::randint(0, kNets[id].K, {batch}, torch::kLong);
  return Problem(id, S, T, x, y);
}

/// Unit vectors [B, K], one per sample.
Tensor unit_directions(int64_t B, int64_t K, at::Generator& gen, torch::Dtype dtype) {
  Tensor v = torch::randn({B, K}, gen, torch::TensorOptions().dtype(dtype));
  return v / v.norm(2, {1}, true);
}

/// The loss of `task` (not "jac"); v: fixed directions for jnorm_rp1, or undefined to draw them.
Tensor loss(const std::string& task, Method method, Problem& p, const Tensor& v,
            at::Generator& gen) {
  const double B = double(p.x.size(0));
  if (task == "train") return F::cross_entropy(p.S->forward(p.x), p.y);
  if (task == "jm_full") {
    auto [js, out] = jacobian(p.S, p.x, p.seeds, method, true);
    return F::cross_entropy(out, p.y) + (p.jt_full - js).pow(2).sum() / B;
  }
  Tensor xr = p.x.detach().requires_grad_(true);
  Tensor out = p.S->forward(xr);
  if (task == "jm_top1") {
    Tensor js = torch::autograd::grad({out.gather(1, p.cls).sum()}, {xr}, {}, true, true)[0];
    return F::cross_entropy(out, p.y) + (p.jt_row - js).pow(2).sum() / B;
  }
  if (task == "jnorm_rp1") {
    const Tensor dir = v.defined() ? v : unit_directions(p.x.size(0), p.K, gen, p.x.scalar_type());
    Tensor vj = torch::autograd::grad({(out * dir).sum()}, {xr}, {}, true, true)[0];
    return F::cross_entropy(out, p.y) + 0.5 * double(p.K) * vj.pow(2).sum() / B;
  }
  throw std::invalid_argument("compare_libtorch: unknown task " + task);
}

std::vector<Tensor> param_grads(const Tensor& l, const std::vector<Tensor>& params) {
  auto g = torch::autograd::grad({l}, params, {}, c10::nullopt, false, true);
  for (std::size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = torch::zeros_like(params[i]);
  return g;
}

// ---- checks ---------------------------------------------------------------------------------

struct CheckError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10e", v);
  return buf;
}

double check_close(const std::string& what, const Tensor& a, const Tensor& b, double rtol) {
  const Tensor ad = a.detach().to(torch::kFloat64), bd = b.detach().to(torch::kFloat64);
  const double scale =
      std::max({ad.abs().max().item<double>(), bd.abs().max().item<double>(), 1e-30});
  const double err = (ad - bd).abs().max().item<double>();
  if (!(err <= rtol * scale))
    throw CheckError(what + ": max |a - b| = " + num(err) + " exceeds " + num(rtol) +
                     " * max|.| = " + num(rtol * scale));
  return err / scale;
}

/// float64, 4 samples: the directional derivative of the loss along a random parameter
/// direction from double backprop against central differences of the loss.
double check_loss_fd(int id, const std::string& task, Method method) {
  Problem p = make_problem(id, torch::kFloat64, 4);
  at::Generator gen = at::detail::createCPUGenerator(11);
  const Tensor v = unit_directions(4, p.K, gen, torch::kFloat64);
  const auto grads = param_grads(loss(task, method, p, v, gen), p.params);
  torch::manual_seed(13);
  std::vector<Tensor> dirs, base;
  double analytic = 0;
  for (std::size_t i = 0; i < p.params.size(); ++i) {
    dirs.push_back(torch::randn_like(p.params[i]));
    base.push_back(p.params[i].detach().clone());
    analytic += (grads[i] * dirs[i]).sum().item<double>();
  }
  auto loss_at = [&](double t) {
    {
      torch::NoGradGuard ng;
      for (std::size_t i = 0; i < p.params.size(); ++i) p.params[i].copy_(base[i] + t * dirs[i]);
    }
    return loss(task, method, p, v, gen).item<double>();
  };
  // Fourth-order central differences: error O(h^4) (a 2-point difference leaves O(h^2) ~ 1e-6
  // relative here, the curvature along a random direction of 10^5 parameters being large).
  const double h = 1e-5;
  const double fd = (8 * (loss_at(h) - loss_at(-h)) - (loss_at(2 * h) - loss_at(-2 * h))) / (12 * h);
  const double rel = std::abs(analytic - fd) / std::max(std::abs(fd), 1e-12);
  if (!(rel <= 1e-6))
    throw CheckError(task + " on " + kNets[id].name + ": directional derivative " +
                     num(analytic) + " vs central differences " + num(fd) + " (rel " + num(rel) +
                     ")");
  return rel;
}

void run_checks() {
  for (int id = 0; id < 3; ++id) {
    Problem p = make_problem(id, torch::kFloat32, kB);
    const Tensor a = jacobian(p.Sj, p.x, p.seeds, Method::backward_loop, false).first;
    const Tensor b = jacobian(p.Sj, p.x, p.seeds, Method::vmap_grad, false).first;
    double worst_fd = 0;
    const double jrel = check_close(std::string(kNets[id].name) + " Jacobian loop/vmap", a, b, 1e-5);
    at::Generator gen = at::detail::createCPUGenerator(5);
    const auto g0 = param_grads(loss("jm_full", Method::backward_loop, p, Tensor(), gen), p.params);
    const auto g1 = param_grads(loss("jm_full", Method::vmap_grad, p, Tensor(), gen), p.params);
    double grel = 0;
    for (std::size_t i = 0; i < g0.size(); ++i)
      grel = std::max(grel, check_close(std::string(kNets[id].name) + " jm_full grad loop/vmap",
                                        g0[i], g1[i], 1e-4));
    for (const char* task : {"train", "jm_top1", "jnorm_rp1"})
      worst_fd = std::max(worst_fd, check_loss_fd(id, task, Method::backward_loop));
    for (Method m : {Method::backward_loop, Method::vmap_grad})
      worst_fd = std::max(worst_fd, check_loss_fd(id, "jm_full", m));
    std::fprintf(stderr,
                 "[check] %s: Jacobian loop vs vmap rel %.1e; jm_full gradients loop vs vmap rel "
                 "%.1e; float64 loss gradients vs central differences rel <= %.1e\n",
                 kNets[id].name, jrel, grel, worst_fd);
  }
}

// ---- benchmarks -----------------------------------------------------------------------------

int g_threads = 1;

void register_task(int id, const std::string& task, Method method, const char* method_name) {
  const std::string name = task + "/" + kNets[id].name + "/" + method_name;
  benchmark::RegisterBenchmark(name.c_str(), [id, task, method](benchmark::State& state) {
    Problem p = make_problem(id, torch::kFloat32, kB);
    at::Generator gen = at::detail::createCPUGenerator(5);
    std::function<void()> step;
    if (task == "jac")
      step = [&] {
        const Tensor J = jacobian(p.Sj, p.x, p.seeds, method, false).first;
        benchmark::DoNotOptimize(J.data_ptr());
      };
    else
      step = [&] {
        const auto g = param_grads(loss(task, method, p, Tensor(), gen), p.params);
        benchmark::DoNotOptimize(g.back().data_ptr());
      };
    step();  // untimed set-up call
    for (auto _ : state) step();
    const double m = task == "jm_full" ? double(p.K) : (task == "train" ? 0.0 : 1.0);
    state.counters["GFLOPs"] = benchmark::Counter(task_flops(task, kNets[id], kB) * 1e-9,
                                                  benchmark::Counter::kIsIterationInvariantRate);
    state.counters["M"] = task == "jac" ? double(p.K) : m;
    state.counters["threads"] = g_threads;
  })->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  // libgomp read OMP_WAIT_POLICY when libtorch was loaded, before main: setting it now would be
  // too late, so run this program again with it set.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
    std::perror("compare_libtorch: execv /proc/self/exe");
    return 2;
  }
  const char* omp = std::getenv("OMP_NUM_THREADS");
  g_threads = omp && std::atoi(omp) > 0 ? std::atoi(omp)
                                         : int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(g_threads);
  // Debian's torch calls sgemm from libblas.so.3 (OpenBLAS, pthread build): same thread count.
  std::string blas = "libblas.so.3 (not OpenBLAS)";
  if (auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(g_threads);
    auto config = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    auto core = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    blas = std::string(config ? config() : "OpenBLAS") + "; core " + (core ? core() : "?");
  }
  benchmark::AddCustomContext("peer", std::string("libtorch ") + TORCH_VERSION);
  benchmark::AddCustomContext("OMP_WAIT_POLICY", std::getenv("OMP_WAIT_POLICY"));
  benchmark::AddCustomContext("threads", std::to_string(g_threads));
  benchmark::AddCustomContext("blas", blas);
  benchmark::AddCustomContext("mkldnn", at::hasMKLDNN() ? "yes" : "no");

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  try {
    run_checks();
  } catch (const CheckError& e) {
    std::fprintf(stderr, "compare_libtorch: CHECK FAILED: %s\n", e.what());
    return 1;
  }
  for (int id = 0; id < 3; ++id) {
    register_task(id, "train", Method::backward_loop, "autograd");
    register_task(id, "jac", Method::backward_loop, "backward_loop");
    register_task(id, "jac", Method::vmap_grad, "vmap_grad");
    register_task(id, "jm_full", Method::backward_loop, "backward_loop");
    register_task(id, "jm_full", Method::vmap_grad, "vmap_grad");
    register_task(id, "jm_top1", Method::backward_loop, "autograd");
    register_task(id, "jnorm_rp1", Method::backward_loop, "autograd");
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
