#!/usr/bin/env bash
# api_hostile: hostile input against the Plane-compatible API of a real daemon (the logic is
# in api_hostile.mjs, which starts and stops the daemon through tests/clients/lib/daemon.mjs
# on a free 127.0.0.1 port with a temp store). Runs on SQLite and, when PB_TEST_PG_URL is set,
# again on a fresh PostgreSQL database. Ends with one "N passed, N failed" line.
set -u
# a relative PB_BIN is relative to where we were started
[ -n "${PB_BIN:-}" ] && PB_BIN=$(realpath -m "$PB_BIN")
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export PB_BIN="${PB_BIN:-$ROOT/build/planebridge}"
pass=0 fail=0
run() { # run LABEL [env...]
  local log rc p f
  log=$(mktemp)
  shift
  env "$@" node ./api_hostile.mjs >"$log" 2>&1
  rc=$?
  grep -E '^(PASS|FAIL) ' "$log" | grep -v '^PASS ' || true
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
  p=$(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')
  f=$(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')
  [ -z "$line" ] && tail -n 20 "$log"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)) fail=$((fail + f))
  rm -f "$log"
}
PGURL="${PB_TEST_PG_URL:-}"
run sqlite -u PB_TEST_PG_URL
if [ -n "$PGURL" ]; then run postgres PB_TEST_PG_URL="$PGURL"; fi
if [ "$fail" -eq 0 ]; then echo "PASS api_hostile ($pass checks)"; else echo "FAIL api_hostile"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
