// jacnet_fashion — the main job: Srinivas & Fleuret's (ICML 2018) Jacobian-matching experiments
// on Fashion-MNIST, as a small application (docs/app.md; results in docs/results.md).
//
//   protocols   distillation.cpp (CNN and tanh pairs), transfer.cpp, noise.cpp, equivalence.cpp,
//               saliency.cpp (teachers: teacher.cpp, tanh_teacher.cpp)
//   config      config.cpp (presets, --config FILE.json, flags)
//   grid        grid.cpp (runs spread over MPI ranks, checkpoints, --resume)
//   report      report.cpp (tables, paired differences, CSV, results.json / results.md /
//               run.json), plot.cpp (figures with cairo: PNG + SVG)
//
//   jacnet_fashion                         # quick grid (docs/results.md)
//   jacnet_fashion --full                  # the full grid
//   jacnet_fashion --smoke --out /tmp/s    # seconds; for ctest
//   mpiexec -n 2 jacnet_fashion            # the same tables, runs spread over 2 processes
// Without Debian's dataset-fashion-mnist it prints "skipped" and exits with 77 (ctest's
// SKIP_RETURN_CODE); a bad flag or config file exits with 2, any other error with 1.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "jacnet/dist/consistency.hpp"
#include "jacnet/train/evaluate.hpp"
#include "protocols.hpp"

