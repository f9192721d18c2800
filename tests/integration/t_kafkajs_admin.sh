#!/usr/bin/env bash
# kafkajs admin (describeConfigs, alterConfigs, deleteTopicRecords) against the config and record
# APIs; kafkajs_admin.js says what each phase checks. The second phase runs after a restart.
. "$(dirname "$0")/lib.sh"

[ -d "$TANDEM_IT_DIR/node_modules/kafkajs" ] || fail "kafkajs missing: run npm ci in $TANDEM_IT_DIR"
FLAGS=(--log-retention-check-interval-ms 300 --auto-create-topics-enable false)
start_broker "${FLAGS[@]}"
wait_metadata 20
within 90 node "$TANDEM_IT_DIR/kafkajs_admin.js" "$BROKER" before >"$TMP_ROOT/before.txt" 2>&1 ||
    record_failure "before: $(grep FAIL "$TMP_ROOT/before.txt" | tr '\n' ';')"
log "before: $(grep -c '^OK' "$TMP_ROOT/before.txt") checks passed"
restart_broker "${FLAGS[@]}"
wait_metadata 20
within 60 node "$TANDEM_IT_DIR/kafkajs_admin.js" "$BROKER" after >"$TMP_ROOT/after.txt" 2>&1 ||
    record_failure "after: $(grep FAIL "$TMP_ROOT/after.txt" | tr '\n' ';')"
log "after: $(grep -c '^OK' "$TMP_ROOT/after.txt") checks passed"
stop_broker
check_sanitizers
finish
