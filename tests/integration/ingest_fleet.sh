#!/usr/bin/env bash
# ingest_fleet: `tandem bench ingest` (bench/ingest, docs/ingest.md) against a system that
# `tandem up` runs: the broker, the gateway and a fleet service (FLEET_BIN when the fleet is built,
# else ingest_fleet_contract.mjs, a stand-in written from docs/fleet.md's contract). Small numbers,
# every mode, then an outage; what is checked:
#   1. --mode all: exit 0 (every mode's final state agreed with the simulator's ledger); in the
#      JSON, for every mode: made = acknowledged + lost + left, nothing lost or left, every vehicle
#      read and at its last acknowledged update; rest one request an update, rest-batch fewer
#      requests than updates; the events' delivered records all reached the fleet (applied +
#      stale >= delivered); the SVG parses as SVG with a line per mode; and the state is what a
#      replay of the topic implies (ingest_replay.mjs: kafkajs reads the topic back).
#   2. --outage through the end of the send window with a short retry window, rest then events:
#      the bench stopped and started the fleet (tandem stop/start); REST counted failures,
#      retries and lost updates, and lost ones exactly: made = acknowledged + lost + left, and the
#      vehicles whose last update the ledger says was lost are exactly the vehicles the fleet
#      shows behind their last update (no acknowledged update missing, no lost one applied);
#      events lost nothing (a peak lag, a catch-up time, every vehicle at its newest record, the
#      replay agrees), and the outage is shaded in the SVG.
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

FLEET=${FLEET_BIN:-}
if [ -n "$FLEET" ]; then
    FLEET_YAML="binary: $FLEET"
else
    FLEET_YAML="binary: $(command -v node)
    args: [$TANDEM_IT_DIR/ingest_fleet_contract.mjs]"
fi
base=$(free_ports 12) || fail "no free ports"
BROKER_P=$base
GATEWAY_P=$((base + 1))
FLEET_P=$((base + 2))
GW="http://127.0.0.1:$GATEWAY_P"
cat >"$PROJ/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$BROKER_P, binary: $TANDEM_BROKER, args: [--num-partitions, "4"] }
gateway: { listen: 127.0.0.1:$GATEWAY_P }
services:
  fleet:
    $FLEET_YAML
    port: $FLEET_P
    instances: 1
    depends_on: [broker]
    routes:
      - { path: /api/fleet }
YAML
up

OUT="$TMP_ROOT/out"
mkdir -p "$OUT"
V=200

bench() { # bench NAME ARGS...: runs the bench, its table into OUT/NAME.txt
    local name=$1 rc=0
    shift
    within 120 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" bench ingest --quiet --vehicles $V \
        --connections 8 --json "$OUT/$name.json" --svg "$OUT/$name.svg" "$@" \
        >"$OUT/$name.txt" 2>"$OUT/$name.err" || rc=$?
    cat "$OUT/$name.txt" >&2
    [ "$rc" -eq 0 ] || { cat "$OUT/$name.err" >&2; fleet_state; fail "bench $name: exit $rc"; }
}

fleet_state() { # what the fleet says about its consumer now: its metrics and its log, not requests
    log "the fleet's consumer metrics now:"
    curl -s -m 5 "http://127.0.0.1:$FLEET_P/metrics" | grep -E '^tandem_(consumer|events)_' >&2 ||
        true
    log "the fleet's log, without its request lines:"
    grep -hv '"msg":"request"' "$PROJ"/var/tandem/logs/fleet.*.log | tail -n 60 >&2 || true
}

replay() {
    local got
    got=$(within 90 node "$TANDEM_IT_DIR/ingest_replay.mjs" "127.0.0.1:$BROKER_P" "$GW") ||
        fail "the fleet's state is not what a replay of the topic implies: $got"
    log "replay: $got"
}

