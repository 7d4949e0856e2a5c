#!/bin/bash
# Interleaved A/B of the fused pooling+activation sweep in the AVX2 build (-DJACNET_ARCH=x86-64-v3):
# 440eb25 (old, git worktree) vs 8252d63+ (new, build-avx2), 3 rounds, 1 and 2 threads,
# median of 5 repetitions of >= 0.3 s (Google Benchmark real_time).
OLD=/tmp/wt-old/b/bench/bench_lenet; NEW=/work/main/build-avx2/bench/bench_lenet
for r in 1 2 3; do
 for t in 1 2; do
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for v in $order; do
   if [ $v = old ]; then L=$OLD; else L=$NEW; fi
   OMP_NUM_THREADS=$t $L --benchmark_filter='BM_Jacobian|BM_JacMatch' --benchmark_min_time=0.3 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>/dev/null | grep '_median ' | awk -v v=$v -v t=$t -v r=$r '{print r, t, v, "lenet:" $1, $2}'
  done
 done
done
