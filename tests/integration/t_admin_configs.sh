#!/usr/bin/env bash
# DescribeConfigs and AlterConfigs through librdkafka's Admin API (config-check): a topic's
# configs carry Kafka's names, values and sources (DEFAULT_CONFIG, STATIC_BROKER_CONFIG for a
# broker setting given by flag, DYNAMIC_TOPIC_CONFIG for an override) with their synonyms; the
# broker resource lists the broker's settings read-only. AlterConfigs validate-only changes
# nothing; a real change acts at once (segment.bytes small: new segments roll as records come;
# retention.ms small: old segments are deleted; max.message.bytes small: a larger record is
# refused) and survives a clean restart and a kill -9. Errors are Kafka's: an unknown name, a bad
# value and cleanup.policy=compact INVALID_CONFIG, an unknown topic UNKNOWN_TOPIC_OR_PART, a
# broker setting (none is dynamic) INVALID_CONFIG. (librdkafka sends a broker resource to that
# broker, so another broker's id is checked raw, in t_admin_kafka_python.sh.)
. "$(dirname "$0")/lib.sh"

CC="$TANDEM_TEST_BIN/config-check"
start_broker --log-segment-bytes 1048576 --log-retention-check-interval-ms 300
wait_metadata 20
DIR=$BROKER_DIR
PORT=$BROKER_PORT
cc() { within 40 "$CC" "$@" -b "$BROKER"; }
has() { # FILE LINE-REGEX WHAT
    grep -Eq -- "$2" "$1" || record_failure "$3: no line matching '$2' in: $(tr '\n' '|' <"$1")"
}

within 40 "$KCHECK" admin create -b "$BROKER" -t cfg -p 1 -c retention.bytes=-1 ||
    fail "CreateTopics cfg"

cc describe --type topic -n cfg --synonyms >"$TMP_ROOT/d1.txt" || fail "describe cfg"
has "$TMP_ROOT/d1.txt" '^RESULT NO_ERROR' "describe cfg"
has "$TMP_ROOT/d1.txt" '^CONFIG segment.bytes=1048576 source=STATIC_BROKER_CONFIG ro=0 sensitive=0 default=0$' \
    "segment.bytes follows the broker flag"
has "$TMP_ROOT/d1.txt" '^CONFIG retention.ms=604800000 source=DEFAULT_CONFIG ro=0 sensitive=0 default=1$' \
    "retention.ms is Kafka's default"
has "$TMP_ROOT/d1.txt" '^CONFIG retention.bytes=-1 source=DYNAMIC_TOPIC_CONFIG ' \
    "retention.bytes set at creation"
has "$TMP_ROOT/d1.txt" '^CONFIG cleanup.policy=delete source=DEFAULT_CONFIG' "cleanup.policy"
has "$TMP_ROOT/d1.txt" '^CONFIG max.message.bytes=1048588 ' "max.message.bytes"
has "$TMP_ROOT/d1.txt" '^SYNONYM segment.bytes log.segment.bytes=1048576 STATIC_BROKER_CONFIG$' \
    "segment.bytes synonym (broker flag)"
has "$TMP_ROOT/d1.txt" '^SYNONYM segment.bytes log.segment.bytes=1073741824 DEFAULT_CONFIG$' \
    "segment.bytes synonym (default)"
has "$TMP_ROOT/d1.txt" '^SYNONYM retention.bytes retention.bytes=-1 DYNAMIC_TOPIC_CONFIG$' \
    "retention.bytes synonym (topic)"

cc describe --type broker -n 0 >"$TMP_ROOT/b.txt" || fail "describe broker 0"
has "$TMP_ROOT/b.txt" '^RESULT NO_ERROR' "describe broker"
has "$TMP_ROOT/b.txt" '^CONFIG log.segment.bytes=1048576 source=STATIC_BROKER_CONFIG ro=1 ' \
    "broker log.segment.bytes"
has "$TMP_ROOT/b.txt" '^CONFIG num.partitions=1 source=DEFAULT_CONFIG ro=1 ' "broker num.partitions"
has "$TMP_ROOT/b.txt" '^CONFIG log.retention.ms=604800000 source=DEFAULT_CONFIG ro=1 ' \
    "broker log.retention.ms"
cc describe --type topic -n nosuch >"$TMP_ROOT/d0.txt" || fail "describe nosuch"
has "$TMP_ROOT/d0.txt" '^RESULT UNKNOWN_TOPIC_OR_PART ' "describe of an unknown topic"

