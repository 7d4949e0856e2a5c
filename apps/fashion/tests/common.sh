# Shared by the jacnet_fashion ctest scripts (sourced): the files that must be bitwise equal
# between two runs of the same configuration (run.json and the checkpoint hold timings).
TABLES="distillation.csv transfer.csv noise.csv results.json distillation.png saliency.png"

# same_tables DIR_A DIR_B: cmp every table file; prints the differing ones, returns 1 if any.
same_tables() {
  status=0
  for f in $TABLES; do
    if ! cmp -s "$1/$f" "$2/$f"; then
      echo "DIFFERENT: $1/$f vs $2/$f"
      status=1
    fi
  done
  return $status
}

# run_smoke OUT_DIR [extra flags...]: the smoke grid; exits 77 (skipped) without the data set.
run_smoke() {
  out=$1
  shift
  "$EXE" --smoke --quiet --out "$out" "$@" > "$out.log" 2>&1
  rc=$?
  if [ $rc -eq 77 ]; then
    echo "SKIPPED: Fashion-MNIST not installed"
    exit 77
  fi
  if [ $rc -ne 0 ]; then
    echo "FAILED: $EXE --smoke --out $out $* (exit $rc)"
    cat "$out.log"
    exit 1
  fi
}
