#!/usr/bin/env bash
# What the gateway passes on and writes down (review of issue "Before the blog"):
#   - request ids: a request without X-Request-Id and traceparent gets the gateway's id R (32 hex
#     digits) and a trace started from it (trace id R); the service receives both headers, the
#     access log line has request_id R and trace_id R, and the service's own log line for the
#     request has the same trace_id (and, where the service logs it, request_id R). A client's
#     well-formed X-Request-Id and valid traceparent pass through unchanged, with tracestate;
#     malformed ones are replaced (and tracestate dropped); X-Forwarded-For is the client's
#     address, whatever the client claimed;
#   - the access log is JSON whatever the client sends: a \xff byte in the path, quotes and
#     backslashes, a \xff in X-Request-Id; every line parses and has the services' "ts" format;
#   - exposure: with a route for "/", GET /metrics, /readyz, /healthz (also spelled
#     /hello/../metrics, //metrics, /%6detrics) answer 404 problem+json from the gateway itself,
#     while other paths reach the "/" service;
#   - a route pattern (/api/articles/STAR/comments) takes its paths out of the route for "/",
#     an exact route (/api/user) only its own path;
#   - CORS (gateway.cors) answered by the gateway: preflights by nginx, the allowed origin on
#     every answer, the service's own CORS header hidden, nothing for another origin;
#   - nginx's own errors are problem documents: a service with no instance answering gives 503
#     with Retry-After (GET and POST), one that hangs up mid-request 502, a rate limit 429 with
#     Retry-After;
#   - a service whose every instance crashed (both killed -9, then crash-looping): 503 with
#     Retry-After for every request, never 502, until they are back; then 200 again.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
ECHO_P=$((HELLO_P + 8))
WEB_P=$((HELLO_P + 9))
CRASHY_P=$((HELLO_P + 4))
write_manifest "  crashy:
    binary: $TANDEM_IT_DIR/cli_echo_service.py
    instances: 2
    port: $CRASHY_P
    routes: [ { path: /crashy } ]
  echo:
    binary: $TANDEM_IT_DIR/cli_echo_service.py
    port: $ECHO_P
    routes:
      - { path: /echo }
      - { path: /api/articles/*/comments }
      - { path: /api/user, exact: true }
  web:
    binary: $EXAMPLE_HELLO
    port: $WEB_P
    env: { TANDEM_WORKERS: \"1\" }
    depends_on: [broker]
    routes: [ { path: / } ]"
sed -i "s|^gateway: .*|gateway: { listen: 127.0.0.1:$GATEWAY_P, cors: { origins: [\"http://app.example\"] } }|" \
    "$PROJ/tandem.yaml"
up
ACCESS="$PROJ/var/gateway/access.log"

# access_line ID: the access log line whose request_id is ID (waits for it: nginx writes the line
# after the answer).
access_line() {
    local i
    for i in $(seq 50); do
        if grep -F "\"request_id\":\"$1\"" "$ACCESS"; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# jfield JSON EXPR: a value from a JSON document (python expression over o).
jfield() {
    python3 -c 'import json, sys; o = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# --- 1. A request with no id and no trace context, to example-hello (past the cache).
hdrs=$("${CURL[@]}" -o /dev/null -D - -H 'Authorization: Bearer t' "$GW/hello") || fail "GET /hello"
rid=$(sed -n 's/^X-Request-Id: \([^[:space:]]*\).*/\1/ip' <<<"$hdrs")
[[ "$rid" =~ ^[0-9a-f]{32}$ ]] || fail "X-Request-Id '$rid' is not nginx's 32 hex digits"
line=$(access_line "$rid") || fail "no access log line for request id $rid"
log "access log: $line"
[ "$(jfield "$line" 'o["trace_id"]')" = "$rid" ] ||
    record_failure "the trace the gateway started is not \$request_id: $line"
[[ "$(jfield "$line" 'o["ts"]')" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] ||
    record_failure "access log ts is not the services' format: $line"
svc_line=""
for _ in $(seq 50); do
    svc_line=$(grep -h "\"trace_id\":\"$rid\"" "$PROJ"/var/tandem/logs/hello.*.log | grep '"path":"/hello"' || true)
    [ -n "$svc_line" ] && break
    sleep 0.05
done
if [ -z "$svc_line" ]; then
    record_failure "no hello log line with the gateway's trace id $rid"
else
    log "service log: $svc_line"
    # The service logs the request id once libtandem's runtime logs X-Request-Id ("request_id").
    svc_rid=$(jfield "$svc_line" 'o.get("request_id", "")')
    if [ -n "$svc_rid" ] && [ "$svc_rid" != "$rid" ]; then
        record_failure "the service logged request_id $svc_rid, the gateway $rid"
    fi
    [ -n "$svc_rid" ] || log "the service does not log request_id yet (its runtime's part)"
fi

# --- 2. What the service receives, through the echo service.
echo_json=$("${CURL[@]}" -H 'X-Forwarded-For: 10.6.6.6' -H 'tracestate: evil=1' "$GW/echo/x") ||
    fail "GET /echo/x"
rid=$(jfield "$echo_json" 'o["headers"]["x-request-id"]')
tp=$(jfield "$echo_json" 'o["headers"].get("traceparent", "")')
[[ "$rid" =~ ^[0-9a-f]{32}$ ]] || record_failure "upstream X-Request-Id '$rid'"
[[ "$tp" =~ ^00-$rid-[0-9a-f]{16}-01$ ]] || record_failure "upstream traceparent '$tp' (id $rid)"
[ "$tp" != "00-$rid-0000000000000000-01" ] || record_failure "all-zero parent id in '$tp'"
[ "$(jfield "$echo_json" 'o["headers"].get("tracestate", "-")')" = - ] ||
    record_failure "tracestate passed with a trace the gateway started: $echo_json"
[ "$(jfield "$echo_json" 'o["headers"]["x-forwarded-for"]')" = 127.0.0.1 ] ||
    record_failure "X-Forwarded-For is not the client's address: $echo_json"

tp_in=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
echo_json=$("${CURL[@]}" -H "traceparent: $tp_in" -H 'tracestate: vendor=1' \
    -H 'X-Request-Id: order-42.attempt_1:a-b' "$GW/echo/y") || fail "GET /echo/y"
[ "$(jfield "$echo_json" 'o["headers"]["traceparent"]')" = "$tp_in" ] ||
    record_failure "a valid traceparent was not passed unchanged: $echo_json"
[ "$(jfield "$echo_json" 'o["headers"]["tracestate"]')" = vendor=1 ] ||
    record_failure "tracestate was not passed with its traceparent: $echo_json"
[ "$(jfield "$echo_json" 'o["headers"]["x-request-id"]')" = order-42.attempt_1:a-b ] ||
    record_failure "a well-formed X-Request-Id was not kept: $echo_json"
line=$(access_line order-42.attempt_1:a-b) || fail "no access log line for the client's id"
[ "$(jfield "$line" 'o["trace_id"]')" = 0af7651916cd43dd8448eb211c80319c ] ||
    record_failure "access log trace_id is not the client's trace: $line"

for bad in 'has space' "$(printf 'x%.0s' $(seq 129))" 'semi;colon'; do
    echo_json=$("${CURL[@]}" -H "X-Request-Id: $bad" \
        -H 'traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01' "$GW/echo/z") ||
        fail "GET /echo/z"
    rid=$(jfield "$echo_json" 'o["headers"]["x-request-id"]')
    [[ "$rid" =~ ^[0-9a-f]{32}$ ]] || record_failure "malformed X-Request-Id '$bad' became '$rid'"
    [[ "$(jfield "$echo_json" 'o["headers"]["traceparent"]')" =~ ^00-$rid- ]] ||
        record_failure "an all-zero trace id was not restarted: $echo_json"
done

# --- 3. The access log is JSON for anything a client sends.
raw() { # raw REQUEST-BYTES (python literal): prints the status line
    raw_send "$GATEWAY_P" "$1" | head -n 1
}
raw 'b"GET /hello\xff/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"' >/dev/null
raw 'b"GET /q\"uo\\te HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"' >/dev/null
raw 'b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Request-Id: a\xffb\r\nConnection: close\r\n\r\n"' >/dev/null
raw 'b"GET /\xe0\x80\x80 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"' >/dev/null
sleep 0.3
python3 - "$ACCESS" <<'PY' || record_failure "access.log has lines that are not JSON (above)"
import json, re, sys
bad = 0
uris = []
for n, line in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        print(f"line {n} is not JSON ({e}): {line!r}", file=sys.stderr)
        bad += 1
        continue
    uris.append(o["uri"])
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]):
        print(f"line {n}: ts {o['ts']!r}", file=sys.stderr)
        bad += 1
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", o["request_id"]):
        print(f"line {n}: request_id {o['request_id']!r}", file=sys.stderr)
        bad += 1
