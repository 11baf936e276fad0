#!/usr/bin/env bash
# bench/peers.sh — icegate side by side with two other Iceberg REST catalogs on this box, same requests, every
# round alternating the servers (icegate, reference, rustberg, icegate, ...), RUNS rounds, medians and the
# ratios icegate/peer:
#   reference  Iceberg's reference REST catalog server (RESTCatalogServer's JdbcCatalog + RESTServerCatalogAdapter
#              + RESTCatalogServlet on Jetty, Iceberg 1.11.0; bench/peer/PeerServer.java binds it to 127.0.0.1)
#   rustberg   rustberg 0.3.0 (Rust, one binary; redb catalog, API keys, Cedar), its rate limiting off
# Both are built or fetched once into build/ by bench/peers-setup.sh (never by make test or CI); a peer whose
# build is absent is skipped with a note, and icegate is still measured against the other.
#
#   bench/peers-setup.sh && make && bench/peers.sh       # RUNS=3 SECS=5 COLD=5 by default (~15 min)
#   flock /work/findings/bench.lock bench/peers.sh       # where other benchmarks share the machine
#   PEERS="rustberg" SCENARIOS="config load-small" bench/peers.sh
#
# Rows (wrk, 127.0.0.1 only, every run bounded by -d SECS; "lower is better" rows say so):
#   config         GET /v1/config                                                        wrk -t2 -c16
#   load-small     GET loadTable of a 2-column table, no snapshots                       wrk -t2 -c16
#   load-1mb       GET loadTable of a table whose metadata file is ~1.1 MB (SNAPSHOTS=3000) wrk -t2 -c16
#   list-10k       GET listTables of a namespace with LIST_TABLES=10000 tables            wrk -t2 -c4
#                  (icegate's are created through its API; the reference's first 20 too, the others are rows
#                  copied into its SQLite catalog, because its createTable is too slow for 10,000 here;
#                  rustberg: n/a, its listTables pages at most 1,000 identifiers (100 by default))
#   create         POST createTable, new names every request                              wrk -t2 -c4
#   commit-1       POST set-properties commits, all on one table (bench/commits.lua)      wrk -t2 -c4
#   commit-16      the same, round robin over 16 tables                                   wrk -t2 -c4
#   appends        PyIceberg: APPENDS=200 appends of 10 rows to a new table (bench/peer/appends.py), wall time;
#                  only when PEER_PYTHON (default build/peer/venv/bin/python) imports pyiceberg, e.g. after
#                  python3 -m venv build/peer/venv && build/peer/venv/bin/pip install 'pyiceberg[pyarrow]==0.12.0'
#   cold start     ms from the spawn to the first 200 of an authenticated GET /v1/config, on a fresh data dir
#                  (bench/peer/coldstart.py polls every 2 ms), median of COLD starts, alternating servers
#   RSS idle       VmRSS 1 s after that first 200, no traffic (median of the COLD starts)
#   RSS after load VmRSS of the measured servers after all the runs above
# Before the measured runs each server gets one WARM-second run of each scenario (the JVM compiles its hot
# paths; icegate has nothing to warm) that is not counted.
#
# Durability and auth are not the same, and the output says so:
#   icegate    every create/commit writes the metadata file (temp name, fsync, rename, fsync of the directory),
#              then swaps the pointer in SQLite (WAL, synchronous=FULL) — durable when the 200 is sent.
#              Auth: X-API-Token checked on every request (per-token rate limit on, no limit set on this token);
#              access log on (its default), to a file.
#   reference  JdbcCatalog on a SQLite file through sqlite-jdbc's defaults (journal_mode=delete, synchronous=2
#              FULL: the pointer swap costs 4 fsyncs, journal and database), metadata files written in place by
#              HadoopFileIO / Hadoop's LocalFileSystem (+ a .crc file), never fsynced (strace of one commit): after
#              a power cut the durable pointer can name a metadata file that never reached the disk. No auth.
#   rustberg   redb (Durability::Immediate: fsync per write transaction), metadata files written in place by
#              OpenDAL's fs backend with an fsync of the file on close, no fsync of the directory. Auth: an API
#              key from its config (X-API-Key, SHA-256 lookup) and a Cedar decision per request; its audit trail
#              (JSON line per decision, its default sink stdout) and its info log go to files. Rate limit off
#              ([rate_limit] enabled = false). See bench/peers-setup.sh for where in its source this is.
# The reference and rustberg read and parse the metadata file on every loadTable; icegate answers from its cache.
# Namespace levels: the reference advertises namespace-separator %2E, icegate %1F; the benchmark uses
# one-level namespaces, so the paths are the same on all three.
set -euo pipefail
# peers.sh starts no nginx, but lib.sh's bench_init insists on one: without nginx, point it at /bin/true.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || export NGINX_BIN=${NGINX_BIN:-/bin/true}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
WARM=${WARM:-3}
COLD=${COLD:-5}
SNAPSHOTS=${SNAPSHOTS:-3000}
LIST_TABLES=${LIST_TABLES:-10000}
BULK_SECS=${BULK_SECS:-240}
APPENDS=${APPENDS:-200}
PEERS=${PEERS:-reference rustberg}
SCENARIOS=${SCENARIOS:-config load-small load-1mb list-10k create commit-1 commit-16 appends cold}
PEER_PYTHON=${PEER_PYTHON:-$BENCH_ROOT/build/peer/venv/bin/python}
JARS=${RCK_JARS:-$BENCH_ROOT/build/rck/jars}
PEER_CLASSES=$BENCH_ROOT/build/peer/classes
RUSTBERG_BIN=${RUSTBERG_BIN:-$BENCH_ROOT/build/peers/bin/rustberg}
# rustberg's API key secret: its config names the variable, the server reads it at start.
RUSTBERG_KEY_BENCH=rb_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export RUSTBERG_KEY_BENCH

