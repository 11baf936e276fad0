#!/usr/bin/env bash
# bench/limiter_overhead.sh — what the per-token limiter costs a client that stays under its limit.
# Same binary, same data dir, same token (maxRps 1,000,000, burst 1,000,000: never refused), alternating
# RUNS runs each of wrk -t2 -c32 against GET /v1/config with
#   - features.ratelimiter.enabled=true  (every request takes from the token's GCRA cell, adds RateLimit headers)
#   - features.ratelimiter.enabled=false (nothing limited)
# and prints the median ratio enabled/disabled.  Target (issue 3): >= 0.95.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
bench_init
icegate_setup overhead 1000000 1000000
on=()
off=()
printf '%-4s %16s %9s %16s %9s\n' run "limiter on r/s" "non-2xx" "limiter off r/s" "non-2xx"
for ((run = 1; run <= RUNS; run++)); do
  ICEGATE_FEATURES_RATELIMITER_ENABLED=true icegate_start "$DATA"
  wrk_run "$SECS" "http://127.0.0.1:$ICEGATE_PORT/v1/config" -t2 -c32 -H "X-API-Token: $TOKEN"
  a=$WRK_RPS a_bad=$WRK_NON2XX
  icegate_stop
  ICEGATE_FEATURES_RATELIMITER_ENABLED=false icegate_start "$DATA"
  wrk_run "$SECS" "http://127.0.0.1:$ICEGATE_PORT/v1/config" -t2 -c32 -H "X-API-Token: $TOKEN"
  b=$WRK_RPS
  icegate_stop
  on+=("$a")
  off+=("$b")
  printf '%-4s %16s %9s %16s %9s\n' "$run" "$a" "$a_bad" "$b" "$WRK_NON2XX"
done
m_on=$(median "${on[@]}")
m_off=$(median "${off[@]}")
printf '%-4s %16s %9s %16s\n' median "$m_on" "" "$m_off"
echo "ratio limiter on/off (median req/s): $(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%.3f", a / b }')"
