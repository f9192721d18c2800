#!/usr/bin/env bash
# Groups as Kafka keeps them, seen by kafka-python 2.0.2 (Debian python3-kafka, an independent
# third client implementation): list_consumer_groups, describe_consumer_groups and
# delete_consumer_groups on groups that are empty with and without committed offsets, active, or
# unknown, before and after a broker restart; a silent member's session expiring within 300 ms of
# its deadline; and the disabled security APIs answered at once
# (group_kafka_python.py says exactly what each phase checks).
. "$(dirname "$0")/lib.sh"

# Debian's python3-kafka lives in Debian's python (a python3 earlier on PATH, e.g. pyenv's, does
# not see it).
KPY=${KAFKA_PYTHON:-/usr/bin/python3}
"$KPY" -c 'import kafka' 2>/dev/null ||
    fail "kafka-python missing from $KPY (scripts/deps.sh installs python3-kafka)"
PY="$TANDEM_IT_DIR/group_kafka_python.py"
SEEDS="$TANDEM_IT_DIR/../fuzz/corpus/security"
FLAGS=(--group-initial-rebalance-delay-ms 100)

start_broker "${FLAGS[@]}"
wait_metadata 20
within 120 "$KPY" "$PY" before "$BROKER" >"$TMP_ROOT/before.txt" 2>"$TMP_ROOT/before.err" ||
    record_failure "before the restart: $(grep FAIL "$TMP_ROOT/before.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/before.err" | tr '\n' ' ')"
log "before: $(grep -c '^OK' "$TMP_ROOT/before.txt") checks passed"

restart_broker "${FLAGS[@]}"
wait_metadata 20
within 60 "$KPY" "$PY" after "$BROKER" >"$TMP_ROOT/after.txt" 2>"$TMP_ROOT/after.err" ||
    record_failure "after the restart: $(grep FAIL "$TMP_ROOT/after.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/after.err" | tr '\n' ' ')"
log "after: $(grep -c '^OK' "$TMP_ROOT/after.txt") checks passed"

within 60 "$KPY" "$PY" expiry "$BROKER" >"$TMP_ROOT/expiry.txt" 2>"$TMP_ROOT/expiry.err" ||
    record_failure "session expiry: $(grep FAIL "$TMP_ROOT/expiry.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/expiry.err" | tr '\n' ' ')"
log "expiry: $(grep '^EXPIRY' "$TMP_ROOT/expiry.txt" | tr '\n' ';')"

within 60 "$KPY" "$PY" disabled "$BROKER" "$SEEDS" >"$TMP_ROOT/disabled.txt" 2>"$TMP_ROOT/disabled.err" ||
    record_failure "disabled APIs: $(grep FAIL "$TMP_ROOT/disabled.txt" | tr '\n' ';') $(tail -n 5 "$TMP_ROOT/disabled.err" | tr '\n' ' ')"
log "disabled: $(grep -c '^OK' "$TMP_ROOT/disabled.txt") checks passed"
broker_alive "after the disabled APIs"

stop_broker
check_sanitizers
finish