# ---- 1. every mode -------------------------------------------------------------------------------
log "every mode: $V vehicles, 1000 updates/s, 3 s each"
bench all --mode all --rate 1000 --duration 3 --settle 30
python3 - "$OUT/all.json" "$OUT/all.svg" $V <<'PY' || fail "the results of --mode all"
import json, sys, xml.etree.ElementTree as ET
doc, svg, vehicles = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
modes = {m["mode"]: m for m in doc["modes"]}
assert list(modes) == ["rest", "rest-batch", "events"], list(modes)
for name, m in modes.items():
    c, f = m["counts"], m["final_state"]
    assert c["generated"] >= 2500, (name, c)
    assert c["generated"] == c["acknowledged"] + c["lost"] + c["left"], (name, c)
    assert c["lost"] == 0 and c["left"] == 0, (name, c)
    assert f["checked"] == vehicles and f["match"] + f["newer_unknown"] == vehicles, (name, f)
    assert f["behind"] == f["ahead"] == f["differ"] == f["missing"] == 0, (name, f)
    assert f["lost_last"] == f["behind_made"] == 0, (name, f)
    assert m["settled"], name
    assert m["figures"]["visible_p50_ms"] is not None, (name, m["figures"])
    assert m["figures"]["wire_bytes_per_update"] > 0, (name, m["figures"])
    assert len(m["series"]) >= 3, name
assert modes["rest"]["counts"]["requests"] == modes["rest"]["counts"]["acknowledged"]
assert modes["rest-batch"]["counts"]["requests"] < modes["rest-batch"]["counts"]["acknowledged"] / 2
ev = modes["events"]
assert ev["totals"]["service_applied"] + ev["totals"]["service_stale"] >= ev["counts"]["acknowledged"]
root = ET.parse(svg).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
lines = root.findall("{http://www.w3.org/2000/svg}polyline")
assert len(lines) >= 6, len(lines)  # a rate and a latency line per mode
print("all: ok", {n: m["figures"]["applied_per_s_window"] for n, m in modes.items()})
PY
replay

# ---- 2. an outage through the end of the window ---------------------------------------------------
log "outage: the fleet stopped 3 s from 2.5 s into a 4 s window; REST retries for 1 s"
bench outage --mode rest,events --rate 1000 --duration 4 --outage 3 --outage-at 2.5 \
    --retry-for 1 --drain 2 --settle 40
python3 - "$OUT/outage.json" "$OUT/outage.svg" $V <<'PY' || fail "the results of --outage"
import json, sys, xml.etree.ElementTree as ET
doc, svg, vehicles = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
modes = {m["mode"]: m for m in doc["modes"]}
for name, m in modes.items():
    o = m["outage"]
    assert o["stop_exit"] == 0 and o["start_exit"] == 0, (name, o)
    assert 2.4 <= o["stop_begin_s"] <= 3.5 and o["start_end_s"] > o["stop_end_s"] + 2.9, (name, o)
    c, f = m["counts"], m["final_state"]
    assert c["generated"] == c["acknowledged"] + c["lost"] + c["left"], (name, c)
    assert f["checked"] == vehicles, (name, f)
    assert f["behind"] == f["ahead"] == f["differ"] == f["missing"] == 0, (name, f)
    # the simulator's log against the fleet's state, vehicle by vehicle
    assert f["lost_last"] == f["behind_made"], (name, f)
rest, ev = modes["rest"]["counts"], modes["events"]["counts"]
assert rest["failed"] > 0 and rest["retried"] > 0 and rest["lost"] > 0, rest
assert modes["rest"]["final_state"]["lost_last"] > 0, modes["rest"]["final_state"]
assert ev["lost"] == 0 and ev["left"] == 0, ev
assert modes["events"]["final_state"]["lost_last"] == 0, modes["events"]["final_state"]
f = modes["events"]["figures"]
# the broker kept the outage's records: the group's lag grew, then fell back after the start
assert f["consumer_lag_peak"] > 0 and f["catchup_s"] is not None, f
assert f["visible_p99_ms"] > 1000, f  # the outage's records became visible after it
root = ET.parse(svg).getroot()
shaded = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("fill") == "#bbbbbb"]
assert len(shaded) == 2, len(shaded)  # the outage in both panels
print("outage: ok", {"rest lost": rest["lost"], "rest retried": rest["retried"],
                     "events lag peak": f["consumer_lag_peak"], "catch-up s": f["catchup_s"]})
PY
replay
down_and_check
finish
