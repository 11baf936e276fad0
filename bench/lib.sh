#!/usr/bin/env bash
# bench/lib.sh — shared helpers for the benchmark scripts in bench/. Source it; do not run it.
#
#   bench_init                       temp dir ($BENCH_TMP) + an EXIT trap that stops everything started here
#   free_port                        prints a free TCP port on 127.0.0.1
#   wait_http URL [SECONDS]          polls until URL answers with any HTTP status (0) or times out (1)
#   nginx_start HTTP_CONF SERVER_CONF
#                                    runs Debian's nginx as a non-daemon child with its own prefix/conf in a
#                                    temp dir, listening on 127.0.0.1:$NGINX_PORT (worker_processes 2,
#                                    keepalive_requests 1000000, access_log off); sets NGINX_PID, NGINX_PORT,
#                                    NGINX_DIR. HTTP_CONF goes in the http{} block, SERVER_CONF in server{}.
#   nginx_stop                       graceful stop (QUIT), bounded; removes nothing (bench_init's trap does)
#   icegate_check                    0 if $ICEGATE_BIN is an executable file, else prints why and returns 1
#   icegate_start DATA_DIR           `icegate serve` on a free port (--config $BENCH_CONFIG when set); sets
#                                    ICEGATE_PID, ICEGATE_PORT; waits for /healthz (up to 15 s); on failure
#                                    prints its log and returns 1
#   icegate_stop
#   icegate_token DATA_DIR NAME [MAX_RPS [BURST]]
#                                    `icegate token create ... --json`, prints the secret ("token" field)
#   wrk_run SECONDS URL [WRK OPTIONS...] [-- SCRIPT ARGS...]
#                                    runs wrk bounded in time; output saved in $WRK_OUT; sets WRK_RPS
#                                    (Requests/sec) and WRK_NON2XX (Non-2xx or 3xx responses, 0 if absent)
#   median N...                      prints the median (mean of the two middle values for an even count)
#   snapshots_commit N               prints a commit body adding N snapshots (~330 bytes each in the metadata)
#                                    on a main branch: a table's metadata of ~1 MB at N = 3000
#
# Every server listens on 127.0.0.1 only and every load run is bounded with `timeout`.

# Variables below are read by the scripts that source this file.
# shellcheck disable=SC2034
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ICEGATE_BIN=${ICEGATE_BIN:-$BENCH_ROOT/bin/icegate}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
BENCH_TMP=
NGINX_PID=
NGINX_PORT=
NGINX_DIR=
ICEGATE_PID=
ICEGATE_PORT=
WRK_OUT=
WRK_RPS=
WRK_NON2XX=

bench_die() {
  echo "bench: $*" >&2
  exit 1
}

bench_cleanup() {
  icegate_stop
  nginx_stop
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ] && [ -z "${BENCH_KEEP:-}" ]; then
    rm -rf "$BENCH_TMP"
  fi
}

bench_init() {
  for tool in wrk curl jq timeout; do
    command -v "$tool" >/dev/null 2>&1 || bench_die "$tool not found (scripts/deps.sh test installs it)"
  done
  [ -x "$NGINX_BIN" ] || bench_die "nginx not found (apt-get install nginx-light)"
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/icegate-bench.XXXXXX")
  # nginx workers drop to 'nobody' when started as root: they must be able to read files served from here.
  chmod 755 "$BENCH_TMP"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return
    fi
  done
  bench_die "no free port found"
}

wait_http() {
  local url=$1 secs=${2:-10} code i
  for ((i = 0; i < secs * 20; i++)); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

nginx_start() {
  local http_conf=$1 server_conf=$2
  nginx_stop
  NGINX_DIR=$BENCH_TMP/nginx
  mkdir -p "$NGINX_DIR/logs" "$NGINX_DIR/tmp"
  chmod 755 "$NGINX_DIR"
  for _ in 1 2 3; do
    NGINX_PORT=$(free_port)
    cat >"$NGINX_DIR/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    default_type application/octet-stream;
$http_conf
    server {
        listen 127.0.0.1:$NGINX_PORT;
        server_name localhost;
$server_conf
    }
}
EOF
    "$NGINX_BIN" -t -q -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf" \
      || bench_die "nginx config rejected: $NGINX_DIR/nginx.conf ($(tail -n 3 "$NGINX_DIR/logs/error.log"))"
    "$NGINX_BIN" -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf" \
      >>"$NGINX_DIR/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    if wait_http "http://127.0.0.1:$NGINX_PORT/" 5; then
      return 0
    fi
    # Most likely the free port was taken in between: try another one.
    nginx_stop
  done
  bench_die "nginx did not start; see $NGINX_DIR/logs/error.log: $(tail -n 3 "$NGINX_DIR/logs/error.log" 2>/dev/null)"
}

# Sends SIG to PID (a child started here) and waits for it at most SECS seconds; returns 1 if still alive.
stop_child() {
  local pid=$1 sig=$2 secs=$3 i
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.05
  done
  return 1
}

nginx_stop() {
  [ -n "$NGINX_PID" ] || return 0
  stop_child "$NGINX_PID" QUIT 5 || stop_child "$NGINX_PID" TERM 3 || stop_child "$NGINX_PID" KILL 2
  NGINX_PID=
}

icegate_check() {
  if [ ! -e "$ICEGATE_BIN" ]; then
    echo "icegate: $ICEGATE_BIN does not exist yet -- build it with 'make' (or point ICEGATE_BIN at a binary)." >&2
    return 1
  fi
  if [ ! -x "$ICEGATE_BIN" ] || [ -d "$ICEGATE_BIN" ]; then
    echo "icegate: $ICEGATE_BIN is not an executable file." >&2
    return 1
  fi
  return 0
}

