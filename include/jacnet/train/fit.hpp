#pragma once
// jacnet/train/fit.hpp — a small training loop: epochs × shuffled mini-batches of a loss, an
// optimizer and a learning-rate schedule, with a progress line and a per-epoch history.
//
// For epoch e = 0..E−1 (batches from train::Batches(N, B, seed), order fixed by (seed, e)):
//   γ ← schedule(e)                     (or schedule(step) per step with schedule_per_step)
//   for each batch: gather X, labels (and the teacher's rows when the teacher is TeacherData)
//     (L, ∇θL) ← losses::value_and_grad(loss, net, batch, workspace)
//     opt.step(net.params(), ∇θL)
// The epoch's loss (and each term's value) is the sample-weighted mean of the batch values;
// its accuracy counts argmax of the student outputs *before* each step against the labels (the
// usual running training accuracy; NaN without labels). The loss workspace is seeded with `seed`
// too, so a run is reproducible from (initial parameters, seed). on_epoch(record) runs after each
// epoch (e.g. to evaluate a validation set into record.val_accuracy); returning false stops early.
//
// Non-finite values: after each step's loss and gradient are known (and reduced over ranks), a
// NaN or ±inf in the total loss, a term's value or any gradient entry stops training with a
// NonFiniteError naming the step (epoch, batch), the term (the first whose value is non-finite,
// or whose gradient is, found by re-evaluating the terms one by one on the batch) and the
// parameter (name and flat index of the first non-finite gradient entry). With
// `on_nonfinite = NonFinite::skip` the batch is skipped instead (no optimizer step; counted in
// EpochRecord::skipped, left out of the epoch's means).
//
// Length: FitOptions::epochs (whole epochs) or FitOptions::steps (that many batches, across
// epochs in the same seeded order; the last epoch's record is then partial: see its `samples`).
// Exactly one of them must be positive: both 0 is an error (not a silent no-op), both set too.
// A skipped batch (NonFinite::skip) counts as a step of the run's length but not as an optimizer
// step (History::iterations counts batches, opt.steps() optimizer steps).
//
// Progress: a line every ProgressOptions::interval seconds (default 5; in place on a terminal)
// and one summary line per run (train/progress.hpp), on rank 0.
//
// Checkpoints (FitOptions::checkpoint, train/checkpoint.hpp): every K batches and/or S seconds
// (and at the end) fit writes the run's whole state atomically; with `resume = true` it
// continues from the file if there is one (its identity fields — net, parameter count,
// optimizer, loss, schedule, batch size, data size and hash, seed, length, tag — must match the
// run's, else an IoError names the file and the field), and the resumed run ends with bitwise
// the parameters, optimizer state and records of an uninterrupted one (EpochRecord::seconds
// aside). on_epoch runs again for an epoch whose end was not yet in the checkpoint. One process
// only (a communicator with more than one rank and a checkpoint path is an error).
//
// Data-parallel (pass a communicator last: dist::Communicator over MPI, see docs/dist.md): every
// rank holds the whole training set and runs the same global batch sequence; rank r takes the
// shard dist::shard(B, r, P) of each global batch, the shard gradients (scaled by b_r/B), loss,
// term values and accuracy counts are summed in ONE allreduce per step (dist::allreduce_result),
// and every rank takes the same optimizer step. At the start fit checks that all ranks have the
// same net, loss, optimizer type, options and training data (a hash compared across ranks; a
// DistError names the ranks that differ) and broadcasts rank 0's parameters. History is the same
// on every rank; only rank 0 writes progress (on_epoch runs on every rank: write files on rank 0
// only). With one rank (dist::SerialCommunicator, the default) nothing is communicated and the
// run is bitwise the one-process run.
//
//   train::Adam<float> opt({.lr = 1e-3});
//   auto hist = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3),
//                          X, y, {.epochs = 20, .batch_size = 64, .seed = 1});
//   // distillation: pass a teacher net, or losses::TeacherData recorded on the same X rows
//   auto h2 = train::fit(student, losses::CrossEntropy{} + losses::OutputMatch{}, opt, sched, X, y,
//                        teacher, {.epochs = 20});
//   // data-parallel under mpirun: the communicator last
//   auto h3 = train::fit(net, loss, opt, sched, X, y, opts, comm);   // dist::Communicator comm;
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/dist/consistency.hpp"
#include "jacnet/dist/data_parallel.hpp"
#include "jacnet/dist/serial.hpp"
#include "jacnet/losses/loss.hpp"
#include "jacnet/train/batches.hpp"
#include "jacnet/train/checkpoint.hpp"
#include "jacnet/train/history.hpp"
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/progress.hpp"
#include "jacnet/train/schedule.hpp"

