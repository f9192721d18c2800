#!/usr/bin/env bash
# Durability across a clean restart: produce (several codecs, small segments so the data spans
# many segment files), SIGTERM (exit code 0), start again on the same data dir: every record and
# topic reads back identically, and new produces continue the offsets.
#
# Topic configs across the restart, judged by what the broker does, not by its .topic file: one
# topic per stored config, created (1 partition, empty) before the restart with a value whose
# effect differs from the broker's default; after the restart Metadata shows each topic's
# partitions and each config acts:
#   rs-time  retention.ms=86400000 + segment.bytes=4096: records stamped 2 days ago are deleted
#            once newer ones rolled their segment (the default 7 days keeps them; one 64 KiB
#            segment would not roll)
#   rs-size  retention.bytes=8192 + segment.bytes=2048: 300 records (~30 KB, one batch each)
#            shrink to the last ~8 KiB (the default -1 keeps all)
#   rs-roll  segment.ms=1000 + retention.ms=2000: the active segment rolls by age, then expires
#            (the defaults, 7 days, keep the records)
#   rs-lat   message.timestamp.type=LogAppendTime: records produced with a 1970 timestamp read
#            back with tstype logappend and the broker's clock; max.message.bytes=2048: a
#            4000-byte record is refused with MSG_SIZE_TOO_LARGE (the default takes 1 MiB)
#   rs-idx   index.interval.bytes=0: every batch but the first gets an entry in the .index (no
#            protocol shows the index; the default, 4096, indexes none of 20 small batches)
# (cleanup.policy, the last config the broker keeps, takes only "delete", the default.)
. "$(dirname "$0")/lib.sh"

FLAGS=(--num-partitions 3 --auto-create-topics-enable true --log-segment-bytes 65536
    --log-retention-check-interval-ms 500)
start_broker "${FLAGS[@]}"
wait_metadata 20

P() { within 60 "$KCHECK" produce -b "$BROKER" -t rs "$@" --tag rs --size 64; }
C() { within 60 "$KCHECK" consume -b "$BROKER" -t rs "$@" --tag rs --size 64; }
P -n 4000 --codec lz4 || fail "produce rs 0..3999 (lz4)"
P -s 4000 -n 2000 --acks 1 || fail "produce rs 4000..5999 (acks 1)"
P -s 6000 -n 1000 --codec zstd || fail "produce rs 6000..6999 (zstd)"
within 30 "$KCHECK" admin create -b "$BROKER" -t rs-cfg -p 2 -c retention.ms=86400000 ||
    fail "CreateTopics rs-cfg"
within 60 "$KCHECK" produce -b "$BROKER" -t rs-cfg -n 10 --tag cfg || fail "produce rs-cfg"
cfg_topic() { # NAME CONFIG...: an empty 1-partition topic with those configs
    local t=$1 args=() c
    shift
    for c in "$@"; do
        args+=(-c "$c")
    done
    within 30 "$KCHECK" admin create -b "$BROKER" -t "$t" -p 1 "${args[@]}" ||
        fail "CreateTopics $t $*"
}
cfg_topic rs-time retention.ms=86400000 segment.bytes=4096
cfg_topic rs-size retention.bytes=8192 segment.bytes=2048
cfg_topic rs-roll segment.ms=1000 retention.ms=2000
cfg_topic rs-lat message.timestamp.type=LogAppendTime max.message.bytes=2048
cfg_topic rs-idx index.interval.bytes=0

nseg=$(find "$BROKER_DIR/rs-0" -name '*.log' | wc -l)
log "partition rs-0 has $nseg segment files"
[ "$nseg" -ge 2 ] || fail "--log-segment-bytes 65536 did not roll segments (rs-0 has $nseg)"

within 60 "$KCHECK" dump -b "$BROKER" -t rs | sort -k1,1n -k2,2n >"$TMP_ROOT/before.txt" ||
    fail "dump before restart"
within 20 kcat -L -b "$BROKER" | grep -E '^  topic ' | sort >"$TMP_ROOT/topics-before.txt"

restart_broker "${FLAGS[@]}"
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
within 60 "$KCHECK" consume -b "$BROKER" -t rs-cfg -n 10 --tag cfg --check-offsets ||
    fail "consume rs-cfg after restart"

