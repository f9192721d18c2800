#!/usr/bin/env bash
# Bad input changes nothing: while a well-behaved librdkafka producer keeps producing, raw TCP
# clients send garbage, truncated frames, absurd size prefixes, Produce v3 batches with a bad CRC
# (CORRUPT_MESSAGE expected) or lying headers, and unknown API keys/versions (see bad_input.c).
# The broker stays up, the good client's records are all there, and the topic the bad batches
# were aimed at is byte-for-byte unchanged on disk.
. "$(dirname "$0")/lib.sh"

start_broker --num-partitions 1 --auto-create-topics-enable true
wait_metadata 20

within 60 "$KCHECK" produce -b "$BROKER" -t stable -n 2000 --tag st || fail "produce stable"
within 60 "$KCHECK" produce -b "$BROKER" -t control -n 10 --tag ctl || fail "produce control"
within 60 "$KCHECK" dump -b "$BROKER" -t stable >"$TMP_ROOT/stable-before.txt" ||
    fail "dump stable"
sum_before=$(topic_log_checksum stable)

within 90 "$KCHECK" produce -b "$BROKER" -t live -n 16000 --rate 2000 --tag live \
    2>"$TMP_ROOT/live.log" &
LIVE=$!
track "$LIVE"

within 90 "$TANDEM_TEST_BIN/kafka-bad-input" --port "$BROKER_PORT" --pid "$BROKER_PID" \
    --topic stable --control-topic control --rounds 5 || fail "kafka-bad-input"
broker_alive "after the bad input"

rc=0
wait "$LIVE" || rc=$?
tail -n 3 "$TMP_ROOT/live.log" >&2
[ "$rc" -eq 0 ] || fail "the good producer failed during the bad traffic (exit $rc)"
within 60 "$KCHECK" consume -b "$BROKER" -t live -n 16000 --tag live --check-offsets ||
    fail "the good producer's records"

sum_after=$(topic_log_checksum stable)
[ "$sum_before" = "$sum_after" ] || fail "the stored segment files of 'stable' changed"
within 60 "$KCHECK" dump -b "$BROKER" -t stable >"$TMP_ROOT/stable-after.txt" ||
    fail "dump stable after"
cmp -s "$TMP_ROOT/stable-before.txt" "$TMP_ROOT/stable-after.txt" ||
    fail "the records of 'stable' changed"
within 60 "$KCHECK" consume -b "$BROKER" -t stable -n 2000 --tag st --check-offsets ||
    fail "consume stable"

stop_broker
log "PASS"
