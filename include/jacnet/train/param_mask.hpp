#pragma once
// jacnet/train/param_mask.hpp — which entries of a flat parameter vector an optimizer may change.
//
// Nets keep all parameters in one flat vector θ. Some entries are not trained by gradient steps
// (e.g. batch-norm running statistics, or a frozen backbone during a warm-up phase). A ParamMask
// lists the trainable entries as sorted, disjoint half-open ranges [begin, end) of θ; optimizers
// visit only those ranges, so masked entries keep their value *and* their optimizer state stays
// zero (no momentum, no weight decay). The default mask means "everything is trainable" and fits a
// vector of any size. Ranges rather than a per-entry flag keep the update loops contiguous.
//
//   ParamMask m = ParamMask::from_flags(flags);          // std::vector<bool>, one flag per entry
//   ParamMask m = ParamMask::from_ranges(n, {{0, 100}, {140, 200}});
//   m.for_each_range(n, [&](Index b, Index e) { ... });  // visits trainable [b, e)
#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::train {

class ParamMask {
 public:
  using Range = std::pair<Index, Index>;

  /// Everything trainable, for a vector of any size.
  ParamMask() = default;
  static ParamMask all() { return {}; }

  /// One flag per entry (true = trainable).
  static ParamMask from_flags(const std::vector<bool>& trainable) {
    ParamMask m;
    m.all_ = false;
    m.size_ = static_cast<Index>(trainable.size());
    Index i = 0;
    while (i < m.size_) {
      while (i < m.size_ && !trainable[static_cast<std::size_t>(i)]) ++i;
      const Index b = i;
      while (i < m.size_ && trainable[static_cast<std::size_t>(i)]) ++i;
      if (i > b) m.ranges_.emplace_back(b, i);
    }
    return m;
  }

  /// Trainable ranges [begin, end) of a vector of `size` entries. Ranges may come in any order and
  /// may touch (they are merged) but must lie inside [0, size) and not overlap.
  static ParamMask from_ranges(Index size, std::vector<Range> ranges) {
    JACNET_CHECK(size >= 0, ValueError, "ParamMask::from_ranges", "size ", size, " is negative");
    std::sort(ranges.begin(), ranges.end());
    ParamMask m;
    m.all_ = false;
    m.size_ = size;
    for (const auto& [b, e] : ranges) {
      JACNET_CHECK(0 <= b && b <= e && e <= size, ValueError, "ParamMask::from_ranges", "range [",
                   b, ", ", e, ") is not inside [0, ", size, ")");
      if (b == e) continue;
      if (!m.ranges_.empty()) {
        JACNET_CHECK(m.ranges_.back().second <= b, ValueError, "ParamMask::from_ranges", "range [",
                     b, ", ", e, ") overlaps [", m.ranges_.back().first, ", ",
                     m.ranges_.back().second, ")");
        if (m.ranges_.back().second == b) {
          m.ranges_.back().second = e;
          continue;
        }
      }
      m.ranges_.emplace_back(b, e);
    }
    return m;
  }

  /// True when every entry is trainable (the default mask).
  bool is_all() const { return all_; }
  /// Size of the vector the mask was built for (-1 for the default "all" mask).
  Index size() const { return all_ ? Index{-1} : size_; }
  /// Trainable ranges (empty for the default mask; use for_each_range to visit them).
  const std::vector<Range>& ranges() const { return ranges_; }

  /// Number of trainable entries of a vector of n entries.
  Index num_trainable(Index n) const {
    Index c = 0;
    for_each_range(n, [&](Index b, Index e) { c += e - b; });
    return c;
  }

  /// Whether entry i (of a vector of the mask's size) is trainable.
  bool trainable(Index i) const {
    if (all_) return true;
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), Range{i, kMaxIndex});
    return it != ranges_.begin() && i < std::prev(it)->second;
  }

  /// Calls f(begin, end) for each trainable range of a vector of n entries; throws ShapeError if
  /// the mask was built for another size.
  template <class F>
  void for_each_range(Index n, F&& f) const {
    if (all_) {
      if (n > 0) f(Index{0}, n);
      return;
    }
    JACNET_CHECK(n == size_, ShapeError, "ParamMask", "mask built for ", size_,
                 " parameters applied to a vector of ", n);
    for (const auto& [b, e] : ranges_) f(b, e);
  }

 private:
  static constexpr Index kMaxIndex = std::numeric_limits<Index>::max();
  bool all_ = true;
  Index size_ = 0;
  std::vector<Range> ranges_;
};

}  // namespace jacnet::train
