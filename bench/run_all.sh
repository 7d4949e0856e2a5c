#!/usr/bin/env bash
# Run jacnet's Google Benchmark binaries and keep their JSON results; builds nothing.
#
# usage: bench/run_all.sh [-o RESULTS_DIR] [-p] [BINARY_OR_DIR ...] [-- BENCHMARK_ARGS ...]
#   BINARY_OR_DIR  benchmark executables, or directories whose bench_* executables are run
#                  (default: ./build/bench)
#   -o DIR         results directory (default: bench-results/<date>-<time>)
#   -p             afterwards run bench/compare_pytorch.py on the results (PyTorch side; skipped
#                  cleanly when torch is absent) and save its table and CSV in DIR
#   -- ARGS        passed to every binary, e.g. -- --benchmark_repetitions=5 --benchmark_filter=Jacobian
#
# Writes DIR/<binary>.json (stdout of `<binary> --benchmark_format=json ARGS`), DIR/<binary>.log
# (stderr) and DIR/run_info.txt (date, machine, load, environment, exact commands).
# Exit status: 0 when every binary exited 0, else 1 (the other binaries still run).
set -uo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=""
with_pytorch=0
targets=()
bench_args=()

while (($#)); do
  case "$1" in
    -o) [[ $# -ge 2 ]] || { echo "run_all.sh: -o needs a directory" >&2; exit 2; }
        out="$2"; shift 2 ;;
    -p) with_pytorch=1; shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; bench_args=("$@"); break ;;
    -*) echo "run_all.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("./build/bench")
[[ -n "$out" ]] || out="bench-results/$(date +%Y%m%d-%H%M%S)"

binaries=()
for t in "${targets[@]}"; do
  if [[ -d "$t" ]]; then
    found=0
    for f in "$t"/bench_*; do
      if [[ -f "$f" && -x "$f" ]]; then binaries+=("$f"); found=1; fi
    done
    ((found)) || echo "run_all.sh: no bench_* executables in $t (build with -DJACNET_BUILD_BENCH=ON)" >&2
  elif [[ -f "$t" && -x "$t" ]]; then
    binaries+=("$t")
  else
    echo "run_all.sh: $t is neither an executable nor a directory" >&2
    exit 2
  fi
done
((${#binaries[@]})) || { echo "run_all.sh: nothing to run" >&2; exit 2; }

mkdir -p "$out" || exit 2
info="$out/run_info.txt"
{
  echo "date: $(date -Iseconds)"
  echo "host: $(uname -srm); cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  for v in OMP_NUM_THREADS OMP_WAIT_POLICY OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS; do
    echo "$v=${!v-unset}"
  done
} >"$info"

status=0
for b in "${binaries[@]}"; do
  name="$(basename "$b")"
  cmd=("$b" --benchmark_format=json "${bench_args[@]}")
  echo "run_all.sh: ${cmd[*]} > $out/$name.json" >&2
  echo "command: ${cmd[*]}" >>"$info"
  start=$(date +%s)
  "${cmd[@]}" >"$out/$name.json" 2>"$out/$name.log"
  rc=$?
  echo "  exit $rc after $(($(date +%s) - start)) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)" >>"$info"
  if ((rc != 0)); then
    echo "run_all.sh: $name exited $rc (see $out/$name.log)" >&2
    status=1
  fi
done

if ((with_pytorch)); then
  cmd=(python3 "$script_dir/compare_pytorch.py" --jacnet-json "$out" --out "$out/compare_pytorch.csv")
  echo "command: ${cmd[*]}" >>"$info"
  echo "run_all.sh: ${cmd[*]}" >&2
  "${cmd[@]}" | tee "$out/compare_pytorch.txt"
  ((PIPESTATUS[0] == 0)) || status=1
fi

echo "run_all.sh: results in $out" >&2
exit $status
