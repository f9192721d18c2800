#!/usr/bin/env bash
# cli_load_kill: an instance killed with SIGKILL under load costs no idempotent request.
#
# GET /hello through nginx on 8 connections, back to back, and POST /greetings at 50 requests/s
# on 2 connections, while one of the two hello instances gets kill -9. nginx retries the GETs
# that were on the dead instance (proxy_next_upstream error) and skips it while it is down
# (passive health), so every GET gets a 200. A POST that had reached the instance is never
# resent (it may have been acted on), so its client may see a 502: the test bounds those by the
# POSTs that can be in flight on the instance (one per connection) instead of demanding zero.
# The supervisor restarts the instance (a new pid, ready and in the upstream) and it serves
# again; at the end ps shows restarts=1 for it and 0 for every other process, `tandem down`
# succeeds and no log holds a sanitizer report.
# shellcheck source-path=SCRIPTDIR source=cli_load_lib.sh
source "$(dirname "$0")/cli_load_lib.sh"

system_up 2
expect_hello 2

start_load "$TMP_ROOT/get.json" -c 8 "$GATEWAY/hello"
start_load "$TMP_ROOT/post.json" -c 2 -r 50 -m POST -b '{"name":"load"}' "$GATEWAY/greetings"
sleep 1
read -r victim_pid victim_port < <(ps_json | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["service"] == "hello" and o["instance"] == 0:
        print(o["pid"], o["port"])
')
[ "${victim_pid:-0}" -gt 0 ] || fail "no pid for hello.0 in tandem ps --json"
kill -KILL "$victim_pid"
log "killed hello.0 (pid $victim_pid, port $victim_port) with SIGKILL"

deadline=$((SECONDS + 20))
while :; do
    row=$(hello_rows | awk '$1 == 0')
    read -r _ state pid restarts ready upstream <<<"$row"
    if [ "$ready" = True ] && [ "$upstream" = True ] && [ "$pid" != "$victim_pid" ]; then
        break
    fi
    [ "$SECONDS" -lt "$deadline" ] || { dump_logs; fail "hello.0 not back within 20 s: $row"; }
    sleep 0.2
done
log "hello.0 is back: pid $pid, state $state, restarts $restarts"
sleep 2 # the restarted instance takes its share of the load again
stop_load

G="$TMP_ROOT/get.json" P="$TMP_ROOT/post.json"
cat "$G" "$P" >&2
requests=$(load_field "$G" 'o["requests"]')
failed=$(load_field "$G" 'o["failed"]')
ok=$(load_field "$G" 'o["status"].get("200", 0)')
log "GET: $requests requests, $ok answered 200, $failed failed," \
    "$(load_field "$G" 'o["retried"]') retried"
[ "$requests" -gt 1000 ] || record_failure "only $requests GET requests in the whole run"
[ "$failed" -eq 0 ] || record_failure "$failed GET requests failed: $(load_field "$G" 'o["failures"]')"
[ "$ok" -eq "$requests" ] || record_failure "not every GET got a 200: $(load_field "$G" 'o["status"]')"

posts=$(load_field "$P" 'o["requests"]')
post_failed=$(load_field "$P" 'o["failed"]')
accepted=$(load_field "$P" 'o["status"].get("202", 0)')
log "POST: $posts requests, $accepted accepted, $post_failed failed" \
    "$(load_field "$P" 'o["failures"]')"
[ "$accepted" -gt 100 ] || record_failure "only $accepted POSTs accepted"
[ "$post_failed" -le 2 ] ||
    record_failure "$post_failed POSTs failed; at most 2 (one per connection) can be in flight on the killed instance"
[ $((accepted + post_failed)) -eq "$posts" ] ||
    record_failure "POST answers other than 202 or failures: $(load_field "$P" 'o["status"]')"

# the restarted instance answers directly too
[ "$(within 10 curl -s "http://127.0.0.1:$victim_port/hello")" = '{"message":"Hello, World!"}' ] ||
    record_failure "the restarted hello.0 does not answer on port $victim_port"
check_restarts hello.0=1
system_stop
finish
