// apps/fashion/transfer.cpp — transfer from a source task (classes 0–4) to a target task (5–9).
//
// Source teacher: the teacher CNN trained on classes 0–4 (cached as source_teacher.safetensors).
// Target: N samples per class of classes 5–9 (subset seed = seed + 1); initial parameters from
// seed 200 + seed, batch order from seed 20 + seed, Adam 1e-3 with the students' schedule (constant
// by default); accuracy = argmax over the first 5 outputs on the target test images. Few samples
// per class (1, 5, 10 by default) and 5 seeds, with paired per-seed differences of each row with
// Jacobians against its twin without (same subset, initialization and batch order), so that a
// 1–2 point effect can be told from the seed spread. Methods: no transfer (one-conv CNN, CE); fine-tuning oracle
// (teacher architecture initialized from the source teacher except its head, CE); LwF (T = 2, the
// student has [new 5 | old 5] outputs); LwF + Jacobians (top-1 teacher row, student rows offset
// by 5); LwF + attention (Zagoruyko & Komodakis, β = 1000 over their mean on 14×14 maps);
// LwF + attention + Jacobians.
// Task i of the grid: row = i mod 6, seed = (i / 6) mod seeds, N index = i / (6 · seeds).
#include <cstdio>
#include <optional>
#include <sstream>

#include "jacnet/losses/attention_transfer.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/lwf.hpp"
#include "jacnet/train/adam.hpp"
#include "methods.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

namespace {

auto transfer_methods() {
  using namespace losses;
  const LwF<2.0> lwf(5);
  const JacobianMatch<TeacherTop<1>> jac{StudentOffset{5}};
  const AttentionTransfer at(kStudentAttention, kTeacherAttention, 1000.0 / (14 * 14));
  return std::make_tuple(method("no transfer", CrossEntropy{}, Student::head_only),
                         method("fine-tuning oracle", CrossEntropy{}, Student::fine_tuned),
                         method("LwF", lwf, Student::with_old_head),
                         method("LwF+Jacobians", lwf + jac, Student::with_old_head),
                         method("LwF+attention", lwf + at, Student::with_old_head),
                         method("LwF+attention+Jacobians", lwf + at + jac,
                                Student::with_old_head));
}

}  // namespace

