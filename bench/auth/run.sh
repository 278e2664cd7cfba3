#!/usr/bin/env bash
# Security-core benchmark: what authentication + rate limiting + usage logging cost per
# request. Goal: under 5 us of CPU per request at 20k req/s.
#
# 1. In-process harness (bench/auth/harness.c, linked against the build's libpbcore.a):
#    pb_auth_decide (header parse, SHA-256, key cache with constant-time compare, expiry,
#    token bucket, scope + role check) + one usage row queued, with the background thread
#    writing usage rows in batches and syncing buckets to the store. CPU = the whole
#    process's user+system time (getrusage), so the writer thread is included.
#    Runs paced at 20k req/s (1 thread) and unpaced (1 and 2 threads), SQLite store.
# 2. wrk against the real daemon (2 HTTP threads, access log off): GET /bench/auth (an
#    authenticated trivial route, registered with PB_BENCH_ROUTES=1, scope search:read)
#    versus GET /healthz (public, no auth) -- same process, same run. The daemon's CPU per
#    request comes from /proc/PID/stat; the difference is what auth adds end to end.
# Report: bench/results/auth.md. Environment: PB_BUILD (default build), BENCH_SECONDS (3).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${PB_BUILD:-$ROOT/build}
PB_BIN=${PB_BIN:-$BUILD/planebridge}
SECS=${BENCH_SECONDS:-3}
OUT=$ROOT/bench/results/auth.md
for t in wrk curl python3 cc pkg-config; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench auth: $t not installed"; exit 1; }
done
[ -f "$BUILD/libpbcore.a" ] || { echo "bench auth: $BUILD/libpbcore.a not built"; exit 1; }
[ -x "$PB_BIN" ] || { echo "bench auth: $PB_BIN not built"; exit 1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/pb-bench-auth.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. harness
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/src" -o "$TMP/harness" bench/auth/harness.c "$BUILD/libpbcore.a" \
  $(pkg-config --libs libmicrohttpd libcjson libcurl sqlite3 libpq yaml-0.1 libcrypto) -lpthread -lm ||
  { echo "bench auth: harness does not build"; exit 1; }
harness() { # RATE THREADS RECORD [STORE] -> prints the harness line
  rm -f "$TMP/h.db"*
  "$TMP/harness" "${4:-sqlite:$TMP/h.db}" "$1" "$SECS" "$2" "$3"
}
field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
H0=$(harness 20000 1 0) || exit 1   # request path only: auth + rate limit, no usage row
H1=$(harness 20000 1 1) || exit 1   # + usage row queued and written to SQLite
H2=$(harness 0 1 0) || exit 1       # request path, as fast as one thread goes
H3=$(harness 0 2 1) || exit 1       # overload: usage rows past what the writer stores are dropped
echo "harness 20k/s, no usage row:  $H0"
echo "harness 20k/s, usage (sqlite): $H1"
echo "harness max, no usage row:    $H2"
echo "harness max 2 threads, usage: $H3"
PGROW=""
PGBASE=${BENCH_PG_URL:-${PB_TEST_PG_URL:-}}
if [ -n "$PGBASE" ] && command -v psql >/dev/null; then
  PGDB="pbbench_auth_$$"
  if psql -q "$PGBASE" -c "CREATE DATABASE $PGDB" >/dev/null 2>&1; then
    HPG=$(harness 20000 1 1 "${PGBASE%/*}/$PGDB") && echo "harness 20k/s, usage (postgres): $HPG"
    psql -q "$PGBASE" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
    [ -n "${HPG:-}" ] && PGROW="| paced 20k req/s, usage row written to PostgreSQL (server CPU not counted) | $(field "$HPG" requests) | $(field "$HPG" rps) | **$(field "$HPG" cpu_us_per_req)** | $(field "$HPG" usage_written) | $(field "$HPG" usage_dropped) |"
  fi
fi

# ---------------------------------------------------------------- 2. wrk, daemon
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export PB_STORE="sqlite:$TMP/d.db" PB_MASTER_KEY_FILE="$TMP/master.key"
"$PB_BIN" init >/dev/null
"$PB_BIN" workspace create acme >/dev/null
"$PB_BIN" user create --email bench@example.com --workspace acme --role member >/dev/null
# 16 clients, each far below its limit: wrk rotates over them (bench/auth measures the
# admitted path, not refusals).
KEYS=()
for i in $(seq 1 16); do
  KEYS+=("$("$PB_BIN" keys create --user bench@example.com --scopes search:read --rate-limit 1000000)")
done
KEY=${KEYS[0]}
{
  echo "local keys = {"
  for k in "${KEYS[@]}"; do echo "  \"$k\","; done
  echo "}"
  echo "local i = 0"
  echo "request = function()"
  echo "  i = i % #keys + 1"
  echo "  return wrk.format(\"GET\", nil, { [\"X-Api-Key\"] = keys[i] })"
  echo "end"
} >"$TMP/keys.lua"
PORT=$(free_port)
PB_LOG_LEVEL=warn PB_THREADS=2 PB_BENCH_ROUTES=1 "$PB_BIN" serve --listen "127.0.0.1:$PORT" >"$TMP/d.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT/bench/auth")" = 200 ] ||
  { echo "bench auth: /bench/auth does not answer 200"; exit 1; }
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
wrk_run() { # URL [lua] -> "rps p99 cpu_us_per_req non2xx total_requests_incl_warmup"
  local url=$1 lua=${2:-} out t0 t1 reqs rps p99 non warm
  warm=$(wrk -t1 -c16 -d1s ${lua:+-s "$lua"} "$url" 2>&1 | awk '/requests in/ {print $1}') # warm-up
  t0=$(cpu_ticks)
  out=$(wrk -t2 -c32 -d"${SECS}s" --latency ${lua:+-s "$lua"} "$url" 2>&1)
  t1=$(cpu_ticks)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "$rps $p99 $(python3 -c "print(round(($t1-$t0)/$TICK*1e6/max($reqs,1), 2))") ${non:-0} $((reqs + ${warm:-0}))"
}
W_H=$(wrk_run "http://127.0.0.1:$PORT/healthz")
W_A=$(wrk_run "http://127.0.0.1:$PORT/bench/auth" "$TMP/keys.lua")
echo "wrk /healthz:     $W_H"
echo "wrk /bench/auth:  $W_A"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; PIDS=()
ROWS=$(sqlite3 "$TMP/d.db" "select count(*) from ops_api_usage" 2>/dev/null || echo "?")

