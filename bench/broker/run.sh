#!/usr/bin/env bash
# The broker benchmark: tandem-broker against nats-server with JetStream file storage, the same
# workload through each one's own C client (kbench: librdkafka; nbench: nats.c), side by side.
#
#   make bench                      build (release), install nats-server/wrk/libnats-dev, run this
#   bench/broker/run.sh             run against an existing build in build/ (BUILD_DIR=... to change)
#
# For each repetition (REPEAT, default 3) and each server (SERVERS="tandem nats"), interleaved so
# that drift on a shared machine hits both alike, this script:
#   1. starts the server on a free 127.0.0.1 port with a fresh data directory under $TMPDIR and
#      measures the time from exec to ready (tandem: the port file; NATS: "Server is ready"),
#   2. reads VmRSS from /proc/PID/status 0.5 s after ready (idle RSS),
#   3. produces COUNT records of SIZE bytes with acks=1, then with acks=all (two topics),
#   4. consumes COUNT records of the acks=1 topic from the beginning,
#   5. measures produce-to-consume latency at three rates: "target", half the target acks=1 rate
#      (HALF_TARGET_RATE = 500,000/s) or half of this repetition's measured acks=1 rate when that
#      is lower; "half", half of the measured acks=1 rate; "fixed", FIXED_RATE (50,000/s), which
#      both servers sustain,
#   6. reads VmRSS again 1 s after the last client left, stops the server with SIGTERM.
# Each repetition also measures the producer's own ceiling: kbench into librdkafka's in-process
# mock cluster (column "librdkafka mock").
# Consumer groups (docs/benchmarks.md, "Consumer groups"), in the same server start after step 5:
#   G1. GROUP_COUNT records into a topic of GROUP_PARTITIONS partitions (tandem: created with
#       CreateTopics, record i to partition i % P; NATS: a second stream), then a catch-up from
#       the beginning by ONE consumer alone in a fresh group and by a group of GROUP_MEMBERS
#       (threads, each its own client; NATS: workers sharing one durable pull consumer), in
#       alternating order per repetition,
#   G2. tandem only: failover of a member process killed with SIGKILL (after FAILOVER_SETTLE s
#       of steady state) in a group of GROUP_MEMBERS processes under FAILOVER_RATE records/s,
#       time until its partitions are consumed again, with session.timeout.ms
#       FAILOVER_SESSION_MS and heartbeat.interval.ms FAILOVER_HEARTBEAT_MS; FAILOVER_DEFAULT=1
#       also runs it with librdkafka's defaults (45 s session, adds about a minute per
#       repetition).
# Transactions (KIP-98), tandem only, after the group steps:
#   T1. TXN_COUNT records (default COUNT) with acks=all by the plain idempotent producer and by a
#       transactional producer committing every TXN_EVERY (1,000) records, in alternating order
#       per repetition; txn_ratio_pct is transactional / idempotent throughput (target >= 70 %).
#       The same pair into librdkafka's mock cluster gives the client's own ratio (column
#       "librdkafka mock").
# ONLY=base runs steps 3-5 without the group steps, ONLY=group the group steps without 3-5,
# ONLY=txn only T1.
# Every step runs under `timeout`. Raw results go to bench/results/broker-<stamp>.csv (one row per
# measurement) and the table of medians (report.py) to bench/results/broker-<stamp>.md.
# PERF=1 also records `perf record -g` of tandem-broker during the first repetition's produce
# steps into bench/results/perf/ (not committed).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
ROOT=$PWD

