#!/bin/bash
# Interleaved A/B of the fused pooling+activation sweep: HEAD 440eb25 binaries (old) vs working tree (new),
# same build flags (build-lead: Release, -march=native, AVX-512), 3 rounds, 1 and 2 threads.
# median of 5 repetitions of >= 0.3 s each (Google Benchmark real_time).
NEW=/work/main/build-lead/bench
for r in 1 2 3; do
 for t in 1 2; do
  for v in old new; do
   if [ $v = old ]; then L=/tmp/bench_lenet_old; S=/tmp/bench_losses_old; else L=$NEW/bench_lenet; S=$NEW/bench_losses; fi
   OMP_NUM_THREADS=$t $L --benchmark_filter='BM_Jacobian|BM_JacMatch' --benchmark_min_time=0.3 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>/dev/null | grep '_median ' | awk -v v=$v -v t=$t -v r=$r '{print r, t, v, "lenet:" $1, $2}'
   OMP_NUM_THREADS=$t $S --benchmark_filter='(JacNormRP1|JacMatchTop1)/1/' --benchmark_min_time=0.3 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>/dev/null | grep '_median ' | awk -v v=$v -v t=$t -v r=$r '{print r, t, v, "losses:" $1, $2}'
  done
 done
done
