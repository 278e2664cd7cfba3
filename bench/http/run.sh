#!/usr/bin/env bash
# HTTP core benchmark: planebridge vs Debian's nginx, same machine, same run, loopback only.
#   GET  /healthz            (planebridge: ops module; nginx: `return 200` JSON)
#   POST 3 KB JSON -> 200    (planebridge: /bench/echo, registered only with PB_BENCH_ROUTES=1,
#                             reads the whole body; nginx: `return 200`, discards the body)
# wrk -t2 -c64, BENCH_SECONDS per run (default 3), median of 3 runs after a 1 s warm-up.
# planebridge runs twice: access log off (log_level=warn) and on (one JSON line per request
# written to /dev/null), so the cost of the access log is visible. nginx: access_log off,
# 2 workers; planebridge: 2 HTTP threads. Report: bench/results/http.md.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-$ROOT/build/planebridge}
SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-64}
OUT=$ROOT/bench/results/http.md
for t in wrk nginx curl python3; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "bench http: $t not installed"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$PB_BIN" ] || { echo "bench http: $PB_BIN not built (make build)"; exit 1; }

TMP=$(mktemp -d /tmp/pb-bench-http.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ready() { # URL
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "bench http: $1 never became ready"; return 1
}

# 3 KB JSON body.
python3 - "$TMP/body.json" <<'PY'
import json, sys
pad = "x" * 2900
doc = {"event": "issue.updated", "workspace": "acme", "data": {"id": "4af8e2a4-1a9b-4f6e-9d1c-7a8b9c0d1e2f", "name": "Bench", "pad": pad}}
s = json.dumps(doc)
s = s[:-2] + "x" * (3072 - len(s)) + s[-2:]
open(sys.argv[1], "w").write(s)
PY
cat > "$TMP/post.lua" <<LUA
local f = io.open("$TMP/body.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

# One wrk run -> "rps p99_ms non2xx"
wrk_once() { # URL [lua]
  local url=$1 lua=${2:-} out
  if [ -n "$lua" ]; then out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$lua" "$url" 2>&1)
  else out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$url" 2>&1); fi
  local rps p99 bad
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}')
  bad=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $NF}')
  echo "${rps:-0} ${p99:-0} ${bad:-0}"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS P99 ALL BAD
measure() { # LABEL KEY URL [lua]
  local label=$1 key=$2 url=$3 lua=${4:-} rs=() ps=() bad=0
  local save=$SECS; SECS=1; wrk_once "$url" "$lua" >/dev/null; SECS=$save
  for _ in $(seq 1 "$RUNS"); do
    read -r r p b < <(wrk_once "$url" "$lua")
    rs+=("$r"); ps+=("$p"); bad=$((bad + ${b:-0}))
  done
  RPS[$key]=$(printf '%s\n' "${rs[@]}" | median)
  P99[$key]=$(printf '%s\n' "${ps[@]}" | median)
  ALL[$key]="$(printf '%.0f / ' "${rs[@]}" | sed 's| / $||')"
  BAD[$key]=$bad
  echo "  $label: ${RPS[$key]} req/s (runs ${ALL[$key]}), p99 ${P99[$key]} ms, non-2xx $bad"
}

start_pb() { # NAME LOGLEVEL LOGFILE -> sets PORT
  PORT=$(free_port)
  mkdir -p "$TMP/$1"
  ( cd "$TMP/$1" && PB_BENCH_ROUTES=1 PB_LOG_LEVEL=$2 PB_LOG_FILE=$3 PB_THREADS=2 \
      PB_MASTER_KEY_FILE="$TMP/$1/key" exec "$PB_BIN" serve --listen "127.0.0.1:$PORT" \
      --store "sqlite:$TMP/$1/pb.db" ) 2>"$TMP/$1/stderr" &
  PIDS+=($!)
  PB_PID=$!
  wait_ready "http://127.0.0.1:$PORT/healthz"
}
stop_pb() { kill -TERM "$PB_PID" 2>/dev/null; wait "$PB_PID" 2>/dev/null; }

echo "bench http: ${RUNS} x ${SECS}s per case, wrk -t2 -c$CONNS"
for variant in quiet logged; do
  if [ $variant = quiet ]; then start_pb pb-quiet warn ""; else start_pb pb-logged info /dev/null; fi || exit 1
  echo "planebridge ($variant) on port $PORT"
  measure "GET /healthz" "pb-$variant-get" "http://127.0.0.1:$PORT/healthz"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$TMP/body.json" "http://127.0.0.1:$PORT/bench/echo")
  [ "$code" = 200 ] || { echo "bench http: /bench/echo answered $code (PB_BENCH_ROUTES not honoured?)"; exit 1; }
  measure "POST 3 KB" "pb-$variant-post" "http://127.0.0.1:$PORT/bench/echo" "$TMP/post.lua"
  stop_pb
done

NPORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    default_type application/json;
    location = /healthz { return 200 '{"status":"ok"}'; }
    location = /bench/echo { return 200 '{"ok":true}'; }
  }
}
NGX
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
PIDS+=($!)
wait_ready "http://127.0.0.1:$NPORT/healthz" || exit 1
echo "nginx on port $NPORT"
measure "GET /healthz" "ngx-get" "http://127.0.0.1:$NPORT/healthz"
measure "POST 3 KB" "ngx-post" "http://127.0.0.1:$NPORT/bench/echo" "$TMP/post.lua"

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
row() { # LABEL KEY NGXKEY
  printf '| %s | %.0f | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P99[$2]}" "$(ratio "${RPS[$2]}" "${RPS[$3]}")" "${ALL[$2]}" "${BAD[$2]}"
}
mkdir -p "$(dirname "$OUT")"
{
  echo "# HTTP core: planebridge vs nginx"
  echo
  echo "Generated by \`bench/http/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)."
  echo "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') \`-t2 -c$CONNS\`, ${RUNS} runs x ${SECS}s after a 1 s warm-up, median shown; load generator and servers share the same cores."
  echo "planebridge: libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null) (epoll thread pool, 2 threads); nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') (2 workers, access_log off)."
  echo "POST: 3072-byte JSON body. planebridge reads the whole body and answers {\"ok\":true,\"bytes\":3072}; nginx \`return 200\` discards it."
  echo
  echo "| case | req/s (median) | p99 ms | ratio vs nginx | runs req/s | non-2xx |"
  echo "|---|---|---|---|---|---|"
  row "GET /healthz — planebridge, access log off" pb-quiet-get ngx-get
  row "GET /healthz — planebridge, access log on (/dev/null)" pb-logged-get ngx-get
  row "GET /healthz — nginx" ngx-get ngx-get
  row "POST 3 KB — planebridge, access log off" pb-quiet-post ngx-post
  row "POST 3 KB — planebridge, access log on (/dev/null)" pb-logged-post ngx-post
  row "POST 3 KB — nginx" ngx-post ngx-post
} >"$OUT"
echo "bench http: wrote $OUT"
cat "$OUT"
