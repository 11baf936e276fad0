#!/usr/bin/env bash
# Installs the S3-compatible servers the tests use, pinned, built from the Go module proxy:
#   versitygw (Apache-2.0) into build/s3/bin/versitygw: light, for every S3 test that needs no STS;
#   SeaweedFS (Apache-2.0) into build/s3/bin/weed: the one permissive server whose STS AssumeRole enforces an
#   inline session policy (catalog.credentials.mode sts: credentials for table A refused on table B).
# Idempotent: build/s3/stamp holds the pinned versions, and a matching stamp with both binaries in place means
# nothing to do (quiet).  Called by `scripts/deps.sh test`.
#
# Everything goes under build/s3 (GOPATH, GOCACHE, GOBIN, any Go toolchain), nothing into $HOME.  versitygw's
# go.mod needs Go >= $GO_MIN: when the `go` on PATH is missing or older (Debian 12's golang is 1.19), the Go
# toolchain that the module proxy itself serves as the module golang.org/toolchain (what GOTOOLCHAIN fetches)
# is downloaded into build/s3/go, its zip checked against the h1: hash pinned below (the one sum.golang.org
# lists for it), and used for the build.  Only the Go module proxy is contacted (its sumdb endpoint stands in
# for sum.golang.org, so the default GOSUMDB works).  Needs curl and python3 (or unzip) for the toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSITYGW_PIN=v1.8.0
# SeaweedFS publishes no module versions: a pseudo-version of its main branch, the one the proxy served.
SEAWEEDFS_MOD=github.com/seaweedfs/seaweedfs
SEAWEEDFS_PIN=v0.0.0-20261109003541-7506e5f91cd6
GO_MIN=1.26.6                       # the `go` line of that SeaweedFS's go.mod (versitygw v1.8.0 needs 1.25.0)
GO_PIN=1.26.8                       # the toolchain fetched when the machine's go is older than GO_MIN
declare -A GO_H1=(                  # sum.golang.org: golang.org/toolchain v0.0.1-go$GO_PIN.linux-<arch> h1:...
  [amd64]=h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=
  [arm64]=h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc=
)
PROXY=https://proxy.golang.org
S3=build/s3
stamp="versitygw $VERSITYGW_PIN seaweedfs $SEAWEEDFS_PIN"

if [ -x "$S3/bin/versitygw" ] && [ -x "$S3/bin/weed" ] && [ "$(cat "$S3/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

# 0 when Go version $1 (e.g. 1.19.8, 1.25.0, go1.26rc1 without the "go") is at least $2.
version_ge() {
  local a b i
  IFS=. read -ra a <<<"${1%%[!0-9.]*}"
  IFS=. read -ra b <<<"$2"
  for i in 0 1 2; do
    [ "${a[i]:-0}" -gt "${b[i]:-0}" ] && return 0
    [ "${a[i]:-0}" -lt "${b[i]:-0}" ] && return 1
  done
  return 0
}

go_version() { "$1" env GOVERSION 2>/dev/null | sed 's/^go//'; }

# The pinned toolchain from an earlier run, else the machine's go, else fetch the pinned toolchain.
go=""
if [ -x "$S3/go/bin/go" ] && [ "$(go_version "$S3/go/bin/go")" = "$GO_PIN" ]; then
  go=$PWD/$S3/go/bin/go
elif command -v go >/dev/null && version_ge "$(go_version go)" "$GO_MIN"; then
  go=$(command -v go)
else
  case $(uname -m) in
    x86_64) arch=amd64 ;; aarch64) arch=arm64 ;;
    *) echo "s3server: Go >= $GO_MIN needed and no pinned toolchain for $(uname -m); install Go" >&2; exit 1 ;;
  esac
  mod=golang.org/toolchain@v0.0.1-go$GO_PIN.linux-$arch
  have=$(command -v go >/dev/null && echo "go $(go_version go) is older than $GO_MIN" || echo "no go on PATH")
  echo "s3server: $have: fetching the Go toolchain $mod from $PROXY into $S3/go" >&2
  rm -rf "$S3/go" "$S3/go.zip" "$S3/go.tmp"
  mkdir -p "$S3"
  curl -sSf --retry 3 -o "$S3/go.zip" "$PROXY/golang.org/toolchain/@v/v0.0.1-go$GO_PIN.linux-$arch.zip"
  # The module zip's h1: hash (Go's dirhash.Hash1: sha256 over "<sha256 hex>  <name>\n" of every file, sorted
  # by name), compared with the pinned one; then unpacked without the module's path prefix.
  python3 - "$S3/go.zip" "${GO_H1[$arch]}" "$mod" "$S3/go.tmp" <<'EOF'
