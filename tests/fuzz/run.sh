#!/usr/bin/env bash
# Runs every built fuzzer (build-fuzz/fuzz_*) for FUZZ_SECONDS (default 5) on its seed corpus
# tests/fuzz/corpus/<name>/. Builds nothing (`make fuzz-build` does). New inputs go to a
# temporary directory (never into git); crash artifacts are kept in $FUZZ_ARTIFACTS
# (default /tmp/pb-fuzz-artifacts) so a failure can be reproduced.
# Prints "PASS name" / "FAIL name" per target and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
SECS=${FUZZ_SECONDS:-5}
ART=${FUZZ_ARTIFACTS:-/tmp/pb-fuzz-artifacts}
mkdir -p "$ART"
pass=0 fail=0 work=""
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
targets=("$BUILD"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "FAIL fuzz (no fuzzers in $BUILD; run make fuzz-build)"
  echo "0 passed, 1 failed"
  exit 1
fi
for bin in "${targets[@]}"; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  name=$(basename "$bin"); short=${name#fuzz_}
  seeds="$ROOT/tests/fuzz/corpus/$short"
  work=$(mktemp -d /tmp/pb-fuzz-corpus.XXXXXX)
  log="$work/log"
  args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$ART/$name-")
  # timeout: libFuzzer's own limits do not cover a hang in its startup or in loading seeds.
  dirs=("$work"); [ -d "$seeds" ] && dirs+=("$seeds")
  timeout -k 5 $((SECS + 60)) "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1 </dev/null
  rc=$?
  [ $rc -eq 124 ] && echo "(timed out after $((SECS + 60))s)" >>"$log"
  if [ $rc -eq 0 ]; then
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "PASS $name (${SECS}s, ${runs:-?} runs)"
    pass=$((pass + 1))
  else
    echo "FAIL $name (exit $rc; artifacts in $ART)"
    # The sanitizer/libFuzzer report (stack included), without the progress lines.
    grep -vE '^(#[0-9]+|INFO:|MERGE|\s*$)' "$log" | grep -A60 -m1 -E 'ERROR|timed out|deadly' | head -n 70
    grep -E 'Test unit written' "$log"
    fail=$((fail + 1))
  fi
  rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
