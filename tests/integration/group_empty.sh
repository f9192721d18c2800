#!/usr/bin/env bash
# Empty groups as Kafka keeps them, through librdkafka's admin API (group-check groups /
# describe / delete: ListConsumerGroups, DescribeConsumerGroups, DeleteConsumerGroups, and the
# legacy ListGroups + DescribeGroups):
#   - a group whose only member joined and left without committing stays listed as Empty with
#     protocol type "consumer", is described as Empty with no members, and is deleted
#     (then GROUP_ID_NOT_FOUND and no longer listed);
#   - such a group is forgotten offsets.retention.check.interval.ms after it became Empty
#     (Kafka's cleanupGroupMetadata: Empty and no offsets -> Dead), here set to 3 s;
#   - a group with committed offsets is not (it waits for offsets.retention.ms), and survives a
#     restart, Empty with no members and protocol type "consumer".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"

LINGER_MS=3000
FLAGS=(--auto-create-topics-enable false --group-initial-rebalance-delay-ms 100
    --offsets-retention-check-interval-ms "$LINGER_MS")
start_broker "${FLAGS[@]}"
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t ge -p 2 || fail "create topic ge"

# join_and_leave GROUP [consume args]: one member joins, is assigned, and leaves cleanly
join_and_leave() {
    local g=$1
    shift
    within 60 "$GCHECK" consume -b "$BROKER" -t ge -g "$g" --manual-commit --idle-exit 500 "$@" \
        --out "$TMP_ROOT/$g.rec" >"$TMP_ROOT/$g.out" 2>"$TMP_ROOT/$g.err" ||
        fail "member of $g: $(tail -n 3 "$TMP_ROOT/$g.err" | tr '\n' ' ')"
    grep -q '^ASSIGNED [0-9]* 0,1$' "$TMP_ROOT/$g.out" || fail "member of $g was never assigned"
}
groups() {
    within 30 "$GCHECK" groups -b "$BROKER" >"$TMP_ROOT/groups.txt" || fail "list groups"
}
listed() { # GROUP STATE PROTOCOL_TYPE
    groups
    grep -q "^GROUP $1 " "$TMP_ROOT/groups.txt" &&
        grep -qE "^LEGACY $1 $2 $3 0$" "$TMP_ROOT/groups.txt" ||
        fail "group $1 not listed as $2 $3 with 0 members: $(tr '\n' ';' <"$TMP_ROOT/groups.txt")"
}
not_listed() {
    groups
    ! grep -q " $1 " "$TMP_ROOT/groups.txt" ||
        fail "group $1 still listed: $(tr '\n' ';' <"$TMP_ROOT/groups.txt")"
}
described_empty() {
    within 30 "$GCHECK" describe -b "$BROKER" -g "$1" >"$TMP_ROOT/describe.txt" || fail "describe $1"
    grep -qx 'STATE Empty' "$TMP_ROOT/describe.txt" && grep -qx 'MEMBERS 0' "$TMP_ROOT/describe.txt" ||
        fail "describe $1: $(tr '\n' ';' <"$TMP_ROOT/describe.txt")"
}
delete() { # GROUP WANT
    within 30 "$GCHECK" delete -b "$BROKER" -g "$1" >"$TMP_ROOT/delete.txt" || fail "delete $1"
    grep -qx "DELETE $1 $2" "$TMP_ROOT/delete.txt" ||
        fail "DeleteGroups $1: $(cat "$TMP_ROOT/delete.txt"), want $2"
}

# Deleted while Empty without offsets.
join_and_leave ge-none
listed ge-none Empty consumer
described_empty ge-none
delete ge-none NO_ERROR
delete ge-none GROUP_ID_NOT_FOUND
not_listed ge-none
log "an empty group without offsets: listed, described and deleted"

# Forgotten after the linger; a group with offsets stays.
join_and_leave ge-linger # the topic is still empty: nothing consumed, nothing committed
left=$SECONDS
within 30 "$GCHECK" produce -b "$BROKER" -t ge -n 10 || fail "produce 10 records"
# all 10 (--max), however slow a fetch is under load; the later --idle-exit is the bound
join_and_leave ge-offsets --max 10 --idle-exit 20000
[ "$(wc -l <"$TMP_ROOT/ge-offsets.rec")" -eq 10 ] || fail "ge-offsets consumed $(wc -l <"$TMP_ROOT/ge-offsets.rec") of 10"
listed ge-linger Empty consumer
listed ge-offsets Empty consumer
sleep $((LINGER_MS / 1000 + 1))
not_listed ge-linger
listed ge-offsets Empty consumer
log "ge-linger forgotten within $((SECONDS - left)) s of leaving; ge-offsets kept"

restart_broker "${FLAGS[@]}"
wait_metadata 20
groups
grep -qE '^LEGACY ge-offsets Empty consumer 0$' "$TMP_ROOT/groups.txt" ||
    fail "ge-offsets after the restart: $(tr '\n' ';' <"$TMP_ROOT/groups.txt")"
described_empty ge-offsets
delete ge-offsets NO_ERROR
not_listed ge-offsets
broker_alive "after the admin calls"

stop_broker
check_sanitizers
log "PASS"
