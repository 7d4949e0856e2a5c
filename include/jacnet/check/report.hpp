#pragma once
// jacnet/check/report.hpp — what a derivative check returns: per checked quantity (a gradient,
// a JVP, ...) how many entries were compared, how many failed, and the worst entry by name.
//
// Criterion (torch.autograd.gradcheck's): an analytic entry `got` passes against the numerical
// reference `expected` (central differences, or an identity's other side) when
//     |got − expected| ≤ atol + rtol·|expected|.
// With `scale_atol`, atol is multiplied by max(1e-3, max_i |got_i|) over the quantity (for
// gradients whose overall scale is not known in advance).
// The worst entry of a quantity is the one with the largest ratio |got − expected| / bound; the
// worst of the report is the worst over its quantities. A report prints as one line per quantity:
//   FAIL param_grad: 2 of 15 entries; worst weight[1,0]: expected 0.25, got 0.5, abs 0.25, rel 1
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "jacnet/core/tensor.hpp"

namespace jacnet::check {

/// Tolerances and finite-difference settings shared by every checker (defaults: torch's gradcheck).
struct Options {
  double eps = 1e-6;         ///< central-difference step h: (f(x + h) − f(x − h)) / 2h
  double atol = 1e-5;        ///< absolute tolerance
  double rtol = 1e-3;        ///< relative tolerance (relative to the numerical value)
  bool scale_atol = false;   ///< atol *= max(1e-3, max |analytic|) per quantity
  double exact_tol = 1e-12;  ///< atol = rtol of identities that hold up to rounding (adjoints)
  bool fast = false;         ///< random projections vᵀJu instead of entry by entry
  int projections = 4;       ///< number of random (u, v) pairs in fast mode
  std::uint64_t seed = 0;    ///< random directions (fast mode, layer/net checks)
};

/// The result for one checked quantity.
struct QuantityResult {
  std::string name;          ///< e.g. "param_grad", "jvp", "input gradient"
  Index checked = 0;         ///< entries (or projections) compared
  Index failed = 0;          ///< entries outside the bound
  std::string worst_entry;   ///< which parameter / input / row, e.g. "weight[2,1]"
  double expected = 0.0;     ///< numerical value of the worst entry
  double got = 0.0;          ///< analytic value of the worst entry
  double abs_error = 0.0;    ///< |got − expected| of the worst entry
  double rel_error = 0.0;    ///< abs_error / |expected| (inf when expected is 0 and got is not)
  double ratio = 0.0;        ///< abs_error / bound of the worst entry (> 1 means failed)
  bool ok() const { return failed == 0; }
};

class Report {
 public:
  Report() = default;
  explicit Report(std::string subject) : subject_(std::move(subject)) {}

  const std::string& subject() const { return subject_; }
  const std::vector<QuantityResult>& quantities() const { return quantities_; }
  bool ok() const {
    return std::all_of(quantities_.begin(), quantities_.end(),
                       [](const QuantityResult& q) { return q.ok(); });
  }
  explicit operator bool() const { return ok(); }

  /// The quantity whose worst entry is closest to (or furthest past) its bound; nullptr if empty.
  const QuantityResult* worst() const {
    const QuantityResult* w = nullptr;
    for (const auto& q : quantities_)
      if (!w || q.ratio > w->ratio) w = &q;
    return w;
  }
  /// The result for quantity `name` (nullptr if it was not checked).
  const QuantityResult* find(const std::string& name) const {
    for (const auto& q : quantities_)
      if (q.name == name) return &q;
    return nullptr;
  }