using namespace jacnet;
using namespace jacnet::fashion;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// OpenMP threads of this process: --threads K if given; else OpenMP's default (all cores, or
/// OMP_NUM_THREADS), shared among the ranks on this machine when several run here.
int choose_threads(const Config& c) {
#ifdef _OPENMP
  if (c.threads > 0) {
    omp_set_num_threads(c.threads);
  } else if (!std::getenv("OMP_NUM_THREADS")) {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int ranks_here = local ? std::max(1, std::atoi(local)) : 1;
    omp_set_num_threads(std::max(1, omp_get_num_procs() / ranks_here));
  }
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int run(const Comm& comm, const Config& c, int argc, char** argv) {
  const auto t_start = std::chrono::steady_clock::now();
  const int threads = choose_threads(c);
  // Every rank must run the same grid: compare a hash of the configuration at start.
  dist::Fingerprint fp;
  fp.add("config", results_config(c).dump());
  dist::check_same(comm, "configuration (results_config)", fp.value());

  if (!fs::exists(fs::path(c.data_dir) / "train-images-idx3-ubyte.gz")) {
    if (comm.is_root())
      std::cerr << "skipped: Fashion-MNIST not found in " << c.data_dir
                << " (Debian package dataset-fashion-mnist)\n";
    return 77;  // ctest SKIP_RETURN_CODE
  }
  if (comm.is_root()) fs::create_directories(c.out);
  comm.barrier();
  Checkpoint checkpoint(comm, c.out / "checkpoint", results_config(c), c.resume);
  if (comm.is_root() && c.resume && !c.quiet)
    std::cerr << "[resume] " << checkpoint.restored() << " finished runs in the checkpoint\n";

  Report report;
  const io::FashionMnist fm = io::load_fashion_mnist(c.data_dir, {.normalize = true});
  Data test{fm.test.images, fm.test.labels};
  truncate(test, c.test_max);
  Context ctx{c, comm, fm, test, checkpoint, report};

  report.markdown =
      "# jacnet_fashion results (" + c.mode + " mode)\n\n"
      "Written by `jacnet_fashion` (apps/fashion); the same bits for any number of MPI ranks and "
      "threads and after `--resume`. Accuracies are test accuracies in %, mean ± std over " +
      std::to_string(c.seeds) +
      " seeds; paired differences are in accuracy points, computed per seed (same training "
      "subset, initialization and batch order), with the number of seeds where the Jacobian row "
      "wins. Configuration (`results.json`, key `config`): `" + results_config(c).dump() +
      "`\n\n";
  auto teacher_line = [&](const std::string& what, double acc, Index params) {
    char b[256];
    std::snprintf(b, sizeof b, "%s (%lld parameters): test accuracy %.2f%% on %lld images\n",
                  what.c_str(), static_cast<long long>(params), 100 * acc,
                  static_cast<long long>(test.X.rows()));
    std::fputs(b, stdout);
    report.markdown += std::string("- ") + b;
  };
  Data tr{fm.train.images, fm.train.labels};
  truncate(tr, c.teacher_train);
  std::optional<TeacherNet> teacher;
  std::optional<TanhMlp> tanh_net;
  if (c.has("distill") || c.has("saliency") || c.has("equivalence")) {
    teacher = teacher_for(ctx, "teacher.safetensors", tr, 10, "teacher");
    if (comm.is_root()) {
      const double ta = train::evaluate(*teacher, test.X, test.y).accuracy;
      teacher_line("Teacher CNN", ta, teacher->num_params());
      report.results["teacher"]["test_accuracy"] = ta;
    }
  }
  if (c.has("distill_tanh") || c.has("saliency") || c.has("equivalence")) {
    tanh_net = tanh_teacher(ctx, tr);
    if (comm.is_root()) {
      const double ta = train::evaluate(*tanh_net, test.X, test.y).accuracy;
      teacher_line(std::string("Teacher tanh MLP ") + kTanhTeacherDescription, ta,
                   tanh_net->num_params());
      report.results["tanh_teacher"]["test_accuracy"] = ta;
    }
  }
  if (comm.is_root()) report.markdown += "\n";
  if (c.has("distill")) run_distillation(ctx, *teacher);
  if (c.has("distill_tanh")) run_distillation_tanh(ctx, *tanh_net);
  if (c.has("saliency")) run_saliency(ctx, *teacher, tanh_net ? &*tanh_net : nullptr);
  if (c.has("transfer")) run_transfer(ctx);
  if (c.has("noise")) run_noise(ctx);
  if (c.has("equivalence")) run_equivalence(ctx, *teacher, *tanh_net);

  if (comm.is_root()) {
    report.results["config"] = results_config(c);
    report.results["note"] =
        "accuracies as fractions in [0, 1]; 0 samples per class = all; paired: per-seed "
        "differences (Jacobian row minus its twin), wins = seeds where it is > 0";
    std::string cmd;
    for (int i = 0; i < argc; ++i) {
      if (i > 0) cmd += ' ';
      cmd += argv[i];
    }
    report.run["command"] = cmd;
    report.run["out"] = c.out.string();
    report.run["ranks"] = comm.size();
    report.run["mpi"] = kWithMpi;
    report.run["threads_per_rank"] = threads;
    report.run["resumed"] = c.resume;
    report.run["total_seconds"] = seconds_since(t_start);
    report.write(c.out);
  }
  checkpoint.remove();
  if (comm.is_root())
    std::printf("\nwrote %s (total %.0f s, %d rank%s x %d thread%s)\n", c.out.string().c_str(),
                seconds_since(t_start), comm.size(), comm.size() > 1 ? "s" : "", threads,
                threads > 1 ? "s" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef JACNET_HAS_MPI
  dist::Environment env(argc, argv);
#endif
  Comm comm;
  Config c;
  try {
    c = parse_args(argc, argv);
  } catch (const UsageError& e) {
    if (comm.is_root()) {
      if (std::string(e.what()) != "help") std::cerr << "error: " << e.what() << "\n";
      std::cerr << usage() << "\n";
    }
    return std::string(e.what()) == "help" ? 0 : 2;
  }
  if (c.print_config) {
    if (comm.is_root()) std::cout << nlohmann::json{{"config", results_config(c)}}.dump(2) << "\n";
    return 0;
  }
  try {
    return run(comm, c, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error" << (comm.size() > 1 ? " (rank " + std::to_string(comm.rank()) + ")" : "")
              << ": " << e.what() << "\n";
    if (comm.size() > 1) comm.abort(1);  // the other ranks may wait in a collective
    return 1;
  }
}
