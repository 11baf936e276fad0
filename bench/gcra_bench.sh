#!/usr/bin/env bash
# gcra_bench.sh — builds bench/gcra_bench.c against src/ratelimit/gcra.c with exactly the compiler command line
# `make` uses for src/*.c (taken from `make -n`, so the flags cannot drift), then runs it.
# Usage: bench/gcra_bench.sh        (from anywhere; prints a table; ~10 s)
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/bench/gcra_bench
mkdir -p build/bench
# The Makefile's own compile line for src/ratelimit/gcra.c, e.g. "cc -O2 -g -std=c11 ... -c src/ratelimit/gcra.c -o build/ratelimit/gcra.o".
line=$(make -s -n -B build/ratelimit/gcra.o 2>/dev/null | grep -- ' -c src/ratelimit/gcra.c' | head -n1 || true)
if [ -z "$line" ]; then
  echo "gcra_bench: could not read the compile command from 'make -n build/ratelimit/gcra.o'" >&2
  exit 1
fi
cmd=${line%% -c src/ratelimit/gcra.c*}   # compiler + all flags
# shellcheck disable=SC2086  # word splitting of the flags is intended
$cmd bench/gcra_bench.c src/ratelimit/gcra.c -o "$out" -pthread -lm
echo "built with: $cmd"
exec "$out"
