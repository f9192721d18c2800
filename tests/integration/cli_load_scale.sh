#!/usr/bin/env bash
# cli_load_scale: `tandem scale` under a steady load through the gateway loses no request.
#
# 8 keep-alive connections send GET /hello through nginx back to back while the service goes
# 2 -> 4 -> 1 -> 2 instances. Every request must get a 200: scale adds instances to the
# upstream only once they are ready, takes them out (nginx reload) before they are stopped and
# drain, and nginx retries an idempotent request refused by an instance on another one. A
# request resent by tandem-load after the keep-alive race (an old nginx worker closing an idle
# client connection on reload) is allowed and reported as "retried". After each step ps shows
# exactly the expected instances; at the end no process was ever restarted, `tandem down`
# succeeds and no log holds a sanitizer report.
# shellcheck source-path=SCRIPTDIR source=cli_load_lib.sh
source "$(dirname "$0")/cli_load_lib.sh"

system_up 2
expect_hello 2
[ "$(within 10 curl -s "$GATEWAY/hello")" = '{"message":"Hello, World!"}' ] ||
    fail "GET $GATEWAY/hello through the gateway did not answer the greeting"

start_load "$TMP_ROOT/load.json" -c 8 "$GATEWAY/hello"
sleep 1
for n in 4 1 2; do
    t0=$SECONDS
    tandem scale "hello=$n" >"$TMP_ROOT/scale.out" 2>&1 || {
        cat "$TMP_ROOT/scale.out" >&2
        dump_logs
        fail "tandem scale hello=$n failed"
    }
    log "scale hello=$n took $((SECONDS - t0)) s"
    expect_hello "$n"
    sleep 1
done
stop_load

L="$TMP_ROOT/load.json"
cat "$L" >&2
requests=$(load_field "$L" 'o["requests"]')
failed=$(load_field "$L" 'o["failed"]')
ok=$(load_field "$L" 'o["status"].get("200", 0)')
retried=$(load_field "$L" 'o["retried"]')
log "load: $requests requests, $ok answered 200, $failed failed, $retried retried" \
    "(p50 $(load_field "$L" 'o["latency_us"]["p50"]') us," \
    "p99 $(load_field "$L" 'o["latency_us"]["p99"]') us)"
[ "$requests" -gt 1000 ] || record_failure "only $requests requests in the whole run"
[ "$failed" -eq 0 ] || record_failure "$failed requests failed: $(load_field "$L" 'o["failures"]')"
[ "$ok" -eq "$requests" ] || record_failure "not every answer was 200: $(load_field "$L" 'o["status"]')"
check_restarts
system_stop
finish
