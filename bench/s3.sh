#!/usr/bin/env bash
# bench/s3.sh — icegate with its warehouse on S3 (issue 11), against a real S3 server on 127.0.0.1 (versitygw,
# posix back end, keep-alive on; scripts/s3server.sh builds it into build/s3/bin):
#
#   1. loadTable of a cached S3 table (1 snapshot, and SNAPSHOTS snapshots: ~1 MB of metadata) against nginx
#      serving the same bytes as a static file (the metadata object, downloaded once): wrk -t2 -c32, RUNS
#      alternating runs of SECS, medians and the ratio.  Target: >= 1.0x.
#   2. A cold load (icegate restarted, nothing cached): its latency next to a direct signed `curl` GET of the
#      same object, COLD times each, medians; and how many requests icegate made to S3 for it (from
#      versitygw's access log): one GET is the target.
#   3. Commits per second on one table and on 16 tables, 4 clients (bench/commits.sh, COMMIT_SECS each), on
#      S3 and on the file warehouse, RUNS alternating rounds, medians of commits/s, p50 and p99.
#
#   RUNS=3 SECS=5 SNAPSHOTS=3000 COLD=5 COMMIT_SECS=5 bench/s3.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
SNAPSHOTS=${SNAPSHOTS:-3000}
COLD=${COLD:-5}
COMMIT_SECS=${COMMIT_SECS:-5}
S3_BIN=${S3_BIN:-$BENCH_ROOT/build/s3/bin/versitygw}
[ -x "$S3_BIN" ] || { echo "s3.sh: no S3 server at $S3_BIN (scripts/s3server.sh builds it)" >&2; exit 2; }
bench_init

# ---- the S3 server
S3_PORT=$(free_port)
S3_URL="http://127.0.0.1:$S3_PORT"
S3_KEY="AKBENCH$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
S3_SECRET=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
S3_LOG=$BENCH_TMP/s3-access.log
mkdir -p "$BENCH_TMP/s3data"
env -i PATH="$PATH" ROOT_ACCESS_KEY="$S3_KEY" ROOT_SECRET_KEY="$S3_SECRET" timeout 3600 "$S3_BIN" \
  --port "127.0.0.1:$S3_PORT" --region us-east-1 --quiet --keep-alive --access-log "$S3_LOG" \
  posix "$BENCH_TMP/s3data" >"$BENCH_TMP/s3.log" 2>&1 &
S3_PID=$!
trap 'kill "$S3_PID" 2>/dev/null; bench_cleanup' EXIT
wait_http "$S3_URL/" 20 || bench_die "versitygw did not start: $(tail -5 "$BENCH_TMP/s3.log")"
s3curl() { curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
[ "$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$S3_URL/bench")" = 200 ] || bench_die "CreateBucket failed"
printf '%s' "$S3_SECRET" >"$BENCH_TMP/s3-secret"
# s3_config PREFIX: an icegate config whose warehouse is s3://bench/PREFIX on this server (printed: its path)
s3_config() {
  local f="$BENCH_TMP/s3-$1.yaml"
  cat >"$f" <<EOF
catalog:
  warehouses:
    - name: lake
      location: s3://bench/$1
      s3:
        endpoint: $S3_URL
        path_style: true
        access_key_id: $S3_KEY
        secret_access_key_file: $BENCH_TMP/s3-secret
EOF
  echo "$f"
}
s3_requests() { wc -l <"$S3_LOG" 2>/dev/null || echo 0; }

# ---- 1. cached loadTable vs nginx
icegate_setup s3
BENCH_CONFIG=$(s3_config load)
export BENCH_CONFIG
icegate_start "$DATA"
BASE="http://127.0.0.1:$ICEGATE_PORT/v1/namespaces/bench/tables"
H=(-H "X-API-Token: $TOKEN" -H "Content-Type: application/json")
curl -sf "${H[@]}" -X POST "http://127.0.0.1:$ICEGATE_PORT/v1/namespaces" -d '{"namespace":["bench"]}' >/dev/null
for t in small big; do
  curl -sf "${H[@]}" -X POST "$BASE" -d '{"name":"'$t'","schema":{"type":"struct","schema-id":0,"fields":[
    {"id":1,"name":"id","type":"long","required":true}]}}' >/dev/null