for want in ["/hello\ufffd", '/q"uo\\te', "/caf\u00e9", "/\ufffd"]:
    if want not in uris:
        print(f"no line with uri {want!r}; uris: {uris[-6:]!r}", file=sys.stderr)
        bad += 1
print(f"{n} access log lines parsed", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- 4. Instances' own endpoints are not public, even behind a route for "/".
for p in /metrics /readyz /healthz /hello/../metrics //metrics /%6detrics '/metrics?x=1'; do
    out=$("${CURL[@]}" --path-as-is -o "$TMP_ROOT/body" -w '%{http_code} %{content_type}' "$GW$p")
    [ "$out" = "404 application/problem+json" ] || record_failure "GET $p through the gateway: $out"
    grep -q '"status":404' "$TMP_ROOT/body" || record_failure "GET $p: body $(cat "$TMP_ROOT/body")"
    if grep -q 'tandem_http_requests_total\|# TYPE' "$TMP_ROOT/body"; then
        record_failure "GET $p exposed the metrics"
    fi
done
"${CURL[@]}" -o /dev/null "$GW/somewhere/else" || true
sleep 0.2
grep '"uri":"/somewhere/else"' "$ACCESS" | grep -q "\"upstream\":\"127.0.0.1:$WEB_P\"" ||
    record_failure "the route for / did not reach the web service: $(tail -n 2 "$ACCESS")"

# --- 5. Route patterns and exact routes, under a route for "/": a pattern takes its paths out of
# the prefix above it, an exact route only its own path.
upstream_of() { # upstream_of PATH: the port of the upstream that answered GET PATH
    local id
    id=$("${CURL[@]}" -o /dev/null -D - "$GW$1" | sed -n 's/^X-Request-Id: \([^[:space:]]*\).*/\1/ip')
    access_line "$id" | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["upstream"].rsplit(":", 1)[-1])'
}
for case in "/api/articles/how-to/comments $ECHO_P" "/api/articles/how-to/comments/7 $ECHO_P" \
    "/api/articles/how-to $WEB_P" "/api/articles/a/b/comments $WEB_P" \
    "/api/articles//comments $WEB_P" "/api/user $ECHO_P" "/api/user/x $WEB_P" "/api/users $WEB_P"; do
    read -r path want <<<"$case"
    got=$(upstream_of "$path")
    [ "$got" = "$want" ] || record_failure "GET $path went to port '$got', want $want"
