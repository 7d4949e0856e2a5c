#!/bin/sh
# ctest jacnet_fashion_threads: the grid's runs go concurrently on a rank's threads (one run per
# thread), and the thread count does not change the results:
#  1. the smoke grid with 1 and with 2 OpenMP threads writes bitwise the same tables (CSVs,
#     results.json, results.md, figures), and the 2-thread run did run 2 student runs at once
#     (run.json: concurrent_runs 2 in the distillation grid);
#  2. a 2-thread run killed with kill -9 after its first checkpoint and resumed with 1 thread, and
#     a 1-thread run killed and resumed with 2 threads, give the 1-thread run's tables.
#   usage: threads.sh JACNET_FASHION WORK_DIR
set -u
EXE=$1
DIR=$2
. "$(dirname "$0")/common.sh"
rm -rf "$DIR" && mkdir -p "$DIR"
run_smoke "$DIR/t1" --threads 1
grep -q '"threads_per_rank": 1' "$DIR/t1/run.json" || { echo "FAILED: run.json does not say 1 thread"; exit 1; }
mkdir -p "$DIR/t2"
cp "$DIR"/t1/*teacher.safetensors* "$DIR/t2"/
run_smoke "$DIR/t2" --threads 2
grep -q '"threads_per_rank": 2' "$DIR/t2/run.json" || { echo "FAILED: run.json does not say 2 threads"; exit 1; }
# Python-free check of run.json: the distillation grid's peak of runs at once.
peak=$(tr -d ' \n' < "$DIR/t2/run.json" | grep -o '"distill":{[^}]*}' | grep -o '"concurrent_runs":[0-9]*' | grep -o '[0-9]*$')
if [ "${peak:-0}" -ne 2 ]; then
  echo "FAILED: with 2 threads the distillation grid ran ${peak:-?} runs at once (expected 2)"
  exit 1
fi
same_tables "$DIR/t1" "$DIR/t2" || exit 1
echo "OK: 1 and 2 threads give the same tables (2 runs at once with 2 threads)"

for pair in "2 1" "1 2"; do
  set -- $pair
  out=$DIR/cut$1to$2
  mkdir -p "$out"
  cp "$DIR"/t1/*teacher.safetensors* "$out"/  # the teachers: the grid starts at once
  kill_when checkpoint/rank-0.json "$out" --threads "$1"
  if [ -f "$out/results.json" ]; then
    echo "FAILED: the $1-thread run finished before the kill (nothing to resume)"
    exit 1
  fi
  run_smoke "$out" --threads "$2" --resume
  grep -q '"restored_runs": [1-9]' "$out/run.json" || { echo "FAILED: nothing was restored"; exit 1; }
  same_tables "$DIR/t1" "$out" || exit 1
  echo "OK: killed with $1 thread(s), resumed with $2: the tables of the uninterrupted run"
done
