#!/usr/bin/env bash
# Admin API through librdkafka: CreateTopics (partitions, configs), TOPIC_ALREADY_EXISTS,
# INVALID_CONFIG, an invalid name, DeleteTopics, UNKNOWN_TOPIC_OR_PART; Metadata shows a topic
# after creation and not after deletion; with auto-creation off, asking for a topic by name in
# Metadata does not create it. The configs of CreateTopics are judged by what the broker does:
# adm-cfg (retention.ms=3600000, segment.bytes=4096) deletes records stamped 2 hours ago once
# newer ones rolled their segment, and adm-kafkacfg keeps retention.ms=60000 (and
# segment.bytes=4096) next to the ignored compression.type and min.insync.replicas: records
# stamped 10 minutes ago are deleted the same way. (The broker's defaults, 7 days and 1 GiB,
# keep them all.)
. "$(dirname "$0")/lib.sh"

start_broker --auto-create-topics-enable false --log-retention-check-interval-ms 500
wait_metadata 20
admin() { within 40 "$KCHECK" admin "$@" -b "$BROKER"; }

admin create -t adm1 -p 6 -c retention.ms=3600000 -c segment.bytes=1048576 ||
    fail "CreateTopics adm1 (6 partitions, retention.ms, segment.bytes)"
admin exists -t adm1 -p 6 || fail "Metadata does not show adm1 with 6 partitions"
[ -f "$BROKER_DIR/adm1.topic" ] || fail "no $BROKER_DIR/adm1.topic (layout of src/broker/log/log.h)"

# The configs act: old records go by retention.ms once newer ones rolled (segment.bytes) their
# segment; the records stamped now stay.
# expire_old TOPIC AGE_MS: 300 records stamped AGE_MS ago, then 10 stamped now, into TOPIC's
# partition 0; waits for retention to delete from the front, never past the old records.
expire_old() {
    local now first
    now=$(date +%s%3N)
    within 60 "$KCHECK" produce -b "$BROKER" -t "$1" -n 300 --ts-base $((now - $2)) --size 64 \
        --tag old || fail "produce old records to $1"
    within 60 "$KCHECK" produce -b "$BROKER" -t "$1" -n 10 -s 300 --size 64 --tag new ||
        fail "produce new records to $1"
    wait_retention "$1" 0 15
    first=$(first_offset "$1")
    [ -n "$first" ] && [ "$first" -le 300 ] ||
        fail "$1: retention deleted records stamped now (first offset '${first}')"
}
admin create -t adm-cfg -p 1 -c retention.ms=3600000 -c segment.bytes=4096 ||
    fail "CreateTopics adm-cfg (retention.ms, segment.bytes)"
expire_old adm-cfg 7200000

admin create -t adm1 -p 6 --expect TOPIC_ALREADY_EXISTS || fail "re-creating adm1"
admin create -t adm1 -p 2 --expect TOPIC_ALREADY_EXISTS || fail "re-creating adm1 with 2 partitions"
admin exists -t adm1 -p 6 || fail "adm1 changed after a failed re-create"

admin create -t adm-badcfg -p 1 -c retention.ms=soon --expect INVALID_CONFIG ||
    fail "CreateTopics with retention.ms=soon"
admin create -t adm-badkey -p 1 -c no.such.config=1 --expect INVALID_CONFIG ||
    fail "CreateTopics with an unknown config key"
# Valid Kafka configs without effect on one node are accepted (librdkafka's test 0081 sends them).
admin create -t adm-kafkacfg -p 1 -c compression.type=lz4 -c min.insync.replicas=1 \
    -c retention.ms=60000 -c segment.bytes=4096 ||
    fail "CreateTopics with compression.type and min.insync.replicas"
admin exists -t adm-kafkacfg -p 1 || fail "adm-kafkacfg was not created"
expire_old adm-kafkacfg 600000 # retention.ms=60000 kept next to the ignored configs
admin create -t 'bad/name' -p 1 --expect TOPIC_EXCEPTION ||
    fail "CreateTopics with an invalid name (INVALID_TOPIC_EXCEPTION, 17)"
admin absent -t adm-badcfg || fail "a rejected topic exists"
admin absent -t adm-badkey || fail "a rejected topic exists"

# The topic works.
within 60 "$KCHECK" produce -b "$BROKER" -t adm1 -n 600 --tag adm || fail "produce to adm1"
within 60 "$KCHECK" consume -b "$BROKER" -t adm1 -n 600 --tag adm --check-offsets ||
    fail "consume adm1"

admin delete -t adm1 || fail "DeleteTopics adm1"
admin absent -t adm1 || fail "Metadata still shows adm1 after DeleteTopics"
if ls -d "$BROKER_DIR"/adm1-* >/dev/null 2>&1; then
    fail "adm1's partition directories are still on disk: $(ls -d "$BROKER_DIR"/adm1-*)"
fi
admin delete -t adm1 --expect UNKNOWN_TOPIC_OR_PART || fail "deleting adm1 twice"

# Re-created under the same name: a new, empty topic.
admin create -t adm1 -p 2 || fail "CreateTopics adm1 again"
admin exists -t adm1 -p 2 || fail "adm1 re-created with 2 partitions"
within 60 "$KCHECK" dump -b "$BROKER" -t adm1 >"$TMP_ROOT/adm1.txt" || fail "dump adm1"
[ ! -s "$TMP_ROOT/adm1.txt" ] || fail "re-created adm1 holds old records: $(head -3 "$TMP_ROOT/adm1.txt")"

# Auto-creation disabled: Metadata for a named topic must not create it.
within 20 kcat -L -b "$BROKER" -t adm-noauto >"$TMP_ROOT/noauto.txt" 2>&1 || true
admin absent -t adm-noauto || fail "Metadata created adm-noauto with auto-creation disabled"

stop_broker
log "PASS"
