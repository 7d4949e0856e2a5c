// apps/fashion/distillation.cpp — the paper's distillation rows (Srinivas & Fleuret 2018, Table 1).
//
// Teacher: the CNN (nets.hpp) on all training images; student: MLP 784-128-10 (ReLU) trained on
// N samples per class (subset seed = seed + 1), initial parameters from seed 100 + seed, batch
// order from seed 10 + seed, Adam 1e-3, at least min_steps steps. Methods (all weights 1):
//   Act = Σ_i (T_i − S_i)² on the logits; Jac = ‖∇_x T_y − ∇_x S_y‖² on the label row
//   (‖∇T/‖∇T‖ − ∇S/‖∇S‖‖² with --normalize-jac).
// Task i of the grid: row = i mod 6, seed = (i / 6) mod seeds, N index = i / (6 · seeds).
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

template <class Norm>
double train_with(const Config& c, std::size_t row, MlpNet& s, const Data& d,
                  const losses::TeacherData<T>* data, const TeacherNet& teacher,
                  std::uint64_t seed) {
  train::Adam<T> opt({.lr = 1e-3});
  const auto sched = train::Schedule::constant(1e-3);
  const auto o = student_fit(c, d.X.rows(), seed);
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

}  // namespace

std::vector<std::string> distill_method_names() {
  return method_names(distill_methods<losses::NoNorm>());
}

double train_distill_student(const Config& c, std::size_t row, MlpNet& s, const Data& d,
                             const losses::TeacherData<T>* data, const TeacherNet& teacher,
                             std::uint64_t seed) {
  return c.normalize_jac ? train_with<losses::L2>(c, row, s, d, data, teacher, seed)
                         : train_with<losses::NoNorm>(c, row, s, d, data, teacher, seed);
}

std::filesystem::path student_path(const Config& c, const std::string& method) {
  return c.out / "students" / ("distill " + method + ".safetensors");
}

void run_distillation(Context& ctx, const TeacherNet& teacher) {
  const Config& c = ctx.cfg;
  const io::FashionMnist& fm = ctx.fm;
  const auto names = distill_method_names();
  const std::size_t M = names.size(), S = static_cast<std::size_t>(c.seeds);
  const std::size_t tasks = c.distill_n.size() * S * M;
  if (ctx.comm.is_root()) std::filesystem::create_directories(c.out / "students");
  ctx.comm.barrier();

  // The teacher's outputs and Jacobians on one (N, seed) subset, shared by its six runs on this
  // rank (too large for all 60k images: the teacher net then runs per batch).
  std::size_t cached_group = SIZE_MAX;
  Data d;
  std::optional<losses::TeacherData<T>> data;
  const auto grid = run_grid(ctx.comm, ctx.checkpoint, "distill", tasks, 2, [&](std::size_t i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const Index n = c.distill_n[ni];
    if (i / M != cached_group) {
      cached_group = i / M;
      if (n == 0) {
        d = Data{fm.train.images, fm.train.labels};
      } else {
        d = take(fm.train.images, fm.train.labels,
                 train::subset_per_class(fm.train.labels, n, std::uint64_t(seed) + 1, 10));
      }
      data.reset();
      if (d.X.rows() <= 5000) data = losses::TeacherData<T>::record(teacher, d.X, true);
    }
    MlpNet s = make_mlp(100 + std::uint64_t(seed));
    const double epochs =
        train_distill_student(c, row, s, d, data ? &*data : nullptr, teacher, 10 + seed);
    const double a = train::evaluate(s, ctx.test.X, ctx.test.y).accuracy;
    if (seed == 0 && ni + 1 == c.distill_n.size() && (row == 0 || row == 2))
      io::save_weights(s, student_path(c, names[row]));
    if (ctx.verbose())
      std::fprintf(stderr, "[distill] N=%s seed %zu %-13s %3.0f epochs  acc %.4f\n",
                   n_name(n).c_str(), seed, names[row].c_str(), epochs, a);
    return std::vector<double>{a, epochs};
  });
  if (!ctx.comm.is_root()) return;

  std::vector<std::string> columns, csv;
  for (Index n : c.distill_n) columns.push_back("N=" + n_name(n));
  Table table("\nDistillation: MLP 784-128-10 student, CNN teacher; test accuracy % (mean ± std "
              "over " + std::to_string(c.seeds) + " seeds), Jacobian " +
                  (c.normalize_jac ? "normalized" : "unnormalized"),
              "method", names, columns);
  for (std::size_t i = 0; i < tasks; ++i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const double a = grid.values[i][0], epochs = grid.values[i][1];
    table.values[row][ni].push_back(a);
    std::ostringstream line;
    line << '"' << names[row] << "\"," << n_name(c.distill_n[ni]) << ',' << seed << ',' << epochs
         << ',' << a;
    csv.push_back(line.str());
  }
  write_csv(c.out / "distillation.csv", "method,samples_per_class,seed,epochs,test_accuracy", csv);
  table.print();
  write_line_plot(c.out / "distillation.png", table.means());
  std::printf("plot distillation.png: x = N per class (");
  for (Index n : c.distill_n) std::printf(" %s", n_name(n).c_str());
  std::printf(" ), y = accuracy 0..100%%; colors:");
  for (std::size_t r = 0; r < M; ++r) std::printf(" %s=%s", names[r].c_str(), plot_color(r));
  std::printf("\n");
  ctx.report.results["distill"]["table"] = table.to_json();
  ctx.report.run["distill"] = {{"run_seconds", grid.seconds}, {"restored_runs", grid.restored}};
}

}  // namespace jacnet::fashion
