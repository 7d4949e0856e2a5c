#pragma once
// apps/fashion/protocols.hpp — what the protocols share, and their entry points (one file each:
// distillation.cpp (both pairs), transfer.cpp, noise.cpp, equivalence.cpp, saliency.cpp; the
// cached CNN teachers in teacher.cpp, the tanh MLP teacher in tanh_teacher.cpp).
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

/// The tanh MLP teacher 784-256-256-10 (nets.hpp) trained on `train` with Adam 1e-3 (constant),
/// cfg.teacher_epochs epochs, batch cfg.batch, init seed 1, batch seed 7 — the same recipe as the
/// CNN teacher. Not cached: rank 0 trains it in every run (deterministic) and broadcasts it.
TanhMlp tanh_teacher(Context& ctx, const Data& train);

/// Distillation grid of the CNN pair (six methods × N per class × seeds): distillation.csv, the
/// figures distillation(.png/.svg) and distillation_paired; saves the CE and Jac+CE students of
/// seed 0 at the last N into <out>/students/ for the saliency maps.
void run_distillation(Context& ctx, const TeacherNet& teacher);
/// The same grid for the tanh pair (distillation_tanh.csv, figures distillation_tanh*).
void run_distillation_tanh(Context& ctx, const TanhMlp& teacher);
/// Trains a student with distillation method `row` (table order); returns its epochs.
double train_distill_student(const Config& c, std::size_t row, MlpNet& s, const Data& d,
                             const losses::TeacherData<T>* data, const TeacherNet& teacher,
                             std::uint64_t seed);
double train_distill_student(const Config& c, std::size_t row, TanhMlp& s, const Data& d,
                             const losses::TeacherData<T>* data, const TanhMlp& teacher,
                             std::uint64_t seed);
/// Names of the distillation methods (table order).
std::vector<std::string> distill_method_names();

/// Transfer grid (classes 0–4 → 5–9), transfer.csv, figures transfer and transfer_paired.
void run_transfer(Context& ctx);

/// Noise-robustness grid (λ × seeds, accuracy per σ), noise.csv, figure noise.
void run_noise(Context& ctx);

/// Proposition 1 on real data: noisy output matching vs output matching + σ²·Σ‖∇T − ∇S‖² for a
/// ReLU pair (CNN teacher, ReLU MLP student) and a tanh pair (tanh MLP teacher and student);
/// equivalence.csv, figure equivalence.
void run_equivalence(Context& ctx, const TeacherNet& cnn_teacher, const TanhMlp& tanh_teacher);

/// saliency (.png/.svg, rank 0): label-row input Jacobians of the teachers and their students.
/// tanh_teacher may be null (the tanh rows are then left out).
void run_saliency(Context& ctx, const TeacherNet& teacher, const TanhMlp* tanh_teacher);

/// Where a distillation grid keeps a student for the saliency maps.
std::filesystem::path student_path(const Config& c, const std::string& protocol,
                                   const std::string& method);

}  // namespace jacnet::fashion
