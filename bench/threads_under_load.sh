#!/usr/bin/env bash
# 2 threads vs 1, on an idle machine and beside one competing CPU-bound process (bench/load.sh),
# for the Jacobian, train-step and matching tasks of bench_mlp and bench_lenet; builds nothing.
#
# usage: bench/threads_under_load.sh [-o DIR] [--rounds R] [[LABEL=]BENCH_DIR ...]
#   BENCH_DIR   where bench_mlp and bench_lenet are (default: ./build/bench); several (e.g. two
#               builds, `before=/tmp/old/build/bench after=build/bench`) are measured interleaved
#   -o DIR      results directory (default: bench-results/threads-<date>-<time>)
#   --rounds R  rounds per phase (default 4). In a round every build runs each program at 1 thread
#               and right after at 2 threads (one repetition of >= 0.2 s per task), so the two
#               runs of a ratio are seconds apart; the table gives per task the median over the
#               rounds of that ratio (slow drifts of a shared machine cancel) and the median time
#
# OMP_WAIT_POLICY is passed through from the caller's environment. Writes
# DIR/<phase>_t<N>_<label>_<bench>_r<R>.json and DIR/table.md (also printed). The competing
# process is started after the idle phase and stopped at the end.
set -uo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=""
rounds=4
dirs=()
while (($#)); do
  case "$1" in
    -o) [[ $# -ge 2 ]] || { echo "threads_under_load.sh: -o needs a directory" >&2; exit 2; }
        out="$2"; shift 2 ;;
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
                { echo "threads_under_load.sh: --rounds needs a positive whole number" >&2; exit 2; }
              rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "threads_under_load.sh: unknown option '$1'" >&2; exit 2 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
((${#dirs[@]})) || dirs=(./build/bench)
labels=()
paths=()
for d in "${dirs[@]}"; do
  if [[ "$d" == *=* ]]; then labels+=("${d%%=*}"); paths+=("${d#*=}"); else labels+=("jacnet"); paths+=("$d"); fi
  [[ "${labels[-1]}" =~ ^[A-Za-z0-9-]+$ ]] || { echo "threads_under_load.sh: label '${labels[-1]}' must be letters, digits or '-'" >&2; exit 2; }
  for b in bench_mlp bench_lenet; do
    [[ -x "${paths[-1]}/$b" ]] || { echo "threads_under_load.sh: ${paths[-1]}/$b not found (build it first)" >&2; exit 2; }
  done
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
  echo "command: bench/threads_under_load.sh -o $out --rounds $rounds ${dirs[*]}"
} > "$out/run_info.txt"
status=0
for phase in idle load; do
  if [[ $phase == load ]]; then
    bash "$script_dir/load.sh" 1200 &
    load_pid=$!
    sleep 2
  fi
  for ((r = 1; r <= rounds; ++r)); do
    for i in "${!paths[@]}"; do
      for b in bench_mlp bench_lenet; do
        for t in 1 2; do
          tag="${phase}_t${t}_${labels[$i]}_${b}_r$r"
          echo "$tag: load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/run_info.txt"
          OMP_NUM_THREADS=$t "${paths[$i]}/$b" --benchmark_filter="$filter" --benchmark_repetitions=1 \
            --benchmark_min_time=0.2 --benchmark_min_warmup_time=0.05 \
            --benchmark_out="$out/$tag.json" --benchmark_out_format=json \
            > /dev/null 2> "$out/$tag.log" || { echo "$b failed (see $out)" >&2; status=1; }
        done
      done
    done
  done
done
[[ -n "$load_pid" ]] && kill "$load_pid" 2>/dev/null
load_pid=""
python3 - "$out" > "$out/table.md" <<'PY'
import collections, glob, json, os, statistics, sys
out = sys.argv[1]
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
t = collections.defaultdict(dict)  # (task, label, phase, threads) -> {round: ms}
labels, builds = {}, []
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    phase, th, label, _, _, r = os.path.basename(f)[:-5].split("_")
    if label not in builds:
        builds.append(label)
    for x in json.load(open(f))["benchmarks"]:
        if x.get("run_type") != "iteration":
            continue
        name = x["run_name"].replace("/real_time", "")
        t[(name, label, phase, th)][r] = x["real_time"] * scale[x["time_unit"]]
        labels[name] = x.get("label", "")
def ratio(name, label, phase):
    a, b = t[(name, label, phase, "t1")], t[(name, label, phase, "t2")]
    rs = [a[r] / b[r] for r in a if r in b]
    return (statistics.median(rs), min(rs), max(rs)) if rs else (float("nan"),) * 3
def med(name, label, phase, th):
    v = list(t[(name, label, phase, th)].values())
    return statistics.median(v) if v else float("nan")
print("| task | build | 1 thr, idle (ms) | 2 thr vs 1, idle | 1 thr, loaded (ms) | 2 thr vs 1, beside a competing process |")
print("|---|---|---|---|---|---|")
for name in sorted(labels, key=lambda n: labels[n]):
    for label in builds:
        ri, rl = ratio(name, label, "idle"), ratio(name, label, "load")
        print(f"| {labels[name]} (`{name}`) | {label} | {med(name, label, 'idle', 't1'):.3f} | "
              f"{ri[0]:.2f}× ({ri[1]:.2f}–{ri[2]:.2f}) | {med(name, label, 'load', 't1'):.3f} | "
              f"{rl[0]:.2f}× ({rl[1]:.2f}–{rl[2]:.2f}) |")
print()
print("Ratios: median over the rounds of (1-thread time / 2-thread time) of the same round, "
      "(min–max) in brackets; > 1 means 2 threads are faster. Times: median over the rounds.")
PY
cat "$out/table.md"
exit $status
