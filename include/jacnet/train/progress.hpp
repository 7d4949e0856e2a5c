#pragma once
// jacnet/train/progress.hpp — rate-limited progress lines while training, and a summary per run.
//
//   [teacher] epoch 3/10  45056/60000  loss 0.4312  acc 85.20%  10240 samples/s  ETA 0:42
//   [student] step 120/1000  epoch 31  loss 0.0312  acc 100.00%  2010 samples/s  ETA 0:05
//   [teacher] done: 10 epochs, 4690 steps, 600000 samples in 1:02 (9677 samples/s)  loss 0.3121  acc 88.90%
// Throughput is samples processed since the first start_epoch() divided by the wall time since
// then; ETA = remaining work / that rate, where the work is samples ((epochs − epoch) ·
// samples_per_epoch − samples done in the current epoch; epochs numbered from 1 in the line, from
// 0 in the calls) or, for a run of a fixed number of steps (set_steps), steps.
// How often a line is written:
//  * on a terminal (in_place), update() and end_epoch() rewrite one line in place ('\r'), at most
//    every min_interval seconds;
//  * elsewhere (logs, pipes) a new line at most every `interval` seconds (default 5), from
//    update() or end_epoch() — a 2000-epoch run of a few samples prints a line every 5 s, not
//    2000 lines; every_epoch = true adds a line at the end of every epoch;
//  * finish() writes one summary line for the run (unless summary = false).
// quiet = true writes nothing. Accuracy or loss passed as NaN is left out of the line. `clock`
// replaces the wall clock (seconds; for tests).
//
//   train::Progress progress(epochs, n, {.label = "teacher", .quiet = quiet});
//   for (int e = 0; e < epochs; ++e) {
//     progress.start_epoch(e);
//     ... progress.update(done, running_loss, running_acc);
//     progress.end_epoch(epoch_loss, epoch_acc);
//   }
//   progress.finish({.epochs = epochs, .steps = steps, .loss = l, .accuracy = a});
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::train {

struct ProgressOptions {
  std::string label{};  ///< prefix, e.g. "teacher" (printed as "[teacher] ")
  bool quiet = false;   ///< write nothing
  int in_place = -1;    ///< 1: rewrite the line on update(), 0: never, -1: if stderr is a tty
  double min_interval = 0.25;  ///< seconds between in-place rewrites
  double interval = 5.0;       ///< seconds between new lines when not in place (0: every call)
  bool every_epoch = false;    ///< also a line at the end of every epoch
  bool summary = true;         ///< one summary line at finish()
  std::function<double()> clock{};  ///< seconds (default: steady_clock); for tests
};

/// What one progress line shows.
struct ProgressStatus {
  std::string label{};
  std::int64_t epoch = 0;  ///< 0-based
  std::int64_t epochs = 0;
  Index samples = 0;  ///< done in this epoch
  Index samples_per_epoch = 0;
  std::int64_t step = 0;   ///< steps done in the run (shown when steps > 0)
  std::int64_t steps = 0;  ///< the run's length in steps (0: a run of epochs)
  double loss = NAN;
  double accuracy = NAN;  ///< fraction in [0, 1]
  double samples_per_second = NAN;
  double eta_seconds = NAN;
};

/// What the summary line of a run shows.
struct ProgressSummary {
  std::int64_t epochs = 0;  ///< epochs run (the last one may be partial)
  std::int64_t steps = 0;   ///< batches run
  Index samples = 0;        ///< samples trained on
  Index skipped = 0;        ///< batches skipped (non-finite)
  double loss = NAN;        ///< of the last epoch
  double accuracy = NAN;
  bool resumed = false;  ///< the run continued from a checkpoint
};

class Progress {
 public:
  Progress(std::int64_t epochs, Index samples_per_epoch, ProgressOptions opt = {},
           std::ostream& os = std::cerr)
      : opt_(std::move(opt)), os_(os), epochs_(epochs), per_epoch_(samples_per_epoch) {
    JACNET_CHECK(epochs >= 0, ValueError, "Progress", "epochs ", epochs, " is negative");
    JACNET_CHECK(samples_per_epoch >= 0, ValueError, "Progress", "samples per epoch ",
                 samples_per_epoch, " is negative");
    JACNET_CHECK(opt_.interval >= 0.0 && opt_.min_interval >= 0.0, ValueError, "Progress",
                 "intervals must be non-negative (interval ", opt_.interval, ", min_interval ",
                 opt_.min_interval, ")");
    in_place_ = opt_.in_place < 0 ? (&os == &std::cerr && ::isatty(2) != 0) : opt_.in_place != 0;
  }

  /// A run of `steps` steps (instead of whole epochs): lines show "step s/steps" and the ETA
  /// counts steps. `done` steps were run before (a resumed run).
  void set_steps(std::int64_t steps, std::int64_t done = 0) {
    JACNET_CHECK(steps >= 0 && done >= 0, ValueError, "Progress::set_steps", "steps ", steps,
                 ", done ", done);
    steps_ = steps;
    step_ = done;
    step_base_ = done;
  }

  /// Starts epoch `epoch`; `samples_done` of it were done before (a resumed run).
  void start_epoch(std::int64_t epoch, Index samples_done = 0) {
    epoch_ = epoch;
    samples_ = samples_done;
    const double now = seconds();
    if (!started_) {
      start_ = now;
      last_line_ = now;
      started_ = true;
      base_ = samples_done;  // done before this process: not in the rate
    }
    last_draw_ = -1e300;
  }

  /// `samples` done so far in this epoch (and `step` steps in the run, for step-count runs), with
  /// the running loss and accuracy.
  void update(Index samples, double loss, double accuracy, std::int64_t step = -1) {
    samples_ = samples;
    if (step >= 0) step_ = step;
    if (opt_.quiet) return;
    const double now = seconds();
    if (in_place_) {
      if (now - last_draw_ < opt_.min_interval) return;
      last_draw_ = now;
      os_ << '\r' << format(status(loss, accuracy)) << "\x1b[K" << std::flush;
      drawn_ = true;
    } else if (now - last_line_ >= opt_.interval) {
      line(loss, accuracy, now);
    }
  }

  /// End of the epoch (all its samples done, or the last steps of a step-count run).
  void end_epoch(double loss, double accuracy) {
    if (steps_ == 0) samples_ = per_epoch_;
    if (!opt_.quiet) {
      const double now = seconds();
      if (opt_.every_epoch) {
        if (in_place_ && drawn_) os_ << '\r';
        os_ << format(status(loss, accuracy)) << (in_place_ ? "\x1b[K" : "") << '\n' << std::flush;
        drawn_ = false;
        last_line_ = now;
      } else if (in_place_) {
        if (now - last_draw_ >= opt_.min_interval) {
          last_draw_ = now;
          os_ << '\r' << format(status(loss, accuracy)) << "\x1b[K" << std::flush;
          drawn_ = true;
        }
      } else if (now - last_line_ >= opt_.interval) {
        line(loss, accuracy, now);
      }
    }
    completed_ += samples_;
    samples_ = 0;
  }

  /// The run's summary line (clears an in-place line first).
  void finish(const ProgressSummary& s) {
    if (opt_.quiet || !opt_.summary) return;
    if (in_place_ && drawn_) os_ << '\r';
    os_ << format_summary(s, started_ ? seconds() - start_ : 0.0, processed())
        << (in_place_ && drawn_ ? "\x1b[K" : "") << '\n'
        << std::flush;
    drawn_ = false;
  }

  /// Status of the current epoch from the clock.
  ProgressStatus status(double loss, double accuracy) const {
    ProgressStatus s;
    s.label = opt_.label;
    s.epoch = epoch_;
    s.epochs = epochs_;
    s.samples = samples_;
    s.samples_per_epoch = per_epoch_;
    s.step = step_;
    s.steps = steps_;
    s.loss = loss;
    s.accuracy = accuracy;
    const double elapsed = started_ ? seconds() - start_ : 0.0;
    const double done = static_cast<double>(processed());
    s.samples_per_second = elapsed > 0.0 && done > 0.0 ? done / elapsed : NAN;
    if (steps_ > 0) {
      const double steps_done = static_cast<double>(step_ - step_base_);
      s.eta_seconds = eta(static_cast<double>(steps_ - step_),
                          elapsed > 0.0 && steps_done > 0.0 ? steps_done / elapsed : NAN);
    } else {
      const double remaining =
          static_cast<double>(epochs_ - epoch_) * static_cast<double>(per_epoch_) -
          static_cast<double>(samples_);
      s.eta_seconds = eta(remaining, s.samples_per_second);
    }
    return s;
  }

  /// remaining / rate in seconds (NaN if the rate is unknown).
  static double eta(double remaining, double rate) {
    if (!(rate > 0.0)) return NAN;
    return std::max(0.0, remaining) / rate;
  }

  /// "1:02:03" for hours, "2:03" below an hour, "?" for NaN.
  static std::string format_duration(double seconds) {
    if (!std::isfinite(seconds)) return "?";
    auto total = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
    const std::int64_t h = total / 3600, m = (total / 60) % 60, sec = total % 60;
    char buf[48];
    if (h > 0)
      std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                    static_cast<long long>(m), static_cast<long long>(sec));
    else
      std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m),
                    static_cast<long long>(sec));
    return buf;
  }

  /// The progress line for a status (no line ending).
  static std::string format(const ProgressStatus& s) {
    std::ostringstream os;
    if (!s.label.empty()) os << '[' << s.label << "] ";
    if (s.steps > 0)
      os << "step " << s.step << '/' << s.steps << "  epoch " << s.epoch + 1;
    else
      os << "epoch " << s.epoch + 1 << '/' << s.epochs << "  " << s.samples << '/'
         << s.samples_per_epoch;
    append_metrics(os, s.loss, s.accuracy);
    if (!std::isnan(s.samples_per_second)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "  %.0f samples/s", s.samples_per_second);
      os << buf;
    }
    os << "  ETA " << format_duration(s.eta_seconds);
    return os.str();
  }

  /// The summary line (no line ending): `seconds` of wall time, `samples` trained in them.
  std::string format_summary(const ProgressSummary& s, double seconds, Index samples) const {
    std::ostringstream os;
    if (!opt_.label.empty()) os << '[' << opt_.label << "] ";
    os << "done" << (s.resumed ? " (resumed)" : "") << ": " << s.epochs
       << (s.epochs == 1 ? " epoch, " : " epochs, ") << s.steps
       << (s.steps == 1 ? " step, " : " steps, ") << s.samples << " samples";
    if (s.skipped > 0) os << ", " << s.skipped << " skipped";
    os << " in " << format_duration(seconds);
    if (seconds > 0.0 && samples > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (%.0f samples/s)",
                    static_cast<double>(samples) / seconds);
      os << buf;
    }
    append_metrics(os, s.loss, s.accuracy);
    return os.str();
  }

 private:
  static void append_metrics(std::ostream& os, double loss, double accuracy) {
    char buf[64];
    if (!std::isnan(loss)) {
      std::snprintf(buf, sizeof buf, "  loss %.4f", loss);
      os << buf;
    }
    if (!std::isnan(accuracy)) {
      std::snprintf(buf, sizeof buf, "  acc %.2f%%", 100.0 * accuracy);
      os << buf;
    }
  }

  double seconds() const {
    if (opt_.clock) return opt_.clock();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  /// Samples processed since the first start_epoch in this process.
  Index processed() const { return completed_ + samples_ - base_; }

  void line(double loss, double accuracy, double now) {
    os_ << format(status(loss, accuracy)) << '\n' << std::flush;
    last_line_ = now;
  }

  ProgressOptions opt_;
  std::ostream& os_;
  std::int64_t epochs_;
  Index per_epoch_;
  bool in_place_ = false;
  bool started_ = false;
  bool drawn_ = false;
  std::int64_t epoch_ = 0;
  std::int64_t steps_ = 0, step_ = 0, step_base_ = 0;
  Index samples_ = 0;    // done in the current epoch
  Index completed_ = 0;  // done in the epochs ended since the first start_epoch
  Index base_ = 0;       // samples of the first epoch done before start (resumed runs)
  double start_ = 0.0, last_draw_ = -1e300, last_line_ = 0.0;
};

}  // namespace jacnet::train
