#!/usr/bin/env bash
# A consumer's lag per partition in /metrics (src/lib/events/lag.c, consumer.c's statistics
# thread, service_events.c), against a real tandem-broker, through lib-lag-check (a service whose
# handler blocks on partition 0's record at offset 10 until POST /release; lib_lag_check.c):
#   - 20 records to partition 1, all handled: both gauges of partition 1 are 0;
#   - 30 records to partition 0: the handler blocks on offset 10, everything before it committed,
#     so partition 0's lag is 30 - 11 = 19 (the blocking record was handed over) and its
#     committed lag 30 - 10 = 20;
#   - 5 more while the handler is still blocked: 24 and 25 (the gauges move although the
#     consumer thread is stuck: the statistics are served by a thread of their own);
#   - released: everything handled and committed, both 0; 55 consumed;
#   - SIGTERM: exit 0, no sanitizer report.
. "$(dirname "$0")/lib.sh"

LAGC="$TANDEM_TEST_BIN/lib-lag-check"
GCHECK="$TANDEM_TEST_BIN/group-check"
CURL=(curl -sS --max-time 5)

start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 20 "$GCHECK" create -b "$BROKER" -t lag -p 2 || fail "create topic lag"

LOGF="$TMP_ROOT/lag-check.log"
TANDEM_BROKERS=$BROKER TANDEM_LISTEN=127.0.0.1:0 TANDEM_DATA_DIR="$TMP_ROOT/lag-data" \
    "$LAGC" 2>"$LOGF" &
SPID=$!
track "$SPID"
for i in $(seq 100); do
    grep -q '"msg":"ready"' "$LOGF" && break
    kill -0 "$SPID" 2>/dev/null || fail "lib-lag-check exited before it was ready"
    sleep 0.1
done
grep -q '"msg":"ready"' "$LOGF" || fail "lib-lag-check not ready within 10 s"
HB="http://127.0.0.1:$(grep '"msg":"ready"' "$LOGF" | sed 's/.*"port":\([0-9]*\).*/\1/')"
log "lib-lag-check on $HB"

lag() { echo "tandem_consumer_lag{group=\"lag\",topic=\"lag\",partition=\"$1\"}"; }
clag() { echo "tandem_consumer_committed_lag{group=\"lag\",topic=\"lag\",partition=\"$1\"}"; }

# ---- partition 1: 20 records, all handled ------------------------------------------------------
within 30 "$GCHECK" produce -b "$BROKER" -t lag -n 20 --partitions 1 >/dev/null ||
    fail "produce 20 to partition 1"
wait_metric 'tandem_events_consumed_total{group="lag"}' 20 30
wait_metric "$(lag 1)" 0 10
wait_metric "$(clag 1)" 0 10
log "partition 1: 20 handled, lag 0, committed lag 0"

# ---- partition 0: 30 records, the handler blocks on offset 10 -----------------------------------
within 30 "$GCHECK" produce -b "$BROKER" -t lag -n 30 -s 100 --partitions 0 >/dev/null ||
    fail "produce 30 to partition 0"
for i in $(seq 200); do
    "${CURL[@]}" "$HB/state" | grep -q '"blocked":true' && break
    sleep 0.1
done
"${CURL[@]}" "$HB/state" | grep -q '"handled":30,"blocked":true' ||
    fail "the handler is not blocked after 30 records: $("${CURL[@]}" "$HB/state")"
wait_metric "$(lag 0)" 19 10
wait_metric "$(clag 0)" 20 10
[ "$(metric "$(lag 1)")" = 0 ] || fail "partition 1's lag moved: $(metric "$(lag 1)")"
[ "$(metric "$(clag 1)")" = 0 ] || fail "partition 1's committed lag moved"
[ "$(metric 'tandem_events_consumed_total{group="lag"}')" = 31 ] ||
    fail "consumed $(metric 'tandem_events_consumed_total{group="lag"}'), want 31 (20 + 11 handed)"
log "partition 0 blocked on offset 10: lag 19, committed lag 20"

# ---- 5 more while the handler is blocked: the gauges follow the log end --------------------------
within 30 "$GCHECK" produce -b "$BROKER" -t lag -n 5 -s 200 --partitions 0 >/dev/null ||
    fail "produce 5 more to partition 0"
wait_metric "$(lag 0)" 24 10
wait_metric "$(clag 0)" 25 10
log "5 more while blocked: lag 24, committed lag 25"

# ---- released: everything handled and committed --------------------------------------------------
"${CURL[@]}" -X POST "$HB/release" | grep -q '"released":true' || fail "POST /release"
wait_metric 'tandem_events_consumed_total{group="lag"}' 55 30
wait_metric "$(lag 0)" 0 10
wait_metric "$(clag 0)" 0 10
[ "$(metric "$(clag 1)")" = 0 ] || fail "partition 1's committed lag after the release"
log "released: 55 consumed, lags 0"

kill -TERM "$SPID"
rc=0
within 30 tail --pid="$SPID" -f /dev/null || true
wait "$SPID" || rc=$?
[ "$rc" = 0 ] || { tail -n 20 "$LOGF" >&2; fail "lib-lag-check exit status $rc"; }
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOGF"; then
    grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOGF" | head -40 >&2
    fail "lib-lag-check printed a sanitizer report"
fi
stop_broker
finish
