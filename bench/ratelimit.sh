#!/usr/bin/env bash
# bench/ratelimit.sh — rate-limit accuracy, icegate side by side with nginx limit_req.
#
# For each rate R in RATES (default 10 100 1000), burst B = BURST if set, else R (icegate's default,
# max(1, ceil(maxRps))), the same B on both sides:
#   - nginx: limit_req_zone $http_x_api_token zone=rR rate=Rr/s; limit_req zone=rR burst=B nodelay;
#     limit_req_status 429; serving a static file via alias (NOT `return`: it runs in the rewrite phase,
#     before limit_req, and would never be limited -- BENCHMARKING.md pitfall);
#   - icegate: a token created with --max-rps R --burst B, GET /v1/config.
# Both are driven by the same wrk Lua script (bench/ratelimit.lua) at about OVERLOAD (10) x R for SECS (10) s;
# it counts 200s and 429s per wrk thread and sums them in done(). Prints admitted / expected, where
# expected = B + R * SECS (a bucket of B starting full, refilled at R for SECS seconds).
#
# Two icegate modes (MODES, default "refuse hold"): `refuse` runs with ratelimiter.max_delay_ms 0 (every request
# over the limit is a 429 at once, like nginx's nodelay); `hold` with max_delay_ms 1000, where requests whose
# slot opens within 1 s are held and served at it (issue 9) — there the connections are raised to
# min(rate + 4, 72) so that held connections still leave requests in flight to fill every slot.  Admitted must
# stay burst + rate * SECS in both.
#
# Then a mixed-cost row per mode, icegate only (ratelimiter.costs; see mix_rows below): commits, loads and
# loads answered 304 on one token; the cost units admitted against burst + rate * SECS.
#
# Usage: bench/ratelimit.sh     env: RATES ("10 100 1000", integers >= 1 for nginx's r/s), BURST (= rate),
#                               SECS (10), OVERLOAD (10), MODES ("refuse hold"), ICEGATE_BIN (bin/icegate),
#                               MIX_RATE (100; empty skips the mixed row), MIX_COSTS ("1 0.1 5": read,
#                               not_modified, commit), BENCH_KEEP=1 keeps the temp dir.
# Exit 0 ok, 1 error, 2 icegate missing / not serving (nginx numbers are still printed).
# Runtime: about (1 + |MODES|) * |RATES| * (SECS + 2) seconds. Traffic goes to 127.0.0.1 only.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RATES=${RATES:-10 100 1000}
MODES=${MODES:-refuse hold}
SECS=${SECS:-10}
OVERLOAD=${OVERLOAD:-10}
LUA=$BENCH_ROOT/bench/ratelimit.lua
BODY='{"defaults":{},"overrides":{}}'

for r in $RATES; do
  [[ $r =~ ^[1-9][0-9]*$ ]] || bench_die "RATES must be integers >= 1 (nginx rate=Nr/s), got '$r'"
done
[ -z "${BURST:-}" ] || [[ $BURST =~ ^[1-9][0-9]*$ ]] || bench_die "BURST must be an integer >= 1"
burst_of() { echo "${BURST:-$1}"; }

bench_init
printf '%s' "$BODY" >"$BENCH_TMP/config.json"
chmod 644 "$BENCH_TMP/config.json"

http_conf="    limit_req_status 429;"
server_conf=""
for r in $RATES; do
  http_conf+="
    limit_req_zone \$http_x_api_token zone=r$r:1m rate=${r}r/s;"
  server_conf+="
        location = /r$r/v1/config {
            default_type application/json;
            alias $BENCH_TMP/config.json;
            limit_req zone=r$r burst=$(burst_of "$r") nodelay;
        }"
done
nginx_start "$http_conf" "$server_conf"
first=${RATES%% *}
[ "$(curl -s -m 2 -H 'X-API-Token: sanity' "http://127.0.0.1:$NGINX_PORT/r$first/v1/config")" = "$BODY" ] ||
  bench_die "nginx does not serve $BENCH_TMP/config.json"

have_icegate=0
declare -A TOKENS=()
if icegate_check; then
  DATA=$BENCH_TMP/icegate-data
  mkdir -p "$DATA"
  ok=1
  for r in $RATES; do
    TOKENS[$r]=$(icegate_token "$DATA" "bench-rate-$r" "$r" "$(burst_of "$r")") || { ok=0; break; }
  done
  if [ "$ok" = 1 ] && ICEGATE_RATELIMITER_MAX_DELAY_MS=0 icegate_start "$DATA"; then
    ICEGATE_URL="http://127.0.0.1:$ICEGATE_PORT/v1/config"
    # One request per token to check it is accepted (this takes one slot; it is back within 1/R s).
    have_icegate=1
    for r in $RATES; do
      code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -H "X-API-Token: ${TOKENS[$r]}" "$ICEGATE_URL" || true)
      if [ "$code" != 200 ]; then
        echo "icegate: GET /v1/config with the rate-$r token answered HTTP $code, not 200." >&2
        have_icegate=0
      fi
    done
    sleep 1
  fi
