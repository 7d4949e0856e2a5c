#!/usr/bin/env bash
# scripts/fuzz.sh [seconds] [target...] — builds jacnet's libFuzzer targets with clang-14
# (-fsanitize=fuzzer,address,undefined) in build-fuzz/ and runs each for `seconds` (default 60).
# Targets: idx_plain idx_gzip npy safetensors weights (default: all, one after another).
# The committed seeds in fuzz/corpus/<target>/ are read but never written: new inputs go to
# build-fuzz/corpus/<target>/, crash inputs to build-fuzz/artifacts/. Prints, per target, the
# executions, libFuzzer's coverage (cov: edges, ft: features) and the corpus size, and exits
# non-zero if any target crashed.
# Needs: clang-14 libclang-rt-14-dev libfuzzer-14-dev zlib1g-dev nlohmann-json3-dev.
# Environment: JACNET_FUZZ_BUILD (build dir, default <repo>/build-fuzz), JACNET_FUZZ_JOBS (-j, 2),
# JACNET_FUZZ_RUNS (stop each target after this many executions, or at `seconds`, whichever
# comes first; e.g. JACNET_FUZZ_RUNS=1000000 scripts/fuzz.sh 900).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx_plain idx_gzip npy safetensors weights)
build="${JACNET_FUZZ_BUILD:-$root/build-fuzz}"
cxx="$(command -v clang++-14 || command -v clang++ || true)"
[ -n "$cxx" ] || { echo "fuzz.sh: clang++-14 not found (apt-get install clang-14 libfuzzer-14-dev)" >&2; exit 2; }

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJACNET_FUZZ=ON -DJACNET_BUILD_TESTS=OFF -DJACNET_BUILD_EXAMPLES=OFF -DJACNET_BUILD_BENCH=OFF \
  -DJACNET_NATIVE=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 2; }
cmake --build "$build" -j"${JACNET_FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

mkdir -p "$build/artifacts"
status=0
summary=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  log="$build/fuzz_$t.log"
  echo "== fuzz_$t for ${seconds}s (log: $log)"
  set +e
  "$build/fuzz/fuzz_$t" "$work" "$root/fuzz/corpus/$t" -max_total_time="$seconds" \
    ${JACNET_FUZZ_RUNS:+-runs=$JACNET_FUZZ_RUNS} -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" -close_fd_mask=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' || echo "cov: ?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' || echo "ft: ?")
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9A-Za-z]*' || echo "corp: ?")
  echo "$last"
  if [ $rc -ne 0 ]; then
    status=1
    echo "fuzz_$t: CRASH (exit $rc); input in $build/artifacts/$t-*"
    grep -E 'ERROR|SUMMARY|runtime error|violated|terminate' "$log" | head -5 || true
  fi
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || true)
  when="in ${secs}s"
  [ -n "$secs" ] || when="until the crash"
  summary+=("fuzz_$t: ${execs} executions $when, $cov, $ft, $corp, exit $rc")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
