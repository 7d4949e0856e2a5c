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
#include <functional>
#include <iostream>
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
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/progress.hpp"
#include "jacnet/train/schedule.hpp"

namespace jacnet::train {

/// One epoch of a fit.
struct EpochRecord {
  std::int64_t epoch = 0;
  double lr = 0.0;            ///< rate at the epoch's first step
  double loss = NAN;          ///< mean of the total loss over the epoch's samples
  std::vector<double> terms;  ///< mean unweighted value of each term (History::term_names)
  double accuracy = NAN;      ///< running training accuracy (outputs before each step)
  Index samples = 0;
  Index skipped = 0;  ///< batches skipped for a non-finite loss or gradient (NonFinite::skip)
  double seconds = 0.0;
  double val_loss = NAN;  ///< for on_epoch to fill (fit leaves them NaN)
  double val_accuracy = NAN;
};

struct History {
  std::vector<std::string> term_names;
  std::vector<EpochRecord> epochs;
  const EpochRecord& last() const {
    JACNET_CHECK(!epochs.empty(), ValueError, "train::History::last", "no epoch was run");
    return epochs.back();
  }
};

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
  std::int64_t epochs = 1;
  Index batch_size = 128;
  std::uint64_t seed = 0;  ///< batch order and the loss workspace's random draws
  bool drop_last = false;
  bool schedule_per_step = false;  ///< schedule(t) counts optimizer steps instead of epochs
  Index accuracy_outputs = 0;      ///< argmax over the first k outputs (0: all outputs)
  NonFinite on_nonfinite = NonFinite::stop;
  ProgressOptions progress{};
  std::ostream* progress_stream = nullptr;       ///< default std::cerr
  std::function<bool(EpochRecord&)> on_epoch{};  ///< after each epoch; false stops training
};