fi
[ "$have_icegate" = 1 ] || echo "ratelimit.sh: icegate is not available -- measuring nginx only." >&2

# Pacing: each connection waits DELAY ms before each request, so C connections offer ~C*1000/DELAY req/s.
# Keep DELAY >= 2 ms (wrk timers are in ms) and add connections for higher rates.
pace() {
  local target=$(($1 * OVERLOAD))
  PACE_DELAY=2
  PACE_CONNS=$(((target * PACE_DELAY + 999) / 1000))
  if [ "$PACE_CONNS" -lt 2 ]; then
    PACE_CONNS=2
    PACE_DELAY=$(((2000 + target / 2) / target))
  fi
}

# Runs the Lua-driven wrk (with an ETag $3: the mixed-cost requests); sets R_OK R_429 R_OTHER R_OFFERED
# (req/s actually sent) and R_LINE (the RESULT line).
measure() {
  local url=$1 token=$2
  wrk_run "$SECS" "$url" -t2 -c"$PACE_CONNS" -s "$LUA" -- "$token" "$PACE_DELAY" ${3:+"$3"} || return 1
  local line
  line=$(grep '^RESULT ' "$WRK_OUT" | tail -n 1)
  [ -n "$line" ] || { echo "bench: no RESULT line from $LUA ($WRK_OUT)" >&2; return 1; }
  R_LINE=$line
  R_OK=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$line")
  R_429=$(sed -E 's/.* limited=([0-9]+).*/\1/' <<<"$line")
  R_OTHER=$(sed -E 's/.* other=([0-9]+).*/\1/' <<<"$line")
  local n us
  n=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")
  us=$(sed -E 's/.* duration_us=([0-9]+).*/\1/' <<<"$line")
  R_OFFERED=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", (us > 0 ? n * 1e6 / us : 0) }')
}

cell() { # ok expected -> "ok/expected (pct%)"
  awk -v a="$1" -v e="$2" 'BEGIN { printf "%d/%d (%.1f%%)", a, e, 100 * a / e }'
}

