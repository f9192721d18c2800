#!/usr/bin/env bash
# Transactions committed and aborted, interleaved by two transactional producers on the same
# partitions; read_committed sees exactly the committed records once, read_uncommitted all;
# a third producer with the first one's transactional id fences it (kafka-txn interleave).
. "$(dirname "$0")/lib.sh"
KTXN="$TANDEM_TEST_BIN/kafka-txn"

start_broker --num-partitions 3
within 100 "$KTXN" interleave -b "$BROKER" -t inter -p 3 --txns 12 || fail "kafka-txn interleave"
grep -q '"msg":"transaction aborted"' "$BROKER_LOG" || fail "no transaction aborted in the log"
stop_broker
# after a clean restart the aborted transactions are rebuilt from the log: same answer
start_broker --data-dir "$BROKER_DIR" --num-partitions 3
within 60 "$KTXN" verify-interleave -b "$BROKER" -t inter -p 3 --txns 12 ||
    fail "kafka-txn verify-interleave after a restart"
stop_broker
finish
