#pragma once
// apps/fashion/methods.hpp — a protocol's methods as a table of {name, loss expression, student}.
// Whether a method trains against the teacher is the loss's own compile-time property
// (needs_teacher<decltype(m)>: Loss::needs.teacher(), e.g. false for CrossEntropy alone).
//
// The losses have different types, so a table is a std::tuple of Method<Loss>; with_method(t, i, f)
// calls f(std::get<i>(t)) for a run-time row index i, and method_names(t) lists the names in row
// order (the tables and CSVs use them). Adding a method is adding one entry.
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace jacnet::fashion {

/// Which student a method trains (the protocol builds it).
enum class Student {
  standard,       ///< the protocol's student net
  head_only,      ///< transfer: one-conv CNN with the target head only (5 outputs)
  fine_tuned,     ///< transfer: teacher architecture initialized from the source teacher
  with_old_head,  ///< transfer (LwF): one-conv CNN with [new 5 | old 5] outputs
};

template <class Loss>
struct Method {
  using loss_type = Loss;
  std::string_view name;
  Loss loss;
  Student student = Student::standard;
};

template <class Loss>
constexpr Method<Loss> method(std::string_view name, Loss loss,
                              Student student = Student::standard) {
  return {name, loss, student};
}

/// True when a method's loss compares the student with a teacher (else: labels only);
/// M is a Method<Loss> (cv/ref allowed): `if constexpr (needs_teacher<decltype(m)>)`.
template <class M>
inline constexpr bool needs_teacher = std::remove_cvref_t<M>::loss_type::needs.teacher();

/// A loss's relative cost per training row, for the grid's cost estimate (grid.hpp: it decides
/// which rank runs what, never a result): 1 for a plain step; + 1.2 when the loss needs the
/// student's input-Jacobian rows (a seeded backward and a second-order sweep: runs with Jacobian
/// matching took about 2.2× their twins, docs/results/*/run.json); + 0.2 when it reads the
/// teacher's outputs or activations.
constexpr double cost_factor(const auto& needs) {
  return 1.0 + (needs.jacobian ? 1.2 : 0.0) +
         (needs.teacher_outputs || needs.teacher_activations || needs.activations ? 0.2 : 0.0);
}

template <class Table>
inline constexpr std::size_t table_size = std::tuple_size_v<std::remove_cvref_t<Table>>;

template <class Table>
std::vector<std::string> method_names(const Table& t) {
  return std::apply([](const auto&... m) { return std::vector<std::string>{std::string(m.name)...}; },
                    t);
}

/// cost_factor of each row's loss, in row order.
template <class Table>
std::vector<double> method_cost_factors(const Table& t) {
  return std::apply(
      [](const auto&... m) {
        return std::vector<double>{
            cost_factor(std::remove_cvref_t<decltype(m)>::loss_type::needs)...};
      },
      t);
}

/// f(std::get<i>(t)); i must be < table_size<Table>.
template <class Table, class F>
void with_method(const Table& t, std::size_t i, F&& f) {
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    ((K == i ? (void)f(std::get<K>(t)) : (void)0), ...);
  }(std::make_index_sequence<table_size<Table>>{});
}

}  // namespace jacnet::fashion
