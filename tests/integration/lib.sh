# lib.sh: what every integration test script sources.
#
# Model: one test = one bash script = one CTest test. The script sources this file, starts one
# tandem-broker on a kernel-chosen 127.0.0.1 port with a fresh data dir under a private temp dir,
# drives it with real clients (kcat, the kafka-check program on librdkafka, kafkajs), and exits 0
# only when every check passed. Invariants this file guarantees:
#   - everything the test starts is stopped, whatever happens: an EXIT trap SIGTERMs and then
#     SIGKILLs the broker and every registered background job, and a watchdog process kills the
#     broker even if the test script itself is SIGKILLed (CTest's timeout);
#   - the test is bounded in time: a deadline (TEST_DEADLINE seconds, default 300) after which the
#     script fails, and every client call goes through `within SECS cmd...`;
#   - the temp dir (data dirs, logs) is removed at exit unless KEEP_TMP=1; on failure the tail of
#     the broker's log is printed first.
#
# Environment (set by tests/integration/CMakeLists.txt):
#   TANDEM_BROKER   path of the tandem-broker binary
#   TANDEM_TEST_BIN directory of the test programs (kafka-check, kafka-bad-input)
#   TANDEM_IT_DIR   this directory (scripts, node programs, node_modules)
#
# Exports after start_broker: BROKER=127.0.0.1:PORT, BROKER_PORT, BROKER_PID, BROKER_DIR, and
# BROKER_LOG (the broker's stderr, appended over restarts).

set -euo pipefail

: "${TANDEM_BROKER:?TANDEM_BROKER must name the tandem-broker binary}"
: "${TANDEM_TEST_BIN:?TANDEM_TEST_BIN must name the test programs directory}"
TANDEM_IT_DIR=${TANDEM_IT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
KCHECK="$TANDEM_TEST_BIN/kafka-check"
TEST_NAME=$(basename "$0" .sh)
TEST_DEADLINE=${TEST_DEADLINE:-300}
START_TIMEOUT=${START_TIMEOUT:-30}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tandem-it-$TEST_NAME.XXXXXX")
BROKER_LOG="$TMP_ROOT/broker.log"
: >"$BROKER_LOG"
BROKER_PID=""
BROKER_DIR=""
BROKER_PORT=""
BROKER=""
BG_PIDS=()
_WATCHDOG_PIDS=()
_STARTS=0
export BROKER BROKER_PORT BROKER_PID BROKER_DIR BROKER_LOG TMP_ROOT

log() {
    printf '[%s %s] %s\n' "$(date +%H:%M:%S.%3N)" "$TEST_NAME" "$*" >&2
}

dump_broker_log() {
    if [ -s "$BROKER_LOG" ]; then
        echo "---- last 40 lines of the broker log ($BROKER_LOG) ----" >&2
        tail -n 40 "$BROKER_LOG" >&2 || true
        echo "----" >&2
    fi
}

fail() {
    log "FAIL: $*"
    dump_broker_log
    exit 1
}

# Records a failure but lets the test go on checking (finish reports them all).
FAILURES=()
record_failure() {
    log "FAILED CHECK: $*"
    FAILURES+=("$*")
}

# Ends a test: fails when record_failure was called, else logs PASS.
finish() {
    if [ "${#FAILURES[@]}" -gt 0 ]; then
        local f
        for f in "${FAILURES[@]}"; do
            log "failed check: $f"
        done
        fail "${#FAILURES[@]} check(s) failed"
    fi
    log "PASS"
}

# Runs a command with a time limit (SIGTERM, then SIGKILL 5 s later).
within() {
    local secs=$1
    shift
    timeout -k 5 "$secs" "$@"
}

# Registers a background job so the exit trap stops it.
track() {
    BG_PIDS+=("$1")
}

_kill_pid() { # pid: SIGTERM, up to 5 s, then SIGKILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local p
    for p in "${BG_PIDS[@]}"; do
        _kill_pid "$p"
    done
    [ -n "$BROKER_PID" ] && _kill_pid "$BROKER_PID"
    for p in "${_WATCHDOG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$rc" -ne 0 ]; then
        log "exit code $rc"
        if [ "${KEEP_TMP:-0}" = 1 ]; then
            log "kept $TMP_ROOT"
        fi
    fi
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$TMP_ROOT"
    exit "$rc"
}
trap _cleanup EXIT
trap 'log "interrupted by a signal (or the deadline of ${TEST_DEADLINE}s)"; exit 130' INT TERM

