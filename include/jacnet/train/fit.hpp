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
// usual running training accuracy; NaN without labels). A non-finite batch loss stops training
// with a ValueError naming epoch and batch. The loss workspace is seeded with `seed` too, so a
// run is reproducible from (initial parameters, seed). on_epoch(record) runs after each epoch
// (e.g. to evaluate a validation set into record.val_accuracy); returning false stops early.
//
//   train::Adam<float> opt({.lr = 1e-3});
//   auto hist = train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(1e-3),
//                          X, y, {.epochs = 20, .batch_size = 64, .seed = 1});
//   // distillation: pass a teacher net, or losses::TeacherData recorded on the same X rows
//   auto h2 = train::fit(student, losses::CrossEntropy{} + losses::OutputMatch{}, opt, sched, X, y,
//                        teacher, {.epochs = 20});
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
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

struct FitOptions {
  std::int64_t epochs = 1;
  Index batch_size = 128;
  std::uint64_t seed = 0;  ///< batch order and the loss workspace's random draws
  bool drop_last = false;
  bool schedule_per_step = false;  ///< schedule(t) counts optimizer steps instead of epochs
  Index accuracy_outputs = 0;      ///< argmax over the first k outputs (0: all outputs)
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

template <class Net, losses::LossExpression L, Optimizer O, class Teacher>
History fit_impl(Net& net, const L& loss, O& opt, const Schedule& schedule,
                 const Matrix<typename Net::Scalar>& X, std::span<const int> labels,
                 const Teacher* teacher, const FitOptions& o) {
  using T = typename Net::Scalar;
  static_assert(std::is_same_v<typename O::Scalar, T>,
                "jacnet::train::fit: the optimizer's scalar must be the net's");
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

  Batches batches(N, o.batch_size, o.seed, {.shuffle = true, .drop_last = o.drop_last});
  losses::Workspace<T> ws(o.seed);
  Progress progress(o.epochs, batches.samples_per_epoch(), o.progress,
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
    for (std::span<const Index> idx : batches.epoch(e)) {
      if (o.schedule_per_step) opt.set_lr(schedule(step));
      gather_rows(X, idx, Xb);
      if (!labels.empty()) gather_labels(labels, idx, yb);
      const std::span<const int> yspan(yb.data(), labels.empty() ? 0 : yb.size());
      const losses::Result<T>* r = nullptr;
      if constexpr (std::is_same_v<Teacher, losses::NoTeacher>) {
        r = &losses::value_and_grad(loss, net, losses::Batch<T>(Xb, yspan), ws);
      } else if constexpr (is_teacher_data<Teacher>) {
        gather_teacher(*teacher, idx, tb);
        r = &losses::value_and_grad(loss, net, losses::Batch<T, Teacher>(Xb, yspan, tb), ws);
      } else {
        r = &losses::value_and_grad(loss, net, losses::Batch<T, Teacher>(Xb, yspan, *teacher), ws);
      }
      const double v = static_cast<double>(r->value);
      JACNET_CHECK(std::isfinite(v), ValueError, where, "the loss is ", v, " at epoch ", e,
                   ", batch ", k, " (diverged: lower the learning rate?)");
      const auto rows = static_cast<Index>(idx.size());
      loss_sum += v * static_cast<double>(rows);
      for (std::size_t i = 0; i < n_terms && i < r->terms.size(); ++i)
        rec.terms[i] += static_cast<double>(r->terms[i].value) * static_cast<double>(rows);
      if (!labels.empty()) correct += count_correct(ws.pass.outputs(), yspan, o.accuracy_outputs);
      opt.step(net.params(), r->grad);
      done += rows;
      ++step;
      ++k;
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

}  // namespace detail

/// Trains `net` on (X, labels) without a teacher (labels may be empty if the loss needs none).
template <class Net, losses::LossExpression L, Optimizer O>
History fit(Net& net, const L& loss, O& opt, const Schedule& schedule,
            const Matrix<typename Net::Scalar>& X, std::span<const int> labels,
            const FitOptions& o = {}) {
  return detail::fit_impl<Net, L, O, losses::NoTeacher>(net, loss, opt, schedule, X, labels,
                                                        nullptr, o);
}

/// Trains `net` against a teacher: a net (evaluated on every batch) or a
/// losses::TeacherData<T> recorded on the rows of X (gathered per batch).
template <class Net, losses::LossExpression L, Optimizer O, class Teacher>
requires(!std::is_same_v<std::remove_cvref_t<Teacher>, FitOptions>) History
    fit(Net& net, const L& loss, O& opt, const Schedule& schedule,
        const Matrix<typename Net::Scalar>& X, std::span<const int> labels, const Teacher& teacher,
        const FitOptions& o = {}) {
  return detail::fit_impl<Net, L, O, Teacher>(net, loss, opt, schedule, X, labels, &teacher, o);
}

}  // namespace jacnet::train
