#!/usr/bin/env bash
# A real StockGrains cluster on this machine: a throwaway PostgreSQL plus N silo processes on loopback.
#   bash deploy/local-cluster.sh start N [DIR]   build once, start PostgreSQL and N silos; prints DIR
#   bash deploy/local-cluster.sh add DIR          start one more silo (scale out while traffic flows)
#   bash deploy/local-cluster.sh stop-silo DIR I  stop silo I gracefully (SIGTERM: it leaves the cluster cleanly)
#   bash deploy/local-cluster.sh kill-silo DIR I  kill silo I (SIGKILL: a crash)
#   bash deploy/local-cluster.sh stop DIR         stop every silo, then PostgreSQL
# Silo I listens on HTTP 5080+I, silo port 11110+I and gateway 29999+I; logs are DIR/silo-I.log.
# The silos run as production does, so they need a key: start makes one (every role, every warehouse) and
# keeps it in DIR/api-key; send it as the X-Api-Key header.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?start, add, stop-silo, kill-silo or stop}
postgres_port=${STOCKGRAINS_CLUSTER_POSTGRES_PORT:-55440}

start_silo() {
  local dir=$1 i=$2
  local connection
  connection=$(cat "$dir/connection")
  StockGrains__Store=PostgreSql \
  StockGrains__ConnectionString="$connection" \
  StockGrains__ServiceId=stockgrains \
  StockGrains__ClusterId=stockgrains-local \
  DOTNET_TC_CallCountingDelayMs=0 \
  StockGrains__SiloPort=$((11110 + i)) \
  StockGrains__GatewayPort=$((29999 + i)) \
  StockGrains__AdvertisedAddress=127.0.0.1 \
  Kestrel__Endpoints__Http__Url="http://127.0.0.1:$((5080 + i))" \
  StockGrains__Auth__Clients__local__Roles__0=admin \
  StockGrains__Auth__Clients__local__Roles__1=operator \
  StockGrains__Auth__Clients__local__Roles__2=auditor \
  StockGrains__Auth__Clients__local__Roles__3=checkout \
  StockGrains__Auth__Clients__local__Warehouses__0='*' \
  StockGrains__Auth__Clients__local__KeyHashes__0="$(cat "$dir/api-key-hash")" \
    nohup dotnet "$dir/bin/StockGrains.Server.dll" >"$dir/silo-$i.log" 2>&1 &
  echo $! >"$dir/silo-$i.pid"
  for _ in $(seq 1 120); do
    if curl -fs "http://127.0.0.1:$((5080 + i))/health/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "silo $i did not become ready; see $dir/silo-$i.log" >&2
  return 1
}

case "$command" in
  start)
    count=${2:?number of silos}
    dir=${3:-$(mktemp -d)}
    mkdir -p "$dir"
    dotnet publish src/StockGrains.Server -c Release -o "$dir/bin" >"$dir/publish.log"
    if [ ! -s "$dir/api-key" ]; then
      keys=$(dotnet "$dir/bin/StockGrains.Server.dll" keys new)
      echo "$keys" | sed -n 's/^key: *//p' >"$dir/api-key"
      echo "$keys" | sed -n 's/^hash: *//p' >"$dir/api-key-hash"
    fi
    bash deploy/postgres-local.sh start "$dir/postgres" "$postgres_port" >"$dir/connection"
    for i in $(seq 1 "$count"); do start_silo "$dir" "$i"; done
    echo "$dir"
    ;;
  add)
    dir=${2:?directory}
    last=$(ls "$dir"/silo-*.pid 2>/dev/null | sed 's/.*silo-\([0-9]*\).pid/\1/' | sort -n | tail -n 1)
    start_silo "$dir" $(( ${last:-0} + 1 ))
    ;;
  stop-silo|kill-silo)
    dir=${2:?directory}
    i=${3:?silo number}
    signal=TERM
    [ "$command" = kill-silo ] && signal=KILL
    kill -s "$signal" "$(cat "$dir/silo-$i.pid")" 2>/dev/null || true
    ;;
  stop)
    dir=${2:?directory}
    for pid in "$dir"/silo-*.pid; do
      [ -e "$pid" ] && kill -s TERM "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 2
    bash deploy/postgres-local.sh stop "$dir/postgres"
    ;;
  *)
    echo "usage: see the top of $0" >&2
    exit 2
    ;;
esac
