#!/usr/bin/env bash
# Runs the test suites and ends with one line CI can read: "N passed, N failed".
#   scripts/test.sh          unit + e2e
#   scripts/test.sh unit     cmocka unit tests only
#   scripts/test.sh e2e      end-to-end tests only (node's test runner against the real binary)
# ICEGATE_BIN picks the binary under test (the sanitizer build sets it); BUILD the unit-test build dir.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
build=${BUILD:-build}
export ICEGATE_BIN=${ICEGATE_BIN:-bin/icegate}
export ICEGATE_BIN=$(readlink -f "$ICEGATE_BIN")
passed=0 failed=0
mkdir -p "$build/test-logs"

if [ "$what" = all ] || [ "$what" = unit ]; then
  for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$build/test-logs/$name.log"
    "$t" >"$out" 2>&1
    rc=$?
    p=$(grep -Eo '\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
    f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then echo "FAIL unit $name"; grep -E 'FAILED|ERROR|Failure|error' "$out" | head -20
    else echo "ok   unit $name ($p tests)"; fi
  done
fi

if [ "$what" = all ] || [ "$what" = e2e ]; then
  out="$build/test-logs/e2e.log"
  (cd tests/e2e && node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination=../../"$out".tap ./*.test.js) 2>&1 | tee "$out"
  p=$(grep -E '^# pass [0-9]+' "$out.tap" | awk '{print $3}' | tail -1)
  f=$(grep -E '^# fail [0-9]+' "$out.tap" | awk '{print $3}' | tail -1)
  [ -n "$p" ] || p=0
  [ -n "$f" ] || f=1
  passed=$((passed + p)); failed=$((failed + f))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