import base64, hashlib, os, stat, sys, zipfile
zpath, want, prefix, dest = sys.argv[1], sys.argv[2], sys.argv[3] + "/", sys.argv[4]
with zipfile.ZipFile(zpath) as z:
    names = sorted(i.filename for i in z.infolist() if not i.is_dir())
    summary = "".join("%s  %s\n" % (hashlib.sha256(z.read(n)).hexdigest(), n) for n in names)
    got = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if got != want:
        sys.exit("s3server: %s has hash %s, expected %s" % (zpath, got, want))
    for i in z.infolist():
        if i.is_dir():
            continue
        if not i.filename.startswith(prefix) or ".." in i.filename.split("/"):
            sys.exit("s3server: unexpected path in toolchain zip: " + i.filename)
        out = os.path.join(dest, i.filename[len(prefix):])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(i) as src, open(out, "wb") as dst:
            dst.write(src.read())
        # Module zips carry no modes: bin/ and pkg/tool/ hold the executables.
        rel = i.filename[len(prefix):]
        if rel.startswith("bin/") or rel.startswith("pkg/tool/"):
            os.chmod(out, 0o755)
EOF
  mv "$S3/go.tmp" "$S3/go"
  rm -f "$S3/go.zip"
  go=$PWD/$S3/go/bin/go
  [ "$(go_version "$go")" = "$GO_PIN" ] || { echo "s3server: $S3/go/bin/go does not run as go$GO_PIN" >&2; exit 1; }
fi

rm -f "$S3/stamp" "$S3/bin/versitygw" "$S3/bin/weed"
mkdir -p "$S3/bin"
: >"$S3/install.log"
# -modcacherw: the module cache is made writable, so `rm -rf build` (make clean) can remove it.
# GOTOOLCHAIN=local: build with the go chosen above, never switch to another one behind our back.
# go's output (a line per module downloaded) goes to $S3/install.log; on failure all but those lines is shown.
# One retry: a transient proxy error once failed a build here, and the retry reuses what was downloaded.
goenv() {
  GOBIN=$PWD/$S3/bin GOPATH=$PWD/$S3/gopath GOCACHE=$PWD/$S3/gocache GOMODCACHE=$PWD/$S3/gopath/pkg/mod \
    GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0 GOENV=off "$@"
}
build_versitygw() {
  goenv "$go" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_PIN"
}
# `go install …@version` refuses SeaweedFS (its go.mod has replace directives): the module is downloaded and
# its ./weed built inside it, stripped (-s -w: 233 MB -> ~150 MB).
build_weed() {
  local dir
  dir=$(goenv "$go" mod download -json "$SEAWEEDFS_MOD@$SEAWEEDFS_PIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') &&
    (cd "$dir" && goenv "$go" build -trimpath -ldflags "-s -w" -o "$OLDPWD/$S3/bin/weed" ./weed)
}
for server in versitygw weed; do
  if ! "build_$server" >>"$S3/install.log" 2>&1; then
    grep -v '^go: downloading ' "$S3/install.log" >&2 || true
    echo "s3server: building $server failed; retrying once" >&2
    if ! "build_$server" >>"$S3/install.log" 2>&1; then
      grep -v '^go: downloading ' "$S3/install.log" >&2 || true
      echo "s3server: building $server failed (log: $S3/install.log)" >&2
      exit 1
    fi
  fi
done
"$S3/bin/versitygw" --version >/dev/null 2>&1 || "$S3/bin/versitygw" --help >/dev/null 2>&1 ||
  { echo "s3server: $S3/bin/versitygw does not run" >&2; exit 1; }
"$S3/bin/weed" version >/dev/null 2>&1 || { echo "s3server: $S3/bin/weed does not run" >&2; exit 1; }
# The module and build caches (~2 GB) serve no later run: the stamp skips the build until a pin changes.
rm -rf "$S3/gopath" "$S3/gocache"
echo "$stamp" >"$S3/stamp"
echo "s3server: installed versitygw $VERSITYGW_PIN and SeaweedFS $SEAWEEDFS_PIN into $S3/bin (built with go $(go_version "$go"))" >&2
