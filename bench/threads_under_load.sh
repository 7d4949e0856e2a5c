#!/usr/bin/env bash
# 2 threads vs 1, on an idle machine and beside one competing CPU-bound process (bench/load.sh),
# for the Jacobian, train-step and matching tasks of bench_mlp and bench_lenet; builds nothing.
#
# usage: bench/threads_under_load.sh [-o DIR] [--rounds R] [BENCH_DIR]
#   BENCH_DIR   where bench_mlp and bench_lenet are (default: ./build/bench)
#   -o DIR      results directory (default: bench-results/threads-<date>-<time>)
#   --rounds R  rounds of (1 thread, 2 threads) per phase, interleaved (default 2); each program
#               call reports the median of 3 repetitions, the table the best round's median
#
# OMP_WAIT_POLICY is passed through from the caller's environment (run it once unset and once
# with OMP_WAIT_POLICY=PASSIVE to compare the policies). Writes DIR/<phase>_t<N>_<bench>_r<R>.json
# and DIR/table.md (also printed): per task, the idle and loaded times at 1 and 2 threads and the
# speed-up of 2 threads over 1 in each phase. Ratios are within one run of this script; the
# competing process is started after the idle phase and stopped at the end.
set -uo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=""
rounds=2
bench_dir=""
while (($#)); do
  case "$1" in
    -o) [[ $# -ge 2 ]] || { echo "threads_under_load.sh: -o needs a directory" >&2; exit 2; }
        out="$2"; shift 2 ;;
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
                { echo "threads_under_load.sh: --rounds needs a positive whole number" >&2; exit 2; }
              rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "threads_under_load.sh: unknown option '$1'" >&2; exit 2 ;;
    *) bench_dir="$1"; shift ;;
  esac
done
bench_dir="${bench_dir:-./build/bench}"
for b in bench_mlp bench_lenet; do
  [[ -x "$bench_dir/$b" ]] || { echo "threads_under_load.sh: $bench_dir/$b not found (build it first)" >&2; exit 2; }
done
out="${out:-bench-results/threads-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out" || exit 2
filter='BM_(Jacobian|TrainStep|JacMatch)'
load_pid=""
trap '[[ -n "$load_pid" ]] && kill "$load_pid" 2>/dev/null' EXIT
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
  echo "OMP_WAIT_POLICY: ${OMP_WAIT_POLICY:-unset}"
  echo "command: bench/threads_under_load.sh -o $out --rounds $rounds $bench_dir"
} > "$out/run_info.txt"
status=0
for phase in idle load; do
  if [[ $phase == load ]]; then
    bash "$script_dir/load.sh" 1200 &
    load_pid=$!
    sleep 2
  fi
  for ((r = 1; r <= rounds; ++r)); do
    for t in 1 2; do
      for b in bench_mlp bench_lenet; do
        echo "$phase t$t $b round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/run_info.txt"
        OMP_NUM_THREADS=$t "$bench_dir/$b" --benchmark_filter="$filter" --benchmark_repetitions=3 \
          --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true \
          --benchmark_out="$out/${phase}_t${t}_${b}_r$r.json" --benchmark_out_format=json \
          > /dev/null 2> "$out/${phase}_t${t}_${b}_r$r.log" || { echo "$b failed (see $out)" >&2; status=1; }
      done
    done
  done
done
[[ -n "$load_pid" ]] && kill "$load_pid" 2>/dev/null
load_pid=""
python3 - "$out" > "$out/table.md" <<'PY'
import collections, glob, json, math, os, sys
out = sys.argv[1]
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
best = collections.defaultdict(lambda: math.inf)
labels = {}
for f in glob.glob(os.path.join(out, "*.json")):
    phase, t, *rest = os.path.basename(f)[:-5].split("_")
    for x in json.load(open(f))["benchmarks"]:
        if x.get("aggregate_name") != "median":
            continue
        key = (x["run_name"].replace("/real_time", ""), phase, t)
        best[key] = min(best[key], x["real_time"] * scale[x["time_unit"]])
        labels[key[0]] = x.get("label", "")
print("| task | idle, 1 thr (ms) | idle, 2 thr | 2 thr vs 1, idle | beside a competing process, 1 thr | 2 thr | 2 thr vs 1, loaded |")
print("|---|---|---|---|---|---|---|")
for name in sorted(labels, key=lambda n: labels[n]):
    i1, i2, l1, l2 = (best[(name, p, t)] for p, t in (("idle", "t1"), ("idle", "t2"), ("load", "t1"), ("load", "t2")))
    print(f"| {labels[name]} (`{name}`) | {i1:.3f} | {i2:.3f} | {i1 / i2:.2f}× | {l1:.3f} | {l2:.3f} | {l1 / l2:.2f}× |")
PY
cat "$out/table.md"
exit $status
