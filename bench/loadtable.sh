#!/usr/bin/env bash
# bench/loadtable.sh — loadTable of a table with ~1 MB of metadata, against nginx serving that same
# metadata file as a static file (the floor: "sending bytes").  Target (issue 4): icegate >= 0.8x nginx.
#
# Builds the table through the REST API: create namespace + table, then one commit of SNAPSHOTS add-snapshot
# updates (~330 bytes each in the metadata) so the metadata file reaches ~1 MB; then alternates RUNS runs
# each of wrk -t2 -c32 -dSECS against GET /v1/namespaces/bench/tables/big and nginx's
# location = /meta.json { alias <the table's current metadata file>; }.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
SNAPSHOTS=${SNAPSHOTS:-3000}
bench_init
icegate_setup loadtable
icegate_start "$DATA"
BASE="http://127.0.0.1:$ICEGATE_PORT/v1"
H=(-H "X-API-Token: $TOKEN" -H "Content-Type: application/json")
curl -sf "${H[@]}" -X POST "$BASE/namespaces" -d '{"namespace":["bench"]}' >/dev/null
curl -sf "${H[@]}" -X POST "$BASE/namespaces/bench/tables" -d '{"name":"big","schema":{"type":"struct","schema-id":0,"fields":[
  {"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"payload","type":"string","required":false}]}}' >/dev/null
snapshots_commit "$SNAPSHOTS" >"$BENCH_TMP/commit.json"
curl -sf "${H[@]}" -X POST "$BASE/namespaces/bench/tables/big" --data-binary @"$BENCH_TMP/commit.json" >"$BENCH_TMP/loaded.json" \
  || bench_die "the commit of $SNAPSHOTS snapshots failed"
META=$(jq -r '."metadata-location"' "$BENCH_TMP/loaded.json")
META=${META#file://}
SIZE=$(stat -c %s "$META")
LOADSIZE=$(curl -s "${H[@]}" "$BASE/namespaces/bench/tables/big" | wc -c)
echo "loadtable.sh: metadata file $SIZE bytes; loadTable response $LOADSIZE bytes"
nginx_start "" "
        location = /meta.json {
            default_type application/json;
            alias $META;
        }"
chmod -R a+rX "$BENCH_TMP" 2>/dev/null || true
NGINX_URL="http://127.0.0.1:$NGINX_PORT/meta.json"
[ "$(curl -s "$NGINX_URL" | wc -c)" = "$SIZE" ] || bench_die "nginx does not serve the metadata file"
printf '%-4s %14s %9s %14s %9s\n' run "icegate req/s" "non-2xx" "nginx req/s" "non-2xx"
ice=() ngx=()
for ((run = 1; run <= RUNS; run++)); do
  wrk_run "$SECS" "$BASE/namespaces/bench/tables/big" -t2 -c32 -H "X-API-Token: $TOKEN"
  a=$WRK_RPS a_bad=$WRK_NON2XX
  wrk_run "$SECS" "$NGINX_URL" -t2 -c32
  ice+=("$a") ngx+=("$WRK_RPS")
  printf '%-4s %14s %9s %14s %9s\n' "$run" "$a" "$a_bad" "$WRK_RPS" "$WRK_NON2XX"
done
mi=$(median "${ice[@]}") mn=$(median "${ngx[@]}")
printf '%-4s %14s %9s %14s\n' median "$mi" "" "$mn"
echo "ratio icegate/nginx (median req/s): $(awk -v a="$mi" -v b="$mn" 'BEGIN { printf "%.3f", a / b }')"
