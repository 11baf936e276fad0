#!/usr/bin/env bash
# bench/peer.sh — icegate side by side with Iceberg's reference REST catalog server (RESTCatalogServer's
# JdbcCatalog + RESTServerCatalogAdapter + RESTCatalogServlet on Jetty, Iceberg 1.11.0; bench/peer/PeerServer.java
# binds it to 127.0.0.1), both on this box, same requests, alternating runs (icegate, reference, icegate, ...),
# RUNS each, medians and the ratio icegate/reference.
#
#   tests/rck/install.sh && make && bench/peer.sh          # RUNS=3 SECS=5 by default (~6 min)
#
# Scenarios (wrk, 127.0.0.1 only, every run bounded by -d SECS):
#   load-small     GET loadTable of a 2-column table, no snapshots                    wrk -t2 -c16
#   load-1mb       GET loadTable of a table whose metadata file is ~1 MB (SNAPSHOTS=3000) wrk -t2 -c16
#   list-10k       GET listTables of a namespace with LIST_TABLES=10000 tables          wrk -t2 -c4
#                  (icegate's are created through its API; the reference's first 20 too, the others are rows
#                  copied into its SQLite catalog, because its createTable is too slow for 10,000 here)
#   create         POST createTable, new names every request                            wrk -t2 -c4
#   commit-1       POST set-properties commits, all on one table (bench/commits.lua)    wrk -t2 -c4
#   commit-16      the same, round robin over 16 tables                                 wrk -t2 -c4
#   appends        PyIceberg: APPENDS=200 appends of 10 rows to a new table (bench/peer/appends.py), wall time;
#                  only when PEER_PYTHON (default build/peer/venv/bin/python) imports pyiceberg, e.g. after
#                  python3 -m venv build/peer/venv && build/peer/venv/bin/pip install 'pyiceberg[pyarrow]==0.12.0'
# Before the measured runs each server gets one WARM-second run of each scenario (the JVM compiles its hot
# paths; icegate has nothing to warm) that is not counted.
#
# Durability is not the same, and the table says so:
#   icegate    every create/commit writes the metadata file (temp name, fsync, rename, fsync of the directory),
#              then swaps the pointer in SQLite (WAL, synchronous=FULL) — durable when the 200 is sent.
#   reference  JdbcCatalog on a SQLite file through sqlite-jdbc's defaults (journal_mode=delete, synchronous=2
#              FULL: the pointer swap costs 4 fsyncs, journal and database), metadata files written in place by
#              HadoopFileIO / Hadoop's LocalFileSystem (+ a .crc file), never fsynced (strace of one commit): after
#              a power cut the durable pointer can name a metadata file that never reached the disk.
# The reference reads and parses the metadata file on every loadTable; icegate answers from its cache.
# Namespace levels: the reference advertises namespace-separator %2E, icegate %1F; the benchmark uses
# one-level namespaces, so the paths are the same on both.
set -euo pipefail
# peer.sh starts no nginx, but lib.sh's bench_init insists on one: without nginx, point it at /bin/true.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || export NGINX_BIN=${NGINX_BIN:-/bin/true}
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SECS=${SECS:-5}
WARM=${WARM:-3}
SNAPSHOTS=${SNAPSHOTS:-3000}
LIST_TABLES=${LIST_TABLES:-10000}
BULK_SECS=${BULK_SECS:-240}
APPENDS=${APPENDS:-200}
SCENARIOS=${SCENARIOS:-load-small load-1mb list-10k create commit-1 commit-16 appends}
PEER_PYTHON=${PEER_PYTHON:-$BENCH_ROOT/build/peer/venv/bin/python}
if [[ " $SCENARIOS " == *" appends "* ]] && ! { [ -x "$PEER_PYTHON" ] && "$PEER_PYTHON" -c 'import pyiceberg, pyarrow' 2>/dev/null; }; then
  echo "peer: no pyiceberg in $PEER_PYTHON: skipping the appends scenario (see the header for the venv)" >&2
  SCENARIOS=${SCENARIOS/appends/}
fi
JARS=${RCK_JARS:-$BENCH_ROOT/build/rck/jars}
PEER_CLASSES=$BENCH_ROOT/build/peer/classes
PEER_PID=
PEER_PORT=

command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 || bench_die "java/javac not found (apt-get install openjdk-17-jdk-headless)"
ls "$JARS"/iceberg-open-api-*-test-fixtures.jar >/dev/null 2>&1 || bench_die "no jars in $JARS: run tests/rck/install.sh"
command -v python3 >/dev/null 2>&1 || bench_die "python3 not found"
bench_init
peer_stop() {
  [ -n "$PEER_PID" ] || return 0
  stop_child "$PEER_PID" TERM 10 || stop_child "$PEER_PID" KILL 2
  PEER_PID=
}
trap 'peer_stop; bench_cleanup' EXIT

