#!/usr/bin/env bash
# Runs every test of StockGrains: rules, grains on the real in-process server, HTTP, storage.
# Usage: bash tests/run-all.sh   (from the repository root; needs only the .NET 10 SDK)
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
dotnet test StockGrains.sln -c Release --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=$?

# One plain closing line, summed over every test assembly.
sum() { { grep -oE "$1: +[0-9]+" "$log" || true; } | awk '{ s += $2 } END { print s + 0 }'; }
passed=$(sum Passed)
failed=$(sum Failed)
skipped=$(sum Skipped)
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"

if [ "${passed:-0}" -eq 0 ]; then
  echo "No test ran." >&2
  exit 1
fi
exit "$status"
