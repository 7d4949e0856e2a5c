#!/bin/sh
# ctest jacnet_fashion_mpi: the smoke grid over `mpiexec -n 2` and `-n 3 --oversubscribe` writes
# bitwise the same tables as one process. SKIPPED (exit 77) when the app was built without MPI.
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
