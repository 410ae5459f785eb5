#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: one per machine user, under
# ${TMPDIR:-/tmp}/beatbook-pg, listening only on 127.0.0.1 (a free port),
# trust auth for loopback. Never a server the machine happens to run.
#
#   scripts/postgres.sh ensure   # install if needed, start or reuse; prints the base URL
#   scripts/postgres.sh url      # prints the base URL of the running cluster (fails if none)
#   scripts/postgres.sh stop     # stops it and removes its directory
#
# The base URL is `postgres://postgres@127.0.0.1:PORT`: append `/DBNAME`.
# Only the URL goes to stdout; everything else to stderr. Safe to call from
# several test processes at once (one flock around every subcommand).
set -euo pipefail

root="${TMPDIR:-/tmp}/beatbook-pg"
data="$root/data"
port_file="$root/port"
log="$root/log"

mkdir -p "$root"
exec 9>"$root/lock"
flock 9

bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  return 1
}

install_postgres() {
  echo "postgres.sh: initdb not found; installing Debian's postgresql package" >&2
  local sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
}

# Runs a PostgreSQL binary as the `postgres` user (initdb refuses root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

alive() {
  [ -f "$data/postmaster.pid" ] || return 1
  local pid
  pid=$(head -1 "$data/postmaster.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

free_port() {
  python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

url() {
  echo "postgres://postgres@127.0.0.1:$(cat "$port_file")"
}

start() {
  local bin port
  bin=$(bin_dir) || { install_postgres; bin=$(bin_dir); }
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres "$root" "$data"; fi
    as_postgres "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >"$root/initdb.log" 2>&1 \
      || { cat "$root/initdb.log" >&2; exit 1; }
  fi
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    echo "$port" >"$port_file"
    # Unix sockets only in our own directory; TCP only on loopback. The
    # server must not inherit the lock (fd 9), or it would hold it forever.
    if as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2 9>&-; then
      return
    fi
    echo "postgres.sh: start on port $port failed, trying another" >&2
  done
  tail -20 "$log" >&2
  exit 1
}

case "${1:-}" in
  ensure)
    alive || start
    url
    ;;
  url)
    alive || { echo "postgres.sh: no cluster running (run: scripts/postgres.sh ensure)" >&2; exit 1; }
    url
    ;;
  stop)
    if alive; then
      as_postgres "$(bin_dir)/pg_ctl" -D "$data" stop -m immediate >&2
    fi
    rm -rf "$data" "$port_file" "$log" "$root/initdb.log"
    ;;
  *)
    echo "usage: $0 ensure|url|stop" >&2
    exit 2
    ;;
esac
