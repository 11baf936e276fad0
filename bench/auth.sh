#!/usr/bin/env bash
# bench/auth.sh — the cost of icegate's authenticated GET /v1/config against the HTTP floor.
#
# Alternates RUNS runs each (icegate, nginx, icegate, nginx, ...) of
#     wrk -t2 -c32 -d5s -H 'X-API-Token: <token>' http://127.0.0.1:PORT/v1/config
# against
#   - icegate: `bin/icegate serve` on a temp data dir, with one unlimited token (no --max-rps), and
#   - nginx:   `location = /v1/config { return 200 '<the very body icegate answered>'; }` (BENCHMARKING.md floor)
# and prints a table, the medians and the median ratio icegate/nginx. Both share the machine's cores with wrk,
# so only the ratio measured in this run means anything.
#
# Usage: bench/auth.sh        env: ICEGATE_BIN (default bin/icegate), RUNS (3), SECS (5), TOKEN_ARGS (more
#                             `token create` options, e.g. "--scopes catalog:read --allowed-cidrs 127.0.0.0/8"),
#                             BENCH_KEEP=1 keeps
#                             the temp dir. Exit 0 ok, 1 error, 2 icegate missing / not serving (nginx-only
#                             numbers are still printed).
# Runtime: about 2 * RUNS * (SECS + 1) seconds. Traffic goes to 127.0.0.1 only.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
SECS=${SECS:-5}
WRK_ARGS=(-t2 -c32)
BODY='{"defaults":{},"overrides":{}}'

bench_init

have_icegate=0
TOKEN=bench-no-icegate
if icegate_check; then
  DATA=${BENCH_DATA_DIR:-$BENCH_TMP/icegate-data}
  mkdir -p "$DATA"
  if TOKEN=$(icegate_token "$DATA" bench-auth) && icegate_start "$DATA"; then
    ICEGATE_URL="http://127.0.0.1:$ICEGATE_PORT/v1/config"
    code=$(curl -s -m 2 -o "$BENCH_TMP/check.json" -w '%{http_code}' -H "X-API-Token: $TOKEN" "$ICEGATE_URL" || true)
    if [ "$code" = 200 ] && jq -e '.defaults and .overrides' "$BENCH_TMP/check.json" >/dev/null 2>&1; then
      have_icegate=1
      BODY=$(cat "$BENCH_TMP/check.json") # nginx answers the very same bytes
    else
      echo "icegate: GET /v1/config with the token answered HTTP $code, not 200 with {defaults, overrides}:" >&2
      head -c 300 "$BENCH_TMP/check.json" >&2 2>/dev/null || true
      echo >&2
    fi
  fi
fi

nginx_start "" "
        location = /v1/config {
            default_type application/json;
            return 200 '$BODY';
        }"
NGINX_URL="http://127.0.0.1:$NGINX_PORT/v1/config"
[ "$(curl -s -m 2 "$NGINX_URL")" = "$BODY" ] || bench_die "nginx baseline does not answer $BODY"
echo "auth.sh: both answer the same $(printf '%s' "$BODY" | wc -c)-byte body"
[ "$have_icegate" = 1 ] || echo "auth.sh: icegate is not available -- measuring the nginx baseline only." >&2

echo "auth.sh: wrk ${WRK_ARGS[*]} -d${SECS}s, $RUNS alternating runs each, $(nproc) cores shared with wrk"
printf '%-4s %14s %9s %14s %9s\n' run "icegate req/s" "non-2xx" "nginx req/s" "non-2xx"
ice=()
ngx=()
for ((run = 1; run <= RUNS; run++)); do
  i_rps=n/a
  i_bad=-
  if [ "$have_icegate" = 1 ]; then
    wrk_run "$SECS" "$ICEGATE_URL" "${WRK_ARGS[@]}" -H "X-API-Token: $TOKEN"
    i_rps=$WRK_RPS
    i_bad=$WRK_NON2XX
    ice+=("$i_rps")
  fi
  wrk_run "$SECS" "$NGINX_URL" "${WRK_ARGS[@]}" -H "X-API-Token: $TOKEN"
  ngx+=("$WRK_RPS")
  printf '%-4s %14s %9s %14s %9s\n' "$run" "$i_rps" "$i_bad" "$WRK_RPS" "$WRK_NON2XX"
done

n_med=$(median "${ngx[@]}")
if [ "$have_icegate" = 1 ]; then
  i_med=$(median "${ice[@]}")
  ratio=$(awk -v a="$i_med" -v b="$n_med" 'BEGIN { printf "%.3f", a / b }')
  printf '%-4s %14s %9s %14s\n' median "$i_med" "" "$n_med"
  echo "ratio icegate/nginx (median req/s): $ratio"
  exit 0
fi
printf '%-4s %14s %9s %14s\n' median n/a "" "$n_med"
echo "ratio icegate/nginx: n/a (icegate not available)"
exit 2
