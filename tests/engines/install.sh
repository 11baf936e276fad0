#!/usr/bin/env bash
# Installs what tests/engines needs, once, into build/engines/ (the only step that reaches a registry):
#   build/engines/venv   python3 -m venv + pip install --require-hashes -r tests/engines/requirements.txt
#   build/engines/jars/  iceberg-spark-runtime-4.1_2.13 (tests/engines/pom.xml, mvn dependency:copy)
# Idempotent: skips each part when it was installed from the same lock / pom (sha256 stamp files).
# Needs python3 (3.11; Debian 12: python3-venv), a JRE 17 (openjdk-17-jre-headless) and maven.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/build/engines"
venv="$out/venv"
jars="$out/jars"
mkdir -p "$out"
PY="${PYTHON:-python3}"

lock_hash="$(cat "$here/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$venv/.lock-sha256" && "$(cat "$venv/.lock-sha256")" == "$lock_hash" ]]; then
  echo "engines install: venv up to date ($venv, lock $lock_hash)"
else
  echo "engines install: creating $venv from requirements.txt (lock $lock_hash)"
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    --require-hashes --prefer-binary -r "$here/requirements.txt"
  echo "$lock_hash" > "$venv/.lock-sha256"
  echo "engines install: venv ready: $("$venv/bin/python" -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("pyiceberg", "pyarrow", "pyiceberg-core", "duckdb", "duckdb-extension-iceberg", "pyspark", "pytest")))')"
fi

pom_hash="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ -s "$jars/iceberg-spark-runtime.jar" && -f "$jars/.pom-sha256" && "$(cat "$jars/.pom-sha256")" == "$pom_hash" ]]; then
  echo "engines install: jar up to date ($jars/iceberg-spark-runtime.jar)"
else
  echo "engines install: fetching iceberg-spark-runtime with maven into $jars"
  rm -rf "$jars"
  mkdir -p "$out"
  if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy > "$out/mvn.log" 2>&1; then
    cat "$out/mvn.log" >&2
    echo "engines install: maven failed (log above, also in $out/mvn.log)" >&2
    exit 1
  fi
  echo "$pom_hash" > "$jars/.pom-sha256"
  echo "engines install: jar ready: $(ls -l "$jars/iceberg-spark-runtime.jar" | awk '{print $5}') bytes"
fi