# ------------------------------------------------------------------ the reference server
if [ ! -f "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ] \
  || [ "$BENCH_ROOT/bench/peer/PeerServer.java" -nt "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ]; then
  mkdir -p "$PEER_CLASSES"
  javac -nowarn -cp "$JARS/*" -d "$PEER_CLASSES" "$BENCH_ROOT/bench/peer/PeerServer.java" \
    || bench_die "javac bench/peer/PeerServer.java failed"
fi
PEER_DIR=$BENCH_TMP/peer
mkdir -p "$PEER_DIR/warehouse"
java -cp "$PEER_CLASSES:$JARS/*" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn org.apache.iceberg.rest.PeerServer \
  --host 127.0.0.1 --port 0 --db "$PEER_DIR/catalog.db" --warehouse "$PEER_DIR/warehouse" >"$PEER_DIR/log" 2>&1 &
PEER_PID=$!
for _ in $(seq 1 600); do
  PEER_PORT=$(sed -n 's/^peer listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$PEER_DIR/log")
  [ -n "$PEER_PORT" ] && break
  kill -0 "$PEER_PID" 2>/dev/null || { tail -n 20 "$PEER_DIR/log" >&2; bench_die "the reference server exited"; }
  sleep 0.05
done
[ -n "$PEER_PORT" ] || bench_die "the reference server did not start within 30 s: $(tail -n 5 "$PEER_DIR/log")"

# ------------------------------------------------------------------ icegate
icegate_setup peer
icegate_start "$DATA"

ICE=http://127.0.0.1:$ICEGATE_PORT/v1
REF=http://127.0.0.1:$PEER_PORT/v1
H=(-H "X-API-Token: $TOKEN" -H "Content-Type: application/json")
SCHEMA='{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"data","type":"string","required":false}]}'

post() { # URL BODY: POST, fail loudly
  local out
  out=$(curl -s -w '\n%{http_code}' "${H[@]}" -X POST "$1" --data-binary "$2") || bench_die "POST $1: curl failed"
  [ "${out##*$'\n'}" = 200 ] || bench_die "POST $1: HTTP ${out##*$'\n'}: $(printf '%s' "${out%$'\n'*}" | head -c 300)"
  printf '%s' "${out%$'\n'*}"
}

python3 "$BENCH_ROOT/bench/peer/setup.py" big-commit "$SNAPSHOTS" >"$BENCH_TMP/big-commit.json"
declare -A META_BYTES LOAD_BYTES LIST_COUNT BULK
for side in ICE REF; do
  base=${!side}
  for ns in bench big creates; do post "$base/namespaces" "{\"namespace\":[\"$ns\"]}" >/dev/null; done
  post "$base/namespaces/bench/tables" "{\"name\":\"small\",\"schema\":$SCHEMA}" >/dev/null
  for i in $(seq 0 15); do post "$base/namespaces/bench/tables" "{\"name\":\"t$i\",\"schema\":$SCHEMA}" >/dev/null; done
  post "$base/namespaces/bench/tables" "{\"name\":\"big\",\"schema\":$SCHEMA}" >/dev/null
  curl -sf "${H[@]}" -X POST "$base/namespaces/bench/tables/big" --data-binary @"$BENCH_TMP/big-commit.json" \
    >"$BENCH_TMP/big.$side.json" || bench_die "$side: the commit of $SNAPSHOTS snapshots failed"
  meta=$(jq -r '."metadata-location"' "$BENCH_TMP/big.$side.json")
  META_BYTES[$side]=$(stat -c %s "${meta#file://}")
  LOAD_BYTES[$side]=$(curl -s "${H[@]}" "$base/namespaces/bench/tables/big" | wc -c)
  if [ "$side" = ICE ]; then
    BULK[$side]=$(python3 "$BENCH_ROOT/bench/peer/setup.py" bulk-create "$base" "$TOKEN" big "$LIST_TABLES" 4 "$BULK_SECS")
  else
    # The reference creates ~25 tables/s here (10,000 would take ~7 min): create the first 20 through its API,
    # then copy t00000's catalog row for the others straight into its SQLite file (listTables reads only rows).
    BULK[$side]="$(python3 "$BENCH_ROOT/bench/peer/setup.py" bulk-create "$base" "$TOKEN" big 20 4 "$BULK_SECS") +"
    BULK[$side]+=" $(python3 "$BENCH_ROOT/bench/peer/setup.py" sqlite-clone "$PEER_DIR/catalog.db" big t00000 "$LIST_TABLES")"
  fi
  LIST_COUNT[$side]=$(curl -s "${H[@]}" "$base/namespaces/big/tables" | jq '.identifiers | length')
done
echo "set-up: 1 MB table: metadata file icegate ${META_BYTES[ICE]} B / reference ${META_BYTES[REF]} B;" \
  "loadTable body ${LOAD_BYTES[ICE]} B / ${LOAD_BYTES[REF]} B"
echo "set-up: $LIST_TABLES tables (4 client threads): icegate ${BULK[ICE]}; reference ${BULK[REF]};" \
  "listTables returns ${LIST_COUNT[ICE]} / ${LIST_COUNT[REF]} identifiers"

# ------------------------------------------------------------------ scenarios
# run_one SIDE SCENARIO SECONDS RUN: one wrk run; sets RATE (requests or commits per second) and BAD (non-2xx)
run_one() {
  local side=$1 sc=$2 secs=$3 tag=$4 base=${!1} out
  RATE= BAD=
  case $sc in
  load-small | load-1mb | list-10k)
    local path conns=16
    case $sc in
    load-small) path=namespaces/bench/tables/small ;;
    load-1mb) path=namespaces/bench/tables/big ;;
    list-10k) path=namespaces/big/tables conns=4 ;;
    esac
    wrk_run "$secs" "$base/$path" -t2 -c"$conns" -H "X-API-Token: $TOKEN" || return 1
    RATE=$WRK_RPS BAD=$WRK_NON2XX
    ;;
  create)
    out=$(cd "$BENCH_TMP" && timeout $((secs + 20)) wrk -t2 -c4 -d"${secs}s" -s "$BENCH_ROOT/bench/peer/create.lua" \
      "$base/namespaces/creates/tables" -- "$TOKEN" "$tag" 2>&1 | grep '^CREATES') || return 1
    eval "$(echo "$out" | sed 's/^CREATES //')"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v o="$ok" -v s="$secs" 'BEGIN{printf "%.1f", o/s}') BAD=$other
    ;;
  commit-1 | commit-16)
    out=$(cd "$BENCH_TMP" && timeout $((secs + 20)) wrk -t2 -c4 -d"${secs}s" -s "$BENCH_ROOT/bench/commits.lua" \
      "$base/namespaces/bench/tables" -- "$TOKEN" "${sc#commit-}" 2>&1 | grep '^COMMITS') || return 1
    eval "$(echo "$out" | sed 's/^COMMITS //')"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v o="$ok" -v s="$secs" 'BEGIN{printf "%.1f", o/s}') BAD="$conflict/$other"
    ;;
  appends)
    # wall seconds for APPENDS appends (lower is better; the ratio below is inverted to stay "icegate/reference"
    # in speed terms). A warm-up (tag w...) is 10 appends.
    local n=$APPENDS
    [ "${tag#w}" != "$tag" ] && n=10
    out=$(timeout 600 "$PEER_PYTHON" "$BENCH_ROOT/bench/peer/appends.py" "${base%/v1}" "$TOKEN" pyappends "a$tag" "$n") \
      || return 1
    eval "$out"
    # shellcheck disable=SC2154  # set by eval
    RATE=$(awk -v a="$appends" -v s="$secs" 'BEGIN{printf "%.1f", a/s}') BAD="${secs}s,rows=$rows"
    ;;
  esac
}

