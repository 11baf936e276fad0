#!/usr/bin/env bash
# `make run`: starts icegate on the embedded default (SQLite + local warehouse under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${ICEGATE_DATA_DIR:-./data}
listen=${ICEGATE_SERVER_LISTEN:-127.0.0.1:8181}   # the message names where it really listens
cat <<MSG

  icegate on http://$listen  (data in $data; Ctrl-C stops it)

  First start: the log below shows the generated password of user 'admin' (once), for the console at
  http://$listen/ .  Make the first admin access token, in another terminal:

      bin/icegate token create --name my-first-token --data-dir $data

  then:   curl -H "X-API-Token: <token>" http://$listen/v1/config

MSG
exec bin/icegate serve --data-dir "$data" "$@"
