#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the shared-study sweep tests.
#
#   eval "$(bash .ci/postgres.sh)"      # start (or reuse) it; exports GFOPT_TEST_POSTGRES_URL
#   bash .ci/postgres.sh stop           # stop it and delete its data
#   bash .ci/postgres.sh down           # stop it, keep its data and port (an outage, for fault-injection tests)
#   bash .ci/postgres.sh up             # start it again after `down`, same data, same port and URL
#
# Installs Debian's `postgresql` package if no server binaries are found (root only), keeps its data in
# $GFOPT_PG_DIR (default /tmp/gfopt-pg-$UID), runs the server as the `postgres` user when started by root
# (the server refuses to run as root), listens on 127.0.0.1 on a free port, trusts local connections.
# Idempotent: a second call finds the running server and prints the same URL. Logs go to stderr; only the
# export line goes to stdout.
set -euo pipefail

DIR="${GFOPT_PG_DIR:-/tmp/gfopt-pg-$(id -u)}"
DATA="$DIR/data"
DB=gfopt_test
say() { echo "postgres.sh: $*" >&2; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then dirname "$(command -v pg_ctl)"; fi
}

as_owner() {  # run a server command as the data dir's owner (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

serve() {  # start the server on $PORT with the data in $DATA
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >&2
}

BIN=$(bindir)
if [ "${1:-start}" = stop ]; then
  if [ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ]; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true; fi
  rm -rf "$DIR"
  exit 0
fi
if [ "${1:-start}" = down ]; then
  [ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] || { say "no server data in $DATA"; exit 1; }
  as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >&2
  exit 0
fi
if [ "${1:-start}" = up ]; then
  [ -n "$BIN" ] && [ -f "$DIR/port" ] || { say "no server data in $DATA (start it first)"; exit 1; }
  PORT=$(cat "$DIR/port")
  serve
  exit 0
fi

if [ -z "$BIN" ]; then
  [ "$(id -u)" = 0 ] || { say "no PostgreSQL server found and not root: apt-get install postgresql"; exit 1; }
  say "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(bindir)
  [ -n "$BIN" ] || { say "postgresql installed but initdb not found"; exit 1; }
fi

if [ -f "$DIR/port" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  PORT=$(cat "$DIR/port")
  say "reusing the server on 127.0.0.1:$PORT ($DATA)"
else
  rm -rf "$DIR"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
  serve \
    || { cat "$DIR/server.log" >&2; exit 1; }
  as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
  echo "$PORT" >"$DIR/port"
  say "started on 127.0.0.1:$PORT ($DATA)"
fi

echo "export GFOPT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PORT/$DB"
