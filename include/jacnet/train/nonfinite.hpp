#pragma once
// jacnet/train/nonfinite.hpp — train::fit's diagnosis of a non-finite step: NonFiniteError and the
// message naming the step (epoch, batch), the term (the first whose value or gradient alone is
// non-finite, found by re-evaluating the terms one by one) and the parameter (name and flat index
// of the first non-finite gradient entry). Only the error path re-evaluates anything.
#include <cmath>
#include <sstream>
#include <string>
#include <typeinfo>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/loss.hpp"

namespace jacnet::train {

/// A non-finite loss, term value or gradient during training (message: step, term, parameter).
struct NonFiniteError : ValueError {
  using ValueError::ValueError;
};

namespace detail {

/// "'layers.0.weight'[12] (flat index 12)" for entry k of a net's flat parameter layout.
template <class Net, class T>
std::string param_name(const Net& net, const T* values, Index k) {
  if constexpr (requires { net.template named_view<const T>(values); }) {
    for (const auto& np : net.template named_view<const T>(values))
      if (k >= np.offset && k < np.offset + static_cast<Index>(np.data.size()))
        return "'" + np.name + "'[" + std::to_string(k - np.offset) + "] (flat index " +
               std::to_string(k) + ")";
  }
  return "flat index " + std::to_string(k);
}

/// Whether a step's (reduced) loss, term values and gradient are all finite.
template <class T>
bool all_finite(const losses::Result<T>& r) {
  if (!std::isfinite(static_cast<double>(r.value))) return false;
  for (const auto& t : r.terms)
    if (!std::isfinite(static_cast<double>(t.value))) return false;
  return r.grad.allFinite();
}

/// The NonFiniteError message of a step: where, which term, which parameter. `term_of_grad` is
/// the diagnosis of a non-finite gradient on this rank's rows ("" if no single term shows it).
template <class Net, class T>
std::string nonfinite_message(const Net& net, const losses::Result<T>& r,
                              const std::vector<std::string>& names, std::int64_t step,
                              std::int64_t epoch, Index batch, int rank, int ranks,
                              const std::string& term_of_grad) {
  std::ostringstream os;
  os << "jacnet: train::fit: non-finite loss or gradient at step " << step << " (epoch " << epoch
     << ", batch " << batch;
  if (ranks > 1) os << "; rank " << rank << " of " << ranks;
  os << "): the loss is " << static_cast<double>(r.value);
  for (std::size_t i = 0; i < r.terms.size() && i < names.size(); ++i)
    if (!std::isfinite(static_cast<double>(r.terms[i].value)))
      os << "; term '" << names[i] << "' is " << static_cast<double>(r.terms[i].value);
  for (Index k = 0; k < r.grad.size(); ++k)
    if (!std::isfinite(static_cast<double>(r.grad[k]))) {
      os << "; the gradient of parameter " << param_name(net, r.grad.data(), k) << " is "
         << static_cast<double>(r.grad[k]);
      if (!term_of_grad.empty())
        os << " (term '" << term_of_grad << "' alone has a non-finite value or gradient on "
           << (ranks > 1 ? "this rank's rows" : "this batch") << ")";
      break;
    }
  os << " (diverged: lower the learning rate, or FitOptions::on_nonfinite = NonFinite::skip)";
  return os.str();
}

/// The first primitive term whose value or parameter gradient alone is non-finite on `batch`
/// (a fresh workspace seeded like the run's); "" if none. Only called on the error path.
template <losses::LossExpression L, class Net, class T, class Teacher>
std::string first_nonfinite_term(const L& loss, const Net& net,
                                 const losses::Batch<T, Teacher>& batch, std::uint64_t seed) {
  std::string found;
  losses::Workspace<T> ws(seed);
  loss.for_each_term([&](const auto& t, double) {
    if (!found.empty()) return;
    const auto& r = losses::value_and_grad(t, net, batch, ws);
    if (!std::isfinite(static_cast<double>(r.value)) || !r.grad.allFinite()) found = t.name();
  });
  return found;
}

}  // namespace detail
}  // namespace jacnet::train
