#!/usr/bin/env bash
# tandem stop / start / restart / scale / logs on a running system (example-hello, 2 instances):
#   - stop hello: both instances stopped (no pid), nginx.conf lists no live hello server, GET
#     /hello (past the cache) 503 (problem+json, Retry-After); start hello: both ready, GET 200;
#   - restart hello while GETs flow through the gateway: every instance has a new pid, every GET
#     got 200 (rolling: one instance at a time, out of the upstream before it stops);
#   - scale hello=3: a third instance ready on port+2 and in nginx.conf; scale hello=1: only
#     instance 0 left; a count whose ports would take the gateway's port, or 65, or a service
#     that does not exist, is refused (exit 1 or 2) and changes nothing;
#   - logs hello prints lines prefixed "hello.0 | " and "hello.1 | ", logs broker only the
#     broker's; logs with an unknown service exits 1.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
GATEWAY_P=$((HELLO_P + 6)) # above hello's ports, so that hello=7 would take it
GW="http://127.0.0.1:$GATEWAY_P"
write_manifest
up

upstream_servers() {
    sed -n '/upstream svc_hello/,/}/p' "$PROJ/var/gateway/nginx.conf" | grep -c 'max_fails' || true
}

tandem stop hello >"$TMP_ROOT/out" || fail "stop hello: $(cat "$TMP_ROOT/out")"
for i in 0 1; do
    [ "$(psj state hello.$i)" = stopped ] || record_failure "hello.$i: $(psj state hello.$i)"
    [ "$(psj pid hello.$i)" = 0 ] || record_failure "stopped hello.$i has a pid"
done
[ "$(upstream_servers)" = 0 ] || record_failure "nginx.conf still lists hello servers"
code=$(get_nocache)
[ "$code" = 503 ] || record_failure "GET /hello with hello stopped: $code, want 503"
tandem start hello >"$TMP_ROOT/out" || fail "start hello: $(cat "$TMP_ROOT/out")"
for i in 0 1; do
    [ "$(psj state hello.$i)" = ready ] || record_failure "hello.$i after start: $(psj state hello.$i)"
done
[ "$(get_nocache)" = 200 ] || record_failure "GET /hello after start"

before="$(psj pid hello.0) $(psj pid hello.1)"
codes="$TMP_ROOT/codes"
: >"$codes"
(
    while [ ! -e "$TMP_ROOT/stop-load" ]; do
        get_nocache >>"$codes"
        echo >>"$codes"
        sleep 0.02
    done
) &
loader=$!
track "$loader"
sleep 0.3
t0=$SECONDS
tandem restart hello >"$TMP_ROOT/out" || fail "restart hello: $(cat "$TMP_ROOT/out")"
log "restart hello took $((SECONDS - t0)) s: $(tr '\n' ' ' <"$TMP_ROOT/out")"
sleep 0.3
touch "$TMP_ROOT/stop-load"
wait "$loader"
after="$(psj pid hello.0) $(psj pid hello.1)"
for p in $before; do
    [[ " $after " == *" $p "* ]] && record_failure "pid $p survived the restart ($before -> $after)"
done
total=$(grep -c . "$codes")
bad=$(grep -vc '^200$' "$codes" || true)
log "$total GETs during the rolling restart, $bad not 200"
[ "$total" -gt 10 ] || record_failure "only $total GETs were sent"
[ "$bad" -eq 0 ] || record_failure "$bad GETs failed: $(sort "$codes" | uniq -c | tr '\n' ' ')"

tandem scale hello=3 >"$TMP_ROOT/out" || fail "scale hello=3: $(cat "$TMP_ROOT/out")"
[ "$(psj state hello.2)" = ready ] || record_failure "hello.2: $(psj state hello.2)"
[ "$(psj port hello.2)" = $((HELLO_P + 2)) ] || record_failure "hello.2 port"
[ "$(upstream_servers)" = 3 ] || record_failure "nginx.conf: $(upstream_servers) hello servers"
tandem scale hello=1 >"$TMP_ROOT/out" || fail "scale hello=1: $(cat "$TMP_ROOT/out")"
[ "$(tandem ps --json | grep -c '"service":"hello"')" = 1 ] || record_failure "scale 1: ps rows"
[ "$(upstream_servers)" = 1 ] || record_failure "nginx.conf after scale 1"
[ "$(get_nocache)" = 200 ] || record_failure "GET /hello after scale 1"
for bad in hello=7 hello=65 nope=1 hello=x; do
    rc=0
    tandem scale "$bad" >/dev/null 2>"$TMP_ROOT/err" || rc=$?
    [ "$rc" -ne 0 ] || record_failure "scale $bad accepted"
    log "scale $bad: exit $rc: $(cat "$TMP_ROOT/err")"
done
[ "$(tandem ps --json | grep -c '"service":"hello"')" = 1 ] || record_failure "a refused scale changed hello"

tandem logs hello >"$TMP_ROOT/logs" || record_failure "logs hello: exit $?"
grep -q '^hello\.0 | {' "$TMP_ROOT/logs" || record_failure "logs hello: no hello.0 lines"
grep -q '^hello\.1 | {' "$TMP_ROOT/logs" || record_failure "logs hello: no hello.1 lines"
grep -qv '^hello\.[0-9] | ' "$TMP_ROOT/logs" && record_failure "logs hello: other lines"
tandem logs broker | grep -q '^broker | {.*"msg":"ready"' || record_failure "logs broker"
rc=0
tandem logs nope >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || record_failure "logs nope: exit $rc"
down_and_check
finish
