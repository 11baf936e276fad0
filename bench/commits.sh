#!/usr/bin/env bash
# bench/commits.sh — table commits per second with fsync on (every commit writes a new metadata file:
# temp name, fsync, rename, fsync dir; then a compare-and-set of the pointer in SQLite with synchronous=FULL).
# Each commit is a set-properties update with no requirements, POSTed by wrk (-t2 -c8, SECS seconds) to
#   - one table (all committers race for the same pointer), and
#   - 16 tables (round robin).
# Prints commits/s, conflicts (409) and p50/p99 latency for both.  No nginx baseline: nginx has no commits.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-10}
bench_init
icegate_setup commits
icegate_start "$DATA"
BASE="http://127.0.0.1:$ICEGATE_PORT/v1/namespaces/bench/tables"
H=(-H "X-API-Token: $TOKEN" -H "Content-Type: application/json")
curl -sf "${H[@]}" -X POST "http://127.0.0.1:$ICEGATE_PORT/v1/namespaces" -d '{"namespace":["bench"]}' >/dev/null
for i in $(seq 0 15); do
  curl -sf "${H[@]}" -X POST "$BASE" -d '{"name":"t'"$i"'","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}' >/dev/null
done
printf '%-8s %12s %10s %8s %9s %9s\n' tables "commits/s" conflicts other "p50 ms" "p99 ms"
for tables in 1 16; do
  out=$(cd "$BENCH_TMP" && timeout $((SECS + 20)) wrk -t2 -c8 -d"${SECS}s" --latency -s "$BENCH_ROOT/bench/commits.lua" "$BASE" -- "$TOKEN" "$tables" 2>&1 | grep '^COMMITS')
  eval "$(echo "$out" | sed 's/^COMMITS //')"
  # shellcheck disable=SC2154  # set by eval
  printf '%-8s %12.1f %10s %8s %9s %9s\n' "$tables" "$(awk -v o="$ok" -v s="$secs" 'BEGIN{print o/s}')" "$conflict" "$other" "$p50_ms" "$p99_ms"
done
echo "fsync is on: SQLite synchronous=FULL and an fsync of every metadata file and its directory."
