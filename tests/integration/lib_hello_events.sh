#!/usr/bin/env bash
# example-hello's events half against a real tandem-broker (libtandem's service runtime wired to
# its producer and consumer, src/lib/service/service_events.c):
#   - 20 POST /greetings publish 20 hello.greeted events (the 20 GET /hello between them publish
#     none: GET is safe); /metrics shows them produced, delivered and
#     consumed by the group "hello" (lag 0), and the service logs each one it consumed;
#   - GET /greetings/live with Last-Event-ID 0-17 replays greetings 0-18 and 0-19 (the live
#     group, hello-live-0, consumed them too);
#   - kcat reads 20 records from hello-events, each a binary-mode CloudEvent (ce_type
#     hello.greeted, ce_source /hello) with a traceparent header; a request's own traceparent
#     travels on its event;
#   - /readyz is 200 with the broker, 503 naming "broker" once it is stopped, 200 again after it
#     restarts on the same port;
#   - SIGTERM: exit 0, both consumers (hello, and the live stream's hello-live-0) stopped before
#     the producer closed; the consumer's offsets
#     were committed: a second run of the service consumes only the one event published then,
#     not the 20 before.
# No sanitizer report from any run.
source "$(dirname "$0")/lib.sh"

: "${EXAMPLE_HELLO:?EXAMPLE_HELLO must name the example-hello binary}"
CURL=(curl -sS --max-time 5)

# start_hello NAME: starts example-hello against $BROKER, waits for its ready line; sets HPID, HB.
start_hello() {
    local name=$1 logf="$TMP_ROOT/$1.log"
    TANDEM_BROKERS=$BROKER TANDEM_LISTEN=127.0.0.1:0 TANDEM_WORKERS=2 \
        TANDEM_DATA_DIR="$TMP_ROOT/hello-data" "$EXAMPLE_HELLO" 2>"$logf" &
    HPID=$!
    track "$HPID"
    local i
    for i in $(seq 100); do
        if grep -q '"msg":"ready"' "$logf"; then
            HB="http://127.0.0.1:$(grep '"msg":"ready"' "$logf" | sed 's/.*"port":\([0-9]*\).*/\1/')"
            log "example-hello ($name) pid $HPID on $HB"
            return 0
        fi
        kill -0 "$HPID" 2>/dev/null || fail "example-hello ($name) exited before it was ready"
        sleep 0.1
    done
    fail "example-hello ($name) not ready within 10 s"
}

# stop_hello NAME: SIGTERM, exit status 0 within 30 s, no sanitizer report.
stop_hello() {
    local name=$1 logf="$TMP_ROOT/$1.log" rc=0 i
    kill -TERM "$HPID"
    for i in $(seq 300); do
        kill -0 "$HPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$HPID" 2>/dev/null && fail "example-hello ($name) still running 30 s after SIGTERM"
    wait "$HPID" || rc=$?
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf"; then
        grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf" | head -40 >&2
        fail "example-hello ($name) printed a sanitizer report"
    fi
    [ "$rc" = 0 ] || { tail -n 20 "$logf" >&2; fail "example-hello ($name) exit status $rc"; }
}

# wait_ready CODE SECS: /readyz answers CODE within SECS.
wait_ready() {
    local i code=""
    for i in $(seq $(($2 * 10))); do
        code=$("${CURL[@]}" -o "$TMP_ROOT/readyz" -w '%{http_code}' "$HB/readyz" || true)
        [ "$code" = "$1" ] && return 0
        sleep 0.1
    done
    fail "/readyz is $code after $2 s, want $1 ($(cat "$TMP_ROOT/readyz"))"
}

start_broker
start_hello first
wait_ready 200 10

# ---- 20 greetings: produced, delivered, consumed -------------------------------------------------
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
for i in $(seq 20); do
    hdr=()
    [ "$i" = 1 ] && hdr=(-H "traceparent: $TP")
    body=$("${CURL[@]}" "${hdr[@]}" -X POST "$HB/greetings")
    [ "$body" = '{"status":"accepted"}' ] || fail "POST /greetings #$i: $body"
    body=$("${CURL[@]}" "$HB/hello") # GET is safe: it publishes nothing
    [ "$body" = '{"message":"Hello, World!"}' ] || fail "GET /hello #$i: $body"
