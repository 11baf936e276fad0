#!/usr/bin/env bash
# tests/rck/run.sh — runs Iceberg's REST Compatibility Kit (RCK, Iceberg 1.11.0) against a fresh icegate.
#
#   tests/rck/install.sh && make && tests/rck/run.sh
#
# Builds nothing and needs no network: the class path is build/rck/jars/ (tests/rck/install.sh), the server
# is $ICEGATE_BIN (default bin/icegate). Every run starts icegate on a fresh data dir (the kit's @BeforeAll
# asserts that its namespaces do not exist yet), creates an access token with the CLI, and runs
# org.apache.iceberg.rest.RESTCompatibilityKitSuite with JUnit's console launcher, rck.local=false (no
# in-process reference server), the client pointed at icegate with -Duri, -Dwarehouse, -Dheader.X-API-Token.
#
# Where files go. The kit's client writes data and manifest files itself, at the locations icegate returns,
# and asks for explicit locations under file:/tmp: CatalogTests uses the fixed base "file:/tmp/<ns>/<table>",
# ViewCatalogTests a JUnit @TempDir (under java.io.tmpdir). icegate accepts only locations inside its warehouse,
# so the warehouse must contain /tmp itself. The run therefore gets a private /tmp:
#   RCK_ISOLATION=namespace  (default when possible) the script re-runs itself in a private mount namespace
#       (`unshare --mount`, as root, or `unshare --user --map-root-user --mount` otherwise) in which
#       build/rck/run/tmp is bind-mounted on /tmp. icegate's warehouse is file:///tmp and java.io.tmpdir is
#       /tmp, so every location the kit requests is inside the warehouse, exactly as the tests spell it, and
#       nothing lands in the machine's real /tmp (it all stays in build/rck/run/tmp for inspection).
#   RCK_ISOLATION=shared-tmp (fallback when no namespace can be made) the warehouse is the real file:///tmp,
#       java.io.tmpdir a fresh /tmp/icegate-rck.XXXXXX; the directories of the kit's namespaces (ns, newdb, ns1,
#       ns_1, a, ...) that the run created under /tmp are removed afterwards. Two such runs at once would share them.
# The data dir (icegate.db) is build/rck/run/data either way, outside the warehouse.
#
# Output: build/rck/launcher.txt (the launcher's --details=tree output), build/rck/reports/*.xml (its XML
# reports), build/rck/icegate.log (icegate's log at level debug: one access line per request, with the error
# message of each 4xx), build/rck/results.tsv (id, status, message per test), and one line on stdout:
#   rck: N tests, N passed, N failed, N skipped
#
# Exit status: 0 when the failed tests are exactly those listed in tests/rck/known-failures.txt (one test id
# per line, then a reason; '#' starts a comment); 1 when a test fails that is not listed, or when a listed
# test did not fail (it passes now, or was skipped or not found: remove it, so the list only shrinks;
# RCK_ALLOW_FIXED=1 turns that case into a warning); 2 when something is missing (jars, binary, java).
#
# Switches (rck.* properties, read by the kit from the catalog properties), set to what icegate does:
#   rck.requires-namespace-create=true    a table or view needs its namespace first (404 otherwise)
#   rck.supports-serverside-retry=true    icegate checks a commit's requirements against the current metadata
#                                         and answers "Requirement failed: ..." (the Java client does not retry)
#   rck.overrides-requested-location=false  a requested location (inside the warehouse) is kept as requested
#   rck.supports-names-with-dot=true      a '.' in a namespace or table name is an ordinary character
#                                         (levels travel joined by %1F)
# Override any of them with RCK_PROPS="-Drck.x=y ...". RCK_TIMEOUT bounds the Java run (default 900 s).
#
# RCK_TARGET=reference runs the same rig against Iceberg's reference server instead (bench/peer/PeerServer.java,
# compiled on first use, on 127.0.0.1; names-with-dot=false since its JdbcCatalog cannot store dots, and
# requires-namespace-create left to the kit's defaults (false for tables, true for views: the reference creates a
# table in a namespace that does not exist, but not a view); no allowed failures): the control that tells a rig problem from an icegate one. Its log is build/rck/icegate.log.
set -euo pipefail
# icegate refuses an ICEGATE_* variable that is not one of its settings: none is inherited (ICEGATE_BIN,
# which names the binary under test, is read here and by nothing else).
for v in $(compgen -e | grep '^ICEGATE_' || true); do [ "$v" = ICEGATE_BIN ] || unset "$v"; done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ICEGATE_BIN=${ICEGATE_BIN:-$ROOT/bin/icegate}
JARS=${RCK_JARS:-$ROOT/build/rck/jars}
OUT=${RCK_OUT:-$ROOT/build/rck}
KNOWN=${RCK_KNOWN_FAILURES:-$HERE/known-failures.txt}
RCK_TIMEOUT=${RCK_TIMEOUT:-900}
RCK_ISOLATION=${RCK_ISOLATION:-auto}
RCK_TARGET=${RCK_TARGET:-icegate}
[ "$RCK_TARGET" = reference ] && KNOWN=${RCK_KNOWN_FAILURES:-/dev/null}
RUN=$OUT/run