BUILD_DIR=${BUILD_DIR:-build}
BIN=$ROOT/$BUILD_DIR/bin
REPEAT=${REPEAT:-3}
COUNT=${COUNT:-1000000}
SIZE=${SIZE:-100}
PARTITIONS=${PARTITIONS:-1}
LINGER_MS=${LINGER_MS:-5}
LAT_LINGER_MS=${LAT_LINGER_MS:-0}
LAT_SECONDS=${LAT_SECONDS:-4}
LAT_WARMUP=${LAT_WARMUP:-1}
FIXED_RATE=${FIXED_RATE:-50000}
HALF_TARGET_RATE=${HALF_TARGET_RATE:-500000}
MAX_PENDING=${MAX_PENDING:-4096}
STEP_TIMEOUT=${STEP_TIMEOUT:-90}
SERVERS=${SERVERS:-"tandem nats"}
ONLY=${ONLY:-}
GROUP_COUNT=${GROUP_COUNT:-$COUNT}
GROUP_PARTITIONS=${GROUP_PARTITIONS:-6}
GROUP_MEMBERS=${GROUP_MEMBERS:-3}
FAILOVER_RATE=${FAILOVER_RATE:-10000}
FAILOVER_SESSION_MS=${FAILOVER_SESSION_MS:-6000}
FAILOVER_HEARTBEAT_MS=${FAILOVER_HEARTBEAT_MS:-1000}
FAILOVER_SETTLE=${FAILOVER_SETTLE:-6}
FAILOVER_DEFAULT=${FAILOVER_DEFAULT:-0}
TXN_COUNT=${TXN_COUNT:-$COUNT}
TXN_EVERY=${TXN_EVERY:-1000}
PERF=${PERF:-0}
BROKER_ARGS=${BROKER_ARGS:-} # extra tandem-broker flags, e.g. "--log-flush-interval-ms 0"
RESULTS=${RESULTS:-$ROOT/bench/results}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench.XXXXXX")
csv=$RESULTS/broker-$stamp.csv
md=$RESULTS/broker-$stamp.md
mkdir -p "$RESULTS"

