// bench_losses — one training step of the jacnet losses (value + gradients w.r.t. all parameters),
// float, batch B = 128, through losses::value_and_grad with a reused Workspace:
//   Arg 0 = MLP 784-256-256-10 tanh, Arg 1 = LeNet-5 (conv 5x5x6 pad 2, tanh, avgpool 2,
//   conv 5x5x16, tanh, avgpool 2, flatten, dense 400-120-84-10 with tanh between the dense layers),
//   Arg 2 = MLP 32-64-64-4 tanh (bench_mlp's and compare_pytorch.py's MLP-32).
// Benchmarks (the same losses as bench/compare_pytorch.py's tasks):
//   BM_TrainStep/<net>          CrossEntropy: forward + backward (the plain step)
//   BM_JacMatchFull/<net>       CrossEntropy + JacobianMatch<Full>            (M = 10 rows/sample)
//   BM_JacMatchTop1/<net>       CrossEntropy + JacobianMatch<TeacherTop<1>>   (M = 1)
//   BM_JacNormRP1/<net>         CrossEntropy + 0.5 * JacobianNorm<RandomProjection<1>> (M = 1)
//   ..._LiveTeacher/<net>       the matching steps with the teacher net run in the step (its
//                               forward and Jacobian rows); the others use TeacherData recorded
//                               once (outputs + full Jacobians), like compare_pytorch.py's
//                               default --teacher precomputed.
//   BM_EigenSgemm512            Eigen sgemm 512³ (GFLOPs counter): the GEMM rate of this run.
// Every benchmark first runs one set-up call outside the timing loop (first_call_ms, x_first =
// first_call_ms / steady ms) and counts allocations and page faults of later steps
// (allocs_per_iter, faults_per_iter: bench/support/alloc_counter.hpp); state_bytes_per_sample =
// the loss workspace's matrices / B (bench/support/state_bytes.hpp); threads = nn::max_threads().
// Counters: M (seed rows per sample), x_train = this step's time / the plain train step's time
// (median over 15 back-to-back pairs, so both see the same load), student_GFLOPs = the student's
// GEMM work per step (compare_pytorch.py's task_flops; the live teacher's work not counted) / time.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/conv2d.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/flatten.hpp"
#include "jacnet/nn/pool.hpp"
#include "jacnet/nn/sequential.hpp"
#include "support/alloc_counter.hpp"
#include "support/state_bytes.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using T = float;

namespace {

constexpr Index kB = 128;

using Mlp = nn::Sequential<nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;
using LeNet = nn::Sequential<nn::Conv2d<T>, nn::Tanh<T>, nn::AvgPool2d<T>, nn::Conv2d<T>,
                             nn::Tanh<T>, nn::AvgPool2d<T>, nn::Flatten<T>, nn::Dense<T>,
                             nn::Tanh<T>, nn::Dense<T>, nn::Tanh<T>, nn::Dense<T>>;

Mlp make_mlp(std::uint64_t seed) {
  Mlp net(Shape{784}, nn::Dense<T>(784, 256), nn::Tanh<T>(), nn::Dense<T>(256, 256), nn::Tanh<T>(),
          nn::Dense<T>(256, 10));
  net.init(seed);
  return net;
}
Mlp make_mlp32(std::uint64_t seed) {
  Mlp net(Shape{32}, nn::Dense<T>(32, 64), nn::Tanh<T>(), nn::Dense<T>(64, 64), nn::Tanh<T>(),
          nn::Dense<T>(64, 4));
  net.init(seed);
  return net;
}
LeNet make_lenet(std::uint64_t seed) {
  LeNet net(Shape{1, 28, 28}, nn::Conv2d<T>(1, 6, 5, 1, 2), nn::Tanh<T>(), nn::AvgPool2d<T>(2),
            nn::Conv2d<T>(6, 16, 5), nn::Tanh<T>(), nn::AvgPool2d<T>(2), nn::Flatten<T>(),
            nn::Dense<T>(400, 120), nn::Tanh<T>(), nn::Dense<T>(120, 84), nn::Tanh<T>(),
            nn::Dense<T>(84, 10));
  net.init(seed);
  return net;
}

/// Student, teacher (same shape, other seed), a batch in [0, 1) and labels (uniform over the
/// student's outputs).
template <class Net>
struct Setup {
  Net student, teacher;
  Matrix<T> X;
  std::vector<int> labels;
  TeacherData<T> recorded;

  explicit Setup(Net s, Net t) : student(std::move(s)), teacher(std::move(t)) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    X.resize(kB, student.input_size());
    for (Index i = 0; i < X.size(); ++i) X.data()[i] = u(rng);
    labels.resize(kB);
    const auto classes = static_cast<std::uint64_t>(student.output_size());
    for (auto& l : labels) l = static_cast<int>(rng() % classes);
    recorded = TeacherData<T>::record(teacher, X, true);
  }
};