note() { echo "peers: $*" >&2; }
if [[ " $SCENARIOS " == *" appends "* ]] && ! { [ -x "$PEER_PYTHON" ] && "$PEER_PYTHON" -c 'import pyiceberg, pyarrow' 2>/dev/null; }; then
  note "no pyiceberg in $PEER_PYTHON: skipping the appends scenario (see the header for the venv)"
  SCENARIOS=${SCENARIOS/appends/}
fi

# ------------------------------------------------------------------ which servers
SIDES=(ice)
declare -A NAME=([ice]=icegate [ref]=reference [rb]=rustberg)
for peer in $PEERS; do
  case $peer in
  reference)
    if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
      note "SKIPPING the reference server: java/javac not found (apt-get install openjdk-17-jdk-headless maven)"
    elif ! ls "$JARS"/iceberg-open-api-*-test-fixtures.jar >/dev/null 2>&1; then
      note "SKIPPING the reference server: no jars in $JARS (run bench/peers-setup.sh or tests/rck/install.sh)"
    else
      SIDES+=(ref)
    fi
    ;;
  rustberg)
    if [ -x "$RUSTBERG_BIN" ]; then
      SIDES+=(rb)
    else
      note "SKIPPING rustberg: $RUSTBERG_BIN is absent (bench/peers-setup.sh builds it, ~35 min on 2 cores)"
    fi
    ;;
  *) bench_die "unknown peer '$peer' in PEERS (reference, rustberg)" ;;
  esac
