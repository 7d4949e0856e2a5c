#!/bin/sh
# ctest train/kill9_resume: for each optimizer, an uninterrupted run of the worker, then a run
# killed with SIGKILL once its first checkpoint exists, resumed from that checkpoint; the final
# parameters and records must be bitwise those of the uninterrupted run.
#   usage: kill9.sh WORKER WORK_DIR
set -u
W=$1
DIR=$2
STEPS=${JACNET_KILL9_STEPS:-12000}
rm -rf "$DIR" && mkdir -p "$DIR"
for opt in adam sgd; do
  ref=$DIR/ref-$opt
  cut=$DIR/cut-$opt
  "$W" "$ref" $opt $STEPS > "$ref.log" 2>&1 || { echo "FAILED: reference run"; cat "$ref.log"; exit 1; }
  "$W" "$cut" $opt $STEPS > "$cut.log" 2>&1 &
  pid=$!
  i=0
  while [ ! -f "$cut.ckpt" ]; do
    if ! kill -0 $pid 2> /dev/null; then
      echo "FAILED: the $opt run ended before writing a checkpoint"; cat "$cut.log"; exit 1
    fi
    i=$((i + 1))
    [ $i -gt 6000 ] && { echo "FAILED: no checkpoint after 600 s"; kill -9 $pid; exit 1; }
    sleep 0.1
  done
  sleep 0.3
  kill -9 $pid
  wait $pid 2> /dev/null
  if [ -f "$cut.params" ]; then
    echo "FAILED: the $opt run finished before the kill (raise JACNET_KILL9_STEPS)"; exit 1
  fi
  "$W" "$cut" $opt $STEPS resume > "$cut.log" 2>&1 || { echo "FAILED: resumed run"; cat "$cut.log"; exit 1; }
  at=$(sed -n 's/^resumed_at //p' "$cut.log")
  if [ -z "$at" ] || [ "$at" -le 0 ]; then
    echo "FAILED: the $opt run did not resume from a checkpoint (resumed_at '$at')"; exit 1
  fi
  cmp "$ref.params" "$cut.params" || { echo "FAILED: $opt parameters differ"; exit 1; }
  cmp "$ref.records" "$cut.records" || { echo "FAILED: $opt records differ"; diff "$ref.records" "$cut.records" | head; exit 1; }
  echo "OK: $opt killed with SIGKILL, resumed at batch $at of $STEPS: parameters and records bitwise equal"
done
