# cli_lib.sh: what the `tandem` command's integration tests (cli_*.sh) source, on top of lib.sh.
#
# Each test writes a manifest into its own project directory ($PROJ, under the test's temp dir)
# with ports that were free a moment before (free_ports), runs the real broker, example-hello and
# nginx through `tandem up --detach`, and judges the system with curl and `tandem ps --json`.
# The supervisor's pid (from var/tandem/lock) is tracked, so lib.sh's exit trap SIGTERMs it,
# which stops everything it started; its children also get SIGTERM if it dies (PDEATHSIG).
#
# Environment: TANDEM_CLI (build/bin/tandem), EXAMPLE_HELLO, TANDEM_BROKER, TANDEM_TEST_BIN.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TANDEM_CLI:?TANDEM_CLI must name the tandem binary}"
: "${EXAMPLE_HELLO:?EXAMPLE_HELLO must name the example-hello binary}"
CURL=(curl -sS --max-time 5)
PROJ="$TMP_ROOT/proj"
mkdir -p "$PROJ"
SUP_PID=""

# free_ports N: the first of N consecutive 127.0.0.1 ports that could all be bound just now.
free_ports() {
    "$(dirname "${BASH_SOURCE[0]}")/../../scripts/free-ports" "$1"
}

# pick_ports: BROKER_P, GATEWAY_P and HELLO_P (8 consecutive: room to scale), all free.
pick_ports() {
    local base
    base=$(free_ports 12) || fail "no free ports"
    BROKER_P=$base
    GATEWAY_P=$((base + 1))
    HELLO_P=$((base + 2))
    GW="http://127.0.0.1:$GATEWAY_P"
}

tandem() {
    within 60 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" "$@"
}

# up: tandem up --detach; sets UP_MS (as printed) and SUP_PID, tracks the supervisor.
up() {
    local out rc=0
    out=$(tandem up --detach 2>"$TMP_ROOT/up.err") || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$TMP_ROOT/up.err" >&2
        tail -n 20 "$PROJ"/var/tandem/logs/*.log >&2 2>/dev/null || true
        fail "tandem up --detach: exit $rc"
    fi
    [[ "$out" =~ ^tandem:\ up\ in\ ([0-9]+)\ ms:\ http://127\.0\.0\.1:$GATEWAY_P$ ]] ||
        fail "unexpected up output: '$out'"
    UP_MS=${BASH_REMATCH[1]}
    SUP_PID=$(tr -d '[:space:]' <"$PROJ/var/tandem/lock")
    track "$SUP_PID"
    log "up in $UP_MS ms, supervisor pid $SUP_PID, gateway $GW"
}

# psj FIELD NAME: FIELD of the ps --json row named NAME ("hello.0", "broker", "gateway").
psj() {
    tandem ps --json | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["name"] == sys.argv[2]:
        v = r[sys.argv[1]]
        print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}

# wait_state NAME STATE SECS: until ps shows NAME in STATE.
wait_state() {
    local deadline=$((SECONDS + $3)) st=""
    while :; do
        st=$(psj state "$1")
        [ "$st" = "$2" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 is '$st', not '$2', after $3 s"
        sleep 0.1
    done
}

# write_manifest [EXTRA_SERVICES_YAML]: broker, gateway and hello (HELLO_N instances, default 2).
write_manifest() {
    cat >"$PROJ/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$BROKER_P, binary: $TANDEM_BROKER }
gateway: { listen: 127.0.0.1:$GATEWAY_P }
services:
  hello:
    binary: $EXAMPLE_HELLO
    instances: ${HELLO_N:-2}
    port: $HELLO_P
    env: { TANDEM_WORKERS: "1" }
    depends_on: [broker]
    routes:
      - { path: /hello, cache: true }
      - { path: /greetings, methods: [POST], rate_limit: 2r/s, burst: 1 }
${1:-}
YAML
}

# raw_send ADDRESS BYTES: sends BYTES (a Python bytes literal, so any byte can be written) on one
# connection to ADDRESS (a port on 127.0.0.1, or a unix socket's path) and prints what comes back
# until the other side closes (at most 5 s).
raw_send() {
    within 10 python3 - "$1" "$2" <<'PY'
import socket, sys
addr = sys.argv[1]
if addr.isdigit():
    s = socket.create_connection(("127.0.0.1", int(addr)), timeout=5)
else:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(addr)
s.sendall(eval(sys.argv[2]))
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
PY
}

# get_nocache: a GET /hello that bypasses nginx's cache (Authorization), printing the status.
get_nocache() {
    "${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer t' "$GW/hello" || true
}

# down_and_check: tandem down exits 0; every pid ps showed is gone; ctl.sock removed.
down_and_check() {
    local pids rc=0 p i
    pids=$(tandem ps --json | python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["pid"]) for l in sys.stdin if json.loads(l)["pid"] > 0))')
    tandem down || rc=$?
    [ "$rc" -eq 0 ] || fail "tandem down: exit $rc"
    for p in $pids; do
        kill -0 "$p" 2>/dev/null && record_failure "pid $p still running after down"
    done
    for i in $(seq 50); do # the supervisor itself: gone (and reaped by init) right after
        kill -0 "$SUP_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SUP_PID" 2>/dev/null && record_failure "supervisor $SUP_PID still running"
    [ ! -e "$PROJ/var/tandem/ctl.sock" ] || record_failure "ctl.sock left behind"
    if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
        "$PROJ"/var/tandem/logs/*.log "$PROJ"/var/tandem/supervisor.log 2>/dev/null; then
        record_failure "a sanitizer report in the logs above"
    fi
    log "down: $(echo "$pids" | wc -w) processes gone"
}
