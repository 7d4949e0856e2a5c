// apps/fashion/noise.cpp — robustness to Gaussian input noise of students trained with a
// Jacobian-norm penalty: MLP, loss CE + λ‖∇_x S‖²_F, noise_n samples per class (subset seed =
// seed + 1), initial parameters from seed 300 + seed, batch order from seed 30 + seed, Adam 1e-3
// with the students' schedule (constant by default); test
// accuracy under x + σz (σ in raw [0, 1] pixel units: the inputs are standardized, so the noise
// added to them is σ / std; noise draws from seed 1000 + σ index).
// Task i of the grid: seed = i / L, λ index = i mod L (L = number of λ); a run returns the
// accuracy at every σ.
#include <cstdio>
#include <sstream>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/evaluate.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

void run_noise(Context& ctx) {
  using namespace losses;
  const Config& c = ctx.cfg;
  const io::FashionMnist& fm = ctx.fm;
  const std::size_t L = c.lambdas.size(), K = c.sigmas.size(), S = std::size_t(c.seeds);
  const auto grid = run_grid(ctx.comm, ctx.checkpoint, "noise", S * L, K, [&](std::size_t i) {
    const std::size_t seed = i / L, li = i % L;
    const Data d =
        take(fm.train.images, fm.train.labels,
             train::subset_per_class(fm.train.labels, c.noise_n, std::uint64_t(seed) + 1, 10));
    MlpNet s = make_mlp(300 + std::uint64_t(seed));
    train::Adam<T> opt({.lr = kStudentLr});
    const auto loss = CrossEntropy{} + c.lambdas[li] * JacobianNorm<Exact>{};
    const auto o = student_fit(c, d.X.rows(), 30 + seed);
    train::fit(s, loss, opt, student_schedule(c, o, d.X.rows()), d.X, d.y, o);
    std::vector<double> acc;
    for (std::size_t si = 0; si < K; ++si) {
      const double sig = c.sigmas[si] / fm.normalization.std;
      acc.push_back(train::evaluate_under_noise(s, ctx.test.X, ctx.test.y, sig, 1000 + si).accuracy);
    }
    if (ctx.verbose()) {
      char line[128];
      std::snprintf(line, sizeof line, "[noise] seed %zu λ=%-5g clean acc %.4f", seed,
                    c.lambdas[li], acc[0]);
      progress_line(line);
    }
    return acc;
  });
  if (!ctx.comm.is_root()) return;

  std::vector<std::string> rows, columns, csv;
  for (double l : c.lambdas) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", l);
    rows.push_back(b);
  }
  for (double s : c.sigmas) {
    char b[32];
    std::snprintf(b, sizeof b, "σ=%g", s);
    columns.push_back(b);
  }
  Table table("\nNoise robustness: MLP, CE + λ‖J‖²_F, " + std::to_string(c.noise_n) +
                  " samples per class; test accuracy % under x + σz (σ in raw pixel units, pixels "
                  "in [0,1]), mean ± std over " + std::to_string(c.seeds) + " seeds",
              "λ", rows, columns);
  for (std::size_t i = 0; i < S * L; ++i) {
    const std::size_t seed = i / L, li = i % L;
    for (std::size_t si = 0; si < K; ++si) {
      const double a = grid.values[i][si];
      table.values[li][si].push_back(a);
      std::ostringstream line;
      line << c.lambdas[li] << ',' << c.sigmas[si] << ',' << seed << ',' << a;
      csv.push_back(line.str());
    }
  }
  write_csv(c.out / "noise.csv", "lambda,sigma,seed,test_accuracy", csv);
  table.print();
  // Figure: accuracy against σ, one line per λ (the table's rows are λ, its columns σ).
  plot::Figure f = table_figure(table, c.sigmas);
  for (auto& s : f.series) s.label = "λ = " + s.label;
  f.title = "Noise robustness: MLP trained with CE + λ‖J‖²";
  f.xlabel = "input noise σ (pixel units, pixels in [0, 1])";
  f.ylabel = "test accuracy under x + σz (%)";
  f.dodge = true;
  f.note = std::to_string(c.noise_n) + " training samples per class; mean ± std over " +
           std::to_string(c.seeds) + " seeds";
  ctx.report.results["noise"]["table"] = table.to_json();
  ctx.report.run["noise"] = grid.log();
  ctx.report.section("Noise robustness: Jacobian-norm penalty",
                     "Per-run values: `noise.csv` (one line per λ, σ and seed).", {&table});
  ctx.report.figure(c.out, "noise", f,
                    "test accuracy under Gaussian input noise vs σ, one line per λ, bars = ± std");
}

}  // namespace jacnet::fashion