done
[ ${#SIDES[@]} -gt 1 ] || note "no peer available: measuring icegate alone"
command -v python3 >/dev/null 2>&1 || bench_die "python3 not found"
has_side() { [[ " ${SIDES[*]} " == *" $1 "* ]]; }

# Scenarios a server cannot run: the reason, printed as n/a in the table.
declare -A NA
NA[rb:list-10k]="n/a: its listTables pages at most 1,000 identifiers (default 100)"

bench_init
declare -A PID BASE HDR TOK DIR
# shellcheck disable=SC2317  # called from the EXIT trap
peer_stop() { # SIDE
  [ -n "${PID[$1]:-}" ] || return 0
  stop_child "${PID[$1]}" TERM 10 || stop_child "${PID[$1]}" KILL 2
  PID[$1]=
}
trap 'peer_stop ref; peer_stop rb; bench_cleanup' EXIT

if has_side ref && { [ ! -f "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ] \
  || [ "$BENCH_ROOT/bench/peer/PeerServer.java" -nt "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ]; }; then
  mkdir -p "$PEER_CLASSES"
  javac -nowarn -cp "$JARS/*" -d "$PEER_CLASSES" "$BENCH_ROOT/bench/peer/PeerServer.java" \
    || bench_die "javac bench/peer/PeerServer.java failed"
fi

# rustberg_config DIR PORT: its configuration file (printed path). Rate limiting off; one admin API key whose
# secret is $RUSTBERG_KEY_BENCH; catalog and warehouse under DIR; everything else its defaults.
rustberg_config() {
  local dir=$1 port=$2
  mkdir -p "$dir/catalog" "$dir/warehouse"
  cat >"$dir/rustberg.toml" <<EOF
[server]
host = "127.0.0.1"
port = $port

[server.auth]
api_key_enabled = true

[[server.auth.api_keys]]
name = "bench"
tenant = "default"
roles = ["admin"]
key_env = "RUSTBERG_KEY_BENCH"

[storage]
catalog_url = "file://$dir/catalog"
warehouse_location = "file://$dir/warehouse"

[rate_limit]
enabled = false
EOF
  echo "$dir/rustberg.toml"
}

# server_cmd SIDE DIR PORT: sets CMD (the command line that serves DIR on 127.0.0.1:PORT; port 0 for the
# reference = any) after preparing DIR; sets HDR/TOK for the side.
server_cmd() {
  local side=$1 dir=$2 port=$3
  mkdir -p "$dir"
  case $side in
  ice)
    TOK[ice]=$(icegate_token "$dir" peers) || bench_die "icegate token create failed"
    HDR[ice]=X-API-Token
    CMD=("$ICEGATE_BIN" serve --listen "127.0.0.1:$port" --data-dir "$dir")
    ;;
  ref)
    mkdir -p "$dir/warehouse"
    TOK[ref]=none HDR[ref]=X-API-Token # no authentication: the header is ignored
    CMD=(java -cp "$PEER_CLASSES:$JARS/*" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn org.apache.iceberg.rest.PeerServer
      --host 127.0.0.1 --port "$port" --db "$dir/catalog.db" --warehouse "$dir/warehouse")
    ;;
  rb)
    TOK[rb]=$RUSTBERG_KEY_BENCH HDR[rb]=X-API-Key
    CMD=("$RUSTBERG_BIN" --config "$(rustberg_config "$dir" "$port")" --insecure-http)
    ;;
  esac
}

# server_start SIDE: the measured instance of SIDE, on a fresh data dir; sets PID, BASE.
server_start() {
  local side=$1 dir=$BENCH_TMP/$1 port i code
  DIR[$side]=$dir
  case $side in
  ice)
    server_cmd ice "$dir" 0
    icegate_start "$dir" || bench_die "icegate did not start"
    PID[ice]=$ICEGATE_PID BASE[ice]=http://127.0.0.1:$ICEGATE_PORT/v1
    return
    ;;
  ref) port=0 ;;
  rb) port=$(free_port) ;;
  esac
  server_cmd "$side" "$dir" "$port"
  # >> (O_APPEND): the logs can be truncated between runs while the server writes them.
  "${CMD[@]}" >>"$dir/stdout" 2>>"$dir/stderr" </dev/null &
  PID[$side]=$!
  for ((i = 0; i < 600; i++)); do
    kill -0 "${PID[$side]}" 2>/dev/null || { tail -n 20 "$dir/stderr" >&2; bench_die "${NAME[$side]} exited"; }
    if [ "$side" = ref ]; then
      port=$(sed -n 's/^peer listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/stdout")
    fi
    if [ -n "$port" ] && [ "$port" != 0 ]; then
      code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' -H "${HDR[$side]}: ${TOK[$side]}" \
        "http://127.0.0.1:$port/v1/config" 2>/dev/null || true)
      [ "$code" = 200 ] && break
    fi
    sleep 0.05
  done
  [ "${code:-}" = 200 ] || bench_die "${NAME[$side]} did not answer 200 on /v1/config within 30 s: $(tail -n 5 "$dir/stderr")"
  BASE[$side]=http://127.0.0.1:$port/v1
}

# trim_logs: rustberg's audit trail and span log grow by ~1 KB per request; keep them from filling /tmp.
trim_logs() {
  local side f
  for side in ref rb; do
    [ -n "${DIR[$side]:-}" ] || continue
    for f in "${DIR[$side]}/stdout" "${DIR[$side]}/stderr"; do
      [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $((256 << 20)) ] && : >"$f"
    done
  done
  return 0
}

