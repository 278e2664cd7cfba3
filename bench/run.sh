#!/usr/bin/env bash
# Runs every benchmark: each bench/<name>/run.sh in name order. Each writes its own
# markdown report into bench/results/<name>.md. Exit status: non-zero if any failed.
# Environment: PB_BIN (default build/planebridge), passed through to every script.
set -u
cd "$(dirname "$0")/.."
export PB_BIN=${PB_BIN:-$PWD/build/planebridge}
fail=0
for s in bench/*/run.sh; do
  [ -f "$s" ] || continue
  echo "=== bench $(basename "$(dirname "$s")")"
  if ! bash "$s"; then
    echo "!!! $s failed"
    fail=$((fail + 1))
  fi
done
[ $fail -eq 0 ]
