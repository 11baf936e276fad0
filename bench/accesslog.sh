#!/usr/bin/env bash
# bench/accesslog.sh — what the access log costs: authenticated GET /v1/config with log.access off, on (text)
# and on (JSON), the three alternating in one run, RUNS rounds of
#     wrk -t2 -c32 -dSECS -H 'X-API-Token: <token>' http://127.0.0.1:PORT/v1/config
# against a fresh `icegate serve` per measurement (its log to a file, as in production).  Prints a table,
# the medians and the ratios on/off (target >= 0.9).  It also checks every text and JSON run's log: the
# access lines must number the requests wrk saw answered (plus at most the connections' in-flight ones at the
# end) and each JSON line must parse: no line lost or torn.
#
# Usage: bench/accesslog.sh   env: ICEGATE_BIN (default bin/icegate), RUNS (3), SECS (5), BENCH_KEEP=1.
# Runtime: about 3 * RUNS * (SECS + 1) seconds.  Traffic goes to 127.0.0.1 only.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
SECS=${SECS:-5}
CONNS=32
bench_init
icegate_setup bench-accesslog

# measure MODE: one wrk run against a fresh server with the access log in MODE (off|text|json); sets RPS and,
# for text/json, checks the log.
measure() {
  local mode=$1
  case $mode in
    off) export ICEGATE_LOG_ACCESS=false ICEGATE_LOG_FORMAT=text ;;
    text) export ICEGATE_LOG_ACCESS=true ICEGATE_LOG_FORMAT=text ;;
    json) export ICEGATE_LOG_ACCESS=true ICEGATE_LOG_FORMAT=json ;;
  esac
  icegate_start "$DATA" || bench_die "icegate did not start"
  wrk_run "$SECS" "http://127.0.0.1:$ICEGATE_PORT/v1/config" -t2 -c$CONNS -H "X-API-Token: $TOKEN" ||
    bench_die "wrk failed"
  RPS=$WRK_RPS
  local answered
  answered=$(awk '/requests in/ {print $1}' "$WRK_OUT")
  icegate_stop
  unset ICEGATE_LOG_ACCESS ICEGATE_LOG_FORMAT
  [ "$mode" = off ] && return 0
  local lines bad
  if [ "$mode" = json ]; then
    lines=$(grep -c '"msg":"access","method":"GET",.*"status":200,.*"tokenId":"tok_' "$ICEGATE_LOG" || true)
    bad=$(grep '^{' "$ICEGATE_LOG" | jq -c . 2>&1 >/dev/null | wc -l)
  else
    lines=$(grep -c ' access method=GET route=[^ ]* status=200 .* tokenId=tok_' "$ICEGATE_LOG" || true)
    bad=$(grep ' access method=' "$ICEGATE_LOG" | grep -vc ' requestId=[0-9a-zA-Z._-]*$' || true)
  fi
  if [ "$bad" != 0 ] || [ "$lines" -lt "$answered" ] || [ "$lines" -gt $((answered + CONNS)) ]; then
    bench_die "$mode log: $lines access lines for $answered answered requests, $bad unreadable lines ($ICEGATE_LOG)"
  fi
  CHECKED="$CHECKED $mode:$lines/$answered"
}

echo "accesslog.sh: wrk -t2 -c$CONNS -d${SECS}s, $RUNS rounds of off/text/json, $(nproc) cores shared with wrk"
printf '%-6s %14s %14s %14s\n' round "off req/s" "text req/s" "json req/s"
off=() text=() json=()
CHECKED=
for ((run = 1; run <= RUNS; run++)); do
  measure off; off+=("$RPS")
  measure text; text+=("$RPS")
  measure json; json+=("$RPS")
  printf '%-6s %14s %14s %14s\n' "$run" "${off[-1]}" "${text[-1]}" "${json[-1]}"
done
o=$(median "${off[@]}") t=$(median "${text[@]}") j=$(median "${json[@]}")
printf '%-6s %14s %14s %14s\n' median "$o" "$t" "$j"
awk -v o="$o" -v t="$t" -v j="$j" 'BEGIN { printf "ratio text/off: %.3f   json/off: %.3f\n", t / o, j / o }'
echo "access lines / requests answered (no line lost or torn):$CHECKED"
