#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other (about 4 minutes). Each prints its own table.
set -uo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/verify_bench >/dev/null
echo "== token verification (bench/verify_bench.c)"; build/bench/verify_bench
echo; echo "== GCRA take (bench/gcra_bench.sh)"; bench/gcra_bench.sh
echo; echo "== auth vs nginx (bench/auth.sh)"; bench/auth.sh
echo; echo "== rate-limit accuracy vs nginx limit_req (bench/ratelimit.sh)"; bench/ratelimit.sh
echo; echo "== limiter overhead (bench/limiter_overhead.sh)"; [ -x bench/limiter_overhead.sh ] && bench/limiter_overhead.sh
echo; echo "== one million tokens (bench/tokens_1m.sh)"; bench/tokens_1m.sh
