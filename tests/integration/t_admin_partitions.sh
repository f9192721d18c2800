#!/usr/bin/env bash
# CreatePartitions through librdkafka's rd_kafka_CreatePartitions (what `kafka-topics --alter
# --partitions N` sends): a topic grows 1 -> 3, Metadata (librdkafka and kcat -L) shows 3 at once,
# the old records stay in partition 0, records produced afterwards land in partitions 1 and 2 and
# are read back, a group consumer is assigned all three, three members of a group that had one
# partition between them get one each, and a restart keeps 3. Error answers:
# the same count and a smaller one (INVALID_PARTITIONS), an unknown topic
# (UNKNOWN_TOPIC_OR_PART), assignments of the wrong length or naming another broker
# (INVALID_REPLICA_ASSIGNMENT); ValidateOnly changes nothing. Requests librdkafka refuses to send
# (a topic named twice, 100001 partitions) go raw through kafka-bad-input --cases partitions.
. "$(dirname "$0")/lib.sh"

start_broker --auto-create-topics-enable false
wait_metadata 20
admin() { within 40 "$KCHECK" admin "$@" -b "$BROKER"; }

admin create -t grow -p 1 || fail "CreateTopics grow (1 partition)"
within 60 "$KCHECK" produce -b "$BROKER" -t grow -n 10 --tag pre || fail "produce 10 to grow"

admin partitions -t grow -p 3 || fail "CreatePartitions grow 1 -> 3"
admin exists -t grow -p 3 || fail "Metadata does not show grow with 3 partitions"
grep -qx 'partitions=3' "$BROKER_DIR/grow.topic" ||
    fail "grow.topic does not say partitions=3: $(tr '\n' ' ' <"$BROKER_DIR/grow.topic")"
for d in grow-1 grow-2; do
    [ -d "$BROKER_DIR/$d" ] || fail "no $d directory"
done
within 20 kcat -L -b "$BROKER" -t grow >"$TMP_ROOT/kcat.txt" 2>&1 || fail "kcat -L -t grow"
grep -q 'topic "grow" with 3 partitions' "$TMP_ROOT/kcat.txt" ||
    fail "kcat -L does not show 3 partitions: $(tr '\n' ' ' <"$TMP_ROOT/kcat.txt")"
grep -q 'partition 2, leader 0' "$TMP_ROOT/kcat.txt" || fail "kcat -L lists no partition 2"

# Record seq goes to partition seq % 3: partition 2 gets post-2, post-5, ..., post-29.
within 60 "$KCHECK" produce -b "$BROKER" -t grow -n 30 --tag post || fail "produce 30 to grow"
check_dump() { # FILE: the expected contents of the grown topic
    local f=$1 p n
    for p in 0 1 2; do
        n=$(awk -F'\t' -v p="$p" '$1 == p' "$f" | wc -l)
        [ "$n" -eq $((p == 0 ? 20 : 10)) ] || fail "partition $p holds $n records ($f)"
    done
    awk -F'\t' '$1 == 2' "$f" | awk -F'\t' '{ if ($2 != NR - 1 || $4 != "post-" (3 * NR - 1)) exit 1 }' ||
        fail "partition 2 is not post-2, post-5, ... at offsets 0..9: $(awk -F'\t' '$1 == 2' "$f" | head -3)"
    awk -F'\t' '$1 == 0 && $2 < 10' "$f" | awk -F'\t' '{ if ($4 != "pre-" (NR - 1)) exit 1 }' ||
        fail "partition 0 lost the records produced before the grow"
}
within 60 "$KCHECK" dump -b "$BROKER" -t grow >"$TMP_ROOT/dump1.txt" || fail "dump grow"
check_dump "$TMP_ROOT/dump1.txt"

# A consumer group started now is assigned all three partitions and reads all 40 records.
within 60 "$TANDEM_TEST_BIN/group-check" consume -b "$BROKER" -t grow -g grow-g --max 40 \
    --out "$TMP_ROOT/group.txt" >"$TMP_ROOT/group.out" || fail "group consumer of grow"
grep -q '^ASSIGNED [0-9]* 0,1,2$' "$TMP_ROOT/group.out" ||
    fail "the group consumer was not assigned 0,1,2: $(tr '\n' ' ' <"$TMP_ROOT/group.out")"
