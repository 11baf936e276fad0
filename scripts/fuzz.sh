#!/usr/bin/env bash
# Runs libFuzzer drivers built by `make fuzz` (build-fuzz/fuzz/<name>) for FUZZ_SECONDS each.
#   scripts/fuzz.sh fuzz_token fuzz_config ...
# Seeds come from tests/fuzz/corpus/<name>/ (read only); new inputs go to build-fuzz/corpus/<name>/ and a
# crashing input to build-fuzz/artifacts/.  Ends with "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
passed=0 failed=0
mkdir -p build-fuzz/artifacts build-fuzz/logs
for name in "$@"; do
  bin=build-fuzz/fuzz/$name
  work=build-fuzz/corpus/$name
  seeds=tests/fuzz/corpus/$name
  mkdir -p "$work" "$seeds"
  log=build-fuzz/logs/$name.log
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/artifacts/"$name"- "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); echo "ok   fuzz $name (${secs}s, ${execs:-?} execs)"
  else
    failed=$((failed + 1)); echo "FAIL fuzz $name (exit $rc), see $log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -10
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
