#pragma once
// jacnet/dist/data_parallel.hpp — data-parallel evaluation of a loss over ranks (MPI-free: a
// template over the communicator, dist::Communicator or dist::SerialCommunicator).
//
// A global batch of B samples is split into P contiguous shards, rank r taking rows
// [⌊rB/P⌋, ⌊(r+1)B/P⌋) (sizes differ by at most one; a shard may be empty when B < P). Every
// jacnet loss is a mean over the batch, L = (1/B) Σ_i ℓ_i, so with b_r = |shard r| and L_r the
// shard's own mean,
//   L = Σ_r (b_r/B) · L_r,      ∇θL = Σ_r (b_r/B) · ∇θL_r,
// and each rank scales its shard result by b_r/B before the sum. The gradient, the total value
// and the term values (and any extra counters, e.g. correct predictions) travel in ONE flat
// buffer through ONE allreduce_sum per step; every rank receives the same bits (MPI's reduction
// of a fixed buffer over a fixed number of ranks is deterministic: runs repeat bitwise).
//
// Against one process on the whole batch the sums are grouped differently (P partial sums,
// each scaled, instead of one mean), so results agree to rounding, not bitwise: see docs/dist.md
// for the bound and tests/dist/test_data_parallel.cpp for the test.
//
// Random draws: terms with random projections or noise (JacobianNorm<RandomProjection>,
// NoisyMatch) draw from each rank's own workspace, so with P ranks the draws differ from one
// process's (same distribution, other samples): such losses agree across rank counts only in
// expectation. Deterministic losses (CrossEntropy, OutputMatch, SoftTargetKD, JacobianMatch with
// Full/LabelClass/TeacherTop seeds, AttentionTransfer, LwF) agree to rounding.
//
//   dist::Communicator comm;
//   const auto sh = dist::shard(Xglobal.rows(), comm.rank(), comm.size());
//   Matrix<float> Xs = Xglobal.middleRows(sh.begin, sh.size());  ... labels likewise
//   const auto& r = dist::value_and_grad(comm, loss, net, losses::Batch(Xs, ys), B, ws);
//   opt.step(net.params(), r.grad);   // the global batch's gradient, same on every rank
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/dist/consistency.hpp"
#include "jacnet/losses/loss.hpp"

