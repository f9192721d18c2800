#!/usr/bin/env bash
# The config and record admin APIs seen by kafka-python 2.0.2 (Debian python3-kafka): its admin
# client's describe_configs and alter_configs, and, through its protocol classes, the requests
# that client lacks (IncrementalAlterConfigs, DeleteRecords, OffsetDelete, Fetch and ListOffsets
# around the log start offset); admin_kafka_python.py says what each phase checks. The second
# phase runs after a restart.
. "$(dirname "$0")/lib.sh"

KPY=${KAFKA_PYTHON:-/usr/bin/python3}
"$KPY" -c 'import kafka' 2>/dev/null ||
    fail "kafka-python missing from $KPY (scripts/deps.sh installs python3-kafka)"
PY="$TANDEM_IT_DIR/admin_kafka_python.py"
start_broker --auto-create-topics-enable false
wait_metadata 20
within 90 "$KPY" "$PY" before "$BROKER" >"$TMP_ROOT/before.txt" 2>"$TMP_ROOT/before.err" ||
    record_failure "before: $(grep FAIL "$TMP_ROOT/before.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/before.err" | tr '\n' ' ')"
log "before: $(grep -c '^OK' "$TMP_ROOT/before.txt") checks passed"
restart_broker --auto-create-topics-enable false
wait_metadata 20
within 60 "$KPY" "$PY" after "$BROKER" >"$TMP_ROOT/after.txt" 2>"$TMP_ROOT/after.err" ||
    record_failure "after: $(grep FAIL "$TMP_ROOT/after.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/after.err" | tr '\n' ' ')"
log "after: $(grep -c '^OK' "$TMP_ROOT/after.txt") checks passed"
stop_broker
check_sanitizers
finish