# ------------------------------------------------------------------ cold starts (before the measured servers)
declare -A COLD_MS COLD_RSS
if [[ " $SCENARIOS " == *" cold "* ]]; then
  for ((run = 1; run <= COLD; run++)); do
    line="cold start $run"
    for side in "${SIDES[@]}"; do
      dir=$BENCH_TMP/cold.$side.$run port=$(free_port)
      server_cmd "$side" "$dir" "$port"
      out=$(timeout 90 python3 "$BENCH_ROOT/bench/peer/coldstart.py" "$dir.log" "http://127.0.0.1:$port/v1/config" \
        "${HDR[$side]}" "${TOK[$side]}" 1 -- "${CMD[@]}") || { tail -n 20 "$dir.log" >&2; bench_die "cold start of ${NAME[$side]} failed"; }
      eval "$out"
      # shellcheck disable=SC2154  # ms, rss_kb set by eval
      COLD_MS[$side]+=" $ms" COLD_RSS[$side]+=" $(awk -v k="$rss_kb" 'BEGIN{printf "%.1f", k / 1024}')"
      line+="  ${NAME[$side]} ${ms} ms ${rss_kb} kB"
      rm -rf "$dir"
    done
    echo "$line"
  done
fi

# ------------------------------------------------------------------ the measured servers and their tables
for side in "${SIDES[@]}"; do server_start "$side"; done
[ -n "${PID[ice]:-}" ] || bench_die "icegate is not running"

post() { # SIDE URL BODY: POST, fail loudly, print the body
  local out
  out=$(curl -s -w '\n%{http_code}' -H "${HDR[$1]}: ${TOK[$1]}" -H "Content-Type: application/json" -X POST "$2" \
    --data-binary "$3") || bench_die "POST $2: curl failed"
  [ "${out##*$'\n'}" = 200 ] || bench_die "${NAME[$1]}: POST $2: HTTP ${out##*$'\n'}: $(printf '%s' "${out%$'\n'*}" | head -c 300)"
  printf '%s' "${out%$'\n'*}"
}
local_path() { # file:/x, file:///x -> /x
  local p=${1#file:}
  printf '/%s\n' "${p#"${p%%[!/]*}"}"
}

SCHEMA='{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"data","type":"string","required":false}]}'
declare -A META_BYTES LOAD_BYTES LIST_COUNT BULK
for side in "${SIDES[@]}"; do
  base=${BASE[$side]}
  for ns in bench big creates; do post "$side" "$base/namespaces" "{\"namespace\":[\"$ns\"]}" >/dev/null; done
  post "$side" "$base/namespaces/bench/tables" "{\"name\":\"small\",\"schema\":$SCHEMA}" >/dev/null
  for i in $(seq 0 15); do post "$side" "$base/namespaces/bench/tables" "{\"name\":\"t$i\",\"schema\":$SCHEMA}" >/dev/null; done
  loc=$(post "$side" "$base/namespaces/bench/tables" "{\"name\":\"big\",\"schema\":$SCHEMA}" | jq -r '.metadata.location')
  python3 "$BENCH_ROOT/bench/peer/setup.py" big-commit "$SNAPSHOTS" "$loc" >"$BENCH_TMP/big-commit.$side.json"
  curl -sf -H "${HDR[$side]}: ${TOK[$side]}" -H "Content-Type: application/json" -X POST "$base/namespaces/bench/tables/big" \
    --data-binary @"$BENCH_TMP/big-commit.$side.json" >"$BENCH_TMP/big.$side.json" \
    || bench_die "${NAME[$side]}: the commit of $SNAPSHOTS snapshots failed"
  META_BYTES[$side]=$(stat -c %s "$(local_path "$(jq -r '."metadata-location"' "$BENCH_TMP/big.$side.json")")")
  LOAD_BYTES[$side]=$(curl -s -H "${HDR[$side]}: ${TOK[$side]}" "$base/namespaces/bench/tables/big" | wc -c)
  if [[ " $SCENARIOS " == *" list-10k "* ]]; then
    case $side in
    ice)
      BULK[$side]=$(python3 "$BENCH_ROOT/bench/peer/setup.py" bulk-create "$base" "${TOK[$side]}" big "$LIST_TABLES" 4 "$BULK_SECS")
      ;;
    ref)
      # The reference creates ~25 tables/s here (10,000 would take ~7 min): create the first 20 through its API,
      # then copy t00000's catalog row for the others straight into its SQLite file (listTables reads only rows).
      BULK[$side]="$(python3 "$BENCH_ROOT/bench/peer/setup.py" bulk-create "$base" "${TOK[$side]}" big 20 4 "$BULK_SECS") +"
      BULK[$side]+=" $(python3 "$BENCH_ROOT/bench/peer/setup.py" sqlite-clone "${DIR[ref]}/catalog.db" big t00000 "$LIST_TABLES")"
      ;;
    rb) BULK[$side]="none (${NA[rb:list-10k]})" ;;
    esac
    [ "$side" = rb ] || LIST_COUNT[$side]=$(curl -s -H "${HDR[$side]}: ${TOK[$side]}" "$base/namespaces/big/tables" | jq '.identifiers | length')
  fi
  echo "set-up ${NAME[$side]}: 1 MB table: metadata file ${META_BYTES[$side]} B, loadTable body ${LOAD_BYTES[$side]} B${BULK[$side]:+;}" \
    "${BULK[$side]:+$LIST_TABLES tables (4 client threads): ${BULK[$side]}, listTables returns ${LIST_COUNT[$side]:-n/a} identifiers}"
