#!/usr/bin/env bash
# libtandem's consumer with partition.assignment.strategy=cooperative-sticky (incremental
# rebalancing, the COOPERATIVE branch of src/lib/events/consumer.c on_rebalance), against a real
# tandem-broker, with two example-hello instances (TANDEM_ASSIGNMENT_STRATEGY) in group "hello":
#
#   - hello-events gets 4 partitions; kafka-check produces N records (partition = seq % 4) at a
#     steady rate while: a alone consumes; b joins mid-stream (a incrementally revokes only the
#     partitions that move and keeps consuming the others); b leaves with SIGTERM mid-stream (its
#     partitions are incrementally assigned back to a);
#   - every record is handled, and none twice (the "greeting consumed" lines of both logs name
#     each partition/offset exactly once): a revoked partition's handled offsets were committed
#     before the other member started on it, so it resumed exactly there (without the commit on
#     revoke, the records since the last periodic commit, up to 200 ms of them, come again);
#   - the logs show the COOPERATIVE protocol, a's incremental revocation of a strict subset of
#     its partitions, and b holding partitions and handling records;
#   - both exit 0 on SIGTERM with no sanitizer report, and the group's committed offsets are the
#     ends of the 4 partitions (group-check committed); a third member c, once it is assigned
#     all 4 partitions (asserted from its log), handles no record.
. "$(dirname "$0")/lib.sh"

EXAMPLE_HELLO=${EXAMPLE_HELLO:?EXAMPLE_HELLO must name the example-hello binary}
N=900    # records
RATE=100 # per second: ~9 s of stream

# start_hello NAME: example-hello in group "hello", cooperative-sticky; sets PID_<NAME>.
start_hello() {
    local name=$1 logf="$TMP_ROOT/$1.log" pid i
    TANDEM_BROKERS=$BROKER TANDEM_LISTEN=127.0.0.1:0 TANDEM_WORKERS=1 \
        TANDEM_ASSIGNMENT_STRATEGY=cooperative-sticky \
        TANDEM_DATA_DIR="$TMP_ROOT/data-$name" "$EXAMPLE_HELLO" 2>"$logf" &
    pid=$!
    track "$pid"
    eval "PID_$name=$pid"
    for i in $(seq 100); do
        grep -q '"msg":"ready"' "$logf" && return 0
        kill -0 "$pid" 2>/dev/null || fail "example-hello ($name) exited before it was ready"
        sleep 0.1
    done
    fail "example-hello ($name) not ready within 10 s"
}

# stop_hello NAME: SIGTERM, exit status 0 within 30 s, no sanitizer report.
stop_hello() {
    local name=$1 logf="$TMP_ROOT/$1.log" rc=0 i pid
    eval "pid=\$PID_$name"
    kill -TERM "$pid"
    for i in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "example-hello ($name) still running 30 s after SIGTERM"
    wait "$pid" || rc=$?
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf"; then
        grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf" | head -40 >&2
        fail "example-hello ($name) printed a sanitizer report"
    fi
    [ "$rc" = 0 ] || { tail -n 20 "$logf" >&2; fail "example-hello ($name) exit status $rc"; }
}

# consumed NAME: "partition offset" of each record NAME handled, one a line.
consumed() {
    { grep '"msg":"greeting consumed"' "$TMP_ROOT/$1.log" || true; } |
        sed 's/.*"partition":\([0-9]*\),"offset":\([0-9]*\).*/\1 \2/'
}

# held NAME: the partitions NAME holds after its logged rebalance steps (incremental: assigned
# lists add, revoked lists remove), sorted, space-separated.
held() {
    grep -E '"msg":"events: partitions (assigned|revoked)"' "$TMP_ROOT/$1.log" |
        sed 's/.*"msg":"events: partitions \([a-z]*\)".*"partitions":"\([^"]*\)".*/\1 \2/' |
        awk '{ n = split($2, p, ","); for (i = 1; i <= n; i++) { if ($1 == "assigned") h[p[i]] = 1; else delete h[p[i]] } }
             END { for (k in h) print k }' | sort | tr '\n' ' '
}

holds() {
    [ -n "$(held "$1")" ] && echo yes || echo no
}

total() {
    { consumed a; [ -f "$TMP_ROOT/b.log" ] && consumed b; } | wc -l
}

start_broker
within 30 "$KCHECK" admin create -b "$BROKER" -t hello-events -p 4 ||
    fail "cannot create hello-events with 4 partitions"

start_hello a
for i in $(seq 150); do
    [ "$(holds a)" = yes ] && break
    sleep 0.1
done
[ "$(holds a)" = yes ] || fail "a holds no partition after 15 s"
grep -q '"msg":"events: partitions assigned","protocol":"COOPERATIVE","count":4' "$TMP_ROOT/a.log" ||
    fail "a's assignment is not 4 partitions with the COOPERATIVE protocol: $(grep 'partitions' "$TMP_ROOT/a.log")"

"$KCHECK" produce -b "$BROKER" -t hello-events -n "$N" --rate "$RATE" --acks all \
    >"$TMP_ROOT/produce.out" 2>&1 &
