#pragma once
// jacnet/ad/gradient_schedule.hpp — the order in which jacnet::ad::Recorded::gradient() runs a
// recorded program (jacnet/ad/gradient_sweep.hpp runs it): the kernel of each instruction and a
// greedy list schedule that groups instructions of one kernel into runs.
//
// A kernel is an operation specialised by operand kind (V: a variable operand, C: a constant
// one): AddVV, MulVC, SubCV, x·x (Sqr), ...; every other operation (exp, tanh, pow, x + x, ...) is
// kernel Other, and instructions of Other are grouped per operation (schedule_key).
//
// Schedule: any topological order is valid for a sequential replay. greedy_schedule picks the key
// with the most instructions whose operands are computed, emits all of them, and keeps appending
// every instruction of that key that this makes ready (so Rosenbrock's running sum
// s_k = s_{k−1} + q_k becomes one run of N additions); then it picks again. Ready instructions wait
// in recording order (FIFO), so neighbours in the recording stay neighbours in the schedule.
// Linear in the size of the program (plus one scan of the keys per run).
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "jacnet/ad/traced.hpp"

namespace jacnet::ad::detail {

/// The kernels (V: a variable operand, C: a constant one).
enum class SweepKernel : std::uint8_t {
  AddVV,
  AddVC,
  SubVV,
  SubVC,
  SubCV,
  MulVV,
  MulVC,
  Sqr,
  DivVV,
  DivVC,
  DivCV,
  Neg,
  Other,
  Compare,
  AddChain,  // AddVV where each addition takes the previous one's result (ia)
  AddVsV,    // a + c·b: an AddVV whose operand b was a single-use MulVC (c in cb; fold_scaled)
  SubVsV,    // a − c·b: the same for SubVV
  MulVsV     // a · (c·b): the same for MulVV
};

/// Number of schedule keys: kernels below kOtherKey, Other + operation from kOtherKey on.
inline constexpr std::uint8_t kOtherKey = 24;
inline constexpr std::size_t kScheduleKeys = kOtherKey + 64;
static_assert(std::size_t(Op::Compare) < 64 && std::size_t(SweepKernel::MulVsV) < kOtherKey);

/// The key that groups instructions into runs: the kernel, and for Other also the operation.
inline std::uint8_t schedule_key(SweepKernel k, Op op) {
  return k == SweepKernel::Other ? std::uint8_t(kOtherKey + std::uint8_t(op)) : std::uint8_t(k);
}

/// The kernel of instruction I (`scaled`: its operand b is scaled by cb, see fold_scaled).
template <class T>
SweepKernel sweep_kernel(const Instr<T>& I, bool scaled = false) {
  const bool va = I.a != kConst, vb = I.b != kConst;
  if (scaled)
    return I.op == Op::Add   ? SweepKernel::AddVsV
           : I.op == Op::Sub ? SweepKernel::SubVsV
                             : SweepKernel::MulVsV;
  switch (I.op) {
    case Op::Add:
    case Op::Mul: {
      const bool add = I.op == Op::Add;
      if (va && vb)
        return I.a == I.b ? (add ? SweepKernel::Other : SweepKernel::Sqr)
                          : (add ? SweepKernel::AddVV : SweepKernel::MulVV);
      return add ? SweepKernel::AddVC : SweepKernel::MulVC;
    }
    case Op::Sub:
    case Op::Div: {
      const bool sub = I.op == Op::Sub;
      if (va && vb)
        return I.a == I.b ? SweepKernel::Other : (sub ? SweepKernel::SubVV : SweepKernel::DivVV);
      if (va) return sub ? SweepKernel::SubVC : SweepKernel::DivVC;
      return sub ? SweepKernel::SubCV : SweepKernel::DivCV;
    }
    case Op::Neg:
      return SweepKernel::Neg;
    case Op::Compare:
      return SweepKernel::Compare;
    default:
      return SweepKernel::Other;
  }
}

/// A program with scaled operands folded in (see fold_scaled).
template <class T>
struct FoldedProgram {
  Program<T> prog;                      // the instructions left, operands renumbered
  std::vector<std::uint32_t> recorded;  // recorded index of each instruction left
  std::vector<std::uint8_t> scaled;     // 1: an addition/subtraction whose b is scaled by cb
  std::uint32_t out = kConst;           // the output's slot
};

/// Folds every product by a constant (MulVC) used once, by an addition, subtraction or product of
/// two variables, into that use: t = c·x; y = a ± t (or a·t) becomes y = a ± c·x (a·(c·x)),
/// kernels AddVsV, SubVsV, MulVsV; the product's value and partials are the same expressions,
/// computed where they are used. bench_ad's ode loses 14 of its 41 instructions per cell and
/// step, Rosenbrock 1 of 8 per element. `out`: the recorded output slot (it counts as a use).
template <class T>
FoldedProgram<T> fold_scaled(const Program<T>& in, std::uint32_t out) {
  const std::uint32_t n0 = in.n_inputs;
  const std::size_t K = in.code.size();
  std::vector<std::uint32_t> uses(n0 + K, 0);
  for (const Instr<T>& I : in.code) {
    if (I.a != kConst) ++uses[I.a];
    if (I.b != kConst) ++uses[I.b];
  }
  if (out != kConst) ++uses[out];
  // A foldable product: slot s of a single-use MulVC (its variable and constant).
  const auto foldable = [&](std::uint32_t s) {
    return s != kConst && s >= n0 && uses[s] == 1 &&
           sweep_kernel(in.code[s - n0]) == SweepKernel::MulVC;
  };
  std::vector<std::uint8_t> absorbed(K, 0), scaled(K, 0);
  std::vector<Instr<T>> code(in.code);
  for (std::size_t k = 0; k < K; ++k) {
    Instr<T>& I = code[k];
    const SweepKernel kind = sweep_kernel(I);
    const bool commutes = kind == SweepKernel::AddVV || kind == SweepKernel::MulVV;
    if (!commutes && kind != SweepKernel::SubVV) continue;
    if (commutes && !foldable(I.b) && foldable(I.a))
      std::swap(I.a, I.b);  // x + y = y + x and x·y = y·x exactly
    if (!foldable(I.b)) continue;
    const Instr<T>& M = in.code[I.b - n0];
    absorbed[I.b - n0] = 1;
    scaled[k] = 1;
    I.cb = M.a == kConst ? M.ca : M.cb;
    I.b = M.a == kConst ? M.b : M.a;
  }
  FoldedProgram<T> f;
  f.prog.n_inputs = n0;
  std::vector<std::uint32_t> slot(n0 + K, kConst);
  for (std::uint32_t i = 0; i < n0; ++i) slot[i] = i;
  const auto remap = [&](std::uint32_t s) { return s == kConst ? kConst : slot[s]; };
  for (std::size_t k = 0; k < K; ++k) {
    if (absorbed[k]) continue;
    Instr<T> I = code[k];
    I.a = remap(I.a);
    I.b = remap(I.b);
    slot[n0 + k] = n0 + static_cast<std::uint32_t>(f.prog.code.size());
    f.prog.code.push_back(I);
    f.recorded.push_back(static_cast<std::uint32_t>(k));
    f.scaled.push_back(scaled[k]);
  }
  f.out = remap(out);
  return f;
}

/// The greedy list schedule (file comment): a permutation of the recorded instructions of prog,
/// key[k] the schedule key of instruction k.
template <class T>
std::vector<std::uint32_t> greedy_schedule(const Program<T>& prog,
                                           const std::vector<std::uint8_t>& key) {
  const std::uint32_t n0 = prog.n_inputs;
  const std::size_t K = prog.code.size();
  // Consumers of each instruction (CSR) and the number of distinct instruction operands.
  std::vector<std::uint32_t> pending(K, 0), start(K + 1, 0);
  const auto deps = [&](std::size_t k, auto&& visit) {
    const Instr<T>& I = prog.code[k];
    if (I.a != kConst && I.a >= n0) visit(I.a - n0);
    if (I.b != kConst && I.b >= n0 && I.b != I.a) visit(I.b - n0);
  };
  for (std::size_t k = 0; k < K; ++k)
    deps(k, [&](std::uint32_t d) {
      ++start[d + 1];
      ++pending[k];
    });
  for (std::size_t k = 0; k < K; ++k) start[k + 1] += start[k];
  std::vector<std::uint32_t> users(start[K]), fill(start.begin(), start.end() - 1);
  for (std::size_t k = 0; k < K; ++k)
    deps(k, [&](std::uint32_t d) { users[fill[d]++] = static_cast<std::uint32_t>(k); });

  std::vector<std::vector<std::uint32_t>> ready(kScheduleKeys);
  std::vector<std::size_t> head(kScheduleKeys, 0);
  for (std::size_t k = 0; k < K; ++k)
    if (pending[k] == 0) ready[key[k]].push_back(static_cast<std::uint32_t>(k));
  std::vector<std::uint32_t> order;
  order.reserve(K);
  for (;;) {
    std::size_t best = kScheduleKeys, most = 0;
    for (std::size_t g = 0; g < kScheduleKeys; ++g)
      if (ready[g].size() - head[g] > most) most = ready[g].size() - head[g], best = g;
    if (best == kScheduleKeys) break;
    std::vector<std::uint32_t>& q = ready[best];
    while (head[best] < q.size()) {  // q grows while it is drained (same-kernel users)
      const std::uint32_t k = q[head[best]++];
      order.push_back(k);
      for (std::uint32_t u = start[k]; u < start[k + 1]; ++u)
        if (--pending[users[u]] == 0) ready[key[users[u]]].push_back(users[u]);
    }
    q.clear();
    head[best] = 0;
  }
  return order;  // all K: the recording is acyclic (operands precede their users)
}

}  // namespace jacnet::ad::detail
