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
  AddChain  // AddVV where each addition takes the previous one's result (ia)
};

/// Number of schedule keys: kernels below kOtherKey, Other + operation from kOtherKey on.
inline constexpr std::uint8_t kOtherKey = 16;
inline constexpr std::size_t kScheduleKeys = kOtherKey + 64;
static_assert(std::size_t(Op::Compare) < 64 && std::size_t(SweepKernel::AddChain) < kOtherKey);

/// The key that groups instructions into runs: the kernel, and for Other also the operation.
inline std::uint8_t schedule_key(SweepKernel k, Op op) {
  return k == SweepKernel::Other ? std::uint8_t(kOtherKey + std::uint8_t(op)) : std::uint8_t(k);
}

/// The kernel of instruction I.
template <class T>
SweepKernel sweep_kernel(const Instr<T>& I) {
  const bool va = I.a != kConst, vb = I.b != kConst;
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
