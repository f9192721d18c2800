# shellcheck shell=bash
# cli_load_lib.sh: what the gateway-under-load tests (cli_load_*.sh) share, on top of lib.sh.
#
# Model: one test = one system started by the real `tandem up --detach` from a manifest written
# into the test's temp dir: a tandem-broker, example-hello with N instances (`system_up N`; one
# worker each, so four instances fit two cores under ASan) and nginx as the gateway, every port
# free on 127.0.0.1. The route /hello is NOT cached, so every GET reaches an instance and the
# test sees what scaling and crashes do to the upstreams. Load comes from tandem-load
# (bench/load/), which counts failures by kind and resends idempotent requests only after the
# keep-alive race (counted as retried, allowed here).
#
# Every test ends with check_restarts (no process restarted but those the test killed, each
# exactly as often as expected) and system_stop (`tandem down` exits 0, everything is gone, no
# sanitizer report in any log): an instance crashing under load is a failure even when nginx
# hid it from the client by retrying elsewhere.
#
# Invariants: everything is stopped at exit, whatever happens: if the test did not reach
# system_stop, `tandem down`, then SIGTERM and SIGKILL to the supervisor named in
# var/tandem/lock (its children get SIGTERM when it dies); every tandem call goes through `within`.
#
# Environment (tests/integration/cli_load.cmake): TANDEM_CLI (the tandem binary), TANDEM_LOAD
# (tandem-load), EXAMPLE_HELLO, TANDEM_BROKER, plus lib.sh's.

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TANDEM_CLI:?TANDEM_CLI must name the tandem binary}"
: "${TANDEM_LOAD:?TANDEM_LOAD must name tandem-load}"
: "${EXAMPLE_HELLO:?EXAMPLE_HELLO must name example-hello}"

SYS="$TMP_ROOT/sys"
MANIFEST="$SYS/tandem.yaml"

FREE_PORTS="$(dirname "${BASH_SOURCE[0]}")/../../scripts/free-ports"
free_port() { "$FREE_PORTS"; }
# A base port with `n` consecutive free ports (the instances of one service).
free_range() { "$FREE_PORTS" "$1"; }

tandem() {
    within 90 "$TANDEM_CLI" -f "$MANIFEST" "$@"
}

# system_up N: writes the manifest (N hello instances) and runs `tandem up --detach`; exports
# GATEWAY (the URL base).
system_up() {
    local instances=$1 bport gport hport
    mkdir -p "$SYS"
    bport=$(free_port)
    gport=$(free_port)
    hport=$(free_range 8)
    cat >"$MANIFEST" <<YAML
broker: { listen: 127.0.0.1:$bport, data_dir: var/broker, binary: $TANDEM_BROKER }
gateway: { listen: 127.0.0.1:$gport }
services:
  hello:
    binary: $EXAMPLE_HELLO
    instances: $instances
    port: $hport
    env: { TANDEM_WORKERS: "1", TANDEM_LOG_LEVEL: warn }
    depends_on: [broker]
    routes:
      - { path: /hello }
      - { path: /greetings, methods: [POST] }
YAML
    log "manifest: broker $bport, gateway $gport, hello from $hport x$instances"
    local t0=$SECONDS
    tandem up --detach >"$TMP_ROOT/up.out" 2>&1 || {
        cat "$TMP_ROOT/up.out" >&2
        dump_logs
        fail "tandem up --detach failed"
    }
    log "tandem up --detach returned after $((SECONDS - t0)) s"
    GATEWAY="http://127.0.0.1:$gport"
    export GATEWAY
}

