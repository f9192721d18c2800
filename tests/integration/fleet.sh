#!/usr/bin/env bash
# tandem-fleet (services/fleet, docs/fleet.md) against a real tandem-broker, judged by
# fleet-check (fleet_check.c: librdkafka, libtandem's HTTP client) and curl:
#   events    3000 binary positions of 300 vehicles, out of order, and 10 malformed records: every
#             vehicle ends as a replay of the topic implies (newest ts wins), every box answers as
#             a scan of that state, the 10 are counted (rejected{events}) and in
#             vehicle-positions.dlq with tandem_error "permanent failure", never applied
#   rest      POST one (204), stale (204, nothing changes), bad JSON 400, not JSON 415, out of
#             range 422, a batch (200 applied/stale), an invalid batch (422, nothing applied), a
#             trail, reads' errors; the SSE stream's first event holds the box's vehicles
#   restart   SIGTERM writes the snapshots; the restarted service answers the same, applies no
#             record of the topic again (applied{events} 0) and loads the vehicles from the
#             snapshots (applied{snapshot}); then it consumes what was published since
#   kill -9   after a periodic snapshot and more positions: the restarted service loads the
#             snapshots and replays the topic from their offsets, ending as a replay implies
#   instances a second instance joins the group: the partitions split, each instance answers
#             every vehicle (forwarding to the holder), every box (asking the other), REST
#             positions sent to either, and a stream through one shows the vehicles of both
# No sanitizer report from any run; every process stopped with SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"

: "${TANDEM_FLEET:?TANDEM_FLEET must name the tandem-fleet binary}"
FC="$TANDEM_TEST_BIN/fleet-check"
GCHECK="$TANDEM_TEST_BIN/group-check"
CURL=(curl -sS --max-time 5)
EXPECT="$TMP_ROOT/expect"
DATA="$TMP_ROOT/fleet-data"

start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 20 "$GCHECK" create -b "$BROKER" -t vehicle-positions -p 4 || fail "create the topic"

# start_fleet N: instance N against $BROKER on a kernel-chosen port; sets FPID[N], FB[N], FLOG[N]
# (a new log file per start).
declare -A FPID FB FLOG
STARTS=0
start_fleet() {
    local n=$1
    STARTS=$((STARTS + 1))
    local logf="$TMP_ROOT/fleet$n.$STARTS.log"
    FLOG[$n]=$logf
    TANDEM_BROKERS=$BROKER TANDEM_LISTEN=127.0.0.1:0 TANDEM_WORKERS=2 TANDEM_INSTANCE=$n \
        TANDEM_DATA_DIR="$DATA" TANDEM_SNAPSHOT_INTERVAL=2 TANDEM_MAX_VEHICLES=100000 \
        TANDEM_TRAIL_POINTS=65536 TANDEM_QUEUED_RECORDS=100000 "$TANDEM_FLEET" 2>"$logf" &
    FPID[$n]=$!
    track "${FPID[$n]}"
    local i
    for i in $(seq 150); do
        if grep -q '"msg":"ready"' "$logf"; then
            FB[$n]="http://127.0.0.1:$(grep '"msg":"ready"' "$logf" |
                sed 's/.*"port":\([0-9]*\).*/\1/')"
            log "tandem-fleet $n pid ${FPID[$n]} on ${FB[$n]}"
            return 0
        fi
        kill -0 "${FPID[$n]}" 2>/dev/null || { tail -n 20 "$logf" >&2; fail "fleet $n exited"; }
        sleep 0.1
    done
    fail "tandem-fleet $n not ready within 15 s"
}

# stop_fleet N: SIGTERM, exit status 0 within 30 s, no sanitizer report.
stop_fleet() {
    local n=$1 rc=0 i
    kill -TERM "${FPID[$n]}"
    for i in $(seq 300); do
        kill -0 "${FPID[$n]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "${FPID[$n]}" 2>/dev/null && fail "fleet $n still running 30 s after SIGTERM"
    wait "${FPID[$n]}" || rc=$?
    if sanitizer_reports "${FLOG[$n]}"; then
        fail "tandem-fleet $n printed a sanitizer report"
    fi
    [ "$rc" = 0 ] || { tail -n 20 "${FLOG[$n]}" >&2; fail "fleet $n exit $rc"; }
}

