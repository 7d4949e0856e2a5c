#!/bin/sh
# ctest jacnet_fashion_teacher_resume: kill -9 the smoke run while its teacher trains (after the
# teacher's first checkpoint, <out>/teacher.safetensors.ckpt), run it again with --resume: the
# teacher's training continues from its checkpoint (run.json: resumed_at_batch > 0) and the
# tables are bitwise those of an uninterrupted run. --epochs 20 makes the teacher's training
# (640 batches of the smoke set) long enough for the kill to land inside it.
#   usage: teacher_resume.sh JACNET_FASHION WORK_DIR
set -u
EXE=$1
DIR=$2
. "$(dirname "$0")/common.sh"
rm -rf "$DIR" && mkdir -p "$DIR"
run_smoke "$DIR/ref" --epochs 20

cut=$DIR/cut
KILL_DELAY=0.5 kill_when teacher.safetensors.ckpt "$cut" --epochs 20
if [ -f "$cut/teacher.safetensors.json" ]; then
  echo "FAILED: the teacher finished before the kill (nothing to resume)"
  exit 1
fi
run_smoke "$cut" --epochs 20 --resume
# Two teachers (teacher, source-teacher): the one killed resumed, the other trained afresh (-1).
at=$(grep -o '"resumed_at_batch": *[0-9-]*' "$cut/run.json" | grep -o '[0-9-]*$' | sort -n | tail -n 1)
if [ -z "$at" ] || [ "$at" -le 0 ]; then
  echo "FAILED: the teacher did not resume from its checkpoint (resumed_at_batch '$at')"
  exit 1
fi
same_tables "$DIR/ref" "$cut" || exit 1
cmp -s "$DIR/ref/teacher.safetensors" "$cut/teacher.safetensors" || { echo "FAILED: teacher weights differ"; exit 1; }
[ -f "$cut/teacher.safetensors.ckpt" ] && { echo "FAILED: teacher checkpoint left after the run"; exit 1; }
echo "OK: teacher killed with SIGKILL, resumed at batch $at: teacher and tables bitwise equal to an uninterrupted run"
