# Shared by the jacnet_fashion ctest scripts (sourced): the files that must be bitwise equal
# between two runs of the same configuration (run.json and the checkpoint hold timings).
TABLES="distillation.csv distillation_tanh.csv transfer.csv noise.csv equivalence.csv results.json results.md"
# The figures (<stem>.png and <stem>.svg each), written when the app was built with cairo.
FIGURES="distillation distillation_paired distillation_tanh distillation_tanh_paired transfer transfer_paired noise equivalence saliency"

# same_tables DIR_A DIR_B: cmp every table and figure file; prints the missing or differing ones,
# returns 1 if any. Figures are compared unless DIR_A's run.json says why none were written.
same_tables() {
  status=0
  files=$TABLES
  if grep -q figures_missing_reason "$1/run.json"; then
    echo "NOTE: built without cairo, no figures to compare: $(grep figures_missing_reason "$1/run.json")"
  else
    for f in $FIGURES; do files="$files $f.png $f.svg"; done
  fi
  for f in $files; do
    if [ ! -f "$1/$f" ] || [ ! -f "$2/$f" ]; then
      echo "MISSING: $1/$f or $2/$f"
      status=1
    elif ! cmp -s "$1/$f" "$2/$f"; then
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

# kill_when FILE OUT [extra flags...]: starts the smoke grid into OUT in the background and kills
# it with kill -9 as soon as OUT/FILE exists (KILL_DELAY seconds later if set); fails if the run
# ends before that or nothing appears within 600 s.
kill_when() {
  file=$1
  out=$2
  shift 2
  "$EXE" --smoke --quiet --out "$out" "$@" > "$out.log" 2>&1 &
  pid=$!
  i=0
  while [ ! -f "$out/$file" ]; do
    if ! kill -0 $pid 2> /dev/null; then
      echo "FAILED: the run ($*) ended before writing $file"
      cat "$out.log"
      exit 1
    fi
    i=$((i + 1))
    [ $i -gt 12000 ] && { echo "FAILED: no $file after 600 s"; kill -9 $pid; exit 1; }
    sleep 0.05
  done
  [ -n "${KILL_DELAY:-}" ] && sleep "$KILL_DELAY"
  kill -9 $pid
  wait $pid 2> /dev/null
}