void run_transfer(Context& ctx) {
  const Config& c = ctx.cfg;
  const io::FashionMnist& fm = ctx.fm;
  const Data tgt = classes_range(fm.train.images, fm.train.labels, 5, 5);
  Data tgt_test = classes_range(fm.test.images, fm.test.labels, 5, 5);
  truncate(tgt_test, c.test_max);
  const Data src_test = classes_range(fm.test.images, fm.test.labels, 0, 5);
  Data src_train = classes_range(fm.train.images, fm.train.labels, 0, 5);
  truncate(src_train, c.teacher_train);
  const TeacherNet source =
      teacher_for(ctx, "source_teacher.safetensors", src_train, 5, "source-teacher");
  if (ctx.comm.is_root()) {
    const double src_acc = accuracy_first(source, src_test, 5);
    std::printf("\nSource teacher (classes 0-4, CNN): test accuracy on classes 0-4: %.2f%%\n",
                100 * src_acc);
    ctx.report.results["transfer"]["source_teacher_accuracy"] = src_acc;
  }

  const auto methods = transfer_methods();
  const auto names = method_names(methods);
  const std::size_t M = names.size(), S = static_cast<std::size_t>(c.seeds);
  const std::size_t tasks = c.transfer_n.size() * S * M;
  // The target subset of one (N, seed) and the source teacher's recordings on it, shared by the
  // six runs of that group on this rank (computed by the first of them; the runs go
  // concurrently). "All" (N = 0) is the same set for every seed: one key.
  struct Group {
    Data d;
    std::optional<losses::TeacherData<T>> data;  // source teacher on the target images
  };
  // Cost estimates (grid.hpp): the fine-tuning oracle trains the teacher CNN, about 5× the
  // one-conv student per row (docs/results/seeds5-transfer-equivalence/run.json).
  std::vector<double> factors = method_cost_factors(methods);
  for (std::size_t r = 0; r < M; ++r)
    with_method(methods, r, [&](const auto& m) {
      if (m.student == Student::fine_tuned) factors[r] *= 5;
    });
  Grid grid(ctx.comm, ctx.checkpoint, "transfer", tasks, 2, [&](std::size_t i) {
    const Index n = c.transfer_n[i / (M * S)];
    return student_cost(c, n == 0 ? tgt.X.rows() : 5 * n, factors[i % M],
                        double(tgt_test.X.rows()) / 3);
  });
  SharedPerKey<Group> groups(grid.mine(), [&](std::size_t i) {
    const std::size_t ni = i / (M * S);
    return c.transfer_n[ni] == 0 ? ni * S : i / M;
  });
  const auto results = grid.run([&](std::size_t i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const Index n = c.transfer_n[ni];
    const auto g = groups.acquire(i, [&](std::size_t) {
      Group r;
      r.d = n == 0 ? tgt
                   : take(tgt.X, tgt.y,
                          train::subset_per_class(tgt.y, n, std::uint64_t(seed) + 1, 5));
      if (r.d.X.rows() <= 5000)
        // The Jacobian rows read only the teacher's top-1 row (TeacherTop<1>): record_for keeps
        // that row alone, a tenth of the full Jacobian.
        r.data = losses::TeacherData<T>::record_for(losses::JacobianMatch<losses::TeacherTop<1>>{},
                                                    source, r.d.X, {}, {kTeacherAttention});
      return r;
    });
    const Data& d = g->d;
    const losses::TeacherData<T>* data = g->data ? &*g->data : nullptr;
    train::Adam<T> opt({.lr = kStudentLr});
    auto o = student_fit(c, d.X.rows(), 20 + seed);
    const auto sched = student_schedule(c, o, d.X.rows());
    o.accuracy_outputs = 5;
    const std::uint64_t init = 200 + std::uint64_t(seed);
    double a = 0;
    with_method(methods, row, [&](const auto& m) {
      auto go = [&](auto& s) {
        if constexpr (!needs_teacher<decltype(m)>)
          train::fit(s, m.loss, opt, sched, d.X, d.y, o);
        else if (data)
          train::fit(s, m.loss, opt, sched, d.X, d.y, *data, o);
        else
          train::fit(s, m.loss, opt, sched, d.X, d.y, source, o);
        a = accuracy_first(s, tgt_test, 5);
      };
      if (m.student == Student::fine_tuned) {
        TeacherNet s = make_teacher(5, init);
        const Index head = s.param_offset(TeacherNet::num_layers - 1);
        s.params().head(head) = source.params().head(head);
        go(s);
      } else {
        SmallCnn s = make_small_cnn(m.student == Student::with_old_head ? 10 : 5, init);
        go(s);
      }
    });
    if (ctx.verbose()) {
      char line[160];
      std::snprintf(line, sizeof line, "[transfer] N=%s seed %zu %-24s acc %.4f", n_name(n).c_str(),
                    seed, names[row].c_str(), a);
      progress_line(line);
    }
    return std::vector<double>{a, double(o.epochs)};
  });
  if (!ctx.comm.is_root()) return;

  std::vector<std::string> columns, csv;
  for (Index n : c.transfer_n) columns.push_back("N=" + n_name(n));
  Table table("\nTransfer: classes 0-4 → 5-9, one-conv CNN student; target test accuracy % (mean ± "
              "std over " + std::to_string(c.seeds) + " seeds)",
              "method", names, columns);
  for (std::size_t i = 0; i < tasks; ++i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const double a = results.values[i][0];
    const auto epochs = static_cast<long long>(results.values[i][1]);
    table.values[row][ni].push_back(a);
    std::ostringstream line;
    line << '"' << names[row] << "\"," << n_name(c.transfer_n[ni]) << ',' << seed << ',' << epochs
         << ',' << a;
    csv.push_back(line.str());
  }
  const Table paired = paired_differences(
      table,
      "\nPaired differences (transfer): row with Jacobians minus its twin at the same seed, "
      "accuracy points, mean ± std (seeds where the Jacobian row wins / seeds)",
      {{"LwF+Jacobians", "LwF"}, {"LwF+attention+Jacobians", "LwF+attention"}});
  write_csv(c.out / "transfer.csv", "method,samples_per_class,seed,epochs,target_test_accuracy",
            csv);
  table.print();
  paired.print();

  std::vector<double> x;
  std::vector<std::pair<double, std::string>> ticks;
  for (Index n : c.transfer_n) {
    const double pos = n == 0 ? 6000.0 : double(n);  // "all": 6 000 images per target class
    x.push_back(pos);
    ticks.emplace_back(pos, n_name(n));
  }
  plot::Figure f = table_figure(table, x);
  f.title = "Transfer: classes 0-4 → 5-9, one-conv CNN student";
  f.xlabel = "target training samples per class";
  f.ylabel = "target test accuracy (%)";
  f.logx = true;
  f.xticks = ticks;
  f.dodge = true;
  f.note = "mean ± std over " + std::to_string(c.seeds) +
           " seeds; source teacher: CNN on classes 0-4; LwF: learning without forgetting";
  plot::Figure fp = table_figure(paired, x);
  fp.title = "Transfer: adding Jacobian matching";
  fp.xlabel = "target training samples per class";
  fp.ylabel = "accuracy difference (points)";
  fp.logx = true;
  fp.xticks = ticks;
  fp.hline = 0.0;
  fp.dodge = true;
  fp.note = "per-seed difference (same subset, init, batches), mean ± std over " +
            std::to_string(c.seeds) + " seeds";

  ctx.report.results["transfer"]["table"] = table.to_json();
  ctx.report.results["transfer"]["paired"] = paired.to_json();
  ctx.report.run["transfer"] = results.log();
  char src[96];
  std::snprintf(src, sizeof src, "%.2f", 100 * ctx.report.results["transfer"].value(
                                                    "source_teacher_accuracy", 0.0));
  ctx.report.section("Transfer: classes 0-4 → 5-9",
                     std::string("Source teacher (CNN on classes 0-4): ") + src +
                         " % test accuracy on classes 0-4. Per-run values: `transfer.csv`.",
                     {&table, &paired});
  ctx.report.figure(c.out, "transfer", f,
                    "target test accuracy vs samples per class (log x), bars = ± std");
  ctx.report.figure(c.out, "transfer_paired", fp,
                    "per-seed gain of adding Jacobian matching, bars = ± std");
}

}  // namespace jacnet::fashion
