#!/usr/bin/env bash
# Installs the Debian packages icegate needs.  `deps.sh build` = what `make` needs;
# `deps.sh test` = that plus what the test suite and benchmarks need (servers, browser, node).
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail
what=${1:-build}
build_pkgs="build-essential pkg-config libmicrohttpd-dev libjson-c-dev libsqlite3-dev libssl-dev libyaml-dev
  libargon2-dev libpq-dev libhiredis-dev"
test_pkgs="libcmocka-dev curl jq sqlite3 chromium nginx-light wrk clang libclang-rt-14-dev"
# node and npm: the machine may already have them from another source (nodesource ships npm inside nodejs).
command -v node >/dev/null && command -v npm >/dev/null || test_pkgs="$test_pkgs nodejs npm"
pkgs=$build_pkgs
[ "$what" = test ] && pkgs="$build_pkgs $test_pkgs"

missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
# node is needed only by the end-to-end tests (real clients from npm, pinned by package-lock.json).
if [ "$what" = test ] && [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