namespace jacnet::dist {

/// What jacnet's data-parallel code needs from a communicator (Communicator, SerialCommunicator).
template <class C>
concept CommunicatorLike = requires(const C& c, std::span<float> f, std::span<double> d,
                                    std::span<const std::uint64_t> u) {
  { c.rank() } -> std::convertible_to<int>;
  { c.size() } -> std::convertible_to<int>;
  { c.is_root() } -> std::convertible_to<bool>;
  c.barrier();
  c.broadcast(f, 0);
  c.broadcast(d, 0);
  c.allreduce_sum(f);
  c.allreduce_sum(d);
  c.template allgather<std::uint64_t>(u);
};

/// Rows [begin, end) of a global batch that one rank takes.
struct Shard {
  Index begin = 0;
  Index end = 0;
  Index size() const { return end - begin; }
};

/// Rank `rank` of `size` takes rows [⌊rank·n/size⌋, ⌊(rank+1)·n/size⌋) of n.
inline Shard shard(Index n, int rank, int size) {
  JACNET_CHECK(size >= 1 && rank >= 0 && rank < size, ValueError, "dist::shard", "rank ", rank,
               " of ", size, " is not a valid rank");
  JACNET_CHECK(n >= 0, ValueError, "dist::shard", "negative batch size ", n);
  return {n * rank / size, n * (rank + 1) / size};
}

/// Rank 0's parameters on every rank (one broadcast).
template <CommunicatorLike Comm, class Net>
void broadcast_params(const Comm& comm, Net& net) {
  auto p = net.params();
  comm.broadcast(std::span<typename Net::Scalar>(p.data(), static_cast<std::size_t>(p.size())), 0);
}

/// Adds a net's structure (type, layer names and shapes, parameter count) to a fingerprint.
template <class Net>
Fingerprint& add_net(Fingerprint& f, const Net& net) {
  f.add("net type", typeid(Net).name()).add("net", net.summary());
  return f.add("parameters", static_cast<long long>(net.num_params()));
}

/// Adds a loss's configuration (type, term names and weights) to a fingerprint.
template <losses::LossExpression L>
Fingerprint& add_loss(Fingerprint& f, const L& loss) {
  f.add("loss type", typeid(L).name());
  loss.for_each_term([&](const auto& t, double w) { f.add("term", t.name()).add("weight", w); });
  return f;
}

/// Adds the bytes of a matrix (training data) to a fingerprint.
template <class T>
Fingerprint& add_data(Fingerprint& f, std::string_view label, const Matrix<T>& X) {
  f.add(label, static_cast<long long>(X.rows())).add("cols", static_cast<long long>(X.cols()));
  return f.add_bytes(X.data(), static_cast<std::size_t>(X.size()) * sizeof(T));
}

/// Turns each rank's shard result `r` (the mean over its `shard_rows` samples) into the global
/// batch's result on every rank: r ← Σ_ranks (shard_rows/global_rows)·r, and extra ← Σ_ranks
/// extra, in one allreduce_sum. With one rank it returns at once (r untouched).
template <CommunicatorLike Comm, class T>
void allreduce_result(const Comm& comm, losses::Result<T>& r, Index shard_rows, Index global_rows,
                      std::span<T> extra = {}) {
  if (comm.size() == 1) return;
  JACNET_CHECK(global_rows > 0 && shard_rows >= 0 && shard_rows <= global_rows, ValueError,
               "dist::allreduce_result", "shard of ", shard_rows, " rows in a global batch of ",
               global_rows);
  thread_local Vector<T> buf;  // the fused buffer, reused across steps
  const Index np = r.grad.size(), nt = static_cast<Index>(r.terms.size());
  const Index ne = static_cast<Index>(extra.size());
  buf.resize(np + 1 + nt + ne);
  // scale = b_r / B: the shard's share of the global mean.
  const T scale = static_cast<T>(shard_rows) / static_cast<T>(global_rows);
  buf.head(np) = r.grad * scale;
  buf[np] = r.value * scale;
  for (Index i = 0; i < nt; ++i)
    buf[np + 1 + i] = r.terms[static_cast<std::size_t>(i)].value * scale;
  for (Index i = 0; i < ne; ++i) buf[np + 1 + nt + i] = extra[static_cast<std::size_t>(i)];
  comm.allreduce_sum(std::span<T>(buf.data(), static_cast<std::size_t>(buf.size())));
  r.grad = buf.head(np);
  r.value = buf[np];
  for (Index i = 0; i < nt; ++i) r.terms[static_cast<std::size_t>(i)].value = buf[np + 1 + i];
  for (Index i = 0; i < ne; ++i) extra[static_cast<std::size_t>(i)] = buf[np + 1 + nt + i];
}

/// ws.result ← the contribution of a rank without rows: zero value, terms and gradient.
template <losses::LossExpression L, class Net, class T>
void zero_result(const L& loss, const Net& net, losses::Workspace<T>& ws) {
  losses::Result<T>& r = ws.result;
  r.grad.setZero(net.num_params());
  r.value = T(0);
  r.terms.clear();
  loss.for_each_term([&](const auto&, double w) { r.terms.push_back({w, T(0)}); });
  if (ws.input_gradient) r.input_grad.resize(0, net.input_size());
}

/// The global batch's value and gradient from each rank's shard: losses::value_and_grad on the
/// shard (skipped when it has no rows: zero contribution), then allreduce_result. `shard` holds
/// this rank's rows (see dist::shard), `global_rows` the global batch size (Σ of the shards).
/// Every rank must call it, also with an empty shard. Input gradients (ws.input_gradient) stay
/// per shard: rows of this rank's samples, scaled by b_r/B like the rest.
template <CommunicatorLike Comm, losses::LossExpression L, class Net, class T, class Teacher>
const losses::Result<T>& value_and_grad(const Comm& comm, const L& loss, const Net& net,
                                        const losses::Batch<T, Teacher>& shard, Index global_rows,
                                        losses::Workspace<T>& ws, std::span<T> extra = {}) {
  const Index rows = shard.X ? shard.X->rows() : 0;
  if (comm.size() == 1) return losses::value_and_grad(loss, net, shard, ws);
  if (rows > 0) {
    losses::value_and_grad(loss, net, shard, ws);
    if (ws.input_gradient)
      ws.result.input_grad *= static_cast<T>(rows) / static_cast<T>(global_rows);
  } else {
    zero_result(loss, net, ws);
  }
  allreduce_result(comm, ws.result, rows, global_rows, extra);
  return ws.result;
}

}  // namespace jacnet::dist