[ "$(awk '$1 == 2' "$TMP_ROOT/group.txt" | wc -l)" -eq 10 ] ||
    fail "the group consumer read $(awk '$1 == 2' "$TMP_ROOT/group.txt" | wc -l) records of partition 2"

# The reason to grow: three members of a group on a one-partition topic, two of them idle; after
# the grow (noticed at the members' next metadata refresh) each member holds one partition and
# consumes from it.
. "$(dirname "$0")/group_lib.sh"
admin create -t svc -p 1 || fail "CreateTopics svc (1 partition)"
for m in m1 m2 m3; do
    GC_METADATA_REFRESH_MS=500 gc_start "$m" -t svc -g svc-g
done
one_active() {
    local a n=0 m
    for m in m1 m2 m3; do
        a=$(last_assign "$m")
        [ "$a" != none ] || return 1
        [ "$a" = - ] || n=$((n + 1))
    done
    [ "$n" -eq 1 ]
}
for _ in $(seq 300); do
    one_active && break
    sleep 0.1
done
one_active || fail "3 members on 1 partition: $(last_assign m1) $(last_assign m2) $(last_assign m3)"
admin partitions -t svc -p 3 || fail "CreatePartitions svc 1 -> 3"
ms=$(wait_assign 30 3 m1 m2 m3) || fail "after the grow the members hold $(last_assign m1) \
$(last_assign m2) $(last_assign m3), want one partition each"
log "each member holds one partition ${ms} ms after the grow"
within 60 "$KCHECK" produce -b "$BROKER" -t svc -n 30 --tag svc || fail "produce 30 to svc"
for _ in $(seq 200); do
    [ "$(cat "$TMP_ROOT"/m[123].rec 2>/dev/null | wc -l)" -ge 30 ] && break
    sleep 0.1
done
for m in m1 m2 m3; do
    [ "$(wc -l <"$TMP_ROOT/$m.rec")" -eq 10 ] ||
        fail "member $m consumed $(wc -l <"$TMP_ROOT/$m.rec") records, want 10 (its partition's)"
    gc_term "$m"
done

# Errors, each leaving the topic at 3.
admin partitions -t grow -p 3 --expect INVALID_PARTITIONS || fail "CreatePartitions to the same count"
admin partitions -t grow -p 2 --expect INVALID_PARTITIONS || fail "CreatePartitions 3 -> 2"
admin partitions -t grow-nope -p 2 --expect UNKNOWN_TOPIC_OR_PART || fail "unknown topic"
admin partitions -t grow -p 5 --validate-only || fail "ValidateOnly 3 -> 5"
admin partitions -t grow -p 5 --assign 0/0 --validate-only || fail "ValidateOnly 3 -> 5 on node 0"
admin partitions -t grow -p 5 --assign 0 --expect INVALID_REPLICA_ASSIGNMENT ||
    fail "one assignment for two new partitions"
admin partitions -t grow -p 4 --assign 7 --expect INVALID_REPLICA_ASSIGNMENT ||
    fail "an assignment naming broker 7"
within 40 "$TANDEM_TEST_BIN/kafka-bad-input" --port "$BROKER_PORT" --topic grow \
    --cases partitions || fail "raw CreatePartitions: duplicate topic, 100001 partitions"
admin exists -t grow -p 3 || fail "grow changed after rejected or validate-only requests"
[ ! -e "$BROKER_DIR/grow-3" ] || fail "grow-3 exists after validate-only and rejected requests"

# A restart keeps 3 partitions and every record.
restart_broker --auto-create-topics-enable false
admin exists -t grow -p 3 || fail "grow does not have 3 partitions after a restart"
within 60 "$KCHECK" dump -b "$BROKER" -t grow >"$TMP_ROOT/dump2.txt" || fail "dump after restart"
check_dump "$TMP_ROOT/dump2.txt"
# dump interleaves partitions as they arrive: compare in a fixed order
sort "$TMP_ROOT/dump1.txt" >"$TMP_ROOT/dump1.sorted"
sort "$TMP_ROOT/dump2.txt" >"$TMP_ROOT/dump2.sorted"
cmp -s "$TMP_ROOT/dump1.sorted" "$TMP_ROOT/dump2.sorted" ||
    fail "grow's records changed across the restart"

# And grows again, with an explicit assignment on this node.
admin partitions -t grow -p 4 --assign 0 || fail "CreatePartitions 3 -> 4 assigned to node 0"
admin exists -t grow -p 4 || fail "grow does not have 4 partitions"

stop_broker
log "PASS"
