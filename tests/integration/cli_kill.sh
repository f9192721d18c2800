#!/usr/bin/env bash
# tandem supervision: kill -9 of one example-hello instance while GETs (past nginx's cache) flow
# through the gateway. The instance is restarted (ps: restarts 1, a new pid, ready again within
# a few seconds) and every GET through the gateway gets 200 (nginx retries an idempotent request
# refused by the dead instance on the other one).
source "$(dirname "$0")/cli_lib.sh"

pick_ports
write_manifest
up

old=$(psj pid hello.0)
[ "$old" -gt 0 ] || fail "hello.0 has no pid"
codes="$TMP_ROOT/codes"
: >"$codes"
(
    end=$((SECONDS + 4))
    while [ "$SECONDS" -lt "$end" ]; do
        get_nocache >>"$codes"
        echo >>"$codes"
        sleep 0.02
    done
) &
loader=$!
track "$loader"
sleep 0.5
kill -9 "$old"
log "killed hello.0 (pid $old)"
t0=$(date +%s%N)
deadline=$((SECONDS + 15))
while :; do
    new=$(psj pid hello.0)
    st=$(psj state hello.0)
    if [ "$st" = ready ] && [ "$new" != "$old" ] && [ "$new" -gt 0 ]; then
        break
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "hello.0 not ready again within 15 s (state $st)"
    sleep 0.05
done
log "hello.0 ready again as pid $new after $((($(date +%s%N) - t0) / 1000000)) ms"
[ "$(psj restarts hello.0)" = 1 ] || record_failure "restarts: $(psj restarts hello.0), want 1"
[ "$(psj restarts hello.1)" = 0 ] || record_failure "hello.1 restarted too"
kill -0 "$old" 2>/dev/null && record_failure "the killed pid is alive"
wait "$loader"
total=$(grep -c . "$codes")
bad=$(grep -vc '^200$' "$codes" || true)
log "$total GETs through the gateway during the kill, $bad not 200"
[ "$total" -gt 20 ] || record_failure "only $total GETs were sent"
[ "$bad" -eq 0 ] || record_failure "$bad GETs failed: $(sort "$codes" | uniq -c | tr '\n' ' ')"
grep -q "hello.0 exited (signal 9): restart 1" "$PROJ/var/tandem/supervisor.log" ||
    record_failure "the supervisor did not log the crash"
down_and_check
finish
