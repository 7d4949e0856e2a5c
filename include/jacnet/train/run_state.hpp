#pragma once
// jacnet/train/run_state.hpp — what identifies a train::fit run and where it stands: the training
// data's fingerprint, the data-parallel consistency checks across ranks, a checkpoint's identity
// fields, and saving / restoring the run's state (parameters, optimizer, random engine, history,
// position) through train/checkpoint.hpp.
#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/dist/consistency.hpp"
#include "jacnet/dist/data_parallel.hpp"
#include "jacnet/losses/loss.hpp"
#include "jacnet/train/checkpoint.hpp"
#include "jacnet/train/fit_options.hpp"
#include "jacnet/train/history.hpp"
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/schedule.hpp"

namespace jacnet::train::detail {

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

}  // namespace jacnet::train::detail
