#!/usr/bin/env bash
# Integration: mirror a Plane workspace (issue 6). Daemon A is a standalone planebridge (the
# "upstream Plane", data created through its API by tests/clients/sync_helper.mjs); store B is
# connected to A through tests/clients/faultproxy.mjs, which injects 429 storms, 5xx bursts,
# slow answers, connection resets, truncated bodies and +05:30 timestamps. After every scenario
# `planebridge verify` must report 100%. Also: kill -9 resume of a backfill, a deletion upstream
# -> deleted_at + delete event, the rate governor under a small upstream limit (no 429), several
# workspaces, the daemon's scheduled sync and the API serving the mirror.
# SQLite stores (B on PostgreSQL too when PB_TEST_PG_URL is set: the backfill/verify part).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-build/planebridge}
case "$PB_BIN" in /*) ;; *) PB_BIN="$ROOT/$PB_BIN" ;; esac
DEADLINE_S=${PB_TEST_DEADLINE_S:-60}
HELPER="node $ROOT/tests/clients/sync_helper.mjs"

pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

TMP=$(mktemp -d /tmp/pb-sync.XXXXXX)
PIDS=()
PGDB=""
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$PGDB" ] && [ -n "${PB_TEST_PG_URL:-}" ]; then
    psql -q "$PB_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1
  fi
  [ -n "${PB_KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
unset PB_CONFIG PB_LISTEN PB_STORE PB_LOG_FILE PB_MASTER_KEY_FILE

wait_for() {
  local end=$((SECONDS + DEADLINE_S))
  while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.05; done
  return 1
}
listening_port() { grep -h '"msg":"listening"' "$1" 2>/dev/null | head -n 1 | grep -o '"port":[0-9]*' | cut -d: -f2; }

# pb NAME args...: runs the CLI against store NAME (a, b, c...).
pb() { local n=$1; shift; env PB_STORE="$(store_url "$n")" PB_MASTER_KEY_FILE="$TMP/$n.key" PB_LOG_LEVEL=warn \
  PB_LOG_FILE="$TMP/$n.cli.log" "$PB_BIN" "$@"; }
store_url() { local v="STORE_$1"; echo "${!v:-sqlite:$TMP/$1.db}"; }
sq() { sqlite3 "$TMP/$1.db" "$2"; }

# start_serve NAME extra-env...: starts `serve` for store NAME; sets PORT_<NAME>.
start_serve() {
  local n=$1; shift
  local log="$TMP/$n.serve.log"
  env PB_STORE="$(store_url "$n")" PB_MASTER_KEY_FILE="$TMP/$n.key" PB_LOG_LEVEL=info "$@" \
    "$PB_BIN" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
  PIDS+=($!)
  local pid=$!
  local port=""
  got_port() { port=$(listening_port "$log"); [ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null; }
  wait_for got_port
  eval "PORT_$n=$port"
  eval "PID_$n=$pid"
  [ -n "$port" ]
}

start_proxy() {
  local out="$TMP/proxy.out"
  node "$ROOT/tests/clients/faultproxy.mjs" --target "http://127.0.0.1:$PORT_a" >"$out" 2>&1 &
  PIDS+=($!)
  has() { grep -q '^listening' "$out"; }
  wait_for has
  PPORT=$(sed -n 's/^listening //p' "$out")
  [ -n "$PPORT" ]
}
fault() { curl -s -X POST -d "$1" "http://127.0.0.1:$PPORT/__fault" >/dev/null; }
pstats() { curl -s "http://127.0.0.1:$PPORT/__stats"; }
preset() { curl -s -X POST "http://127.0.0.1:$PPORT/__reset_stats" >/dev/null; }
jget() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));const v=process.argv[1].split(".").reduce((a,k)=>a==null?a:a[k],o);console.log(v===undefined?"":typeof v==="object"?JSON.stringify(v):v)' "$1"; }

verify_100() { # STORE [SLUG]: verify reports 100% (prints the diff lines on failure)
  local out
  out=$(pb "$1" verify ${2:+--workspace "$2"} 2>&1)
  if echo "$out" | grep -q 'accuracy 100.00%' && ! echo "$out" | grep -q '^DIFF'; then return 0; fi
  echo "$out" | head -n 20 >&2
  return 1
}
sync_ok() { # STORE args...: sync succeeds; the summary line is in $TMP/last_sync
  pb "$1" sync "${@:2}" >"$TMP/last_sync.all" 2>"$TMP/last_sync.err" </dev/null
  local rc=$?
  tail -n 1 "$TMP/last_sync.all" >"$TMP/last_sync"
  [ $rc -eq 0 ] || { cat "$TMP/last_sync.err" >&2; tail -n 2 "$TMP/last_sync.all" >&2; }
  return $rc
}
summary() { jget "$1" <"$TMP/last_sync"; }

# ------------------------------------------------------------------ upstream A
pb a migrate >/dev/null && pb a workspace create acme >/dev/null && pb a workspace create beta >/dev/null
AKEY=$(pb a user create --email admin@example.com --workspace acme --role admin)
pb a user create --email admin@example.com --workspace beta --role admin >/dev/null
start_serve a PB_RATE_LIMIT_PER_MIN=1000000 PB_SYNC_DISABLE=1 || { ko "upstream daemon starts"; echo "$pass passed, $fail failed"; exit 1; }
A="http://127.0.0.1:$PORT_a"
$HELPER "$A" acme "$AKEY" seed 30 >"$TMP/seed.json" 2>"$TMP/seed.err" || { cat "$TMP/seed.err"; ko "seed upstream"; }
$HELPER "$A" beta "$AKEY" seed 15 >/dev/null 2>&1 || ko "seed beta"
start_proxy || { ko "fault proxy starts"; echo "$pass passed, $fail failed"; exit 1; }
UP="http://127.0.0.1:$PPORT"

# ------------------------------------------------------------------ connect
connect() { # STORE SLUG URL KEY
  printf '%s\n' "$4" >"$TMP/key.txt"
  local out
  out=$(pb "$1" workspace connect "$2" --upstream "$3" --api-key-file "$TMP/key.txt" 2>&1) ||
    out=$(pb "$1" workspace-connect "$2" --upstream "$3" --api-key-file "$TMP/key.txt" 2>&1) || { echo "$out" >&2; return 1; }
  rm -f "$TMP/key.txt" # the key lives in the vault now
  echo "$out" | grep -q "^$2 [0-9a-f-]\{36\}$"
}
pb b migrate >/dev/null
check connect_stores_key connect b acme "$UP" "$AKEY"
printf 'whsec-%s\n' "$RANDOM$RANDOM" >"$TMP/whs.txt"
connect_whs() { printf '%s\n' "$AKEY" >"$TMP/key.txt"
  { pb b workspace connect beta --upstream "$UP" --api-key-file "$TMP/key.txt" --webhook-secret-file "$TMP/whs.txt" ||
    pb b workspace-connect beta --upstream "$UP" --api-key-file "$TMP/key.txt" --webhook-secret-file "$TMP/whs.txt"; } >/dev/null 2>&1
  rm -f "$TMP/key.txt"; pb b vault list | grep -qx 'plane_webhook:beta'; }
check connect_second_workspace_with_webhook_secret connect_whs
vault_has() { pb b vault list | grep -qx 'plane_api_key:acme'; }
check vault_holds_key vault_has
check installation_row test "$(sq b "SELECT auth_kind || ' ' || upstream_url || ' ' || length(space_id) FROM work_plane_installations WHERE workspace_slug='acme'")" = "api_key $UP 36"
key_absent() { ! cat "$TMP"/b.db* | grep -qaF "$AKEY"; }
check key_not_in_store key_absent

# ------------------------------------------------------------------ backfill + verify
if sync_ok b; then ok backfill; else ko backfill; fi
check backfill_no_429 test "$(summary throttled)" = 0
check backfill_per_page_constant sh -c "curl -s http://127.0.0.1:$PPORT/__stats | node -e '
  const s=JSON.parse(require(\"fs\").readFileSync(0,\"utf8\"));
  const pp=s.urls.filter(u=>u.includes(\"cursor=\")).map(u=>new URL(u,\"http://x\").searchParams);
  process.exit(pp.length>0 && pp.every(p=>p.get(\"per_page\")===\"100\" && p.get(\"cursor\").startsWith(\"100:\"))?0:1)'"
check verify_after_backfill verify_100 b
check both_workspaces_mirrored test "$(sq b "SELECT COUNT(DISTINCT workspace_slug) FROM work_plane_items WHERE item_type='issue'")" = 2
N_ISSUES=$(sq b "SELECT COUNT(*) FROM work_plane_items WHERE item_type='issue' AND workspace_slug='acme' AND deleted_at IS NULL")
check mirrored_issue_count test "$N_ISSUES" = 30
check mirrored_children test "$(sq b "SELECT COUNT(*) FROM work_plane_items WHERE item_type IN ('comment','link','activity') AND workspace_slug='acme'")" -ge 40
check mirrored_memberships test "$(sq b "SELECT COUNT(*) FROM work_plane_item_refs WHERE kind IN ('cycle','module')")" -ge 5
check no_events_on_first_backfill test "$(sq b "SELECT COUNT(*) FROM ops_outbox")" = 0

# ------------------------------------------------------------------ incremental + reconciliation
$HELPER "$A" acme "$AKEY" change 4 >/dev/null
DEL_ISSUE=$($HELPER "$A" acme "$AKEY" delete-issue)
DEL_COMMENT=$($HELPER "$A" acme "$AKEY" delete-comment)
preset
if sync_ok b --workspace acme --reconcile; then ok incremental_sync; else ko incremental_sync; fi
REQ=$(pstats | jget requests)
check incremental_cheap test "$REQ" -lt 60
check verify_after_incremental verify_100 b acme
check deleted_issue_marked test -n "$(sq b "SELECT deleted_at FROM work_plane_items WHERE plane_id='$DEL_ISSUE' AND deleted_at IS NOT NULL")"
check delete_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.deleted' AND object_id='$DEL_ISSUE'")" = 1
check comment_delete_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue_comment.deleted' AND object_id='$DEL_COMMENT'")" = 1
check update_events test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.updated'")" -ge 4
check update_has_previous test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.updated' AND payload LIKE '%previous_attributes%priority%'")" -ge 1
WM=$(sq b "SELECT watermark FROM work_plane_events_cursor WHERE resource='issues' AND workspace_slug='acme' LIMIT 1")
MAXU=$(sq b "SELECT MAX(i.updated_at) FROM work_plane_items i JOIN work_plane_events_cursor c ON c.scope_id=i.project_id AND c.resource='issues' WHERE i.item_type='issue' AND i.workspace_slug='acme' AND i.deleted_at IS NULL")
check watermark_is_newest_row test "$WM" = "$MAXU"
# a second run with nothing changed writes nothing and emits nothing
EV=$(sq b "SELECT COUNT(*) FROM ops_outbox")
sync_ok b --workspace acme >/dev/null
check idempotent_rerun test "$(summary written)" = 0 -a "$(sq b "SELECT COUNT(*) FROM ops_outbox")" = "$EV"
# derived event: assign + complete one issue upstream
PID_P=$(jget project <"$TMP/seed.json")
ISS=$(sq b "SELECT plane_id FROM work_plane_items WHERE item_type='issue' AND project_id='$PID_P' AND deleted_at IS NULL AND plane_id NOT IN (SELECT item_id FROM work_plane_item_refs WHERE kind='assignee') LIMIT 1")
UID_=$(sq b "SELECT user_id FROM ops_workspace_members WHERE workspace_slug='acme' LIMIT 1")
DONE=$(sq b "SELECT plane_id FROM work_plane_items WHERE item_type='state' AND project_id='$PID_P' AND state_group='completed' LIMIT 1")
curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' \
  -d "{\"assignees\":[\"$UID_\"],\"state\":\"$DONE\"}" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ISS/"
sync_ok b --workspace acme >/dev/null
check derived_assigned_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.assigned' AND object_id='$ISS'")" = 1
check derived_completed_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.completed' AND object_id='$ISS'")" = 1
# archive upstream: Plane hides an archived issue from lists and from detail GET (404), like a
# deleted one; reconciliation must record an archive (archived_at + issue.archived), not a delete
# (on another issue: $ISS is used further down)
ARC=$(sq b "SELECT plane_id FROM work_plane_items WHERE item_type='issue' AND project_id='$PID_P' AND deleted_at IS NULL AND plane_id <> '$ISS' LIMIT 1")
curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' \
  -d "{\"state\":\"$DONE\"}" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC/"
aup() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC/$2"; }
CODE=$(aup POST archive/)
if [ "$CODE" = 200 ]; then ok archive_upstream; else ko archive_upstream "API answered $CODE"; fi
sync_ok b --workspace acme --reconcile >/dev/null
check archived_not_deleted test "$(sq b "SELECT (archived_at IS NOT NULL) || (deleted_at IS NULL) FROM work_plane_items WHERE plane_id='$ARC'")" = 11
check archive_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.archived' AND object_id='$ARC'")" = 1
check no_delete_event_for_archive test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.deleted' AND object_id='$ARC'")" = 0
check verify_after_archive verify_100 b acme
EV=$(sq b "SELECT COUNT(*) FROM ops_outbox")
sync_ok b --workspace acme --reconcile >/dev/null
check archive_reconcile_idempotent test "$(sq b "SELECT COUNT(*) FROM ops_outbox")" = "$EV"
check unarchive_upstream test "$(aup DELETE unarchive/)" = 204
sync_ok b --workspace acme --reconcile >/dev/null
check unarchived_in_mirror test "$(sq b "SELECT (archived_at IS NULL) || (deleted_at IS NULL) FROM work_plane_items WHERE plane_id='$ARC'")" = 11
# archived, then deleted upstream: gone from the archive too -> deleted after reconciliation
aup POST archive/ >/dev/null
sync_ok b --workspace acme --reconcile >/dev/null
check delete_archived_upstream test "$(aup DELETE '')" = 204
sync_ok b --workspace acme --reconcile >/dev/null
check archived_then_deleted test -n "$(sq b "SELECT deleted_at FROM work_plane_items WHERE plane_id='$ARC' AND deleted_at IS NOT NULL")"
check archived_then_deleted_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE type='issue.deleted' AND object_id='$ARC'")" = 1
check verify_after_archived_delete verify_100 b acme
# an upstream without the archived routes (Plane CE v1): an archived issue with an external id
# is found by the external-id lookup (which searches archived issues too) and recorded archived
fault '{"modes":[],"hide_paths":["/archived-"]}'
ARC3=$(sq b "SELECT plane_id FROM work_plane_items WHERE item_type='issue' AND project_id='$PID_P' AND deleted_at IS NULL AND archived_at IS NULL AND plane_id <> '$ISS' LIMIT 1")
curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' \
  -d "{\"state\":\"$DONE\",\"external_source\":\"jira\",\"external_id\":\"ARC 3/é\"}" \
  "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC3/"
sync_ok b --workspace acme >/dev/null
curl -s -o /dev/null -X POST -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC3/archive/"
preset
sync_ok b --workspace acme --reconcile >/dev/null
check v1_archive_by_external_id test "$(sq b "SELECT (archived_at IS NOT NULL) || (deleted_at IS NULL) FROM work_plane_items WHERE plane_id='$ARC3'")" = 11
check v1_external_id_lookup_asked sh -c "curl -s http://127.0.0.1:$PPORT/__stats | grep -q 'external_id=ARC%203%2F%C3%A9'"
fault '{"modes":[]}'

# ------------------------------------------------------------------ fault scenarios
scenario() { # NAME FAULT-JSON
  local name=$1
  $HELPER "$A" acme "$AKEY" change 3 >/dev/null
  fault "$2"
  preset
  if sync_ok b --workspace acme --reconcile; then ok "sync_under_$name"; else ko "sync_under_$name"; fi
  local faults
  faults=$(pstats | jget faults)
  [ "$faults" != "{}" ] || ko "faults_injected_$name" "no fault was injected"
  case "$name" in tz) ;; *) fault '{"modes":[]}' ;; esac
  check "verify_after_$name" verify_100 b acme
  fault '{"modes":[]}'
}
scenario 429_storm '{"modes":["429"],"p":0.3,"retry_after":1}'
scenario 5xx_burst '{"modes":["5xx"],"burst":6}'
scenario slow '{"modes":["slow"],"p":0.3,"delay_ms":[100,600]}'
scenario reset '{"modes":["reset"],"p":0.2}'
scenario truncated '{"modes":["truncate"],"p":0.2}'
fault '{"modes":["tz"]}'
preset
if sync_ok b --workspace acme --full; then ok sync_tz_full; else ko sync_tz_full; fi
ist_seen() { curl -s -H "X-Api-Key: $AKEY" "$UP/api/v1/workspaces/acme/projects/" | grep -q '+05:30"'; }
check upstream_answers_in_ist ist_seen
check verify_under_tz verify_100 b acme
check stored_utc test "$(sq b "SELECT COUNT(*) FROM work_plane_items WHERE raw LIKE '%+05:30%'")" = 0
fault '{"modes":[]}'

# ------------------------------------------------------------------ kill -9 resume
BULK=$($HELPER "$A" acme "$AKEY" bulk 300 | jget project)
pb c migrate >/dev/null
connect c acme "$UP" "$AKEY" || ko "connect c"
fault '{"modes":["slow"],"p":1,"delay_ms":[40,60]}'
preset
# exec: $! must be planebridge itself, not a subshell running it (kill -9 of a subshell would
# leave the sync running next to the resumed one)
(exec env PB_STORE="$(store_url c)" PB_MASTER_KEY_FILE="$TMP/c.key" PB_LOG_LEVEL=warn PB_LOG_FILE="$TMP/c.cli.log" \
  "$PB_BIN" sync --per-page 20 --parallel 1) >"$TMP/c1.out" 2>&1 &
SPID=$!
PIDS+=($SPID)
advanced() { [ "$(sq c "SELECT COALESCE(MAX(next_page),0) FROM work_plane_events_cursor WHERE scope_id='$BULK' AND phase='backfill'" 2>/dev/null)" -ge 4 ] 2>/dev/null; }
if wait_for advanced; then
  kill -9 $SPID 2>/dev/null
  wait $SPID 2>/dev/null
  check killed_process_is_gone sh -c "! kill -0 $SPID 2>/dev/null"
  NEXT=$(sq c "SELECT next_page FROM work_plane_events_cursor WHERE scope_id='$BULK'")
  HAVE=$(sq c "SELECT COUNT(*) FROM work_plane_items WHERE project_id='$BULK' AND item_type='issue'")
  check killed_mid_backfill test "$HAVE" -lt 300 -a "$HAVE" -ge $((NEXT * 20 - 20))
  fault '{"modes":[]}'
  preset
  if sync_ok c --per-page 20; then ok resume_after_kill9; else ko resume_after_kill9; fi
  # no finished page was fetched again: every backfill page request of the bulk project is >= NEXT
  check resume_skips_finished_pages sh -c "curl -s http://127.0.0.1:$PPORT/__stats | node -e '
    const s=JSON.parse(require(\"fs\").readFileSync(0,\"utf8\"));
    const pages=s.urls.filter(u=>u.includes(\"$BULK/work-items/?order_by=-updated_at\")).map(u=>Number(new URL(u,\"http://x\").searchParams.get(\"cursor\").split(\":\")[1]));
    process.exit(pages.length>0 && Math.min(...pages)>=$NEXT ? 0 : 1)'"
  check resume_no_duplicates test "$(sq c "SELECT COUNT(*) FROM work_plane_items WHERE project_id='$BULK' AND item_type='issue'")" = 300
  check verify_after_resume verify_100 c acme
else
  ko killed_mid_backfill "backfill never reached page 4"
fi
fault '{"modes":[]}'

# ------------------------------------------------------------------ rate governor (small upstream limit)
LKEY=$(pb a keys create --user admin@example.com --scopes '*' --workspace beta --rate-limit 40)
pb d migrate >/dev/null
connect d beta "$UP" "$LKEY" || ko "connect d"
preset
T0=$SECONDS
# Two processes on one store spend one budget: a verify (same upstream, same key) runs next to
# the sync; each reserves its requests in ops.sync_budget, so together they stay within it.
pb d verify --workspace beta >"$TMP/verify_d_concurrent.txt" 2>&1 &
VPID=$!
if sync_ok d; then ok governed_sync; else ko governed_sync; fi
wait "$VPID"
REQ=$(summary requests)
ALLREQ=$(pstats | jget requests)
check governed_no_429 test "$(summary throttled)" = 0 -a "$(pstats | jget statuses.429)" = ""
check governed_needed_more_than_limit test "$REQ" -gt 40
check two_processes_one_budget test "$ALLREQ" -gt "$((REQ + 20))"
# Verify with the unthrottled key (re-connecting replaces the vaulted key): at 40/min a
# full verify costs two more minutes and proves nothing the governed sync did not.
connect d beta "$UP" "$AKEY" || ko "reconnect d"
check verify_governed verify_100 d beta

# ------------------------------------------------------------------ refetch of a partial webhook hint (issue 7)
# B's daemon with the scheduler off: a hint for beta (connected, with a webhook secret) whose data
# lacks updated_at is not applied; the ingest worker's refetch hook re-reads the issue from the
# upstream through the governor, and B's row becomes the upstream's.
start_serve b PB_SYNC_DISABLE=1 PB_INGEST_COALESCE_MS=10 || ko "mirror daemon (refetch) starts"
B="http://127.0.0.1:$PORT_b"
BISS=$(sq b "SELECT plane_id FROM work_plane_items WHERE item_type='issue' AND workspace_slug='beta' AND deleted_at IS NULL LIMIT 1")
BPID=$(sq b "SELECT project_id FROM work_plane_items WHERE plane_id='$BISS'")
BNAME="refetched $RANDOM"
curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' -d "{\"name\":\"$BNAME\"}" \
  "$A/api/v1/workspaces/beta/projects/$BPID/work-items/$BISS/"
check refetch_precondition_stale_mirror test "$(sq b "SELECT json_extract(raw,'\$.name') FROM work_plane_items WHERE plane_id='$BISS'")" != "$BNAME"
printf '{"event":"issue","action":"updated","webhook_id":"%s","workspace_id":"%s","data":{"id":"%s","name":"partial hint"}}' \
  "$(cat /proc/sys/kernel/random/uuid)" "$(cat /proc/sys/kernel/random/uuid)" "$BISS" >"$TMP/partial.json"
WHS=$(head -n 1 "$TMP/whs.txt")
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H "X-Plane-Signature: $(openssl dgst -sha256 -hmac "$WHS" -r "$TMP/partial.json" | cut -d' ' -f1)" \
  -H "X-Plane-Delivery: $(cat /proc/sys/kernel/random/uuid)" --data-binary "@$TMP/partial.json" "$B/hooks/plane/beta")
check refetch_hint_accepted test "$CODE" = 200
up_issue() { curl -s -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/beta/projects/$BPID/work-items/$BISS/"; }
row_is_upstream() {
  [ "$(sq b "SELECT json_extract(raw,'\$.name') || ' ' || (updated_at/1000) FROM work_plane_items WHERE plane_id='$BISS'")" = \
    "$BNAME $(up_issue | node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(Date.parse(o.updated_at))')" ]
}
check refetch_row_equals_upstream wait_for row_is_upstream
# the refetch re-reads the object itself (its children wait for the next sync run): the
# shallow verify (work items and the per-project resources) is 100%
verify_shallow_100() { local out; out=$(pb b verify --workspace beta --shallow 2>&1)
  echo "$out" | grep -q 'accuracy 100.00%' && ! echo "$out" | grep -q '^DIFF' || { echo "$out" | head -n 20 >&2; return 1; }; }
check refetch_verify_shallow_100 verify_shallow_100
check refetch_partial_data_not_stored test "$(sq b "SELECT COUNT(*) FROM work_plane_items WHERE raw LIKE '%partial hint%'")" = 0
# ------------------------------------------------------------------ echo suppression of planebridge's own upstream writes
# populate writes to beta's upstream through the connected target; every write the upstream
# answered is remembered (ops.self_writes), and the webhook echo of such a write reaches the
# mirror without an event.
pb b workspace policy beta explicit >/dev/null 2>&1 || pb b policy beta explicit >/dev/null 2>&1
printf 'service: Echo\nidentifier: ECH\nendpoints: [https://echo.example.com/]\non_call: []\n' >"$TMP/echo.vars.yaml"
pb b apply "$ROOT/templates/monitoring.yaml" --workspace beta --vars "$TMP/echo.vars.yaml" >"$TMP/echo.json" 2>"$TMP/echo.err"
check populate_upstream_apply test $? -eq 0
NSW=$(sq b "SELECT COUNT(*) FROM ops_self_writes")
check self_writes_recorded test "$NSW" -ge 5
ECHO_PID=$(curl -s -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/beta/projects/" |
  node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));const p=(o.results||o).find(x=>x.identifier==="ECH");console.log(p?p.id:"")')
ECHO_ISS=$(curl -s -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/beta/projects/$ECHO_PID/work-items/?per_page=1" |
  node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(o.results&&o.results[0]?o.results[0].id:"")')
check echo_issue_was_self_written test -n "$ECHO_ISS" -a "$(sq b "SELECT COUNT(*) FROM ops_self_writes WHERE object_id='$ECHO_ISS'")" -ge 1
# echo_hook EVENT URL OUT: the upstream's object as a signed "created" hint to B; prints the status
echo_hook() {
  curl -s -H "X-Api-Key: $AKEY" "$2" | node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));
    process.stdout.write(JSON.stringify({event:process.argv[1],action:"created",webhook_id:"w",workspace_id:"w",data:o}))' "$1" >"$3"
  curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-Plane-Signature: $(openssl dgst -sha256 -hmac "$WHS" -r "$3" | cut -d' ' -f1)" \
    -H "X-Plane-Delivery: $(cat /proc/sys/kernel/random/uuid)" --data-binary "@$3" "$B/hooks/plane/beta"
}
C1=$(echo_hook project "$A/api/v1/workspaces/beta/projects/$ECHO_PID/" "$TMP/echo_p.json")
echo_p_mirrored() { [ "$(sq b "SELECT COUNT(*) FROM work_plane_projects WHERE plane_id='$ECHO_PID'")" = 1 ]; }
wait_for echo_p_mirrored
C2=$(echo_hook issue "$A/api/v1/workspaces/beta/projects/$ECHO_PID/work-items/$ECHO_ISS/" "$TMP/echo_i.json")
check echo_hints_accepted test "$C1 $C2" = "200 200"
echo_mirrored() { [ "$(sq b "SELECT COUNT(*) FROM work_plane_items WHERE plane_id='$ECHO_ISS'")" = 1 ]; }
check echo_reaches_mirror wait_for echo_mirrored
check echo_emits_no_event test "$(sq b "SELECT COUNT(*) FROM ops_outbox WHERE object_id IN ('$ECHO_ISS','$ECHO_PID')")" = 0
kill -TERM "$PID_b" 2>/dev/null; wait "$PID_b" 2>/dev/null
mv "$TMP/b.serve.log" "$TMP/b.refetch.serve.log" # start_serve b below must not read this port

# ------------------------------------------------------------------ the daemon: scheduled sync + API on the mirror
BKEY=$(pb b user create --email admin@example.com --workspace acme --role admin)
start_serve b PB_SYNC_INTERVAL=1 || ko "mirror daemon starts"
B="http://127.0.0.1:$PORT_b"
api_count() { curl -s -H "X-Api-Key: $BKEY" "$B/api/v1/workspaces/acme/projects/$PID_P/work-items/?per_page=1" | jget total_count; }
check api_serves_mirror test "$(api_count)" = "$(curl -s -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/?per_page=1" | jget total_count)"
NAME="scheduled $RANDOM"
curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' -d "{\"name\":\"$NAME\"}" \
  "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ISS/"
seen() { curl -s -H "X-Api-Key: $BKEY" "$B/api/v1/workspaces/acme/projects/$PID_P/work-items/$ISS/" | grep -q "$NAME"; }
check scheduled_sync_picks_up_change wait_for seen
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Api-Key: $BKEY" -H 'Content-Type: application/json' \
  -d '{"name":"local write"}' "$B/api/v1/workspaces/acme/projects/$PID_P/work-items/")
if [ "$CODE" = 403 ]; then ok mirror_write_403; else ko mirror_write_403 "API answered $CODE"; fi
# Still 403 with an explicit writeback policy: write-through to the upstream is not served by
# the API, and a local write would diverge from the upstream.
pb b workspace policy acme explicit >/dev/null 2>&1 || true
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "X-Api-Key: $BKEY" -H 'Content-Type: application/json' \
  -d '{"name":"local patch"}' "$B/api/v1/workspaces/acme/projects/$PID_P/work-items/$ISS/")
if [ "$CODE" = 403 ]; then ok mirror_patch_403_explicit; else ko mirror_patch_403_explicit "API answered $CODE"; fi

# ------------------------------------------------------------------ PostgreSQL (backfill + verify)
if [ -n "${PB_TEST_PG_URL:-}" ]; then
  PGDB="pbsync_$$_$RANDOM"
  if psql -q "$PB_TEST_PG_URL" -c "CREATE DATABASE $PGDB" >/dev/null 2>&1; then
    STORE_p=$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.toString())' "$PB_TEST_PG_URL" "$PGDB")
    pb p migrate >/dev/null
    connect p acme "$UP" "$AKEY" || ko "pg connect"
    if sync_ok p; then ok pg_backfill; else ko pg_backfill; fi
    check pg_verify verify_100 p acme
    $HELPER "$A" acme "$AKEY" change 3 >/dev/null
    if sync_ok p --reconcile; then ok pg_incremental; else ko pg_incremental; fi
    check pg_verify_incremental verify_100 p acme
    # an upstream archive is an archive on PostgreSQL too (not a delete)
    ARC2=$(psql -tA "$STORE_p" -c "SELECT plane_id FROM work_plane.items WHERE item_type='issue' AND project_id='$PID_P' AND deleted_at IS NULL AND archived_at IS NULL LIMIT 1")
    curl -s -o /dev/null -X PATCH -H "X-Api-Key: $AKEY" -H 'Content-Type: application/json' \
      -d "{\"state\":\"$DONE\"}" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC2/"
    curl -s -o /dev/null -X POST -H "X-Api-Key: $AKEY" "$A/api/v1/workspaces/acme/projects/$PID_P/work-items/$ARC2/archive/"
    sync_ok p --reconcile >/dev/null
    check pg_archived_not_deleted test "$(psql -tA "$STORE_p" -c "SELECT (archived_at IS NOT NULL)::int || '' || (deleted_at IS NULL)::int FROM work_plane.items WHERE plane_id='$ARC2'")" = 11
    check pg_verify_after_archive verify_100 p acme
  else
    ko pg_create_db
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