/// out ← the rows of a whole-data-set TeacherData for the samples idx (outputs, Jacobian blocks
/// of Ct rows per sample, recorded activations); buffers are reused across calls.
template <class T>
void gather_teacher(const losses::TeacherData<T>& all, std::span<const Index> idx,
                    losses::TeacherData<T>& out) {
  gather_rows(all.outputs, idx, out.outputs);
  const Index N = all.outputs.rows(), Ct = all.outputs.cols();
  if (all.jacobian.size() > 0) {
    JACNET_CHECK(all.jacobian.rows() == N * Ct, ShapeError, "train::gather_teacher",
                 "TeacherData::jacobian has ", all.jacobian.rows(),
                 " rows, expected N*Ct = ", N * Ct);
    const auto B = static_cast<Index>(idx.size());
    if (out.jacobian.rows() != B * Ct || out.jacobian.cols() != all.jacobian.cols())
      out.jacobian.resize(B * Ct, all.jacobian.cols());
    for (Index r = 0; r < B; ++r)
      out.jacobian.middleRows(r * Ct, Ct) =
          all.jacobian.middleRows(idx[static_cast<std::size_t>(r)] * Ct, Ct);
  } else if (out.jacobian.size() > 0) {
    out.jacobian.resize(0, 0);
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

template <class X>
inline constexpr bool is_teacher_data = false;
template <class T>
inline constexpr bool is_teacher_data<losses::TeacherData<T>> = true;

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
  fo.add("epochs", o.epochs).add("batch_size", static_cast<long long>(o.batch_size));
  fo.add("seed", o.seed).add("drop_last", o.drop_last).add("per_step", o.schedule_per_step);
  fo.add("accuracy_outputs", static_cast<long long>(o.accuracy_outputs));
  fo.add("on_nonfinite", static_cast<int>(o.on_nonfinite));
  for (std::int64_t t = 0; t < 16; ++t) fo.add("schedule", schedule(t));
  dist::check_same(comm, "optimizer, schedule and fit options", fo.value());
  dist::add_data(fd, "X", X);
  fd.add("labels", static_cast<long long>(labels.size()));
  fd.add_bytes(labels.data(), labels.size() * sizeof(int));
  fd.add("teacher", typeid(Teacher).name());
  if constexpr (is_teacher_data<Teacher>) {
    dist::add_data(fd, "teacher outputs", teacher->outputs);
    dist::add_data(fd, "teacher jacobian", teacher->jacobian);
    for (const auto& a : teacher->activations) dist::add_data(fd, "teacher activations", a);
  } else if constexpr (!std::is_same_v<Teacher, losses::NoTeacher>) {
    dist::add_net(fd, *teacher);
    const auto p = teacher->params();
    fd.add_bytes(p.data(), static_cast<std::size_t>(p.size()) * sizeof(typename Net::Scalar));
  }
  dist::check_same(comm, "training data (X, labels, teacher)", fd.value());
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
  JACNET_CHECK(N > 0, ValueError, where, "empty training set");
  JACNET_CHECK(labels.empty() || static_cast<Index>(labels.size()) == N, ShapeError, where, N,
               " samples but ", labels.size(), " labels");
  if constexpr (is_teacher_data<Teacher>)
    JACNET_CHECK(teacher->outputs.rows() == N, ShapeError, where, "TeacherData has ",
                 teacher->outputs.rows(), " samples, the training set has ", N,
                 " (record it on the same rows)");

  const int rank = comm.rank(), ranks = comm.size();
  if (ranks > 1) {
    check_ranks_agree(comm, net, loss, opt, schedule, X, labels, teacher, o);
    dist::broadcast_params(comm, net);
  }

  Batches batches(N, o.batch_size, o.seed, {.shuffle = true, .drop_last = o.drop_last});
  // Rank 0 draws like a single process; the others get their own streams.
  losses::Workspace<T> ws(o.seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank));
  ProgressOptions popt = o.progress;
  if (!comm.is_root()) popt.quiet = true;
  Progress progress(o.epochs, batches.samples_per_epoch(), popt,
                    o.progress_stream ? *o.progress_stream : std::cerr);
  History hist;
  hist.term_names = losses::term_names(loss);
  const std::size_t n_terms = hist.term_names.size();

  Matrix<T> Xb;
  std::vector<int> yb;
  [[maybe_unused]] losses::TeacherData<T> tb;
  std::int64_t step = 0;
  for (std::int64_t e = 0; e < o.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    progress.start_epoch(e);
    EpochRecord rec;
    rec.epoch = e;
    rec.terms.assign(n_terms, 0.0);
    double loss_sum = 0.0;
    Index correct = 0, done = 0, k = 0;
    if (!o.schedule_per_step) opt.set_lr(schedule(e));
    rec.lr = o.schedule_per_step ? schedule(step) : opt.lr();
    for (std::span<const Index> global_idx : batches.epoch(e)) {
      if (o.schedule_per_step) opt.set_lr(schedule(step));
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
              nonfinite_message(net, r, hist.term_names, step, e, k, rank, ranks, term));
        }
        const double v = static_cast<double>(r.value);
        loss_sum += v * static_cast<double>(rows);
        for (std::size_t i = 0; i < n_terms && i < r.terms.size(); ++i)
          rec.terms[i] += static_cast<double>(r.terms[i].value) * static_cast<double>(rows);
        correct += local_correct;
        opt.step(net.params(), r.grad);
        return true;
      };
      bool stepped = false;
      if constexpr (std::is_same_v<Teacher, losses::NoTeacher>) {
        stepped = run_step(losses::Batch<T>(Xb, yspan));
      } else if constexpr (is_teacher_data<Teacher>) {
        gather_teacher(*teacher, idx, tb);
        stepped = run_step(losses::Batch<T, Teacher>(Xb, yspan, tb));
      } else {
        stepped = run_step(losses::Batch<T, Teacher>(Xb, yspan, *teacher));
      }
      ++k;
      if (!stepped) {
        ++rec.skipped;
        continue;
      }
      done += rows;
      ++step;
      progress.update(done, loss_sum / static_cast<double>(done),
                      labels.empty() ? NAN : static_cast<double>(correct) / done);
    }
    rec.samples = done;
    if (done > 0) {
      rec.loss = loss_sum / static_cast<double>(done);
      for (auto& t : rec.terms) t /= static_cast<double>(done);
      if (!labels.empty()) rec.accuracy = static_cast<double>(correct) / static_cast<double>(done);
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.end_epoch(rec.loss, rec.accuracy);
    hist.epochs.push_back(std::move(rec));
    if (o.on_epoch && !o.on_epoch(hist.epochs.back())) break;
  }
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