# fmetric N SERIES: the value of SERIES in instance N's /metrics (empty when absent).
fmetric() {
    "${CURL[@]}" "${FB[$1]}/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}

# held N: the partitions instance N holds ("0,1,2,3").
held() {
    "${CURL[@]}" "${FB[$1]}/api/fleet/stats" | sed 's/.*"partitions":\[\([0-9,]*\)\].*/\1/'
}

log "events: 3000 positions of 300 vehicles and 10 malformed records"
within 60 "$FC" produce -b "$BROKER" -n 3000 -v 300 -k 10 -e "$EXPECT" -s 7 || fail "produce"
start_fleet 0
within 90 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 60 || record_failure "the state after replay"
within 40 "$FC" dlq -b "$BROKER" -k 10 || record_failure "the dead letters"
rej=$(fmetric 0 'fleet_positions_rejected_total{source="events"}')
[ "$rej" = 10 ] || record_failure "rejected{events} is '$rej', want 10"
applied=$(fmetric 0 'fleet_positions_applied_total{source="events"}')
stale=$(fmetric 0 'fleet_positions_stale_total{source="events"}')
[ $((applied + stale)) = 3000 ] || record_failure "applied $applied + stale $stale != 3000"
count=$(fmetric 0 'fleet_visible_latency_seconds_count{source="events"}')
[ "$count" = "$applied" ] || record_failure "latency count $count != applied $applied"

log "rest: ingest and reads"
within 60 "$FC" rest -u "${FB[0]}" -e "$EXPECT" || record_failure "rest"
"${CURL[@]}" -o /dev/null -w '%{http_code}' "${FB[0]}/api/fleet/stats" | grep -q 200 ||
    record_failure "stats"
# the stream: its first event carries the vehicles in the box (all of Paris here)
curl -sS -N --max-time 2 "${FB[0]}/api/fleet/stream?bbox=2.3,48.8,2.6,49.0&interval=200" \
    >"$TMP_ROOT/stream" 2>/dev/null || true
grep -q '^event: positions' "$TMP_ROOT/stream" || record_failure "no positions event on the stream"
grep -q '"id":900001' "$TMP_ROOT/stream" || record_failure "the stream lacks vehicle 900001"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${FB[0]}/api/fleet/stream?bbox=x")
[ "$code" = 400 ] || record_failure "a stream with a bad box answered $code"

log "restart from the snapshots"
stop_fleet 0
ls "$DATA/snapshots"/vehicle-positions-*.snap >/dev/null || fail "no snapshot written at the stop"
start_fleet 0
within 60 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 30 || record_failure "the state after restart"
ev=$(fmetric 0 'fleet_positions_applied_total{source="events"}')
sn=$(fmetric 0 'fleet_positions_applied_total{source="snapshot"}')
[ "$ev" = 0 ] || record_failure "the restart applied $ev records of the topic again"
[ "$sn" = "$(wc -l <"$EXPECT")" ] || record_failure "loaded $sn vehicles, want $(wc -l <"$EXPECT")"
# Started at the snapshots' offsets (the log end) with nothing to hand out, the consumer has no
# position or committed offset from librdkafka: its lag is 0 from where the service started it,
# not the whole partition (what `tandem bench ingest` once waited on until it gave up).
lags() { "${CURL[@]}" "${FB[0]}/metrics" | grep '^tandem_consumer_lag{group="fleet"'; }
deadline=$((SECONDS + 10))
until [ "$(lags | wc -l)" -gt 0 ] && [ "$(lags | awk '$2 != 0' | wc -l)" -eq 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
done
if [ "$(lags | wc -l)" -gt 0 ] && [ "$(lags | awk '$2 != 0' | wc -l)" -eq 0 ]; then
    log "after the restart: $(lags | wc -l) partitions, lag 0 (nothing to hand out)"
else
    record_failure "after the restart from the log end, lag is not 0: $(lags | tr '\n' ' ')"
fi
within 60 "$FC" produce -b "$BROKER" -n 500 -v 300 -k 0 -e "$EXPECT" -s 11 || fail "produce 2"
within 60 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 30 || record_failure "after the restart"

log "kill -9 after a periodic snapshot: the restart replays the topic from the snapshot's offsets"
snaps=$(fmetric 0 fleet_snapshots_total)
deadline=$((SECONDS + 15))
while [ "$(fmetric 0 fleet_snapshots_total)" -lt $((snaps + 4)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no periodic snapshot within 15 s (had $snaps)"
    sleep 0.2
done
within 60 "$FC" produce -b "$BROKER" -n 500 -v 300 -k 0 -e "$EXPECT" -s 13 || fail "produce 3"
kill -KILL "${FPID[0]}"
wait "${FPID[0]}" 2>/dev/null || true
sanitizer_reports "${FLOG[0]}" && fail "tandem-fleet 0 printed a sanitizer report before its kill"
start_fleet 0
within 60 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 40 || record_failure "after kill -9"
log "after kill -9: $(fmetric 0 'fleet_positions_applied_total{source="snapshot"}') vehicles" \
    "loaded, $(fmetric 0 'fleet_positions_applied_total{source="events"}') positions replayed"

log "two instances in one group"
start_fleet 1
deadline=$((SECONDS + 40))
while :; do
    h0=$(held 0) h1=$(held 1)
    [ -n "$h0" ] && [ -n "$h1" ] && [ "$(echo "$h0,$h1" | tr , '\n' | sort -u | wc -l)" = 4 ] &&
        break
    [ "$SECONDS" -lt "$deadline" ] || fail "the partitions did not split: '$h0' and '$h1'"
    sleep 0.3
done
log "instance 0 holds $h0, instance 1 holds $h1"
sleep 0.5 # the member files
within 60 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 20 || record_failure "reads through 0"
within 60 "$FC" verify -u "${FB[1]}" -e "$EXPECT" -w 20 || record_failure "reads through 1"
within 60 "$FC" rest -u "${FB[1]}" -e "$EXPECT" || record_failure "rest through 1"
# one stream shows both instances' vehicles: every vehicle of the box in its first event
curl -sS -N --max-time 2 "${FB[1]}/api/fleet/stream?bbox=2.3,48.8,2.6,49.0&interval=200" \
    >"$TMP_ROOT/stream1" 2>/dev/null || true
want=$(awk '$2 >= 488000000 && $2 <= 490000000 && $3 >= 23000000 && $3 <= 26000000' "$EXPECT" |
    wc -l)
got=$(grep -m1 '^data: ' "$TMP_ROOT/stream1" | grep -o '"id":' | wc -l)
[ "$got" = "$want" ] || record_failure "the stream through 1 showed $got vehicles, want $want"
within 60 "$FC" verify -u "${FB[0]}" -e "$EXPECT" -w 20 || record_failure "after rest through 1"
stop_fleet 1
stop_fleet 0
check_sanitizers
finish
