#!/usr/bin/env bash
# Runs every test suite and prints one total line "N passed, N failed" as its LAST line.
# Suites: unit (release), unit (ASan+UBSan), store contract on PostgreSQL, integration
# scripts (tests/integration/*.sh), Node clients (tests/clients), fuzz smoke.
#
# Each suite prints its own "N passed, N failed" line; this script adds them up. A suite that
# exits non-zero with 0 failures, prints no summary, or times out counts as (at least) one
# failure. Suite output is shown indented, so the total is the only unindented summary line.
#
# Robustness: every suite runs under `timeout` in its own process group (a hung suite is
# killed with everything it started, after PB_SUITE_TIMEOUT seconds, default 600, or the
# per-suite limit below); processes a suite leaves behind are reported and killed; the
# PostgreSQL server and temp dirs are removed on any exit (trap).
#
# Knobs (environment): PB_JOBS (suites run at once, default 3), PB_SUITE_TIMEOUT (seconds),
# PB_PRIOR_FAILURES (failures counted before this script ran, e.g. a failed build in .ci/run),
# PB_SUITES (regex: run only suites whose name matches), FUZZ_SECONDS (fuzz smoke, default 5).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export PB_BIN="$ROOT/build/planebridge" PB_ASAN_BIN="$ROOT/build-asan/planebridge"
JOBS=${PB_JOBS:-3}
DEFAULT_TIMEOUT=${PB_SUITE_TIMEOUT:-600}
ONLY=${PB_SUITES:-}
total_pass=0 total_fail=${PB_PRIOR_FAILURES:-0}
LOGDIR=$(mktemp -d /tmp/pb-tests.XXXXXX)
PGDIR="" # separate from LOGDIR: pg.sh chowns it to postgres, who must be able to reach it
PGURL=""
T0=$(date +%s)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Suites still running (interrupted run): kill their process groups.
  # TERM first so that their own traps remove their temp dirs, then KILL.
  local f pg running=()
  for f in "$LOGDIR"/*.pgid; do
    [ -e "$f" ] || continue
    [ -e "${f%.pgid}.rc" ] && continue
    pg=$(cat "$f")
    running+=("$pg")
    kill -TERM -- "-$pg" 2>/dev/null
  done
  if [ ${#running[@]} -gt 0 ]; then
    sleep 3
    for pg in "${running[@]}"; do kill -KILL -- "-$pg" 2>/dev/null; done
  fi
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "$PGDIR" ]; then
    bash tests/pg.sh stop "$PGDIR/c" >/dev/null 2>&1
    # pg.sh could not stop it? Do not leave a postmaster running on a deleted directory.
    local pm
    pm=$(head -n 1 "$PGDIR/c/data/postmaster.pid" 2>/dev/null)
    if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
      kill -QUIT "$pm" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pm" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pm" 2>/dev/null
    fi
    rm -rf "$PGDIR"
  fi
  rm -rf "$LOGDIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- suite table
names=() timeouts=() cmds=() envs=()
add() { # add NAME TIMEOUT ENV CMD...   (ENV: space-separated VAR=value list or "-")
  local name=$1 t=$2 e=$3; shift 3
  if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
  names+=("$name") timeouts+=("$t") envs+=("$e") cmds+=("$*")
}

run_one() { # run_one INDEX : runs suite INDEX, leaves LOGDIR/INDEX.{log,rc,pgid}
  local i=$1 t=${timeouts[$1]} e=${envs[$1]} log="$LOGDIR/$1.log"
  local start end rc
  local -a cmd envv=()
  read -r -a cmd <<<"${cmds[$i]}"
  [ "$e" = - ] || read -r -a envv <<<"$e"
  start=$(date +%s%N)
  # timeout puts itself (and so the suite) in a new process group whose id is its pid.
  env ${envv[@]+"${envv[@]}"} timeout -k 15 "$t" "${cmd[@]}" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$LOGDIR/$i.pgid"
  wait "$pid"
  rc=$?
  end=$(date +%s%N)
  [ "$rc" -eq 124 ] && echo "!!! TIMEOUT: suite killed after ${t}s" >>"$log"
  # Anything the suite started and did not stop is still in its process group.
  local left
  left=$(ps -eo pid=,pgid=,stat=,args= | awk -v g="$pid" '$2 == g && $3 !~ /^Z/')
  if [ -n "$left" ]; then
    { echo "!!! LEFTOVER processes of this suite (killed now):"; echo "$left"; } >>"$log"
    kill -TERM -- "-$pid" 2>/dev/null
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null
    echo leftover >"$LOGDIR/$i.leftover"
  fi
  echo "$rc $(((end - start) / 1000000))" >"$LOGDIR/$i.rc"
}

# ---------------------------------------------------------------- PostgreSQL
# A throwaway cluster: no fsync/synchronous commit (every store test creates and drops a
# database, which otherwise waits on checkpoints and fsyncs: about half the suite's time).
if true; then
  PGDIR=$(mktemp -d /tmp/pb-pg.XXXXXX)
  chmod 755 "$PGDIR"
  if PGURL=$(PB_PG_FSYNC=off timeout 120 bash tests/pg.sh start "$PGDIR/c"); then
    export PB_TEST_PG_URL="$PGURL"
    psql -q "$PGURL" -c "ALTER SYSTEM SET synchronous_commit = off" \
      -c "ALTER SYSTEM SET full_page_writes = off" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
    echo "PostgreSQL for this run: $PGURL"
  else
    PGURL=""
    echo "!!! could not start PostgreSQL (counted as one failure)"
    total_fail=$((total_fail + 1))
  fi
fi

# ---------------------------------------------------------------- suites
# Longest first (measured), so that JOBS at a time finish close together; the integration
# scripts mostly wait on daemons and timers, so three at once fit on two cores.
heavy=(sync ingest populate deliver)
add_integration() { add "integration $(basename "$1" .sh)" "$DEFAULT_TIMEOUT" - bash "$1"; }
for h in "${heavy[@]}"; do
  [ -e "tests/integration/$h.sh" ] && add_integration "tests/integration/$h.sh"
  [ "$h" = sync ] || continue
  # right after the longest: the other long ones
  [ -n "$PGURL" ] && add "store contract (postgresql)" 300 "PB_TEST_STORE=$PGURL PB_TEST_STORE_ONLY=1" ./build/pb_unit
  [ -d tests/clients/node_modules ] && add "node clients" 600 - bash tests/clients/run.sh
done
add "unit (asan+ubsan, sqlite)" 600 - ./build-asan/pb_unit
for t in tests/integration/*.sh; do
  [ -e "$t" ] || continue
  [[ " ${heavy[*]} " == *" $(basename "$t" .sh) "* ]] && continue
  add_integration "$t"
done
add "unit (release, sqlite)" 300 - ./build/pb_unit
add "fuzz smoke" 300 - bash tests/fuzz/run.sh
[ -n "$ONLY" ] || [ -d tests/clients/node_modules ] || { echo "!!! tests/clients/node_modules missing (make clients): node clients not run, counted as one failure"; total_fail=$((total_fail + 1)); }

n=${#names[@]}
if [ "$n" -eq 0 ]; then
  echo "!!! no suite selected"
  echo "0 passed, 1 failed"
  exit 1
fi

# Run them, at most JOBS at once; print each suite's output (indented) as it finishes.
shown=()
show_finished() {
  local i rc ms line p f
  for ((i = 0; i < n; i++)); do
    [ -n "${shown[$i]:-}" ] && continue
    [ -e "$LOGDIR/$i.rc" ] || continue
    shown[$i]=1
    read -r rc ms <"$LOGDIR/$i.rc"
    echo "=== ${names[$i]} ($((ms / 1000)).$(((ms % 1000) / 100))s, exit $rc)"
    sed 's/^/  /' "$LOGDIR/$i.log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGDIR/$i.log" | tail -n 1)
    if [ -n "$line" ]; then
      p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
      f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    else
      p=0 f=1
      echo "!!! ${names[$i]} printed no summary (exit $rc): counted as one failure"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      f=1
      echo "!!! ${names[$i]} exited $rc with no failure counted: counted as one failure"
    fi
    [ -e "$LOGDIR/$i.leftover" ] && echo "!!! ${names[$i]} left processes running (killed; see above)"
    total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
    echo "$p $f" >"$LOGDIR/$i.counts"
  done
}

for ((i = 0; i < n; i++)); do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
    wait -n 2>/dev/null
    show_finished
  done
  run_one "$i" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
  wait -n 2>/dev/null
  show_finished
done
wait
show_finished

# ---------------------------------------------------------------- report
echo "=== time per suite (wall seconds; $JOBS at once)"
for ((i = 0; i < n; i++)); do
  read -r rc ms <"$LOGDIR/$i.rc"
  read -r p f <"$LOGDIR/$i.counts"
  status=ok
  [ "$f" -gt 0 ] && status=FAILED
  [ "$rc" -eq 124 ] && status=TIMEOUT
  [ -e "$LOGDIR/$i.leftover" ] && status="$status, LEFT PROCESSES"
  printf '  %6.1fs  %-32s %5s passed %3s failed  %s\n' "$(echo "$ms" | awk '{print $1/1000}')" \
    "${names[$i]}" "$p" "$f" "$status"
done
echo "  total wall time of the suites: $(($(date +%s) - T0))s"
[ -n "${PB_CI_T0:-}" ] && echo "  total wall time including builds: $(($(date +%s) - PB_CI_T0))s"
[ "${PB_PRIOR_FAILURES:-0}" -gt 0 ] && echo "  (includes ${PB_PRIOR_FAILURES} failure(s) counted before the tests: see the build output above)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
