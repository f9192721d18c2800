#!/usr/bin/env bash
# kafkajs transactions: one committed and one aborted, both with sendOffsets (kafkajs_txn.js).
. "$(dirname "$0")/lib.sh"

[ -d "$TANDEM_IT_DIR/node_modules/kafkajs" ] || fail "kafkajs missing: run scripts/deps.sh"
start_broker --auto-create-topics-enable false
wait_metadata 20
within 70 node "$TANDEM_IT_DIR/kafkajs_txn.js" "$BROKER" || fail "kafkajs_txn.js"
stop_broker
finish
