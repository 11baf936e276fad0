#!/usr/bin/env bash
# bench/commits.sh — table commits per second, durable (every commit writes a new metadata file, temp name
# and rename, then a compare-and-set of the pointer in SQLite with synchronous=FULL; with the default
# catalog.metadata_sync journal the file's bytes are in that transaction, with ICEGATE_CATALOG_METADATA_SYNC=fsync
# the file and its folder are fsynced before it).
# Each commit is a set-properties update with no requirements, POSTed by wrk (-t2, CLIENTS connections, SECS
# seconds) to
#   - one table (all committers race for the same pointer), and
#   - 16 tables (round robin),
# for each of CLIENTS ("4 16").  Prints commits/s, conflicts (409), p50/p99 latency and p99/p50 for each, and
# how many commits each group-commit batch carried (icegate_commit_batched_total / _batches_total).  No nginx
# baseline: nginx has no commits.  bench/peers.sh has the same rows beside the reference server and rustberg.
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
CLIENTS=${CLIENTS:-4 16}
batch_counts() { # "batches commits" from /metrics (the token is an admin's: icegate_setup makes it so)
  curl -sf -H "X-API-Token: $TOKEN" "http://127.0.0.1:$ICEGATE_PORT/metrics" \
    | awk '/^icegate_commit_batches_total /{b=$2} /^icegate_commit_batched_total /{c=$2} END{print b+0, c+0}'
}
printf '%-8s %8s %12s %10s %8s %9s %9s %8s %12s\n' tables clients "commits/s" conflicts other "p50 ms" "p99 ms" p99/p50 "per batch"
for clients in $CLIENTS; do
  for tables in 1 16; do
    read -r b0 c0 < <(batch_counts)
    out=$(cd "$BENCH_TMP" && timeout $((SECS + 20)) wrk -t2 -c"$clients" -d"${SECS}s" --latency -s "$BENCH_ROOT/bench/commits.lua" "$BASE" -- "$TOKEN" "$tables" 2>&1 | grep '^COMMITS')
    eval "$(echo "$out" | sed 's/^COMMITS //')"
    read -r b1 c1 < <(batch_counts)
    # shellcheck disable=SC2154  # set by eval
    printf '%-8s %8s %12.1f %10s %8s %9s %9s %8.1f %12.1f\n' "$tables" "$clients" "$(awk -v o="$ok" -v s="$secs" 'BEGIN{print o/s}')" \
      "$conflict" "$other" "$p50_ms" "$p99_ms" "$(awk -v a="$p99_ms" -v b="$p50_ms" 'BEGIN{print (b > 0 ? a / b : 0)}')" \
      "$(awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" 'BEGIN{print (b > 0 ? c / b : 0)}')"
  done
done
case "${ICEGATE_CATALOG_METADATA_SYNC:-journal}" in
  fsync) echo "catalog.metadata_sync fsync: every metadata file and its directory fsynced (shared by a batch), then SQLite synchronous=FULL." ;;
  *) echo "catalog.metadata_sync journal: the metadata bytes in the SQLite transaction of the swap (synchronous=FULL, one sync per batch), files synced by the flusher." ;;
esac