  /// Compares got[i] with expected[i] for i < n; label(i) names entry i (called for the worst).
  template <class Label>
  QuantityResult& compare(std::string name, Index n, const double* expected, const double* got,
                          Label&& label, double atol, double rtol, bool scale_atol = false) {
    QuantityResult q;
    q.name = std::move(name);
    q.checked = n;
    double a = atol;
    if (scale_atol) {
      double m = 1e-3;
      for (Index i = 0; i < n; ++i) m = std::max(m, std::abs(got[i]));
      a *= m;
    }
    Index worst = -1;
    for (Index i = 0; i < n; ++i) {
      const double err = std::abs(got[i] - expected[i]);
      const double bound = a + rtol * std::abs(expected[i]);
      double r;
      if (!(err == err)) {  // NaN on either side always fails
        r = std::numeric_limits<double>::infinity();
      } else {
        r = bound > 0 ? err / bound : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0);
      }
      if (!(err <= bound)) ++q.failed;
      if (worst < 0 || r > q.ratio) {
        worst = i;
        q.ratio = r;
      }
    }
    if (worst >= 0) {
      q.worst_entry = label(worst);
      q.expected = expected[worst];
      q.got = got[worst];
      q.abs_error = std::abs(q.got - q.expected);
      q.rel_error = q.expected != 0 ? q.abs_error / std::abs(q.expected)
                                    : (q.abs_error > 0 ? std::numeric_limits<double>::infinity()
                                                       : 0.0);
    }
    quantities_.push_back(std::move(q));
    return quantities_.back();
  }
  /// One scalar comparison (an identity, one projection).
  QuantityResult& compare_scalar(std::string name, double expected, double got,
                                 const std::string& what, double atol, double rtol) {
    return compare(std::move(name), 1, &expected, &got, [&](Index) { return what; }, atol, rtol);
  }
  /// An exact requirement (e.g. "entries of non-trainable parameters are untouched"): recorded as
  /// a quantity with `failed` entries, the first one named.
  QuantityResult& require(std::string name, Index checked, Index failed, std::string first_failed,
                          double expected = 0, double got = 0) {
    QuantityResult q;
    q.name = std::move(name);
    q.checked = checked;
    q.failed = failed;
    if (failed > 0) {
      q.worst_entry = std::move(first_failed);
      q.expected = expected;
      q.got = got;
      q.abs_error = std::abs(got - expected);
      q.ratio = std::numeric_limits<double>::infinity();
    }
    quantities_.push_back(std::move(q));
    return quantities_.back();
  }
  /// Appends another report's quantities, their names prefixed with `prefix`.
  void merge(const Report& other, const std::string& prefix = "") {
    for (auto q : other.quantities_) {
      q.name = prefix + q.name;
      quantities_.push_back(std::move(q));
    }
  }

  std::string str() const {
    std::ostringstream os;
    os << *this;
    return os.str();
  }
  friend std::ostream& operator<<(std::ostream& os, const Report& r) {
    os << (r.ok() ? "PASS " : "FAIL ") << r.subject_ << " (" << r.quantities_.size()
       << " quantities)\n";
    for (const auto& q : r.quantities_) {
      os << "  " << (q.ok() ? "ok   " : "FAIL ") << q.name << ": ";
      if (q.failed > 0) os << q.failed << " of ";
      os << q.checked << (q.failed > 0 ? " entries failed" : " entries");
      if (!q.worst_entry.empty())
        os << "; worst " << q.worst_entry << ": expected " << q.expected << ", got " << q.got
           << ", abs " << q.abs_error << ", rel " << q.rel_error;
      os << '\n';
    }
    return os;
  }

 private:
  std::string subject_;
  std::vector<QuantityResult> quantities_;
};

/// "name[i,j,k]" for flat index `flat` of a tensor of shape `shape` (row-major).
inline std::string entry_name(const std::string& name, const Shape& shape, Index flat) {
  std::vector<Index> idx(static_cast<std::size_t>(shape.rank()));
  for (Index d = shape.rank() - 1; d >= 0; --d) {
    const Index n = shape[d];
    idx[static_cast<std::size_t>(d)] = n > 0 ? flat % n : 0;
    flat = n > 0 ? flat / n : 0;
  }
  std::string s = name + "[";
  for (std::size_t d = 0; d < idx.size(); ++d) {
    if (d) s += ',';
    s += std::to_string(idx[d]);
  }
  return s + "]";
}

/// Names of the entries of a flat parameter vector made of named tensors (in order).
class ParamNames {
 public:
  struct Block {
    std::string name;
    Shape shape;
    Index offset;
    bool trainable;
  };
  void add(std::string name, Shape shape, bool trainable) {
    const Index off = size_;
    size_ += shape.size();
    blocks_.push_back({std::move(name), std::move(shape), off, trainable});
  }
  Index size() const { return size_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  /// "weight[2,1]" (or "parameter 17" past the named blocks).
  std::string operator()(Index i) const {
    for (const auto& b : blocks_)
      if (i >= b.offset && i < b.offset + b.shape.size())
        return entry_name(b.name, b.shape, i - b.offset);
    return "parameter " + std::to_string(i);
  }
  bool trainable(Index i) const {
    for (const auto& b : blocks_)
      if (i >= b.offset && i < b.offset + b.shape.size()) return b.trainable;
    return true;
  }

 private:
  std::vector<Block> blocks_;
  Index size_ = 0;
};

}  // namespace jacnet::check
