#!/bin/sh
# kill_rank.sh MPIEXEC NP EXE DIR LIMIT [mpiexec options...]
# Starts `EXE kill9 DIR` on NP ranks, waits until every rank has written DIR/rank<r>.pid, sends
# SIGKILL to rank 1, and requires the whole job to end within LIMIT seconds with a non-zero exit
# code. On failure it ends what it started (mpiexec and the ranks, by pid).
mpiexec=$1 np=$2 exe=$3 dir=$4 limit=$5
shift 5
rm -rf "$dir" && mkdir -p "$dir" || exit 1
"$mpiexec" -n "$np" "$@" "$exe" kill9 "$dir" >"$dir/out.txt" 2>&1 &
job=$!
cleanup() {
  kill -TERM "$job" 2>/dev/null
  sleep 1
  kill -KILL "$job" 2>/dev/null
  for f in "$dir"/rank*.pid; do [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  cat "$dir/out.txt"
}
i=0
while [ "$(ls "$dir"/rank*.pid 2>/dev/null | wc -l)" -lt "$np" ]; do
  sleep 0.2
  i=$((i + 1))
  if [ $i -gt 300 ]; then echo "FAILED: the ranks did not start within 60 s"; cleanup; exit 1; fi
done
sleep 0.5  # all ranks are in their allreduce loop
start=$(date +%s.%N)
kill -KILL "$(cat "$dir/rank1.pid")"
while kill -0 "$job" 2>/dev/null; do
  now=$(date +%s)
  if [ $((now - ${start%.*})) -gt "$limit" ]; then
    echo "FAILED: the job still runs ${limit} s after kill -9 of rank 1"
    cleanup
    exit 1
  fi
  sleep 0.1
done
wait "$job"
rc=$?
end=$(date +%s.%N)
cat "$dir/out.txt"
echo "kill_rank: job ended with exit code $rc, $(awk "BEGIN { printf \"%.2f\", $end - $start }") s after kill -9 of rank 1 ($np ranks)"
# The surviving ranks are killed by Open MPI's daemon as mpiexec exits; give them 5 s to go
# (a zombie waiting to be reaped counts as gone).
alive() {
  n=0
  for f in "$dir"/rank*.pid; do
    st=$(ps -o stat= -p "$(cat "$f")" 2>/dev/null)
    case "$st" in "" | Z*) ;; *) n=$((n + 1)) ;; esac
  done
  echo $n
}
i=0
while [ "$(alive)" -gt 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ "$(alive)" -gt 0 ]; then echo "FAILED: $(alive) rank(s) still alive 5 s after the job ended"; cleanup; exit 1; fi
if [ "$rc" -eq 0 ]; then echo "FAILED: exit code 0 after a rank was killed"; exit 1; fi
exit 0