die() {
  echo "rck: $*" >&2
  exit 2
}

# ------------------------------------------------------------------ outside: checks, fresh dirs, namespace
if [ -z "${RCK_INSIDE:-}" ]; then
  if [ "$RCK_TARGET" != reference ]; then
    [ -x "$ICEGATE_BIN" ] && [ ! -d "$ICEGATE_BIN" ] || die "$ICEGATE_BIN is not an executable (run make, or set ICEGATE_BIN)"
  fi
  ls "$JARS"/iceberg-open-api-*-tests.jar >/dev/null 2>&1 || die "no RCK jars in $JARS (run tests/rck/install.sh)"
  for tool in java python3 timeout curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
  done
  ICEGATE_BIN=$(cd "$(dirname "$ICEGATE_BIN")" && pwd)/$(basename "$ICEGATE_BIN")
  export ICEGATE_BIN
  rm -rf "$RUN" "$OUT/reports" "$OUT/launcher.txt" "$OUT/icegate.log" "$OUT/results.tsv"
  mkdir -p "$RUN/tmp" "$RUN/data" "$OUT/reports"
  # A private /tmp would hide a clone, its jars or its binary that live under /tmp themselves.
  if [ "$RCK_ISOLATION" = auto ]; then
    for p in "$ROOT" "$JARS" "$OUT" "$ICEGATE_BIN"; do
      case "$(readlink -f "$p" 2>/dev/null || echo "$p")/" in
        /tmp/*) RCK_ISOLATION=shared-tmp
          echo "rck: $p is under /tmp, which a private /tmp would hide: RCK_ISOLATION=shared-tmp" >&2 ;;
      esac
    done
  fi
  if [ "$RCK_ISOLATION" = auto ] || [ "$RCK_ISOLATION" = namespace ]; then
    for ns in "unshare --mount --propagation private" "unshare --user --map-root-user --mount --propagation private"; do
      # shellcheck disable=SC2086  # $ns is a command line
      if $ns sh -c "mount --bind '$RUN/tmp' /tmp" 2>/dev/null; then
        # shellcheck disable=SC2086
        exec env RCK_INSIDE=namespace $ns bash "$0" "$@"
      fi
    done
    [ "$RCK_ISOLATION" = auto ] || die "RCK_ISOLATION=namespace, but no private mount namespace can be made here"
    echo "rck: no private mount namespace here; falling back to RCK_ISOLATION=shared-tmp (the real /tmp)" >&2
  fi
  exec env RCK_INSIDE=shared-tmp bash "$0" "$@"
fi

# ------------------------------------------------------------------ inside
ICEGATE_PID=
created=()
cleanup() {
  if [ -n "$ICEGATE_PID" ]; then
    kill -TERM "$ICEGATE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ICEGATE_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$ICEGATE_PID" 2>/dev/null || true
  fi
  local d
  for d in "${created[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$RCK_INSIDE" = namespace ]; then
  mount --bind "$RUN/tmp" /tmp
  JTMP=/tmp
else
  # the namespaces CatalogTests and ViewCatalogTests create (tables without a location land in /tmp/<ns>/<table>)
  for d in ns newdb newdb_1 newdb_2 ns1 ns2 ns_1 ns_2 other_ns a new.db parent; do
    [ -e "/tmp/$d" ] || created+=("/tmp/$d")
  done
  JTMP=$(mktemp -d /tmp/icegate-rck.XXXXXX)
  created+=("$JTMP")
fi
WAREHOUSE=file:///tmp

cat >"$RUN/icegate.yaml" <<EOF
# written by tests/rck/run.sh
catalog:
  warehouse: "$WAREHOUSE"
log:
  level: debug
EOF

if [ "$RCK_TARGET" = reference ]; then
  # The control: Iceberg's reference server (bench/peer/PeerServer.java: RESTCatalogServer's JdbcCatalog on a
  # SQLite file, bound to 127.0.0.1) in place of icegate, same rig, same switches but names-with-dot (JdbcCatalog
  # cannot store dots) and requires-namespace-create (left to the kit's per-class defaults). Expect no failures at all.
  PEER_CLASSES=$ROOT/build/peer/classes
  if [ ! -f "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ] \
    || [ "$ROOT/bench/peer/PeerServer.java" -nt "$PEER_CLASSES/org/apache/iceberg/rest/PeerServer.class" ]; then
    mkdir -p "$PEER_CLASSES"
    javac -nowarn -cp "$JARS/*" -d "$PEER_CLASSES" "$ROOT/bench/peer/PeerServer.java" || die "javac PeerServer failed"
  fi
  TOKEN=unused
  java -cp "$PEER_CLASSES:$JARS/*" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn org.apache.iceberg.rest.PeerServer \
    --host 127.0.0.1 --port 0 --db "$RUN/data/catalog.db" --warehouse "$RUN/reference-warehouse" >"$OUT/icegate.log" 2>&1 &
  ICEGATE_PID=$!
  LISTEN_RE='s/^peer listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p'
  DOT=false NSCREATE=
  WHAT="Iceberg's reference server (bench/peer/PeerServer.java)"
else
  TOKEN=$("$ICEGATE_BIN" token create --name rck --data-dir "$RUN/data" --json 2>"$RUN/token.err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
    || { cat "$RUN/token.err" >&2; die "icegate token create failed"; }
  "$ICEGATE_BIN" serve --listen 127.0.0.1:0 --data-dir "$RUN/data" --config "$RUN/icegate.yaml" >"$OUT/icegate.log" 2>&1 &
  ICEGATE_PID=$!
  LISTEN_RE='s/.*icegate [^ ]* listening on http:\/\/127\.0\.0\.1:\([0-9]*\) (.*/\1/p'
  DOT=true NSCREATE=true
  WHAT=$("$ICEGATE_BIN" --version 2>/dev/null | head -n 1)
