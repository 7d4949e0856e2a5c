// Tests of jacnet/train/progress.hpp: the line format, ETA, quiet and in-place modes, rate
// limiting (on a fake clock), step-count runs and the summary line.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "jacnet/train/progress.hpp"

using namespace jacnet;
using train::Progress;
using train::ProgressStatus;

TEST_CASE("the progress line shows epoch, samples, loss, accuracy, throughput, ETA", "[progress]") {
  ProgressStatus s;
  s.label = "teacher";
  s.epoch = 2;
  s.epochs = 10;
  s.samples = 45056;
  s.samples_per_epoch = 60000;
  s.loss = 0.43121;
  s.accuracy = 0.852;
  s.samples_per_second = 10240.4;
  s.eta_seconds = 42.2;
  CHECK(Progress::format(s) ==
        "[teacher] epoch 3/10  45056/60000  loss 0.4312  acc 85.20%  10240 samples/s  ETA 0:42");
  s.label.clear();
  s.accuracy = NAN;
  s.samples_per_second = NAN;
  s.eta_seconds = NAN;
  CHECK(Progress::format(s) == "epoch 3/10  45056/60000  loss 0.4312  ETA ?");
}

TEST_CASE("durations and ETA", "[progress]") {
  CHECK(Progress::format_duration(0.4) == "0:00");
  CHECK(Progress::format_duration(62) == "1:02");
  CHECK(Progress::format_duration(3723) == "1:02:03");
  CHECK(Progress::format_duration(NAN) == "?");
  CHECK(Progress::eta(1000, 100) == 10.0);
  CHECK(Progress::eta(-5, 100) == 0.0);
  CHECK(std::isnan(Progress::eta(1000, 0)));
}

TEST_CASE("quiet writes nothing, a log gets one line per epoch with every_epoch", "[progress]") {
  std::ostringstream quiet_os;
  Progress quiet(2, 10, {.quiet = true}, quiet_os);
  quiet.start_epoch(0);
  quiet.update(5, 1.0, 0.5);
  quiet.end_epoch(1.0, 0.5);
  quiet.finish({.epochs = 1});
  CHECK(quiet_os.str().empty());

  std::ostringstream os;
  Progress p(2, 10, {.label = "s", .interval = 1e9, .every_epoch = true}, os);  // not a terminal
  p.start_epoch(0);
  p.update(5, 1.0, 0.5);
  CHECK(os.str().empty());
  p.end_epoch(0.9, 0.6);
  p.start_epoch(1);
  const auto mid = p.status(0.8, NAN);
  CHECK(mid.epoch == 1);
  CHECK(mid.samples == 0);
  p.end_epoch(0.7, 0.8);
  const std::string out = os.str();
  CHECK(out.find("[s] epoch 1/2  10/10  loss 0.9000  acc 60.00%") == 0);
  CHECK(out.find("\n[s] epoch 2/2  10/10  loss 0.7000  acc 80.00%") != std::string::npos);
  CHECK(out.find("ETA 0:00\n", out.find("epoch 2/2")) != std::string::npos);  // nothing left
  CHECK(std::count(out.begin(), out.end(), '\n') == 2);
}

TEST_CASE("log lines are rate-limited to one per interval, plus one summary", "[progress]") {
  double now = 0.0;
  std::ostringstream os;
  Progress p(1000, 4, {.label = "r", .interval = 5.0, .clock = [&now] { return now; }}, os);
  for (int e = 0; e < 1000; ++e) {  // 1000 epochs of 0.1 s: 100 s
    p.start_epoch(e);
    now += 0.05;
    p.update(2, 1.0, NAN);
    now += 0.05;
    p.end_epoch(1.0, NAN);
  }
  p.finish({.epochs = 1000, .steps = 2000, .samples = 4000, .loss = 0.5, .accuracy = 0.25});
  const std::string out = os.str();
  const auto lines = std::count(out.begin(), out.end(), '\n');
  CHECK(lines >= 19);  // one every 5 s of 100 s (± rounding of the 0.05 s grid), + summary
  CHECK(lines <= 21);
  CHECK(out.find("[r] epoch ") == 0);
  const std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  CHECK(last == "[r] done: 1000 epochs, 2000 steps, 4000 samples in 1:40 (40 samples/s)  loss 0.5000"
                "  acc 25.00%\n");
  CHECK(p.format_summary({.epochs = 1, .steps = 1, .samples = 3, .skipped = 2, .resumed = true},
                         0.0, 0) == "[r] done (resumed): 1 epoch, 1 step, 3 samples, 2 skipped in 0:00");
}

TEST_CASE("a step-count run shows steps and counts its ETA in steps", "[progress]") {
  double now = 0.0;
  std::ostringstream os;
  Progress p(3, 100, {.interval = 0.0, .clock = [&now] { return now; }}, os);
  p.set_steps(30, 10);  // resumed after 10 steps
  p.start_epoch(1, 0);
  now = 4.0;
  p.update(50, NAN, NAN, 15);  // 5 steps in 4 s: 15 steps left take 12 s
  const auto s = p.status(NAN, NAN);
  CHECK(s.step == 15);
  CHECK(s.eta_seconds == Approx(12.0));
  CHECK(os.str().find("step 15/30  epoch 2  ") == 0);
  CHECK(os.str().find("ETA 0:12") != std::string::npos);
}

TEST_CASE("in-place mode rewrites one line with carriage returns", "[progress]") {
  std::ostringstream os;
  Progress p(1, 100, {.in_place = 1, .min_interval = 0.0}, os);
  p.start_epoch(0);
  p.update(10, 2.0, NAN);
  p.update(20, 1.5, NAN);
  p.end_epoch(1.0, NAN);
  std::string out = os.str();
  CHECK(std::count(out.begin(), out.end(), '\r') == 3);
  CHECK(std::count(out.begin(), out.end(), '\n') == 0);
  CHECK(out.find("10/100  loss 2.0000") != std::string::npos);
  CHECK(out.find("100/100  loss 1.0000") != std::string::npos);
  p.finish({.epochs = 1, .steps = 3, .samples = 100, .loss = 1.0});
  out = os.str();
  CHECK(std::count(out.begin(), out.end(), '\r') == 4);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(out.find("done: 1 epoch, 3 steps, 100 samples in ") != std::string::npos);
}

TEST_CASE("remaining work counts the epochs left", "[progress]") {
  std::ostringstream os;
  Progress p(4, 50, {}, os);
  p.start_epoch(1);
  p.update(20, NAN, NAN);
  const auto s = p.status(NAN, NAN);
  // 3 epochs (1, 2, 3) of 50 remain minus the 20 done: 130 samples at the measured rate.
  if (std::isfinite(s.samples_per_second))
    CHECK(s.eta_seconds == Approx(130.0 / s.samples_per_second));
  CHECK_THROWS_AS(Progress(-1, 5), ValueError);
  CHECK_THROWS_AS(Progress(1, 5, {.interval = -1.0}), ValueError);
}
