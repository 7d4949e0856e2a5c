#!/usr/bin/env bash
# Steady-state allocation check (ctest bench/steady_state_allocations): runs the Jacobian,
# training-step, matching and Jacobian-norm benchmarks of bench_mlp, bench_lenet and bench_losses
# briefly and fails when any of them reports a heap allocation per steady-state call
# (allocs_per_iter, counted by bench/support/alloc_counter.hpp; the first call, which sizes the
# workspaces, is not counted). Counts must not depend on the machine's speed or load: which
# thread runs which task changes with both (docs/execution.md, "Scratch buffers").
# usage: bench/check_allocations.sh BENCH_DIR
set -uo pipefail
dir="${1:?usage: check_allocations.sh BENCH_DIR}"
filter='BM_(Jacobian|TrainStep|JacMatch|JacNorm)'
fail=0
checked=0
for b in bench_mlp bench_lenet bench_losses; do
  [[ -x "$dir/$b" ]] || { echo "check_allocations: $dir/$b not found" >&2; exit 2; }
  out="$("$dir/$b" --benchmark_filter="$filter" --benchmark_min_time=0.01 \
          --benchmark_repetitions=1 2>&1)" || { echo "$out"; echo "check_allocations: $b failed" >&2; exit 1; }
  while read -r name count; do
    checked=$((checked + 1))
    if [[ "$count" != 0 ]]; then
      echo "FAIL $b $name: $count allocations per steady-state call"
      fail=1
    else
      echo "ok   $b $name: 0 allocations per steady-state call"
    fi
  done < <(awk '/^BM_/ { for (i = 1; i <= NF; ++i) if ($i ~ /^allocs_per_iter=/) { split($i, a, "="); print $1, a[2] } }' <<< "$out")
done
if ((checked == 0)); then
  echo "check_allocations: no benchmark reported allocs_per_iter" >&2
  exit 1
fi
echo "$checked benchmarks checked"
exit $fail