namespace jacnet::train {

/// A non-finite loss, term value or gradient during training (message: step, term, parameter).
struct NonFiniteError : ValueError {
  using ValueError::ValueError;
};

/// What fit does when a batch's loss or gradient is NaN or infinite.
enum class NonFinite {
  stop,  ///< throw NonFiniteError (default)
  skip,  ///< skip the batch: no optimizer step, EpochRecord::skipped += 1
};

struct FitOptions {
  std::int64_t epochs = 0;  ///< whole epochs to run, or
  std::int64_t steps = 0;   ///< batches to run (exactly one of epochs and steps is positive)
  Index batch_size = 128;
  std::uint64_t seed = 0;  ///< batch order and the loss workspace's random draws
  bool drop_last = false;
  bool schedule_per_step = false;  ///< schedule(t) counts optimizer steps instead of epochs
  Index accuracy_outputs = 0;      ///< argmax over the first k outputs (0: all outputs)
  NonFinite on_nonfinite = NonFinite::stop;
  ProgressOptions progress{};
  std::ostream* progress_stream = nullptr;       ///< default std::cerr
  CheckpointOptions checkpoint{};                ///< checkpoints inside the run, resume
  std::function<bool(EpochRecord&)> on_epoch{};  ///< after each epoch; false stops training
};

/// out ← the rows of a whole-data-set TeacherData for the samples idx (outputs, Jacobian blocks
/// of R rows per sample — all Ct, or those record_for kept, with their row indices — recorded
/// activations); buffers are reused across calls.
template <class T>
void gather_teacher(const losses::TeacherData<T>& all, std::span<const Index> idx,
                    losses::TeacherData<T>& out) {
  gather_rows(all.outputs, idx, out.outputs);
  const Index N = all.outputs.rows(), R = all.jacobian_rows_per_sample();
  const auto B = static_cast<Index>(idx.size());
  if (all.jacobian.size() > 0) {
    JACNET_CHECK(all.jacobian.rows() == N * R &&
                     (all.jacobian_rows.empty() ||
                      static_cast<Index>(all.jacobian_rows.size()) == N * R),
                 ShapeError, "train::gather_teacher", "TeacherData::jacobian has ",
                 all.jacobian.rows(), " rows (", all.jacobian_rows.size(),
                 " row indices), expected N*R = ", N * R);
    if (out.jacobian.rows() != B * R || out.jacobian.cols() != all.jacobian.cols())
      out.jacobian.resize(B * R, all.jacobian.cols());
    for (Index r = 0; r < B; ++r)
      out.jacobian.middleRows(r * R, R) =
          all.jacobian.middleRows(idx[static_cast<std::size_t>(r)] * R, R);
  } else if (out.jacobian.size() > 0) {
    out.jacobian.resize(0, 0);
  }
  if (all.jacobian.size() > 0 && !all.jacobian_rows.empty()) {
    out.jacobian_rows.resize(static_cast<std::size_t>(B * R));
    for (Index r = 0; r < B; ++r)
      std::copy_n(all.jacobian_rows.begin() + idx[static_cast<std::size_t>(r)] * R, R,
                  out.jacobian_rows.begin() + r * R);
  } else {
    out.jacobian_rows.clear();
  }
  out.activations.resize(all.activations.size());
  for (std::size_t l = 0; l < all.activations.size(); ++l) {
    if (all.activations[l].size() > 0) {
      JACNET_CHECK(all.activations[l].rows() == N, ShapeError, "train::gather_teacher",
                   "TeacherData::activations[", l, "] has ", all.activations[l].rows(),
                   " rows, the outputs have ", N);
      gather_rows(all.activations[l], idx, out.activations[l]);
    } else if (out.activations[l].size() > 0) {
      out.activations[l].resize(0, 0);
    }
  }
  if (out.shapes != all.shapes) out.shapes = all.shapes;
}

namespace detail {

template <class T>
Index count_correct(const Matrix<T>& Y, std::span<const int> labels, Index k) {
  const Index C = k > 0 ? std::min(k, Y.cols()) : Y.cols();
  Index correct = 0;
  for (Index r = 0; r < Y.rows(); ++r) {
    Index best = 0;
    for (Index c = 1; c < C; ++c)
      if (Y(r, c) > Y(r, best)) best = c;
    correct += best == labels[static_cast<std::size_t>(r)];
  }
  return correct;
}

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

/// A hash of the training data: X, labels and the teacher (its recorded data, or its net and
/// parameters).
template <class T, class Teacher>
std::uint64_t data_fingerprint(const Matrix<T>& X, std::span<const int> labels,
                               const Teacher* teacher) {
  dist::Fingerprint fd;
  dist::add_data(fd, "X", X);
  fd.add("labels", static_cast<long long>(labels.size()));
  fd.add_bytes(labels.data(), labels.size() * sizeof(int));
  fd.add("teacher", typeid(Teacher).name());
  if constexpr (losses::is_teacher_data_v<Teacher>) {
    dist::add_data(fd, "teacher outputs", teacher->outputs);
    dist::add_data(fd, "teacher jacobian", teacher->jacobian);
    if (!teacher->jacobian_rows.empty())  // record_for's row subset (none: as before)
      fd.add_bytes(teacher->jacobian_rows.data(), teacher->jacobian_rows.size() * sizeof(Index));
    for (const auto& a : teacher->activations) dist::add_data(fd, "teacher activations", a);
  } else if constexpr (!std::is_same_v<Teacher, losses::NoTeacher>) {
    dist::add_net(fd, *teacher);
    const auto p = teacher->params();
    fd.add_bytes(p.data(), static_cast<std::size_t>(p.size()) * sizeof(T));
  }
  return fd.value();
}

/// Data-parallel preconditions: every rank has the same net, loss, optimizer, options and data
/// (one hash per aspect, compared across ranks; a DistError names the ranks that differ).
template <class Comm, class Net, class L, class O, class Teacher>
void check_ranks_agree(const Comm& comm, const Net& net, const L& loss, const O& opt,
                       const Schedule& schedule, const Matrix<typename Net::Scalar>& X,
                       std::span<const int> labels, const Teacher* teacher, const FitOptions& o) {
  dist::Fingerprint fn, fl, fo, fd;
  dist::add_net(fn, net);
  dist::check_same(comm, "net (layers, shapes, parameter count)", fn.value());
  dist::add_loss(fl, loss);
  dist::check_same(comm, "loss (terms and weights)", fl.value());
  fo.add("optimizer", typeid(O).name()).add("lr", opt.lr()).add("steps", opt.steps());
  fo.add("epochs", o.epochs).add("steps", o.steps);
  fo.add("batch_size", static_cast<long long>(o.batch_size));
  fo.add("seed", o.seed).add("drop_last", o.drop_last).add("per_step", o.schedule_per_step);
  fo.add("accuracy_outputs", static_cast<long long>(o.accuracy_outputs));
  fo.add("on_nonfinite", static_cast<int>(o.on_nonfinite));
  for (std::int64_t t = 0; t < 16; ++t) fo.add("schedule", schedule(t));
  dist::check_same(comm, "optimizer, schedule and fit options", fo.value());
  dist::check_same(comm, "training data (X, labels, teacher)",
                   data_fingerprint<typename Net::Scalar>(X, labels, teacher));
}

/// The identity fields of a run's checkpoint: what must match for a resume to continue the same
/// run (compared in this order, so the first named is the most basic difference).
template <class Net, losses::LossExpression L, class O, class Teacher>
std::vector<std::pair<std::string, std::string>> checkpoint_identity(
    const Net& net, const L& loss, const O& opt, const Schedule& schedule,
    const Matrix<typename Net::Scalar>& X, std::span<const int> labels, const Teacher* teacher,
    const FitOptions& o) {
  using T = typename Net::Scalar;
  auto one_line = [](std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    for (std::size_t i = 0; (i = s.find('\n', i)) != std::string::npos;) s.replace(i, 1, "; ");
    return s;
  };
  std::string net_desc;
  if constexpr (requires { net.summary(); })
    net_desc = one_line(net.summary());
  else
    net_desc = typeid(Net).name();
  std::string loss_desc;
  loss.for_each_term([&](const auto& t, double w) {
    loss_desc += (loss_desc.empty() ? "" : " + ") + detail::fmt_exact(w) + "*" + t.name();
  });
  dist::Fingerprint fs;
  for (std::int64_t t = 0; t < 256; ++t) fs.add("lr", schedule(t));
  char hex[24];
  std::string opt_desc;
  if constexpr (StatefulOptimizer<O>) opt_desc = opt.describe();
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(data_fingerprint<T>(X, labels, teacher)));
  const std::string data_hash = hex;
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fs.value()));
  auto str = [](auto v) { return std::to_string(v); };
  return {{"format", std::string(CheckpointData::kFormat)},
          {"scalar", std::is_same_v<T, float> ? "float" : (std::is_same_v<T, double> ? "double"
                                                                                     : typeid(T).name())},
          {"net", net_desc},
          {"parameters", str(static_cast<long long>(net.num_params()))},
          {"optimizer", opt_desc},
          {"batch_size", str(static_cast<long long>(o.batch_size))},
          {"samples", str(static_cast<long long>(X.rows()))},
          {"input_size", str(static_cast<long long>(X.cols()))},
          {"labels", str(labels.size())},
          {"data_hash", data_hash},
          {"loss", loss_desc},
          {"schedule", schedule.str() + (o.schedule_per_step ? " per step" : " per epoch") +
                           " [" + hex + "]"},
          {"seed", str(static_cast<unsigned long long>(o.seed))},
          {"epochs", str(static_cast<long long>(o.epochs))},
          {"steps", str(static_cast<long long>(o.steps))},
          {"drop_last", o.drop_last ? "true" : "false"},
          {"accuracy_outputs", str(static_cast<long long>(o.accuracy_outputs))},
          {"on_nonfinite", o.on_nonfinite == NonFinite::skip ? "skip" : "stop"},
          {"tag", one_line(o.checkpoint.tag)}};
}

