#!/usr/bin/env bash
# The flexible versions (KIP-482) end to end: kafka-flex-check (flex_check.c) speaks every API at
# its highest advertised version over raw TCP, the versions no client here sends; then librdkafka
# still produces and reads back through the same broker (kafka-check, its usual versions).
. "$(dirname "$0")/lib.sh"

start_broker --num-partitions 2 --auto-create-topics-enable true
wait_metadata 20

within 60 "$TANDEM_TEST_BIN/kafka-flex-check" --port "$BROKER_PORT" || fail "kafka-flex-check"
broker_alive "after the flexible requests"
within 60 "$KCHECK" produce -b "$BROKER" -t after-flex -n 100 --tag af || fail "produce after"
within 60 "$KCHECK" consume -b "$BROKER" -t after-flex -n 100 --tag af --check-offsets ||
    fail "consume after"
stop_broker
log "PASS"
