#!/usr/bin/env bash
# Runs every Node client test (tests/clients/*.test.mjs) with `node --test` against the
# planebridge binary in $PB_BIN (default build/planebridge): once on SQLite and, when
# PB_TEST_PG_URL is set, once more on PostgreSQL (each test file makes a fresh database).
# Prints one line per file and backend, then exactly one "N passed, N failed" line.
set -u
# a relative PB_BIN is relative to where we were started
[ -n "${PB_BIN:-}" ] && PB_BIN=$(realpath -m "$PB_BIN")
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export PB_BIN="${PB_BIN:-$ROOT/build/planebridge}"
pass=0 fail=0
backends="sqlite"
[ -n "${PB_TEST_PG_URL:-}" ] && backends="sqlite postgres"
PGURL="${PB_TEST_PG_URL:-}"
for f in ./*.test.mjs; do
  [ -e "$f" ] || continue
  for b in $backends; do
    log=$(mktemp)
    if [ "$b" = sqlite ]; then
      env -u PB_TEST_PG_URL node --test --test-reporter=tap "$f" >"$log" 2>&1
    else
      PB_TEST_PG_URL="$PGURL" node --test --test-reporter=tap "$f" >"$log" 2>&1
    fi
    rc=$?
    p=$(grep -E '^# pass ' "$log" | tail -n1 | awk '{print $3}')
    n=$(grep -E '^# fail ' "$log" | tail -n1 | awk '{print $3}')
    p=${p:-0} n=${n:-0}
    if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then n=1; fi
    if [ "$n" -gt 0 ]; then
      echo "FAIL $(basename "$f") [$b] ($p passed, $n failed)"
      grep -E '^not ok|^# Subtest' "$log" | grep -B1 '^not ok' | head -n 40
      grep -E "error:|expected|actual" "$log" | head -n 40
    else
      echo "PASS $(basename "$f") [$b] ($p tests)"
    fi
    pass=$((pass + p)) fail=$((fail + n))
    rm -f "$log"
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