dump_logs() {
    local f
    for f in "$SYS"/var/tandem/supervisor.log "$SYS"/var/tandem/logs/* "$SYS"/var/gateway/error.log; do
        [ -s "$f" ] || continue
        echo "---- last 15 lines of $f ----" >&2
        tail -n 15 "$f" >&2
    done
}

supervisor_pid() {
    [ -s "$SYS/var/tandem/lock" ] && tr -d '[:space:]' <"$SYS/var/tandem/lock"
}

# The logs of every process of the system (the instances' logs are appended over restarts).
system_logs() {
    echo "$SYS"/var/tandem/logs/*.log "$SYS"/var/tandem/supervisor.log
}

# system_stop: the end of every test. `tandem down` must exit 0, the supervisor and every process
# ps showed must be gone, and no log may hold a sanitizer report (an instance that aborted under
# ASan and was restarted, with nginx retrying its requests elsewhere, leaves only that trace).
SYSTEM_STOPPED=0
system_stop() {
    local pids rc=0 sup p
    sup=$(supervisor_pid) || fail "no supervisor pid in $SYS/var/tandem/lock"
    pids=$(ps_json | python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["pid"]) for l in sys.stdin if l.strip() and json.loads(l)["pid"] > 0))') ||
        fail "tandem ps --json failed"
    tandem down >"$TMP_ROOT/down.out" 2>&1 || rc=$?
    SYSTEM_STOPPED=1
    if [ "$rc" -ne 0 ]; then
        cat "$TMP_ROOT/down.out" >&2
        dump_logs
        fail "tandem down: exit $rc"
    fi
    for _ in $(seq 50); do # down answers just before the supervisor exits
        kill -0 "$sup" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$sup" 2>/dev/null && record_failure "the supervisor $sup still runs 5 s after tandem down"
    for p in $pids; do
        kill -0 "$p" 2>/dev/null && record_failure "pid $p still runs after tandem down"
    done
    # shellcheck disable=SC2046 # the paths have no spaces (mktemp)
    if sanitizer_reports $(system_logs); then
        record_failure "a sanitizer report in the logs above"
    fi
    log "tandem down: $(echo "$pids" | wc -w) processes gone"
}

# The exit trap's stop, when the test failed before system_stop: best effort, `tandem down` then
# SIGTERM and SIGKILL to the supervisor.
system_down() {
    [ -f "$MANIFEST" ] && [ "$SYSTEM_STOPPED" = 0 ] || return 0
    local pid
    pid=$(supervisor_pid || true)
    within 60 "$TANDEM_CLI" -f "$MANIFEST" down >/dev/null 2>&1 ||
        log "tandem down failed in the exit trap"
    for _ in $(seq 50); do # down answers just before the supervisor exits
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "the supervisor $pid outlived tandem down: SIGTERM, then SIGKILL"
        _kill_pid "$pid"
    fi
}

# The exit trap: the system first, then lib.sh's cleanup with the script's exit code.
_on_exit() {
    local rc=$?
    set +e
    system_down
    (exit "$rc")
    _cleanup
}
trap _on_exit EXIT

# check_restarts [NAME=COUNT...]: every process in ps (broker, gateway, each instance, removed
# ones included) was restarted 0 times and is not failed or restarting, except each NAME (e.g.
# hello.0), restarted exactly COUNT times.
check_restarts() {
    local rows bad
    rows=$(ps_json) || fail "tandem ps --json failed"
    bad=$(python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
seen = set()
for line in sys.stdin:
    if not line.strip():
        continue
    o = json.loads(line)
    name = o["name"]
    seen.add(name)
    n, st, r = int(want.get(name, 0)), o["state"], o["restarts"]
    if r != n or st in ("failed", "restarting"):
        print(f"{name}: state {st}, restarts {r} (expected {n})")
for name in want:
    if name not in seen:
        print(f"{name}: not in ps")
' "$@" <<<"$rows") || fail "check_restarts: cannot read tandem ps --json"
    if [ -n "$bad" ]; then
        dump_logs
        record_failure "unexpected restarts: $bad"
        return 0
    fi
    log "restarts: as expected (${*:-none})"
}

# ps_json: `tandem ps --json`, one object per line.
ps_json() {
    tandem ps --json
}

# hello_rows: "instance state pid restarts ready in_upstream" per hello instance, from ps --json.
hello_rows() {
    ps_json | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    o = json.loads(line)
    if o["service"] == "hello":
        print(o["instance"], o["state"], o["pid"], o["restarts"], o["ready"], o["in_upstream"])
'
}

# expect_hello N: ps shows exactly N hello instances ready and in the upstream (0..N-1); every
# other row is out of the upstream and stopped or stopping (a removed instance may still drain).
expect_hello() {
    local n=$1 rows
    rows=$(hello_rows) || fail "tandem ps --json failed"
    local got
    got=$(awk '$5 == "True" && $6 == "True" { c++ } END { print c + 0 }' <<<"$rows")
    if [ "$got" != "$n" ] ||
        awk -v n="$n" '($1 < n && $5 != "True") ||
                       ($1 >= n && ($6 == "True" || ($2 != "stopped" && $2 != "stopping"))) { bad = 1 }
                       END { exit !bad }' <<<"$rows"; then
        record_failure "ps after scale to $n: expected instances 0..$((n - 1)) ready, got:
$rows"
        return 0
    fi
    log "ps: $n hello instance(s) ready and in the upstream"
}

# start_load OUT ARGS...: tandem-load in the background (ended by stop_load), JSON into OUT.
LOAD_PIDS=()
start_load() {
    local out=$1
    shift
    "$TANDEM_LOAD" --json --allow-failures -d 100 "$@" >"$out" 2>"$out.err" &
    LOAD_PIDS+=($!)
    track $!
}

# stop_load: SIGTERM every load generator (they finish their requests in flight, print their
# summary) and waits for them.
stop_load() {
    local p
    for p in "${LOAD_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${LOAD_PIDS[@]}"; do
        wait "$p" || record_failure "tandem-load $p exited with code $?"
    done
    LOAD_PIDS=()
}

# load_field FILE EXPR: a value from tandem-load's JSON summary (python expression over o).
load_field() {
    python3 -c 'import json, sys; o = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
