#!/usr/bin/env bash
# Server-sent events through tandem's gateway (nginx, as `tandem up` configures it): example-hello's
# GET /greetings/live with 2 instances, heartbeats every second (TANDEM_SSE_HEARTBEAT=1) and the
# gateway's read_timeout at 3 s. cli_sse_client.py is the browser: the head arrives with
# text/event-stream and without X-Accel-Buffering (nginx honoured and dropped it); 6 s without an
# event do not end the stream (the heartbeats keep nginx's proxy_read_timeout from cutting it);
# three greetings arrive each within 3 s of being POSTed, while the stream is open (nginx does
# not buffer them to the end); a rolling `tandem restart hello` ends the stream, the client
# reconnects with Last-Event-ID and receives the next greeting, and the restart is not held up by
# nginx's old workers keeping streams (worker_shutdown_timeout). Then: the gateway's access log
# has the streams' lines (200), the supervisor never waited out a reload, down is clean.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
cat >"$PROJ/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$BROKER_P, binary: $TANDEM_BROKER }
gateway: { listen: 127.0.0.1:$GATEWAY_P, workers: 1, read_timeout: 3 }
services:
  hello:
    binary: $EXAMPLE_HELLO
    instances: 2
    port: $HELLO_P
    env: { TANDEM_WORKERS: "2", TANDEM_SSE_HEARTBEAT: "1" }
    depends_on: [broker]
    routes:
      - { path: /hello, cache: true }
      - { path: /greetings, methods: [POST] }
      - { path: /greetings/live, methods: [GET], exact: true }
YAML
up
grep -q 'proxy_read_timeout 3s;' "$PROJ/var/gateway/nginx.conf" || fail "no proxy_read_timeout 3s"

# The first greeting creates hello-events; wait until both instances' live consumers have it, so
# the greetings the client waits for are consumed at once.
"${CURL[@]}" -X POST "http://127.0.0.1:$HELLO_P/greetings" >/dev/null || fail "first POST"
for port in "$HELLO_P" "$((HELLO_P + 1))"; do
    for i in $(seq 300); do
        n=$("${CURL[@]}" "http://127.0.0.1:$port/metrics" |
            sed -n 's/^tandem_events_consumed_total{group="hello-live-[0-9]*"} //p')
        [ "${n:-0}" -ge 1 ] && break
        sleep 0.1
    done
    [ "${n:-0}" -ge 1 ] || fail "instance on $port consumed no greeting in its live group in 30 s"
done

out=$(within 120 python3 "$TANDEM_IT_DIR/cli_sse_client.py" "$GATEWAY_P" "$HELLO_P" 3 \
    "$TANDEM_CLI" "$PROJ/tandem.yaml") || fail "the event stream through the gateway"
log "through the gateway: $out"

grep -q '"uri":"/greetings/live","status":200' "$PROJ/var/gateway/access.log" ||
    fail "no access log line for the stream: $(tail -3 "$PROJ/var/gateway/access.log")"
if grep -q 'reload not complete' "$PROJ/var/tandem/supervisor.log"; then
    fail "the supervisor waited out a reload: $(grep 'reload not complete' "$PROJ/var/tandem/supervisor.log")"
fi
down_and_check
finish