pids=()
perf_pid=
cleanup() {
    local p
    [ -z "$perf_pid" ] || kill -INT "$perf_pid" 2>/dev/null || true
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.2
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
now_us() { echo "${EPOCHREALTIME/./}"; }

need() {
    [ -x "$1" ] || { log "missing $1 ($2)"; return 1; }
}
need "$BIN/kbench" "librdkafka-dev; run make bench" || SERVERS=${SERVERS//tandem/}
need "$BIN/tandem-broker" "build the broker first" || SERVERS=${SERVERS//tandem/}
if ! need "$BIN/nbench" "libnats-dev; run make bench" || ! command -v nats-server >/dev/null; then
    log "nats-server or nbench missing: scripts/deps.sh bench, then make bench again (nbench is"
    log "built only when libnats-dev was installed before the build)"
    SERVERS=${SERVERS//nats/}
fi
[ -n "${SERVERS// /}" ] || { log "nothing to run"; exit 1; }
case $ONLY in
"" | base | group | txn) ;;
*) log "ONLY=$ONLY: expected base, group or txn"; exit 2 ;;
esac

free_port() { "$ROOT/scripts/free-ports"; }

# wait_for FILE PATTERN TIMEOUT_US PID: returns 0 as soon as FILE contains PATTERN, 1 at the
# timeout or when PID died. An empty PATTERN means "FILE exists and is not empty", checked by
# path (a port file may be written aside and renamed into place); otherwise FILE is read through
# one descriptor as it grows. Spins on shell builtins for the first 100,000 checks (no fork, so
# a start-up time is not rounded up to a sleep), then polls every 5 ms.
wait_for() {
    local f=$1 pat=$2 limit=$(($(now_us) + $3)) pid=$4 n=0 buf= chunk fd=
    while :; do
        if [ -z "$pat" ]; then
            [[ ! -s $f ]] || return 0
        else
            [ -n "$fd" ] || exec {fd}<"$f"
            while IFS= read -r chunk <&"$fd"; do
                buf+=$chunk
                [[ $buf != *"$pat"* ]] || { exec {fd}<&-; return 0; }
                buf=
            done
            buf+=$chunk # a partial last line: keep it for the next read
            [[ $buf != *"$pat"* ]] || { exec {fd}<&-; return 0; }
        fi
        if ((++n % 1000 == 0)); then
            if (($(now_us) > limit)) || ! kill -0 "$pid" 2>/dev/null; then
                [ -z "$fd" ] || exec {fd}<&-
                return 1
            fi
            ((n < 100000)) || sleep 0.005
        fi
    done
}

# rss_kb PID [FIELD]: VmRSS (or VmHWM, the peak) in kB from /proc/PID/status.
rss_kb() { awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo NA; }

# Appends one measurement: server rep metric value unit.
emit() { echo "$stamp,$1,$2,$3,$4,$5" >>"$csv"; }

server_pid=
server_addr=
server_dir=

start_tandem() {
    local rep=$1 t0 t1
    server_dir=$work/tandem-$rep
    mkdir -p "$server_dir/data"
    : >"$server_dir/log"
    t0=$(now_us)
    "$BIN/tandem-broker" --listen 127.0.0.1:0 --data-dir "$server_dir/data" \
        --port-file "$server_dir/port" --num-partitions "$PARTITIONS" $BROKER_ARGS \
        >>"$server_dir/log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    if ! wait_for "$server_dir/port" "" 10000000 "$server_pid"; then
        log "tandem-broker did not write its port file; log:"
        tail -5 "$server_dir/log" >&2
        return 1
    fi
    t1=$(now_us)
    emit tandem "$rep" ready_ms "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1000 }')" ms
    wait_for "$server_dir/log" '"ready"' 5000000 "$server_pid" || log "no ready line from tandem-broker"
    local sm
    sm=$(sed -n 's/.*"msg":"ready".*"startup_ms":\([0-9.]*\).*/\1/p' "$server_dir/log" | head -1)
    [ -z "$sm" ] || emit tandem "$rep" startup_ms_self "$sm" ms
    server_addr=127.0.0.1:$(tr -dc 0-9 <"$server_dir/port")
}

start_nats() {
    local rep=$1 t0 t1 port
    server_dir=$work/nats-$rep
    mkdir -p "$server_dir/data"
    : >"$server_dir/log"
    port=$(free_port)
    t0=$(now_us)
    nats-server -js -sd "$server_dir/data" -a 127.0.0.1 -p "$port" >>"$server_dir/log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    if ! wait_for "$server_dir/log" "Server is ready" 10000000 "$server_pid"; then
        log "nats-server did not become ready; log:"
        tail -5 "$server_dir/log" >&2
        return 1
    fi
    t1=$(now_us)
    emit nats "$rep" ready_ms "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1000 }')" ms
    server_addr=nats://127.0.0.1:$port
}

stop_server() {
    local server=$1 rep=$2 i rc=0
    kill -TERM "$server_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        log "$server did not exit within 10 s of SIGTERM; killing it"
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || rc=$?
    emit "$server" "$rep" sigterm_exit_code "$rc" code
    local keep=() p
    for p in "${pids[@]}"; do
        [ "$p" = "$server_pid" ] || keep+=("$p")
    done
    pids=("${keep[@]}")
    cp "$server_dir/log" "$work/$server-$rep.server.log" 2>/dev/null || true
    rm -rf "$server_dir"
}

# client SERVER STEP ARGS...: runs kbench or nbench under timeout, prints its result line.
# CLIENT_TIMEOUT=S before the call gives that step S seconds instead of STEP_TIMEOUT.
declare -A R
client() {
    local server=$1 step=$2 prog=kbench out rc=0 tmo=${CLIENT_TIMEOUT:-$STEP_TIMEOUT}
    shift 2
    [ "$server" = tandem ] || prog=nbench
    R=()
    out=$(timeout -k 5 "$tmo" "$BIN/$prog" "$@" --server "$server_addr" \
        --timeout $((tmo - 15)) 2>>"$work/$server.$step.err") || rc=$?
    local kv
    for kv in $out; do
        R[${kv%%=*}]=${kv#*=}
    done
    if [ "$rc" -ne 0 ]; then
        log "$server $step failed (exit $rc): $(tail -2 "$work/$server.$step.err" | tr '\n' ' ')"
        return 1
    fi
    log "$server $step: $out"
}

perf_start() {
    [ "$PERF" = 1 ] && [ "$1" = tandem ] && [ "$2" = 1 ] || return 0
    command -v perf >/dev/null || { log "PERF=1 but perf is not installed"; return 0; }
    mkdir -p "$RESULTS/perf"
    perf record -g -p "$server_pid" -o "$RESULTS/perf/$stamp-$3.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.3
}

perf_stop() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
}

run_server() {
    local server=$1 rep=$2 acks half
    "start_$server" "$rep" || { emit "$server" "$rep" start_failed 1 flag; return 0; }
    sleep 0.5
    emit "$server" "$rep" rss_idle_kb "$(rss_kb "$server_pid")" kB
    [ "$ONLY" = group ] || [ "$ONLY" = txn ] || run_base "$server" "$rep"
    [ "$ONLY" = base ] || [ "$ONLY" = txn ] || run_group "$server" "$rep"
    [ "$ONLY" = base ] || [ "$ONLY" = group ] || run_txn "$server" "$rep"
    sleep 1
    emit "$server" "$rep" rss_after_kb "$(rss_kb "$server_pid")" kB
    emit "$server" "$rep" rss_peak_kb "$(rss_kb "$server_pid" VmHWM)" kB
    stop_server "$server" "$rep"
}

# Steps 3-5 (see the header).
run_base() {
    local server=$1 rep=$2 acks half

    for acks in 1 all; do
        perf_start "$server" "$rep" "produce-acks$acks"
        if client "$server" "produce-acks$acks" produce --topic "acks$acks" --count "$COUNT" \
            --size "$SIZE" --acks "$acks" --linger-ms "$LINGER_MS" --max-pending "$MAX_PENDING"; then
            emit "$server" "$rep" "produce_acks${acks}_rps" "${R[records_per_s]}" records/s
            emit "$server" "$rep" "produce_acks${acks}_mbps" "${R[mb_per_s]}" MB/s
            [ "$acks" = all ] || half=$((R[records_per_s] / 2))
        fi
        perf_stop
    done

    if client "$server" consume consume --topic acks1 --count "$COUNT" --size "$SIZE"; then
        emit "$server" "$rep" consume_rps "${R[records_per_s]}" records/s
        emit "$server" "$rep" consume_mbps "${R[mb_per_s]}" MB/s
    fi

    # Latency at three rates (see the header); a rate already measured in this repetition is
    # not run twice, its results are recorded again under the new name.
    local name rate k
    local -A done_rate=()
    for name in target half fixed; do
        case $name in
        target)
            rate=${half:-}
            if [ -n "$rate" ] && ((rate > HALF_TARGET_RATE)); then
                rate=$HALF_TARGET_RATE
            fi
            ;;
        half) rate=${half:-} ;;
        fixed) rate=$FIXED_RATE ;;
        esac
        [ -n "$rate" ] || continue
        if [ -z "${done_rate[$rate]:-}" ]; then
            client "$server" "latency-$name" latency --topic "lat$name" --rate "$rate" \
                --seconds "$LAT_SECONDS" --warmup "$LAT_WARMUP" --size "$SIZE" \
                --linger-ms "$LAT_LINGER_MS" --max-pending "$MAX_PENDING" || continue
            done_rate[$rate]="${R[achieved_rate]} ${R[p50_us]} ${R[p99_us]} ${R[p999_us]}"
        fi
        read -r -a k <<<"${done_rate[$rate]}"
        emit "$server" "$rep" "lat_${name}_rate" "$rate" records/s
        emit "$server" "$rep" "lat_${name}_achieved" "${k[0]}" records/s
        emit "$server" "$rep" "lat_${name}_p50_us" "${k[1]}" us
        emit "$server" "$rep" "lat_${name}_p99_us" "${k[2]}" us
        emit "$server" "$rep" "lat_${name}_p999_us" "${k[3]}" us
    done
}

