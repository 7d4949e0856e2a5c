// Optimizer step cost per parameter: SGD (momentum + Nesterov + weight decay), Adam, AdamW,
// Adam with amsgrad, over flat float vectors of 100k and 1M entries (one step = one pass over
// θ, g and the state vectors). Counter "params/s" = entries updated per second.
#include <benchmark/benchmark.h>

#include "jacnet/train/adam.hpp"
#include "jacnet/train/sgd.hpp"

using namespace jacnet;

namespace {

template <class Opt>
void run(benchmark::State& state, Opt opt) {
  const Index n = state.range(0);
  Vector<float> p = Vector<float>::Constant(n, 0.5f);
  Vector<float> g = Vector<float>::LinSpaced(n, -1.0f, 1.0f);
  opt.step(p, g);  // size the state outside the timed loop
  for (auto _ : state) {
    opt.step(p, g);
    benchmark::DoNotOptimize(p.data());
    benchmark::ClobberMemory();
  }
  state.counters["params/s"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_SGD(benchmark::State& s) {
  run(s, train::SGD<float>({.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true}));
}
void BM_Adam(benchmark::State& s) { run(s, train::Adam<float>({.lr = 1e-3})); }
void BM_AdamW(benchmark::State& s) { run(s, train::AdamW<float>({.lr = 1e-3})); }
void BM_AdamAmsgrad(benchmark::State& s) {
  run(s, train::Adam<float>({.lr = 1e-3, .amsgrad = true}));
}

}  // namespace

BENCHMARK(BM_SGD)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adam)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamW)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamAmsgrad)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
