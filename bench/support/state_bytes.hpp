#pragma once
// Bytes held by jacnet's reusable workspaces (their matrices and vectors, not the std::vector
// bookkeeping): the "state_bytes_per_sample" counter of the benchmarks.
#include <cstddef>
#include <vector>

#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/loss.hpp"
#include "jacnet/nn/modes.hpp"

namespace jacnet::bench {

template <class T>
std::size_t state_bytes(const Matrix<T>& m) {
  return std::size_t(m.size()) * sizeof(T);
}
template <class T>
std::size_t state_bytes(const Vector<T>& v) {
  return std::size_t(v.size()) * sizeof(T);
}
template <class T>
std::size_t state_bytes(const std::vector<Matrix<T>>& ms) {
  std::size_t n = 0;
  for (const auto& m : ms) n += state_bytes(m);
  return n;
}
template <class T>
std::size_t state_bytes(const nn::Trace<T>& t) {
  return state_bytes(t.acts);
}
template <class T>
std::size_t state_bytes(const nn::BackpropScratch<T>& s) {
  return state_bytes(s.eps) + state_bytes(s.abar) + state_bytes(s.xbar) + state_bytes(s.partial);
}
template <class T>
std::size_t state_bytes(const nn::Workspace<T>& w) {
  return state_bytes(w.trace) + state_bytes(w.dirs) + state_bytes(w.seeds) +
         w.cls.size() * sizeof(Index) + state_bytes(w.scratch) + state_bytes(w.fused);
}
template <class T>
std::size_t state_bytes(const nn::JacobianPass<T>& p) {
  return state_bytes(p.trace) + state_bytes(p.delta) + p.seed_class.size() * sizeof(Index) +
         state_bytes(p.scratch);
}
template <class T>
std::size_t state_bytes(const losses::Workspace<T>& w) {
  return state_bytes(w.seeds) + state_bytes(w.tseeds) + state_bytes(w.JT) + state_bytes(w.pass) +
         state_bytes(w.teacher_ws) + state_bytes(w.adj.Ybar) + state_bytes(w.adj.Jbar) +
         state_bytes(w.adj.act_bars) + state_bytes(w.result.grad) +
         state_bytes(w.result.input_grad) + state_bytes(w.own.pass) +
         state_bytes(w.own.teacher_trace);
}

}  // namespace jacnet::bench
