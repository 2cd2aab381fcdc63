#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the ledger tests and print its SQLAlchemy URL.
#
#   url=$(scripts/throwaway-postgres.sh start /tmp/capalloc-pg 55432)
#   CAPALLOC_TEST_POSTGRES_URL=$url pytest ...
#   scripts/throwaway-postgres.sh stop /tmp/capalloc-pg
#
# Needs Debian's postgresql package (initdb and pg_ctl under /usr/lib/postgresql/<v>/bin).
# The cluster lives in the given folder, listens on 127.0.0.1 only, trusts local users, and
# runs as the `postgres` system user when started by root (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?folder}; port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U capalloc --no-sync >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
      "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U capalloc capalloc_test
    echo "postgresql+psycopg://capalloc@127.0.0.1:$port/capalloc_test" ;;
  stop) as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true ;;
  *) echo "usage: $0 start|stop FOLDER [PORT]" >&2; exit 2 ;;
esac
