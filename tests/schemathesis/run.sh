#!/usr/bin/env bash
# Runs schemathesis against a fresh icegate, with the Iceberg REST OpenAPI document as the contract.
#   tests/schemathesis/run.sh
# Needs ICEBERG_OPENAPI (path of rest-catalog-open-api.yaml; without it the run is skipped with a message)
# and a built binary (ICEGATE_BIN, default bin/icegate).  Installs schemathesis from the lock first
# (install.sh, a no-op when the venv is current).  Knobs, each with a default that keeps the run under
# 5 minutes on 2 cores:
#   ST_MAX_EXAMPLES  test cases per operation in the fuzzing phase (default 25)
#   ST_SEED          hypothesis seed (default 20261202): same seed, same binary -> same requests
#   ST_TIMEOUT       hard cap in seconds on the schemathesis run (default 240); hitting it fails the run
#   ST_PHASES        phases to run (default examples,coverage,fuzzing,stateful)
#   ST_CHECKS        checks to run (default: the list below); e.g. "all" for an exploratory run, whose extra
#                    checks triage.toml has no rules for
#   ST_OUT           where the data dir, server.log and reports go (default build/schemathesis/run)
# Exit 0 when every failed check is matched by a rule in triage.toml; 1 otherwise (any 5xx, any schema or
# status failure not triaged, a server that died or did not stop cleanly, a run over its time cap).
# The last line is "schemathesis: N operations, N checks passed, N failed".
set -uo pipefail
# icegate refuses an ICEGATE_* variable that is not one of its settings: none is inherited (ICEGATE_BIN,
# which names the binary under test, is read here and by nothing else).
for v in $(compgen -e | grep '^ICEGATE_' || true); do [ "$v" = ICEGATE_BIN ] || unset "$v"; done
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${ICEBERG_OPENAPI:-}" ]; then
  echo "schemathesis: skipped: ICEBERG_OPENAPI is not set (set it to the Iceberg REST OpenAPI yaml, rest-catalog-open-api.yaml)"
  echo "schemathesis: 0 operations, 0 checks passed, 0 failed"
  exit 0
fi
case $ICEBERG_OPENAPI in /*) spec=$ICEBERG_OPENAPI ;; *) spec=$PWD/$ICEBERG_OPENAPI ;; esac
[ -f "$spec" ] || { echo "schemathesis: ICEBERG_OPENAPI=$ICEBERG_OPENAPI: no such file" >&2; exit 1; }
bin=$(readlink -f "${ICEGATE_BIN:-$root/bin/icegate}")
[ -x "$bin" ] || { echo "schemathesis: no icegate binary at $bin (run make)" >&2; exit 1; }
max_examples=${ST_MAX_EXAMPLES:-25}
seed=${ST_SEED:-20261202}
cap=${ST_TIMEOUT:-240}
phases=${ST_PHASES:-examples,coverage,fuzzing,stateful}
checks=${ST_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,unsupported_method,allow_header_conformance,missing_required_header,use_after_free,iceberg_error_body,token_enforced,example_accepted}
out=${ST_OUT:-$root/build/schemathesis/run}
venv=${ST_VENV:-$root/build/schemathesis/venv}

t0=$(date +%s)
ST_VENV=$venv "$here/install.sh" || exit 1

rm -rf "$out"
mkdir -p "$out/data" "$out/report"
data=$out/data
log=$out/server.log
# The server's environment: none of the caller's ICEGATE_* settings; an admin password so no generated
# one is printed.
env_clean=(env)
for v in $(compgen -e | grep '^ICEGATE_'); do env_clean+=(-u "$v"); done
# The token is made before the server starts: a token the CLI makes while the server runs reaches it at its next
# poll (tokens.poll_interval_ms), so the seed's first request could race it and get a 401.
token=$("${env_clean[@]}" ICEGATE_ADMIN_PASSWORD=schemathesis-admin-pw "$bin" token create --name schemathesis --data-dir "$data" --json |
  "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])') || exit 1
"${env_clean[@]}" ICEGATE_ADMIN_PASSWORD=schemathesis-admin-pw \
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" >"$log" 2>&1 &
pid=$!
stop_server() { [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null; }
trap stop_server EXIT
port=
for _ in $(seq 1 300); do
  port=$(sed -nE 's/.*icegate \S+ listening on http:\/\/127\.0\.0\.1:([0-9]+) \(.*/\1/p' "$log" | head -1)
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "schemathesis: icegate exited at start:"; cat "$log"; exit 1; }
  port=
  sleep 0.05
done
[ -n "$port" ] || { echo "schemathesis: icegate did not come up:"; cat "$log"; exit 1; }
base=http://127.0.0.1:$port
"$venv/bin/python" "$here/seed.py" "$base" "$token" "$out/served.json" || exit 1
prefix=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["prefix"])' "$out/served.json")

echo "schemathesis: icegate at $base (prefix $prefix), seed $seed, max-examples $max_examples, phases $phases, cap ${cap}s"
t1=$(date +%s)
# The schemathesis run: offline (only 127.0.0.1), one worker so the order of requests follows the seed.
# --max-time is not used: with it, fuzzing and stateful testing repeat until the time is spent, so the
# number of requests would depend on the machine's speed; `timeout` is the hard cap instead.
ST_BASE_URL=$base ST_TOKEN=$token ST_PREFIX=$prefix ST_SEEDED=$out/served.json SCHEMATHESIS_HOOKS=$here/hooks.py \
  timeout --signal=INT --kill-after=15 "$cap" \
  "$venv/bin/st" --config-file "$here/schemathesis.toml" run "$spec" \
    --seed "$seed" --max-examples "$max_examples" --phases "$phases" \
    --checks "$checks" \
    --report ndjson,junit --report-dir "$out/report" \
    --report-ndjson-path "$out/report/events.ndjson" --report-junit-path "$out/report/junit.xml" \
    --no-color >"$out/st.log" 2>&1
st_rc=$?
t2=$(date +%s)
alive=1
kill -0 "$pid" 2>/dev/null || alive=0
server_rc=
if [ "$alive" = 1 ]; then
  kill -TERM "$pid"
  wait "$pid"; server_rc=$?
else
  wait "$pid"; server_rc=$?
fi
pid=
"$venv/bin/python" "$here/triage.py" \
  --events "$out/report/events.ndjson" --rules "$here/triage.toml" --served "$out/served.json" \
  --spec "$spec" --st-rc "$st_rc" --st-log "$out/st.log" --timed-out "$([ "$st_rc" = 124 ] && echo 1 || echo 0)" \
  --server-alive "$alive" --server-rc "$server_rc" --server-log "$log" \
  --findings "$out/findings.md" --st-seconds $((t2 - t1)) --total-seconds $(( $(date +%s) - t0 ))
