#!/usr/bin/env bash
# Integration: direct population (issue 8) through the CLI, on a SQLite store and, when
# PB_TEST_PG_URL is set, on a fresh PostgreSQL database too: the writeback gate (refusal +
# audit rows, one ops.run_events row per write with its status), every bundled template
# applied twice (second apply: no write), imports with per-row error reports and exit codes,
# export -> import -> export identical, a kill -9 mid-apply resumed without duplicates.
# The same scenarios checked through Plane's Node SDK against a running daemon live in
# tests/clients/populate.test.mjs (run by tests/clients/run.sh).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-build/planebridge}
case "$PB_BIN" in /*) ;; *) PB_BIN="$ROOT/$PB_BIN" ;; esac
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

TMP=$(mktemp -d /tmp/pb-populate.XXXXXX)
PGDB=""
KPID=""
cleanup() {
  [ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
  if [ -n "$PGDB" ]; then psql -q "$PB_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# jq_ FILE EXPR: EXPR is Python over the report r ("['failed']" is short for "r['failed']")
jq_() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); e=sys.argv[2]; print(eval(('r' + e) if e.startswith('[') else e))" "$@"; }

sql() { # sql QUERY (ops.x / work_plane.x names) -> first column of the first row
  local q=$1
  if [ "$BACKEND" = sqlite ]; then
    sqlite3 "$DBFILE" "$(echo "$q" | sed -e 's/ops\./ops_/g' -e 's/work_plane\./work_plane_/g')"
  else
    psql -qAt "$STORE" -c "$q"
  fi
}

run_backend() {
  BACKEND=$1
  local D=$TMP/$BACKEND
  mkdir -p "$D"
  if [ "$BACKEND" = sqlite ]; then
    DBFILE=$D/pb.db
    STORE=sqlite:$DBFILE
  else
    PGDB="pbpop_$$"
    psql -q "$PB_TEST_PG_URL" -c "CREATE DATABASE $PGDB" >/dev/null || { ko "[$BACKEND] create database"; return; }
    STORE=$(python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path='/'+sys.argv[2]).geturl())" "$PB_TEST_PG_URL" "$PGDB")
  fi
  export PB_STORE=$STORE PB_MASTER_KEY_FILE=$D/master.key PB_LOG_LEVEL=warn
  local B=$PB_BIN T=$ROOT/templates F=$ROOT/tests/fixtures/populate
  "$B" init >/dev/null 2>&1 && "$B" workspace create acme >/dev/null && "$B" workspace create copy >/dev/null || { ko "[$BACKEND] setup"; return; }
  for ws in acme copy; do
    "$B" user create --email ada@example.com --workspace $ws --role admin >/dev/null &&
      "$B" user create --email linus@example.com --workspace $ws --role member >/dev/null || { ko "[$BACKEND] users"; return; }
  done

  # the gate: disabled by default
  "$B" apply "$T/monitoring.yaml" --workspace acme --vars "$T/monitoring.vars.yaml" >"$D/refused.json" 2>"$D/refused.err"
  local rc=$?
  check "[$BACKEND] apply refused while writeback_policy is disabled" test $rc -eq 1
  check "[$BACKEND] refusal names the policy" grep -q "writeback_policy 'disabled'" "$D/refused.err"
  check "[$BACKEND] refusal leaves one audit row without status" \
    test "$(sql "SELECT COUNT(*) FROM ops.run_events WHERE workspace_slug = 'acme' AND action LIKE 'refused:%' AND upstream_status IS NULL")" = 1
  check "[$BACKEND] nothing was written" test "$(sql "SELECT COUNT(*) FROM work_plane.projects")" = 0
  "$B" policy acme explicit >/dev/null && "$B" policy copy explicit >/dev/null

  local writes=0
  for t in client-onboarding business-setup monitoring documentation; do
    "$B" apply "$T/$t.yaml" --workspace acme --vars "$T/$t.vars.yaml" >"$D/$t.json" 2>"$D/$t.err"
    rc=$?
    check "[$BACKEND] apply $t" test $rc -eq 0 -a "$(jq_ "$D/$t.json" "['failed']")" = 0
    writes=$((writes + $(jq_ "$D/$t.json" "['requests']['writes']")))
    "$B" apply "$T/$t.yaml" --workspace acme --vars "$T/$t.vars.yaml" >"$D/$t.2.json" 2>&1
    check "[$BACKEND] re-apply $t writes nothing" test "$(jq_ "$D/$t.2.json" "['requests']['writes']")" = 0
  done
  check "[$BACKEND] one audit row per write, with its upstream status" \
    test "$(sql "SELECT COUNT(*) FROM ops.run_events WHERE workspace_slug = 'acme' AND source = 'populate.apply' AND upstream_status IS NOT NULL")" = "$writes"
  check "[$BACKEND] every work item carries external_source planebridge" \
    test "$(sql "SELECT COUNT(*) FROM work_plane.items WHERE item_type = 'issue' AND (external_source IS NULL OR external_source <> 'planebridge')")" = 0

  # imports
  local pid
  pid=$(jq_ "$D/monitoring.json" "['project_id']")
  "$B" import jira-json "$F/jira.json" --workspace acme --project "$pid" >"$D/jj.json" 2>/dev/null
  rc=$?
  check "[$BACKEND] jira-json import reports its 2 bad rows and exits 1" test $rc -eq 1 -a "$(jq_ "$D/jj.json" "len([x for x in r['rows'] if 'error' in x])")" = 2
  "$B" import jira-csv "$F/jira.csv" --workspace acme --project "$pid" >"$D/jc.json" 2>/dev/null
  check "[$BACKEND] jira-csv import: 5 items, 3 bad rows" test "$(jq_ "$D/jc.json" "r['created'] >= 5 and len([x for x in r['rows'] if 'error' in x]) == 3")" = True
  "$B" import csv "$F/plane-min.csv" --workspace acme --project "$pid" >"$D/pm.json" 2>/dev/null
  rc=$?
  check "[$BACKEND] csv with missing columns imports cleanly" test $rc -eq 0
  local before after
  before=$(sql "SELECT COUNT(*) FROM work_plane.items WHERE item_type = 'issue' AND project_id = '$pid' AND deleted_at IS NULL")
  "$B" import jira-csv "$F/jira.csv" --workspace acme --project "$pid" >/dev/null 2>&1
  after=$(sql "SELECT COUNT(*) FROM work_plane.items WHERE item_type = 'issue' AND project_id = '$pid' AND deleted_at IS NULL")
  check "[$BACKEND] re-import does not duplicate" test "$before" = "$after"
  "$B" import csv "$F/plane.csv" --workspace acme >/dev/null 2>&1
  check "[$BACKEND] import without --project is a usage error" test $? -eq 2

  # export -> import -> export
  pid=$(jq_ "$D/client-onboarding.json" "['project_id']")
  "$B" export --workspace acme --project "$pid" --out "$D/e1.json" &&
    "$B" import project "$D/e1.json" --workspace copy >"$D/imp.json" 2>/dev/null
  local pid2
  pid2=$(jq_ "$D/imp.json" "['project_id']")
  "$B" export --workspace copy --project "$pid2" --out "$D/e2.json"
  check "[$BACKEND] export -> import -> export is identical" cmp -s "$D/e1.json" "$D/e2.json"

  # relative dates are pinned to the first apply of an instance
  cat >"$D/pin.yaml" <<'YAML'
template: pin
variables:
  start: {type: date, default: today}
anchor_date: "{{start}}"
project: {name: Pinned, identifier: PIN}
items:
  - {key: a, name: A, due: +7d}
YAML
  "$B" apply "$D/pin.yaml" --workspace acme --today 2026-03-01 >"$D/pin1.json" 2>/dev/null
  "$B" apply "$D/pin.yaml" --workspace acme >"$D/pin2.json" 2>/dev/null
  check "[$BACKEND] a later re-apply keeps the first apply's dates" \
    test "$(jq_ "$D/pin2.json" "['requests']['writes']")" = 0 -a \
    "$(sql "SELECT COUNT(*) FROM work_plane.items WHERE external_id = 'pin/pin/item/a' AND CAST(raw AS TEXT) LIKE '%2026-03-08%'")" = 1
  "$B" apply "$D/pin.yaml" --workspace acme --today 2026-03-02 >"$D/pin3.json" 2>/dev/null
  check "[$BACKEND] --today moves them on purpose (one update)" test "$(jq_ "$D/pin3.json" "['updated']")" = 1

  # kill -9 mid-apply, then resume
  python3 -c "print('keys: [' + ', '.join('k%d' % i for i in range(400)) + ']')" >"$D/big.vars.yaml"
  cat >"$D/big.yaml" <<'YAML'
template: big
variables:
  keys: {type: list}
project: {name: Big, identifier: BIG}
items:
  - for_each: keys
    key: "{{item}}"
    name: "Item {{item}}"
YAML
  "$B" apply "$D/big.yaml" --workspace acme --vars "$D/big.vars.yaml" >/dev/null 2>&1 &
  KPID=$!
  local n=0
  for _ in $(seq 1 600); do
    n=$(sql "SELECT COUNT(*) FROM work_plane.items i JOIN work_plane.projects p ON p.plane_id = i.project_id WHERE p.identifier = 'BIG' AND i.item_type = 'issue'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 30 ] && break
    kill -0 "$KPID" 2>/dev/null || break
    sleep 0.02
  done
  kill -KILL "$KPID" 2>/dev/null
  wait "$KPID" 2>/dev/null
  KPID=""
  n=$(sql "SELECT COUNT(*) FROM work_plane.items i JOIN work_plane.projects p ON p.plane_id = i.project_id WHERE p.identifier = 'BIG' AND i.item_type = 'issue'")
  check "[$BACKEND] killed mid-apply ($n of 400 created)" test "$n" -gt 0 -a "$n" -lt 400
  check "[$BACKEND] the run is left 'running'" test "$(sql "SELECT status FROM ops.populate_runs WHERE name = 'big' ORDER BY started_at DESC LIMIT 1")" = running
  "$B" apply "$D/big.yaml" --workspace acme --vars "$D/big.vars.yaml" >"$D/big.json" 2>/dev/null
  check "[$BACKEND] the next apply resumes it" test "$(jq_ "$D/big.json" "r['resumed'] and r['failed'] == 0")" = True
  check "[$BACKEND] 400 items, no duplicates" \
    test "$(sql "SELECT COUNT(DISTINCT i.external_id) || '/' || COUNT(*) FROM work_plane.items i JOIN work_plane.projects p ON p.plane_id = i.project_id WHERE p.identifier = 'BIG' AND i.item_type = 'issue'")" = "400/400"
  check "[$BACKEND] the run is done" test "$(sql "SELECT status FROM ops.populate_runs WHERE name = 'big' ORDER BY started_at DESC LIMIT 1")" = done
}

run_backend sqlite
if [ -n "${PB_TEST_PG_URL:-}" ]; then run_backend postgres; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