# T1 (see the header): the idempotent producer, then the transactional one committing every
# TXN_EVERY records, alternating which goes first per repetition; the ratio of the two.
run_txn() {
    local server=$1 rep=$2 mode idem="" txn=""
    [ "$server" = tandem ] || return 0 # NATS has no transactions to compare
    local order="idem txn"
    ((rep % 2 == 1)) || order="txn idem"
    for mode in $order; do
        local extra=(--idempotent 1)
        [ "$mode" = idem ] || extra=(--txn-every "$TXN_EVERY")
        client "$server" "produce-$mode" produce --topic "t$mode$rep" --count "$TXN_COUNT" \
            --size "$SIZE" --acks all --linger-ms "$LINGER_MS" "${extra[@]}" || continue
        emit "$server" "$rep" "produce_${mode}_rps" "${R[records_per_s]}" records/s
        [ "$mode" = idem ] && idem=${R[records_per_s]} || txn=${R[records_per_s]}
    done
    [ -n "$idem" ] && [ -n "$txn" ] || return 0
    emit "$server" "$rep" txn_ratio_pct "$(awk -v a="$txn" -v b="$idem" 'BEGIN { printf "%.1f", 100 * a / b }')" "%"
}

# G1 and G2 (see the header).
run_group() {
    local server=$1 rep=$2 who m order
    local args=(--topic grp --count "$GROUP_COUNT" --size "$SIZE" --linger-ms "$LINGER_MS")
    [ "$server" = tandem ] && args+=(--partitions "$GROUP_PARTITIONS" --acks 1)
    [ "$server" = nats ] && args+=(--max-pending "$MAX_PENDING")
    client "$server" group-produce produce "${args[@]}" || return 0
    order="single group"
    ((rep % 2 == 1)) || order="group single"
    for who in $order; do
        m=1
        [ "$who" = single ] || m=$GROUP_MEMBERS
        client "$server" "group-catchup-$who" group-catchup --topic grp --members "$m" \
            --size "$SIZE" || continue
        emit "$server" "$rep" "grp_${who}_rps" "${R[records_per_s]}" records/s
        [ -z "${R[first_record_ms]:-}" ] ||
            emit "$server" "$rep" "grp_${who}_first_ms" "${R[first_record_ms]}" ms
        [ -z "${R[drain_records_per_s]:-}" ] ||
            emit "$server" "$rep" "grp_${who}_drain_rps" "${R[drain_records_per_s]}" records/s
        [ -z "${R[duplicates]:-}" ] || emit "$server" "$rep" "grp_${who}_dups" "${R[duplicates]}" records
    done

    [ "$server" = tandem ] || return 0 # no NATS analogue (docs/benchmarks.md)
    local name st hb
    for name in fast default; do
        st=$FAILOVER_SESSION_MS hb=$FAILOVER_HEARTBEAT_MS
        if [ "$name" = default ]; then
            [ "$FAILOVER_DEFAULT" = 1 ] || continue
            st=45000 hb=3000 # librdkafka 2.0.2's defaults, passed as such so the row says so
        fi
        CLIENT_TIMEOUT=$((st / 1000 + FAILOVER_SETTLE + 60)) client "$server" "failover-$name" \
            group-failover --topic "fo$name" --partitions "$GROUP_PARTITIONS" \
            --members "$GROUP_MEMBERS" --rate "$FAILOVER_RATE" --size "$SIZE" \
            --session-timeout-ms "$st" --heartbeat-interval-ms "$hb" \
            --warmup "$FAILOVER_SETTLE" || continue
        emit "$server" "$rep" "fo_${name}_session_ms" "$st" ms
        emit "$server" "$rep" "fo_${name}_detect_ms" "${R[detect_ms]}" ms
        emit "$server" "$rep" "fo_${name}_reassign_ms" "${R[reassign_ms]}" ms
        emit "$server" "$rep" "fo_${name}_recovered_ms" "${R[recovered_ms]}" ms
    done
}