PRODUCER=$!
track "$PRODUCER"
sleep 2
start_hello b # joins mid-stream
for i in $(seq 150); do
    [ "$(holds b)" = yes ] && break
    sleep 0.1
done
[ "$(holds b)" = yes ] || fail "b got no partition within 15 s of joining"
log "b joined: a holds $(held a), b holds $(held b)"
sleep 2
n_b=$(consumed b | wc -l)
[ "$n_b" -gt 0 ] || fail "b handled no record in 2 s while holding $(held b)"
stop_hello b # leaves mid-stream: its partitions go back to a
wait "$PRODUCER" || { cat "$TMP_ROOT/produce.out" >&2; fail "kafka-check produce failed"; }
for i in $(seq 300); do
    [ "$(total)" -ge "$N" ] && break
    sleep 0.1
done
sleep 1 # anything handled twice would come now
stop_hello a

# ---- every record once --------------------------------------------------------------------------
{ consumed a; consumed b; } | sort -n -k1,1 -k2,2 >"$TMP_ROOT/all"
got=$(wc -l <"$TMP_ROOT/all")
distinct=$(uniq <"$TMP_ROOT/all" | wc -l)
dups=$(uniq -d <"$TMP_ROOT/all" | head -5 | tr '\n' ';')
[ "$distinct" = "$N" ] || fail "$distinct distinct records handled, want $N"
if [ "$got" != "$N" ]; then # who handled them, and the rebalance steps and rewinds around
    for m in a b; do
        consumed "$m" | sort -n -k1,1 -k2,2 | uniq -c | awk -v m="$m" '$1 > 1 { print m " twice: " $2 "/" $3 }' | head -5 >&2
        consumed "$m" | sort -u >"$TMP_ROOT/$m.once" # comm wants the plain order
        grep -E '"msg":"events: (partitions|fetch)' "$TMP_ROOT/$m.log" | sed "s/^/$m: /" >&2
    done
    comm -12 "$TMP_ROOT/a.once" "$TMP_ROOT/b.once" | head -5 | sed 's/^/a and b: /' >&2
    fail "$got records handled for $N distinct: handled twice: $dups"
fi
for p in 0 1 2 3; do # offsets 0 .. N/4-1 in each partition
    c=$(awk -v p="$p" '$1 == p' "$TMP_ROOT/all" | wc -l)
    last=$(awk -v p="$p" '$1 == p { o = $2 } END { print o }' "$TMP_ROOT/all")
    [ "$c" = $((N / 4)) ] && [ "$last" = $((N / 4 - 1)) ] ||
        fail "partition $p: $c records, last offset $last; want $((N / 4)), $((N / 4 - 1))"
done
log "$N records handled exactly once: a $(consumed a | wc -l), b $(consumed b | wc -l)"

# ---- the rebalances were incremental ------------------------------------------------------------
grep -q '"msg":"events: partitions assigned","protocol":"COOPERATIVE"' "$TMP_ROOT/b.log" ||
    fail "b was not assigned through the COOPERATIVE protocol"
first_rev=$(grep '"msg":"events: partitions revoked"' "$TMP_ROOT/a.log" | head -1)
[ -n "$first_rev" ] || fail "a never revoked a partition while b joined"
rc=$(echo "$first_rev" | sed 's/.*"count":\([0-9]*\).*/\1/')
[ "$rc" -ge 1 ] && [ "$rc" -lt 4 ] ||
    fail "a's first revocation took $rc of its 4 partitions: not incremental ($first_rev)"
# b leaving gave its partitions back to a incrementally: a's later assignment adds only those
n_assign=$(grep -c '"msg":"events: partitions assigned","protocol":"COOPERATIVE"' "$TMP_ROOT/a.log")
[ "$n_assign" -ge 2 ] || fail "a was not assigned b's partitions after b left"

# ---- the group committed everything -------------------------------------------------------------
within 30 "$TANDEM_TEST_BIN/group-check" committed -b "$BROKER" -t hello-events -g hello \
    >"$TMP_ROOT/committed" || fail "group-check committed failed"
want=$(for p in 0 1 2 3; do echo "$p $((N / 4))"; done)
[ "$(sort -n "$TMP_ROOT/committed")" = "$want" ] ||
    fail "the group's committed offsets are not the ends of the partitions: $(tr '\n' ';' <"$TMP_ROOT/committed")"
# and a third member of the group (alone now: it is assigned all 4 partitions, the assignment is
# asserted before its silence counts) resumes at those offsets: nothing left to handle
start_hello c
for i in $(seq 150); do
    [ "$(held c)" = "hello-events/0 hello-events/1 hello-events/2 hello-events/3 " ] && break
    sleep 0.1
done
[ "$(held c)" = "hello-events/0 hello-events/1 hello-events/2 hello-events/3 " ] ||
    fail "c was not assigned the 4 partitions within 15 s: it holds '$(held c)'"
held_c=$(held c)
sleep 3 # c fetches from its committed offsets; any record past them would be handled now
n_c=$(consumed c | wc -l)
stop_hello c
[ "$n_c" = 0 ] || fail "a third member of the group handled $n_c records: offsets were not committed"
log "a third member, assigned ${held_c}, finds every offset committed (0 records)"
finish