/// Where a run stands at a batch boundary (what a checkpoint holds besides parameters,
/// optimizer and random engine).
struct FitPosition {
  std::int64_t epoch = 0;       ///< epoch in progress
  std::int64_t batch = 0;       ///< batches of it done
  std::int64_t iterations = 0;  ///< batches done in the run
  std::int64_t step = 0;        ///< optimizer steps done in the run
  bool finished = false;
  // the epoch in progress
  double loss_sum = 0.0, lr = 0.0, seconds = 0.0;
  std::vector<double> term_sums;
  Index correct = 0, done = 0, skipped = 0;
};

constexpr int kRecordFields = 9;  // + terms

template <class Net, class O, class T>
CheckpointData make_checkpoint(const std::vector<std::pair<std::string, std::string>>& identity,
                               const Net& net, const O& opt, const losses::Workspace<T>& ws,
                               const History& hist, const FitPosition& pos) {
  CheckpointData c;
  c.fields = identity;
  c.set("epoch", std::to_string(pos.epoch));
  c.set("batch", std::to_string(pos.batch));
  c.set("iterations", std::to_string(pos.iterations));
  c.set("optimizer_steps", std::to_string(pos.step));
  c.set("optimizer_step_count", std::to_string(opt.steps()));
  c.set("finished", pos.finished ? "1" : "0");
  c.set("epoch_correct", std::to_string(static_cast<long long>(pos.correct)));
  c.set("epoch_samples", std::to_string(static_cast<long long>(pos.done)));
  c.set("epoch_skipped", std::to_string(static_cast<long long>(pos.skipped)));
  c.set("terms", std::to_string(hist.term_names.size()));
  c.set("records", std::to_string(hist.epochs.size()));
  std::ostringstream rng;
  rng << ws.rng;
  c.set("loss_rng", rng.str());
  const auto p = net.params();
  c.add_array("params", p.data(), static_cast<std::size_t>(p.size()));
  for (const auto& [name, v] : opt.state_vectors())
    c.add_array("optimizer." + name, v->data(), static_cast<std::size_t>(v->size()));
  std::vector<double> state = {opt.lr(), pos.loss_sum, pos.lr, pos.seconds};
  state.insert(state.end(), pos.term_sums.begin(), pos.term_sums.end());
  c.add_array("epoch_state", state.data(), state.size());
  std::vector<double> recs;
  for (const auto& r : hist.epochs) {
    const double f[kRecordFields] = {static_cast<double>(r.epoch),   r.lr,
                                     r.loss,
                                     r.accuracy,
                                     static_cast<double>(r.samples), static_cast<double>(r.skipped),
                                     r.seconds,
                                     r.val_loss,
                                     r.val_accuracy};
    recs.insert(recs.end(), f, f + kRecordFields);
    JACNET_CHECK(r.terms.size() == hist.term_names.size(), ShapeError, "train::fit",
                 "epoch record ", r.epoch, " has ", r.terms.size(), " term values, expected ",
                 hist.term_names.size());
    recs.insert(recs.end(), r.terms.begin(), r.terms.end());
  }
  c.add_array("records", recs.data(), recs.size());
  return c;
}

