#!/usr/bin/env bash
# Transaction timeouts: a transaction left open past its transaction.timeout.ms (2 s) is aborted
# by the broker (checked every 200 ms here), its producer fenced, its records never visible to
# read_committed; the same transactional id then works again (kafka-txn timeout). A timeout above
# transaction.max.timeout.ms is refused (INVALID_TRANSACTION_TIMEOUT).
. "$(dirname "$0")/lib.sh"
KTXN="$TANDEM_TEST_BIN/kafka-txn"

start_broker --num-partitions 1 --transaction-abort-timed-out-transaction-cleanup-interval-ms 200 \
    --transaction-max-timeout-ms 60000
within 60 "$KTXN" timeout -b "$BROKER" -t hang || fail "kafka-txn timeout"
grep -q '"msg":"transaction timed out' "$BROKER_LOG" || fail "no timeout in the broker log"
stop_broker
finish
