#!/usr/bin/env bash
# libtandem's runtime judged from outside, with curl, against build/bin/example-hello on
# kernel-chosen 127.0.0.1 ports (TANDEM_LISTEN=127.0.0.1:0; the port is read from the "ready"
# log line): /hello body and headers, 304 on If-None-Match, 404 and 405 (+Allow) as
# problem+json, /healthz, /readyz (503 "broker": no broker here, see lib_hello_events.sh),
# /metrics counting exactly the requests made, traceparent echoed (and made when absent) and
# logged, a raw path that is not UTF-8 (GET /\xff...) leaving every log line valid JSON, flags
# beating TANDEM_* variables, bad configuration refused, and SIGTERM with a request in flight:
# the request completes, new connections are refused, exit status 0. Everything started is
# killed on exit; every wait is bounded.
set -euo pipefail

: "${EXAMPLE_HELLO:?EXAMPLE_HELLO must name the example-hello binary}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tandem-lib-service.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
# watchdog: its sleep holds no pipe of ours, so killing the subshell at exit ends it for CTest
(
    sleep "${TEST_DEADLINE:-80}" </dev/null >/dev/null 2>&1 &
    wait $!
    echo "lib_service: deadline passed" >&2
    kill -TERM $$
) &
PIDS+=($!)
disown $!

log() { printf '[lib_service] %s\n' "$*" >&2; }
fail() {
    log "FAIL: $*"
    for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }; done
    exit 1
}
CURL=(curl -sS --max-time 5)

# start NAME [flags...]: starts example-hello (environment from the caller), waits for its ready
# line; sets PID and PORT.
start() {
    local name=$1
    shift
    "$EXAMPLE_HELLO" "$@" 2>"$TMP/$name.log" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 100); do
        if grep -q '"msg":"ready"' "$TMP/$name.log"; then
            PORT=$(grep '"msg":"ready"' "$TMP/$name.log" | sed 's/.*"port":\([0-9]*\).*/\1/')
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || fail "$name exited before it was ready"
        sleep 0.1
    done
    fail "$name not ready within 10 s"
}