/// Restores net, optimizer, random engine, history and position from a checkpoint whose
/// identity was checked; errors name the file and the field.
template <class Net, class O, class T>
FitPosition load_checkpoint(const CheckpointData& c, Net& net, O& opt, losses::Workspace<T>& ws,
                            History& hist, std::int64_t n_epochs, Index batches_per_epoch) {
  constexpr const char* where = "train::fit";
  FitPosition pos;
  auto in_range = [&](const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) {
    JACNET_CHECK(lo <= v && v <= hi, IoError, where, "checkpoint '", c.file, "': field '", field,
                 "' is ", v, ", not in [", lo, ", ", hi, "]");
    return v;
  };
  pos.epoch = in_range("epoch", c.get_int("epoch"), 0, n_epochs);
  pos.batch = in_range("batch", c.get_int("batch"), 0, batches_per_epoch);
  pos.iterations = in_range("iterations", c.get_int("iterations"), 0,
                            std::numeric_limits<std::int64_t>::max());
  pos.step = in_range("optimizer_steps", c.get_int("optimizer_steps"), 0, pos.iterations);
  pos.finished = in_range("finished", c.get_int("finished"), 0, 1) == 1;
  pos.correct = in_range("epoch_correct", c.get_int("epoch_correct"), 0,
                         std::numeric_limits<std::int64_t>::max());
  pos.done = in_range("epoch_samples", c.get_int("epoch_samples"), 0,
                      std::numeric_limits<std::int64_t>::max());
  pos.skipped = in_range("epoch_skipped", c.get_int("epoch_skipped"), 0, pos.batch);
  const auto n_terms = static_cast<std::int64_t>(hist.term_names.size());
  in_range("terms", c.get_int("terms"), n_terms, n_terms);
  const std::int64_t n_records = in_range("records", c.get_int("records"), 0, pos.epoch + 1);

  const auto params = c.get_array<T>("params", net.num_params());
  auto p = net.params();
  for (Index i = 0; i < p.size(); ++i) p[i] = params[static_cast<std::size_t>(i)];
  std::vector<std::pair<std::string, Vector<T>>> vecs;
  for (const auto& [name, v] : opt.state_vectors()) {
    const auto a = c.get_array<T>("optimizer." + name);
    JACNET_CHECK(a.empty() || static_cast<Index>(a.size()) == net.num_params(), IoError, where,
                 "checkpoint '", c.file, "': array 'optimizer.", name, "' has ", a.size(),
                 " entries, the net has ", net.num_params(), " parameters");
    Vector<T> x(static_cast<Index>(a.size()));
    for (Index i = 0; i < x.size(); ++i) x[i] = a[static_cast<std::size_t>(i)];
    vecs.emplace_back(name, std::move(x));
  }
  opt.restore_state(in_range("optimizer_step_count", c.get_int("optimizer_step_count"), pos.step,
                             std::numeric_limits<std::int64_t>::max()),
                    vecs);
  const auto state = c.get_array<double>("epoch_state", 4 + n_terms);
  opt.set_lr(state[0]);
  pos.loss_sum = state[1];
  pos.lr = state[2];
  pos.seconds = state[3];
  pos.term_sums.assign(state.begin() + 4, state.end());
  {
    std::istringstream rng(c.get("loss_rng"));
    rng >> ws.rng;
    JACNET_CHECK(!rng.fail(), IoError, where, "checkpoint '", c.file,
                 "': field 'loss_rng' is not a std::mt19937_64 state");
  }
  const auto recs = c.get_array<double>("records", n_records * (kRecordFields + n_terms));
  hist.epochs.clear();
  for (std::int64_t i = 0; i < n_records; ++i) {
    const double* f = recs.data() + i * (kRecordFields + n_terms);
    EpochRecord r;
    r.epoch = static_cast<std::int64_t>(f[0]);
    r.lr = f[1];
    r.loss = f[2];
    r.accuracy = f[3];
    r.samples = static_cast<Index>(f[4]);
    r.skipped = static_cast<Index>(f[5]);
    r.seconds = f[6];
    r.val_loss = f[7];
    r.val_accuracy = f[8];
    r.terms.assign(f + kRecordFields, f + kRecordFields + n_terms);
    hist.epochs.push_back(std::move(r));
  }
  hist.iterations = pos.iterations;
  hist.resumed_at = pos.iterations;
  return pos;
}

