#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the tests, on loopback, in a temp directory.
# Usage: eval "$(scripts/pg_server.sh start)"   -> exports TGD_TEST_DATABASE_URL and PG_TEST_DIR
#        scripts/pg_server.sh stop "$PG_TEST_DIR"
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
case "${1:-}" in
start)
  dir=$(mktemp -d /tmp/tgd-pg-XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run=()
  if [ "$(id -u)" -eq 0 ]; then  # initdb refuses to run as root
    chown postgres: "$dir"; run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$dir/data" -U tgd --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync stays on: the durability rule (E-01) is tested against real settings.
  "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U tgd tgd_test
  echo "export PG_TEST_DIR=$dir"
  echo "export TGD_TEST_DATABASE_URL=postgresql+psycopg://tgd@127.0.0.1:$port/tgd_test"
  ;;
stop)
  dir=${2:?usage: pg_server.sh stop DIR}
  run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
