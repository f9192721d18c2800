#!/usr/bin/env bash
# Durability across a clean restart: produce (several codecs, small segments so the data spans
# many segment files), SIGTERM (exit code 0), start again on the same data dir: every record and
# topic reads back identically, and new produces continue the offsets.
. "$(dirname "$0")/lib.sh"

start_broker --num-partitions 3 --auto-create-topics-enable true --log-segment-bytes 65536
wait_metadata 20

P() { within 60 "$KCHECK" produce -b "$BROKER" -t rs "$@" --tag rs --size 64; }
C() { within 60 "$KCHECK" consume -b "$BROKER" -t rs "$@" --tag rs --size 64; }
P -n 4000 --codec lz4 || fail "produce rs 0..3999 (lz4)"
P -s 4000 -n 2000 --acks 1 || fail "produce rs 4000..5999 (acks 1)"
P -s 6000 -n 1000 --codec zstd || fail "produce rs 6000..6999 (zstd)"
within 30 "$KCHECK" admin create -b "$BROKER" -t rs-cfg -p 2 -c retention.ms=86400000 ||
    fail "CreateTopics rs-cfg"
within 60 "$KCHECK" produce -b "$BROKER" -t rs-cfg -n 10 --tag cfg || fail "produce rs-cfg"

nseg=$(find "$BROKER_DIR/rs-0" -name '*.log' | wc -l)
log "partition rs-0 has $nseg segment files"
[ "$nseg" -ge 2 ] || fail "--log-segment-bytes 65536 did not roll segments (rs-0 has $nseg)"

within 60 "$KCHECK" dump -b "$BROKER" -t rs | sort -k1,1n -k2,2n >"$TMP_ROOT/before.txt" ||
    fail "dump before restart"
within 20 kcat -L -b "$BROKER" | grep -E '^  topic ' | sort >"$TMP_ROOT/topics-before.txt"

restart_broker --num-partitions 3 --auto-create-topics-enable true --log-segment-bytes 65536
wait_metadata 20

within 60 "$KCHECK" dump -b "$BROKER" -t rs | sort -k1,1n -k2,2n >"$TMP_ROOT/after.txt" ||
    fail "dump after restart"
within 20 kcat -L -b "$BROKER" | grep -E '^  topic ' | sort >"$TMP_ROOT/topics-after.txt"
diff "$TMP_ROOT/topics-before.txt" "$TMP_ROOT/topics-after.txt" >&2 ||
    fail "the topic list changed across the restart"
[ "$(wc -l <"$TMP_ROOT/before.txt")" = 7000 ] ||
    fail "dump before restart has $(wc -l <"$TMP_ROOT/before.txt") records, want 7000"
diff "$TMP_ROOT/before.txt" "$TMP_ROOT/after.txt" >"$TMP_ROOT/diff.txt" ||
    fail "records differ after the restart: $(head -5 "$TMP_ROOT/diff.txt")"
C -n 7000 --check-offsets || fail "consume rs after restart"
within 30 "$KCHECK" admin exists -b "$BROKER" -t rs-cfg -p 2 || fail "rs-cfg after restart"
grep -qx 'retention.ms=86400000' "$BROKER_DIR/rs-cfg.topic" || fail "rs-cfg lost its config"
within 60 "$KCHECK" consume -b "$BROKER" -t rs-cfg -n 10 --tag cfg --check-offsets ||
    fail "consume rs-cfg after restart"

# New records continue the offsets (checked: offsets 0..n-1 per partition, in order).
P -s 7000 -n 1500 --codec gzip || fail "produce rs 7000..8499 after restart"
C -n 8500 --check-offsets || fail "consume rs 0..8499 after restart + produce"

# And once more, a second restart after appending to recovered segments.
restart_broker --num-partitions 3 --auto-create-topics-enable true --log-segment-bytes 65536
wait_metadata 20
C -n 8500 --check-offsets || fail "consume rs 0..8499 after the second restart"

stop_broker
log "PASS"
