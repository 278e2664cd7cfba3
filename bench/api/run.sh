#!/usr/bin/env bash
# Plane-compatible API benchmark: a project of BENCH_ITEMS (default 100000) work items, seeded
# through the API module's own serializer (bench/api/seed.c), then wrk against the real
# daemon (2 HTTP threads, access log off, auth + usage logging on as in production):
#   detail   GET .../work-items/{id}/ for random ids
#   list     GET .../work-items/?per_page=100 on the first 10 pages (a sync walk's head)
#   deep     GET .../work-items/?per_page=100 on random pages across the whole project
# on SQLite and on PostgreSQL (started from Debian's packages through tests/pg.sh). Peer: nginx
# serving the very same response bytes from files (the cost of HTTP + bytes alone), same run.
# wrk -t2, BENCH_SECONDS per run (default 3), median of BENCH_RUNS (3) after a 1 s warm-up.
# Report: bench/results/api.md (BENCH_OUT=FILE writes elsewhere, e.g. for A/B runs of two builds).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-$ROOT/build/planebridge}
LIB=${PB_LIB:-$(dirname "$PB_BIN")/libpbcore.a}
SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
ITEMS=${BENCH_ITEMS:-100000}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
DCONNS=${BENCH_DETAIL_CONNS:-32}
OUT=${BENCH_OUT:-$ROOT/bench/results/api.md}
for t in wrk curl python3 cc; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench api: $t not installed"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$PB_BIN" ] || { echo "bench api: $PB_BIN not built (make build)"; exit 1; }
[ -f "$LIB" ] || { echo "bench api: $LIB not found"; exit 1; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/pb-bench-api.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) read the peer's files below it
PIDS=()
PGDIR=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "$PGDIR" ] && bash "$ROOT/tests/pg.sh" stop "$PGDIR" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

# The seeding helper, linked against the same library as the daemon.
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/src" "$ROOT/bench/api/seed.c" "$LIB" \
  $(pkg-config --libs libmicrohttpd libcjson libcurl sqlite3 libpq yaml-0.1 libcrypto) -lpthread -lm \
  -o "$TMP/seed" || { echo "bench api: cannot build the seed helper"; exit 1; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 400); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "bench api: $1 never became ready"; return 1
}

wrk_once() { # URL LUA CONNS -> "rps p99_ms non2xx"
  local out rps p99 bad
  out=$(wrk -t2 -c"$3" -d"${SECS}s" --latency -s "$2" "$1" 2>&1)
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}')
  bad=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $NF}')
  echo "${rps:-0} ${p99:-0} ${bad:-0}"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A RPS P99 ALL BAD
measure() { # LABEL KEY URL LUA CONNS
  local rs=() ps=() bad=0 save=$SECS r p b
  SECS=1; wrk_once "$3" "$4" "$5" >/dev/null; SECS=$save
  for _ in $(seq 1 "$RUNS"); do
    read -r r p b < <(wrk_once "$3" "$4" "$5")
    rs+=("$r"); ps+=("$p"); bad=$((bad + ${b:-0}))
  done
  RPS[$2]=$(printf '%s\n' "${rs[@]}" | median)
  P99[$2]=$(printf '%s\n' "${ps[@]}" | median)
  ALL[$2]="$(printf '%.0f / ' "${rs[@]}" | sed 's| / $||')"
  BAD[$2]=$bad
  echo "  $1: ${RPS[$2]} req/s (runs ${ALL[$2]}), p99 ${P99[$2]} ms, non-2xx $bad"
}