echo "run,server,rep,metric,value,unit" >"$csv"
{
    echo "date: $stamp"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
    echo "data dirs: $(df -P "$work" | awk 'NR == 2 { print $1 }') ($(stat -f -c %T "$work"))"
    echo "clients: librdkafka $(pkg-config --modversion rdkafka 2>/dev/null || echo '?'), nats.c $(pkg-config --modversion libnats 2>/dev/null || echo '?'); server: $(nats-server --version 2>/dev/null || echo 'nats-server ?')"
    echo "transactions: TXN_COUNT=$TXN_COUNT TXN_EVERY=$TXN_EVERY"
    echo "groups: ONLY=${ONLY:-all} GROUP_COUNT=$GROUP_COUNT GROUP_PARTITIONS=$GROUP_PARTITIONS GROUP_MEMBERS=$GROUP_MEMBERS FAILOVER_RATE=$FAILOVER_RATE FAILOVER_SESSION_MS=$FAILOVER_SESSION_MS FAILOVER_HEARTBEAT_MS=$FAILOVER_HEARTBEAT_MS FAILOVER_SETTLE=$FAILOVER_SETTLE FAILOVER_DEFAULT=$FAILOVER_DEFAULT"
    echo "workload: COUNT=$COUNT SIZE=$SIZE PARTITIONS=$PARTITIONS LINGER_MS=$LINGER_MS LAT_LINGER_MS=$LAT_LINGER_MS LAT_SECONDS=$LAT_SECONDS LAT_WARMUP=$LAT_WARMUP HALF_TARGET_RATE=$HALF_TARGET_RATE FIXED_RATE=$FIXED_RATE MAX_PENDING=$MAX_PENDING REPEAT=$REPEAT${BROKER_ARGS:+ BROKER_ARGS=\"$BROKER_ARGS\"}"
} >"$md"
cat "$md" >&2