template <class Net, losses::LossExpression L, Optimizer O, class Teacher, class Comm>
History fit_impl(Net& net, const L& loss, O& opt, const Schedule& schedule,
                 const Matrix<typename Net::Scalar>& X, std::span<const int> labels,
                 const Teacher* teacher, const FitOptions& o, const Comm& comm) {
  using T = typename Net::Scalar;
  static_assert(std::is_same_v<typename O::Scalar, T>,
                "jacnet::train::fit: the optimizer's scalar must be the net's");
  static_assert(dist::CommunicatorLike<Comm>,
                "jacnet::train::fit: the last argument must be a communicator "
                "(dist::Communicator or dist::SerialCommunicator)");
  constexpr const char* where = "train::fit";
  const Index N = X.rows();
  JACNET_CHECK(o.epochs >= 0, ValueError, where, "epochs ", o.epochs, " is negative");
  JACNET_CHECK(o.steps >= 0, ValueError, where, "steps ", o.steps, " is negative");
  JACNET_CHECK(o.epochs == 0 || o.steps == 0, ValueError, where, "FitOptions::epochs (", o.epochs,
               ") and FitOptions::steps (", o.steps,
               ") are mutually exclusive: set one of them");
  JACNET_CHECK(o.epochs > 0 || o.steps > 0, ValueError, where,
               "nothing to train: FitOptions::epochs and FitOptions::steps are both 0 (set one)");
  JACNET_CHECK(N > 0, ValueError, where, "empty training set");
  JACNET_CHECK(labels.empty() || static_cast<Index>(labels.size()) == N, ShapeError, where, N,
               " samples but ", labels.size(), " labels");
  if constexpr (losses::is_teacher_data_v<Teacher>)
    JACNET_CHECK(teacher->outputs.rows() == N, ShapeError, where, "TeacherData has ",
                 teacher->outputs.rows(), " samples, the training set has ", N,
                 " (record it on the same rows)");
  const CheckpointOptions& ck = o.checkpoint;
  const bool checkpointing = !ck.path.empty();
  JACNET_CHECK(ck.every_steps >= 0 && ck.every_seconds >= 0.0, ValueError, where,
               "checkpoint every_steps ", ck.every_steps, " and every_seconds ", ck.every_seconds,
               " must be non-negative");
  JACNET_CHECK(!checkpointing || comm.size() == 1, ValueError, where, "checkpoint '",
               ck.path.string(), "': checkpoints are written by one process; this run has ",
               comm.size(), " ranks");
  if constexpr (!StatefulOptimizer<O>)
    JACNET_CHECK(!checkpointing, ValueError, where, "checkpoint '", ck.path.string(),
                 "': the optimizer ", typeid(O).name(),
                 " cannot save its state (it needs describe, state_vectors, restore_state)");

  const int rank = comm.rank(), ranks = comm.size();
  if (ranks > 1) {
    check_ranks_agree(comm, net, loss, opt, schedule, X, labels, teacher, o);
    dist::broadcast_params(comm, net);
  }

  Batches batches(N, o.batch_size, o.seed, {.shuffle = true, .drop_last = o.drop_last});
  const Index nb = batches.num_batches();
  JACNET_CHECK(nb > 0, ValueError, where, "no batch in an epoch: ", N,
               " samples with batch_size ", o.batch_size, " and drop_last");
  const bool by_steps = o.steps > 0;
  const std::int64_t n_epochs = by_steps ? (o.steps + nb - 1) / nb : o.epochs;
  // Rank 0 draws like a single process; the others get their own streams.
  losses::Workspace<T> ws(o.seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank));
  History hist;
  hist.term_names = losses::term_names(loss);
  const std::size_t n_terms = hist.term_names.size();

  FitPosition pos;
  pos.term_sums.assign(n_terms, 0.0);
  std::vector<std::pair<std::string, std::string>> identity;
  bool resumed = false;
  if (checkpointing) {
    identity = checkpoint_identity(net, loss, opt, schedule, X, labels, teacher, o);
    std::error_code ec;
    if (ck.resume && std::filesystem::exists(ck.path, ec)) {
      if constexpr (StatefulOptimizer<O>) {
        const CheckpointData c = read_checkpoint(ck.path);
        check_identity(c, identity);
        pos = load_checkpoint(c, net, opt, ws, hist, n_epochs, nb);
        resumed = true;
        if (pos.finished) return hist;
      }
    }
  }
  auto write_checkpoint_now = [&] {
    if constexpr (StatefulOptimizer<O>) {
      write_checkpoint(ck.path, make_checkpoint(identity, net, opt, ws, hist, pos));
      if (ck.on_write) ck.on_write(ck.path, pos.iterations);
    }
  };
  using Clock = std::chrono::steady_clock;
  auto last_write = Clock::now();

  ProgressOptions popt = o.progress;
  if (!comm.is_root()) popt.quiet = true;
  Progress progress(n_epochs, batches.samples_per_epoch(), popt,
                    o.progress_stream ? *o.progress_stream : std::cerr);
  if (by_steps) progress.set_steps(o.steps, pos.iterations);

  Matrix<T> Xb;
  std::vector<int> yb;
  [[maybe_unused]] losses::TeacherData<T> tb;
  bool stop = false;
  for (std::int64_t e = pos.epoch; e < n_epochs && !stop; ++e) {
    // An epoch begun before the checkpoint continues with its sums; otherwise it starts afresh.
    const bool continuing = resumed && e == pos.epoch && pos.batch > 0;
    if (!continuing) {
      pos.epoch = e;
      pos.batch = 0;
      pos.loss_sum = 0.0;
      pos.term_sums.assign(n_terms, 0.0);
      pos.correct = pos.done = pos.skipped = 0;
      pos.seconds = 0.0;
      if (!o.schedule_per_step) opt.set_lr(schedule(e));
      pos.lr = o.schedule_per_step ? schedule(pos.step) : opt.lr();
    }
    const auto t0 = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(pos.seconds));
    progress.start_epoch(e, pos.done);
    batches.set_epoch(e);
    for (; pos.batch < nb && !(by_steps && pos.iterations >= o.steps);) {
      const Index k = pos.batch;
      const std::span<const Index> global_idx = batches.batch(k);
      if (o.schedule_per_step) opt.set_lr(schedule(pos.step));
      // This rank's rows of the global batch (all of them with one rank).
      const auto rows = static_cast<Index>(global_idx.size());
      const dist::Shard sh = dist::shard(rows, rank, ranks);
      const std::span<const Index> idx = global_idx.subspan(static_cast<std::size_t>(sh.begin),
                                                            static_cast<std::size_t>(sh.size()));
      gather_rows(X, idx, Xb);
      if (!labels.empty()) gather_labels(labels, idx, yb);
      const std::span<const int> yspan(yb.data(), labels.empty() ? 0 : yb.size());

      // Value and gradient of the global batch (shard + one allreduce with several ranks), the
      // correct count riding along; then the finiteness check, identical on every rank.
      auto run_step = [&](const auto& batch) -> bool {
        T counted[1] = {T(0)};
        Index local_correct = 0;
        if (ranks == 1) {
          losses::value_and_grad(loss, net, batch, ws);
          if (!labels.empty())
            local_correct = count_correct(ws.pass.outputs(), yspan, o.accuracy_outputs);
        } else {
          if (sh.size() > 0) {
            losses::value_and_grad(loss, net, batch, ws);
            if (!labels.empty())
              counted[0] =
                  static_cast<T>(count_correct(ws.pass.outputs(), yspan, o.accuracy_outputs));
          } else {
            dist::zero_result(loss, net, ws);
          }
          dist::allreduce_result(comm, ws.result, sh.size(), rows, std::span<T>(counted, 1));
          local_correct = static_cast<Index>(std::llround(static_cast<double>(counted[0])));
        }
        const losses::Result<T>& r = ws.result;
        if (!all_finite(r)) {
          if (o.on_nonfinite == NonFinite::skip) return false;
          const std::string term =
              sh.size() > 0 ? first_nonfinite_term(loss, net, batch, o.seed) : std::string();
          throw NonFiniteError(
              nonfinite_message(net, r, hist.term_names, pos.step, e, k, rank, ranks, term));
        }
        const double v = static_cast<double>(r.value);
        pos.loss_sum += v * static_cast<double>(rows);
        for (std::size_t i = 0; i < n_terms && i < r.terms.size(); ++i)
          pos.term_sums[i] += static_cast<double>(r.terms[i].value) * static_cast<double>(rows);
        pos.correct += local_correct;
        opt.step(net.params(), r.grad);
        return true;
      };
      bool stepped = false;
      if constexpr (std::is_same_v<Teacher, losses::NoTeacher>) {
        stepped = run_step(losses::Batch<T>(Xb, yspan));
      } else if constexpr (losses::is_teacher_data_v<Teacher>) {
        gather_teacher(*teacher, idx, tb);
        stepped = run_step(losses::Batch<T, Teacher>(Xb, yspan, tb));
      } else {
        stepped = run_step(losses::Batch<T, Teacher>(Xb, yspan, *teacher));
      }
      ++pos.batch;
      ++pos.iterations;
      if (stepped) {
        pos.done += rows;
        ++pos.step;
      } else {
        ++pos.skipped;
      }
      progress.update(pos.done,
                      pos.done > 0 ? pos.loss_sum / static_cast<double>(pos.done) : NAN,
                      labels.empty() || pos.done == 0
                          ? NAN
                          : static_cast<double>(pos.correct) / static_cast<double>(pos.done),
                      pos.iterations);
      if (checkpointing) {
        const auto now = Clock::now();
        const bool by_count = ck.every_steps > 0 && pos.iterations % ck.every_steps == 0;
        const bool by_time = ck.every_seconds > 0.0 &&
                             std::chrono::duration<double>(now - last_write).count() >=
                                 ck.every_seconds;
        if (by_count || by_time) {
          pos.seconds = std::chrono::duration<double>(now - t0).count();
          write_checkpoint_now();
          last_write = Clock::now();
        }
      }
    }
    EpochRecord rec;
    rec.epoch = e;
    rec.lr = pos.lr;
    rec.terms = pos.term_sums;
    rec.samples = pos.done;
    rec.skipped = pos.skipped;
    if (pos.done > 0) {
      rec.loss = pos.loss_sum / static_cast<double>(pos.done);
      for (auto& t : rec.terms) t /= static_cast<double>(pos.done);
      if (!labels.empty())
        rec.accuracy = static_cast<double>(pos.correct) / static_cast<double>(pos.done);
    } else {
      for (auto& t : rec.terms) t = NAN;
    }
    rec.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    progress.end_epoch(rec.loss, rec.accuracy);
    hist.epochs.push_back(std::move(rec));
    if (o.on_epoch && !o.on_epoch(hist.epochs.back())) stop = true;
    if (by_steps && pos.iterations >= o.steps) stop = true;
    // The next epoch starts from zero (a checkpoint written now holds position (e + 1, 0)).
    pos.epoch = e + 1;
    pos.batch = 0;
    pos.loss_sum = 0.0;
    pos.term_sums.assign(n_terms, 0.0);
    pos.correct = pos.done = pos.skipped = 0;
    pos.seconds = 0.0;
    resumed = false;
  }
  hist.iterations = pos.iterations;
  if (checkpointing && ck.at_end) {
    pos.finished = true;
    write_checkpoint_now();
  }
  Index samples = 0, skipped = 0;
  for (const auto& r : hist.epochs) {
    samples += r.samples;
    skipped += r.skipped;
  }
  progress.finish({.epochs = static_cast<std::int64_t>(hist.epochs.size()),
                   .steps = hist.iterations,
                   .samples = samples,
                   .skipped = skipped,
                   .loss = hist.epochs.empty() ? NAN : hist.epochs.back().loss,
                   .accuracy = hist.epochs.empty() ? NAN : hist.epochs.back().accuracy,
                   .resumed = hist.resumed_at >= 0});
  return hist;
}

