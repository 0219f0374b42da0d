#!/usr/bin/env bash
# Installs what zlh-flow needs, then builds and runs the whole test suite twice: a normal build
# (full crash-schedule counts) and an AddressSanitizer + UndefinedBehaviorSanitizer build (smaller
# counts). Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

start=$(date +%s)
run_suite() {
  local variant=$1
  echo "== build: $variant"
  scripts/build.sh "$variant"
  echo "== test: $variant"
  (cd "build/$variant" && ctest --output-on-failure -j 2 --timeout 900)
  echo "== $variant done at +$(( $(date +%s) - start ))s"
}

# Crash property tests: rapidcheck's max_success is the number of kill schedules of the engine's
# crash test; ZLH_FLEET_SCHEDULES those of the real-process fleet test (zlhd + zlh-sim). The seed
# prints first. No shrinking: kill timings are real time, so a shrinking re-run may pass and hide
# the failure's message.
RC_PARAMS="max_success=${ZLH_CRASH_SCHEDULES:-100} noshrink=1" \
  ZLH_FLEET_SCHEDULES=${ZLH_FLEET_SCHEDULES:-30} run_suite release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  RC_PARAMS="max_success=${ZLH_CRASH_SCHEDULES_ASAN:-20} noshrink=1" \
  ZLH_FLEET_SCHEDULES=${ZLH_FLEET_SCHEDULES_ASAN:-10} run_suite asan
echo "== all tests passed in $(( $(date +%s) - start ))s"