# stop: SIGTERM, expect exit status 0 within 25 s (with no broker, the greetings' events keep the
# producer flushing for its 10 s before they are dropped)
stop() {
    kill -TERM "$PID"
    local rc=0
    for _ in $(seq 250); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && fail "still running 25 s after SIGTERM"
    wait "$PID" || rc=$?
    [ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, want 0"
}

header() { grep -i "^$1:" "$2" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

export TANDEM_DATA_DIR="$TMP/data"
export TANDEM_LISTEN=127.0.0.1:0
export TANDEM_BROKERS=127.0.0.1:1 # nothing listens: events published here are never delivered
start main
B="http://127.0.0.1:$PORT"
log "example-hello on port $PORT"

# ---- GET /hello: body, headers ---------------------------------------------------------------
code=$("${CURL[@]}" -D "$TMP/h1" -o "$TMP/b1" -w '%{http_code}' "$B/hello")
[ "$code" = 200 ] || fail "GET /hello: $code"
[ "$(cat "$TMP/b1")" = '{"message":"Hello, World!"}' ] || fail "GET /hello body: $(cat "$TMP/b1")"
[ "$(header Content-Type "$TMP/h1")" = application/json ] || fail "Content-Type"
[ "$(header Cache-Control "$TMP/h1")" = "public, max-age=60" ] || fail "Cache-Control"
etag=$(header ETag "$TMP/h1")
[[ $etag =~ ^\"[0-9a-f]{16}\"$ ]] || fail "ETag '$etag'"
tp=$(header traceparent "$TMP/h1")
[[ $tp =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$ ]] || fail "made-up traceparent '$tp'"
[ -d "$TMP/data" ] || fail "TANDEM_DATA_DIR was not created"

# ---- If-None-Match -> 304; a stale tag -> 200; HEAD -------------------------------------------
code=$("${CURL[@]}" -D "$TMP/h2" -o "$TMP/b2" -w '%{http_code}' -H "If-None-Match: $etag" "$B/hello")
[ "$code" = 304 ] || fail "If-None-Match: $code, want 304"
[ ! -s "$TMP/b2" ] || fail "304 with a body"
[ "$(header ETag "$TMP/h2")" = "$etag" ] || fail "304 without the ETag"
grep -qi '^Content-Length' "$TMP/h2" && fail "304 with Content-Length"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000000000000000"' "$B/hello")
[ "$code" = 200 ] || fail "stale If-None-Match: $code, want 200"
code=$("${CURL[@]}" -I -o "$TMP/h3" -w '%{http_code}' "$B/hello")
[ "$code" = 200 ] || fail "HEAD /hello: $code"

# ---- 404 and 405 as problem+json --------------------------------------------------------------
code=$("${CURL[@]}" -D "$TMP/h4" -o "$TMP/b4" -w '%{http_code}' "$B/nope")
[ "$code" = 404 ] || fail "GET /nope: $code"
[ "$(header Content-Type "$TMP/h4")" = application/problem+json ] || fail "404 Content-Type"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]==404 and d["title"]=="Not Found", d' "$TMP/b4" || fail "404 body"
code=$("${CURL[@]}" -D "$TMP/h5" -o "$TMP/b5" -w '%{http_code}' -X DELETE "$B/hello")
[ "$code" = 405 ] || fail "DELETE /hello: $code"
[ "$(header Allow "$TMP/h5")" = "GET, HEAD" ] || fail "405 Allow '$(header Allow "$TMP/h5")'"
[ "$(header Content-Type "$TMP/h5")" = application/problem+json ] || fail "405 Content-Type"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]==405, d' "$TMP/b5" || fail "405 body"

# ---- health, readiness ------------------------------------------------------------------------
[ "$("${CURL[@]}" "$B/healthz")" = '{"status":"ok"}' ] || fail "/healthz"
# example-hello uses events, so the runtime added the check "broker"; there is none here (the
# broker side is lib_hello_events.sh)
code=$("${CURL[@]}" -o "$TMP/ready" -w '%{http_code}' "$B/readyz")
[ "$code" = 503 ] || fail "/readyz without a broker: $code"
grep -q '"failing":\["broker"\]' "$TMP/ready" || fail "/readyz: $(cat "$TMP/ready")"

# ---- traceparent: echoed, logged ---------------------------------------------------------------
want=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
"${CURL[@]}" -D "$TMP/h6" -o /dev/null -H "traceparent: $want" "$B/hello"
[ "$(header traceparent "$TMP/h6")" = "$want" ] || fail "traceparent not echoed"
sleep 0.2
grep '"msg":"request"' "$TMP/main.log" | grep -q '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' ||
    fail "no access-log line with the trace id"
"${CURL[@]}" -D "$TMP/h7" -o /dev/null -H "traceparent: 00-zz" "$B/hello"
[[ $(header traceparent "$TMP/h7") =~ ^00-[0-9a-f]{32}- ]] || fail "invalid traceparent not replaced"

# ---- /metrics counts what was asked ------------------------------------------------------------
# so far on /hello: GET 200 x4 (plain, stale tag, traceparent, bad traceparent), 304 x1, HEAD x1,
# DELETE 405 x1 (unmatched); GET /nope 404 x1
"${CURL[@]}" -D "$TMP/h8" -o "$TMP/metrics" "$B/metrics"
case "$(header Content-Type "$TMP/h8")" in text/plain*version=0.0.4*) ;; *) fail "metrics type" ;; esac
expect() {
    grep -qxF "$1" "$TMP/metrics" || { cat "$TMP/metrics" >&2; fail "metrics lack: $1"; }
}
expect 'tandem_http_requests_total{route="/hello",method="GET",status="200"} 4'
expect 'tandem_http_requests_total{route="/hello",method="GET",status="304"} 1'
expect 'tandem_http_requests_total{route="/hello",method="HEAD",status="200"} 1'
expect 'tandem_http_requests_total{route="unmatched",method="DELETE",status="405"} 1'
expect 'tandem_http_requests_total{route="unmatched",method="GET",status="404"} 1'
expect 'tandem_http_requests_total{route="/healthz",method="GET",status="200"} 1'
expect 'tandem_http_request_duration_seconds_count{route="/hello"} 6'
expect 'tandem_http_request_duration_seconds_bucket{route="/hello",le="+Inf"} 6'
expect '# TYPE tandem_http_request_duration_seconds histogram'

