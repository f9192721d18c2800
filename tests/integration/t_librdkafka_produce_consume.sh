#!/usr/bin/env bash
# librdkafka (kafka-check) produce with acks 0/1/all x codecs none/gzip/snappy/lz4/zstd, keyed
# with headers, every delivery report checked; consume by assign() from the beginning (exact
# contents, order and offsets per partition), from the end (only what is produced afterwards),
# and from a timestamp (offsetsForTimes). The stored batches must carry the codec the producer
# chose (librdkafka silently stops compressing when ApiVersions does not offer what it needs).
. "$(dirname "$0")/lib.sh"

N=${N:-2000}
start_broker --num-partitions 4 --auto-create-topics-enable true
wait_metadata 20

codec_id() {
    case "$1" in
    none) echo 0 ;; gzip) echo 1 ;; snappy) echo 2 ;; lz4) echo 3 ;; zstd) echo 4 ;;
    esac
}

# The batches stored in partition 0 must carry the producer's codec. librdkafka sends a batch
# uncompressed when compression would not make it smaller (a lone small record), so a few
# codec-0 batches are allowed next to the compressed ones; any other codec is not.
check_codec() {
    local t=$1 want=$2 codecs
    [ -d "$BROKER_DIR/$t-0" ] || fail "no $BROKER_DIR/$t-0 (storage layout of src/broker/log/log.h)"
    codecs=$(stored_codecs "$t" 0 | tr '\n' ' ')
    log "$t partition 0: batches per codec (codec count): $codecs"
    stored_codecs "$t" 0 | awk -v w="$want" '
        $1 == w { ok = 1 } $1 != w && $1 != 0 { bad = 1 } END { exit !(ok && !bad) }' ||
        record_failure "$t: stored batches per codec ($codecs) lack codec $want or carry another" \
            "(librdkafka compresses with lz4 only when ApiVersions offers FindCoordinator v0)"
}

for acks in 0 1 all; do
    for codec in none gzip snappy lz4 zstd; do
        t="pc-$acks-$codec"
        within 60 "$KCHECK" produce -b "$BROKER" -t "$t" -n "$N" --acks "$acks" --codec "$codec" \
            --size 100 --tag "$t" || fail "produce $t (acks=$acks codec=$codec)"
        within 60 "$KCHECK" consume -b "$BROKER" -t "$t" -n "$N" --size 100 --tag "$t" \
            --check-offsets || fail "consume $t from the beginning (acks=$acks codec=$codec)"
        check_codec "$t" "$(codec_id "$codec")"
    done
done

# Large values: several fetches, batches near the fetch size limits.
within 60 "$KCHECK" produce -b "$BROKER" -t pc-big -n 300 --size 50000 --tag big ||
    fail "produce pc-big"
within 60 "$KCHECK" consume -b "$BROKER" -t pc-big -n 300 --size 50000 --tag big --check-offsets ||
    fail "consume pc-big"

# From the end: 1000 records exist, the consumer must see exactly the 500 produced after it
# positioned itself at the end.
within 60 "$KCHECK" produce -b "$BROKER" -t pc-end -n 1000 --tag end || fail "produce pc-end"
within 60 "$KCHECK" consume -b "$BROKER" -t pc-end --from end -s 1000 -n 500 --tag end ||
    fail "consume pc-end from OFFSET_END"
# ... and from the beginning, all 1500 with contiguous offsets.
within 60 "$KCHECK" consume -b "$BROKER" -t pc-end -n 1500 --tag end --check-offsets ||
    fail "consume pc-end from the beginning"

# From a timestamp: two produce runs with CreateTime base+seq; offsetsForTimes(base + 1000)
# must position every partition at the first record of the second run.
base=$(($(date +%s%3N) - 3600000))
within 60 "$KCHECK" produce -b "$BROKER" -t pc-ts -n 1000 --ts-base "$base" --tag ts ||
    fail "produce pc-ts 0..999"
within 60 "$KCHECK" produce -b "$BROKER" -t pc-ts -s 1000 -n 1000 --ts-base "$base" --tag ts ||
    fail "produce pc-ts 1000..1999"
within 60 "$KCHECK" consume -b "$BROKER" -t pc-ts --from "ts:$((base + 1000))" -s 1000 -n 1000 \
    --ts-base "$base" --tag ts || fail "consume pc-ts from timestamp base+1000"
within 60 "$KCHECK" consume -b "$BROKER" -t pc-ts --from "ts:$((base - 5000))" -n 2000 \
    --ts-base "$base" --tag ts --check-offsets || fail "consume pc-ts from a timestamp before all"

stop_broker
finish
