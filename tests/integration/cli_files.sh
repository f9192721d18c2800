#!/usr/bin/env bash
# Files, users, the control socket and `tandem logs` (review of issue "Before the blog"):
#   - modes: everything under var/ is the owner's: files 0600, directories 0700, but var/ and
#     var/gateway/ 0711 when nginx's workers run as another user; a log and var/ that an older
#     tandem left 0644/0755 are tightened at `up`;
#   - nginx's workers: as root, they run as www-data (or nobody), never root, and can still write
#     the cache (a second GET is a HIT) and the temp files (a 64 KiB POST body is buffered to
#     client_body_temp); with the project under a directory that user cannot enter, they stay root
#     and `up` says why;
#   - the control socket answers a request line holding a NUL byte with an error (exit 2);
#   - `tandem logs` merges the files by time (the JSON "ts" of services, broker and nginx's access
#     log, nginx's error log times), a line without a time staying after the one before it.
source "$(dirname "$0")/cli_lib.sh"

# The test's temp dir is mktemp's 0700: nginx's workers (www-data) could not reach the project in
# it, and would stay root (tested below). A project's directories must let them through.
chmod 0711 "$TMP_ROOT"
pick_ports
write_manifest
mkdir -p "$PROJ/var/tandem/logs"
chmod 0755 "$PROJ/var" "$PROJ/var/tandem" "$PROJ/var/tandem/logs"
echo '{"ts":"2000-01-01T00:00:00.000Z","msg":"an older run"}' >"$PROJ/var/tandem/logs/hello.0.log"
chmod 0644 "$PROJ/var/tandem/logs/hello.0.log"
up

root=false
[ "$(id -u)" = 0 ] && root=true
apart=false # nginx's workers run as another user: var/ and var/gateway/ may be passed through
if $root; then
    wuser=$(ps -o user= --ppid "$(psj pid gateway)" | sort -u | tr '\n' ' ')
    log "nginx workers run as: $wuser"
    [[ "$wuser" =~ ^(www-data|nobody)\ $ ]] || record_failure "nginx workers run as '$wuser'"
    [ "$(ps -o user= -p "$(psj pid gateway)")" = root ] || record_failure "nginx master not root"
    apart=true
fi

# --- modes
bad=$(cd "$PROJ" && find var \( -type f -o -type s \) -perm /077 -printf '%m %p\n')
[ -z "$bad" ] || record_failure "files others may use: $bad"
want_pass=700
$apart && want_pass=711
for d in var var/gateway; do
    m=$(stat -c %a "$PROJ/$d")
    [ "$m" = "$want_pass" ] || record_failure "$d is $m, want $want_pass"
done
bad=$(cd "$PROJ" && find var -mindepth 1 -type d ! -path var/gateway -perm /077 -printf '%m %p\n')
[ -z "$bad" ] || record_failure "directories others may enter: $bad"
for f in var/tandem/logs/hello.0.log var/gateway/access.log var/gateway/nginx.conf var/tandem/lock; do
    m=$(stat -c %a "$PROJ/$f")
    [ "$m" = 600 ] || record_failure "$f is $m, want 600"
done
[ "$(stat -c %a "$PROJ/var/tandem/ctl.sock")" = 600 ] || record_failure "ctl.sock mode"
log "modes: $(cd "$PROJ" && find var -maxdepth 2 -printf '%m %u %p\n' | sort -k3 | tr '\n' ';')"

# --- what the workers must still do
"${CURL[@]}" -o /dev/null "$GW/hello" || fail "GET /hello"
hit=$("${CURL[@]}" -o /dev/null -D - "$GW/hello" | sed -n 's/^X-Cache-Status: \([A-Z]*\).*/\1/ip')
[ "$hit" = HIT ] || record_failure "second GET /hello: cache $hit, want HIT (can the workers write the cache?)"
head -c 65536 /dev/zero | tr '\0' 'a' >"$TMP_ROOT/body"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$TMP_ROOT/body" "$GW/greetings")
log "POST of 64 KiB: $code"
[ "$code" != 500 ] || record_failure "a 64 KiB POST body could not be buffered: 500"
if grep -E 'Permission denied|\[crit\]|\[alert\]' "$PROJ/var/gateway/error.log"; then
    record_failure "nginx could not use a file (error.log above)"
