#!/usr/bin/env bash
# Runs the real-engine tests (PyIceberg, DuckDB, Spark) against bin/icegate (ICEGATE_BIN overrides), offline.
# Needs tests/engines/install.sh first. Extra arguments go to pytest (e.g. -k duckdb, -x).
# Ends with one line: "engines: N passed, N failed, N skipped, N xfailed"; exit status non-zero on any failure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/build/engines/venv"
export ICEGATE_BIN="${ICEGATE_BIN:-$root/bin/icegate}"
export ENGINES_JARS="${ENGINES_JARS:-$root/build/engines/jars}"
if [[ ! -x "$venv/bin/python" || ! -s "$ENGINES_JARS/iceberg-spark-runtime.jar" ]]; then
  echo "engines: not installed; run tests/engines/install.sh first" >&2
  echo "engines: 0 passed, 1 failed, 0 skipped, 0 xfailed"
  exit 2
fi
if [[ ! -x "$ICEGATE_BIN" ]]; then
  echo "engines: no icegate binary at $ICEGATE_BIN (make first)" >&2
  echo "engines: 0 passed, 1 failed, 0 skipped, 0 xfailed"
  exit 2
fi
# offline: no package index, no ivy / maven resolution, nothing but 127.0.0.1
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$venv/bin/python" PYSPARK_DRIVER_PYTHON="$venv/bin/python"
export NO_PROXY='*' no_proxy='*'
unset SPARK_HOME PYSPARK_SUBMIT_ARGS HTTP_PROXY HTTPS_PROXY http_proxy https_proxy
export PYICEBERG_HOME="$(mktemp -d)"   # no ~/.pyiceberg.yaml from the machine
mkdir -p "$root/build/engines"
report="$root/build/engines/junit.xml"
start=$(date +%s)
cd "$here"
"$venv/bin/python" -m pytest -p no:cacheprovider --junitxml="$report" -o junit_family=xunit2 "$@" "$here"
rc=$?
rm -rf "$PYICEBERG_HOME"
"$venv/bin/python" - "$report" "$rc" "$start" <<'PY'
import sys, time, xml.etree.ElementTree as ET
report, rc, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
passed = failed = skipped = xfailed = 0
try:
    root = ET.parse(report).getroot()
    for tc in root.iter("testcase"):
        kids = {c.tag: c for c in tc}
        if "failure" in kids or "error" in kids:
            failed += 1
        elif "skipped" in kids:
            if (kids["skipped"].get("type") or "").endswith("xfail"):
                xfailed += 1
            else:
                skipped += 1
        else:
            passed += 1
except Exception as e:
    print(f"engines: could not read {report}: {e}", file=sys.stderr)
if rc != 0 and failed == 0:
    failed = 1   # pytest failed without a failing test case (collection error, no tests, ...)
print(f"engines: wall time {int(time.time()) - start} s")
print(f"engines: {passed} passed, {failed} failed, {skipped} skipped, {xfailed} xfailed")
PY
exit $rc
