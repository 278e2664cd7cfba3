#!/usr/bin/env bash
# Installs planebridge's build and test dependencies from Debian packages.
# Idempotent: installs only what is missing; a no-op on a prepared machine.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
      libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev
      libyaml-dev libssl-dev postgresql sqlite3 curl wrk nginx-light hyperfine nodejs npm
      procps openssl python3)
# procps (ps), openssl (HMAC in tests/integration/ingest.sh) and python3 (populate.sh) are used
# by the test scripts; ps/pgrep by tests/run_all.sh.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A machine may ship node/npm/python3 outside Debian's packages; accept those.
tmp=()
for p in "${missing[@]+"${missing[@]}"}"; do
  case $p in
    nodejs | npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
    python3) command -v python3 >/dev/null && continue ;;
  esac
  tmp+=("$p")
done
missing=("${tmp[@]+"${tmp[@]}"}")
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# A registry hiccup should not fail CI: try three times.
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    exit 0
  fi
  echo "deps: apt-get failed (attempt $attempt)" >&2
  sleep $((attempt * 5))
done
exit 1
