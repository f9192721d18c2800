#!/usr/bin/env bash
# kafkajs admin + producer (see kafkajs_produce.js), then librdkafka reads the records back and
# checks them byte for byte; the gzip batches must be stored compressed.
. "$(dirname "$0")/lib.sh"

[ -d "$TANDEM_IT_DIR/node_modules/kafkajs" ] || fail "kafkajs missing: run scripts/deps.sh"
start_broker --auto-create-topics-enable false
wait_metadata 20

N=3000
within 90 node "$TANDEM_IT_DIR/kafkajs_produce.js" "$BROKER" "$N" || fail "kafkajs_produce.js"
for t in js-all js-one; do
    within 60 "$KCHECK" consume -b "$BROKER" -t "$t" -n "$N" --tag js --no-null-header \
        --check-offsets || fail "librdkafka reading back what kafkajs wrote to $t"
done
codecs=$(stored_codecs js-all 0 | tr '\n' ' ')
[ "$codecs" = "1 6 " ] || fail "js-all partition 0 batches per codec: '$codecs', want 6 gzip batches"

stop_broker
log "PASS"
