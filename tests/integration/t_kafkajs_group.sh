#!/usr/bin/env bash
# kafkajs group consumer: join, consume everything once, commit, a second member resumes from
# the committed offsets (see kafkajs_group.js).
. "$(dirname "$0")/lib.sh"

[ -d "$TANDEM_IT_DIR/node_modules/kafkajs" ] || fail "kafkajs missing: run scripts/deps.sh"
start_broker --auto-create-topics-enable false
wait_metadata 20

within 80 node "$TANDEM_IT_DIR/kafkajs_group.js" "$BROKER" 1000 || fail "kafkajs_group.js"

stop_broker
log "PASS"
