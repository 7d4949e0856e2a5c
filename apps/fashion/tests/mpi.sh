#!/bin/sh
# ctest jacnet_fashion_mpi: the smoke grid over `mpiexec -n 2` and `-n 3 --oversubscribe` writes
# bitwise the same tables as one process, and a one-process run killed with kill -9 after its
# first checkpoint and resumed over 2 ranks (2 threads each) too (the LPT assignment over the
# pending runs differs from the first run's). SKIPPED (exit 77) when built without MPI.
#   usage: mpi.sh JACNET_FASHION WORK_DIR MPIEXEC   (MPIEXEC empty: no MPI)
set -u
EXE=$1
DIR=$2
MPIEXEC=${3:-}
. "$(dirname "$0")/common.sh"
if [ -z "$MPIEXEC" ]; then
  echo "SKIPPED: jacnet_fashion was built without MPI (no jacnet::mpi target)"
  exit 77
fi
# Open MPI refuses to start as root unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$DIR" && mkdir -p "$DIR"
run_smoke "$DIR/p1"
for p in 2 3; do
  out=$DIR/p$p
  mkdir -p "$out"
  # The teachers from the 1-process run (their cache records the same training configuration).
  cp "$DIR"/p1/*teacher.safetensors* "$out"/
  "$MPIEXEC" -n $p --oversubscribe "$EXE" --smoke --quiet --out "$out" > "$out.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAILED: mpiexec -n $p (exit $rc)"
    cat "$out.log"
    exit 1
  fi
  grep -q '"ranks": '$p "$out/run.json" || { echo "FAILED: run.json does not say $p ranks"; exit 1; }
  same_tables "$DIR/p1" "$out" || exit 1
  echo "OK: $p ranks give the same tables as 1 process"
done

# kill -9 a one-process run after its first checkpoint, --resume it over 2 ranks.
out=$DIR/cut
mkdir -p "$out"
cp "$DIR"/p1/*teacher.safetensors* "$out"/
kill_when checkpoint/rank-0.json "$out" --threads 1
[ -f "$out/results.json" ] && { echo "FAILED: the run finished before the kill"; exit 1; }
"$MPIEXEC" -n 2 --oversubscribe "$EXE" --smoke --quiet --threads 2 --resume --out "$out" > "$out.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAILED: mpiexec -n 2 --resume (exit $rc)"
  cat "$out.log"
  exit 1
fi
grep -q '"restored_runs": [1-9]' "$out/run.json" || { echo "FAILED: nothing was restored"; exit 1; }
same_tables "$DIR/p1" "$out" || exit 1
echo "OK: killed with 1 process, resumed over 2 ranks: the same tables"