# Errors change nothing.
expect_alter() { # WANT ARGS...: AlterConfigs answers WANT
    local want=$1 out
    shift
    out=$(cc alter "$@") || fail "alter $*"
    case "$out" in
    "RESULT $want"*) log "alter $*: $out" ;;
    *) record_failure "alter $*: got '$out', want $want" ;;
    esac
}
expect_alter INVALID_CONFIG --type topic -n cfg cleanup.policy=compact
expect_alter INVALID_CONFIG --type topic -n cfg no.such.config=1
expect_alter INVALID_CONFIG --type topic -n cfg segment.bytes=abc
expect_alter INVALID_CONFIG --type topic -n cfg segment.bytes=5
expect_alter UNKNOWN_TOPIC_OR_PART --type topic -n nosuch retention.ms=1000
expect_alter INVALID_CONFIG --type broker -n 0 log.retention.ms=1000
expect_alter NO_ERROR --type topic -n cfg --validate-only segment.bytes=4096
cc describe --type topic -n cfg >"$TMP_ROOT/d2.txt" || fail "describe cfg"
has "$TMP_ROOT/d2.txt" '^CONFIG segment.bytes=1048576 source=STATIC_BROKER_CONFIG' \
    "validate-only and refused changes left segment.bytes"
has "$TMP_ROOT/d2.txt" '^CONFIG retention.bytes=-1 source=DYNAMIC_TOPIC_CONFIG' \
    "refused changes left the overrides"

# segment.bytes acts at once: 12 appends of 10 records of 500 bytes (each over 4 KiB) roll a
# segment each.
expect_alter NO_ERROR --type topic -n cfg segment.bytes=4096 cleanup.policy=delete
cc describe --type topic -n cfg >"$TMP_ROOT/d3.txt" || fail "describe cfg"
has "$TMP_ROOT/d3.txt" '^CONFIG segment.bytes=4096 source=DYNAMIC_TOPIC_CONFIG ' "segment.bytes set"
has "$TMP_ROOT/d3.txt" '^CONFIG retention.bytes=-1 source=DEFAULT_CONFIG ' \
    "AlterConfigs replaced the whole set (retention.bytes back to the default)"
grep -qx 'segment.bytes=4096' "$DIR/cfg.topic" || fail "cfg.topic lacks segment.bytes=4096"
for i in $(seq 0 11); do
    within 60 "$KCHECK" produce -b "$BROKER" -t cfg -n 10 -s $((i * 10)) --size 500 --tag a \
        2>/dev/null || fail "produce 10 (round $i)"
done
nseg=$(find "$DIR/cfg-0" -name '*.log' | wc -l)
log "cfg-0 holds $nseg segments"
[ "$nseg" -ge 10 ] || record_failure "segment.bytes=4096 rolled only $nseg segments"

# max.message.bytes acts at once.
expect_alter NO_ERROR --type topic -n cfg segment.bytes=4096 max.message.bytes=1000
if within 30 "$KCHECK" produce -b "$BROKER" -t cfg -n 1 -s 1000 --size 2000 --tag big \
    2>"$TMP_ROOT/big.txt"; then
    record_failure "a 2000-byte record was accepted with max.message.bytes=1000"
fi
grep -q 'MSG_SIZE_TOO_LARGE\|too large' "$TMP_ROOT/big.txt" ||
    record_failure "the large record failed for another reason: $(tail -3 "$TMP_ROOT/big.txt")"

# Survives a clean restart and a kill -9.
restart_broker --log-segment-bytes 1048576 --log-retention-check-interval-ms 300
cc describe --type topic -n cfg >"$TMP_ROOT/d4.txt" || fail "describe after restart"
has "$TMP_ROOT/d4.txt" '^CONFIG segment.bytes=4096 source=DYNAMIC_TOPIC_CONFIG ' \
    "segment.bytes after a restart"
has "$TMP_ROOT/d4.txt" '^CONFIG max.message.bytes=1000 source=DYNAMIC_TOPIC_CONFIG ' \
    "max.message.bytes after a restart"

# retention.ms acts at once: the old segments go (the active one stays).
first=$(first_offset cfg 0)
[ "$first" = 0 ] || fail "cfg starts at '$first' before retention"
expect_alter NO_ERROR --type topic -n cfg segment.bytes=4096 retention.ms=1000
wait_retention cfg 0 30
grep -q '"reason":"retention.ms"' "$BROKER_LOG" || record_failure "no retention.ms deletion logged"
kill9_broker
start_broker --data-dir "$DIR" --listen "127.0.0.1:$PORT" --log-segment-bytes 1048576 \
    --log-retention-check-interval-ms 300
cc describe --type topic -n cfg --synonyms >"$TMP_ROOT/d5.txt" || fail "describe after kill -9"
has "$TMP_ROOT/d5.txt" '^CONFIG retention.ms=1000 source=DYNAMIC_TOPIC_CONFIG ' \
    "retention.ms after kill -9"
has "$TMP_ROOT/d5.txt" '^CONFIG segment.bytes=4096 source=DYNAMIC_TOPIC_CONFIG ' \
    "segment.bytes after kill -9"
has "$TMP_ROOT/d5.txt" '^CONFIG max.message.bytes=1048588 source=DEFAULT_CONFIG ' \
    "max.message.bytes back to the default (not in the last set)"
stop_broker
check_sanitizers
finish