# ---- a path that is not UTF-8 (raw bytes on the socket, as no client library sends them): the
# access-log line stays valid JSON, the bytes logged as U+FFFD ---------------------------------
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /\xff\xfe\\x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&5
timeout 5 cat <&5 >"$TMP/raw" || true
exec 5<&-
head -1 "$TMP/raw" | grep -q '^HTTP/1.1 404' || fail "GET /\\xff: $(head -1 "$TMP/raw")"
stop
# (strict UTF-8: under a C locale sys.stdin would let bad bytes through as surrogates)
python3 -c 'import json,sys;[json.loads(l) for l in sys.stdin.buffer.read().decode().splitlines()]' \
    <"$TMP/main.log" || fail "a log line is not JSON"
python3 - "$TMP/main.log" <<'PY' || fail "no access-log line for the path that is not UTF-8"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert any(l.get("path") == "/\ufffd\ufffd\\x" and l.get("status") == 404 for l in lines)
PY
log "endpoints ok"

# ---- configuration: flags beat TANDEM_*, defaults, bad values ----------------------------------
TANDEM_WORKERS=3 start env
grep '"msg":"ready"' "$TMP/env.log" | grep -q '"workers":3' || fail "TANDEM_WORKERS=3 ignored"
stop
TANDEM_WORKERS=3 TANDEM_BROKERS=10.0.0.1:1 start flags --workers 2 --brokers=127.0.0.1:19092
grep '"msg":"ready"' "$TMP/flags.log" | grep -q '"workers":2' || fail "--workers lost to env"
grep '"msg":"ready"' "$TMP/flags.log" | grep -q '"brokers":"127.0.0.1:19092"' ||
    fail "--brokers=... lost to env"
stop
TANDEM_WORKERS=0 start cpus
grep '"msg":"ready"' "$TMP/cpus.log" | grep -q "\"workers\":$(getconf _NPROCESSORS_ONLN)," || fail "TANDEM_WORKERS=0 is not one per CPU"
stop
for bad in "TANDEM_WORKERS=abc" "TANDEM_WORKERS=-1" "TANDEM_LISTEN=nohost" "TANDEM_LOG_LEVEL=loud"; do
    rc=0
    env "$bad" timeout 10 "$EXAMPLE_HELLO" 2>"$TMP/bad.log" || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$bad: exit $rc, want a refusal"
    grep -q '"invalid configuration"' "$TMP/bad.log" || fail "$bad: no error line"
done
rc=0
timeout 10 "$EXAMPLE_HELLO" --no-such-flag 1 2>"$TMP/bad.log" || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "unknown flag: exit $rc"
timeout 10 "$EXAMPLE_HELLO" --help >"$TMP/help.txt" 2>/dev/null || fail "--help failed"
grep -q -- '--listen.*TANDEM_LISTEN' "$TMP/help.txt" || fail "--help lacks --listen"
log "configuration ok"

# ---- SIGTERM drain with a request in flight ----------------------------------------------------
start drain --workers 1
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /hello HTTP/1.1\r\nHost: x\r\n' >&3 # headers not finished: the request is in flight
exec 4<>"/dev/tcp/127.0.0.1/$PORT"            # idle keep-alive connection: closed by the drain
sleep 0.3
kill -TERM "$PID"
for _ in $(seq 50); do grep -q '"msg":"draining"' "$TMP/drain.log" && break; sleep 0.1; done
grep -q '"msg":"draining"' "$TMP/drain.log" || fail "no draining line after SIGTERM"
sleep 0.3
kill -0 "$PID" 2>/dev/null || fail "exited with a request in flight"
B="http://127.0.0.1:$PORT"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$B/healthz" 2>/dev/null || true)
[ "$code" = 000 ] || fail "a new connection was served during the drain ($code)"
rc=0
timeout 2 cat <&4 >/dev/null || rc=$?
[ "$rc" = 0 ] || fail "the idle connection was not closed by the drain"
printf 'X-Late: 1\r\n\r\n' >&3
timeout 5 cat <&3 >"$TMP/inflight" || true
exec 3<&-
exec 4<&-
head -1 "$TMP/inflight" | grep -q '^HTTP/1.1 200' || fail "in-flight request: $(head -1 "$TMP/inflight")"
grep -q 'Hello, World!' "$TMP/inflight" || fail "in-flight request lost its body"
grep -qi '^Connection: close' "$TMP/inflight" || fail "drained answer without Connection: close"
rc=0
for _ in $(seq 250); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID" || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after the drain, want 0"
grep -q '"msg":"stopped"' "$TMP/drain.log" || fail "no stopped line"
log "drain ok"
log "PASS"