done
snapshots_commit 1 >"$BENCH_TMP/small.json"
snapshots_commit "$SNAPSHOTS" >"$BENCH_TMP/big.json"
declare -A META KEY SIZE
for t in small big; do
  curl -sf "${H[@]}" -X POST "$BASE/$t" --data-binary @"$BENCH_TMP/$t.json" >"$BENCH_TMP/$t.loaded" \
    || bench_die "the commit to $t failed"
  META[$t]=$(jq -r '."metadata-location"' "$BENCH_TMP/$t.loaded")
  KEY[$t]=${META[$t]#s3://}
  s3curl -o "$BENCH_TMP/$t.meta.json" "$S3_URL/${KEY[$t]}"
  SIZE[$t]=$(stat -c %s "$BENCH_TMP/$t.meta.json")
done
chmod -R a+rX "$BENCH_TMP" 2>/dev/null || true
nginx_start "" "
        location = /small.json { default_type application/json; alias $BENCH_TMP/small.meta.json; }
        location = /big.json { default_type application/json; alias $BENCH_TMP/big.meta.json; }"
echo "s3.sh: metadata objects on S3: small ${SIZE[small]} bytes, big ${SIZE[big]} bytes (${SNAPSHOTS} snapshots)"
echo
echo "1. loadTable of a cached S3 table vs nginx serving the same metadata bytes (wrk -t2 -c32, ${SECS} s)"
printf '%-6s %-4s %14s %9s %14s %9s\n' table run "icegate req/s" "non-2xx" "nginx req/s" "non-2xx"
for t in small big; do
  [ "$(curl -s "http://127.0.0.1:$NGINX_PORT/$t.json" | wc -c)" = "${SIZE[$t]}" ] || bench_die "nginx does not serve $t"
  ice=() ngx=()
  for ((run = 1; run <= RUNS; run++)); do
    wrk_run "$SECS" "$BASE/$t" -t2 -c32 -H "X-API-Token: $TOKEN"
    a=$WRK_RPS a_bad=$WRK_NON2XX
    wrk_run "$SECS" "http://127.0.0.1:$NGINX_PORT/$t.json" -t2 -c32
    ice+=("$a") ngx+=("$WRK_RPS")
    printf '%-6s %-4s %14s %9s %14s %9s\n' "$t" "$run" "$a" "$a_bad" "$WRK_RPS" "$WRK_NON2XX"
  done
  mi=$(median "${ice[@]}") mn=$(median "${ngx[@]}")
  printf '%-6s %-4s %14s %9s %14s   ratio icegate/nginx %s\n' "$t" median "$mi" "" "$mn" \
    "$(awk -v a="$mi" -v b="$mn" 'BEGIN { printf "%.2f", a / b }')"
done

# ---- 2. cold loads
echo
echo "2. a cold loadTable (icegate just restarted: nothing cached) vs a direct signed GET of the same object"
printf '%-6s %-4s %14s %14s %18s\n' table run "icegate ms" "curl GET ms" "S3 requests made"
for t in small big; do
  ice=() raw=()
  for ((run = 1; run <= COLD; run++)); do
    icegate_start "$DATA"
    BASE="http://127.0.0.1:$ICEGATE_PORT/v1/namespaces/bench/tables"
    before=$(s3_requests)
    a=$(curl -s -o /dev/null -w '%{time_total}' -H "X-API-Token: $TOKEN" "$BASE/$t")
    sleep 0.2 # the access log line is written after the answer
    n=$(($(s3_requests) - before))
    b=$(s3curl -o /dev/null -w '%{time_total}' "$S3_URL/${KEY[$t]}")
    a=$(awk -v s="$a" 'BEGIN { printf "%.2f", s * 1000 }') b=$(awk -v s="$b" 'BEGIN { printf "%.2f", s * 1000 }')
    ice+=("$a") raw+=("$b")
    printf '%-6s %-4s %14s %14s %18s\n' "$t" "$run" "$a" "$b" "$n"
  done
  printf '%-6s %-4s %14s %14s\n' "$t" median "$(median "${ice[@]}")" "$(median "${raw[@]}")"
done
icegate_stop
nginx_stop

# ---- 3. commits: S3 vs the file warehouse
echo
echo "3. commits/s, 4 clients, set-properties (bench/commits.sh, ${COMMIT_SECS} s per row), S3 vs file, alternating"
declare -A ROWS
for ((run = 1; run <= RUNS; run++)); do
  for wh in s3 file; do
    if [ "$wh" = s3 ]; then cfg=$(s3_config "commits$run"); else cfg=""; fi
    out=$(BENCH_CONFIG="$cfg" CLIENTS=4 SECS=$COMMIT_SECS "$BENCH_ROOT/bench/commits.sh")
    while read -r tables clients cps _ _ p50 p99 _; do
      ROWS[$wh.$tables.cps]+=" $cps" ROWS[$wh.$tables.p50]+=" $p50" ROWS[$wh.$tables.p99]+=" $p99"
      echo "  round $run $wh: $tables table(s): $cps commits/s, p50 $p50 ms, p99 $p99 ms"
    done < <(echo "$out" | awk '$1 == "1" || $1 == "16"')
  done
done
printf '%-7s %-5s %12s %9s %9s\n' tables where "commits/s" "p50 ms" "p99 ms"
for tables in 1 16; do
  for wh in s3 file; do
    # shellcheck disable=SC2086  # the lists split on purpose
    printf '%-7s %-5s %12s %9s %9s\n' "$tables" "$wh" "$(median ${ROWS[$wh.$tables.cps]})" \
      "$(median ${ROWS[$wh.$tables.p50]})" "$(median ${ROWS[$wh.$tables.p99]})"
  done
  # shellcheck disable=SC2086
  echo "  S3/file commits/s on $tables table(s): $(awk -v a="$(median ${ROWS[s3.$tables.cps]})" \
    -v b="$(median ${ROWS[file.$tables.cps]})" 'BEGIN { printf "%.2f", a / b }')"
done
echo "S3 durability: a metadata PUT is acknowledged by versitygw (posix back end) when written; file: journal mode."
