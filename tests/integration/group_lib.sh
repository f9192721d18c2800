# group_lib.sh: helpers shared by the consumer-group tests (group_*.sh), sourced after lib.sh.
#
# Model: every group member is one `group-check consume` process (group_check.c) started with
# gc_start NAME ...; its stdout (ASSIGNED/CLOSED lines) goes to $TMP_ROOT/NAME.out, its stderr
# to NAME.err, and every record it processed to NAME.rec as "PARTITION OFFSET VALUE". Records
# are produced with `group-check produce`, whose values are the numbers FROM..TO, so "who
# consumed what" is a question about sets of numbers answered with sort/comm/awk.
#
# Exports: GCHECK (the group-check binary), GC_PIDS[NAME].

GCHECK="$TANDEM_TEST_BIN/group-check"
declare -A GC_PIDS=()

# gc_start NAME consume-args...: starts a group member in the background.
gc_start() {
    local name=$1
    shift
    "$GCHECK" consume -b "$BROKER" --out "$TMP_ROOT/$name.rec" "$@" \
        >>"$TMP_ROOT/$name.out" 2>>"$TMP_ROOT/$name.err" </dev/null &
    GC_PIDS[$name]=$!
    track $!
    log "started member $name (pid $!): $*"
}

# gc_stuck NAME: what a member that does not exit is doing, on stderr: the end of its stderr and,
# when gdb is installed, every thread's stack (30 s at most).
gc_stuck() {
    local pid=${GC_PIDS[$1]}
    log "member $1 (pid $pid): last lines of $1.err:"
    tail -n 20 "$TMP_ROOT/$1.err" >&2 || true
    if command -v gdb >/dev/null; then
        log "member $1 (pid $pid): thread stacks:"
        timeout -k 5 30 gdb -p "$pid" -batch -ex 'thread apply all bt' 2>&1 |
            grep -E '^(Thread|#)' | head -n 80 >&2 || true
    fi
}

# gc_kill9 NAME / gc_term NAME: a crash / a clean close (waits for the process to exit, 20 s).
gc_kill9() {
    kill -KILL "${GC_PIDS[$1]}" 2>/dev/null || true
    wait "${GC_PIDS[$1]}" 2>/dev/null || true
}
gc_term() {
    local pid=${GC_PIDS[$1]} i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        gc_stuck "$1"
        fail "member $1 did not close within 20 s of SIGTERM"
    fi
    wait "$pid" 2>/dev/null || true
    grep -q '^CLOSED' "$TMP_ROOT/$1.out" || fail "member $1 exited without closing"
}

# last_assign NAME: the member's current assignment ("0,3" or "-"; "none" before the first).
last_assign() {
    local l
    l=$(grep '^ASSIGNED' "$TMP_ROOT/$1.out" 2>/dev/null | tail -n 1 | cut -d' ' -f3)
    echo "${l:-none}"
}

