#!/usr/bin/env bash
# Integration: the real daemon and CLI. Starts `planebridge serve` on a free port (port 0,
# read back from the "listening" log line) with a temporary SQLite store, and again on a
# fresh PostgreSQL database when PB_TEST_PG_URL is set. Polls for readiness with a bounded
# deadline (no fixed sleeps). Prints PASS/FAIL lines and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
PB_BIN=${PB_BIN:-build/planebridge}
case "$PB_BIN" in /*) ;; *) PB_BIN="$PWD/$PB_BIN" ;; esac
DEADLINE_S=${PB_TEST_DEADLINE_S:-30}

pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }

TMP=$(mktemp -d /tmp/pb-daemon.XXXXXX)
# Everything the daemon creates stays in TMP (the vault creates its master key on first start).
export PB_MASTER_KEY_FILE="$TMP/master.key"
unset PB_CONFIG PB_LISTEN PB_STORE PB_LOG_FILE
PID="" PORT="" PGDB="" CURL_PID=""
cleanup() {
  [ -n "$CURL_PID" ] && kill "$CURL_PID" 2>/dev/null
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
  if [ -n "$PGDB" ] && [ -n "${PB_TEST_PG_URL:-}" ]; then
    psql -q "$PB_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
  fi
  [ -n "${PB_KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

# Runs until the condition command succeeds or the deadline passes (short poll interval).
wait_for() {
  local end=$((SECONDS + DEADLINE_S))
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
is_json() { node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' 2>/dev/null; }

listening_port() { # prints the port from the "listening" log line of $1
  grep -h '"msg":"listening"' "$1" 2>/dev/null | head -n 1 | grep -o '"port":[0-9]*' | cut -d: -f2
}

# start_daemon STORE LOG: starts serve, sets PID and PORT; returns non-zero if it never listens.
start_daemon() {
  PORT="" DLOG=$2
  PB_STORE="$1" PB_LOG_LEVEL=info PB_BENCH_ROUTES=1 "$PB_BIN" serve --listen 127.0.0.1:0 >"$DLOG" 2>&1 &
  PID=$!
  port_known() { PORT=$(listening_port "$DLOG"); [ -n "$PORT" ] || ! kill -0 "$PID" 2>/dev/null; }
  wait_for port_known
  [ -n "$PORT" ] || return 1
  healthy() { [ "$(http_code "http://127.0.0.1:$PORT/healthz")" = 200 ]; }
  wait_for healthy
}

# stop_daemon: SIGTERM, wait (bounded) and set EXIT_CODE.
stop_daemon() {
  kill -TERM "$PID" 2>/dev/null
  gone() { ! kill -0 "$PID" 2>/dev/null; }
  if wait_for gone; then
    wait "$PID"
    EXIT_CODE=$?
  else
    kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    EXIT_CODE=137
  fi
  PID=""
}

# core_checks LABEL STORE: the daemon's HTTP surface and graceful shutdown on one backend.
core_checks() {
  local label=$1 store=$2 log="$TMP/$1.log"
  if ! start_daemon "$store" "$log"; then
    ko "$label: serve starts and answers /healthz 200" "$(tail -n 5 "$log" | tr '\n' ' ')"
    [ -n "$PID" ] && stop_daemon
    return
  fi
  ok "$label: serve starts on a free port ($PORT) and answers /healthz 200"
  local base="http://127.0.0.1:$PORT"

  [ "$(http_code "$base/readyz")" = 200 ] && ok "$label: /readyz 200 (store reachable)" || ko "$label: /readyz 200"

  local metrics
  metrics=$(curl -s --max-time 5 "$base/metrics")
  if echo "$metrics" | grep -Eq '^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* counter$'; then
    ok "$label: /metrics has a Prometheus counter"
  else
    ko "$label: /metrics has a Prometheus counter"
  fi

  local hdrs
  hdrs=$(curl -s -D - -o /dev/null --max-time 5 -H 'X-Request-Id: pbtest-req-4711' "$base/healthz" | tr -d '\r')
  if echo "$hdrs" | grep -qi '^x-request-id: pbtest-req-4711$'; then
    ok "$label: X-Request-Id echoed"
  else
    ko "$label: X-Request-Id echoed" "$(echo "$hdrs" | grep -i request-id)"
  fi
  if curl -s -D - -o /dev/null --max-time 5 "$base/healthz" | tr -d '\r' | grep -Eqi '^x-request-id: .+'; then
    ok "$label: X-Request-Id generated when absent"
  else
    ko "$label: X-Request-Id generated when absent"
  fi

  local body code
  body=$(curl -s --max-time 5 -w '\n%{http_code}' "$base/no/such/route")
  code=$(echo "$body" | tail -n 1)
  body=$(echo "$body" | sed '$d')
  if [ "$code" = 404 ] && echo "$body" | is_json; then
    ok "$label: unknown route answers 404 with a JSON body"
  else
    ko "$label: unknown route answers 404 with a JSON body" "$code $body"
  fi

  if grep -q '"msg":"listening"' "$log" && grep -q '"port":'"$PORT" "$log"; then
    ok "$label: one JSON \"listening\" log line with the port"
  else
    ko "$label: \"listening\" log line"
  fi

  # SIGTERM while a request is in flight: a slow upload to POST /bench/echo (registered by the
  # ops module when PB_BENCH_ROUTES=1) has sent its headers and part of its body when the
  # signal arrives; the request still gets its 200 and the daemon exits 0.
  { printf '{"pad":"'; head -c 6000 /dev/zero | tr '\0' 'x'; printf '"}'; } >"$TMP/slow.body"
  rm -f "$TMP/slow.trace" "$TMP/slow.code"
  curl -s -o /dev/null -w '%{http_code}' --max-time 30 --limit-rate 2000 \
    -H 'Content-Type: application/json' -H 'Expect:' --trace-ascii "$TMP/slow.trace" \
    --data-binary @"$TMP/slow.body" "$base/bench/echo" >"$TMP/slow.code" 2>/dev/null &
  CURL_PID=$!
  sending() { grep -q '^=> Send data' "$TMP/slow.trace" 2>/dev/null; }
  wait_for sending
  local inflight=no
  grep -q '^<= Recv header' "$TMP/slow.trace" 2>/dev/null || inflight=yes
  stop_daemon
  wait "$CURL_PID" 2>/dev/null
  CURL_PID=""
  local slow_code
  slow_code=$(cat "$TMP/slow.code" 2>/dev/null)
  if [ "$EXIT_CODE" = 0 ]; then
    ok "$label: SIGTERM -> exit 0"
  else
    ko "$label: SIGTERM -> exit 0" "exit $EXIT_CODE"
  fi
  if [ "$inflight" = yes ] && [ "$slow_code" = 200 ]; then
    ok "$label: request in flight at SIGTERM still answered (HTTP $slow_code)"
  else
    ko "$label: request in flight at SIGTERM still answered" "in flight: $inflight, HTTP ${slow_code:-none}"
  fi
  if grep -q '"msg":"shutting down"' "$log" && grep -q '"msg":"stopped"' "$log"; then
    ok "$label: log has the shutdown lines"
  else
    ko "$label: log has the shutdown lines"
  fi
}

# ---------------------------------------------------------------- SQLite
SQLITE_STORE="sqlite:$TMP/pb.db"
core_checks sqlite "$SQLITE_STORE"

# ---------------------------------------------------------------- CLI
out=$("$PB_BIN" version 2>&1)
rc=$?
missing=""
for lib in planebridge libmicrohttpd libcurl sqlite libpq openssl cjson libyaml; do
  echo "$out" | grep -Eq "^$lib [^ ]" || missing="$missing $lib"
done
if [ $rc = 0 ] && [ -z "$missing" ]; then ok "version exits 0 and lists every library"; else ko "version" "rc $rc missing:$missing"; fi

out=$(PB_STORE="$SQLITE_STORE" "$PB_BIN" doctor 2>&1)
rc=$?
missing=""
for lib in libmicrohttpd libcurl sqlite libpq openssl cjson libyaml; do
  echo "$out" | grep -Eq "^  $lib [^ ]" || missing="$missing $lib"
done
if [ $rc = 0 ] && [ -z "$missing" ] && echo "$out" | grep -q '^ok    migrations'; then
  ok "doctor exits 0 on a migrated store and lists every library"
else
  ko "doctor on a migrated store" "rc $rc missing:$missing"
fi

out=$(PB_STORE="sqlite:$TMP/missing.db" "$PB_BIN" doctor 2>&1)
rc=$?
if [ $rc != 0 ] && echo "$out" | grep -q '^FAIL  store' && [ ! -e "$TMP/missing.db" ]; then
  ok "doctor fails on a missing store without creating it"
else
  ko "doctor fails on a missing store" "rc $rc"
fi

out=$(PB_STORE="sqlite:$TMP/m.db" "$PB_BIN" migrate 2>&1)
rc=$?
if [ $rc = 0 ] && echo "$out" | grep -Eq '^schema version [1-9][0-9]* \(applied [1-9][0-9]*\)$'; then
  out2=$(PB_STORE="sqlite:$TMP/m.db" "$PB_BIN" migrate 2>&1)
  if echo "$out2" | grep -q '(applied 0)$'; then ok "migrate applies once and is idempotent"; else ko "migrate idempotent" "$out2"; fi
else
  ko "migrate prints the schema version" "rc $rc $out"
fi

PW='Pl4nted-Db-Passw0rd'
out=$(PB_STORE="postgres://planebridge:$PW@db.example.internal:5432/pb" "$PB_BIN" config 2>&1)
rc=$?
if [ $rc = 0 ] && ! echo "$out" | grep -q "$PW" && echo "$out" | grep -q 'store: "postgres://planebridge:\*\*\*\*@db.example.internal:5432/pb"'; then
  ok "config masks a postgres password given through PB_STORE"
else
  ko "config masks a postgres password" "rc $rc"
fi

printf 'listen: 127.0.0.1:0\nlog_level: info\n# limits\nmax_body: 12\n' >"$TMP/bad.yaml"
out=$("$PB_BIN" --config "$TMP/bad.yaml" serve 2>&1)
rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "bad.yaml:4: max_body: must be between 1024 and"; then
  ok "a bad config file fails naming the key and the line"
else
  ko "a bad config file fails naming the key and the line" "rc $rc: $out"
fi
printf 'listen: 127.0.0.1:0\nthread: 4\n' >"$TMP/unknown.yaml"
out=$("$PB_BIN" config --config "$TMP/unknown.yaml" 2>&1)
rc=$?
if [ $rc != 0 ] && echo "$out" | grep -q "unknown.yaml:2: thread: unknown configuration key"; then
  ok "an unknown config key fails naming the key and the line"
else
  ko "an unknown config key fails" "rc $rc: $out"
fi
printf 'listen: 127.0.0.1:0\nlog_level: warn\nmax_body: 2MiB\n' >"$TMP/good.yaml"
out=$(PB_LOG_LEVEL=debug "$PB_BIN" --config "$TMP/good.yaml" config 2>&1)
if echo "$out" | grep -q '^log_level: debug$' && echo "$out" | grep -q '^max_body: 2097152$'; then
  ok "config file applies and the environment overrides it"
else
  ko "config precedence" "$out"
fi

out=$("$PB_BIN" serve --help 2>&1)
rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q 'PB_LISTEN' && echo "$out" | grep -q 'usage: planebridge'; then
  ok "serve --help prints usage and the configuration keys"
else
  ko "serve --help" "rc $rc"
fi
out=$("$PB_BIN" --help 2>&1)
rc=$?
missing=""
for c in serve migrate doctor version config; do echo "$out" | grep -Eq "^  $c " || missing="$missing $c"; done
if [ $rc = 0 ] && [ -z "$missing" ]; then ok "--help lists the commands"; else ko "--help lists the commands" "missing:$missing"; fi
"$PB_BIN" no-such-command >/dev/null 2>"$TMP/unk.err"
rc=$?
if [ $rc = 2 ] && grep -q 'usage:' "$TMP/unk.err"; then ok "unknown command: usage on stderr, exit 2"; else ko "unknown command" "rc $rc"; fi

out=$("$PB_BIN" serve --store "sqlite:$TMP/no/such/dir/x.db" --listen 127.0.0.1:0 2>&1)
rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q 'cannot open the store'; then
  ok "serve: an unopenable store -> clear error, exit 1"
else
  ko "serve: an unopenable store" "rc $rc: $(echo "$out" | tail -n 2)"
fi

# A port that is taken: hold it with a first daemon, start a second on the same port.
if start_daemon "$SQLITE_STORE" "$TMP/holder.log"; then
  out=$(PB_STORE="sqlite:$TMP/second.db" "$PB_BIN" serve --listen "127.0.0.1:$PORT" 2>&1)
  rc=$?
  if [ $rc = 1 ] && echo "$out" | grep -q 'cannot listen'; then
    ok "serve: address in use -> clear error, exit 1"
  else
    ko "serve: address in use" "rc $rc: $(echo "$out" | tail -n 2)"
  fi
  stop_daemon
else
  ko "serve: address in use" "holder daemon did not start"
fi

# ---------------------------------------------------------------- PostgreSQL
if [ -n "${PB_TEST_PG_URL:-}" ]; then
  PGDB="pb_daemon_$$_$RANDOM"
  if psql -q "$PB_TEST_PG_URL" -c "CREATE DATABASE $PGDB" >/dev/null 2>"$TMP/pg.err"; then
    # Same server and credentials, the fresh database as the path.
    if [[ "$PB_TEST_PG_URL" =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
      PG_STORE="${BASH_REMATCH[1]}/$PGDB${BASH_REMATCH[4]}"
      core_checks postgres "$PG_STORE"
      out=$(PB_STORE="$PG_STORE" "$PB_BIN" doctor 2>&1)
      rc=$?
      if [ $rc = 0 ] && echo "$out" | grep -q '^ok    store .*(postgres'; then
        ok "postgres: doctor exits 0"
      else
        ko "postgres: doctor exits 0" "rc $rc"
      fi
    else
      ko "postgres: cannot derive a database URL from PB_TEST_PG_URL"
    fi
  else
    ko "postgres: create a fresh database" "$(head -n 1 "$TMP/pg.err")"
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
