#!/usr/bin/env bash
# Interleaved A/B of Recorded::gradient (with jacnet::gradient and ADOL-C's replay as references) between two bench_ad
# binaries, order alternating, one line of medians per binary and round.
# Usage: ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
filter='BM_(gradient|recorded_gradient|adolc_replay)<(Rosenbrock|Ode)>'
uptime
for r in $(seq 1 "$rounds"); do
  for b in "$old" "$new" "$new" "$old"; do
    tag=old; [ "$b" = "$new" ] && tag=new
    echo "round $r $tag $("$b" --benchmark_filter="$filter" --benchmark_min_time=0.1 \
      --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>/dev/null |
      awk '/_median/ {sub(/_median/, "", $1); printf "%s=%s ", $1, $4}')"
  done
done
uptime
