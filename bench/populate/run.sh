#!/usr/bin/env bash
# Populate benchmark: a 1000-item template (1 parent + 999 children, 3 cycles, 4 labels)
# applied
#   1. to the local standalone workspace, in-process (items/s);
#   2. through the REST client to a second planebridge acting as an unlimited upstream
#      (items/s, request count: the count does not depend on the budget);
#   3. through the REST client to an upstream limited to BUDGET requests/minute (default 120)
#      with a smaller template (GOVERNED_ITEMS, default 150), to show the governor waiting
#      instead of provoking 429s;
# and reports, for a 60/min upstream, the floor wall time of the 1000-item template: its
# request count beyond the first window divided by the budget. FULL=1 also runs the
# 1000-item template against a real 60/min upstream (about 17 minutes).
# Writes bench/results/populate.md. Environment: PB_BIN (default build/planebridge);
# KEEP_TMP=1 keeps the temp dir (stores, daemon logs, apply JSON) for inspection.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${PB_BIN:-$ROOT/build/planebridge}
N=${N:-1000}
BUDGET=${BUDGET:-120}
GOVERNED_ITEMS=${GOVERNED_ITEMS:-150}
OUT=$ROOT/bench/results/populate.md
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "populate bench: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
jget() { python3 -c "import json,sys; r=json.load(open('$1')); print(eval('r' + sys.argv[1]))" "$2"; }

# template + vars
gen() { # gen N IDENT DIR
  local n=$1 ident=$2 dir=$3
  mkdir -p "$dir"
  cat > "$dir/big.yaml" <<YAML
template: bench-big
variables:
  keys: {type: list}
anchor_date: "2030-01-06"
project:
  name: Bench $ident
  identifier: $ident
  labels: [{name: alpha}, {name: beta}, {name: gamma}, {name: delta}]
  cycles:
    - {key: c1, name: Cycle 1, start_date: +0d, end_date: +6d}
    - {key: c2, name: Cycle 2, start_date: +7d, end_date: +13d}
    - {key: c3, name: Cycle 3, start_date: +14d, end_date: +20d}
items:
  - key: parent
    name: Parent
    children:
      - for_each: keys
        key: "{{item}}"
        name: "Task {{item}}"
        priority: medium
        labels: [alpha, gamma]
        cycle: c2
        due: +10d
        description: "Benchmark item **{{item}}** with a [link](https://example.com/{{item}})."
YAML
  python3 -c "print('keys: [' + ', '.join('t%d' % i for i in range(1, $n)) + ']')" > "$dir/vars.yaml"
}

init_store() { # init_store DIR SLUG
  export PB_STORE="sqlite:$1/pb.db" PB_MASTER_KEY_FILE="$1/master.key" PB_LOG_LEVEL=warn
  "$BIN" init >/dev/null 2>&1 || return 1
  "$BIN" workspace create "$2" >/dev/null || return 1
  "$BIN" user create --email bench@example.com --workspace "$2" --role admin
}

start_upstream() { # start_upstream DIR RATE -> sets UP_PORT, UP_KEY (no subshell: PIDS must see the daemon)
  local dir=$1 rate=$2
  mkdir -p "$dir"
  UP_PORT=$(free_port)
  UP_KEY=$(init_store "$dir" up | tail -n1) || return 1
  PB_STORE="sqlite:$dir/pb.db" PB_MASTER_KEY_FILE="$dir/master.key" PB_LISTEN=127.0.0.1:$UP_PORT \
    PB_RATE_LIMIT_PER_MIN=$rate PB_LOG_FILE=$dir/daemon.log "$BIN" serve >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$UP_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.05
  done
}

echo "populate bench: $N items, binary $BIN"
gen "$N" BIG "$T/tpl"

# 1. local, in-process
mkdir -p "$T/local"
init_store "$T/local" bench >/dev/null
"$BIN" policy bench explicit >/dev/null
t0=$(now)
"$BIN" apply "$T/tpl/big.yaml" --workspace bench --vars "$T/tpl/vars.yaml" > "$T/local.json" || { echo "local apply failed"; exit 1; }
t1=$(now)
local_s=$(python3 -c "print(round($t1-$t0,3))")
local_req=$(jget "$T/local.json" "['requests']['total']")
t0=$(now)
"$BIN" apply "$T/tpl/big.yaml" --workspace bench --vars "$T/tpl/vars.yaml" > "$T/local2.json"
t1=$(now)
local2_s=$(python3 -c "print(round($t1-$t0,3))")
local2_req=$(jget "$T/local2.json" "['requests']['total']")

# 2. unlimited upstream
start_upstream "$T/up1" 1000000
UPORT=$UP_PORT UKEY=$UP_KEY
mkdir -p "$T/op1"
init_store "$T/op1" op >/dev/null # exports the operator's store for the commands below
"$BIN" policy op explicit >/dev/null
t0=$(now)
PB_UPSTREAM_API_KEY=$UKEY "$BIN" apply "$T/tpl/big.yaml" --workspace op --vars "$T/tpl/vars.yaml" \
  --upstream "http://127.0.0.1:$UPORT" --upstream-workspace up > "$T/up.json" || { echo "upstream apply failed"; exit 1; }
