// apps/fashion/distillation.cpp — the paper's distillation rows (Srinivas & Fleuret 2018, Table 1),
// for two teacher/student pairs:
//   "distill"       teacher CNN (nets.hpp, ReLU) → student MLP 784-128-10 (ReLU);
//   "distill_tanh"  teacher tanh MLP 784-256-256-10 → student tanh MLP 784-64-64-10 (smooth
//                   input Jacobians on both sides).
// Each student is trained on N samples per class (subset seed = seed + 1, the same subsets for
// both pairs), initial parameters from seed 100 + seed, batch order from seed 10 + seed, Adam 1e-3
// with the configured schedule (constant by default), at least min_steps steps. Methods (all
// weights 1): Act = Σ_i (T_i − S_i)² on the logits; Jac = ‖∇_x T_y − ∇_x S_y‖² on the label row
// (‖∇T/‖∇T‖ − ∇S/‖∇S‖‖² with --normalize-jac). Paired differences: each row with Jac against its
// twin without it, per seed (same subset, initialization and batch order).
// Task i of a grid: row = i mod 6, seed = (i / 6) mod seeds, N index = i / (6 · seeds).
#include <cstdio>
#include <optional>
#include <sstream>

#include "jacnet/io/weights.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/evaluate.hpp"
#include "methods.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