done
echo_json=$("${CURL[@]}" "$GW/api/articles/how-to/comments/7") || fail "GET through a pattern"
[ "$(jfield "$echo_json" 'o["path"]')" = /api/articles/how-to/comments/7 ] ||
    record_failure "the pattern route changed the path: $echo_json"

# --- 6. CORS answered by the gateway: a preflight (even to a POST-only route) by nginx itself, the
# allowed origin echoed on every answer (the service's own Access-Control-Allow-Origin hidden),
# none for another origin.
hdr() { sed -n "s/^$1: \\(.*\\)\r\$/\\1/ip" "$TMP_ROOT/hdrs" | tr '\n' '|'; }
code=$("${CURL[@]}" -o /dev/null -D "$TMP_ROOT/hdrs" -w '%{http_code}' -X OPTIONS \
    -H 'Origin: http://app.example' -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: content-type' "$GW/greetings")
log "preflight: $code $(hdr Access-Control-Allow-Origin) $(hdr Access-Control-Allow-Methods)"
[ "$code" = 204 ] || record_failure "preflight to /greetings: $code, want 204"
[ "$(hdr Access-Control-Allow-Origin)" = "http://app.example|" ] ||
    record_failure "preflight Allow-Origin: $(hdr Access-Control-Allow-Origin)"
[ "$(hdr Access-Control-Allow-Methods)" = "POST|" ] ||
    record_failure "preflight Allow-Methods: $(hdr Access-Control-Allow-Methods)"
[[ "$(hdr Access-Control-Allow-Headers)" == *Content-Type* ]] ||
    record_failure "preflight Allow-Headers: $(hdr Access-Control-Allow-Headers)"
[ "$(hdr Access-Control-Max-Age)" = "600|" ] || record_failure "preflight Max-Age"
"${CURL[@]}" -o /dev/null -D "$TMP_ROOT/hdrs" -H 'Origin: http://app.example' "$GW/echo/c" ||
    fail "GET /echo/c"
[ "$(hdr Access-Control-Allow-Origin)" = "http://app.example|" ] ||
    record_failure "GET with an allowed origin: Allow-Origin $(hdr Access-Control-Allow-Origin)"
[[ "$(hdr Access-Control-Expose-Headers)" == *X-Request-Id* ]] || record_failure "no Expose-Headers"
[[ "$(hdr Vary)" == *Origin* ]] || record_failure "no Vary: Origin"
"${CURL[@]}" -o /dev/null -D "$TMP_ROOT/hdrs" -H 'Origin: http://evil.example' "$GW/echo/c" ||
    fail "GET /echo/c"
[ -z "$(hdr Access-Control-Allow-Origin)" ] ||
    record_failure "another origin got Allow-Origin $(hdr Access-Control-Allow-Origin)"
"${CURL[@]}" -o /dev/null -D "$TMP_ROOT/hdrs" -H 'Origin: http://app.example' "$GW/metrics" || true
[ "$(hdr Access-Control-Allow-Origin)" = "http://app.example|" ] ||
    record_failure "the gateway's own 404 has no Allow-Origin"

# --- 7. nginx's own errors are problem documents: 503 + Retry-After when no instance answers
# (nothing reached the service), 502 when one connected and failed, 429 + Retry-After.
problem() { # problem CURL-ARGS...: "STATUS CONTENT-TYPE RETRY-AFTER" and the body in $TMP_ROOT/body
    "${CURL[@]}" -o "$TMP_ROOT/body" -D "$TMP_ROOT/hdrs" -w '%{http_code} %{content_type}' "$@"
    printf ' %s\n' "$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/ip' "$TMP_ROOT/hdrs")"
}
out=$(problem "$GW/echo/hangup")
[ "$out" = "502 application/problem+json " ] || record_failure "a service hanging up: '$out'"

# Every instance of crashy crashed and crash-looping (the echo service's crash switch, a file in
# its shared data directory, makes each restart exit before it listens): every request gets 503
# with Retry-After, never 502, until the instances are back.
out=$(problem "$GW/crashy/x")
[ "$out" = "200 application/json " ] || fail "GET /crashy/x before the crash: '$out'"
touch "$PROJ/var/services/crashy/crash"
kill -9 "$(psj pid crashy.0)" "$(psj pid crashy.1)"
for i in $(seq 100); do # the supervisor saw both exits: their sockets are gone
    [ "$(grep -cE 'crashy\.[01] exited \(signal 9\)' "$PROJ/var/tandem/supervisor.log")" = 2 ] &&
        break
    sleep 0.05
done
n503=0
t_end=$((SECONDS + 2))
while [ "$SECONDS" -lt "$t_end" ]; do
    for m in GET POST; do
        out=$(problem -X "$m" "$GW/crashy/x")
        if [ "$out" = "503 application/problem+json 2" ]; then
            n503=$((n503 + 1))
        else
            record_failure "$m with every crashy instance crashed: '$out'"
        fi
    done
done
log "crashy crash-looping ($(psj state crashy.0), $(psj state crashy.1)): $n503 answers 503"
[ "$n503" -gt 0 ] || record_failure "no 503 while crashy was down"
rm "$PROJ/var/services/crashy/crash"
if [ "$(psj state crashy.0)" = failed ] || [ "$(psj state crashy.1)" = failed ]; then
    tandem start crashy >/dev/null || fail "start crashy"
fi
wait_state crashy.0 ready 20
wait_state crashy.1 ready 20
t_back=$SECONDS
while :; do # nginx tries them again after fail_timeout (2 s): 503 until then, never 502
    out=$(problem "$GW/crashy/x")
    [ "$out" = "200 application/json " ] && break
    [ "$out" = "503 application/problem+json 2" ] || record_failure "crashy coming back: '$out'"
    [ $((SECONDS - t_back)) -lt 10 ] || fail "crashy still not answering 10 s after ready"
    sleep 0.1
done
log "crashy answers 200 again, $((SECONDS - t_back)) s after both were ready"

tandem stop echo >/dev/null || fail "stop echo"
for m in GET POST; do
    out=$(problem -X "$m" "$GW/echo/x")
    [ "$out" = "503 application/problem+json 2" ] || record_failure "$m with echo stopped: '$out'"
    grep -q '"status":503' "$TMP_ROOT/body" || record_failure "503 body: $(cat "$TMP_ROOT/body")"
done
tandem scale echo=0 >/dev/null || fail "scale echo=0"
out=$(problem "$GW/echo/x")
[ "$out" = "503 application/problem+json 2" ] || record_failure "GET with echo=0: '$out'"
codes=""
for _ in 1 2 3 4; do
    codes="$codes $(problem -X POST -H 'Content-Type: application/json' -d '{"name":"r"}' \
        "$GW/greetings")"
done
log "POST /greetings x4 at 2r/s burst 1:$codes"
[[ "$codes" == *"429 application/problem+json 1"* ]] ||
    record_failure "no 429 problem document with Retry-After from the rate limit:$codes"

down_and_check
finish
