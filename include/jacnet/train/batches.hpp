#pragma once
// jacnet/train/batches.hpp — mini-batches of sample indices with seeded shuffling, and gathering
// those rows into reusable batch buffers.
//
// Batches(n, B, seed) splits the sample indices 0..n−1 into ⌈n / B⌉ batches of B (the last one
// shorter, or dropped with drop_last). For epoch e the order is a Fisher–Yates permutation drawn
// from train::Random(seed, e): every index appears exactly once per epoch, the same (seed, e)
// always gives the same order (whatever epochs ran before), and another seed or epoch gives
// another order. With shuffle = false the order is 0..n−1.
//
//   train::Batches batches(X.rows(), 128, seed);
//   Matrix<float> Xb; std::vector<int> yb;
//   for (int e = 0; e < epochs; ++e)
//     for (std::span<const Index> idx : batches.epoch(e)) {
//       train::gather(X, y, idx, Xb, yb);       // copies rows idx of X and y into Xb, yb
//       ...
//     }
// gather resizes the buffers only when the batch size changes (at most for the final short batch
// of an epoch); full batches reuse the buffers without allocating.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/train/random.hpp"

namespace jacnet::train {

struct BatchOptions {
  bool shuffle = true;
  bool drop_last = false;
};

class Batches {
 public:
  Batches(Index n, Index batch_size, std::uint64_t seed, BatchOptions opt = {})
      : n_(n), batch_(batch_size), seed_(seed), opt_(opt) {
    JACNET_CHECK(n >= 0, ValueError, "Batches", "number of samples ", n, " is negative");
    JACNET_CHECK(batch_size > 0, ValueError, "Batches", "batch size ", batch_size,
                 " is not positive");
    order_.resize(static_cast<std::size_t>(n));
    set_epoch(0);
  }

  Index num_samples() const { return n_; }
  Index batch_size() const { return batch_; }
  std::uint64_t seed() const { return seed_; }
  /// Batches per epoch (⌈n/B⌉, or ⌊n/B⌋ with drop_last).
  Index num_batches() const { return opt_.drop_last ? n_ / batch_ : (n_ + batch_ - 1) / batch_; }
  /// Samples visited per epoch.
  Index samples_per_epoch() const { return opt_.drop_last ? num_batches() * batch_ : n_; }

  /// Draw the order of epoch e (reproducible from (seed, e) alone).
  void set_epoch(std::int64_t e) {
    epoch_ = e;
    std::iota(order_.begin(), order_.end(), Index{0});
    if (!opt_.shuffle) return;
    Random rng(seed_, static_cast<std::uint64_t>(e));
    for (Index i = n_ - 1; i > 0; --i) {
      const Index j = rng.uniform_index(i + 1);
      std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
  }
  std::int64_t epoch() const { return epoch_; }

  /// The current epoch's order of all n indices.
  const std::vector<Index>& order() const { return order_; }

  /// Indices of batch k of the current epoch.
  std::span<const Index> batch(Index k) const {
    JACNET_CHECK(0 <= k && k < num_batches(), ValueError, "Batches::batch", "batch ", k,
                 " is not in [0, ", num_batches(), ")");
    const Index b = k * batch_;
    const Index e = std::min(n_, b + batch_);
    return {order_.data() + b, static_cast<std::size_t>(e - b)};
  }

  class iterator {
   public:
    using value_type = std::span<const Index>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const Batches* b, Index k) : b_(b), k_(k) {}
    value_type operator*() const { return b_->batch(k_); }
    iterator& operator++() {
      ++k_;
      return *this;
    }
    iterator operator++(int) {
      iterator t = *this;
      ++k_;
      return t;
    }
    bool operator==(const iterator& o) const { return k_ == o.k_; }

   private:
    const Batches* b_ = nullptr;
    Index k_ = 0;
  };
  /// Iterate over the current epoch's batches.
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, num_batches()}; }

  /// set_epoch(e) and return *this, for `for (auto idx : batches.epoch(e))`.
  const Batches& epoch(std::int64_t e) {
    set_epoch(e);
    return *this;
  }

 private:
  Index n_, batch_;
  std::uint64_t seed_;
  BatchOptions opt_;
  std::int64_t epoch_ = 0;
  std::vector<Index> order_;
};

/// out ← rows idx of X (out is resized only if its shape differs).
template <class T>
void gather_rows(const Matrix<T>& X, std::span<const Index> idx, Matrix<T>& out) {
  const auto rows = static_cast<Index>(idx.size());
  if (out.rows() != rows || out.cols() != X.cols()) out.resize(rows, X.cols());
  for (Index r = 0; r < rows; ++r) {
    const Index i = idx[static_cast<std::size_t>(r)];
    JACNET_CHECK(0 <= i && i < X.rows(), ValueError, "gather_rows", "index ", i, " is outside the ",
                 X.rows(), " rows of the data");
    out.row(r) = X.row(i);
  }
}

/// out ← labels[idx] (out keeps its capacity).
template <class Label>
void gather_labels(std::span<const Label> labels, std::span<const Index> idx,
                   std::vector<Label>& out) {
  out.resize(idx.size());
  const auto n = static_cast<Index>(labels.size());
  for (std::size_t r = 0; r < idx.size(); ++r) {
    const Index i = idx[r];
    JACNET_CHECK(0 <= i && i < n, ValueError, "gather_labels", "index ", i, " is outside the ", n,
                 " labels");
    out[r] = labels[static_cast<std::size_t>(i)];
  }
}

/// Xb ← rows idx of X and yb ← y[idx]; X and y must have the same number of samples.
template <class T, class Label>
void gather(const Matrix<T>& X, const std::vector<Label>& y, std::span<const Index> idx,
            Matrix<T>& Xb, std::vector<Label>& yb) {
  JACNET_CHECK(X.rows() == static_cast<Index>(y.size()), ShapeError, "gather", X.rows(),
               " data rows but ", y.size(), " labels");
  gather_rows(X, idx, Xb);
  gather_labels(std::span<const Label>(y), idx, yb);
}

}  // namespace jacnet::train