Setup<Mlp>& mlp_setup() {
  static Setup<Mlp> s(make_mlp(1), make_mlp(2));
  return s;
}
Setup<Mlp>& mlp32_setup() {
  static Setup<Mlp> s(make_mlp32(1), make_mlp32(2));
  return s;
}
Setup<LeNet>& lenet_setup() {
  static Setup<LeNet> s(make_lenet(1), make_lenet(2));
  return s;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// GEMM work per sample: forward multiply-adds P, of the first layer P1 and the last PL.
struct Work {
  double P, P1, PL;
};
constexpr Work kMlpWork{784 * 256 + 256 * 256 + 256 * 10, 784 * 256, 256 * 10};
constexpr Work kMlp32Work{32 * 64 + 64 * 64 + 64 * 4, 32 * 64, 64 * 4};
constexpr Work kLeNetWork{6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10,
                          6 * 28 * 28 * 25, 84 * 10};

/// The student's GEMM FLOPs of one step with M Jacobian rows per sample (bench/compare_pytorch.py's
/// task_flops): forward 2BP, M backward + M tangent sweeps 2·2BM(P − PL), second order 2BMP,
/// final reverse sweep 2BP + 2B(P − P1). M = 0 is the plain train step.
double step_flops(const Work& w, double M) {
  const double B = kB;
  return 2 * B * w.P + 4 * B * M * (w.P - w.PL) + 2 * B * M * w.P + 2 * B * w.P +
         2 * B * (w.P - w.P1);
}

template <class S, class Loss, class TeacherOf>
void run_step(benchmark::State& state, S& s, const Loss& loss, TeacherOf&& teacher_of,
              const Work& work) {
  Workspace<T> ws(3), wtrain;
  const auto batch = Batch(s.X, s.labels, teacher_of(s));
  // Set-up call (timed: first_call_ms) and allocation / page-fault counts, outside the loop.
  const jacnet::bench::SetUp setup = jacnet::bench::steady_state(
      [&] { benchmark::DoNotOptimize(loss.value_and_grad(s.student, batch, ws).grad.data()); });
  const auto loop0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const auto& r = loss.value_and_grad(s.student, batch, ws);
    benchmark::DoNotOptimize(r.grad.data());
    benchmark::ClobberMemory();
  }
  const double loop_ms = ms_since(loop0) / double(std::max<benchmark::IterationCount>(1, state.iterations()));
  // x_train: median over 15 back-to-back pairs of (this step) / (plain CE train step), so that
  // both sides see the same machine load.
  std::vector<double> ratio;
  for (int rep = 0; rep < 16; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(loss.value_and_grad(s.student, batch, ws).grad.data());
    const double step_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(
        CrossEntropy{}.value_and_grad(s.student, Batch(s.X, s.labels), wtrain).grad.data());
    const double train_ms = ms_since(t0);
    if (rep > 0) ratio.push_back(step_ms / train_ms);  // first pair warms wtrain up
  }
  std::nth_element(ratio.begin(), ratio.begin() + ratio.size() / 2, ratio.end());
  jacnet::bench::report(state, setup);
  state.counters["x_first"] = setup.first_ms / loop_ms;
  state.counters["threads"] = nn::max_threads();
  state.counters["state_bytes_per_sample"] = double(jacnet::bench::state_bytes(ws)) / double(kB);
  state.counters["M"] = double(ws.plan.M);
  state.counters["x_train"] = ratio[ratio.size() / 2];
  state.counters["student_GFLOPs"] = benchmark::Counter(
      step_flops(work, double(ws.plan.M)), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Loss, class TeacherOf>
void step(benchmark::State& state, const Loss& loss, TeacherOf&& teacher_of) {
  if (state.range(0) == 0)
    run_step(state, mlp_setup(), loss, teacher_of, kMlpWork);
  else if (state.range(0) == 1)
    run_step(state, lenet_setup(), loss, teacher_of, kLeNetWork);
  else
    run_step(state, mlp32_setup(), loss, teacher_of, kMlp32Work);
}

constexpr auto recorded = [](auto& s) -> const TeacherData<T>& { return s.recorded; };
constexpr auto live = [](auto& s) -> const auto& { return s.teacher; };

/// Eigen's sgemm at 512³ in the same run (the machine's GEMM rate at this moment, for context:
/// ~190 GFLOP/s on this 2-core machine when it is quiet).
void BM_EigenSgemm512(benchmark::State& state) {
  const Index n = 512;
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), Bm = Eigen::MatrixXf::Random(n, n), C(n, n);
  for (auto _ : state) {
    C.noalias() = A * Bm;
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TrainStep(benchmark::State& state) { step(state, CrossEntropy{}, recorded); }
void BM_JacMatchFull(benchmark::State& state) {
  step(state, CrossEntropy{} + JacobianMatch<Full>{}, recorded);
}
void BM_JacMatchTop1(benchmark::State& state) {
  step(state, CrossEntropy{} + JacobianMatch<TeacherTop<1>>{}, recorded);
}
void BM_JacNormRP1(benchmark::State& state) {
  step(state, CrossEntropy{} + 0.5 * JacobianNorm<RandomProjection<1>>{}, recorded);
}
void BM_JacMatchFull_LiveTeacher(benchmark::State& state) {
  step(state, CrossEntropy{} + JacobianMatch<Full>{}, live);
}
void BM_JacMatchTop1_LiveTeacher(benchmark::State& state) {
  step(state, CrossEntropy{} + JacobianMatch<TeacherTop<1>>{}, live);
}

}  // namespace

BENCHMARK(BM_EigenSgemm512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacMatchFull)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacMatchTop1)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacNormRP1)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JacMatchFull_LiveTeacher)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_JacMatchTop1_LiveTeacher)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
