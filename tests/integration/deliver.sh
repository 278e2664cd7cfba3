#!/usr/bin/env bash
# Integration: outbound deliveries with the real daemon, the real CLI and an independent
# receiver (tests/clients/deliver_receiver.mjs: npm `standardwebhooks` Webhook.verify for
# the standard format, HMAC-SHA256 hex for the plane format). On SQLite, and again on a
# fresh PostgreSQL database when PB_TEST_PG_URL is set:
#   1. standard: every event emitted into the outbox arrives once, verified by the npm package;
#   2. kill -9 during retries loses nothing: the receiver fails the first 2 attempts of every
#      message, the daemon is killed with SIGKILL while retries are pending, restarted, and
#      every message still arrives (verified), none dead-lettered;
#   3. plane format end to end: changes made through the daemon's Plane-compatible API come
#      out as Plane CE webhooks (one per changed field, no work-item delete), each verified
#      with X-Plane-Signature;
#   4. admin API: /admin/v1/hooks create, test, log, replay with a webhooks:admin key;
#   5. a second planebridge B takes A's plane-format deliveries on /hooks/plane/{slug};
#   and on PostgreSQL: two daemons sharing the store send every message exactly once.
# Polls with bounded deadlines (no fixed sleeps). Prints PASS/FAIL lines and
# "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-build/planebridge}
case "$PB_BIN" in /*) ;; *) PB_BIN="$ROOT/$PB_BIN" ;; esac
DEADLINE_S=${PB_TEST_DEADLINE_S:-60}
RECV="$ROOT/tests/clients/deliver_receiver.mjs"

pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }

TMP=$(mktemp -d /tmp/pb-deliver.XXXXXX)
unset PB_CONFIG PB_LISTEN PB_STORE PB_LOG_FILE PB_DELIVER_SCHEDULE PB_DELIVER_LEASE_S
export PB_SSRF_ALLOW=127.0.0.1/32 PB_LOG_LEVEL=info PB_RATE_LIMIT_PER_MIN=1000000
DPID="" RPID="" PGDBS="" ALLPIDS=""
cleanup() {
  for p in $DPID $RPID $ALLPIDS; do
    if kill -0 "$p" 2>/dev/null; then
      kill -KILL "$p" 2>/dev/null
      wait "$p" 2>/dev/null
    fi
  done
  for db in $PGDBS; do psql -q "$PB_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; done
  [ -n "${PB_KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {
  local end=$((SECONDS + DEADLINE_S))
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

json_get() { # json_get EXPR < json : prints the value of a JS expression over `j`
  node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); const v=('"$1"'); console.log(typeof v==="object"?JSON.stringify(v):v)' 2>/dev/null
}

# start_receiver DIR [env...]: sets RPID and RPORT
start_receiver() {
  local dir=$1; shift
  env "$@" node "$RECV" >"$dir/recv.out" 2>"$dir/recv.err" &
  RPID=$!
  rport() { RPORT=$(awk '/^LISTENING/{print $2}' "$dir/recv.out" 2>/dev/null); [ -n "$RPORT" ]; }
  wait_for rport
}
stop_receiver() {
  [ -n "$RPID" ] && kill -TERM "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
  RPID=""
}
stats() { curl -s --max-time 5 "http://127.0.0.1:$RPORT/stats"; }

# start_daemon STORE LOG [env...]: sets DPID and DPORT
start_daemon() {
  local store=$1 log=$2; shift 2
  : >"$log"
  env PB_STORE="$store" "$@" "$PB_BIN" serve --listen 127.0.0.1:0 >>"$log" 2>&1 &
  DPID=$!
  ALLPIDS="$ALLPIDS $DPID"
  dport() { DPORT=$(grep -h '"msg":"listening"' "$log" 2>/dev/null | tail -n 1 | grep -o '"port":[0-9]*' | cut -d: -f2); [ -n "$DPORT" ] || ! kill -0 "$DPID" 2>/dev/null; }
  DPORT=""
  wait_for dport
  [ -n "$DPORT" ]
}
stop_daemon() {
  kill -TERM "$DPID" 2>/dev/null
  gone() { ! kill -0 "$DPID" 2>/dev/null; }
  wait_for gone || kill -KILL "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  DPID=""
}

run_backend() {
  local label=$1 store_base=$2 # store_base: a function name that prints a fresh store URL
  local dir store secret hook n

  # ---- 1. standard format, npm standardwebhooks verify
  dir="$TMP/$label-std"; mkdir -p "$dir"; store=$($store_base std)
  export PB_MASTER_KEY_FILE="$dir/master.key"
  start_receiver "$dir" RECV_SECRET_FILE="$dir/secret"
  if ! PB_STORE="$store" "$PB_BIN" hooks add --workspace acme --url "http://127.0.0.1:$RPORT/in" --format standard \
      >"$dir/secret" 2>"$dir/add.err"; then
    ko "$label standard: hooks add" "$(cat "$dir/add.err")"
  else
    start_daemon "$store" "$dir/daemon.log" || ko "$label standard: daemon start"
    n=40
    for i in $(seq 1 $n); do
      PB_STORE="$store" "$PB_BIN" hooks emit --workspace acme --type issue.created --project p1 --object "i$i" \
        --data "{\"id\":\"i$i\",\"name\":\"Item $i \\u00e9\"}" >/dev/null || ko "$label standard: emit $i"
    done
    all_in() { [ "$(stats | json_get 'j.messages')" = "$n" ]; }
    if wait_for all_in && [ "$(stats | json_get 'j.bad')" = 0 ] && [ "$(stats | json_get 'j.verified')" = "$n" ]; then
      ok "$label standard: $n deliveries verified by npm standardwebhooks"
    else
      ko "$label standard: deliveries" "$(stats)"
    fi
    if curl -s --max-time 5 "http://127.0.0.1:$DPORT/metrics" | grep -q '^pb_delivery_attempts_total{outcome="succeeded"} [1-9]'; then
      ok "$label standard: /metrics counts delivery attempts"
    else
      ko "$label standard: /metrics"
    fi
    hook=$(PB_STORE="$store" "$PB_BIN" hooks list --json | json_get 'j[0].id')
    if PB_STORE="$store" "$PB_BIN" hooks log "$hook" --limit 5 | grep -q succeeded; then
      ok "$label standard: hooks log shows attempts"
    else
      ko "$label standard: hooks log"
    fi
    stop_daemon
  fi
  stop_receiver

  # ---- 2. kill -9 during retries loses nothing
  dir="$TMP/$label-kill"; mkdir -p "$dir"; store=$($store_base kill)
  export PB_MASTER_KEY_FILE="$dir/master.key"
  start_receiver "$dir" RECV_SECRET_FILE="$dir/secret" RECV_FAIL_FIRST=2
  if ! PB_STORE="$store" "$PB_BIN" hooks add --workspace acme --url "http://127.0.0.1:$RPORT/in" \
      >"$dir/secret" 2>"$dir/add.err"; then
    ko "$label kill -9: hooks add" "$(cat "$dir/add.err")"
  else
    n=60
    for i in $(seq 1 $n); do
      PB_STORE="$store" "$PB_BIN" hooks emit --workspace acme --type issue.updated --object "k$i" \
        --data "{\"id\":\"k$i\"}" >/dev/null || ko "$label kill -9: emit $i"
    done
    local kenv=(PB_DELIVER_SCHEDULE=0,1,1,1,1,1,1,1 PB_DELIVER_LEASE_S=3 PB_DELIVER_TIMEOUT_MS=2000)
    start_daemon "$store" "$dir/daemon1.log" "${kenv[@]}" || ko "$label kill -9: daemon start"
    retrying() { [ "$(stats | json_get 'j.failed_on_purpose')" -ge 30 ] 2>/dev/null; }
    wait_for retrying
    local before
    before=$(stats | json_get 'j.messages')
    kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
    if [ "${before:-0}" -lt "$n" ]; then
      ok "$label kill -9: killed with $before/$n delivered and retries pending"
    else
      ko "$label kill -9: nothing was pending at the kill" "$before"
    fi
    start_daemon "$store" "$dir/daemon2.log" "${kenv[@]}" || ko "$label kill -9: restart"
    all_in() { [ "$(stats | json_get 'j.messages')" = "$n" ]; }
    if wait_for all_in && [ "$(stats | json_get 'j.bad')" = 0 ]; then
      ok "$label kill -9: all $n messages delivered after restart, all verified"
    else
      ko "$label kill -9: messages lost" "$(stats | head -c 400)"
    fi
    hook=$(PB_STORE="$store" "$PB_BIN" hooks list --json | json_get 'j[0].id')
    local failed
    failed=$(PB_STORE="$store" "$PB_BIN" hooks messages "$hook" --status failed | json_get 'j.length')
    if [ "$failed" = 0 ]; then ok "$label kill -9: no dead letters"; else ko "$label kill -9: dead letters" "$failed"; fi
    stop_daemon
  fi
  stop_receiver

  # ---- 2b. PostgreSQL: two daemons on one store never send a message twice
  if [ "$label" = postgres ]; then
    dir="$TMP/$label-two"; mkdir -p "$dir"; store=$($store_base two)
    export PB_MASTER_KEY_FILE="$dir/master.key"
    start_receiver "$dir" RECV_SECRET_FILE="$dir/secret"
    if PB_STORE="$store" "$PB_BIN" hooks add --workspace acme --url "http://127.0.0.1:$RPORT/in" \
        >"$dir/secret" 2>"$dir/add.err"; then
      start_daemon "$store" "$dir/d1.log" PB_DELIVER_BATCH=8 || ko "$label two daemons: start 1"
      local d1=$DPID
      start_daemon "$store" "$dir/d2.log" PB_DELIVER_BATCH=8 || ko "$label two daemons: start 2"
      local d2=$DPID
      n=200
      for i in $(seq 1 $n); do
        PB_STORE="$store" "$PB_BIN" hooks emit --workspace acme --type issue.created --object "t$i" \
          --data "{\"id\":\"t$i\"}" >/dev/null || ko "$label two daemons: emit $i"
      done
      all_in() { [ "$(stats | json_get 'j.messages')" = "$n" ]; }
      if wait_for all_in && [ "$(stats | json_get 'j.duplicates')" = 0 ] && [ "$(stats | json_get 'j.bad')" = 0 ] &&
         [ "$(stats | json_get 'j.requests')" = "$n" ]; then
        ok "$label two daemons: $n messages, each sent exactly once"
      else
        ko "$label two daemons" "$(stats | head -c 300)"
      fi
      DPID=$d1; stop_daemon
      DPID=$d2; stop_daemon
    else
      ko "$label two daemons: hooks add" "$(cat "$dir/add.err")"
    fi
    stop_receiver
  fi

  # ---- 3. plane format end to end through the Plane-compatible API
  dir="$TMP/$label-plane"; mkdir -p "$dir"; store=$($store_base plane)
  export PB_MASTER_KEY_FILE="$dir/master.key"
  mkdir -p "$dir/secrets"
  start_receiver "$dir" RECV_SECRET_DIR="$dir/secrets"
  local key
  if ! PB_STORE="$store" "$PB_BIN" workspace create acme >/dev/null 2>"$dir/ws.err" ||
     ! key=$(PB_STORE="$store" "$PB_BIN" user create --email a@example.com --workspace acme --role admin 2>"$dir/user.err") ||
     ! PB_STORE="$store" "$PB_BIN" hooks add --workspace acme --url "http://127.0.0.1:$RPORT/plane" --format plane \
        >"$dir/secrets/plane" 2>"$dir/add.err"; then
    ko "$label plane: setup" "$(cat "$dir"/*.err | head -c 300)"
  else
    start_daemon "$store" "$dir/daemon.log" || ko "$label plane: daemon start"
    local api="http://127.0.0.1:$DPORT/api/v1/workspaces/acme"
    local pj it
    pj=$(curl -s --max-time 5 -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"name":"Web","identifier":"WEB"}' "$api/projects/" | json_get 'j.id')
    it=$(curl -s --max-time 5 -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"name":"Checkout"}' "$api/projects/$pj/issues/" | json_get 'j.id')
    curl -s --max-time 5 -o /dev/null -X PATCH -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"name":"Checkout v2","priority":"high"}' "$api/projects/$pj/issues/$it/"
    four() { [ "$(stats | json_get 'j.verified')" -ge 4 ] 2>/dev/null; }
    wait_for four
    # Plane CE sends nothing for a work-item delete (and drops queued updates of a deleted
    # row), so the delete must not add a delivery.
    curl -s --max-time 5 -o /dev/null -X DELETE -H "X-Api-Key: $key" "$api/projects/$pj/issues/$it/"
    # Let any stray (wrong) delivery arrive before judging: wait until the daemon has no
    # pending message left.
    hook=$(PB_STORE="$store" "$PB_BIN" hooks list --json | json_get 'j[0].id')
    drained() { [ "$(PB_STORE="$store" "$PB_BIN" hooks messages "$hook" --status pending | json_get 'j.length')" = 0 ]; }
    wait_for drained
    local ev
    ev=$(stats | json_get 'j.plane_events.slice().sort().join(" ")')
    if [ -n "$pj" ] && [ -n "$it" ] && [ "$(stats | json_get 'j.bad')" = 0 ] &&
       [ "$ev" = "issue.created:null issue.updated:name issue.updated:priority project.created:null" ]; then
      ok "$label plane: API changes arrive as Plane CE webhooks, X-Plane-Signature verified ($ev)"
    else
      ko "$label plane: webhooks" "project=$pj item=$it events=[$ev] $(stats | head -c 300)"
    fi

    # ---- 4. admin API
    local adm="http://127.0.0.1:$DPORT/admin/v1/hooks" created hid code msg
    created=$(curl -s --max-time 5 -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d "{\"workspace\":\"acme\",\"url\":\"http://127.0.0.1:$RPORT/adm\",\"format\":\"plane\",\"events\":[\"issue.*\"]}" "$adm")
    hid=$(echo "$created" | json_get 'j.id')
    echo "$created" | json_get 'j.secret' >"$dir/secrets/adm"
    if [ -n "$hid" ] && [ "$hid" != undefined ] && echo "$created" | json_get 'j.secret' | grep -q '^plane_wh_'; then
      ok "$label admin: POST /admin/v1/hooks returns the hook and its secret once"
    else
      ko "$label admin: create" "$created"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$adm/$hid")
    [ "$code" = 401 ] && ok "$label admin: unauthenticated 401" || ko "$label admin: unauthenticated" "$code"
    if curl -s --max-time 5 -H "X-Api-Key: $key" "$adm/$hid" | grep -q '"secret"'; then
      ko "$label admin: GET shows the secret"
    else
      ok "$label admin: GET never shows the secret"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"workspace":"acme","url":"http://169.254.169.254/latest/","format":"standard"}' "$adm")
    [ "$code" = 403 ] && ok "$label admin: metadata address refused (SSRF)" || ko "$label admin: SSRF" "$code"
    msg=$(curl -s --max-time 5 -X POST -H "X-Api-Key: $key" "$adm/$hid/test" | json_get 'j.msg_id')
    logged() { curl -s --max-time 5 -H "X-Api-Key: $key" "$adm/$hid/log?msg_id=$msg" | grep -q '"outcome":"succeeded"'; }
    if [ -n "$msg" ] && wait_for logged; then ok "$label admin: test message delivered and logged"; else ko "$label admin: test/log"; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d "{\"msg_id\":\"$msg\"}" "$adm/$hid/replay")
    replayed() { [ "$(curl -s --max-time 5 -H "X-Api-Key: $key" "$adm/$hid/log?msg_id=$msg" | json_get 'j.results.length')" = 2 ]; }
    if [ "$code" = 202 ] && wait_for replayed; then ok "$label admin: replay sends the message again"; else ko "$label admin: replay" "$code"; fi
    local patched
    patched=$(curl -s --max-time 5 -X PATCH -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"events":["issue.created"],"description":"only creations"}' "$adm/$hid")
    if [ "$(echo "$patched" | json_get 'j.events.join(",") + "/" + j.event_mode + "/" + j.description')" = "issue.created/individual/only creations" ]; then
      ok "$label admin: PATCH updates events and description"
    else
      ko "$label admin: PATCH" "$patched"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PATCH -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"url":"http://10.0.0.1/hook"}' "$adm/$hid")
    [ "$code" = 403 ] && ok "$label admin: PATCH to a private address refused" || ko "$label admin: PATCH SSRF" "$code"
    code=$(curl -s --max-time 5 -X POST -H "X-Api-Key: $key" "$adm/$hid/disable" | json_get 'j.active')
    [ "$code" = false ] && ok "$label admin: disable" || ko "$label admin: disable" "$code"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE -H "X-Api-Key: $key" "$adm/$hid")
    local code2
    code2=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Api-Key: $key" "$adm/$hid")
    [ "$code" = 204 ] && [ "$code2" = 404 ] && ok "$label admin: DELETE" || ko "$label admin: DELETE" "$code $code2"

    # ---- 5. A as the Plane upstream of another planebridge B: B's /hooks/plane/{slug}
    # verifies A's plane-format deliveries with the secret A issued.
    local apid=$DPID bstore bdir="$dir/b"
    mkdir -p "$bdir"
    bstore=$($store_base planeb)
    if start_daemon "$bstore" "$bdir/daemon.log" PB_MASTER_KEY_FILE="$bdir/master.key"; then
      local bpid=$DPID bport=$DPORT bhook
      if PB_STORE="$store" "$PB_BIN" hooks add --workspace acme --format plane --events 'issue.*' \
          --url "http://127.0.0.1:$bport/hooks/plane/acme" >"$bdir/secret" 2>"$bdir/add.err" &&
         PB_STORE="$bstore" PB_MASTER_KEY_FILE="$bdir/master.key" "$PB_BIN" webhook-secret acme --file "$bdir/secret" \
          >/dev/null 2>"$bdir/ws.err"; then
        bhook=$(PB_STORE="$store" "$PB_BIN" hooks list --json | json_get 'j.find(h => h.url.includes("/hooks/plane/")).id')
        curl -s --max-time 5 -o /dev/null -X POST -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
          -d '{"name":"Upstream item"}' "http://127.0.0.1:$(grep -h '"msg":"listening"' "$dir/daemon.log" | tail -n 1 | grep -o '"port":[0-9]*' | cut -d: -f2)/api/v1/workspaces/acme/projects/$pj/issues/"
        accepted() { PB_STORE="$store" "$PB_BIN" hooks log "$bhook" --json | json_get 'j.some(a => a.outcome === "succeeded" && a.status === 200)' | grep -q true; }
        if wait_for accepted; then
          ok "$label plane: a second planebridge accepts A's deliveries as Plane webhooks (signature verified, 200)"
        else
          ko "$label plane: B as consumer" "$(PB_STORE="$store" "$PB_BIN" hooks log "$bhook" --limit 3 | tail -n 3)"
        fi
      else
        ko "$label plane: B setup" "$(cat "$bdir"/*.err | head -c 300)"
      fi
      DPID=$bpid; stop_daemon
    else
      ko "$label plane: B start"
    fi
    DPID=$apid
    stop_daemon
  fi
  stop_receiver
}

sqlite_store() { echo "sqlite:$TMP/$1.db"; }
run_backend sqlite sqlite_store

if [ -n "${PB_TEST_PG_URL:-}" ]; then
  pg_store() {
    local db="pb_deliver_$$_$1"
    psql -q "$PB_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    psql -q "$PB_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null 2>&1
    if [[ "$PB_TEST_PG_URL" =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
      echo "${BASH_REMATCH[1]}/$db${BASH_REMATCH[4]}"
    fi
  }
  PGDBS="pb_deliver_$$_std pb_deliver_$$_kill pb_deliver_$$_two pb_deliver_$$_plane pb_deliver_$$_planeb" # dropped by cleanup
  run_backend postgres pg_store
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
