#!/usr/bin/env bash
# tandem up / down with the real broker, example-hello (2 instances) and nginx:
#   - up --detach returns once everything is ready (the time is logged), ps --json shows the
#     broker, both instances and the gateway ready with a pid and the right port, `up` again is
#     refused while one runs;
#   - through the gateway: GET /hello 200 with the service's body, the second one an
#     X-Cache-Status HIT; an X-Request-Id on every answer (the client's own echoed back); POSTs
#     beyond the route's 2r/s (burst 1) get 429;
#   - down: exit 0, every pid ps showed is gone, the control socket removed; ps then exits 1.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
write_manifest
up

rows=$(tandem ps --json)
echo "$rows" >&2
[ "$(echo "$rows" | wc -l)" -eq 4 ] || fail "ps --json: expected 4 rows"
echo "$rows" | python3 -c '
import json, sys
want = {"broker": '"$BROKER_P"', "hello.0": '"$HELLO_P"', "hello.1": '"$((HELLO_P + 1))"',
        "gateway": '"$GATEWAY_P"'}
for line in sys.stdin:
    r = json.loads(line)
    assert r["state"] == "ready" and r["ready"] is True, r
    assert r["pid"] > 0 and r["restarts"] == 0, r
    assert want.pop(r["name"]) == r["port"], r
assert not want, want' || fail "ps --json rows"
tandem ps | grep -qE '^hello +1 +ready +[0-9]+ +'"$((HELLO_P + 1))"' +0 ' || fail "ps table"

rc=0
tandem up --detach 2>"$TMP_ROOT/up2.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "already running" "$TMP_ROOT/up2.err" || fail "second up: exit $rc"

body=$("${CURL[@]}" -D "$TMP_ROOT/h1" "$GW/hello")
[ "$body" = '{"message":"Hello, World!"}' ] || record_failure "GET /hello body: $body"
grep -q '^HTTP/1.1 200' "$TMP_ROOT/h1" || record_failure "GET /hello not 200"
grep -qi '^X-Request-Id: [0-9a-f]\{32\}' "$TMP_ROOT/h1" || record_failure "no X-Request-Id"
"${CURL[@]}" -D "$TMP_ROOT/h2" -o /dev/null -H 'X-Request-Id: it-cli-up-1' "$GW/hello"
grep -qi '^X-Cache-Status: HIT' "$TMP_ROOT/h2" || record_failure "second GET not a cache HIT"
grep -qi '^X-Request-Id: it-cli-up-1' "$TMP_ROOT/h2" || record_failure "request id not echoed"

codes=""
for i in 1 2 3 4 5; do
    codes+="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$GW/greetings") "
done
log "POST /greetings x5: $codes"
[[ "$codes" == 202\ * ]] || record_failure "first POST not 202: $codes"
[[ "$codes" == *429* ]] || record_failure "no 429 beyond the rate limit: $codes"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$GW/nowhere")
[ "$code" = 404 ] || record_failure "unrouted path: $code"

down_and_check
rc=0
tandem ps >/dev/null 2>"$TMP_ROOT/ps.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "not running" "$TMP_ROOT/ps.err" || record_failure "ps after down: $rc"
finish
