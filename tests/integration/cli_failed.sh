#!/usr/bin/env bash
# tandem supervision of a crash-looping service:
#   - `flaky` (a shell script that runs example-hello unless a flag file exists) is up and ready;
#     with the flag set, kill -9 makes it crash at every restart: ps shows it "failed" within a
#     few seconds (5 crashes within 30 s), with restarts counted, and it is left down while the
#     broker, both hello instances and the gateway stay ready and GET /hello keeps answering 200;
#   - `tandem start flaky` once the flag is gone brings it back, ready;
#   - a manifest whose service exits at once fails `up --detach` (exit 1, the message names it
#     and says it keeps crashing) and leaves nothing running: the broker's port is closed and
#     no control socket is left.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
cat >"$PROJ/flaky.sh" <<EOF2
#!/bin/sh
[ -e "$PROJ/crash" ] && exit 1
exec "$EXAMPLE_HELLO"
EOF2
chmod +x "$PROJ/flaky.sh"
write_manifest "  flaky:
    binary: flaky.sh
    port: $((HELLO_P + 8))
    depends_on: [broker]"
up
old=$(psj pid flaky.0)
[ "$(psj state flaky.0)" = ready ] || fail "flaky.0 not ready after up"
touch "$PROJ/crash"
kill -9 "$old"
wait_state flaky.0 failed 15
restarts=$(psj restarts flaky.0)
log "flaky.0 failed after $restarts restarts"
[ "$restarts" -ge 4 ] || record_failure "flaky.0: only $restarts restarts before failed"
[ "$(psj pid flaky.0)" = 0 ] || record_failure "a failed instance has a pid"
for n in broker hello.0 hello.1 gateway; do
    [ "$(psj state "$n")" = ready ] || record_failure "$n is $(psj state "$n") after flaky failed"
done
[ "$(get_nocache)" = 200 ] || record_failure "GET /hello after flaky failed"
grep -q "flaky.0 exited (exit code 1): failed" "$PROJ/var/tandem/supervisor.log" ||
    record_failure "no 'failed' line in supervisor.log"

rm "$PROJ/crash"
tandem start flaky >"$TMP_ROOT/start.out" || fail "tandem start flaky: $(cat "$TMP_ROOT/start.out")"
[ "$(psj state flaky.0)" = ready ] || record_failure "flaky.0 not ready after start"
down_and_check

# A service that never gets ready fails `up`, and everything started is stopped.
PROJ="$TMP_ROOT/proj2"
mkdir -p "$PROJ"
printf '#!/bin/sh\nexit 1\n' >"$PROJ/dead.sh"
chmod +x "$PROJ/dead.sh"
write_manifest "  dead:
    binary: dead.sh
    port: $((HELLO_P + 8))
    depends_on: [hello]"
rc=0
tandem up --detach >"$TMP_ROOT/up.out" 2>"$TMP_ROOT/up.err" || rc=$?
cat "$TMP_ROOT/up.err" >&2
[ "$rc" -eq 1 ] || record_failure "up with a dead service: exit $rc, want 1"
grep -q "up failed: dead.0 keeps crashing: failed" "$TMP_ROOT/up.err" ||
    record_failure "up's message does not name dead.0"
(exec 3<>"/dev/tcp/127.0.0.1/$BROKER_P") 2>/dev/null && record_failure "the broker still runs"
(exec 3<>"/dev/tcp/127.0.0.1/$HELLO_P") 2>/dev/null && record_failure "hello.0 still runs"
[ ! -e "$PROJ/var/tandem/ctl.sock" ] || record_failure "ctl.sock left by a failed up"
finish
