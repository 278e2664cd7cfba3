#!/usr/bin/env bash
# Webhook ingestion benchmark: signed ~3 KB Plane CE webhooks into POST /hooks/plane/{slug},
# durable (200 only after the group commit is on disk), side by side in one run:
#   planebridge  SQLite (WAL, synchronous=FULL)            worker threads on / off
#   planebridge  PostgreSQL (synchronous_commit=on)        worker threads on / off
#   planebridge  PB_INGEST_NOSTORE=1: verify + parse + key, 200 WITHOUT storing (the ceiling)
#   Node.js      bench/ingest/node_receiver.cjs: verify + parse + key + INSERT with `pg`
# Load: wrk -t$BENCH_WRK_THREADS -c$BENCH_CONNS, 2 s warm-up then BENCH_SECONDS measured;
# every request is a distinct body with a real signature (plane.lua signs through LuaJIT FFI),
# so there are no duplicates. After each run the stored rows are counted: a durable
# configuration must hold at least as many rows as it answered 200.
# planebridge runs with PB_THREADS=64, PB_DB_POOL=32, log_level=warn (no access log line per
# request); answers are deferred to the group committer, so all connections can share a batch.
# PostgreSQL committers: the daemon's default (4) unless BENCH_PG_COMMITTERS says otherwise.
# Rows with workers note how many jobs the workers applied during the run ("applied") and how
# many were still queued: accepted/s alone hides a worker that falls behind.
# Report: bench/results/ingest.md. Machine: whatever runs it (2 vCPU in this project); wrk,
# the server and the database share the cores, so treat figures as bands.
# Options (environment):
#   BENCH_ROWS="sqlite2 sqlite0 pg2 pg0 nostore node"  rows to run (default all); a partial run
#       writes its table to BENCH_OUT (default /tmp/pb-bench-ingest.md), a full run to the report
#   BENCH_BEFORE_BIN=PATH  also run every planebridge row with this binary ("before"), right
#       before the same row with PB_BIN, so before/after come from one run
#   BENCH_PG_COMMITTERS=N  PB_INGEST_COMMITTERS for PB_BIN on PostgreSQL (default: the daemon's
#       default); BENCH_PG_COMMITTERS_BEFORE=N the same for BENCH_BEFORE_BIN (default 16, what
#       the earlier reports used)
#   BENCH_ENV="K=V ..."    extra environment for PB_BIN's daemons (experiments)
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-$ROOT/build/planebridge}
SECS=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNS:-64}
WT=${BENCH_WRK_THREADS:-1}
ROWS=${BENCH_ROWS:-sqlite2 sqlite0 pg2 pg0 nostore node}
if [ -n "${BENCH_ROWS:-}" ]; then OUT=${BENCH_OUT:-/tmp/pb-bench-ingest.md}; else OUT=${BENCH_OUT:-$ROOT/bench/results/ingest.md}; fi
BEFORE_BIN=${BENCH_BEFORE_BIN:-}
PGC=${BENCH_PG_COMMITTERS:-}
PGC_BEFORE=${BENCH_PG_COMMITTERS_BEFORE:-16}
# shellcheck disable=SC2206
XENV=(${BENCH_ENV:-})
want() { case " $ROWS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
SECRET="plane_wh_0123456789abcdef0123456789abcdef"
for t in wrk curl node psql sqlite3; do command -v "$t" >/dev/null || { echo "bench ingest: $t not installed"; exit 1; }; done
[ -x "$PB_BIN" ] || { echo "bench ingest: $PB_BIN not built"; exit 1; }
[ -z "$BEFORE_BIN" ] || [ -x "$BEFORE_BIN" ] || { echo "bench ingest: $BEFORE_BIN not found"; exit 1; }

TMP=$(mktemp -d /tmp/pb-bench-ingest.XXXXXX)
chmod 755 "$TMP" # the PostgreSQL cluster runs as postgres
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  bash "$ROOT/tests/pg.sh" stop "$TMP/pg" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
export PB_MASTER_KEY_FILE="$TMP/master.key"
unset PB_CONFIG PB_LISTEN PB_STORE PB_LOG_FILE PB_INGEST_NOSTORE PB_INGEST_WORKERS

PGURL=""
if want pg2 || want pg0 || want node; then
  PGURL=$(bash "$ROOT/tests/pg.sh" start "$TMP/pg") || { echo "bench ingest: cannot start PostgreSQL"; exit 1; }
fi
pgdb() { psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; echo "${PGURL%/*}/$1"; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_ready() { for _ in $(seq 1 400); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }

# start_pb STORE LOG [ENV...] -> PORT  (runs $BIN)
BIN=$PB_BIN
start_pb() {
  local store=$1 log=$2; shift 2
  PB_STORE="$store" "$BIN" init >/dev/null 2>"$TMP/init.err" || return 1
  printf '%s\n' "$SECRET" >"$TMP/secret"
  PB_STORE="$store" "$BIN" webhook-secret acme --file "$TMP/secret" >/dev/null || return 1
  PORT=$(free_port)
  env PB_STORE="$store" PB_LOG_LEVEL=warn PB_THREADS=64 PB_DB_POOL=32 "$@" \
    "$BIN" serve --listen "127.0.0.1:$PORT" >"$log" 2>&1 &
  SPID=$!
  PIDS="$PIDS $SPID"
  wait_ready "http://127.0.0.1:$PORT/healthz"
}

stop_srv() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

# Average jobs per group commit, from the daemon's own histogram (before stopping it).
avg_batch() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^planebridge_ingest_commit_batch_sum/ {s=$2} /^planebridge_ingest_commit_batch_count/ {c=$2} END { if (c > 0) printf "%.1f", s / c; else print "-" }'
}

# load URL NONCE -> sets RPS P50 P99 REQS ERRS (from the measured run)
load() {
  wrk -t"$WT" -c"$CONNS" -d2s -s "$ROOT/bench/ingest/plane.lua" "$1" -- "$SECRET" "$2" >/dev/null 2>&1
  local out; out=$(wrk -t"$WT" -c"$CONNS" -d"${SECS}s" --latency -s "$ROOT/bench/ingest/plane.lua" "$1" -- "$SECRET" "$(($2 + 1))" 2>&1)
  local line; line=$(echo "$out" | grep '^RESULT')
  RPS=$(echo "$line" | sed -E 's/.*rps=([0-9]+).*/\1/')
  P50=$(echo "$line" | sed -E 's/.*p50_ms=([0-9.]+).*/\1/')
  P99=$(echo "$line" | sed -E 's/.*p99_ms=([0-9.]+).*/\1/')
  REQS=$(echo "$line" | sed -E 's/.*requests=([0-9]+).*/\1/')
  ERRS=$(echo "$line" | sed -E 's/.*non2xx_or_errors=([0-9]+).*/\1/')
}

ROWS_TABLE=""
row() { # NAME STORED_ROWS NOTE
  local accepted=$((REQS - ERRS))
  ROWS_TABLE="$ROWS_TABLE| $1 | $RPS | $P50 | $P99 | $ERRS | $2 | $3 |
"
  printf '%-44s %8s req/s  p50 %7s ms  p99 %7s ms  errors %s  rows %s\n' "$1" "$RPS" "$P50" "$P99" "$ERRS" "$2"
  eval "RPS_$4=$RPS"
  [ "$2" = "-" ] || [ "$2" -ge "$accepted" ] || echo "!!! $1: $2 rows stored < $accepted answered 200"
}

# The disk's current durable-write rate and the machine's load, for the report: figures from a
# shared VM swing with both (bench-limits.md: 4-9k fsync/s on a quiet machine).
fsync_rate() {
  local t0 t1
  t0=$(date +%s%N)
  dd if=/dev/zero of="$TMP/fsync.dat" bs=4k count=200 oflag=dsync 2>/dev/null
  t1=$(date +%s%N)
  rm -f "$TMP/fsync.dat"
  awk -v n=200 -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}
FSYNC_BEFORE=$(fsync_rate)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "4 KB O_DSYNC writes/s before: $FSYNC_BEFORE; load average: $LOAD_BEFORE"
nonce=$((RANDOM * 1000))
# variants: "before" (BENCH_BEFORE_BIN) then "after" (PB_BIN), or only PB_BIN
variants() { if [ -n "$BEFORE_BIN" ]; then echo "before after"; else echo "after"; fi; }
pick() { # VARIANT -> BIN, SUFFIX, TAG, PGCOMM (committers env), XE (extra env)
  if [ "$1" = before ]; then BIN=$BEFORE_BIN SUFFIX=" [before]" TAG=_before PGCOMM=$PGC_BEFORE XE=()
  else BIN=$PB_BIN SUFFIX=${BEFORE_BIN:+" [after]"} TAG="" PGCOMM=$PGC XE=("${XENV[@]}"); fi
}
# Jobs the workers finished (applied) during the run, and what was still queued at the end.
applied_note() { # STORE-KIND STORE
  local q="SELECT COUNT(*) FILTER (WHERE status = 'done'), COUNT(*) FILTER (WHERE status IN ('pending','leased')) FROM"
  if [ "$1" = sqlite ]; then sqlite3 -separator ' ' "$2" "$q ops_event_queue"; else psql -qtA -F ' ' "$2" -c "$q ops.event_queue"; fi
}
# 1. SQLite, workers on / off
for w in 2 0; do
  want "sqlite$w" || continue
  for v in $(variants); do
    pick "$v"
    store="sqlite:$TMP/s$w$TAG.db"
    start_pb "$store" "$TMP/s$w$TAG.log" PB_INGEST_WORKERS=$w "${XE[@]}" || { echo "bench ingest: daemon failed"; cat "$TMP/s$w$TAG.log" "$TMP/init.err"; exit 1; }
    nonce=$((nonce + 10)); load "http://127.0.0.1:$PORT/hooks/plane/acme" $nonce
    ab=$(avg_batch)
    stop_srv
    rows=$(sqlite3 "${store#sqlite:}" "SELECT COUNT(*) FROM ops_event_queue")
    note="avg batch $ab"
    if [ "$w" != 0 ]; then set -- $(applied_note sqlite "${store#sqlite:}"); note="$note; applied $1, queued $2"; fi
    row "planebridge, SQLite, durable, workers=$w$SUFFIX" "$rows" "$note" "sqlite$w$TAG"
  done
done
# 2. PostgreSQL, workers on / off
for w in 2 0; do
  want "pg$w" || continue
  for v in $(variants); do
    pick "$v"
    store=$(pgdb "pbbench$w$TAG")
    start_pb "$store" "$TMP/p$w$TAG.log" PB_INGEST_WORKERS=$w ${PGCOMM:+PB_INGEST_COMMITTERS=$PGCOMM} "${XE[@]}" || { echo "bench ingest: daemon failed"; cat "$TMP/p$w$TAG.log"; exit 1; }
    nonce=$((nonce + 10)); load "http://127.0.0.1:$PORT/hooks/plane/acme" $nonce
    ab=$(avg_batch)
    stop_srv
    rows=$(psql -qtA "$store" -c "SELECT COUNT(*) FROM ops.event_queue")
    note="avg batch $ab, committers ${PGCOMM:-default}"
    if [ "$w" != 0 ]; then set -- $(applied_note pg "$store"); note="$note; applied $1, queued $2"; fi
    row "planebridge, PostgreSQL, durable, workers=$w$SUFFIX" "$rows" "$note" "pg$w$TAG"
  done
done
# 3. the ceiling: no store
if want nostore; then
  pick after
  start_pb "sqlite:$TMP/n.db" "$TMP/n.log" PB_INGEST_NOSTORE=1 PB_INGEST_WORKERS=0 || exit 1
  nonce=$((nonce + 10)); load "http://127.0.0.1:$PORT/hooks/plane/acme" $nonce
  stop_srv
  row "planebridge, PB_INGEST_NOSTORE=1 (not durable)" "-" "ceiling" "nostore"
fi
# 4. Node.js + pg
if want node; then
  nstore=$(pgdb pbbenchnode)
  nport=$(free_port)
  node "$ROOT/bench/ingest/node_receiver.cjs" "$nport" "$nstore" "$SECRET" 16 >"$TMP/node.log" 2>&1 &
  SPID=$!
  PIDS="$PIDS $SPID"
  for _ in $(seq 1 200); do grep -q listening "$TMP/node.log" && break; sleep 0.05; done
  nonce=$((nonce + 10)); load "http://127.0.0.1:$nport/hooks/plane/acme" $nonce
  stop_srv
  rows=$(psql -qtA "$nstore" -c "SELECT COUNT(*) FROM node_event_queue")
  row "Node.js $(node --version) + pg, PostgreSQL, durable" "$rows" "peer" "node"
fi

FSYNC_AFTER=$(fsync_rate)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
  echo "# Webhook ingestion benchmark"
  echo
  echo "Generated by \`bench/ingest/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM."
  echo "Load: wrk $(wrk -v 2>&1 | head -n1 | cut -d' ' -f2) \`-t$WT -c$CONNS\`, 2 s warm-up, ${SECS} s measured; every request a distinct ~3.1 KB Plane CE"
  echo "\`issue\` webhook with its own X-Plane-Signature (HMAC-SHA256 per request inside wrk, LuaJIT FFI)."
  echo "planebridge: \`PB_THREADS=64 PB_DB_POOL=32\`, log level warn (no access-log line), SQLite WAL synchronous=FULL"
  echo "(one committer), PostgreSQL committers as in the note column (the Node peer has a pool of 16),"
  echo "PostgreSQL $([ -n "$PGURL" ] && psql -qtA "$PGURL" -c 'SHOW server_version') (tests/pg.sh cluster, fsync on, synchronous_commit on)."
  echo "\"durable\" = 200 only after the job's group commit returned; \"rows\" = jobs in the store"
  echo "afterwards (warm-up included), which must be >= the requests answered 200. Closed-loop"
  echo "latency (wrk waits per connection). Everything shares the same 2 cores."
  echo
  echo "Machine state: 4 KB O_DSYNC writes/s $FSYNC_BEFORE before, $FSYNC_AFTER after the runs (a quiet machine of"
  echo "this kind does 4-9k/s, bench-limits.md); load average $LOAD_BEFORE before, $LOAD_AFTER after."
  echo
  echo "| configuration | accepted/s | p50 ms | p99 ms | errors | rows | note |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$ROWS_TABLE"
  echo
  echo "Ratios (same run, \"-\" when a row did not run): SQLite durable workers=2 / ceiling $(ratio "${RPS_sqlite2:-0}" "${RPS_nostore:-0}");" \
       "PostgreSQL durable / Node.js+pg $(ratio "${RPS_pg2:-0}" "${RPS_node:-0}") (workers on)," \
       "$(ratio "${RPS_pg0:-0}" "${RPS_node:-0}") (workers off); SQLite durable workers=2 / Node.js+pg $(ratio "${RPS_sqlite2:-0}" "${RPS_node:-0}")."
  echo
  echo "Notes: \"applied\" = jobs the workers finished (status done) by the end of the run (warm-up"
  echo "included), \"queued\" = still pending or leased; workers=0 measures ingestion alone (jobs stay"
  echo "queued). The answer is deferred (the committer answers after its batch commit), so all $CONNS"
  echo "connections can sit in one batch."
} >"$OUT"
echo "wrote $OUT"
