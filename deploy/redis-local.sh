#!/usr/bin/env bash
# A throwaway Redis on loopback, from Debian's packages, in a directory of its own: the load generator's baseline.
#   bash deploy/redis-local.sh start DIR PORT   installs Redis if missing, starts it (or finds it running), prints HOST:PORT
#   bash deploy/redis-local.sh stop DIR          stops it (the directory can then be deleted)
# Durable like StockGrains: appendonly yes with appendfsync always, so a write is on disk before Redis answers it.
set -euo pipefail

command=${1:?start or stop}
dir=${2:?directory}

# How long to wait for Redis to answer or to go away, in tenths of a second (10 s): it starts in well under one.
wait_steps=100

running() {
  # The pid file alone is not proof: a crashed Redis leaves it behind, and the pid may have been reused.
  [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null \
    && redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG
}

case "$command" in
  start)
    port=${3:?port}
    if ! command -v redis-server >/dev/null 2>&1; then
      echo "Installing Redis from Debian's packages..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq redis-server >&2
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if running "$port"; then
      # Idempotent: a second start of the same directory leaves the running server alone.
      echo "127.0.0.1:$port"
      exit 0
    fi
    # Loopback only; no RDB snapshots, so the append-only file alone makes writes durable; and no automatic rewrite of
    # that file, which forks Redis and writes the whole file whenever it has doubled (mid-benchmark, and into the next
    # run on the same disk). The load generator rewrites it itself, before a run, once it passes 256 MiB.
    cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
protected-mode yes
port $port
dir $dir
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
save ""
appendonly yes
appendfsync always
appendfilename "appendonly.aof"
auto-aof-rewrite-percentage 0
EOF
    redis-server "$dir/redis.conf" >&2
    for _ in $(seq 1 "$wait_steps"); do
      if running "$port"; then
        echo "127.0.0.1:$port"
        exit 0
      fi
      sleep 0.1
    done
    echo "Redis did not answer on 127.0.0.1:$port; see $dir/redis.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/redis.pid" ]; then
      pid=$(cat "$dir/redis.pid")
      port=$(awk '$1 == "port" { print $2 }' "$dir/redis.conf" 2>/dev/null || true)
      # A clean shutdown first (it flushes the append-only file); a plain TERM if the server does not answer.
      if [ -n "$port" ]; then redis-cli -h 127.0.0.1 -p "$port" shutdown >/dev/null 2>&1 || true; fi
      kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 "$wait_steps"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      rm -f "$dir/redis.pid"
    fi
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
