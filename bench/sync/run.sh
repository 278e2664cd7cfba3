#!/usr/bin/env bash
# Upstream sync benchmark (issue 6). Upstream: a standalone planebridge daemon (SQLite) with one
# project of BENCH_ITEMS (default 100000) work items seeded through the API's serializer
# (bench/api/seed.c). Mirror: a second store connected to it with `workspace-connect`.
#   1. backfill of the work items with the upstream limit off (`sync --no-children`: the
#      per-item lists cost 4 requests per item, which is Plane's API, not the mirror):
#      items/s and peak RSS (/usr/bin/time). Peer, same run: the same pages fetched by node's
#      fetch with the same concurrency (8) and thrown away = what the upstream alone can serve.
#   2. incremental run after 10 work items changed upstream (children included): upstream
#      requests, against the pages a full re-walk would need.
#   3. governor: an upstream key limited to 60 requests/minute and a workspace needing more
#      than 60 requests: requests/minute achieved vs the limit, 429 answers seen.
# Report: bench/results/sync.md.
# Options (environment):
#   BENCH_PG_URL=postgres://...  also backfill the same upstream into a fresh PostgreSQL database
#                                created from that URL (dropped afterwards): items/s, peak RSS
#   BENCH_ONLY_BACKFILL=1        section 1 only (plus PostgreSQL when asked), figures printed,
#                                the report is not written (quick before/after runs, < 1 minute)
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PB_BIN=${PB_BIN:-$ROOT/build/planebridge}
LIB=${PB_LIB:-$(dirname "$PB_BIN")/libpbcore.a}
ITEMS=${BENCH_ITEMS:-100000}
GOV_ITEMS=${BENCH_GOV_ITEMS:-25}
OUT=$ROOT/bench/results/sync.md
for t in curl node cc sqlite3 /usr/bin/time; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench sync: $t not installed"; exit 1; }
done
[ -x "$PB_BIN" ] || { echo "bench sync: $PB_BIN not built"; exit 1; }
[ -f "$LIB" ] || { echo "bench sync: $LIB not found"; exit 1; }

TMP=$(mktemp -d /tmp/pb-bench-sync.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/src" "$ROOT/bench/api/seed.c" "$LIB" \
  $(pkg-config --libs libmicrohttpd libcjson libcurl sqlite3 libpq yaml-0.1 libcrypto) -lpthread -lm \
  -o "$TMP/seed" || { echo "bench sync: cannot build the seed helper"; exit 1; }

jget() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));const v=process.argv[1].split(".").reduce((a,k)=>a==null?a:a[k],o);console.log(v===undefined?"":v)' "$1"; }
pbx() { local n=$1; shift; env PB_STORE="sqlite:$TMP/$n.db" PB_MASTER_KEY_FILE="$TMP/$n.key" PB_LOG_LEVEL=warn \
  PB_LOG_FILE="$TMP/$n.log" "$PB_BIN" "$@"; }
NSTART=0
start_a() { # extra env...; sets PORT
  NSTART=$((NSTART + 1))
  local log="$TMP/a.serve.$NSTART.log"
  env PB_STORE="sqlite:$TMP/a.db" PB_MASTER_KEY_FILE="$TMP/a.key" PB_LOG_LEVEL=info PB_SYNC_DISABLE=1 PB_THREADS=2 "$@" \
    "$PB_BIN" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 400); do
    PORT=$(grep -h '"msg":"listening"' "$log" | head -n1 | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.05
  done
  echo "bench sync: upstream never listened"; return 1
}