icegate_start() {
  local data_dir=$1
  icegate_stop
  ICEGATE_PORT=$(free_port)
  ICEGATE_LOG=$BENCH_TMP/icegate.$ICEGATE_PORT.log
  local cfg=()
  [ -n "${BENCH_CONFIG:-}" ] && cfg=(--config "$BENCH_CONFIG") # a YAML file for every server started here
  "$ICEGATE_BIN" serve --listen "127.0.0.1:$ICEGATE_PORT" --data-dir "$data_dir" "${cfg[@]}" >"$ICEGATE_LOG" 2>&1 &
  ICEGATE_PID=$!
  local i code
  for ((i = 0; i < 15 * 20; i++)); do
    if ! kill -0 "$ICEGATE_PID" 2>/dev/null; then
      wait "$ICEGATE_PID" 2>/dev/null
      echo "icegate: '$ICEGATE_BIN serve' exited before answering (is this the real server yet?); its output:" >&2
      sed 's/^/    /' "$ICEGATE_LOG" | tail -n 20 >&2
      ICEGATE_PID=
      return 1
    fi
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$ICEGATE_PORT/healthz" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then
      return 0
    fi
    sleep 0.05
  done
  echo "icegate: no answer on 127.0.0.1:$ICEGATE_PORT/healthz within 15 s; its output:" >&2
  sed 's/^/    /' "$ICEGATE_LOG" | tail -n 20 >&2
  icegate_stop
  return 1
}

icegate_stop() {
  [ -n "$ICEGATE_PID" ] || return 0
  stop_child "$ICEGATE_PID" TERM 5 || stop_child "$ICEGATE_PID" KILL 2
  ICEGATE_PID=
}

# icegate_setup NAME [MAX_RPS [BURST]]: checks the binary (exit 2 if missing), makes $DATA (a fresh data dir)
# and $TOKEN (a token named NAME in it).
icegate_setup() {
  icegate_check || exit 2
  DATA=$BENCH_TMP/data
  mkdir -p "$DATA"
  TOKEN=$(icegate_token "$DATA" "$@")
}

icegate_token() {
  local data_dir=$1 name=$2 rps=${3:-} burst=${4:-} out tok
  local args=(token create --data-dir "$data_dir" --name "$name" --json)
  [ -n "$rps" ] && args+=(--max-rps "$rps")
  [ -n "$burst" ] && args+=(--burst "$burst")
  # TOKEN_ARGS: more `token create` options for every benchmark token (e.g. scopes and allowedCidrs)
  # shellcheck disable=SC2206  # split on purpose
  [ -n "${TOKEN_ARGS:-}" ] && args+=(${TOKEN_ARGS})
  if ! out=$(timeout 30 "$ICEGATE_BIN" "${args[@]}" 2>"$BENCH_TMP/token.err"); then
    echo "icegate: '$ICEGATE_BIN ${args[*]}' failed:" >&2
    sed 's/^/    /' "$BENCH_TMP/token.err" | tail -n 10 >&2
    return 1
  fi
  tok=$(printf '%s' "$out" | jq -er '.token' 2>/dev/null) || {
    echo "icegate: 'token create --json' printed no JSON with a \"token\" field:" >&2
    echo "$out" | sed 's/^/    /' | tail -n 10 >&2
    return 1
  }
  printf '%s\n' "$tok"
}

wrk_run() {
  local secs=$1 url=$2
  shift 2
  WRK_OUT=$BENCH_TMP/wrk.$$.$RANDOM.out
  WRK_RPS=
  WRK_NON2XX=0
  # wrk wants: options, URL, then `-- script args`.
  local opts=() rest=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  rest=("$@")
  # wrk stops by itself after -d; the outer timeout is the hard bound if it ever hangs.
  if ! timeout -k 5 $((secs + 20)) wrk -d "${secs}s" "${opts[@]}" "$url" "${rest[@]}" >"$WRK_OUT" 2>&1; then
    echo "bench: wrk failed or timed out against $url:" >&2
    sed 's/^/    /' "$WRK_OUT" | tail -n 10 >&2
    return 1
  fi
  WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WRK_OUT")
  local n
  n=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WRK_OUT")
  # shellcheck disable=SC2034  # read by the caller
  WRK_NON2XX=${n:-0}
  [ -n "$WRK_RPS" ] || { echo "bench: no Requests/sec in wrk output ($WRK_OUT)" >&2; return 1; }
}

median() {
  [ $# -gt 0 ] || { echo "nan"; return; }
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

snapshots_commit() {
  python3 - "$1" <<'PY'
import json, sys
n = int(sys.argv[1])
ups, parent = [], None
for i in range(1, n + 1):
    sid = 1000000000000000000 + i
    snap = {"snapshot-id": sid, "sequence-number": i, "timestamp-ms": 1700000000000 + i,
            "manifest-list": f"file:///warehouse/bench/big/metadata/snap-{sid}-1-0f4a6b5e-6a3e-4c2b-9d7c-{i:012d}.avro",
            "summary": {"operation": "append", "added-data-files": "1", "added-records": "1000"}, "schema-id": 0}
    if parent: snap["parent-snapshot-id"] = parent
    ups.append({"action": "add-snapshot", "snapshot": snap})
    parent = sid
ups.append({"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": parent})
print(json.dumps({"requirements": [], "updates": ups}))
PY
}
