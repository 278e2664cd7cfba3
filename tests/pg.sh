#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   bash tests/pg.sh start DIR   -> prints ONLY the connection URL on stdout
#   bash tests/pg.sh stop DIR    -> stops the server and deletes DIR
#
# Uses the distribution's server binaries (`pg_config --bindir`, else the newest
# /usr/lib/postgresql/*/bin). Listens on a random free port on 127.0.0.1 plus a unix socket in
# DIR, trust authentication (loopback only), fsync left on. When run as root the cluster runs
# as the `postgres` user (DIR is chowned to it); otherwise as the calling user.
# Idempotent: `start` on a DIR whose server is already running prints its URL again;
# `stop` on a missing DIR does nothing.
set -euo pipefail

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: bash tests/pg.sh start|stop|url DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
[[ -n $dir && $dir != / ]] || die "refusing to use '$dir'"

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return 0
        fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url_for() {
    echo "postgres://postgres@127.0.0.1:$1/postgres"
}

ready() { # port
    as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$1" -d postgres -U postgres
}

running() {
    [[ -f $dir/data/postmaster.pid ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
    bin=$(find_bindir) || die "PostgreSQL server binaries not found (install the postgresql package)"
    if [[ -d $dir && ! -f $dir/.pb_pg ]] && [[ -n $(ls -A "$dir" 2>/dev/null) ]]; then
        die "$dir exists and is not a pg.sh cluster"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    touch "$dir/.pb_pg"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "user postgres missing (install the postgresql package)"
        chown postgres: "$dir" "$dir/.pb_pg"
        chmod 700 "$dir"
        runuser -u postgres -- test -x "$dir" || die "postgres cannot reach $dir (use a directory under /tmp)"
    fi

    # Already running (idempotent start): print its URL again.
    if [[ -f $dir/port ]] && running; then
        local p
        p=$(cat "$dir/port")
        local i
        for ((i = 0; i < 300; i++)); do
            ready "$p" && { url_for "$p"; return 0; }
            sleep 0.1
        done
        die "server in $dir is running but not accepting connections (see $dir/log)"
    fi

    if [[ ! -f $dir/data/PG_VERSION ]]; then
        rm -rf "$dir/data"
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi

    local attempt port
    for ((attempt = 0; attempt < 10; attempt++)); do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        echo "$port" >"$dir/port"
        [[ $(id -u) -ne 0 ]] || chown postgres: "$dir/port"
        # -W: do not let pg_ctl wait; we poll pg_isready ourselves and watch for early exit.
        if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -W -s \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=${PB_PG_FSYNC:-on} -c max_connections=200" \
            start >&2; then
            continue
        fi
        local i
        for ((i = 0; i < 600; i++)); do # up to ~60 s
            if ready "$port"; then
                url_for "$port"
                return 0
            fi
            # Postmaster gone (port taken between our check and bind, bad config...)?
            if ((i > 5)) && ! running; then
                break
            fi
            sleep 0.1
        done
        if running; then
            as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -s stop >&2 || true
            die "server did not become ready (see $dir/log)"
        fi
        grep -q "could not bind\|Address already in use" "$dir/log" 2>/dev/null || {
            tail -n 20 "$dir/log" >&2 || true
            die "server failed to start"
        }
    done
    die "no free port found"
}

stop() {
    [[ -e $dir ]] || return 0
    [[ -f $dir/.pb_pg ]] || die "$dir is not a pg.sh cluster; not deleting it"
    bin=$(find_bindir) || die "PostgreSQL server binaries not found"
    if [[ -f $dir/data/postmaster.pid ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -s stop >&2 || true
    fi
    rm -rf "$dir"
}

case $cmd in
start) start ;;
stop) stop ;;
url)
    [[ -f $dir/port ]] || die "no cluster in $dir"
    url_for "$(cat "$dir/port")"
    ;;
*) usage ;;
esac
