#!/usr/bin/env bash
# Consumer-group requests no well-behaved client sends, over raw TCP (group_bad.c): each must get
# its exact Kafka ErrorCode, change no committed offset, and leave the broker serving. Run twice,
# around a restart: member ids must never repeat (Kafka: client id + a UUID), or a consumer that
# still holds an id from before the restart could be taken for the new member given the same id.
. "$(dirname "$0")/lib.sh"
GCHECK="$TANDEM_TEST_BIN/group-check"
FLAGS=(--auto-create-topics-enable false --group-initial-rebalance-delay-ms 100
    --group-min-session-timeout-ms 1000)

start_broker "${FLAGS[@]}"
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t gb -p 2 || fail "create topic gb"

within 60 "$TANDEM_TEST_BIN/group-bad" "$BROKER" gb gb1 >"$TMP_ROOT/run1.txt" || fail "group-bad"
broker_alive "after group-bad"
restart_broker "${FLAGS[@]}"
wait_metadata 20
within 60 "$TANDEM_TEST_BIN/group-bad" "$BROKER" gb gb2 >"$TMP_ROOT/run2.txt" ||
    fail "group-bad after a restart"
broker_alive "after group-bad"

# A clean stop while the coordinator holds a JoinGroup and a SyncGroup: exit code 0 (so no leak
# reported by LeakSanitizer in an ASan build), and the held connections are closed.
"$TANDEM_TEST_BIN/group-bad" "$BROKER" gb gb3 hold >"$TMP_ROOT/hold.txt" 2>&1 &
hold_pid=$!
track $hold_pid
for i in $(seq 200); do
    grep -q '^HELD' "$TMP_ROOT/hold.txt" && break
    kill -0 $hold_pid 2>/dev/null || fail "group-bad hold: $(cat "$TMP_ROOT/hold.txt")"
    sleep 0.1
done
grep -q '^HELD' "$TMP_ROOT/hold.txt" || fail "group-bad hold: nothing held within 20 s"
stop_broker
rc=0
wait $hold_pid || rc=$?
[ $rc -eq 0 ] && grep -q '^CLOSED_BY_BROKER' "$TMP_ROOT/hold.txt" ||
    fail "held requests at shutdown: $(tr '\n' ' ' <"$TMP_ROOT/hold.txt")"
log "a clean stop with a held JoinGroup and SyncGroup: exit 0, connections closed"

id1=$(awk '$1 == "MEMBER_ID" {print $2}' "$TMP_ROOT/run1.txt")
id2=$(awk '$1 == "MEMBER_ID" {print $2}' "$TMP_ROOT/run2.txt")
log "first member id before the restart: $id1, after: $id2"
[ -n "$id1" ] && [ "$id1" != "$id2" ] ||
    fail "the broker handed out member id '$id1' again after a restart"
log "PASS"
