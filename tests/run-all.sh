#!/usr/bin/env bash
# Runs every test of StockGrains: rules, grains on the real in-process server, HTTP, storage.
# Usage: bash tests/run-all.sh   (from the repository root; needs the .NET 10 SDK, and root or an installed
# PostgreSQL and Redis for the cluster-mode and baseline tests: it installs them from Debian's packages when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
pgdir=""
redisdir=""
cleanup() {
  if [ -n "$pgdir" ]; then bash deploy/postgres-local.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; pgdir=""; fi
  if [ -n "$redisdir" ]; then bash deploy/redis-local.sh stop "$redisdir" >/dev/null 2>&1 || true; rm -rf "$redisdir"; redisdir=""; fi
  rm -f "$log"
}
trap cleanup EXIT

# The PostgreSQL tests need a server: unless one is named, start a throwaway one (installed from Debian's
# packages if missing). Without it those tests fail; they never skip.
if [ -z "${STOCKGRAINS_TEST_POSTGRES:-}" ]; then
  pgdir="$(mktemp -d)"
  port="${STOCKGRAINS_TEST_POSTGRES_PORT:-55432}"
  STOCKGRAINS_TEST_POSTGRES="$(bash deploy/postgres-local.sh start "$pgdir" "$port")"
  # The tests drop the databases they make, except on this server, which goes with them.
  STOCKGRAINS_TEST_POSTGRES_THROWAWAY=1
  export STOCKGRAINS_TEST_POSTGRES STOCKGRAINS_TEST_POSTGRES_THROWAWAY
fi

# The load generator's Redis baseline test needs a Redis the same way: one named, or a throwaway one started here.
if [ -z "${STOCKGRAINS_TEST_REDIS:-}" ]; then
  redisdir="$(mktemp -d)"
  STOCKGRAINS_TEST_REDIS="$(bash deploy/redis-local.sh start "$redisdir" "${STOCKGRAINS_TEST_REDIS_PORT:-56379}")"
  export STOCKGRAINS_TEST_REDIS
fi

status=0
dotnet test StockGrains.sln -c Release --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=$?

# One plain closing line, summed over every test assembly, after the databases have stopped.
sum() { { grep -oE "$1: +[0-9]+" "$log" || true; } | awk '{ s += $2 } END { print s + 0 }'; }
passed=$(sum Passed)
failed=$(sum Failed)
skipped=$(sum Skipped)
cleanup
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"

if [ "${passed:-0}" -eq 0 ]; then
  echo "No test ran." >&2
  exit 1
fi
exit "$status"
