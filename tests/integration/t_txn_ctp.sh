#!/usr/bin/env bash
# Consume-transform-produce (KIP-98): a group consumer, a transactional producer sending the
# consumer's offsets with each transaction (rd_kafka_send_offsets_to_transaction); offsets become
# visible only at commit and never for an aborted transaction; the output holds every input once
# (kafka-txn ctp). Then the committed offsets survive a restart.
. "$(dirname "$0")/lib.sh"
KTXN="$TANDEM_TEST_BIN/kafka-txn"

start_broker --num-partitions 1
within 100 "$KTXN" ctp -b "$BROKER" --in ctp-in --out ctp-out -g ctp-group -n 1000 ||
    fail "kafka-txn ctp"
grep -q '"msg":"transaction committed".*"offsets":1' "$BROKER_LOG" ||
    fail "no transaction committed offsets"
stop_broker
start_broker --data-dir "$BROKER_DIR" --num-partitions 1
within 30 "$KTXN" ctp-offset -b "$BROKER" --in ctp-in -g ctp-group -n 1000 ||
    fail "the transaction's committed offsets did not survive a restart"
stop_broker
finish
