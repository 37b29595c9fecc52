#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests and benchmarks: a fresh
# cluster in a temporary directory, listening on 127.0.0.1 only, on a free
# port, with trust authentication (nothing else can reach it).
#
#   scripts/pg-test-server.sh start DIR   # prints the URL on stdout
#   scripts/pg-test-server.sh stop DIR
#   scripts/pg-test-server.sh resume DIR  # starts a stopped one again, same port
#
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` user that Debian's package creates.
set -euo pipefail

action="${1:?usage: pg-test-server.sh start|stop|resume DIR}"
dir="${2:?usage: pg-test-server.sh start|stop|resume DIR}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/initdb" ] || { echo "pg-test-server: PostgreSQL is not installed (scripts/deps.sh)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# fsync off unless PG_FSYNC=on: a test server's data is thrown away, and the
# tests measure the hop, not the disk. The benchmarks turn it on.
start_server() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories='$dir' -c fsync=$(cat "$dir/fsync") -c max_connections=200" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U sipwarden --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "${PG_FSYNC:-off}" >"$dir/fsync"
    start_server
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U sipwarden sipwarden
    echo "postgresql://sipwarden@127.0.0.1:$port/sipwarden"
    ;;
  resume)
    start_server
    echo "postgresql://sipwarden@127.0.0.1:$(cat "$dir/port")/sipwarden"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: pg-test-server.sh start|stop|resume DIR" >&2
    exit 2
    ;;
esac
