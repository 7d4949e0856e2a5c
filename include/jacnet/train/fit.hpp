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
#include "jacnet/train/fit_options.hpp"
#include "jacnet/train/history.hpp"
#include "jacnet/train/nonfinite.hpp"
#include "jacnet/train/optimizer.hpp"
#include "jacnet/train/progress.hpp"
#include "jacnet/train/run_state.hpp"
#include "jacnet/train/schedule.hpp"
#include "jacnet/train/teacher_rows.hpp"

namespace jacnet::train {

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
