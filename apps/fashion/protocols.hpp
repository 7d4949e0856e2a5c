#pragma once
// apps/fashion/protocols.hpp — what the protocols share, and their entry points (one file each:
// distillation.cpp, transfer.cpp, noise.cpp, saliency.cpp; the teachers in teacher.cpp).
//
// Every rank calls every protocol: the runs go through run_grid (grid.hpp) and every rank ends
// with all results; rank 0 alone prints and writes files.
#include <cstdint>
#include <filesystem>
#include <string>

#include "comm.hpp"
#include "config.hpp"
#include "data.hpp"
#include "grid.hpp"
#include "jacnet/io/fashion_mnist.hpp"
#include "jacnet/losses/loss.hpp"
#include "nets.hpp"
#include "report.hpp"

namespace jacnet::fashion {

struct Context {
  const Config& cfg;
  const Comm& comm;
  const io::FashionMnist& fm;
  const Data& test;
  Checkpoint& checkpoint;
  Report& report;

  /// Progress lines: rank 0, unless --quiet.
  bool verbose() const { return comm.is_root() && !cfg.quiet; }
};

/// A teacher (CNN, `classes` outputs) trained with Adam on `train`, or loaded from <out>/<file>
/// when <out>/<file>.json records the same training configuration (net, data hash, epochs,
/// seeds, batch, rate); otherwise it is retrained and both files are rewritten. Rank 0 trains or
/// loads; the parameters are broadcast to every rank.
TeacherNet teacher_for(Context& ctx, const std::string& file, const Data& train, Index classes,
                       const std::string& label);

/// Distillation grid (six methods × N per class × seeds), distillation.csv/.png; saves the CE and
/// Jac+CE students of seed 0 at the last N into <out>/students/ for the saliency maps.
void run_distillation(Context& ctx, const TeacherNet& teacher);
/// Trains an MLP student with distillation method `row` (table order); returns its epochs.
double train_distill_student(const Config& c, std::size_t row, MlpNet& s, const Data& d,
                             const losses::TeacherData<T>* data, const TeacherNet& teacher,
                             std::uint64_t seed);
/// Number and names of the distillation methods (table order).
std::vector<std::string> distill_method_names();

/// Transfer grid (classes 0–4 → 5–9), transfer.csv.
void run_transfer(Context& ctx);

/// Noise-robustness grid (λ × seeds, accuracy per σ), noise.csv.
void run_noise(Context& ctx);

/// saliency.png (rank 0): label-row input Jacobians of the teacher and two students.
void run_saliency(Context& ctx, const TeacherNet& teacher);

/// Where run_distillation keeps a student for the saliency maps.
std::filesystem::path student_path(const Config& c, const std::string& method);

}  // namespace jacnet::fashion
