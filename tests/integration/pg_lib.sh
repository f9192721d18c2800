# pg_lib.sh: a real PostgreSQL 15 (Debian's postgresql-15) for a test, in a temporary directory.
# Source it after lib.sh (or any script defining log and fail; minimal ones are made otherwise).
#
#   start_pg            initdb + postgres on 127.0.0.1:<free port>, unix socket in the temp dir;
#                       exports PG_PORT, PG_PID (the postmaster), PG_DIR, PG_LOG and
#                       PG_URL=postgres://tandem@127.0.0.1:<port>/tandem (a database "tandem")
#   pg_new_db NAME      creates database NAME and prints its URL
#   pg_sql URL SQL      runs SQL with psql (-At: bare values, one row a line)
#   pg_backend_pids URL APP
#                       prints the pids of the backends whose application_name is APP
#   stop_pg             fast shutdown (SIGINT), SIGQUIT then SIGKILL after PG_STOP_TIMEOUT, and
#                       removes the temp dir; also run by the EXIT trap, chained before the one
#                       lib.sh set
#
# Model. PostgreSQL refuses to run as root, and CI runs as root: then the server runs as an
# unprivileged user, PG_USER (default: postgres when that user exists, else nobody), through
# setpriv. Its directory is made with mktemp under /tmp (not under lib.sh's TMP_ROOT, which is
# 0700 root) and chowned to that user. Authentication is trust on 127.0.0.1 and on the socket (a
# throwaway cluster nobody else can reach). The run time is bounded twice: stop_pg by the test, and
# a watchdog that SIGQUITs then SIGKILLs the postmaster once the test's shell is gone (a CTest
# timeout SIGKILLs the script without running its traps). fsync is off unless PG_FSYNC=on (the
# tests do not survive power cuts; the benchmarks turn it on).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_STOP_TIMEOUT=${PG_STOP_TIMEOUT:-20}
PG_PID=""
PG_DIR=""
PG_PORT=""
PG_URL=""
PG_LOG=""

declare -F log >/dev/null || log() { printf '[%s pg] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
declare -F fail >/dev/null || fail() {
    log "FAIL: $*"
    exit 1
}

# The command prefix that runs a program as the server's user (empty when not root).
_pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        local u=${PG_USER:-}
        if [ -z "$u" ]; then
            if getent passwd postgres >/dev/null; then u=postgres; else u=nobody; fi
        fi
        echo "setpriv --reuid=$(id -u "$u") --regid=$(id -g "$u") --clear-groups --"
    fi
}

start_pg() {
    [ -z "$PG_PID" ] || fail "start_pg: PostgreSQL already runs (pid $PG_PID)"
    [ -x "$PG_BIN/postgres" ] || fail "no $PG_BIN/postgres (apt-get install postgresql-15)"
    local as here
    as=$(_pg_as)
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    PG_DIR=$(mktemp -d /tmp/tandem-pg.XXXXXX)
    chmod 700 "$PG_DIR"
    if [ -n "$as" ]; then
        chown "$(echo "$as" | sed 's/.*--reuid=\([0-9]*\) --regid=\([0-9]*\).*/\1:\2/')" "$PG_DIR"
    fi
    PG_LOG="$PG_DIR/postgres.log"
    $as "$PG_BIN/initdb" -D "$PG_DIR/data" -U tandem --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        fail "initdb failed"
    }
    PG_PORT=$("$here/../../scripts/free-ports")
    # shellcheck disable=SC2086
    $as "$PG_BIN/postgres" -D "$PG_DIR/data" -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
        -c unix_socket_directories="$PG_DIR" -c max_connections=100 -c fsync="${PG_FSYNC:-off}" \
        -c shared_buffers=64MB -c log_min_messages=warning \
        -c log_line_prefix='%m [%p] %a ' >"$PG_LOG" 2>&1 &
    PG_PID=$!
    local me=$$ ppid=$PG_PID
    (
        while kill -0 "$me" 2>/dev/null && kill -0 "$ppid" 2>/dev/null; do
            sleep 0.5
        done
        if kill -0 "$ppid" 2>/dev/null; then
            kill -QUIT "$ppid" 2>/dev/null
            sleep 3
            kill -KILL "$ppid" 2>/dev/null
        fi
    ) >/dev/null 2>&1 </dev/null &
    if declare -p _WATCHDOG_PIDS >/dev/null 2>&1; then
        _WATCHDOG_PIDS+=($!) # lib.sh's exit trap stops it
    fi
    local deadline=$((SECONDS + ${START_TIMEOUT:-30}))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
        if ! kill -0 "$PG_PID" 2>/dev/null; then
            tail -n 20 "$PG_LOG" >&2
            PG_PID=""
            fail "postgres exited before it was ready"
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "postgres not ready within ${START_TIMEOUT:-30}s"
        sleep 0.1
    done
    PG_URL=$(pg_new_db tandem)
    export PG_PORT PG_PID PG_DIR PG_LOG PG_URL
    log "postgres pid $PG_PID on 127.0.0.1:$PG_PORT as $(echo "${as:-me}" | cut -c1-40), dir $PG_DIR"
}

pg_sql() {
    timeout -k 5 60 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

pg_new_db() {
    pg_sql "postgres://tandem@127.0.0.1:$PG_PORT/postgres" "CREATE DATABASE \"$1\"" ||
        fail "cannot create database $1"
    echo "postgres://tandem@127.0.0.1:$PG_PORT/$1"
}

pg_backend_pids() {
    pg_sql "$1" "SELECT pid FROM pg_stat_activity WHERE application_name = '$2'"
}

stop_pg() {
    if [ -z "$PG_PID" ]; then
        [ -z "$PG_DIR" ] || [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$PG_DIR" # initdb failed
        PG_DIR=""
        return 0
    fi
    local pid=$PG_PID i
    PG_PID=""
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq $((PG_STOP_TIMEOUT * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "kept $PG_DIR"
    else
        rm -rf "$PG_DIR"
    fi
    log "postgres stopped"
}

# Chain stop_pg before the EXIT trap already set (lib.sh's _cleanup reads $? first: keep it; set +e
# first, or the (exit rc) of a failed test would end the trap before _cleanup).
_pg_prev_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
# shellcheck disable=SC2064
trap "_pg_rc=\$?; set +e; stop_pg; (exit \$_pg_rc); ${_pg_prev_trap:-:}" EXIT
