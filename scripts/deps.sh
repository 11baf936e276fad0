#!/usr/bin/env bash
# Installs what icegate needs on Debian 12.  `deps.sh build` = what `make` needs;
# `deps.sh test` = that plus what the test suite and benchmarks need (servers, browser, node, npm packages).
# As root it runs apt-get; otherwise it prints the exact command and fails.  Idempotent and quiet when
# everything is there, so every `make run`/`make test` calls it.
#
# Node: the end-to-end tests need Node >= 20 (playwright-core 1.65), and Debian 12's nodejs is 18. When the
# `node` on PATH is missing or older, the Node binary published on the npm registry as the package
# node-linux-<arch>@$NODE_PIN is installed with Debian's npm into build/node (build/node/bin/node), and the
# Makefile puts build/node/bin first on PATH for its recipes.  A machine whose node is already >= 20 gets
# nothing extra.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}
NODE_PIN=20.20.2
NODE_DIR=build/node
# What the code links (the Makefile's PKGS).
build_pkgs="build-essential pkg-config libmicrohttpd-dev libjson-c-dev libsqlite3-dev libssl-dev libyaml-dev
  libargon2-dev libcurl4-openssl-dev libhiredis-dev libpq-dev"
# redis-server and postgresql: the scale-out tests start their own, on unix sockets in temp dirs (the
# packages' system services, where Debian starts them, are never used).
test_pkgs="libcmocka-dev ca-certificates curl jq sqlite3 chromium nginx-light wrk clang libclang-rt-14-dev
  redis-server postgresql"

# The major version of the node binary $1, or 0 when it does not run.
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

if [ "$what" = test ]; then
  # The pinned node from an earlier run comes first, as it does in the Makefile's recipes; another version
  # there (NODE_PIN changed) or a broken install is removed, and installed again below if still needed.
  if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" = "v$NODE_PIN" ]; then
    export PATH="$PWD/$NODE_DIR/bin:$PATH"
  else
    rm -rf "$NODE_DIR"
  fi
  # node and npm: the machine may already have them from another source (nodesource ships npm inside nodejs).
  command -v node >/dev/null && command -v npm >/dev/null || test_pkgs="$test_pkgs nodejs npm"
  # The real engines (tests/engines: PyIceberg, DuckDB, Spark; tests/rck: Iceberg's compatibility kit;
  # tests/schemathesis): Python 3 with venv and ensurepip (Debian splits them into python3-venv), Java >= 17
  # and Maven.  A machine that has them from elsewhere (pyenv, Temurin) gets nothing extra.
  python3 -c 'import venv, ensurepip' 2>/dev/null || test_pkgs="$test_pkgs python3-venv"
  java_major=$(java -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p' || true)
  [ "${java_major:-0}" -ge 17 ] 2>/dev/null || test_pkgs="$test_pkgs openjdk-17-jdk-headless"
  command -v mvn >/dev/null || test_pkgs="$test_pkgs maven"
fi
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
[ "$what" = test ] || exit 0

if [ "$(node_major "$(command -v node)")" -lt 20 ]; then
  case $(uname -m) in
    x86_64) arch=x64 ;; aarch64) arch=arm64 ;;
    *) echo "deps: node >= 20 needed and no node-linux package for $(uname -m); install Node 20" >&2; exit 1 ;;
  esac
  echo "deps: node $(node --version 2>/dev/null || echo missing) is older than 20:" \
    "installing node-linux-$arch@$NODE_PIN from the npm registry into $NODE_DIR" >&2
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR/bin"
  npm install --prefix "$NODE_DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-$arch@$NODE_PIN"
  ln -s "../node_modules/node-linux-$arch/bin/node" "$NODE_DIR/bin/node"
  export PATH="$PWD/$NODE_DIR/bin:$PATH"
  [ "$(node --version)" = "v$NODE_PIN" ] || { echo "deps: $NODE_DIR/bin/node is not v$NODE_PIN" >&2; exit 1; }
fi

# The e2e tests' clients (iceberg-js, playwright-core, ...), pinned by package-lock.json; installed again
# when the lock file changed since the last install.
if [ -f tests/e2e/package-lock.json ] &&
   { [ ! -f tests/e2e/node_modules/.package-lock.json ] ||
     [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# The S3-compatible servers the S3 warehouse tests run against (versitygw and SeaweedFS, pinned there), built once into
# build/s3/bin; it fetches its own Go toolchain from the Go module proxy when the machine's go is too old.
scripts/s3server.sh