fi
PORT=
for _ in $(seq 1 600); do
  PORT=$(sed -n "$LISTEN_RE" "$OUT/icegate.log" | head -n 1)
  [ -n "$PORT" ] && break
  kill -0 "$ICEGATE_PID" 2>/dev/null || { cat "$OUT/icegate.log" >&2; die "the server exited at start"; }
  sleep 0.05
done
[ -n "$PORT" ] || { cat "$OUT/icegate.log" >&2; die "the server logged no 'listening on' line within 30 s"; }
curl -sf -o /dev/null -H "X-API-Token: $TOKEN" "http://127.0.0.1:$PORT/v1/config" || die "GET /v1/config with the new token failed"

# shellcheck disable=SC2206  # RCK_PROPS is a list of words on purpose
props=(
  -Drck.local=false
  -Duri="http://127.0.0.1:$PORT/"
  -Dwarehouse="$WAREHOUSE"
  -Dheader.X-API-Token="$TOKEN"
  -Drck.supports-serverside-retry=true
  -Drck.overrides-requested-location=false
  -Drck.supports-names-with-dot=$DOT
  ${RCK_PROPS:-}
)
# unset for the reference: the kit's defaults then apply (false for its table tests, true for its view tests)
[ -n "$NSCREATE" ] && props=(-Drck.requires-namespace-create="$NSCREATE" "${props[@]}")
echo "rck: $WHAT on 127.0.0.1:$PORT, warehouse $WAREHOUSE, isolation $RCK_INSIDE, java.io.tmpdir $JTMP" >&2
start=$(date +%s.%N)
set +e
timeout -k 10 "$RCK_TIMEOUT" java -Xss4m -Djava.io.tmpdir="$JTMP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  "${props[@]}" -cp "$JARS/*" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --disable-ansi-colors --details=tree --config=rck.local=false \
  --reports-dir="$OUT/reports" --select-class=org.apache.iceberg.rest.RESTCompatibilityKitSuite \
  >"$OUT/launcher.txt" 2>&1
rc=$?
set -e
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "rck: the launcher was stopped after ${RCK_TIMEOUT}s" >&2
fi
printf 'props:' >"$OUT/props.txt"
printf ' %s' "${props[@]}" | sed "s/$TOKEN/<token>/" >>"$OUT/props.txt"

python3 - "$OUT/reports" "$OUT/results.tsv" "$KNOWN" "$secs" "${RCK_ALLOW_FIXED:-0}" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
reports, results, known_file, secs, allow_fixed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
rows = {}
for f in sorted(glob.glob(os.path.join(reports, "*.xml"))):
    for tc in ET.parse(f).getroot().iter("testcase"):
        cls = tc.get("classname", "").rsplit(".", 1)[-1]
        tid = f"{cls}#{tc.get('name')}"
        status, msg = "passed", ""
        for kind in ("failure", "error"):
            e = tc.find(kind)
            if e is not None:
                status = "failed"
                msg = (e.get("message") or e.get("type") or "").strip()
        if tc.find("skipped") is not None:
            status, msg = "skipped", (tc.find("skipped").get("message") or "").strip()
        rows[tid] = (status, " ".join(msg.split())[:300])
if not rows:
    print("rck: no test results in the XML reports: see build/rck/launcher.txt", file=sys.stderr)
    sys.exit(1)
with open(results, "w") as out:
    for tid, (st, msg) in sorted(rows.items()):
        out.write(f"{tid}\t{st}\t{msg}\n")
known = {}
if os.path.exists(known_file):
    for line in open(known_file):
        line = line.strip()
        if line and not line.startswith("#"):
            tid, _, why = line.partition(" ")
            known[tid] = why.strip()
n = len(rows)
p = sum(1 for s, _ in rows.values() if s == "passed")
fl = sum(1 for s, _ in rows.values() if s == "failed")
sk = sum(1 for s, _ in rows.values() if s == "skipped")
print(f"rck: {n} tests, {p} passed, {fl} failed, {sk} skipped ({secs} s)")
bad = 0
new = [t for t, (s, _) in sorted(rows.items()) if s == "failed" and t not in known]
for t in new:
    print(f"rck: NEW FAILURE {t}: {rows[t][1]}")
bad += len(new)
for t in sorted(known):
    st = rows.get(t, ("not found", ""))[0]
    if st != "failed":
        what = "now PASSES" if st == "passed" else f"is {st}"
        print(f"rck: {t} is in known-failures.txt but {what}: remove it from tests/rck/known-failures.txt")
        if not allow_fixed:
            bad += 1
kf = sum(1 for t, (s, _) in rows.items() if s == "failed" and t in known)
print(f"rck: {kf} known failures (tests/rck/known-failures.txt lists {len(known)}), {len(new)} new")
sys.exit(1 if bad else 0)
PY