# ---------------------------------------------------------------- upstream with ITEMS work items
pbx a migrate >/dev/null && pbx a workspace create bench >/dev/null || exit 1
KEY=$(pbx a user create --email bench@example.com --workspace bench --role admin | tail -n1)
start_a PB_RATE_LIMIT_PER_MIN=1000000 || exit 1
A="http://127.0.0.1:$PORT"
S="$A/api/v1/workspaces/bench"
P=$(curl -sf -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' -d '{"name":"Bench","identifier":"BEN"}' "$S/projects/" | jget id)
UID_=$(curl -sf -H "X-Api-Key: $KEY" "$A/api/v1/users/me/" | jget id)
"$TMP/seed" "sqlite:$TMP/a.db" bench "$P" "$UID_" "$ITEMS" >/dev/null || { echo "bench sync: seeding failed"; exit 1; }
echo "bench sync: upstream has $ITEMS work items"

# ---------------------------------------------------------------- 1. backfill
printf '%s\n' "$KEY" >"$TMP/key.txt"
pbx b migrate >/dev/null
pbx b workspace-connect bench --upstream "$A" --api-key-file "$TMP/key.txt" >/dev/null || exit 1
/usr/bin/time -v -o "$TMP/time.txt" env PB_STORE="sqlite:$TMP/b.db" PB_MASTER_KEY_FILE="$TMP/b.key" PB_LOG_LEVEL=warn \
  PB_LOG_FILE="$TMP/b.log" "$PB_BIN" sync --no-children >"$TMP/backfill.out" 2>&1 </dev/null || { tail -3 "$TMP/backfill.out"; exit 1; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
BF=$(tail -n1 "$TMP/backfill.out")
BF_ITEMS=$(echo "$BF" | jget items)
BF_SECS=$(echo "$BF" | jget seconds)
BF_REQ=$(echo "$BF" | jget requests)
MIRRORED=$(sqlite3 "$TMP/b.db" "SELECT COUNT(*) FROM work_plane_items WHERE item_type='issue'")
BF_RATE=$(echo "$BF" | jget items_per_s)
BF_STORE=$(echo "$BF" | jget store_seconds)
BF_STORE_RATE=$(node -e "console.log(Math.round(${MIRRORED:-0}/Math.max(${BF_STORE},0.001)))")
RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$TMP/time.txt")
VERIFY=$(pbx b verify --shallow 2>&1 | grep accuracy)
echo "bench sync: backfill $BF_ITEMS rows in ${BF_SECS}s = $BF_RATE items/s, peak RSS $RSS_KB kB"
echo "bench sync: mirror side alone ${BF_STORE}s = $BF_STORE_RATE items/s; load average after the backfill: $LOAD"

# the same backfill into PostgreSQL (optional): a fresh database on the server of BENCH_PG_URL
PG_LINE=""
if [ -n "${BENCH_PG_URL:-}" ]; then
  command -v psql >/dev/null 2>&1 || { echo "bench sync: psql not installed"; exit 1; }
  PGDB="pb_bench_sync_$$"
  PG_DBURL="${BENCH_PG_URL%/*}/$PGDB"
  psql -q "$BENCH_PG_URL" -c "CREATE DATABASE $PGDB" >/dev/null || { echo "bench sync: cannot create $PGDB"; exit 1; }
  pbpg() { env PB_STORE="$PG_DBURL" PB_MASTER_KEY_FILE="$TMP/p.key" PB_LOG_LEVEL=warn PB_LOG_FILE="$TMP/p.log" "$PB_BIN" "$@"; }
  pbpg migrate >/dev/null && pbpg workspace-connect bench --upstream "$A" --api-key-file "$TMP/key.txt" >/dev/null &&
    /usr/bin/time -v -o "$TMP/time_pg.txt" env PB_STORE="$PG_DBURL" PB_MASTER_KEY_FILE="$TMP/p.key" PB_LOG_LEVEL=warn \
      PB_LOG_FILE="$TMP/p.log" "$PB_BIN" sync --no-children >"$TMP/backfill_pg.out" 2>&1 </dev/null
  PG_RC=$?
  PG_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  PG_MIRRORED=$(psql -tA "$PG_DBURL" -c "SELECT COUNT(*) FROM work_plane.items WHERE item_type='issue'" 2>/dev/null)
  psql -q "$BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
  [ "$PG_RC" = 0 ] || { tail -3 "$TMP/backfill_pg.out"; exit 1; }
  PGB=$(tail -n1 "$TMP/backfill_pg.out")
  PG_RATE=$(echo "$PGB" | jget items_per_s)
  PG_SECS=$(echo "$PGB" | jget seconds)
  PG_STORE=$(echo "$PGB" | jget store_seconds)
  PG_RSS=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$TMP/time_pg.txt")
  PG_LINE="| PostgreSQL mirror (same upstream, fresh database): $PG_MIRRORED work items in ${PG_SECS} s, store ${PG_STORE} s, peak RSS $((PG_RSS / 1024)) MB, load after: $PG_LOAD | **$PG_RATE items/s** |"
  echo "bench sync: PostgreSQL backfill $PG_MIRRORED work items in ${PG_SECS}s = $PG_RATE items/s (store ${PG_STORE}s), peak RSS $PG_RSS kB, load $PG_LOAD"
fi

# peer: the same pages, 8 concurrent keep-alive fetches (node), bodies read and discarded
PAGES=$(( (ITEMS + 99) / 100 ))
PEER_SECS=$(node "$ROOT/tests/clients/fetch_pages.mjs" "$A" bench "$P" "$KEY" "$PAGES" 8) || { echo "bench sync: peer failed"; exit 1; }
PEER_RATE=$(node -e "console.log(Math.round(${ITEMS}/${PEER_SECS}))")
echo "bench sync: peer (node fetch, 8 at a time) ${PEER_SECS}s = $PEER_RATE items/s"
[ "${BENCH_ONLY_BACKFILL:-0}" = 1 ] && exit 0

# ---------------------------------------------------------------- 2. incremental after 10 changes
IDS=$(curl -sf -H "X-Api-Key: $KEY" "$S/projects/$P/work-items/?per_page=10&fields=id" | node -e '
  const o=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(o.results.map(r=>r.id).join(" "))')
sleep 0.01
for id in $IDS; do
  curl -sf -o /dev/null -X PATCH -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"priority":"urgent"}' "$S/projects/$P/work-items/$id/"
done
pbx b sync >"$TMP/incr.out" 2>&1 </dev/null || { tail -3 "$TMP/incr.out"; exit 1; }
IN=$(tail -n1 "$TMP/incr.out")
IN_REQ=$(echo "$IN" | jget requests)
IN_WRITTEN=$(echo "$IN" | jget written)
IN_SECS=$(echo "$IN" | jget seconds)
echo "bench sync: incremental after 10 changes: $IN_REQ requests, $IN_WRITTEN rows written"

# ---------------------------------------------------------------- 3. 60/min governor run
kill "${PIDS[@]}" 2>/dev/null
wait 2>/dev/null
PIDS=()
pbx a workspace create gov >/dev/null
pbx a user create --email bench@example.com --workspace gov --role admin >/dev/null
LKEY=$(pbx a keys create --user bench@example.com --scopes '*' --workspace gov --rate-limit 60 | tail -n1)
start_a PB_RATE_LIMIT_PER_MIN=1000000 || exit 1
A="http://127.0.0.1:$PORT"
node "$ROOT/tests/clients/sync_helper.mjs" "$A" gov "$KEY" seed "$GOV_ITEMS" >/dev/null || { echo "bench sync: gov seed failed"; exit 1; }
printf '%s\n' "$LKEY" >"$TMP/lkey.txt"
pbx c migrate >/dev/null
pbx c workspace-connect gov --upstream "$A" --api-key-file "$TMP/lkey.txt" >/dev/null || exit 1
pbx c sync >"$TMP/gov.out" 2>&1 </dev/null || { tail -3 "$TMP/gov.out"; exit 1; }
GV=$(tail -n1 "$TMP/gov.out")
GV_REQ=$(echo "$GV" | jget requests)
GV_SECS=$(echo "$GV" | jget seconds)
GV_429=$(echo "$GV" | jget throttled)
GV_RPM=$(node -e "console.log((${GV_REQ}/(${GV_SECS}/60)).toFixed(1))")
# budget share: requests against the budget that became available during the run (a full window
# at the start and one more each 60 s), and time against the least a sliding 60 s window allows
# for that many requests ((ceil(R/L) - 1) windows)
GV_SHARE=$(node -e "const r=${GV_REQ}, s=${GV_SECS}; console.log((100*r/(60*(1+Math.floor(s/60)))).toFixed(1))")
GV_EFF=$(node -e "const r=${GV_REQ}, s=${GV_SECS}; const m=(Math.ceil(r/60)-1)*60; console.log(m>0? (100*m/s).toFixed(1) : 'n/a (fits one window)')")
GV_VERIFY=$(pbx c verify 2>&1 | grep accuracy)
echo "bench sync: 60/min run: $GV_REQ requests in ${GV_SECS}s ($GV_RPM/min), 429s: $GV_429"

{
  echo "# Upstream sync: backfill, incremental, rate governor"
  echo
  echo "Generated by \`bench/sync/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(uname -r)."
  echo "Upstream: a standalone planebridge daemon (SQLite, 2 HTTP threads) holding one project of $ITEMS work"
  echo "items seeded through the API's serializer; mirror: a second SQLite store (synchronous=FULL); all on"
  echo "127.0.0.1, upstream, mirror and the peer client sharing the same cores. Load average right after the"
  echo "backfill: $LOAD (anything above 2 means other processes were competing for the 2 cores)."
  echo
  echo "## 1. Backfill of $ITEMS work items, upstream limit off"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| rows received (work items + states, members, project) | $BF_ITEMS |"
  echo "| work items in the mirror | $MIRRORED |"
  echo "| time | ${BF_SECS} s |"
  echo "| **items/s** (goal >= 20000) | **$BF_RATE** |"
  echo "| upstream requests (per_page=100, 8 concurrent) | $BF_REQ |"
  echo "| **peak RSS of \`planebridge sync\`** (goal < 100 MB) | **$((RSS_KB / 1024)) MB** ($RSS_KB kB) |"
  echo "| peer: the same $PAGES pages fetched 8 at a time by node fetch (keep-alive), bodies discarded | ${PEER_SECS} s = $PEER_RATE items/s |"
  echo "| ratio sync / peer | $(node -e "console.log((${BF_RATE}/${PEER_RATE}).toFixed(2))") |"
  echo "| mirror side alone: work items / time spent applying pages to the store | ${BF_STORE} s = $BF_STORE_RATE items/s |"
  echo "| verify --shallow afterwards | $VERIFY |"
  [ -n "$PG_LINE" ] && echo "$PG_LINE"
  echo
  echo "\`--no-children\`: comments, links, relations and activities are per-work-item lists in Plane's API (4"
  echo "requests per item); with them a backfill of N items costs about 4*N requests and is bound by the"
  echo "upstream's request rate, not by the mirror. The peer shows what the upstream alone can serve."
  echo
  echo "## 2. Incremental run after 10 work items changed (children included)"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| upstream requests | **$IN_REQ** |"
  echo "| a full re-walk of the work items alone would need | $PAGES |"
  echo "| rows written | $IN_WRITTEN |"
  echo "| time | ${IN_SECS} s |"
  echo
  echo "Requests: members, projects, states, labels, project members, cycles, modules, intake (one each), the first"
  echo "work-item page (walk stops at the watermark), and 4 per changed item (comments, links, activities,"
  echo "relations): proportional to the changes, not to the $ITEMS items."
  echo
  echo "## 3. Upstream key limited to 60 requests/minute"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| work items (with comments, links, relations, cycle, module, intake) | $GOV_ITEMS |"
  echo "| requests | $GV_REQ |"
  echo "| time | ${GV_SECS} s |"
  echo "| requests per minute achieved (limit 60) | $GV_RPM |"
  echo "| **share of the budget available during the run that was used** (goal >= 90) | **$GV_SHARE %** |"
  echo "| least possible time under a sliding 60 s window / actual time | $GV_EFF % |"
  echo "| **429 answers** | **$GV_429** |"
  echo "| verify | $GV_VERIFY |"
  echo
  echo "The governor spends the announced X-RateLimit-Remaining (up to 8 requests in flight), waits for"
  echo "X-RateLimit-Reset when it reaches 0, and so uses whole windows without provoking a 429."
  echo
  echo "## Goals"
  echo
  yn() { if node -e "process.exit(($1) ? 0 : 1)"; then echo met; else echo "**not met**"; fi; }
  echo "- backfill >= 20000 items/s: $(yn "${BF_RATE} >= 20000") ($BF_RATE end to end; the mirror side alone"
  echo "  $BF_STORE_RATE items/s; the upstream alone serves $PEER_RATE items/s of these pages, so here the"
  echo "  upstream bounds any mirror). The walk writes a batch of up to 32 pages (4 rounds of 8 requests;"
  echo "  fewer for large pages) in one SQLite transaction with the cursor after its last page"
  echo "  (synchronous=FULL), while the next batch is fetched; upstream, mirror and peer share the 2 cores."
  echo "- peak RSS < 100 MB: $(yn "${RSS_KB} < 102400") ($((RSS_KB / 1024)) MB)"
  echo "- incremental cost proportional to the changes: $IN_REQ requests for 10 changes in $ITEMS items"
  echo "- 60/min: >= 90% of the available budget: $(yn "'${GV_SHARE}' !== 'n/a' && ${GV_SHARE:-0} >= 90") ($GV_SHARE %), zero 429s: $(yn "${GV_429} == 0")"
} >"$OUT"
echo "bench sync: wrote $OUT"