done
wait_metric tandem_events_produced_total 20 5
wait_metric tandem_events_delivered_total 20 10
wait_metric 'tandem_events_consumed_total{group="hello"}' 20 20
wait_metric 'tandem_consumer_lag{group="hello",topic="hello-events",partition="0"}' 0 5
wait_metric 'tandem_consumer_committed_lag{group="hello",topic="hello-events",partition="0"}' 0 5
[ "$(metric tandem_events_delivery_failed_total)" = 0 ] || fail "delivery failures"
[ "$(metric 'tandem_events_dead_lettered_total{group="hello"}')" = 0 ] || fail "dead letters"
n=$(grep -c '"msg":"greeting consumed"' "$TMP_ROOT/first.log" || true)
[ "$n" = 20 ] || fail "$n 'greeting consumed' log lines, want 20"
log "20 greetings produced and consumed"

# ---- the live stream: a client reconnecting with Last-Event-ID gets what it missed ---------------
wait_metric 'tandem_events_consumed_total{group="hello-live-0"}' 20 20
"${CURL[@]}" -N --max-time 2 -H 'Last-Event-ID: 0-17' "$HB/greetings/live" >"$TMP_ROOT/live" || true
ids=$(sed -n 's/^id: //p' "$TMP_ROOT/live" | paste -sd, -)
[ "$ids" = "0-18,0-19" ] || fail "replay after Last-Event-ID 0-17: ids '$ids' ($(head -c 300 "$TMP_ROOT/live"))"
grep -q '^data: {"partition":0,"offset":19,"greeting":{"greeting":"Hello, World!"}}$' \
    "$TMP_ROOT/live" || fail "the replayed greeting's data: $(head -c 300 "$TMP_ROOT/live")"
log "GET /greetings/live after Last-Event-ID 0-17: 0-18 and 0-19 replayed"

# ---- the records, read by kcat ------------------------------------------------------------------
within 20 kcat -C -b "$BROKER" -t hello-events -e -q -f '%h\n' >"$TMP_ROOT/records" ||
    fail "kcat -C hello-events"
[ "$(wc -l <"$TMP_ROOT/records")" = 20 ] || fail "kcat read $(wc -l <"$TMP_ROOT/records") records"
n=$(grep -c 'ce_type=hello\.greeted' "$TMP_ROOT/records" || true)
[ "$n" = 20 ] || fail "$n records with ce_type=hello.greeted, want 20"
n=$(grep -cE 'traceparent=00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]' "$TMP_ROOT/records" || true)
[ "$n" = 20 ] || fail "$n records with a traceparent header, want 20"
n=$(grep -c 'ce_source=/hello' "$TMP_ROOT/records" || true)
[ "$n" = 20 ] || fail "$n records with ce_source=/hello, want 20"
grep -q "traceparent=$TP" "$TMP_ROOT/records" || fail "the request's traceparent is not on its event"
log "kcat: 20 CloudEvents with traceparent"

# ---- readiness follows the broker ---------------------------------------------------------------
bdir=$BROKER_DIR
bport=$BROKER_PORT
stop_broker
wait_ready 503 5
grep -q '"failing":\["broker"\]' "$TMP_ROOT/readyz" || fail "503 without broker: $(cat "$TMP_ROOT/readyz")"
start_broker --data-dir "$bdir" --listen "127.0.0.1:$bport"
wait_ready 200 10
log "/readyz: 200, 503 without the broker, 200 again"

# ---- SIGTERM: consumers stop (commit), then the producer closes; exit 0 --------------------------
sleep 2 # let the clients reconnect to the restarted broker
stop_hello first
order=$(grep -o '"msg":"\(draining\|consumer stopped\|producer closed\|stopped\)"' \
    "$TMP_ROOT/first.log" | cut -d'"' -f4 | paste -sd, -)
# two consumers: the group "hello" and the live stream's own, "hello-live-0"
[ "$order" = "draining,consumer stopped,consumer stopped,producer closed,stopped" ] ||
    fail "drain order: $order"
log "SIGTERM: exit 0, consumer stopped before the producer closed"

# ---- offsets were committed: a new run consumes only what is new --------------------------------
start_hello second
"${CURL[@]}" -o /dev/null -X POST "$HB/greetings" || fail "POST /greetings (second run)"
wait_metric 'tandem_events_consumed_total{group="hello"}' 1 20
sleep 2
[ "$(metric 'tandem_events_consumed_total{group="hello"}')" = 1 ] ||
    fail "the second run consumed old events again: offsets were not committed"
stop_hello second
log "second run resumed at the committed offset (1 event consumed, not 21)"
check_sanitizers
finish
