#!/usr/bin/env bash
# pgserver: a throwaway PostgreSQL server for the tests, in a directory of its own.
#   scripts/pgserver.sh start DIR     creates a cluster in DIR/data (initdb -A trust -U icegate), starts it with a
#                                     unix socket in DIR only (no TCP), creates database icegate and prints the
#                                     libpq DSN: host=DIR dbname=icegate user=icegate
#   scripts/pgserver.sh restart DIR   restarts it (the tests of reconnection use this)
#   scripts/pgserver.sh stop DIR      stops it (pg_ctl -m fast); DIR is left for the caller to remove
# The system's PostgreSQL service is never touched.  initdb refuses to run as root: as root, the server runs as
# the unprivileged user `nobody` (PGSERVER_USER overrides), which is given DIR.  The server's log is DIR/log.
# Exit status 0 on success; on failure a message on stderr (and the end of the server's log).
set -euo pipefail

usage() { echo "usage: $0 start|restart|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case $dir in /*) ;; *) dir="$PWD/$dir" ;; esac

# The server's binaries: pg_config's bindir when it has initdb, else Debian's versioned directories (newest
# first).  /usr/local/bin is not trusted: it may hold wrappers of another installation.
find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

bindir=$(find_bindir) || { echo "pgserver: PostgreSQL server binaries (initdb, pg_ctl) not found" >&2; exit 3; }

# Runs a server binary as the unprivileged user when we are root, else as ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    local user=${PGSERVER_USER:-nobody}
    if command -v runuser >/dev/null 2>&1; then runuser -u "$user" -- "$@"
    else setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups -- "$@"; fi
  else
    "$@"
  fi
}

fail_log() {
  echo "pgserver: $1" >&2
  [ -f "$dir/log" ] && tail -20 "$dir/log" >&2
  exit 1
}

start() {
  mkdir -p "$dir"
  [ -e "$dir/data/PG_VERSION" ] && fail_log "$dir already holds a cluster (stop it and remove the directory)"
  if [ "$(id -u)" -eq 0 ]; then
    chown "${PGSERVER_USER:-nobody}" "$dir"
    chmod 700 "$dir"
  fi
  # The server runs in DIR: a cwd the unprivileged user cannot read would only make initdb warn.
  cd "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -A trust -U icegate -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U icegate -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; fail_log "initdb failed"; }
  # fsync on: what is acknowledged survives a crash here too, as the store's promises require.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses='' -k $dir -c fsync=on" start >/dev/null || fail_log "pg_ctl start failed"
  as_owner "$bindir/psql" -h "$dir" -U icegate -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE icegate" >/dev/null || fail_log "cannot create database icegate"
  echo "host=$dir dbname=icegate user=icegate"
}

case $cmd in
  start) start ;;
  restart)
    [ -e "$dir/data/PG_VERSION" ] || fail_log "no cluster in $dir"
    cd "$dir"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -m fast \
      -o "-c listen_addresses='' -k $dir -c fsync=on" restart >/dev/null || fail_log "pg_ctl restart failed" ;;
  stop)
    [ -e "$dir/data/PG_VERSION" ] || exit 0
    cd "$dir"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null || fail_log "pg_ctl stop failed" ;;
  *) usage ;;
esac
