#!/usr/bin/env bash
# Installs schemathesis from the hash-pinned lock (requirements.txt, made from requirements.in by
# `uv pip compile requirements.in --generate-hashes --universal --python-version 3.11 --no-header
# -o requirements.txt`) into its own venv, build/schemathesis/venv.  Idempotent: when the venv's stamp holds
# the sha256 of the lock (and of the python it was made with) nothing is done.
#   PYTHON    interpreter for the venv (default python3; the lock resolves for 3.11 and works on 3.10+)
#   ST_VENV   where the venv goes (default build/schemathesis/venv under the repo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
venv=${ST_VENV:-$root/build/schemathesis/venv}
lock=$here/requirements.txt
want="$(sha256sum "$lock" | cut -d' ' -f1) $("$py" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
stamp=$venv/.icegate-lock
if [ -x "$venv/bin/st" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "schemathesis: venv $venv up to date ($("$venv/bin/st" --version 2>/dev/null | head -1))"
  exit 0
fi
start=$(date +%s)
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$py" -m venv "$venv"
# --require-hashes: every package, transitive ones too, must be in the lock with its hash; --no-deps so that
# pip installs exactly the lock and resolves nothing of its own.
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet --no-input --require-hashes --no-deps \
  --only-binary=:all: -r "$lock"
"$venv/bin/pip" check >/dev/null
echo "$want" >"$stamp"
echo "schemathesis: installed $("$venv/bin/st" --version | head -1) in $venv ($(( $(date +%s) - start ))s)"
