#!/usr/bin/env bash
# bench/redis.sh — authenticated, rate-checked throughput of one node with ratelimiter.backend: redis against
# the local back end (issue 12: target >= 0.8x).  Same binary, same data dir, alternating RUNS runs each of
#     wrk -t2 -c32 -d${SECS}s -H 'X-API-Token: <token>' http://127.0.0.1:PORT/v1/config
# with the back end local, then redis (Debian's redis-server, started here on a unix socket in the temp dir,
# no persistence), for two tokens that stay under their limits (every answer a 200):
#   - leased:   maxRps 1,000,000, burst 10,000: fast enough for leases (2 ms of bucket time per Redis call);
#   - exact:    maxRps 1,000,000, burst 16: below the lease threshold (burst < 32), one Redis script per request.
# Prints each run, the medians and the ratios redis/local.  Everything on 127.0.0.1; the cores are shared
# with wrk and redis-server, so only ratios from one run mean anything.
#
# Usage: bench/redis.sh     env: ICEGATE_BIN, RUNS (3), SECS (5), REDIS_BIN (redis-server), BENCH_KEEP=1
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
REDIS_BIN=${REDIS_BIN:-redis-server}
command -v "$REDIS_BIN" >/dev/null || bench_die "$REDIS_BIN not found (scripts/deps.sh test installs redis-server)"
bench_init
icegate_check || exit 2
DATA=$BENCH_TMP/data
mkdir -p "$DATA"
LEASED=$(icegate_token "$DATA" leased 1000000 10000)
EXACT=$(icegate_token "$DATA" exact 1000000 16)

SOCK=$BENCH_TMP/redis.sock
"$REDIS_BIN" --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' --appendonly no --dir "$BENCH_TMP" \
  >"$BENCH_TMP/redis.log" 2>&1 &
REDIS_PID=$!
trap 'kill "$REDIS_PID" 2>/dev/null || true; bench_cleanup' EXIT
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || bench_die "redis-server did not open $SOCK: $(tail -n 3 "$BENCH_TMP/redis.log")"
printf 'ratelimiter:\n  backend: local\n' >"$BENCH_TMP/local.yaml"
printf 'ratelimiter:\n  backend: redis\n  redis:\n    url: unix:%s\n' "$SOCK" >"$BENCH_TMP/redis.yaml"

# run BACKEND TOKEN: req/s of one wrk run against a fresh server with that back end (non-2xx into BAD).
run() {
  BENCH_CONFIG=$BENCH_TMP/$1.yaml icegate_start "$DATA" || bench_die "icegate did not start with the $1 back end"
  wrk_run "$SECS" "http://127.0.0.1:$ICEGATE_PORT/v1/config" -t2 -c32 -H "X-API-Token: $2"
  BAD=$WRK_NON2XX
  icegate_stop
}

echo "redis.sh: wrk -t2 -c32 -d${SECS}s GET /v1/config, $RUNS alternating runs, $(nproc) cores shared with wrk and redis-server"
printf '%-4s %-7s %14s %8s %14s %8s\n' run token "local req/s" non-2xx "redis req/s" non-2xx
declare -A res
for ((i = 1; i <= RUNS; i++)); do
  for tok in leased exact; do
    secret=$LEASED
    [ "$tok" = exact ] && secret=$EXACT
    run local "$secret"; l=$WRK_RPS lb=$BAD
    run redis "$secret"; r=$WRK_RPS rb=$BAD
    res[$tok.local]+="$l " res[$tok.redis]+="$r "
    printf '%-4s %-7s %14s %8s %14s %8s\n' "$i" "$tok" "$l" "$lb" "$r" "$rb"
  done
done
for tok in leased exact; do
  # shellcheck disable=SC2086  # the lists are space-separated on purpose
  ml=$(median ${res[$tok.local]}) mr=$(median ${res[$tok.redis]})
  printf 'median %-7s local %s  redis %s  ratio redis/local %s\n' "$tok" "$ml" "$mr" \
    "$(awk -v a="$mr" -v b="$ml" 'BEGIN { printf "%.3f", a / b }')"
done
