#!/usr/bin/env bash
# A/B of MLP-32's steps at 2 threads (the benchmark net whose passes sit near
# nn::kParallelPassWork): old binaries in $OLD, new in $NEW (copy the old bench_mlp and
# bench_losses aside before rebuilding), ROUNDS interleaved rounds, median of 5 repetitions of
# >= 0.3 s (ms). Used for docs/execution.md, "Waiting, and sharing the machine": raw.txt (the
# doubled floor of passes with a reduction, kept) and tried_one_chunk_reduce.txt (a one-chunk
# parameter-gradient reduction, not kept).
set -euo pipefail
OLD=${OLD:-/tmp/old}; NEW=${NEW:-build-lead/bench}; ROUNDS=${ROUNDS:-6}
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    d=$OLD; [ $v = new ] && d=$NEW
    { OMP_NUM_THREADS=2 "$d/bench_mlp" --benchmark_filter='BM_TrainStep/1' --benchmark_repetitions=5 \
        --benchmark_min_time=0.3 --benchmark_report_aggregates_only=true 2>/dev/null
      OMP_NUM_THREADS=2 "$d/bench_losses" --benchmark_filter='(TrainStep|JacMatchFull|JacMatchTop1|JacNormRP1)/2/real' \
        --benchmark_repetitions=5 --benchmark_min_time=0.3 --benchmark_report_aggregates_only=true 2>/dev/null
    } | awk -v r="$r" -v v="$v" '/_median/ {print "round " r, v, $1, $2}'
  done
done