set -- $W_H; H_RPS=$1 H_P99=$2 H_CPU=$3 H_NON=$4
set -- $W_A; A_RPS=$1 A_P99=$2 A_CPU=$3 A_NON=$4 A_TOTAL=$5
DELTA=$(python3 -c "print(round($A_CPU - $H_CPU, 2))")
RATIO=$(python3 -c "print(round($A_RPS / max($H_RPS,1), 3))")
CPUINFO=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')

cat >"$OUT" <<EOF
# Security core benchmark (bench/auth/run.sh)

Machine: $(nproc) CPUs ($CPUINFO), shared with other work (load average at the start:
$LOAD0 -- single runs on a busy machine vary by +-30%); loopback only.
Goal: authentication + rate limit + usage logging under **5 us of CPU per request at 20k req/s**.
Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) with BENCH_SECONDS=$SECS.

## 1. In-process harness (bench/auth/harness.c)

Per request: X-Api-Key parse, SHA-256, key cache lookup (constant-time compare), expiry,
token bucket, scope + workspace-role check, principal allocation, one usage row queued.
The background thread writes the usage rows to SQLite in batched transactions and syncs the
rate buckets; its CPU is included (whole-process getrusage).

| run | requests | req/s | CPU us / request | usage rows written | dropped |
|---|---:|---:|---:|---:|---:|
| paced 20k req/s, request path only (auth + rate limit, no usage row) | $(field "$H0" requests) | $(field "$H0" rps) | **$(field "$H0" cpu_us_per_req)** | - | - |
| paced 20k req/s, + usage row queued and written to SQLite | $(field "$H1" requests) | $(field "$H1" rps) | **$(field "$H1" cpu_us_per_req)** | $(field "$H1" usage_written) | $(field "$H1" usage_dropped) |
$PGROW
| unpaced, 1 thread, request path only | $(field "$H2" requests) | $(field "$H2" rps) | $(field "$H2" cpu_us_per_req) | - | - |
| unpaced, 2 threads, with usage rows (overload) | $(field "$H3" requests) | $(field "$H3" rps) | $(field "$H3" cpu_us_per_req) | $(field "$H3" usage_written) | $(field "$H3" usage_dropped) |

The request path (what a request thread pays) is the "request path only" rows. Storing a
usage row costs the rest: with SQLite it is the embedded engine's B-tree and WAL work for
one row (two B-trees: the table and its (key_id, at) index) in batched multi-row INSERTs, done by
the background writer thread; with PostgreSQL that work happens in the server process. The
overload row shows the designed behaviour past the writer's capacity: requests never wait,
surplus usage rows are dropped and counted (pb_auth_stats.usage_dropped).

## 2. wrk against the daemon (peer: the same daemon's unauthenticated /healthz)

wrk -t2 -c32 -d${SECS}s after a 1 s warm-up; daemon with 2 HTTP threads, log_level=warn.
CPU per request = daemon utime+stime (from /proc) / requests.

| route | req/s | p99 | daemon CPU us / request | non-2xx |
|---|---:|---:|---:|---:|
| GET /healthz (no auth) | $H_RPS | $H_P99 | $H_CPU | $H_NON |
| GET /bench/auth (X-Api-Key over 16 keys, scope search:read) | $A_RPS | $A_P99 | $A_CPU | $A_NON |

Authenticated / unauthenticated throughput ratio: **$RATIO**; CPU added per request by
authentication + rate limit + usage logging, end to end: **$DELTA us**. Authenticated requests
sent (warm-up included): $A_TOTAL; usage rows stored: $ROWS. wrk drives the daemon as fast as
it goes, above the 20k req/s design point, so the difference is usage rows dropped by the
bounded queue (counted, never blocking a request) rather than stored: at this load the
end-to-end figure undercounts the storage cost that section 1 measures at 20k req/s.
EOF
echo "wrote $OUT"
