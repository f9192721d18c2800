#!/usr/bin/env bash
# A command that adds capacity returns only once the new nginx configuration is the one answering
# (review of issue "Before the blog"): nginx's master starts the new workers, sleeps 100 ms, and
# only then tells the old ones to stop accepting, so for about 80 ms after `tandem start hello`
# (or a scale up from zero) returned, old workers still answered 502 "no live upstreams" (now
# the gateway's 503 problem document).
#
# Each round runs the command from a Python driver that, the moment the command exits, sends GET
# /hello (past the cache) on a new connection each, back to back for 1 s: every one must be 200.
# Rounds: stop + start, scale hello=0 + scale hello=2, each three times.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
write_manifest
up

# after_cmd CMD...: runs CMD, then GETs for 1 s; prints "STATUS COUNT" lines, first request's
# delay after the command returned in ms on stderr.
after_cmd() {
    within 90 python3 - "$GATEWAY_P" "$@" <<'PY'
import collections, http.client, subprocess, sys, time
port, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
done = time.monotonic()
codes = collections.Counter()
first = None
while time.monotonic() < done + 1.0:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/hello", headers={"Authorization": "Bearer t"})
        r = c.getresponse()
        r.read()
        codes[r.status] += 1
    except OSError as e:
        codes[type(e).__name__] += 1
    finally:
        c.close()
    if first is None:
        first = (time.monotonic() - done) * 1000
for k, v in sorted(codes.items(), key=str):
    print(k, v)
print(f"first request {first:.1f} ms after the command returned", file=sys.stderr)
PY
}

# round NAME CMD...: after_cmd, then every answer must have been 200.
round() {
    local name=$1 out
    shift
    out=$(after_cmd "$TANDEM_CLI" -f "$PROJ/tandem.yaml" "$@") || fail "$name: the driver failed"
    log "$name: $(tr '\n' ' ' <<<"$out")"
    if grep -qv '^200 ' <<<"$out"; then
        record_failure "$name: not only 200s right after it returned: $(tr '\n' ' ' <<<"$out")"
    fi
}

for i in 1 2 3; do
    tandem stop hello >/dev/null || fail "stop hello"
    [ "$(get_nocache)" = 503 ] || record_failure "round $i: GET with hello stopped is not 503"
    round "start hello ($i)" start hello
    tandem scale hello=0 >/dev/null || fail "scale hello=0"
    [ "$(get_nocache)" = 503 ] || record_failure "round $i: GET with hello=0 is not 503"
    round "scale hello=2 from 0 ($i)" scale hello=2
done

down_and_check
finish
