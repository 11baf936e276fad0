#!/usr/bin/env bash
# bench/peers-setup.sh — builds or fetches, once, the two peers bench/peers.sh compares icegate with, into
# build/ (git-ignored; nothing of their code is committed). Never run by `make test` or CI.
#
#   bench/peers-setup.sh            # both; idempotent: a peer already in place is skipped
#   PEERS="rustberg" bench/peers-setup.sh
#
# reference  Iceberg's reference REST catalog server (Iceberg 1.11.0 test fixtures): tests/rck/install.sh fills
#            build/rck/jars (Maven Central, needs openjdk-17-jdk-headless maven), then javac compiles
#            bench/peer/PeerServer.java (the launcher that binds it to 127.0.0.1) into build/peer/classes.
# rustberg   rustberg 0.3.0 (Rust, one binary; Apache-2.0 OR MIT) from its published crate on crates.io:
#              cargo install --root build/peers rustberg --version 0.3.0 --locked --no-default-features --features cli
#            -> build/peers/bin/rustberg. CARGO_HOME=build/peers/cargo (the crate's source lands in
#            build/peers/cargo/registry/src/*/rustberg-0.3.0) and CARGO_TARGET_DIR=build/peers/target, so nothing
#            outside build/ is written. Needs cargo >= 1.94.1 (rust-version of the crate; default PATH plus
#            ~/.cargo/bin is searched). Run at nice 19 with -j 2 (RUSTBERG_JOBS): ~35 min on 2 cores. Without
#            default features: no TLS, no S3/GCS/Azure storage — the benchmark needs neither (plain HTTP on
#            127.0.0.1, a file:// warehouse, which the always-compiled OpenDAL fs backend serves).
#
# What rustberg 0.3.0's source says (src/main.rs, src/config/server_config.rs, src/auth/*, src/catalog/redb.rs,
# and the crates it writes through), as bench/peers.sh uses it:
#   start      rustberg --config FILE --insecure-http (a build without `tls` refuses to start without it);
#              [server] host = "127.0.0.1", port = P (default 0.0.0.0:8000: every interface).
#   catalog    [storage] catalog_url = "file:///DIR" — an embedded redb file DIR/catalog.redb (exclusive lock,
#              one process); warehouse_location = "file:///DIR2" — table metadata under DIR2/<ns>/<table>/.
#              No S3 or other object store is needed.
#   auth       on by default (production mode refuses --no-auth without --dev). API keys are configuration:
#              [[server.auth.api_keys]] name, tenant = "default", roles = ["admin"], key_env = VAR (the secret
#              is read from $VAR and kept as a SHA-256 hash); clients send `X-API-Key: SECRET` or
#              `Authorization: Bearer SECRET`. Every request is also authorised by Cedar (the built-in
#              policies: role admin may do everything in its tenant). With no key configured it mints a
#              temporary admin key and prints it.
#   rate limit on by default (100 req/s per IP, burst 200, 10x per tenant): [rate_limit] enabled = false
#              turns it off (RateLimitConfig::disabled()).
#   durability redb commits with its default Durability::Immediate (fsync before commit returns). Metadata
#              files go through iceberg-rust's OpenDAL fs backend (opendal-service-fs 0.57, no
#              atomic_write_dir): written in place under a new name, flush + sync_all (fsync) on close; the
#              directory is not fsynced.
#   audit      every authentication and authorisation decision is a JSON line on stdout ([audit] sink,
#              default "stdout"); application logs at info on stderr, with span events per request.
#   health     GET /health (process up), GET /ready (store and policies usable), no credential needed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-reference rustberg}
RUSTBERG_VERSION=0.3.0
RUSTBERG_JOBS=${RUSTBERG_JOBS:-2}
PEERS_DIR=$ROOT/build/peers

say() { echo "peers-setup: $*" >&2; }

setup_reference() {
  local jars=${RCK_JARS:-$ROOT/build/rck/jars} classes=$ROOT/build/peer/classes
  command -v javac >/dev/null 2>&1 || { say "reference: javac not found (apt-get install openjdk-17-jdk-headless maven)"; return 1; }
  "$ROOT/tests/rck/install.sh" || { say "reference: tests/rck/install.sh failed"; return 1; }
  if [ -f "$classes/org/apache/iceberg/rest/PeerServer.class" ] \
    && [ ! "$ROOT/bench/peer/PeerServer.java" -nt "$classes/org/apache/iceberg/rest/PeerServer.class" ]; then
    say "reference: $classes is up to date"
    return 0
  fi
  mkdir -p "$classes"
  javac -nowarn -cp "$jars/*" -d "$classes" "$ROOT/bench/peer/PeerServer.java" \
    || { say "reference: javac bench/peer/PeerServer.java failed"; return 1; }
  say "reference: compiled bench/peer/PeerServer.java into $classes"
}

setup_rustberg() {
  local bin=$PEERS_DIR/bin/rustberg cargo
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q " $RUSTBERG_VERSION\$"; then
    say "rustberg: $bin ($("$bin" --version)) is there"
    return 0
  fi
  cargo=$(PATH=$PATH:$HOME/.cargo/bin command -v cargo) || { say "rustberg: cargo not found (rustup, Rust >= 1.94.1)"; return 1; }
  mkdir -p "$PEERS_DIR"
  say "rustberg: building $RUSTBERG_VERSION with $cargo at nice 19, -j $RUSTBERG_JOBS (~35 min on 2 cores);" \
    "log in $PEERS_DIR/cargo-build.log"
  if ! CARGO_HOME=$PEERS_DIR/cargo CARGO_TARGET_DIR=$PEERS_DIR/target PATH=$(dirname "$cargo"):$PATH \
    nice -n 19 "$cargo" install --root "$PEERS_DIR" rustberg --version "$RUSTBERG_VERSION" --locked \
    --no-default-features --features cli -j "$RUSTBERG_JOBS" >"$PEERS_DIR/cargo-build.log" 2>&1; then
    tail -n 20 "$PEERS_DIR/cargo-build.log" >&2
    say "rustberg: cargo install failed (full log: $PEERS_DIR/cargo-build.log)"
    return 1
  fi
  say "rustberg: built $bin ($("$bin" --version))"
}

rc=0
for peer in $PEERS; do
  case $peer in
  reference) setup_reference || rc=1 ;;
  rustberg) setup_rustberg || rc=1 ;;
  *) say "unknown peer '$peer' (reference, rustberg)"; rc=2 ;;
  esac
done
exit "$rc"
