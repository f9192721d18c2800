#!/usr/bin/env bash
# ingest_activity: `tandem bench ingest --workload activity` (bench/ingest, docs/ingest.md): the
# same comparison for user activity, page-view beacons published as events (POST
# /api/activity/events, 202; one a request, or 50) against written synchronously over REST into
# the activity service (?sync=1, 200 once on disk; one a request, or 50), against the real
# activity service run by `tandem up` with the broker and the gateway. Checked: exit 0 (every
# mode's accepted beacons were all counted by the service's totals), in the JSON each mode's
# accepted = counted, nothing lost, a visible latency; the synchronous ones visible at once (their
# p50 not above the events' p50); the SVG parses; then an outage of the activity service: the
# REST modes count failures and retries and lose nothing within their retry window.
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
: "${ACTIVITY_BIN:?ACTIVITY_BIN must name tandem-activity}"

base=$(free_ports 12) || fail "no free ports"
BROKER_P=$base
GATEWAY_P=$((base + 1))
ACT_P=$((base + 2))
GW="http://127.0.0.1:$GATEWAY_P"
cat >"$PROJ/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$BROKER_P, binary: $TANDEM_BROKER, args: [--num-partitions, "4"] }
gateway: { listen: 127.0.0.1:$GATEWAY_P }
jwt: {}
services:
  activity:
    binary: $ACTIVITY_BIN
    port: $ACT_P
    instances: 1
    depends_on: [broker]
    routes:
      - { path: /api/activity }
YAML
up

OUT="$TMP_ROOT/out"
mkdir -p "$OUT"
bench() { # bench NAME ARGS...
    local name=$1 rc=0
    shift
    within 120 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" bench ingest --workload activity --quiet \
        --vehicles 50 --connections 4 --json "$OUT/$name.json" --svg "$OUT/$name.svg" "$@" \
        >"$OUT/$name.txt" 2>"$OUT/$name.err" || rc=$?
    cat "$OUT/$name.txt" >&2
    [ "$rc" -eq 0 ] || { cat "$OUT/$name.err" >&2; fail "bench $name: exit $rc"; }
}

log "every mode: 50 visitors, 200 beacons/s, 2 s each"
bench all --mode all --rate 200 --duration 2 --settle 30
python3 - "$OUT/all.json" "$OUT/all.svg" <<'PY' || fail "the results of --mode all"
import json, sys, xml.etree.ElementTree as ET
doc = json.load(open(sys.argv[1]))
modes = {m["mode"]: m for m in doc["modes"]}
assert list(modes) == ["rest", "rest-batch", "events", "events-batch"], list(modes)
for name, m in modes.items():
    c, f = m["counts"], m["final_state"]
    assert c["generated"] >= 300, (name, c)
    assert c["generated"] == c["acknowledged"] + c["lost"] + c["left"], (name, c)
    assert c["lost"] == 0 and c["left"] == 0, (name, c)
    assert f["expected"] == c["acknowledged"] and f["seen"] == f["expected"], (name, f)
    assert m["settled"], name
    assert m["figures"]["visible_p50_ms"] is not None, (name, m["figures"])
assert modes["rest"]["counts"]["requests"] == modes["rest"]["counts"]["acknowledged"]
assert modes["events-batch"]["counts"]["requests"] < modes["events-batch"]["counts"]["acknowledged"]
root = ET.parse(sys.argv[2]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
print("activity: ok", {n: (m["figures"]["visible_p50_ms"], m["figures"]["visible_p99_ms"])
                       for n, m in modes.items()})
PY

log "outage: the activity service stopped 1.5 s from 1 s into a 3 s window"
bench outage --mode rest,events --rate 200 --duration 3 --outage 1.5 --outage-at 1 --settle 40
python3 - "$OUT/outage.json" <<'PY' || fail "the results of --outage"
import json, sys
modes = {m["mode"]: m for m in json.load(open(sys.argv[1]))["modes"]}
for name, m in modes.items():
    o, c, f = m["outage"], m["counts"], m["final_state"]
    assert o["stop_exit"] == 0 and o["start_exit"] == 0, (name, o)
    assert c["generated"] == c["acknowledged"] + c["lost"] + c["left"], (name, c)
    assert c["lost"] == 0 and f["seen"] == f["expected"], (name, c, f)
    assert c["failed"] > 0, (name, c)  # the requests during the outage
assert modes["rest"]["counts"]["retried"] > 0, modes["rest"]["counts"]
print("activity outage: ok", {n: m["counts"]["retried"] for n, m in modes.items()})
PY
down_and_check
finish
