#pragma once
// jacnet/train/subset.hpp — a seeded "N samples per class" subset of a labeled data set.
//
// For each distinct label c (in increasing order), the indices of its samples are listed in
// increasing order and a partial Fisher–Yates shuffle driven by train::Random(seed, c) picks N of
// them. The result is all picked indices, sorted ascending. Properties:
//   - exactly N indices of every class present in the labels;
//   - the same (labels, N, seed) gives the same subset; another seed gives another one;
//   - nested: for one seed, the N-per-class subset is contained in the M-per-class subset for
//     every M ≥ N (the first N draws of the partial shuffle do not depend on M), so experiments
//     over N ∈ {1, 5, 10, ...} add samples rather than redraw them.
// A class with fewer than N samples is a ValueError naming the class, its count and N. Passing
// num_classes additionally requires every label to lie in [0, num_classes) and every class in
// that range to be present.
//
//   std::vector<Index> idx = train::subset_per_class(std::span<const int>(y), 10, seed);
#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/train/random.hpp"

namespace jacnet::train {

namespace detail {
/// 0 <= c < n for signed or unsigned label types.
template <class Label>
constexpr bool label_in_range(Label c, Index n) {
  if constexpr (std::is_signed_v<Label>) {
    if (c < Label{0}) return false;
  }
  return static_cast<Index>(c) < n;
}
}  // namespace detail

template <class Label>
std::vector<Index> subset_per_class(std::span<const Label> labels, Index per_class,
                                    std::uint64_t seed, Index num_classes = -1) {
  JACNET_CHECK(per_class > 0, ValueError, "subset_per_class", "samples per class ", per_class,
               " is not positive");
  std::map<Label, std::vector<Index>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Label c = labels[i];
    if (num_classes >= 0)
      JACNET_CHECK(detail::label_in_range(c, num_classes), ValueError, "subset_per_class", "label ",
                   +c, " of sample ", i, " is outside [0, ", num_classes, ")");
    by_class[c].push_back(static_cast<Index>(i));
  }
  if (num_classes >= 0)
    JACNET_CHECK(static_cast<Index>(by_class.size()) == num_classes, ValueError, "subset_per_class",
                 "only ", by_class.size(), " of the ", num_classes, " classes have samples");
  JACNET_CHECK(!by_class.empty(), ValueError, "subset_per_class", "the label set is empty");

  std::vector<Index> out;
  out.reserve(by_class.size() * static_cast<std::size_t>(per_class));
  for (auto& [c, idx] : by_class) {
    const auto n = static_cast<Index>(idx.size());
    JACNET_CHECK(n >= per_class, ValueError, "subset_per_class", "class ", +c, " has ", n,
                 " samples, fewer than the ", per_class, " requested per class");
    Random rng(seed, static_cast<std::uint64_t>(static_cast<std::int64_t>(c)));
    for (Index k = 0; k < per_class; ++k) {
      const Index j = k + rng.uniform_index(n - k);
      std::swap(idx[static_cast<std::size_t>(k)], idx[static_cast<std::size_t>(j)]);
      out.push_back(idx[static_cast<std::size_t>(k)]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Overload for a std::vector of labels.
template <class Label>
std::vector<Index> subset_per_class(const std::vector<Label>& labels, Index per_class,
                                    std::uint64_t seed, Index num_classes = -1) {
  return subset_per_class(std::span<const Label>(labels), per_class, seed, num_classes);
}

/// Count of samples per class for labels in [0, num_classes) (ValueError for other labels).
template <class Label>
std::vector<Index> class_counts(std::span<const Label> labels, Index num_classes) {
  JACNET_CHECK(num_classes > 0, ValueError, "class_counts", "num_classes ", num_classes,
               " is not positive");
  std::vector<Index> counts(static_cast<std::size_t>(num_classes), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Label c = labels[i];
    JACNET_CHECK(detail::label_in_range(c, num_classes), ValueError, "class_counts", "label ", +c,
                 " of sample ", i, " is outside [0, ", num_classes, ")");
    ++counts[static_cast<std::size_t>(c)];
  }
  return counts;
}

}  // namespace jacnet::train