# The deadline: SIGTERM to this script (its trap cleans up) after TEST_DEADLINE seconds. The
# watchdogs hold none of the test's output pipes (CTest waits for those to close) and take
# their sleep with them when the exit trap stops them.
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$TEST_DEADLINE" &
    sp=$!
    wait "$sp" && kill -TERM $$ 2>/dev/null
) >/dev/null 2>&1 </dev/null &
_WATCHDOG_PIDS+=($!)

# start_broker [--data-dir DIR] [--listen HOST:PORT] [broker flags...]
# Starts the broker (a fresh data dir unless given), waits for its port file, exports BROKER.
start_broker() {
    local dir="" listen="127.0.0.1:0"
    while [ $# -gt 0 ]; do
        case "$1" in
        --data-dir)
            dir=$2
            shift 2
            ;;
        --listen)
            listen=$2
            shift 2
            ;;
        *) break ;;
        esac
    done
    [ -z "$BROKER_PID" ] || fail "start_broker: a broker is already running (pid $BROKER_PID)"
    if [ -z "$dir" ]; then
        dir=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    fi
    _STARTS=$((_STARTS + 1))
    local portfile="$TMP_ROOT/port.$_STARTS"
    rm -f "$portfile"
    echo "{\"test\":\"$TEST_NAME\",\"start\":$_STARTS,\"listen\":\"$listen\",\"args\":\"$*\"}" \
        >>"$BROKER_LOG"
    local logstart
    logstart=$(wc -l <"$BROKER_LOG")
    "$TANDEM_BROKER" --listen "$listen" --data-dir "$dir" --port-file "$portfile" "$@" \
        2>>"$BROKER_LOG" >/dev/null &
    BROKER_PID=$!
    BROKER_DIR=$dir
    # Kills the broker if this script dies without running its trap (SIGKILL by CTest).
    local me=$$ bpid=$BROKER_PID
    (
        while kill -0 "$me" 2>/dev/null && kill -0 "$bpid" 2>/dev/null; do
            sleep 0.5
        done
        kill -KILL "$bpid" 2>/dev/null
    ) >/dev/null 2>&1 </dev/null &
    _WATCHDOG_PIDS+=($!)
    local deadline=$((SECONDS + START_TIMEOUT)) port=""
    while :; do
        if [ -s "$portfile" ] && [ "$(tail -c 1 "$portfile" | od -An -c | tr -d ' ')" = '\n' ]; then
            port=$(tr -d '[:space:]' <"$portfile")
            break
        fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            local rc=0
            wait "$BROKER_PID" || rc=$?
            BROKER_PID=""
            fail "broker exited with code $rc before writing its port file"
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "broker wrote no port file within ${START_TIMEOUT}s"
        sleep 0.05
    done
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] || fail "bad port file content: '$port'"
    BROKER_PORT=$port
    BROKER="127.0.0.1:$port"
    export BROKER BROKER_PORT BROKER_PID BROKER_DIR
    # The contract: a JSON line with "msg":"ready" and the bound port on stderr.
    while ! tail -n "+$((logstart + 1))" "$BROKER_LOG" | grep '"msg":"ready"' | grep -q "\"port\":$port[,}]"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "no {\"msg\":\"ready\",\"port\":$port} log line"
        sleep 0.05
    done
    log "broker pid $BROKER_PID listening on $BROKER, data dir $BROKER_DIR"
}

