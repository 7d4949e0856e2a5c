#!/usr/bin/env bash
# The one benchmark table: jacnet, libtorch C++ and PyTorch measured in the same run; builds nothing.
#
# usage: bench/run_all.sh [-o DIR] [--threads N] [--load] [--quick] [--repetitions R]
#                         [--min-time S] [--timeout S] [--doc FILE] [BENCH_DIR]
#   BENCH_DIR        where bench_mlp, bench_lenet, bench_losses (and bench_compare_libtorch, built
#                    when CMake found libtorch) are (default: ./build/bench)
#   -o DIR           results directory (default: bench-results/<date>-<time>)
#   --threads N      threads of every program (OMP_NUM_THREADS; default: nproc). jacnet also runs
#                    at 1 thread when N > 1 (the "N thr vs 1" column)
#   --load           run everything beside one competing CPU-bound process (bench/load.sh, one core,
#                    stops by itself after 1200 s and is stopped at the end of this script)
#   --repetitions R  repetitions of every measurement (default 5; --quick: 3)
#   --min-time S     seconds of calls per repetition (default 0.2; --quick: 0.05)
#   --timeout S      stop a program that runs longer than S seconds (default 300); its cells then
#                    read "timed out"
#   --doc FILE       also put the table into FILE between "<!-- run_all.sh table -->" and
#                    "<!-- end run_all.sh table -->" (docs/benchmarks.md)
#
# Writes DIR/table.md (printed at the end too; docs/benchmarks.md includes it), the JSON of every
# program (DIR/jacnet_t<N>/, DIR/jacnet_t1/, DIR/libtorch.json, DIR/pytorch.json), their stderr
# (*.log), DIR/run_info.txt (date, CPU and flags, build, load before/after each program, exact
# commands) and DIR/status.txt (why a peer has no figures). A peer that is missing is shown as
# "not installed" / "not built" in the table, never estimated. Exit status 1 when a program that
# was run failed (the table is written anyway), 2 on bad usage.
set -uo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=""
threads="$(nproc)"
with_load=0
reps=5
min_time=0.2
bench_dir=""
doc=""
limit=300
command_line="bench/run_all.sh $*"

usage() { sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    -o) [[ $# -ge 2 ]] || { echo "run_all.sh: -o needs a directory" >&2; exit 2; }
        out="$2"; shift 2 ;;
    --threads) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
                 { echo "run_all.sh: --threads needs a positive whole number" >&2; exit 2; }
               threads="$2"; shift 2 ;;
    --load) with_load=1; shift ;;
    --quick) reps=3; min_time=0.05; shift ;;
    --repetitions) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
                     { echo "run_all.sh: --repetitions needs a positive whole number" >&2; exit 2; }
                   reps="$2"; shift 2 ;;
    --min-time) [[ $# -ge 2 && "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
                  { echo "run_all.sh: --min-time needs a number of seconds" >&2; exit 2; }
                min_time="$2"; shift 2 ;;
    --timeout) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
                 { echo "run_all.sh: --timeout needs a positive whole number of seconds" >&2; exit 2; }
               limit="$2"; shift 2 ;;
    --doc) [[ $# -ge 2 && -f "$2" ]] || { echo "run_all.sh: --doc needs an existing file" >&2; exit 2; }
           doc="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run_all.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z "$bench_dir" ]] || { echo "run_all.sh: one BENCH_DIR only" >&2; exit 2; }
       bench_dir="$1"; shift ;;
  esac
done
[[ -n "$bench_dir" ]] || bench_dir="./build/bench"
[[ -d "$bench_dir" ]] || { echo "run_all.sh: $bench_dir is not a directory (build with -DJACNET_BUILD_BENCH=ON)" >&2; exit 2; }
[[ -n "$out" ]] || out="bench-results/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out" || exit 2
info="$out/run_info.txt"
status_file="$out/status.txt"
: >"$status_file"

# ---- what the table's header needs ----------------------------------------------------------------
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)"
has() { [[ " $flags " == *" $1 "* ]] && echo yes || echo no; }
cache="$(cd "$bench_dir/.." && pwd)/CMakeCache.txt"
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$cache" 2>/dev/null | head -1; }
arch="$(cache_get JACNET_ARCH)"
native="$(cache_get JACNET_NATIVE)"
cxx="$(cache_get CMAKE_CXX_COMPILER)"
# isa_of <flags>: the widest vector ISA those flags enable (GCC 12 names Zen 4 "znver3" with
# -march=native yet enables its AVX-512, so the -march name alone does not tell).
isa_of() {
  local defs; defs="$("${cxx:-c++}" "$@" -dM -E -x c++ /dev/null 2>/dev/null)"
  if grep -q '__AVX512F__' <<< "$defs"; then echo "AVX-512";
  elif grep -q '__AVX2__' <<< "$defs"; then echo "AVX2"; else echo "below AVX2"; fi
}
if [[ -n "$arch" ]]; then march="$arch"; isa="$(isa_of "-march=$arch")"
elif [[ "$native" == ON ]]; then
  march="native = $("${cxx:-c++}" -march=native -Q --help=target 2>/dev/null | sed -n 's/^[[:space:]]*-march=[[:space:]]*//p' | head -1)"
  isa="$(isa_of -march=native)"
else march="compiler default"; isa="$(isa_of)"; fi
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: $command_line"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "cpus: $(nproc)"
  echo "cpu flags: AVX2 $(has avx2), FMA $(has fma), AVX-512F $(has avx512f)"
  echo "jacnet build: -march=$march (vectors: $isa), $(cache_get CMAKE_BUILD_TYPE), $("${cxx:-c++}" --version 2>/dev/null | head -1) ($cache)"
  echo "threads: $threads"
  echo "repetitions: $reps"
  echo "min time: $min_time"
  echo "OMP_WAIT_POLICY: ${OMP_WAIT_POLICY-unset}"
  echo "host: $(uname -srm)"
} >"$info"