t1=$(now)
up_s=$(python3 -c "print(round($t1-$t0,3))")
up_req=$(jget "$T/up.json" "['requests']['total']")
up_w=$(jget "$T/up.json" "['requests']['writes']")
up_r=$(jget "$T/up.json" "['requests']['reads']")
up_429=$(jget "$T/up.json" "['requests']['throttled']")
PB_UPSTREAM_API_KEY=$UKEY "$BIN" apply "$T/tpl/big.yaml" --workspace op --vars "$T/tpl/vars.yaml" \
  --upstream "http://127.0.0.1:$UPORT" --upstream-workspace up > "$T/up2.json"
up2_req=$(jget "$T/up2.json" "['requests']['total']")

# 3. governed upstream (BUDGET/min), smaller template
gen "$GOVERNED_ITEMS" GOV "$T/tplg"
start_upstream "$T/up2" "$BUDGET"
GPORT=$UP_PORT GKEY=$UP_KEY
t0=$(now)
PB_UPSTREAM_API_KEY=$GKEY timeout 300 "$BIN" apply "$T/tplg/big.yaml" --workspace op --vars "$T/tplg/vars.yaml" \
  --upstream "http://127.0.0.1:$GPORT" --upstream-workspace up > "$T/gov.json" || { echo "governed apply failed"; exit 1; }
t1=$(now)
gov_s=$(python3 -c "print(round($t1-$t0,1))")
gov_req=$(jget "$T/gov.json" "['requests']['total']")
gov_429=$(jget "$T/gov.json" "['requests']['throttled']")
gov_floor=$(python3 -c "r=$gov_req; b=$BUDGET; print(round(max(0, r-b)/b*60,1))")

full_line="not run (FULL=1 runs it: about 17 minutes)"
if [ "${FULL:-0}" = 1 ]; then
  start_upstream "$T/up3" 60
  FPORT=$UP_PORT FKEY=$UP_KEY
  echo "60/min run: $N items against 127.0.0.1:$FPORT (dir $T/up3), started $(date -u +%H:%M:%SZ)"
  t0=$(now)
  PB_UPSTREAM_API_KEY=$FKEY "$BIN" apply "$T/tpl/big.yaml" --workspace op --vars "$T/tpl/vars.yaml" --instance full \
    --upstream "http://127.0.0.1:$FPORT" --upstream-workspace up > "$T/full.json" || { echo "60/min apply failed"; exit 1; }
  t1=$(now)
  full_line="$(python3 -c "print(round(($t1-$t0)/60,2))") min, $(jget "$T/full.json" "['requests']['total']") requests, $(jget "$T/full.json" "['requests']['throttled']") x 429"
fi

floor_min=$(python3 -c "print(round(max(0, $up_req-60)/60, 2))")
items=$N
cat > "$OUT" <<MD
# populate benchmark

$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $("$BIN" version | head -n1). Template: $items work items
(1 parent + $((items - 1)) children, each with 2 labels, a cycle, a due date and a Markdown
description), 4 labels, 3 cycles. Reproduce: \`bash bench/populate/run.sh\` (FULL=1 adds the real
60/min run).

| run | wall time | requests (reads + writes) | items/s | 429s |
|---|---|---|---|---|
| local standalone workspace, in-process | ${local_s} s | ${local_req} | $(python3 -c "print(round($items/$local_s))") | - |
| local, second apply (no change) | ${local2_s} s | ${local2_req} | - | - |
| upstream planebridge, unlimited budget | ${up_s} s | ${up_req} (${up_r} + ${up_w}) | $(python3 -c "print(round($items/$up_s))") | ${up_429} |
| upstream, second apply (no change) | - | ${up2_req} | - | - |
| upstream at ${BUDGET}/min, ${GOVERNED_ITEMS} items | ${gov_s} s (floor ${gov_floor} s) | ${gov_req} | - | ${gov_429} |
| upstream at 60/min, $items items | ${full_line} | | | |

Request count for $items items against a 60/min upstream: **${up_req}** = $items work-item POSTs
(Plane CE has no bulk create) + project, labels, cycles, one membership POST per cycle and a
handful of listings (per_page=1000, skipped for a project created in the run). Floor at
60/min: (${up_req} - 60 burst) / 60 = **${floor_min} min**; the governor keeps to the budget
(no 429: see the ${BUDGET}/min row). Wall time is whole budget windows: once the budget is spent the
governor waits for X-RateLimit-Reset (Plane always sends now + 60 s) before it probes again,
so the 1000-item run takes about ceil(requests / 60) = 17 windows, one more than the floor. A re-apply of an unchanged template costs ${up2_req}
requests (listings only, no writes).
MD
cat "$OUT"