# stop_broker: SIGTERM, wait up to STOP_TIMEOUT; fails unless the exit code is 0.
stop_broker() {
    [ -n "$BROKER_PID" ] || fail "stop_broker: no broker running"
    local pid=$BROKER_PID rc=0 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq $((STOP_TIMEOUT * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        BROKER_PID=""
        fail "broker did not exit within ${STOP_TIMEOUT}s of SIGTERM (killed with SIGKILL)"
    fi
    wait "$pid" || rc=$?
    BROKER_PID=""
    [ "$rc" -eq 0 ] || fail "broker exited with code $rc after SIGTERM (expected 0)"
    check_sanitizers
    log "broker stopped cleanly"
}

# sanitizer_reports FILE...: prints (on stderr, at most 40 lines) the ASan, LSan and UBSan reports
# in those of the FILEs that exist; returns 0 when there is one, 1 when there is none.
sanitizer_reports() {
    local re='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' f found=1
    for f in "$@"; do
        if [ -f "$f" ] && grep -qE "$re" "$f"; then
            found=0
            grep -HnE -A8 "$re" "$f" | head -40 >&2
        fi
    done
    return $found
}

# Fails if any broker run so far printed a sanitizer report (runs killed with SIGKILL included).
check_sanitizers() {
    if sanitizer_reports "$BROKER_LOG"; then
        fail "the broker printed a sanitizer report"
    fi
}

# kill9_broker: SIGKILL, no questions asked (a crash).
kill9_broker() {
    [ -n "$BROKER_PID" ] || fail "kill9_broker: no broker running"
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    log "broker pid $BROKER_PID killed with SIGKILL"
    BROKER_PID=""
}

# restart_broker [flags...]: clean stop, then start on the same data dir and the same port.
restart_broker() {
    local dir=$BROKER_DIR port=$BROKER_PORT
    stop_broker
    start_broker --data-dir "$dir" --listen "127.0.0.1:$port" "$@"
}

# broker_alive: fails the test if the broker process has gone.
broker_alive() {
    [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null ||
        fail "the broker process is gone${1:+ ($1)}"
}

# wait_metadata SECS: until `kcat -L` answers.
wait_metadata() {
    local secs=${1:-20} deadline=$((SECONDS + ${1:-20}))
    while :; do
        if within 10 kcat -L -b "$BROKER" -m 5 >/dev/null 2>&1; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "kcat -L got no metadata within ${secs}s"
        sleep 0.2
    done
}

# metric NAME_AND_LABELS: its value in a fresh scrape of $HB/metrics ($HB: a tandem service's base
# URL, http://127.0.0.1:PORT); empty when absent.
metric() {
    curl -sS --max-time 5 "$HB/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

# wait_metric NAME_AND_LABELS VALUE SECS: until metric says VALUE; else fails, showing the events'
# series.
wait_metric() {
    local i v=""
    for i in $(seq $(($3 * 10))); do
        v=$(metric "$1")
        [ "$v" = "$2" ] && return 0
        sleep 0.1
    done
    curl -sS --max-time 5 "$HB/metrics" | grep -E '^tandem_(events|consumer)' >&2 || true
    fail "$1 is '$v' after $3 s, want $2"
}

# first_offset TOPIC [PARTITION]: the offset of the first record a consumer reading PARTITION
# (default 0) from the beginning gets, i.e. the log start offset as the broker answers it
# (retention moves it); empty when the partition holds no record.
first_offset() {
    within 20 kcat -C -b "$BROKER" -t "$1" -p "${2:-0}" -o beginning -c 1 -e -f '%o\n' 2>/dev/null
}

# wait_retention TOPIC PARTITION SECS: until retention has deleted records from the front of the
# partition (its first offset is above 0, or it is empty); fails after SECS with what it saw.
# The broker must check retention often (--log-retention-check-interval-ms 500).
wait_retention() {
    local deadline=$((SECONDS + $3)) first
    while :; do
        first=$(first_offset "$1" "$2") || first="?"
        if [ -z "$first" ] || { [ "$first" != "?" ] && [ "$first" -gt 0 ]; }; then
            log "retention on $1 [$2]: first offset now ${first:-none (emptied)}"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "$1 [$2]: no record deleted by retention within $3 s (first offset $first)"
        sleep 0.2
    done
}

# Checksums the stored record batches (*.log segment files) of one topic.
topic_log_checksum() {
    local topic=$1
    (cd "$BROKER_DIR" && find . -path "./$topic-*" -name '*.log' -type f | LC_ALL=C sort |
        xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}

# Prints the codec ids (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) of every record batch stored in
# TOPIC's partition PART, one line "codec count" each, by walking the .log segment files
# (OFFSET 8: batchLength; OFFSET 21: attributes, bits 0-2 the codec).
stored_codecs() {
    python3 - "$BROKER_DIR/$1-$2" <<'PY'
import glob, struct, sys
from collections import Counter
seen = Counter()
for f in sorted(glob.glob(sys.argv[1] + "/*.log")):
    data = open(f, "rb").read()
    pos = 0
    while pos + 61 <= len(data):
        (length,) = struct.unpack_from(">i", data, pos + 8)
        (attrs,) = struct.unpack_from(">h", data, pos + 21)
        seen[attrs & 7] += 1
        pos += 12 + length
for codec, n in sorted(seen.items()):
    print(codec, n)
PY
}
