#!/usr/bin/env bash
# bench/store.sh — commits per second with storage.driver postgres against sqlite (issue 12), in one run:
# ROUNDS rounds, each running bench/commits.sh (set-properties commits, wrk -t2, 4 and 16 clients, one table
# and 16 tables, SECS seconds per row) once on SQLite (the data dir's icegate.db, synchronous=FULL) and once on
# a PostgreSQL started here by scripts/pgserver.sh (unix socket in the temp dir, fsync on, a fresh database per
# run), and prints each run's rows, then the median commits/s per row and the ratio postgres/sqlite.
# Both durable: a commit is answered after its store transaction is on disk.
#
# Usage: bench/store.sh     env: ROUNDS (3), SECS (5), CLIENTS ("4 16"), ICEGATE_BIN
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
export SECS=${SECS:-5} CLIENTS=${CLIENTS:-4 16}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/icegate-bench-store.XXXXXX")
chmod 755 "$tmp"
pg="$tmp/pg"
trap '"$root/scripts/pgserver.sh" stop "$pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
dsn=$("$root/scripts/pgserver.sh" start "$pg")
host=${dsn#host=}
host=${host%% *}
psql_() { psql -h "$host" -U icegate -d icegate -X -q -v ON_ERROR_STOP=1 "$@"; }

declare -A rows
echo "store.sh: $ROUNDS rounds of bench/commits.sh (SECS=$SECS, CLIENTS=\"$CLIENTS\") on sqlite, then postgres"
for ((r = 1; r <= ROUNDS; r++)); do
  for driver in sqlite postgres; do
    if [ "$driver" = postgres ]; then
      db="bench_$r"
      psql_ -c "CREATE DATABASE $db"
      out=$(ICEGATE_STORAGE_DRIVER=postgres ICEGATE_STORAGE_POSTGRES_DSN="host=$host dbname=$db user=icegate" \
        "$here/commits.sh")
    else
      out=$("$here/commits.sh")
    fi
    echo "round $r $driver:"
    echo "$out" | sed 's/^/  /'
    # "tables clients commits/s ...": one median list per row
    while read -r tables clients cps _; do
      [[ $tables =~ ^[0-9]+$ ]] || continue
      rows[$driver.$tables.$clients]+="$cps "
    done <<<"$out"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}'; }
printf '%-8s %8s %16s %16s %8s\n' tables clients "sqlite commits/s" "pg commits/s" "pg/sqlite"
for clients in $CLIENTS; do
  for tables in 1 16; do
    s=$(echo "${rows[sqlite.$tables.$clients]:-}" | median)
    p=$(echo "${rows[postgres.$tables.$clients]:-}" | median)
    printf '%-8s %8s %16s %16s %8s\n' "$tables" "$clients" "$s" "$p" "$(awk -v a="$p" -v b="$s" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')"
  done
done