namespace {

template <class Norm>
auto distill_methods() {
  using namespace losses;
  const JacobianMatch<LabelClass, Norm> jac{};
  return std::make_tuple(method("CE", CrossEntropy{}),
                         method("Act+CE", CrossEntropy{} + OutputMatch{}),
                         method("Jac+CE", CrossEntropy{} + jac),
                         method("{Act+Jac}+CE", CrossEntropy{} + OutputMatch{} + jac),
                         method("Act", OutputMatch{}),
                         method("{Act+Jac}", OutputMatch{} + jac));
}

/// Each row with Jacobian matching against its twin without it.
const std::vector<std::pair<std::string, std::string>> kJacobianTwins = {
    {"Jac+CE", "CE"}, {"{Act+Jac}+CE", "Act+CE"}, {"{Act+Jac}", "Act"}};

template <class Norm, class Student, class Teacher>
double train_with(const Config& c, std::size_t row, Student& s, const Data& d,
                  const losses::TeacherData<T>* data, const Teacher& teacher, std::uint64_t seed) {
  train::Adam<T> opt({.lr = kStudentLr});
  const auto o = student_fit(c, d.X.rows(), seed);
  const auto sched = student_schedule(c, o, d.X.rows());
  with_method(distill_methods<Norm>(), row, [&](const auto& m) {
    if constexpr (!needs_teacher<decltype(m)>)
      train::fit(s, m.loss, opt, sched, d.X, d.y, o);
    else if (data)
      train::fit(s, m.loss, opt, sched, d.X, d.y, *data, o);
    else
      train::fit(s, m.loss, opt, sched, d.X, d.y, teacher, o);
  });
  return double(o.epochs);
}

template <class Student, class Teacher>
double train_student(const Config& c, std::size_t row, Student& s, const Data& d,
                     const losses::TeacherData<T>* data, const Teacher& teacher,
                     std::uint64_t seed) {
  return c.normalize_jac ? train_with<losses::L2>(c, row, s, d, data, teacher, seed)
                         : train_with<losses::NoNorm>(c, row, s, d, data, teacher, seed);
}

/// Cost estimate of a distillation run (grid.hpp): N per class of 10 classes (0: the 60k
/// training images), the row's cost factor; evaluation = a forward pass over the test images,
/// about a third of a training row each.
double distill_cost(const Config& c, const std::vector<double>& factors, Index n, std::size_t row,
                    Index test_rows) {
  return student_cost(c, n == 0 ? 60000 : 10 * n, factors[row], double(test_rows) / 3);
}

/// x position of N per class on the plots' log axis ("all" = 6 000 per class, the training set).
double n_position(Index n) { return n == 0 ? 6000.0 : double(n); }

struct PairSpec {
  std::string protocol;     ///< grid and JSON name ("distill", "distill_tanh")
  std::string file;         ///< CSV and figure stem
  std::string heading;      ///< results.md section
  std::string description;  ///< "MLP 784-128-10 student, CNN teacher"
};

template <class Student, class Teacher, class MakeStudent>
void run_pair(Context& ctx, const Teacher& teacher, const PairSpec& spec, MakeStudent make_student) {
  const Config& c = ctx.cfg;
  const io::FashionMnist& fm = ctx.fm;
  const auto names = distill_method_names();
  const std::size_t M = names.size(), S = static_cast<std::size_t>(c.seeds);
  const std::size_t tasks = c.distill_n.size() * S * M;
  if (ctx.comm.is_root()) std::filesystem::create_directories(c.out / "students");
  ctx.comm.barrier();

  // The training subset of one (N, seed) and the teacher's outputs and label-row Jacobians on
  // it (not recorded for more than 5000 images: the teacher net then runs per batch), shared by
  // the six runs of that group on this rank; computed by the first of them (runs go concurrently).
  // "All" (N = 0) is the same set for every seed: one key.
  struct Group {
    Data d;
    std::optional<losses::TeacherData<T>> data;
  };
  auto group_of = [&](std::size_t i) {
    const std::size_t ni = i / (M * S);
    return c.distill_n[ni] == 0 ? ni * S : i / M;
  };
  const auto factors = method_cost_factors(distill_methods<losses::NoNorm>());
  Grid grid(ctx.comm, ctx.checkpoint, spec.protocol, tasks, 2, [&](std::size_t i) {
    return distill_cost(c, factors, c.distill_n[i / (M * S)], i % M, ctx.test.X.rows());
  });
  SharedPerKey<Group> groups(grid.mine(), group_of);
  const auto results = grid.run([&](std::size_t i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const Index n = c.distill_n[ni];
    const auto g = groups.acquire(i, [&](std::size_t) {
      Group r;
      if (n == 0) {
        r.d = Data{fm.train.images, fm.train.labels};
      } else {
        r.d = take(fm.train.images, fm.train.labels,
                   train::subset_per_class(fm.train.labels, n, std::uint64_t(seed) + 1, 10));
      }
      // The Jacobian rows read only the label row (JacobianMatch<LabelClass>): record_for keeps
      // that row alone, a tenth of the full teacher Jacobian.
      if (r.d.X.rows() <= 5000)
        r.data = losses::TeacherData<T>::record_for(losses::JacobianMatch<losses::LabelClass>{},
                                                    teacher, r.d.X, r.d.y);
      return r;
    });
    Student s = make_student(100 + std::uint64_t(seed));
    const double epochs =
        train_student(c, row, s, g->d, g->data ? &*g->data : nullptr, teacher, 10 + seed);
    const double a = train::evaluate(s, ctx.test.X, ctx.test.y).accuracy;
    if (seed == 0 && ni + 1 == c.distill_n.size() && (row == 0 || row == 2))
      io::save_weights(s, student_path(c, spec.protocol, names[row]));
    if (ctx.verbose()) {
      char line[160];
      std::snprintf(line, sizeof line, "[%s] N=%s seed %zu %-13s %3.0f epochs  acc %.4f",
                    spec.protocol.c_str(), n_name(n).c_str(), seed, names[row].c_str(), epochs, a);
      progress_line(line);
    }
    return std::vector<double>{a, epochs};
  });
  if (!ctx.comm.is_root()) return;

  std::vector<std::string> columns, csv;
  for (Index n : c.distill_n) columns.push_back("N=" + n_name(n));
  Table table("\nDistillation: " + spec.description + "; test accuracy % (mean ± std over " +
                  std::to_string(c.seeds) + " seeds), Jacobian " +
                  (c.normalize_jac ? "normalized" : "unnormalized"),
              "method", names, columns);
  for (std::size_t i = 0; i < tasks; ++i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const double a = results.values[i][0], epochs = results.values[i][1];
    table.values[row][ni].push_back(a);
    std::ostringstream line;
    line << '"' << names[row] << "\"," << n_name(c.distill_n[ni]) << ',' << seed << ',' << epochs
         << ',' << a;
    csv.push_back(line.str());
  }
  const Table paired = paired_differences(
      table,
      "\nPaired differences (" + spec.description +
          "): Jacobian row minus its twin at the same seed, accuracy points, mean ± std (seeds "
          "where the Jacobian row wins / seeds)",
      kJacobianTwins);
  write_csv(c.out / (spec.file + ".csv"), "method,samples_per_class,seed,epochs,test_accuracy", csv);
  table.print();
  paired.print();

  std::vector<double> x;
  std::vector<std::pair<double, std::string>> ticks;
  for (Index n : c.distill_n) {
    x.push_back(n_position(n));
    ticks.emplace_back(n_position(n), n_name(n));
  }
  plot::Figure f = table_figure(table, x);
  f.title = "Distillation: " + spec.description;
  f.xlabel = "training samples per class";
  f.ylabel = "test accuracy (%)";
  f.logx = true;
  f.xticks = ticks;
  f.dodge = true;
  f.note = "mean ± std over " + std::to_string(c.seeds) + " seeds; Act: output matching, Jac: " +
           "label-row Jacobian matching, CE: labels; schedule " + c.schedule;
  plot::Figure fp = table_figure(paired, x);
  fp.title = "Adding Jacobian matching: " + spec.description;
  fp.xlabel = "training samples per class";
  fp.ylabel = "accuracy difference (points)";
  fp.logx = true;
  fp.xticks = ticks;
  fp.hline = 0.0;
  fp.dodge = true;
  fp.note = "per-seed difference (same subset, init, batches), mean ± std over " +
            std::to_string(c.seeds) + " seeds; above 0: Jacobian matching helps";

  auto& res = ctx.report.results[spec.protocol];
  res["table"] = table.to_json();
  res["paired"] = paired.to_json();
  ctx.report.run[spec.protocol] = results.log();
  ctx.report.section(spec.heading,
                     "Per-run values: `" + spec.file + ".csv` (accuracy as a fraction). Student "
                     "learning rate: Adam 1e-3, schedule " + c.schedule + ".",
                     {&table, &paired});
  ctx.report.figure(c.out, spec.file, f,
                    "test accuracy vs samples per class (log x), one line per method, bars = ± std");
  ctx.report.figure(c.out, spec.file + "_paired", fp,
                    "per-seed accuracy gain of each Jacobian row over its twin, bars = ± std");
}

}  // namespace

