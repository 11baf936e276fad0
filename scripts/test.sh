#!/usr/bin/env bash
# Runs the test suites and ends with one line CI can read: "N passed, N failed, N skipped".
#   scripts/test.sh          unit + e2e + engines
#   scripts/test.sh unit     cmocka unit tests only
#   scripts/test.sh e2e      end-to-end tests only (node's test runner against the real binary)
#   scripts/test.sh engines  the real engines, the compatibility kit and schemathesis (tests/engines, tests/rck,
#                            tests/schemathesis), each installed into build/ first
# ICEGATE_BIN picks the binary under test (the sanitizer build sets it); BUILD the unit-test build dir.
# ICEBERG_OPENAPI is the Iceberg REST OpenAPI yaml (rest-catalog-open-api.yaml) the catalog e2e tests check
# every response against; without it those checks are skipped, counted, and the count is printed here.
# "skipped" counts unit tests and e2e tests that skipped themselves plus skipped schema checks; each part is
# printed on its own line above the summary.
set -uo pipefail
# A relative ICEBERG_OPENAPI is taken from where the caller stands: made absolute before the cd below.
if [ -n "${ICEBERG_OPENAPI:-}" ]; then
  case $ICEBERG_OPENAPI in /*) ;; *) ICEBERG_OPENAPI="$PWD/$ICEBERG_OPENAPI" ;; esac
  export ICEBERG_OPENAPI
fi
cd "$(dirname "$0")/.."
what=${1:-all}
build=${BUILD:-build}
export ICEGATE_BIN=${ICEGATE_BIN:-bin/icegate}
export ICEGATE_BIN=$(readlink -f "$ICEGATE_BIN")
passed=0 failed=0 skipped=0
notes=()
mkdir -p "$build/test-logs"

if [ "$what" = all ] || [ "$what" = unit ]; then
  us=0
  # The PostgreSQL store's cases (tests/unit/test_store.c) run against a throwaway server in a temp dir
  # (scripts/pgserver.sh: unix socket only, never the system's service), stopped when the section ends or the
  # script exits; without PostgreSQL they skip themselves and the note says why.  An ICEGATE_TEST_PG_DSN given
  # by the caller is used as is (its database's public schema is emptied by every test).
  pgdir=
  if [ -z "${ICEGATE_TEST_PG_DSN:-}" ]; then
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/icegate-pg-XXXXXX")
    pglog="$build/test-logs/pgserver.log"
    if dsn=$(scripts/pgserver.sh start "$pgdir" 2>"$pglog"); then
      trap 'scripts/pgserver.sh stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
      export ICEGATE_TEST_PG_DSN="$dsn"
      export ICEGATE_TEST_PG_RESTART="$PWD/scripts/pgserver.sh restart $pgdir"
    else
      rc=$?
      if [ "$rc" -eq 3 ]; then notes+=("PostgreSQL is not installed: the postgres store tests are skipped")
      else notes+=("PostgreSQL could not be started (see $pglog): the postgres store tests are skipped"); fi
      rm -rf "$pgdir"
      pgdir=
    fi
  fi
  for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    # A binary whose source is gone (a renamed suite) is a leftover of an older build, not a test.
    [ -f "tests/unit/$name.c" ] || continue
    out="$build/test-logs/$name.log"
    "$t" >"$out" 2>&1
    rc=$?
    p=$(grep -Eo '\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
    f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    s=$(grep -Eo '\[  SKIPPED \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); us=$((us + s))
    if [ "$f" -gt 0 ]; then echo "FAIL unit $name"; grep -E 'FAILED|ERROR|Failure|error' "$out" | head -20
    elif [ "$s" -gt 0 ]; then echo "ok   unit $name ($p tests, $s skipped)"
    else echo "ok   unit $name ($p tests)"; fi
  done
  skipped=$((skipped + us))
  [ "$us" -eq 0 ] || notes+=("unit tests skipped: $us")
  if [ -n "$pgdir" ]; then
    scripts/pgserver.sh stop "$pgdir" >/dev/null 2>&1 || notes+=("the test PostgreSQL in $pgdir did not stop")
    rm -rf "$pgdir"
    trap - EXIT
    # icegate refuses an ICEGATE_* variable that is not a setting: not for the servers the next suites start.
    unset ICEGATE_TEST_PG_DSN ICEGATE_TEST_PG_RESTART
  fi
fi

if [ "$what" = all ] || [ "$what" = e2e ]; then
  out="$build/test-logs/e2e.log"
  # The test files' processes append "<kind> <details>" lines here (tests/e2e/lib/harness.js report()).
  export ICEGATE_E2E_REPORT="$PWD/$build/test-logs/e2e-report"
  : >"$ICEGATE_E2E_REPORT"
  rm -f "$out.tap"
  (cd tests/e2e && node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination=../../"$out".tap ./*.test.js) 2>&1 | tee "$out"
  tapnum() { grep -E "^# $1 [0-9]+" "$out.tap" 2>/dev/null | awk '{print $3}' | tail -1; }
  p=$(tapnum pass) f=$(tapnum fail) c=$(tapnum cancelled) s=$(tapnum skipped)
  [ -n "$p" ] || p=0
  [ -n "$f" ] || f=1 # no summary at all: the runner itself failed
  c=${c:-0} s=${s:-0}
  passed=$((passed + p)); failed=$((failed + f + c)); skipped=$((skipped + s))
  [ "$c" -eq 0 ] || notes+=("e2e tests cancelled (counted as failed): $c")
  [ "$s" -eq 0 ] || notes+=("e2e tests skipped: $s (see '# SKIP' in $out.tap)")
  checked=$(awk '$1 == "schema-checked" {n += $2} END {print n+0}' "$ICEGATE_E2E_REPORT")
  sk=$(awk '$1 == "schema-skipped" {n += $2} END {print n+0}' "$ICEGATE_E2E_REPORT")
  skipped=$((skipped + sk))
  if [ -n "${ICEBERG_OPENAPI:-}" ]; then
    notes+=("schema checks: $checked run against $ICEBERG_OPENAPI, $sk skipped")
  else
    notes+=("schema checks skipped: $sk (set ICEBERG_OPENAPI to the Iceberg REST OpenAPI yaml to run them)")
  fi
  # e2e_pass NAME WHAT VAR=VALUE FILE...: the given suites again with VAR set (harness.js reads it), counted
  # into the totals from their TAP file, with a note "WHAT: N passed, ...".
  e2e_pass() {
    local name=$1 what=$2 var=$3
    shift 3
    local pout="$build/test-logs/e2e-$name.log"
    rm -f "$pout.tap"
    (cd tests/e2e && env "$var" node --test --test-concurrency=1 --test-reporter=spec \
        --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=../../"$pout".tap \
        "$@") 2>&1 | tee "$pout"
    tapnum3() { grep -E "^# $1 [0-9]+" "$pout.tap" 2>/dev/null | awk '{print $3}' | tail -1; }
    local p f c s
    p=$(tapnum3 pass) f=$(tapnum3 fail) c=$(tapnum3 cancelled) s=$(tapnum3 skipped)
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=1
    c=${c:-0} s=${s:-0}
    passed=$((passed + p)); failed=$((failed + f + c)); skipped=$((skipped + s))
    notes+=("$what: $p passed, $((f + c)) failed, $s skipped")
  }
  # The catalog's suites again with the default warehouse on S3 (versitygw, one per test file; harness.js
  # Server.onS3): everything a catalog does, on object storage too.  File-only checks skip themselves there.
  e2e_pass s3 "catalog suites on an S3 warehouse (skips: file-only checks)" E2E_WAREHOUSE=s3 \
    catalog.test.js namespaces.test.js idempotency.test.js group-commit.test.js catalog-concurrency.test.js \
    protocol.test.js
  # The whole suite again on storage.driver postgres: a throwaway PostgreSQL (scripts/pgserver.sh, a temp dir,
  # unix socket only), a database per data dir (harness.js storeEnv).  SQLite-only checks skip themselves.
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/icegate-pg-e2e-XXXXXX")
  if scripts/pgserver.sh start "$pgdir" >/dev/null 2>"$build/test-logs/pgserver-e2e.log"; then
    trap 'scripts/pgserver.sh stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
    export ICEGATE_E2E_PG_HOST="$pgdir"
    # shellcheck disable=SC2046  # one word per test file
    e2e_pass postgres "the e2e suite on storage.driver postgres (skips: SQLite-only checks)" E2E_STORE=postgres \
      $(cd tests/e2e && ls ./*.test.js)
    unset ICEGATE_E2E_PG_HOST
    scripts/pgserver.sh stop "$pgdir" >/dev/null 2>&1 || notes+=("the e2e PostgreSQL in $pgdir did not stop")
    trap - EXIT
  else
    failed=$((failed + 1))
    notes+=("the e2e suite on postgres did not run: PostgreSQL did not start ($build/test-logs/pgserver-e2e.log)")
  fi
  rm -rf "$pgdir"
  while read -r _ dir rest; do notes+=("kept for inspection: $dir ($rest)"); done \
    < <(grep '^kept ' "$ICEGATE_E2E_REPORT")
  # Not for the servers the next suites start: icegate refuses an ICEGATE_* variable that is not a setting.
  unset ICEGATE_E2E_REPORT
fi

# The real engines: tests/engines (PyIceberg, DuckDB, Spark), tests/rck (Iceberg's REST Compatibility Kit),
# tests/schemathesis (the Iceberg OpenAPI document).  Each suite installs its pinned clients into build/ once
# (install.sh: the only step that uses the network, a no-op when the lock is unchanged), then runs offline
# against $ICEGATE_BIN and ends with a line "<suite>: ... N passed, N failed[, N skipped]" (schemathesis:
# "N operations, N checks passed, N failed", counted as N operations).  A suite's exit
# status decides: 0 with failures means they are its listed known failures (counted as skipped, named below).
if [ "$what" = all ] || [ "$what" = engines ]; then
  num() { grep -Eo "[0-9]+ ($1)" <<<"$2" | head -1 | grep -Eo '^[0-9]+' || echo 0; }
  for suite in engines rck schemathesis; do
    dir=tests/$suite
    [ -f "$dir/run.sh" ] || continue
    out="$build/test-logs/$suite.log"
    { bash "$dir/install.sh" && bash "$dir/run.sh"; } 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E "^$suite: .*[0-9]+ (checks )?passed" "$out" | tail -1)
    p=$(num passed "$line") f=$(num failed "$line") s=$(num skipped "$line")
    # schemathesis counts checks (tens of thousands): its operations are what it passed, in the summary
    [[ $line == *" operations"* ]] && p=$(num operations "$line")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$rc" -eq 0 ] && [ "$f" -gt 0 ]; then
      notes+=("$suite: $f known failures, listed with their causes in the suite (counted as skipped)")
      s=$((s + f)) f=0
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    notes+=("${line:-$suite: no summary line (see $out)}")
  done
fi

for n in "${notes[@]}"; do echo "$n"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