# ---- optional competing load -------------------------------------------------------------------
load_pid=""
stop_load() {
  if [[ -n "$load_pid" ]] && kill -0 "$load_pid" 2>/dev/null; then kill "$load_pid" 2>/dev/null; fi
  load_pid=""
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM
if ((with_load)); then
  bash "$script_dir/load.sh" 1200 &
  load_pid=$!
  sleep 2  # let the scheduler see it before the first measurement
  echo "competing load: one CPU-bound process (bench/load.sh, pid $load_pid, bounded to 1200 s)" >>"$info"
else
  echo "competing load: none" >>"$info"
fi
echo "load average at start: $(loadavg)" >>"$info"

status=0
# run NAME OUTFILE ENV... -- CMD...: run one program (at most $limit s), stdout to OUTFILE, stderr
# to OUTFILE's .log. Exit status 124 when it was stopped.
run() {
  local name="$1" outfile="$2"; shift 2
  local envs=()
  while [[ "$1" != "--" ]]; do envs+=("$1"); shift; done
  shift
  echo "command ($name): ${envs[*]} $* > $outfile" >>"$info"
  echo "run_all.sh: $name" >&2
  local start=$SECONDS
  timeout -k 10 "$limit" env "${envs[@]}" "$@" >"$outfile" 2>"${outfile%.json}.log"
  local rc=$?
  echo "  exit $rc after $((SECONDS - start)) s; load average now $(loadavg)" >>"$info"
  return $rc
}

gb_args=(--benchmark_format=json "--benchmark_repetitions=$reps" "--benchmark_min_time=$min_time"
         "--benchmark_min_warmup_time=$min_time" --benchmark_report_aggregates_only=true)
# The jacnet benchmarks the table reads (compare_pytorch.py's JACNET_BENCHMARKS; MLP-32's matching
# steps only exist in bench_mlp), and Eigen's sgemm for the roofline.
declare -A filter=(
  [bench_mlp]='^BM_(EigenSgemm512|Jacobian|TrainStep)(/|$)|^BM_JacMatch/1/'
  [bench_lenet]='^BM_(Jacobian|TrainStep)(/|$)'
  [bench_losses]='^BM_(JacMatchFull|JacMatchTop1|JacNormRP1)/'
)
jacnet_counts=("$threads")
((threads > 1)) && jacnet_counts+=(1)
for n in "${jacnet_counts[@]}"; do
  mkdir -p "$out/jacnet_t$n"
  for b in bench_mlp bench_lenet bench_losses; do
    exe="$bench_dir/$b"
    if [[ ! -x "$exe" ]]; then
      echo "run_all.sh: $exe not built" >&2
      echo "jacnet_t$n:$b=not built" >>"$status_file"
      continue
    fi
    run "$b, $n threads" "$out/jacnet_t$n/$b.json" "OMP_NUM_THREADS=$n" -- \
        "$exe" "${gb_args[@]}" "--benchmark_filter=${filter[$b]}"
    case $? in
      0) ;;
      124) status=1; echo "jacnet_t$n:$b=timed out after $limit s" >>"$status_file" ;;
      *) status=1; echo "jacnet_t$n:$b=failed (exit status, see jacnet_t$n/$b.log)" >>"$status_file" ;;
    esac
  done
done

# ---- libtorch C++ ---------------------------------------------------------------------------------
if [[ -x "$bench_dir/bench_compare_libtorch" ]]; then
  run "libtorch C++" "$out/libtorch.json" "OMP_NUM_THREADS=$threads" -- \
      "$bench_dir/bench_compare_libtorch" "${gb_args[@]}"
  case $? in
    0) ;;
    124) status=1; echo "libtorch=timed out after $limit s" >>"$status_file" ;;
    *) status=1; echo "libtorch=failed (exit status, see libtorch.log)" >>"$status_file" ;;
  esac
  echo "libtorch: $(sed -n 's/.*"peer": "libtorch \(.*\)",*/\1/p' "$out/libtorch.json" | head -1)" >>"$info"
elif dpkg-query -W -f='${Status}' libtorch-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "libtorch=not built (libtorch-dev is installed: re-run cmake on the build)" >>"$status_file"
else
  echo "libtorch=not installed" >>"$status_file"
fi

# ---- PyTorch --------------------------------------------------------------------------------------
if command -v python3 >/dev/null; then
  run "PyTorch" "$out/pytorch.txt" "OMP_NUM_THREADS=$threads" -- \
      python3 "$script_dir/compare_pytorch.py" --no-jacnet --json "$out/pytorch.json" \
      --threads "$threads" --repetitions "$reps" --min-time "$min_time"
  case $? in
    0) ;;
    124) status=1; echo "pytorch=timed out after $limit s" >>"$status_file" ;;
    *) status=1; echo "pytorch=failed (exit status, see pytorch.log)" >>"$status_file" ;;
  esac
else
  echo "pytorch=not installed (no python3)" >>"$status_file"
fi

if [[ -n "$load_pid" ]]; then
  kill -0 "$load_pid" 2>/dev/null && alive=yes || alive="no (the run outlasted its bound)"
  echo "competing load still running at the end: $alive" >>"$info"
fi
stop_load
echo "load average at end: $(loadavg)" >>"$info"

table_args=("$out")
[[ -n "$doc" ]] && table_args+=(--into "$doc")
if python3 "$script_dir/make_table.py" "${table_args[@]}" >"$out/table.md"; then
  cat "$out/table.md"
else
  echo "run_all.sh: make_table.py failed" >&2
  status=1
fi
echo "run_all.sh: results in $out" >&2
exit $status
