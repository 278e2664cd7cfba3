#!/usr/bin/env bash
# Runs every test suite and prints one total line "N passed, N failed".
# Each suite prints its own "N passed, N failed" line; this script adds them up.
# Suites: unit (release), unit (ASan+UBSan), store contract on PostgreSQL, integration
# scripts (tests/integration/*.sh), Node clients (tests/clients), fuzz smoke.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export PB_BIN="$ROOT/build/planebridge" PB_ASAN_BIN="$ROOT/build-asan/planebridge"
total_pass=0 total_fail=0
LOGDIR=$(mktemp -d /tmp/pb-tests.XXXXXX)

suite() { # suite NAME CMD... : runs CMD, adds its summary line to the totals
  local name=$1; shift
  echo "=== $name"
  local log="$LOGDIR/$(echo "$name" | tr -c 'a-zA-Z0-9' _).log"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  else
    p=0; f=1; echo "!!! $name printed no summary (exit $rc)"
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "!!! $name exited $rc"; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

suite "unit (release, sqlite)" ./build/pb_unit
suite "unit (asan+ubsan, sqlite)" ./build-asan/pb_unit

# Store contract suite against a real PostgreSQL started for this run.
PGURL=$(bash tests/pg.sh start "$LOGDIR/pg") || PGURL=""
if [ -n "$PGURL" ]; then
  export PB_TEST_PG_URL="$PGURL"
  PB_TEST_STORE="$PGURL" PB_TEST_STORE_ONLY=1 suite "store contract (postgresql)" ./build/pb_unit
else
  echo "!!! could not start PostgreSQL"; total_fail=$((total_fail + 1))
fi

for t in tests/integration/*.sh; do
  [ -e "$t" ] || continue
  suite "integration $(basename "$t" .sh)" bash "$t"
done

if [ -f tests/clients/package.json ]; then
  suite "node clients" bash tests/clients/run.sh
fi

suite "fuzz smoke" bash tests/fuzz/run.sh

[ -n "$PGURL" ] && bash tests/pg.sh stop "$LOGDIR/pg"
rm -rf "$LOGDIR"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
