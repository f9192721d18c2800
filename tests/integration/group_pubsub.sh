#!/usr/bin/env bash
# Publish/subscribe between groups, producer/consumer within a group: two groups of two members
# each on one 4-partition topic. Each group receives every record (the union of its members'
# records is all of them), and inside a group the two members split them (their intersection
# is empty, each got some, and nobody got a record twice: no rebalance after the produce).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"

N=4000
start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 300
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t ps -p 4 || fail "create topic ps"

for m in a1 a2; do gc_start "$m" -t ps -g ps-A --session-ms 6000; done
for m in b1 b2; do gc_start "$m" -t ps -g ps-B --session-ms 6000; done
ms=$(wait_assign 40 4 a1 a2)
log "group ps-A stable after ${ms} ms: a1=$(last_assign a1) a2=$(last_assign a2)"
ms=$(wait_assign 40 4 b1 b2)
log "group ps-B stable after ${ms} ms: b1=$(last_assign b1) b2=$(last_assign b2)"
declare -A held=()
for m in a1 a2 b1 b2; do held[$m]=$(last_assign "$m"); done

within 60 "$GCHECK" produce -b "$BROKER" -t ps -s 1 -n $N || fail "produce 1..$N"
wait_values 40 1 $N a1 a2
wait_values 40 1 $N b1 b2
sleep 1 # a duplicate, if any, shows up meanwhile
for m in a1 a2 b1 b2; do gc_term "$m"; done

for g in "a1 a2" "b1 b2"; do
    set -- $g
    n1=$(values "$1" | wc -l) n2=$(values "$2" | wc -l)
    both=$(comm -12 <(values "$1" | LC_ALL=C sort) <(values "$2" | LC_ALL=C sort) | wc -l)
    lines=$(cat "$TMP_ROOT/$1.rec" "$TMP_ROOT/$2.rec" | wc -l)
    log "$1 got $n1, $2 got $n2, both got $both, $lines records handled"
    [ "$both" -eq 0 ] || fail "$1 and $2 (one group) both processed $both records"
    [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "$1 and $2 did not share the records ($n1, $n2)"
    [ "$lines" -eq $N ] || fail "group of $1, $2 handled $lines records for $N values"
    only_from "$1" "${held[$1]}" 1 $N
    only_from "$2" "${held[$2]}" 1 $N
done
# Pub/sub: the groups are independent, each committed everything.
for g in ps-A ps-B; do
    within 30 "$GCHECK" committed -b "$BROKER" -t ps -g "$g" >"$TMP_ROOT/$g.committed" ||
        fail "committed offsets of $g"
done
within 30 "$GCHECK" ends -b "$BROKER" -t ps >"$TMP_ROOT/ends.txt" || fail "end offsets of ps"
for g in ps-A ps-B; do
    diff "$TMP_ROOT/$g.committed" "$TMP_ROOT/ends.txt" >&2 || fail "$g did not commit every record"
done

stop_broker
log "PASS"
