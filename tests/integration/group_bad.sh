#!/usr/bin/env bash
# Consumer-group requests no well-behaved client sends, over raw TCP (group_bad.c): each must get
# its exact Kafka ErrorCode, change no committed offset, and leave the broker serving.
. "$(dirname "$0")/lib.sh"
GCHECK="$TANDEM_TEST_BIN/group-check"

start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t gb -p 2 || fail "create topic gb"

within 60 "$TANDEM_TEST_BIN/group-bad" "$BROKER" gb || fail "group-bad"
broker_alive "after group-bad"
wait_metadata 10

stop_broker
log "PASS"
