// apps/fashion/transfer.cpp — transfer from a source task (classes 0–4) to a target task (5–9).
//
// Source teacher: the teacher CNN trained on classes 0–4 (cached as source_teacher.safetensors).
// Target: N samples per class of classes 5–9 (subset seed = seed + 1); initial parameters from
// seed 200 + seed, batch order from seed 20 + seed, Adam 1e-3; accuracy = argmax over the first 5
// outputs on the target test images. Methods: no transfer (one-conv CNN, CE); fine-tuning oracle
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
  std::size_t cached_group = SIZE_MAX;
  Data d;
  std::optional<losses::TeacherData<T>> data;  // source teacher on the target images
  const auto grid = run_grid(ctx.comm, ctx.checkpoint, "transfer", tasks, 2, [&](std::size_t i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const Index n = c.transfer_n[ni];
    if (i / M != cached_group) {
      cached_group = i / M;
      d = n == 0 ? tgt
                 : take(tgt.X, tgt.y, train::subset_per_class(tgt.y, n, std::uint64_t(seed) + 1, 5));
      data.reset();
      if (d.X.rows() <= 5000)
        data = losses::TeacherData<T>::record(source, d.X, true, {kTeacherAttention});
    }
    train::Adam<T> opt({.lr = 1e-3});
    const auto sched = train::Schedule::constant(1e-3);
    auto o = student_fit(c, d.X.rows(), 20 + seed);
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
    if (ctx.verbose())
      std::fprintf(stderr, "[transfer] N=%s seed %zu %-24s acc %.4f\n", n_name(n).c_str(), seed,
                   names[row].c_str(), a);
    return std::vector<double>{a, double(o.epochs)};
  });
  if (!ctx.comm.is_root()) return;

  std::vector<std::string> columns, csv;
  for (Index n : c.transfer_n) columns.push_back("N=" + n_name(n));
  Table table("Transfer: classes 0-4 → 5-9, one-conv CNN student; target test accuracy % (mean ± "
              "std over " + std::to_string(c.seeds) + " seeds)",
              "method", names, columns);
  for (std::size_t i = 0; i < tasks; ++i) {
    const std::size_t row = i % M, seed = (i / M) % S, ni = i / (M * S);
    const double a = grid.values[i][0];
    const auto epochs = static_cast<long long>(grid.values[i][1]);
    table.values[row][ni].push_back(a);
    std::ostringstream line;
    line << '"' << names[row] << "\"," << n_name(c.transfer_n[ni]) << ',' << seed << ',' << epochs
         << ',' << a;
    csv.push_back(line.str());
  }
  write_csv(c.out / "transfer.csv", "method,samples_per_class,seed,epochs,target_test_accuracy",
            csv);
  table.print();
  ctx.report.results["transfer"]["table"] = table.to_json();
  ctx.report.run["transfer"] = {{"run_seconds", grid.seconds}, {"restored_runs", grid.restored}};
}

}  // namespace jacnet::fashion
