#!/usr/bin/env bash
# DeleteRecords and OffsetDelete through librdkafka's Admin API (config-check delete-records,
# delete-offsets). DeleteRecords: the log start offset moves to the offset asked (the segments
# wholly below it are removed, the one holding it stays), kcat reading from the beginning starts
# there, ListOffsets earliest (kcat -Q -2) answers it, a fetch below it is OFFSET_OUT_OF_RANGE;
# an offset above the high watermark is OFFSET_OUT_OF_RANGE, one below the start changes nothing,
# -1 means the high watermark; the start survives kill -9 and a clean restart. OffsetDelete: a
# committed offset is gone at once and after kill -9 (the answer waited for the offsets log's
# sync); an unknown group is GROUP_ID_NOT_FOUND, a partition of an unknown topic
# UNKNOWN_TOPIC_OR_PART; with a live member subscribed to the topic its offsets stay
# (GROUP_SUBSCRIBED_TO_TOPIC) while the group's offsets of another topic go.
. "$(dirname "$0")/lib.sh"

CC="$TANDEM_TEST_BIN/config-check"
start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
DIR=$BROKER_DIR
PORT=$BROKER_PORT
cc() { within 40 "$CC" "$@" -b "$BROKER"; }
expect_out() { # WANT-REGEX ARGS...: config-check ARGS prints a line matching WANT-REGEX
    local want=$1 out
    shift
    out=$(cc "$@") || fail "config-check $*"
    if grep -Eq -- "$want" <<<"$out"; then
        log "$1 ${*:2}: $(tr '\n' ' ' <<<"$out")"
    else
        record_failure "config-check $*: got '$(tr '\n' '|' <<<"$out")', want '$want'"
    fi
}
segments() { find "$DIR/rec-0" -name '*.log' | wc -l; }
earliest() { within 20 kcat -Q -b "$BROKER" -t "rec:0:-2" 2>&1 | awk '/offset/ { print $NF }'; }

within 40 "$KCHECK" admin create -b "$BROKER" -t rec -p 1 -c segment.bytes=4096 ||
    fail "CreateTopics rec"
within 40 "$KCHECK" admin create -b "$BROKER" -t other -p 1 || fail "CreateTopics other"
# 12 appends of 10 records, each over 4 KiB: segments [0,10), [10,20), ... [110,120).
for i in $(seq 0 11); do
    within 60 "$KCHECK" produce -b "$BROKER" -t rec -n 10 -s $((i * 10)) --size 500 --tag a \
        2>/dev/null || fail "produce 10 (round $i)"
done
[ "$(segments)" -eq 12 ] || fail "rec-0 has $(segments) segments, want 12"

expect_out '^DELETED 0 NO_ERROR 55$' delete-records -t rec -p 0 -o 55
[ "$(segments)" -eq 7 ] || record_failure "rec-0 has $(segments) segments after DeleteRecords 55, want 7"
[ "$(first_offset rec 0)" = 55 ] || record_failure "reading rec from the beginning starts at $(first_offset rec 0), want 55"
[ "$(earliest)" = 55 ] || record_failure "ListOffsets earliest answers '$(earliest)', want 55"
if within 20 kcat -C -b "$BROKER" -t rec -p 0 -o 10 -c 1 -e -X topic.auto.offset.reset=error \
    >/dev/null 2>"$TMP_ROOT/oor.txt"; then
    record_failure "a fetch at offset 10 (below the start) succeeded"
fi
grep -q 'Offset out of range' "$TMP_ROOT/oor.txt" ||
    record_failure "a fetch below the start: $(tr '\n' ' ' <"$TMP_ROOT/oor.txt")"
expect_out '^DELETED 0 OFFSET_OUT_OF_RANGE' delete-records -t rec -p 0 -o 121
expect_out '^DELETED 0 NO_ERROR 55$' delete-records -t rec -p 0 -o 30
# (librdkafka refuses unknown topics and partitions itself: t_admin_kafka_python.sh sends those.)

kill9_broker
start_broker --data-dir "$DIR" --listen "127.0.0.1:$PORT" --group-initial-rebalance-delay-ms 100
[ "$(earliest)" = 55 ] || record_failure "after kill -9 ListOffsets earliest answers '$(earliest)', want 55"
[ "$(first_offset rec 0)" = 55 ] || record_failure "after kill -9 rec starts at $(first_offset rec 0)"

expect_out '^DELETED 0 NO_ERROR 120$' delete-records -t rec -p 0 -o -1
[ "$(segments)" -eq 1 ] || record_failure "rec-0 has $(segments) segments after DeleteRecords -1, want 1"
restart_broker --group-initial-rebalance-delay-ms 100
[ "$(earliest)" = 120 ] || record_failure "after a restart ListOffsets earliest answers '$(earliest)', want 120"
within 60 "$KCHECK" produce -b "$BROKER" -t rec -n 5 -s 120 --tag b 2>/dev/null || fail "produce 5"
within 20 kcat -C -b "$BROKER" -t rec -p 0 -o beginning -c 5 -e -f '%o %s\n' >"$TMP_ROOT/tail.txt" ||
    fail "read rec"
[ "$(head -1 "$TMP_ROOT/tail.txt")" = "120 b-120" ] ||
    record_failure "after the restart rec reads $(head -1 "$TMP_ROOT/tail.txt"), want '120 b-120'"

# OffsetDelete.
cc commit -g g1 -t rec -p 0 -o 100 || fail "commit g1"
cc commit -g g1 -t other -p 0 -o 0 || fail "commit g1 other"
expect_out '^COMMITTED 100$' committed -g g1 -t rec -p 0
expect_out '^PARTITION rec/0 NO_ERROR$' delete-offsets -g g1 -t rec -p 0
kill9_broker
start_broker --data-dir "$DIR" --listen "127.0.0.1:$PORT" --group-initial-rebalance-delay-ms 100
expect_out '^COMMITTED -1001$' committed -g g1 -t rec -p 0
expect_out '^COMMITTED 0$' committed -g g1 -t other -p 0
expect_out '^RESULT GROUP_ID_NOT_FOUND' delete-offsets -g nosuch-group -t rec -p 0
expect_out '^PARTITION nosuch/0 UNKNOWN_TOPIC_OR_PART$' delete-offsets -g g1 -t nosuch -p 0
expect_out '^PARTITION rec/0 NO_ERROR$' delete-offsets -g g1 -t rec -p 0 # nothing left: no error

cc subscribed -g g2 -t rec -p 0 -o 110 --other other >"$TMP_ROOT/sub.txt" || fail "subscribed"
grep -q '^PARTITION rec/0 GROUP_SUBSCRIBED_TO_TOPIC$' "$TMP_ROOT/sub.txt" ||
    record_failure "a subscribed topic's offset: $(tr '\n' '|' <"$TMP_ROOT/sub.txt")"
grep -q '^PARTITION other/0 NO_ERROR$' "$TMP_ROOT/sub.txt" ||
    record_failure "another topic's offset: $(tr '\n' '|' <"$TMP_ROOT/sub.txt")"
expect_out '^COMMITTED 110$' committed -g g2 -t rec -p 0
expect_out '^COMMITTED -1001$' committed -g g2 -t other -p 0
stop_broker
check_sanitizers
finish