# assign_ok NPARTS NAME...: true when every member has a non-empty assignment and together
# they hold each of 0..NPARTS-1 exactly once.
assign_ok() {
    local nparts=$1 n a all=""
    shift
    for n in "$@"; do
        a=$(last_assign "$n")
        [ "$a" != none ] && [ "$a" != - ] || return 1
        all="$all,$a"
    done
    [ "$(echo "${all#,}" | tr ',' '\n' | sort -n | tr '\n' ' ')" = \
        "$(seq 0 $((nparts - 1)) | tr '\n' ' ')" ]
}

# wait_assign SECS NPARTS NAME...: until assign_ok holds for 1 s in a row; prints the elapsed
# milliseconds on stdout (measured to the first moment it held).
wait_assign() {
    local secs=$1 nparts=$2
    shift 2
    local t0 since="" now
    t0=$(date +%s%3N)
    while :; do
        now=$(date +%s%3N)
        if assign_ok "$nparts" "$@"; then
            [ -n "$since" ] || since=$now
            if [ $((now - since)) -ge 1000 ]; then
                echo $((since - t0))
                return 0
            fi
        else
            since=""
        fi
        if [ $((now - t0)) -ge $((secs * 1000)) ]; then
            local n
            for n in "$@"; do log "member $n: assignment $(last_assign "$n")"; done
            fail "no complete disjoint assignment of $nparts partitions to $* within ${secs}s"
        fi
        sleep 0.1
    done
}

# values NAME...: the distinct record values the members processed, sorted.
values() {
    local n
    for n in "$@"; do
        [ -f "$TMP_ROOT/$n.rec" ] && awk '{print $3}' "$TMP_ROOT/$n.rec"
    done | sort -n -u
}

# missing FROM TO NAME...: how many of the values FROM..TO no member processed.
missing() {
    local from=$1 to=$2
    shift 2
    values "$@" | awk -v from="$from" -v to="$to" \
        '$1 >= from && $1 <= to {n++} END {print to - from + 1 - n}'
}

# wait_values SECS FROM TO NAME...: until the members together processed every value FROM..TO.
wait_values() {
    local secs=$1 from=$2 to=$3
    shift 3
    local deadline=$((SECONDS + secs)) m
    while :; do
        m=$(missing "$from" "$to" "$@")
        [ "$m" -eq 0 ] && return 0
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "$m of the values $from..$to were not consumed by $* within ${secs}s"
        sleep 0.2
    done
}

# only_from NAME PARTS FROM TO: the records with values FROM..TO that NAME processed all come
# from partitions in the comma list PARTS.
only_from() {
    local bad
    bad=$(awk -v parts=",$2," -v from="$3" -v to="$4" \
        '$3 >= from && $3 <= to && index(parts, "," $1 ",") == 0 {n++} END {print n + 0}' \
        "$TMP_ROOT/$1.rec")
    [ "$bad" -eq 0 ] || fail "member $1 processed $bad records of $3..$4 from partitions outside $2"
}

# assign_scenario STRATEGY: the test of group_assign.sh (eager) and group_cooperative.sh
# (incremental): three members split 6 partitions; a kill -9 hands the dead member's
# partitions to the others within session timeout + margin; a clean close hands them over
# well within the session timeout.
assign_scenario() {
    local strategy=$1 session=6000 t ms
    local -a args=(-t ga -g ga-group --session-ms "$session" --strategy "$strategy")
    start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 300
    wait_metadata 20
    within 30 "$GCHECK" create -b "$BROKER" -t ga -p 6 || fail "create topic ga"

    gc_start m1 "${args[@]}"
    gc_start m2 "${args[@]}"
    gc_start m3 "${args[@]}"
    ms=$(wait_assign 40 6 m1 m2 m3)
    log "3 members hold 6 partitions after ${ms} ms: m1=$(last_assign m1) m2=$(last_assign m2)" \
        "m3=$(last_assign m3)"
    local a1 a2 a3
    a1=$(last_assign m1) a2=$(last_assign m2) a3=$(last_assign m3)

    within 60 "$GCHECK" produce -b "$BROKER" -t ga -s 1 -n 600 --partitions 0,1,2,3,4,5 ||
        fail "produce 1..600"
    wait_values 30 1 600 m1 m2 m3
    only_from m1 "$a1" 1 600
    only_from m2 "$a2" 1 600
    only_from m3 "$a3" 1 600
    log "1..600 consumed, each member only from its own partitions"

    # A crash: m1 is gone without a word; the coordinator notices after the session timeout.
    t=$(date +%s%3N)
    gc_kill9 m1
    log "m1 killed with SIGKILL (held $a1)"
    ms=$(wait_assign 30 6 m2 m3)
    log "m2, m3 hold all 6 partitions ${ms} ms after the kill: m2=$(last_assign m2)" \
        "m3=$(last_assign m3)"
    [ "$ms" -le $((session + 5000)) ] ||
        fail "m1's partitions were reassigned after ${ms} ms, want <= session ${session} + 5000"
    if [ "$strategy" = cooperative-sticky ]; then
        # Incremental: the survivors kept what they had, through every callback after the kill.
        local n old p line
        for n in m2 m3; do
            [ "$n" = m2 ] && old=$a2 || old=$a3
            while read -r line; do
                for p in ${old//,/ }; do
                    [[ ",$line," == *",$p,"* ]] ||
                        fail "$n lost partition $p (assignment $line) though cooperative-sticky"
                done
            done < <(awk -v t="$t" '$1 == "ASSIGNED" && $2 >= t {print $3}' "$TMP_ROOT/$n.out")
        done
        log "cooperative-sticky: m2 and m3 kept their partitions through the rebalance"
    fi
    within 60 "$GCHECK" produce -b "$BROKER" -t ga -s 601 -n 600 --partitions "$a1" ||
        fail "produce 601..1200 to m1's partitions $a1"
    wait_values 30 601 1200 m2 m3
    log "601..1200, produced to the dead member's partitions $a1, consumed by m2, m3"

    # A clean close: LeaveGroup, so no wait for the session timeout.
    t=$(date +%s%3N)
    gc_term m2
    ms=$(wait_assign 20 6 m3)
    log "m3 holds all 6 partitions ${ms} ms after m2's SIGTERM"
    [ "$ms" -le $((session / 2)) ] ||
        fail "after a clean close, m3 got all partitions after ${ms} ms, want <= $((session / 2))"
    within 60 "$GCHECK" produce -b "$BROKER" -t ga -s 1201 -n 120 --partitions 0,1,2,3,4,5 ||
        fail "produce 1201..1320"
    wait_values 30 1201 1320 m3
    gc_term m3
    broker_alive "after the members left"
    within 30 "$GCHECK" describe -b "$BROKER" -g ga-group >"$TMP_ROOT/describe.txt" ||
        fail "describe ga-group"
    grep -qx 'STATE Empty' "$TMP_ROOT/describe.txt" ||
        fail "ga-group is not Empty after every member left: $(tr '\n' ' ' <"$TMP_ROOT/describe.txt")"
    stop_broker
    log "PASS"
}