template <class X>
inline constexpr bool is_fit_options = std::is_same_v<std::remove_cvref_t<X>, FitOptions>;

}  // namespace detail

/// Trains `net` on (X, labels) without a teacher (labels may be empty if the loss needs none).
/// The optional last argument is a communicator for data-parallel training (see the header).
template <class Net, losses::LossExpression L, Optimizer O, class Comm = dist::SerialCommunicator>
requires dist::CommunicatorLike<Comm> History fit(Net& net, const L& loss, O& opt,
                                                  const Schedule& schedule,
                                                  const Matrix<typename Net::Scalar>& X,
                                                  std::span<const int> labels,
                                                  const FitOptions& o = {}, const Comm& comm = {}) {
  return detail::fit_impl<Net, L, O, losses::NoTeacher>(net, loss, opt, schedule, X, labels,
                                                        nullptr, o, comm);
}

/// Trains `net` against a teacher: a net (evaluated on every batch) or a
/// losses::TeacherData<T> recorded on the rows of X (gathered per batch).
template <class Net, losses::LossExpression L, Optimizer O, class Teacher,
          class Comm = dist::SerialCommunicator>
requires(!detail::is_fit_options<Teacher> && dist::CommunicatorLike<Comm>) History
    fit(Net& net, const L& loss, O& opt, const Schedule& schedule,
        const Matrix<typename Net::Scalar>& X, std::span<const int> labels, const Teacher& teacher,
        const FitOptions& o = {}, const Comm& comm = {}) {
  return detail::fit_impl<Net, L, O, Teacher>(net, loss, opt, schedule, X, labels, &teacher, o,
                                              comm);
}

}  // namespace jacnet::train
