#!/usr/bin/env bash
# The whole test suite — README Quick start command 2, and what CI runs (.ci/run).
#   1. installs every dependency from Debian packages (peers and MPI included, so nothing is skipped
#      for want of a package),
#   2. Release build of everything for this CPU (-march=native), all tests,
#   3. the core, io and ad tests again under AddressSanitizer + UBSan in build-asan/ (any report
#      fails; JACNET_ASAN_PARTS widens the subset, e.g. "core;io;ad;nn;losses;train;check"),
#   4. on a CPU with AVX-512, the tests again built for AVX2 (-march=x86-64-v3), so both code
#      paths run; on a CPU without AVX-512 that path cannot run and is reported as skipped.
# Ends with one line "tests: N passed, N failed, N skipped" over all stages.
# JACNET_TEST_STAGES selects stages (default "release asan avx2"). docs/testing.md says why the
# sanitizer stage covers core, io and ad by default and what that costs.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
stage() { echo; echo "=== test_all: $* (at $(elapsed) s)"; }
stages=${JACNET_TEST_STAGES:-release asan avx2}
asan_parts=${JACNET_ASAN_PARTS:-core;io;ad}
jobs=${JACNET_JOBS:-2}

stage "installing dependencies"
JACNET_WITH_TORCH=1 bash scripts/install_deps.sh

passed=0 failed=0 skipped=0
summary=()
# run_stage <name> <build dir> <cmake args...>: configure, build, ctest with a JUnit report.
run_stage() {
  local name=$1 dir=$2; shift 2
  stage "$name: configure + build in $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  grep -E '^-- jacnet' "$dir.configure.log" || true
  cmake --build "$dir" -j"$jobs" || { echo "test_all: $name: build failed"; summary+=("$name: build failed"); failed=$((failed + 1)); return 1; }
  stage "$name: ctest"
  local rc=0
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --output-junit ctest-junit.xml || rc=$?
  # Counts from the JUnit report (skipped = SKIP_RETURN_CODE or a test that did not run).
  local counts
  counts=$(python3 - "$dir/ctest-junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot()
n, f, k = int(s.get("tests", 0)), int(s.get("failures", 0)) + int(s.get("errors", 0) or 0), int(s.get("skipped", 0))
print(n - f - k, f, k)
PY
)
  read -r p f k <<< "$counts"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  summary+=("$name: $p passed, $f failed, $k skipped")
  stage "$name done"
  return $rc
}

status=0
for s in $stages; do
  case $s in
    release) run_stage release build || status=1 ;;
    asan)    LSAN_OPTIONS="suppressions=$PWD/tests/support/lsan_suppressions.txt:print_suppressions=0" \
             UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
             run_stage "asan+ubsan ($asan_parts)" build-asan -DJACNET_SANITIZE=address,undefined \
               "-DJACNET_TEST_PARTS=$asan_parts" \
               -DJACNET_BUILD_EXAMPLES=OFF -DJACNET_BUILD_BENCH=OFF || status=1 ;;
    avx2)
      if grep -qw avx512f /proc/cpuinfo; then
        run_stage "avx2 (x86-64-v3)" build-avx2 -DJACNET_ARCH=x86-64-v3 \
          -DJACNET_BUILD_EXAMPLES=OFF -DJACNET_BUILD_BENCH=OFF || status=1
      else
        stage "avx2 (x86-64-v3): SKIPPED — this CPU has no AVX-512, so the release build above already ran the AVX2 path and the AVX-512 path cannot run here"
        summary+=("avx2 path: covered by the release build (no AVX-512 on this CPU); AVX-512 path: SKIPPED, cannot run here")
      fi ;;
    *) echo "test_all: unknown stage '$s'"; exit 2 ;;
  esac
done

echo
echo "=== test_all: finished in $(elapsed) s"
for line in "${summary[@]}"; do echo "  $line"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