# The client's own ceiling: librdkafka producing into its in-process mock cluster (RAM only, no
# durability, nothing to validate), the fastest any broker could be measured by this producer.
mock_ceiling() {
    local rep=$1 acks
    [ -x "$BIN/kbench" ] || return 0
    for acks in 1 all; do
        R=()
        local out kv
        out=$(timeout -k 5 "$STEP_TIMEOUT" "$BIN/kbench" produce --mock --topic "acks$acks" \
            --count "$COUNT" --size "$SIZE" --acks "$acks" --linger-ms "$LINGER_MS" \
            --timeout $((STEP_TIMEOUT - 15)) 2>/dev/null) || { log "mock produce failed"; continue; }
        for kv in $out; do
            R[${kv%%=*}]=${kv#*=}
        done
        log "mock produce-acks$acks: $out"
        emit mock "$rep" "produce_acks${acks}_rps" "${R[records_per_s]}" records/s
        emit mock "$rep" "produce_acks${acks}_mbps" "${R[mb_per_s]}" MB/s
    done
}

# T1's client ceiling: the same two producers into librdkafka's mock cluster (which implements
# the transaction APIs in memory): what librdkafka's transactional producer itself allows.
mock_txn_ceiling() {
    local rep=$1 mode
    [ -x "$BIN/kbench" ] || return 0
    for mode in idem txn; do
        local extra=(--idempotent 1) out kv
        [ "$mode" = idem ] || extra=(--txn-every "$TXN_EVERY")
        R=()
        out=$(timeout -k 5 "$STEP_TIMEOUT" "$BIN/kbench" produce --mock --topic "m$mode" \
            --count "$TXN_COUNT" --size "$SIZE" --acks all --linger-ms "$LINGER_MS" "${extra[@]}" \
            --timeout $((STEP_TIMEOUT - 15)) 2>/dev/null) || { log "mock produce-$mode failed"; continue; }
        for kv in $out; do
            R[${kv%%=*}]=${kv#*=}
        done
        log "mock produce-$mode: $out"
        emit mock "$rep" "produce_${mode}_rps" "${R[records_per_s]}" records/s
        [ "$mode" = idem ] && local idem=${R[records_per_s]} ||
            emit mock "$rep" txn_ratio_pct "$(awk -v a="${R[records_per_s]}" -v b="${idem:-0}" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')" "%"
    done
}

t_start=$(now_us)
for ((rep = 1; rep <= REPEAT; rep++)); do
    log "repetition $rep/$REPEAT: librdkafka mock (client ceiling)"
    [ "$ONLY" = group ] || [ "$ONLY" = txn ] || mock_ceiling "$rep"
    [ "$ONLY" = group ] || [ "$ONLY" = base ] || mock_txn_ceiling "$rep"
    for server in $SERVERS; do
        log "repetition $rep/$REPEAT: $server"
        run_server "$server" "$rep"
    done
done
log "done in $((($(now_us) - t_start) / 1000000)) s; raw results: ${csv#"$ROOT"/}"

echo >>"$md"
python3 "$ROOT/bench/broker/report.py" "$csv" >>"$md"
cat "$md"
