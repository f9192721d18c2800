#!/usr/bin/env bash
# kafkajs consumers (an independent client implementation) in one group: two share a topic and
# commit, a third run of the group finds nothing left (see kafkajs_group2.js).
. "$(dirname "$0")/lib.sh"

[ -d "$TANDEM_IT_DIR/node_modules/kafkajs" ] || fail "kafkajs missing: run scripts/deps.sh"
start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 300
wait_metadata 20

within 75 node "$TANDEM_IT_DIR/kafkajs_group2.js" "$BROKER" 2000 || fail "kafkajs_group2.js"
broker_alive "after kafkajs_group2.js"

stop_broker
log "PASS"