std::vector<std::string> distill_method_names() {
  return method_names(distill_methods<losses::NoNorm>());
}

double train_distill_student(const Config& c, std::size_t row, MlpNet& s, const Data& d,
                             const losses::TeacherData<T>* data, const TeacherNet& teacher,
                             std::uint64_t seed) {
  return train_student(c, row, s, d, data, teacher, seed);
}

double train_distill_student(const Config& c, std::size_t row, TanhMlp& s, const Data& d,
                             const losses::TeacherData<T>* data, const TanhMlp& teacher,
                             std::uint64_t seed) {
  return train_student(c, row, s, d, data, teacher, seed);
}

std::filesystem::path student_path(const Config& c, const std::string& protocol,
                                   const std::string& method) {
  return c.out / "students" / (protocol + " " + method + ".safetensors");
}

void run_distillation(Context& ctx, const TeacherNet& teacher) {
  run_pair<MlpNet>(ctx, teacher,
                   {"distill", "distillation", "Distillation: CNN teacher → ReLU MLP student",
                    "MLP 784-128-10 student, CNN teacher"},
                   [](std::uint64_t seed) { return make_mlp(seed); });
}

void run_distillation_tanh(Context& ctx, const TanhMlp& teacher) {
  run_pair<TanhMlp>(ctx, teacher,
                    {"distill_tanh", "distillation_tanh",
                     "Distillation: tanh MLP teacher → tanh MLP student",
                     "tanh MLP 784-64-64-10 student, tanh MLP 784-256-256-10 teacher"},
                    [](std::uint64_t seed) { return make_tanh_student(seed); });
}

}  // namespace jacnet::fashion
