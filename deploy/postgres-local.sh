#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback, from Debian's packages, in a directory of its own.
#   bash deploy/postgres-local.sh start DIR PORT   installs PostgreSQL if missing, starts it (or finds it running), prints a
#                                                  connection string; a directory used before keeps its databases
#   bash deploy/postgres-local.sh stop DIR          stops it (the directory can then be deleted)
# synchronous_commit and fsync keep their defaults (on): a commit that returned is on disk.
set -euo pipefail

command=${1:?start or stop}
dir=${2:?directory}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_owner() {
  # initdb refuses to run as root; Debian's package creates the postgres user for this.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    port=${3:?port}
    if [ -z "$(pg_bin)" ]; then
      echo "Installing PostgreSQL from Debian's packages..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
    fi
    bin=$(pg_bin)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    # A directory used before keeps its databases: initdb only the first time, and leave a running server alone.
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400" start >&2
    fi
    echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres;Pooling=true"
    ;;
  stop)
    bin=$(pg_bin)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