# ---- the mixed-cost row (ratelimiter.costs, DESIGN.md section 8): icegate only, nginx has no per-request cost.
# One token (MIX_RATE, burst = MIX_RATE) cycles through commits, loadTables answered 200 and loadTables
# answered 304 (bench/ratelimit.lua given an ETag) at ~OVERLOAD x MIX_RATE requests/s; the server runs with
# ratelimiter.costs read / not_modified / commit = MIX_COSTS.  The cost units admitted are
# read * 200-loads + not_modified * 304s + commit * commits, against expected = burst + MIX_RATE * SECS.
MIX_RATE=${MIX_RATE-100}
read -r MIX_READ MIX_NM MIX_COMMIT <<<"${MIX_COSTS:-1 0.1 5}"
mix_rows() {
  local admin tok etag url h mode delay
  admin=$(icegate_token "$DATA" bench-mix-admin) && tok=$(icegate_token "$DATA" bench-mix "$MIX_RATE" "$MIX_RATE") ||
    { echo "mix: token create failed" >&2; return 1; }
  echo
  echo "mixed costs: read $MIX_READ, not_modified $MIX_NM, commit $MIX_COMMIT; one token at $MIX_RATE/s, burst $MIX_RATE;" \
    "commit : load : conditional load = 1 : 1 : 2; units = read*loads + not_modified*304s + commit*commits"
  printf '%-14s | %7s %7s %7s %7s %6s %9s | %s\n' mode "loads" "304s" commits 429s other "offered/s" "units admitted/expected"
  for mode in $MODES; do
    delay=0
    [ "$mode" = hold ] && delay=1000
    ICEGATE_RATELIMITER_MAX_DELAY_MS=$delay ICEGATE_RATELIMITER_COSTS_READ=$MIX_READ \
      ICEGATE_RATELIMITER_COSTS_NOT_MODIFIED=$MIX_NM ICEGATE_RATELIMITER_COSTS_COMMIT=$MIX_COMMIT \
      icegate_start "$DATA" || return 1
    h="http://127.0.0.1:$ICEGATE_PORT"
    url="$h/v1/namespaces/mix/tables"
    if [ "$mode" = "${MODES%% *}" ]; then # the first run makes the namespace and the two tables
      curl -sf -o /dev/null -H "X-API-Token: $admin" -H 'Content-Type: application/json' \
        -d '{"namespace":["mix"]}' "$h/v1/namespaces" || { echo "mix: create namespace failed" >&2; return 1; }
      for t in t c; do
        curl -sf -o /dev/null -H "X-API-Token: $admin" -H 'Content-Type: application/json' \
          -d "{\"name\":\"$t\",\"schema\":{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"id\",\"type\":\"long\",\"required\":true}]}}" \
          "$url" || { echo "mix: create table $t failed" >&2; return 1; }
      done
    fi
    etag=$(curl -s -D - -o /dev/null -H "X-API-Token: $admin" "$url/t" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
    [ -n "$etag" ] || { echo "mix: no ETag on $url/t" >&2; return 1; }
    pace "$MIX_RATE"
    want=$((MIX_RATE + 4 < 72 ? MIX_RATE + 4 : 72))
    [ "$mode" = hold ] && [ "$PACE_CONNS" -lt "$want" ] && PACE_CONNS=$want
    [ "$PACE_CONNS" -lt 8 ] && PACE_CONNS=8 # commits take longer than loads: keep the offered rate up
    measure "$url" "$tok" "$etag" || return 1
    local loads=$R_OK nm commits
    nm=$(sed -E 's/.* not_modified=([0-9]+).*/\1/' <<<"$R_LINE")
    commits=$(sed -E 's/.* commits=([0-9]+).*/\1/' <<<"$R_LINE")
    printf '%-14s | %7s %7s %7s %7s %6s %9s | %s\n' "icegate $mode" "$loads" "$nm" "$commits" "$R_429" "$R_OTHER" \
      "$R_OFFERED" \
      "$(awk -v l="$loads" -v m="$nm" -v c="$commits" -v r="$MIX_READ" -v nmc="$MIX_NM" -v cc="$MIX_COMMIT" \
        -v e="$((MIX_RATE + MIX_RATE * SECS))" \
        'BEGIN { u = l * r + m * nmc + c * cc; printf "%.1f/%d (%.2f%%)", u, e, 100 * u / e }')"
  done
  echo "(wrk -t2, ${PACE_CONNS} connections, ${PACE_DELAY} ms pacing for the last mode; counted by wrk like the rows above)"
}

# Restarts icegate with max_delay_ms $1 (same data dir, same tokens).
icegate_mode() {
  ICEGATE_RATELIMITER_MAX_DELAY_MS=$1 icegate_start "$DATA" && ICEGATE_URL="http://127.0.0.1:$ICEGATE_PORT/v1/config"
}

echo "ratelimit.sh: ${SECS}s per run at ~${OVERLOAD}x each rate; burst = ${BURST:-rate}; admitted/expected, expected = burst + rate*${SECS}"
printf '%-6s %-6s | %-22s %7s %6s %9s' rate burst "nginx admitted" 429s other "offered/s"
for mode in $MODES; do printf ' | %-22s %7s %6s %9s' "icegate $mode" 429s other "offered/s"; done
printf '\n'
declare -A ROWS=()
for r in $RATES; do
  pace "$r"
  b=$(burst_of "$r")
  expected=$((b + r * SECS))
  measure "http://127.0.0.1:$NGINX_PORT/r$r/v1/config" "bench-nginx-$r-$$-$RANDOM"
  ROWS[$r]=$(printf '%-6s %-6s | %-22s %7s %6s %9s' "$r" "$b" "$(cell "$R_OK" "$expected")" "$R_429" "$R_OTHER" \
    "$R_OFFERED")
done
for mode in $MODES; do
  delay=0
  [ "$mode" = hold ] && delay=1000
  [ "$have_icegate" = 1 ] && { icegate_mode "$delay" || have_icegate=0; }
  for r in $RATES; do
    pace "$r"
    # hold: enough connections to keep every slot booked while some are held (max_held_per_token is 64)
    want=$((r + 4 < 72 ? r + 4 : 72))
    [ "$mode" = hold ] && [ "$PACE_CONNS" -lt "$want" ] && PACE_CONNS=$want
    b=$(burst_of "$r")
    expected=$((b + r * SECS))
    i_cell="n/a" i_rest=$(printf '%7s %6s %9s' - - -)
    if [ "$have_icegate" = 1 ]; then
      sleep 1 # a full bucket again after the last run
      measure "$ICEGATE_URL" "${TOKENS[$r]}"
      i_cell=$(cell "$R_OK" "$expected")
      i_rest=$(printf '%7s %6s %9s' "$R_429" "$R_OTHER" "$R_OFFERED")
    fi
    ROWS[$r]+=$(printf ' | %-22s %s' "$i_cell" "$i_rest")
  done
done
for r in $RATES; do echo "${ROWS[$r]}"; done
echo "(wrk -t2, ${PACE_CONNS} connections and ${PACE_DELAY} ms pacing for the last rate; offered/s = requests sent / wrk duration)"
[ "$have_icegate" = 1 ] && [ -n "$MIX_RATE" ] && mix_rows
[ "$have_icegate" = 1 ] && exit 0
echo "icegate: n/a -- build the real server (bin/icegate serve / token create) and rerun."
exit 2
