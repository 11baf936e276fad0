#!/usr/bin/env bash
# bench/tokens_1m.sh — icegate with a million access tokens in the store:
#   start-up time (process start to /healthz 200, and the server's own "loaded N tokens in X ms"),
#   resident memory after start-up and after load, and the auth.sh ratio against nginx on that data dir.
# Targets (issue 2): start-up <= 3 s, RSS <= 300 MB, ratio unchanged (>= 0.9x).
# Usage: bench/tokens_1m.sh      env: N (default 1000000), RUNS, SECS as auth.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N=${N:-1000000}
bench_init
icegate_check || exit 2
DATA=$BENCH_TMP/data-1m
mkdir -p "$DATA"
icegate_token "$DATA" seed >/dev/null
echo "tokens_1m.sh: inserting $((N - 1)) more tokens with sqlite3 ..."
t0=$(date +%s.%N)
sqlite3 "$DATA/icegate.db" <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
INSERT INTO tokens(id, hash, prefix, name, owner, suspended, max_rps, burst, created_at, updated_at, seq)
SELECT printf('tok_bench%011d', i), randomblob(32), 'igt_XXXX', printf('bench token %d', i), 'admin', 0,
       CASE WHEN i % 2 = 0 THEN 100.0 ELSE NULL END, NULL, 1700000000000, 1700000000000, i + 1000
FROM n;
UPDATE meta SET v = $N + 1000 WHERE k = 'token_seq';
COMMIT;
SQL
echo "  inserted in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s; store: $(du -sh "$DATA" | cut -f1)"

starts=()
for run in 1 2 3; do
  t0=$(date +%s%N)
  icegate_start "$DATA"
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$ICEGATE_PID/status")
  loaded=$(grep -o 'loaded [0-9]* access tokens in [0-9]* ms' "$ICEGATE_LOG" | tail -1)
  echo "  start $run: ready in $ms ms ($loaded), RSS $rss MB"
  starts+=("$ms")
  icegate_stop
done
echo "start-up median: $(median "${starts[@]}") ms (target <= 3000)"
BENCH_DATA_DIR=$DATA "$(dirname "$0")/auth.sh"
icegate_start "$DATA"
echo "RSS of a fresh server after start-up: $(awk '/VmRSS/ {print int($2/1024)}' "/proc/$ICEGATE_PID/status") MB (target <= 300)"
icegate_stop
