#!/bin/bash
# interleaved, 1 thread and 2 threads: AVX-512 (build-lead, -march=native) vs AVX2 (build-avx2, -march=x86-64-v3), 3 rounds
cd /work/main
for r in 1 2 3; do
  for t in 1 2; do
  for b in lead avx2; do
    d=build-$b/bench
    o="--benchmark_format=json --benchmark_repetitions=3 --benchmark_min_time=0.2 --benchmark_min_warmup_time=0.1 --benchmark_report_aggregates_only=true"
    OMP_NUM_THREADS=$t $d/bench_mlp $o --benchmark_filter='^BM_(EigenSgemm512|Jacobian|TrainStep)(/|$)' > /tmp/meas/isa1/mlp_${b}_t${t}_$r.json 2>/dev/null
    OMP_NUM_THREADS=$t $d/bench_lenet $o --benchmark_filter='^BM_(Jacobian|TrainStep)(/|$)' > /tmp/meas/isa1/lenet_${b}_t${t}_$r.json 2>/dev/null
    OMP_NUM_THREADS=$t $d/bench_losses $o --benchmark_filter='^BM_(JacMatchFull|JacMatchTop1|JacNormRP1)/' > /tmp/meas/isa1/losses_${b}_t${t}_$r.json 2>/dev/null
  done
  done
done
echo finished
