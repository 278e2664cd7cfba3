#!/usr/bin/env bash
# Profiles the delivery engine: BENCH_N events pre-loaded into the outbox (SQLite), the
# daemon started under `perf record -g` (or PROFILE_CMD), run until the local keep-alive
# receiver has every message. Prints the receiver's rate, the daemon's CPU per delivery and
# the top of `perf report`. Environment: PB_BIN (default build/planebridge), BENCH_N (20000),
# PERF_OUT (perf.data path; default in the temp dir, removed). A benchmark aid, not a test.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-$ROOT/build/planebridge}
case "$PB_BIN" in /*) ;; *) PB_BIN="$ROOT/$PB_BIN" ;; esac
N=${BENCH_N:-20000}
RECV="$ROOT/tests/clients/deliver_receiver.mjs"
T=$(mktemp -d /tmp/pb-prof-deliver.XXXXXX)
PERF_OUT=${PERF_OUT:-$T/perf.data}
DPID="" RPID=""
cleanup() {
  for p in $DPID $RPID; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
unset PB_CONFIG PB_LISTEN PB_DELIVER_SCHEDULE
export PB_STORE="sqlite:$T/pb.db" PB_MASTER_KEY_FILE="$T/master.key" PB_SSRF_ALLOW=127.0.0.1/32 PB_LOG_LEVEL=warn
wait_for() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.05; done; return 1; }
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log('"$1"')'; }
"$PB_BIN" migrate >/dev/null || exit 1
RECV_NOVERIFY=1 RECV_QUIET=1 node "$RECV" >"$T/recv.out" 2>"$T/recv.err" &
RPID=$!
rp() { RPORT=$(awk '/^LISTENING/{print $2}' "$T/recv.out" 2>/dev/null); [ -n "$RPORT" ]; }
RPORT=""; wait_for 10 rp
"$PB_BIN" hooks add --workspace bench --url "http://127.0.0.1:$RPORT/in" >/dev/null 2>&1 || exit 1
node "$ROOT/bench/deliver/outbox_sql.mjs" bulk "$N" | sqlite3 "$T/pb.db" >/dev/null
stats() { curl -s --max-time 5 "http://127.0.0.1:$RPORT/stats"; }
all_n() { [ "$(stats | jget 'j.messages')" -ge "$N" ] 2>/dev/null; }
if command -v perf >/dev/null && [ -z "${NO_PERF:-}" ]; then
  perf record -q ${PERF_CG:--g} -o "$PERF_OUT" -- "$PB_BIN" serve --listen 127.0.0.1:0 >"$T/daemon.log" 2>&1 &
else
  "$PB_BIN" serve --listen 127.0.0.1:0 >"$T/daemon.log" 2>&1 &
fi
DPID=$!
wait_for 300 all_n || echo "incomplete: $(stats | head -c 200)"
S=$(stats)
DP=$(pgrep -P "$DPID" -x planebridge || echo "$DPID")
ticks=$(awk '{print $14 + $15}' "/proc/$DP/stat" 2>/dev/null || echo 0)
kill -TERM "$DP" 2>/dev/null
wait "$DPID" 2>/dev/null; DPID=""
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "messages: $(echo "$S" | jget 'j.messages')  rate: $(echo "$S" | jget 'Math.round((j.messages - 1) / Math.max(0.001, (j.last_ms - j.first_ms) / 1000))')/s  daemon CPU: $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}') us/delivery"
if [ -f "$PERF_OUT" ]; then
  perf report -i "$PERF_OUT" --no-children -g none --sort dso --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -12
  perf report -i "$PERF_OUT" --no-children -g none --sort dso,symbol --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -${PERF_TOP:-40}
fi