fi
if $root; then
    owner=$(stat -c %U "$PROJ/var/gateway/client_body_temp")
    [ "$owner" != root ] || record_failure "client_body_temp is root's"
fi

# --- the control socket: a NUL byte in the request line gets an answer
answer=$(raw_send "$PROJ/var/tandem/ctl.sock" 'b"ps\0\n"') ||
    record_failure "no answer to a request with a NUL byte"
log "request with a NUL byte: $(tr '\n' ' ' <<<"$answer")"
grep -q '^x 2$' <<<"$answer" || record_failure "a NUL byte was not answered with exit 2: $answer"
[ "$(psj state gateway)" = ready ] || record_failure "the supervisor no longer answers ps"

down_and_check

# --- the workers stay root, and say so, when their user cannot reach the project
if $root; then
    LOCKED="$TMP_ROOT/locked"
    mkdir -m 0700 "$LOCKED"
    mkdir "$LOCKED/proj"
    port=$(free_ports 2)
    cat >"$LOCKED/proj/tandem.yaml" <<YAML
gateway: { listen: 127.0.0.1:$port }
services:
  echo: { binary: $TANDEM_IT_DIR/cli_echo_service.py, port: $((port + 1)), routes: [ { path: /echo } ] }
YAML
    within 60 "$TANDEM_CLI" -f "$LOCKED/proj/tandem.yaml" up --detach >/dev/null \
        2>"$TMP_ROOT/locked.err" || fail "up in a project www-data cannot reach"
    track "$(tr -d '[:space:]' <"$LOCKED/proj/var/tandem/lock")"
    log "up in $LOCKED/proj: $(cat "$TMP_ROOT/locked.err")"
    grep -q "nginx's workers run as root: [a-z-]* cannot reach $LOCKED (mode 700)" \
        "$TMP_ROOT/locked.err" || record_failure "no message saying why the workers run as root"
    wuser=$(ps -o user= --ppid "$(tr -d '[:space:]' <"$LOCKED/proj/var/gateway/nginx.pid")" | sort -u)
    [ "$wuser" = root ] || record_failure "workers of the locked project run as '$wuser'"
    [ "$(within 5 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/echo")" = 200 ] ||
        record_failure "the gateway of the locked project does not answer"
    within 60 "$TANDEM_CLI" -f "$LOCKED/proj/tandem.yaml" down >/dev/null ||
        record_failure "down of the locked project"
fi

# --- tandem logs: merged by time (files written by hand; no supervisor needed)
L="$TMP_ROOT/logs"
mkdir -p "$L/var/tandem/logs" "$L/var/gateway"
echo 'services: {}' >"$L/tandem.yaml"
ts() { printf '{"ts":"2026-01-02T03:04:%s","msg":"%s"}\n' "$1" "$2"; }
{ ts 05.001Z b1; ts 05.005Z b2; } >"$L/var/tandem/logs/broker.log"
{ ts 05.002Z h0a; echo '    #0 a stack line without a time'; ts 05.006Z h0b; } >"$L/var/tandem/logs/hello.0.log"
{ ts 05.003Z h1a; } >"$L/var/tandem/logs/hello.1.log"
: >"$L/var/tandem/logs/gateway.log"
ts 05.004Z g1 | sed 's/"msg"/"uri"/' >"$L/var/gateway/access.log"
echo '2026/01/02 03:04:04 [warn] 7#7: an nginx warning' >"$L/var/gateway/error.log"
got=$(cd "$L" && within 10 "$TANDEM_CLI" logs | sed -E 's/^([a-z0-9.]+) +\| .*("msg"|"uri"):"([^"]*)".*/\1 \3/; s/^([a-z0-9.]+) +\| .*(nginx warning|stack line).*/\1 \2/')
want="gateway nginx warning
broker b1
hello.0 h0a
hello.0 stack line
hello.1 h1a
gateway g1
broker b2
hello.0 h0b"
[ "$got" = "$want" ] || record_failure "tandem logs is not merged by time:
$got"
got=$(cd "$L" && within 10 "$TANDEM_CLI" logs hello | sed -E 's/^([a-z0-9.]+) +\| .*"msg":"([^"]*)".*/\1 \2/; s/^([a-z0-9.]+) +\| .*(stack line).*/\1 \2/')
[ "$got" = "hello.0 h0a
hello.0 stack line
hello.1 h1a
hello.0 h0b" ] || record_failure "tandem logs hello:
$got"

finish