done

# ------------------------------------------------------------------ scenarios
# run_one SIDE SCENARIO SECONDS TAG: one run; sets RATE (requests, creates, commits or appends per second) and
# BAD (non-2xx; conflict/other for commits)
run_one() {
  local side=$1 sc=$2 secs=$3 tag=$4 base=${BASE[$1]} hdr=${HDR[$1]} tok=${TOK[$1]} out
  RATE='' BAD=''
  case $sc in
  config | load-small | load-1mb | list-10k)
    local path conns=16
    case $sc in
    config) path=config ;;
    load-small) path=namespaces/bench/tables/small ;;
    load-1mb) path=namespaces/bench/tables/big ;;
    list-10k) path=namespaces/big/tables conns=4 ;;
    esac
    wrk_run "$secs" "$base/$path" -t2 -c"$conns" -H "$hdr: $tok" || return 1
    RATE=$WRK_RPS BAD=$WRK_NON2XX
    ;;
  create)
    out=$(cd "$BENCH_TMP" && timeout $((secs + 20)) wrk -t2 -c4 -d"${secs}s" -s "$BENCH_ROOT/bench/peer/create.lua" \
      "$base/namespaces/creates/tables" -- "$tok" "$tag" "$hdr" 2>&1 | grep '^CREATES') || return 1
    eval "${out#CREATES }"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v o="$ok" -v s="$secs" 'BEGIN{printf "%.1f", o/s}') BAD=$other
    ;;
  commit-1 | commit-16)
    out=$(cd "$BENCH_TMP" && timeout $((secs + 20)) wrk -t2 -c4 -d"${secs}s" -s "$BENCH_ROOT/bench/commits.lua" \
      "$base/namespaces/bench/tables" -- "$tok" "${sc#commit-}" "$hdr" 2>&1 | grep '^COMMITS') || return 1
    eval "${out#COMMITS }"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v o="$ok" -v s="$secs" 'BEGIN{printf "%.1f", o/s}') BAD="$conflict/$other"
    ;;
  appends)
    # wall seconds for APPENDS appends, shown as appends/s (higher is better). A warm-up (tag w...) is 10 appends.
    local n=$APPENDS
    [ "${tag#w}" != "$tag" ] && n=10
    out=$(timeout 600 "$PEER_PYTHON" "$BENCH_ROOT/bench/peer/appends.py" "${base%/v1}" "$tok" pyappends "a$tag" "$n" "$hdr") \
      || return 1
    eval "$out"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v a="$appends" -v s="$secs" 'BEGIN{printf "%.1f", a/s}') BAD="${secs}s,rows=$rows"
    ;;
  esac
}

declare -A MED
for sc in $SCENARIOS; do
  [ "$sc" = cold ] && continue
  for side in "${SIDES[@]}"; do
    [ -z "${NA[$side:$sc]:-}" ] || continue
    run_one "$side" "$sc" "$WARM" "w${sc//-/}$side" >/dev/null || bench_die "warm-up $sc on ${NAME[$side]} failed"
  done
  declare -A VALS=()
  for ((run = 1; run <= RUNS; run++)); do
    line=$(printf '%-10s run %d' "$sc" "$run")
    for side in "${SIDES[@]}"; do
      if [ -n "${NA[$side:$sc]:-}" ]; then
        line+="  ${NAME[$side]} n/a"
        continue
      fi
      run_one "$side" "$sc" "$SECS" "r$run$side" || bench_die "$sc on ${NAME[$side]} failed"
      VALS[$side]+=" $RATE"
      line+=$(printf '  %s %s/s (bad %s)' "${NAME[$side]}" "$RATE" "$BAD")
      trim_logs
    done
    echo "$line"
  done
  for side in "${SIDES[@]}"; do
    # shellcheck disable=SC2086  # a list of numbers
    if [ -n "${VALS[$side]:-}" ]; then MED[$side:$sc]=$(median ${VALS[$side]}); else MED[$side:$sc]=n/a; fi
  done
  unset VALS
