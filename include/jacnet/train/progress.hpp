#pragma once
// jacnet/train/progress.hpp — a progress line on stderr while training.
//
//   epoch 3/10  45056/60000  loss 0.4312  acc 85.20%  10240 samples/s  ETA 0:42
// Throughput is samples processed since the first start_epoch() divided by the wall time since
// then (steady_clock); ETA = remaining samples of the run / that throughput, remaining =
// (epochs − epoch) · samples_per_epoch − samples done in the current epoch (epochs numbered from 1
// in the line, from 0 in the calls). On a terminal update() rewrites the line in place ('\r',
// at most every min_interval seconds); elsewhere (logs, pipes) only end_epoch() lines are written.
// quiet = true writes nothing. Accuracy or loss passed as NaN is left out of the line.
//
//   train::Progress progress(epochs, n, {.label = "teacher", .quiet = quiet});
//   for (int e = 0; e < epochs; ++e) {
//     progress.start_epoch(e);
//     ... progress.update(done, running_loss, running_acc);
//     progress.end_epoch(epoch_loss, epoch_acc);
//   }
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
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
};

/// What one progress line shows.
struct ProgressStatus {
  std::string label{};
  std::int64_t epoch = 0;  ///< 0-based
  std::int64_t epochs = 0;
  Index samples = 0;  ///< done in this epoch
  Index samples_per_epoch = 0;
  double loss = NAN;
  double accuracy = NAN;  ///< fraction in [0, 1]
  double samples_per_second = NAN;
  double eta_seconds = NAN;
};

class Progress {
 public:
  Progress(std::int64_t epochs, Index samples_per_epoch, ProgressOptions opt = {},
           std::ostream& os = std::cerr)
      : opt_(std::move(opt)), os_(os), epochs_(epochs), per_epoch_(samples_per_epoch) {
    JACNET_CHECK(epochs >= 0, ValueError, "Progress", "epochs ", epochs, " is negative");
    JACNET_CHECK(samples_per_epoch >= 0, ValueError, "Progress", "samples per epoch ",
                 samples_per_epoch, " is negative");
    in_place_ = opt_.in_place < 0 ? (&os == &std::cerr && ::isatty(2) != 0) : opt_.in_place != 0;
  }

  void start_epoch(std::int64_t epoch) {
    epoch_ = epoch;
    samples_ = 0;
    const auto now = Clock::now();
    if (!started_) {
      start_ = now;
      started_ = true;
    }
    last_draw_ = now - std::chrono::hours(1);
  }

  /// `samples` done so far in this epoch, with the running loss and accuracy.
  void update(Index samples, double loss, double accuracy) {
    samples_ = samples;
    if (opt_.quiet || !in_place_) return;
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_draw_).count() < opt_.min_interval) return;
    last_draw_ = now;
    os_ << '\r' << format(status(loss, accuracy)) << "\x1b[K" << std::flush;
    drawn_ = true;
  }

  /// Final line of the epoch (all its samples done), ended by a newline.
  void end_epoch(double loss, double accuracy) {
    samples_ = per_epoch_;
    if (!opt_.quiet) {
      if (in_place_ && drawn_) os_ << '\r';
      os_ << format(status(loss, accuracy)) << (in_place_ ? "\x1b[K" : "") << '\n' << std::flush;
    }
    drawn_ = false;
    completed_ += per_epoch_;
    samples_ = 0;
  }

  /// Status of the current epoch from the wall clock.
  ProgressStatus status(double loss, double accuracy) const {
    ProgressStatus s;
    s.label = opt_.label;
    s.epoch = epoch_;
    s.epochs = epochs_;
    s.samples = samples_;
    s.samples_per_epoch = per_epoch_;
    s.loss = loss;
    s.accuracy = accuracy;
    const double elapsed =
        started_ ? std::chrono::duration<double>(Clock::now() - start_).count() : 0.0;
    const double done = static_cast<double>(completed_ + samples_);
    const double remaining =
        static_cast<double>(epochs_ - epoch_) * static_cast<double>(per_epoch_) -
        static_cast<double>(samples_);
    s.samples_per_second = elapsed > 0.0 && done > 0.0 ? done / elapsed : NAN;
    s.eta_seconds = eta(remaining, s.samples_per_second);
    return s;
  }

  /// remaining / rate in seconds (NaN if the rate is unknown).
  static double eta(double remaining_samples, double samples_per_second) {
    if (!(samples_per_second > 0.0)) return NAN;
    return std::max(0.0, remaining_samples) / samples_per_second;
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
    os << "epoch " << s.epoch + 1 << '/' << s.epochs << "  " << s.samples << '/'
       << s.samples_per_epoch;
    char buf[64];
    if (!std::isnan(s.loss)) {
      std::snprintf(buf, sizeof buf, "  loss %.4f", s.loss);
      os << buf;
    }
    if (!std::isnan(s.accuracy)) {
      std::snprintf(buf, sizeof buf, "  acc %.2f%%", 100.0 * s.accuracy);
      os << buf;
    }
    if (!std::isnan(s.samples_per_second)) {
      std::snprintf(buf, sizeof buf, "  %.0f samples/s", s.samples_per_second);
      os << buf;
    }
    os << "  ETA " << format_duration(s.eta_seconds);
    return os.str();
  }

 private:
  using Clock = std::chrono::steady_clock;

  ProgressOptions opt_;
  std::ostream& os_;
  std::int64_t epochs_;
  Index per_epoch_;
  bool in_place_ = false;
  bool started_ = false;
  bool drawn_ = false;
  std::int64_t epoch_ = 0;
  Index samples_ = 0;    // done in the current epoch
  Index completed_ = 0;  // done in the epochs ended since the first start_epoch
  Clock::time_point start_{}, last_draw_{};
};

}  // namespace jacnet::train