# ---- each stored topic config acts after the restart ----------------------------------------
for t in rs-time rs-size rs-roll rs-lat rs-idx; do
    within 30 "$KCHECK" admin exists -b "$BROKER" -t "$t" -p 1 ||
        fail "Metadata does not show $t with 1 partition after the restart"
done
KP() { within 60 "$KCHECK" produce -b "$BROKER" --size 64 "$@"; }
now=$(date +%s%3N)
KP -t rs-time -n 300 --ts-base $((now - 2 * 86400000)) --tag old || fail "produce rs-time (old)"
KP -t rs-time -n 10 -s 300 --tag new || fail "produce rs-time (new)"
KP -t rs-size -n 300 --rate 300 --tag s || fail "produce rs-size"
KP -t rs-roll -n 5 --tag r || fail "produce rs-roll"
KP -t rs-idx -n 20 --rate 100 --tag i || fail "produce rs-idx"
wait_retention rs-time 0 15
first=$(first_offset rs-time)
[ "$first" -le 300 ] || fail "rs-time: retention.ms deleted records stamped now (first offset $first)"
# retention.bytes keeps between 8192 bytes and 8192 + one segment: 60..90 of these ~130-byte
# batches once it has caught up (it deletes a few segments per check)
deadline=$((SECONDS + 15))
while :; do
    kept=$(within 20 kcat -C -b "$BROKER" -t rs-size -o beginning -e -f '%o\n' 2>/dev/null | wc -l)
    [ "$kept" -le 120 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "rs-size: $kept of 300 records left after 15 s"
    sleep 0.2
done
[ "$kept" -ge 40 ] || fail "rs-size: only $kept records left: retention.bytes=8192 deleted too much"
log "rs-size: retention.bytes=8192 kept the last $kept of 300 records"
wait_retention rs-roll 0 15
[ -z "$(first_offset rs-roll)" ] || fail "rs-roll: records left after segment.ms + retention.ms"

t0=$(date +%s%3N)
KP -t rs-lat -n 3 --ts-base 1000 --tag lat || fail "produce rs-lat"
within 20 kcat -C -b "$BROKER" -t rs-lat -o beginning -e -J >"$TMP_ROOT/lat.json" 2>/dev/null ||
    fail "kcat -J rs-lat"
python3 - "$TMP_ROOT/lat.json" "$t0" <<'PY' || fail "rs-lat: LogAppendTime not applied"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t0 = int(sys.argv[2])
assert len(recs) == 3, f"{len(recs)} records"
for r in recs:
    assert r["tstype"] == "logappend" and r["ts"] >= t0 - 1000, r
PY
if KP -t rs-lat -n 1 -s 3 --size 4000 --tag big >"$TMP_ROOT/big.out" 2>&1; then
    fail "rs-lat: a 4000-byte record was accepted despite max.message.bytes=2048"
fi
grep -q MSG_SIZE_TOO_LARGE "$TMP_ROOT/big.out" ||
    fail "rs-lat: the 4000-byte record failed, but not with MSG_SIZE_TOO_LARGE: $(cat "$TMP_ROOT/big.out")"
# the default-config topic, for contrast: CreateTime as produced
[ "$(within 20 kcat -C -b "$BROKER" -t rs -p 0 -o beginning -c 1 -e -J 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["tstype"])')" = create ] ||
    fail "rs (default config) does not read back CreateTime"

idx=$(find "$BROKER_DIR/rs-idx-0" -name '*.index' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
[ "$idx" -ge 8 ] || fail "rs-idx: index.interval.bytes=0, but 20 batches left no .index entry"
log "topic configs act after the restart: retention.ms, retention.bytes, segment.bytes," \
    "segment.ms, message.timestamp.type, max.message.bytes, index.interval.bytes ($((idx / 8)) entries)"

# New records continue the offsets (checked: offsets 0..n-1 per partition, in order).
P -s 7000 -n 1500 --codec gzip || fail "produce rs 7000..8499 after restart"
C -n 8500 --check-offsets || fail "consume rs 0..8499 after restart + produce"

# And once more, a second restart after appending to recovered segments.
restart_broker "${FLAGS[@]}"
wait_metadata 20
C -n 8500 --check-offsets || fail "consume rs 0..8499 after the second restart"

stop_broker
log "PASS"