declare -A MED_ICE MED_REF
for sc in $SCENARIOS; do
  run_one ICE "$sc" "$WARM" "w${sc//-/}i" >/dev/null || bench_die "warm-up $sc on icegate failed"
  run_one REF "$sc" "$WARM" "w${sc//-/}r" >/dev/null || bench_die "warm-up $sc on the reference failed"
  ice=() ref=()
  for ((run = 1; run <= RUNS; run++)); do
    run_one ICE "$sc" "$SECS" "r${run}i" || bench_die "$sc on icegate failed"
    a=$RATE a_bad=$BAD
    run_one REF "$sc" "$SECS" "r${run}r" || bench_die "$sc on the reference failed"
    ice+=("$a") ref+=("$RATE")
    printf '%-11s run %d  icegate %10s/s (bad %s)  reference %10s/s (bad %s)\n' "$sc" "$run" "$a" "$a_bad" "$RATE" "$BAD"
  done
  MED_ICE[$sc]=$(median "${ice[@]}") MED_REF[$sc]=$(median "${ref[@]}")
done

rss() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1 / 1024}'; }
echo
echo "medians of $RUNS alternating runs of ${SECS}s (requests/s; creates/s; commits/s; appends/s over $APPENDS appends), 127.0.0.1, $(nproc) cores"
printf '| %-10s | %12s | %12s | %17s |\n' scenario icegate reference "icegate/reference"
printf '|%s|%s|%s|%s|\n' ------------ -------------- -------------- -------------------
for sc in $SCENARIOS; do
  printf '| %-10s | %12s | %12s | %16sx |\n' "$sc" "${MED_ICE[$sc]}" "${MED_REF[$sc]}" \
    "$(awk -v a="${MED_ICE[$sc]}" -v b="${MED_REF[$sc]}" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }')"
done
echo "RSS after the runs: icegate $(rss "$ICEGATE_PID") MB, reference $(rss "$PEER_PID") MB (JVM defaults)"
echo "icegate: $("$ICEGATE_BIN" --version 2>/dev/null | head -n 1), metadata + directory fsynced, SQLite WAL synchronous=FULL."
echo "reference: Iceberg 1.11.0 JdbcCatalog on a SQLite file (sqlite-jdbc defaults), HadoopFileIO: metadata files not fsynced."
