#!/bin/sh
# ctest jacnet_fashion_resume:
#  1. kill -9 the smoke grid mid-grid once a checkpoint exists, run it again with --resume, and
#     compare its tables bitwise with an uninterrupted run's;
#  2. the teacher cache is reused for the same training configuration and retrained when it
#     differs (--epochs 2), and the retrained-back teacher gives the original tables again.
#   usage: resume.sh JACNET_FASHION WORK_DIR
set -u
EXE=$1
DIR=$2
. "$(dirname "$0")/common.sh"
rm -rf "$DIR" && mkdir -p "$DIR"
run_smoke "$DIR/ref"

# 1. kill -9 after the first checkpoint, then --resume.
cut=$DIR/cut
kill_when checkpoint/rank-0.json "$cut"
if [ -f "$cut/results.json" ]; then
  echo "FAILED: the run finished before the kill (nothing to resume)"
  exit 1
fi
echo "killed after: $(grep -o '"[a-z]*/[0-9]*"' "$cut/checkpoint/rank-0.json" | tr '\n' ' ')"
run_smoke "$cut" --resume
grep -q '"restored_runs": [1-9]' "$cut/run.json" || { echo "FAILED: nothing was restored"; exit 1; }
same_tables "$DIR/ref" "$cut" || exit 1
[ -d "$cut/checkpoint" ] && { echo "FAILED: checkpoint left after a finished run"; exit 1; }
echo "OK: kill -9 + --resume gives the tables of an uninterrupted run"

# 2. Teacher cache.
run_smoke "$DIR/ref"
[ "$(grep -c '"cached": true' "$DIR/ref/run.json")" = 2 ] ||
  { echo "FAILED: same configuration, teachers not taken from the cache"; exit 1; }
cp -r "$DIR/ref" "$DIR/first"
run_smoke "$DIR/ref" --epochs 2
[ "$(grep -c '"cached": false' "$DIR/ref/run.json")" = 2 ] ||
  { echo "FAILED: --epochs 2 reused a teacher trained with 1 epoch"; exit 1; }
grep -q 'epochs 1 -> 2' "$DIR/ref/run.json" || { echo "FAILED: retrain reason missing"; exit 1; }
run_smoke "$DIR/ref"
[ "$(grep -c '"cached": false' "$DIR/ref/run.json")" = 2 ] ||
  { echo "FAILED: back to 1 epoch, the 2-epoch teachers were reused"; exit 1; }
same_tables "$DIR/first" "$DIR/ref" || exit 1
echo "OK: the teacher cache follows its training configuration"