done
rss() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.1f", $1 / 1024}'; }
for side in "${SIDES[@]}"; do MED[$side:rss-load]=$(rss "${PID[$side]}"); done
if [[ " $SCENARIOS " == *" cold "* ]]; then
  for side in "${SIDES[@]}"; do
    # shellcheck disable=SC2086  # lists of numbers
    MED[$side:cold]=$(median ${COLD_MS[$side]}) MED[$side:rss-idle]=$(median ${COLD_RSS[$side]})
  done
fi

# ------------------------------------------------------------------ the table
declare -A LABEL=([config]="GET /v1/config (req/s)" [load-small]="loadTable, small table, no snapshot (req/s)"
  [load-1mb]="loadTable, $(awk -v b="${META_BYTES[ice]}" 'BEGIN{printf "%.1f", b / 1e6}') MB metadata (req/s)"
  [list-10k]="listTables, $LIST_TABLES tables (req/s)"
  [create]="createTable (creates/s, 4 clients)" [commit-1]="commits/s, one table (4 clients)"
  [commit-16]="commits/s, 16 tables (4 clients)" [appends]="PyIceberg, $APPENDS appends (appends/s)"
  [cold]="cold start to first 200 (ms, lower is better)" [rss-idle]="RSS idle after start (MB, lower is better)"
  [rss-load]="RSS after the load (MB, lower is better)")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || a == "" || b == "") print "n/a"; else if (b > 0) printf "%.3gx", a / b; else print "inf" }'; }
echo
echo "medians of $RUNS rounds of ${SECS}s, servers alternating in every round; cold start and RSS idle: medians of" \
  "$COLD starts; 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
hdr="| row | icegate |" sep="|---|---:|"
for side in "${SIDES[@]:1}"; do hdr+=" ${NAME[$side]} |" sep+="---:|"; done
for side in "${SIDES[@]:1}"; do hdr+=" icegate/${NAME[$side]} |" sep+="---:|"; done
echo "$hdr"
echo "$sep"
rows=()
for sc in $SCENARIOS; do
  case $sc in cold) rows+=(cold rss-idle) ;; *) rows+=("$sc") ;; esac
done
rows+=(rss-load)
for r in "${rows[@]}"; do
  line="| ${LABEL[$r]} | ${MED[ice:$r]} |"
  for side in "${SIDES[@]:1}"; do line+=" ${MED[$side:$r]} |"; done
  for side in "${SIDES[@]:1}"; do line+=" $(ratio "${MED[ice:$r]}" "${MED[$side:$r]}") |"; done
  echo "$line"
done
for side in "${SIDES[@]:1}"; do
  for sc in $SCENARIOS; do [ -z "${NA[$side:$sc]:-}" ] || echo "${NAME[$side]} $sc: ${NA[$side:$sc]}"; done
done
if [ "${ICEGATE_CATALOG_METADATA_SYNC:-journal}" = fsync ]; then ICEGATE_DURABILITY="metadata file + directory fsynced, then"
else ICEGATE_DURABILITY="catalog.metadata_sync journal: metadata bytes in the pointer swap's transaction (files synced by the flusher),"; fi
echo "icegate: $("$ICEGATE_BIN" --version 2>/dev/null | head -n 1); $ICEGATE_DURABILITY SQLite WAL" \
  "synchronous=FULL; X-API-Token on every request; access log on."
has_side ref && echo "reference: Iceberg 1.11.0 JdbcCatalog on a SQLite file (sqlite-jdbc defaults: the pointer fsynced)," \
  "HadoopFileIO: metadata files not fsynced; no auth; JVM defaults."
has_side rb && echo "rustberg: $("$RUSTBERG_BIN" --version 2>/dev/null); redb Durability::Immediate (fsync per commit)," \
  "metadata files fsynced on close (directory not); X-API-Key + Cedar per request, audit JSON on stdout to a file;" \
  "rate limiting off."
exit 0
