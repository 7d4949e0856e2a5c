#!/usr/bin/env bash
# A/B of Recorded::gradient with and without contiguous segments (GradientSweep::find_segment):
# three interleaved rounds of the old and new bench_ad, each with ADOL-C's replay in the same run.
#   OLD=/tmp/ab/bench_ad.old NEW=build-lead/bench/bench_ad bash docs/results/recorded_segments/ab.sh
set -euo pipefail
for round in 1 2 3; do
  for v in old new; do
    bin=$OLD; [[ $v == new ]] && bin=$NEW
    echo "# round $round $v ($(uptime | sed 's/.*load/load/'))"
    "$bin" --benchmark_filter='BM_(recorded_gradient|adolc_replay)<(Rosenbrock|Ode)>' \
      --benchmark_min_time=0.3 2>&1 | grep '^BM'
  done
done