lua_paths() { # FILE-OF-PATHS KEY OUT.lua : each request picks a random path from the file
  cat >"$3" <<LUA
local paths = {}
for line in io.lines("$1") do paths[#paths + 1] = line end
math.randomseed(os.time())
wrk.headers["X-Api-Key"] = "$2"
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
LUA
}

declare -A SEEDMS NOTE
run_backend() { # sqlite|postgres
  local b=$1 dir=$TMP/$1 store port key pid uid S P
  mkdir -p "$dir"
  if [ "$b" = sqlite ]; then
    store="sqlite:$dir/pb.db"
  else
    PGDIR=$TMP/pg
    local base
    base=$(bash "$ROOT/tests/pg.sh" start "$PGDIR") || { echo "bench api: PostgreSQL did not start"; return 1; }
    psql "$base" -qc "CREATE DATABASE pbbench" || return 1
    store=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/pbbench").geturl())' "$base")
  fi
  export PB_STORE=$store PB_MASTER_KEY_FILE=$dir/master.key PB_LOG_LEVEL=warn PB_LOG_FILE=$dir/daemon.log \
    PB_RATE_LIMIT_PER_MIN=1000000 PB_THREADS=2
  "$PB_BIN" migrate >/dev/null || return 1
  "$PB_BIN" workspace create bench >/dev/null || return 1
  key=$("$PB_BIN" user create --email bench@example.com --workspace bench --role admin | tail -n1)
  port=$(free_port)
  "$PB_BIN" serve --listen "127.0.0.1:$port" 2>"$dir/stderr" &
  pid=$!
  PIDS+=("$pid")
  wait_ready "http://127.0.0.1:$port/readyz" || return 1
  S="http://127.0.0.1:$port/api/v1/workspaces/bench"
  P=$(curl -sf -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
      -d '{"name":"Bench","identifier":"BEN"}' "$S/projects/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  uid=$(curl -sf -H "X-Api-Key: $key" "http://127.0.0.1:$port/api/v1/users/me/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local t0 t1
  t0=$(date +%s%N)
  "$TMP/seed" "$store" bench "$P" "$uid" "$ITEMS" || return 1
  t1=$(date +%s%N)
  SEEDMS[$b]=$(( (t1 - t0) / 1000000 ))
  if [ "$b" = postgres ]; then # which storage the list pages read (migration 0009: jsonb -> text)
    echo "bench api [postgres]: work_plane.items.raw is $(psql "$store" -tAc "SELECT data_type FROM information_schema.columns WHERE table_schema='work_plane' AND table_name='items' AND column_name='raw'")"
  fi
  # ids for detail reads: 1000 from the newest page and 1000 from the oldest
  local base_path="/api/v1/workspaces/bench/projects/$P/work-items/"
  local pages=$(( (ITEMS + 99) / 100 ))
  for c in "1000:0:0" "1000:$(( (ITEMS - 1) / 1000 )):0"; do
    curl -sf -H "X-Api-Key: $key" "$S/projects/$P/work-items/?per_page=1000&cursor=$c&fields=id"
    echo
  done | python3 -c '
import json, sys
base = sys.argv[1]
for line in sys.stdin:
    line = line.strip()
    if line:
        for r in json.loads(line)["results"]:
            print(base + r["id"] + "/")' "$base_path" >"$dir/detail.txt"
  for i in $(seq 0 9); do echo "${base_path}?per_page=100&cursor=100:$i:0"; done >"$dir/list.txt"
  for i in $(seq 0 $((pages - 1))); do echo "${base_path}?per_page=100&cursor=100:$i:0"; done >"$dir/deep.txt"
  lua_paths "$dir/detail.txt" "$key" "$dir/detail.lua"
  lua_paths "$dir/list.txt" "$key" "$dir/list.lua"
  lua_paths "$dir/deep.txt" "$key" "$dir/deep.lua"
  local got
  got=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $key" "http://127.0.0.1:$port$(head -n1 "$dir/detail.txt")")
  [ "$got" = 200 ] || { echo "bench api: detail read answered $got"; return 1; }
  # the same bytes for the nginx peer
  mkdir -p "$TMP/www"
  chmod 755 "$TMP/www"
  curl -sf -H "X-Api-Key: $key" "http://127.0.0.1:$port$(head -n1 "$dir/detail.txt")" >"$TMP/www/detail-$b.json"
  curl -sf -H "X-Api-Key: $key" "http://127.0.0.1:$port$(head -n1 "$dir/list.txt")" >"$TMP/www/list-$b.json"
  echo "bench api [$b]: $ITEMS items seeded in ${SEEDMS[$b]} ms; detail $(wc -c <"$TMP/www/detail-$b.json") B, list page $(wc -c <"$TMP/www/list-$b.json") B"
  measure "detail GET" "$b-detail" "http://127.0.0.1:$port" "$dir/detail.lua" "$DCONNS"
  measure "list per_page=100, pages 0-9" "$b-list" "http://127.0.0.1:$port" "$dir/list.lua" 32
  measure "list per_page=100, random page of $pages" "$b-deep" "http://127.0.0.1:$port" "$dir/deep.lua" 32
  kill -TERM "$pid"; wait "$pid" 2>/dev/null
  if [ "$b" = postgres ]; then bash "$ROOT/tests/pg.sh" stop "$PGDIR" >/dev/null 2>&1; PGDIR=""; fi
  unset PB_STORE
}

for b in $BACKENDS; do
  run_backend "$b" || { echo "bench api: $b failed"; exit 1; }
done

# Peer: nginx serving the same response bytes from files.
NPORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<NGX
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
  default_type application/json;
  server { listen 127.0.0.1:$NPORT; root $TMP/www; }
}
NGX
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
PIDS+=($!)
first=$(echo "$BACKENDS" | awk '{print $1}')
wait_ready "http://127.0.0.1:$NPORT/detail-$first.json" || exit 1
echo "/detail-$first.json" >"$TMP/ngx-detail.txt"
echo "/list-$first.json" >"$TMP/ngx-list.txt"
lua_paths "$TMP/ngx-detail.txt" none "$TMP/ngx-detail.lua"
lua_paths "$TMP/ngx-list.txt" none "$TMP/ngx-list.lua"
echo "nginx peer (same bytes from files)"
measure "detail bytes" "ngx-detail" "http://127.0.0.1:$NPORT" "$TMP/ngx-detail.lua" "$DCONNS"
measure "list page bytes" "ngx-list" "http://127.0.0.1:$NPORT" "$TMP/ngx-list.lua" 32

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
row() { printf '| %s | %.0f | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P99[$2]}" "$(ratio "${RPS[$2]}" "${RPS[$3]}")" "${ALL[$2]}" "${BAD[$2]}"; }
mkdir -p "$(dirname "$OUT")"
{
  echo "# Plane-compatible API: detail reads and list pages over $ITEMS work items"
  echo
  echo "Generated by \`bench/api/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)."
  echo "wrk \`-t2 -c$DCONNS\` for detail, \`-t2 -c32\` for lists, ${RUNS} runs x ${SECS}s after a 1 s warm-up, median shown; wrk, the daemon and the database share the same cores."
  echo "planebridge: 2 HTTP threads, access log off (log_level=warn), API-key auth, scope and rate checks and usage logging on, rate limit raised out of the way."
  echo "One project of $ITEMS work items seeded through the API's serializer (SQLite: ${SEEDMS[sqlite]:-n/a} ms, PostgreSQL: ${SEEDMS[postgres]:-n/a} ms)."
  echo "Detail: random ids from the newest and oldest 1000. List: \`per_page=100\` with Plane's cursor; \"pages 0-9\" is the head of a sync walk, \"random page\" spreads offsets over the whole project (offset pagination: cost grows with the offset, as in Plane)."
  echo "Peer: nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') (2 workers) serving the very same response bytes from files, so the ratio is the price of auth + store + JSON over pure HTTP delivery."
  echo "Goals (issue 4): detail p99 < 5 ms at 20k req/s; list pages at 5k req/s."
  echo "Machine load average (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) — the 2 cores are shared with other jobs, so compare rows of one run, not runs."
  echo
  echo "| case | req/s (median) | p99 ms | ratio vs nginx | runs req/s | non-2xx |"
  echo "|---|---|---|---|---|---|"
  for b in $BACKENDS; do
    row "$b: detail GET" "$b-detail" ngx-detail
    row "$b: list per_page=100, pages 0-9" "$b-list" ngx-list
    row "$b: list per_page=100, random page" "$b-deep" ngx-list
  done
  row "nginx: detail bytes from a file" ngx-detail ngx-detail
  row "nginx: list page bytes from a file" ngx-list ngx-list
  echo
  echo "Notes:"
  echo "- Detail reads copy the stored JSON row into the response (no re-serialisation); per request the API runs at most two indexed queries (project access is cached for 1 s, positive answers only) after the auth module's key check."
  echo "- List pages read the cached listable count (projects.visible_issues) and one page of stored rows from a partial index; on deep pages (offset >= 1000) PostgreSQL walks the offset index-only (deferred join written as = ANY(ARRAY(subquery)), which keeps primary-key lookups under generic plans)."
  echo "- \"random page\" is Plane's offset pagination at its worst: the cost grows with the page number on both engines (Plane's own paginator slices a queryset the same way)."
} >"$OUT"
echo "bench api: wrote $OUT"
cat "$OUT"
