#!/usr/bin/env bash
# bench/console/run.sh: what the live console costs the system it watches (docs/console.md).
#
# The blog (broker with 4 partitions per topic, users, articles x2, comments, activity, web) and the
# console, through `tandem up` (release build: BUILD=build), in a temporary project on free ports.
# One client keeps the console's event stream open (as a browser on /console would) and one a
# live tail of the busiest topic. Measured, each over SECS seconds (default 20):
#
#   idle        nothing but the console's own polling: its CPU (utime + stime of its process,
#               from /proc/PID/stat) as a share of one core
#   load        tandem-load: GET /api/articles through the gateway at RATE requests/s (default
#               1000) beside POST /api/activity/events beacons at BEACONS/s (default 100, 3 events
#               each: 300 records/s into the topic activity); the console's CPU, and the load's
#               throughput and latency
#   load, console stopped   the same load with the console stopped (tandem stop console): the
#               blog's figures without it, to compare
#
#   BUILD=build SECS=20 RATE=1000 BEACONS=100 bench/console/run.sh
#
# Prints a Markdown table; raw rows in bench/results/console-<date>.csv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
SECS=${SECS:-20}
RATE=${RATE:-1000}
BEACONS=${BEACONS:-100}
WAIT_QUIET=${WAIT_QUIET:-300}
# shellcheck source=../quiet.sh
. "$ROOT/bench/quiet.sh"

for b in tandem tandem-broker tandem-users tandem-articles tandem-comments tandem-activity \
    tandem-web tandem-console tandem-load; do
    [ -x "$BIN/$b" ] || { echo "console bench: $BIN/$b is missing (make)" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/tandem-console-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    timeout 60 "$BIN/tandem" -f "$DIR/tandem.yaml" down >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

port() { "$ROOT/scripts/free-ports" "${1:-1}"; }
P_BROKER=$(port) P_GW=$(port) P_USERS=$(port 4) P_ART=$(port 4) P_COM=$(port 4) P_ACT=$(port 4)
P_WEB=$(port 4) P_CON=$(port 4)
cat >"$DIR/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$P_BROKER, binary: $BIN/tandem-broker, args: [--num-partitions, "4"] }
gateway: { listen: 127.0.0.1:$P_GW }
jwt: {}
services:
  users: { binary: $BIN/tandem-users, port: $P_USERS, jwt: sign, depends_on: [broker],
           routes: [ { path: /api/users }, { path: /api/user, exact: true }, { path: /api/profiles } ] }
  articles: { binary: $BIN/tandem-articles, port: $P_ART, instances: 2, depends_on: [broker],
              routes: [ { path: /api/articles }, { path: /api/tags } ] }
  comments: { binary: $BIN/tandem-comments, port: $P_COM, depends_on: [broker, articles],
              env: { TANDEM_ARTICLES_URL: "http://127.0.0.1:$P_ART" },
              routes: [ { path: /api/articles/*/comments } ] }
  activity: { binary: $BIN/tandem-activity, port: $P_ACT, depends_on: [broker], routes: [ { path: /api/activity } ] }
  web: { binary: $BIN/tandem-web, port: $P_WEB, routes: [ { path: / } ] }
  console: { binary: $BIN/tandem-console, port: $P_CON, control: true, depends_on: [broker],
             routes: [ { path: /api/console } ] }
YAML
"$BIN/tandem" -f "$DIR/tandem.yaml" up --detach >/dev/null
GW=http://127.0.0.1:$P_GW

# some data: a user, a few articles (so GET /api/articles has a page to answer)
TOKEN=$(curl -sf -XPOST "$GW/api/users" -H 'content-type: application/json' \
    -d '{"user":{"username":"bench","email":"bench@example.com","password":"correct horse battery"}}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["token"])')
for i in $(seq 1 10); do
    curl -sf -o /dev/null -XPOST "$GW/api/articles" -H "authorization: Token $TOKEN" \
        -H 'content-type: application/json' \
        -d "{\"article\":{\"title\":\"Bench $i\",\"description\":\"d\",\"body\":\"b\",\"tagList\":[\"x\"]}}"
done
sleep 3 # the topics exist; activity picks them up

# the watchers: the console stream and a live tail of the topic activity
curl -sN "$GW/api/console/stream" >/dev/null & PIDS+=($!)
curl -sN "$GW/api/console/topics/activity/tail" >/dev/null & PIDS+=($!)

CONSOLE_PID=$("$BIN/tandem" -f "$DIR/tandem.yaml" ps --json |
    python3 -c 'import json,sys; print([r for r in map(json.loads, sys.stdin) if r["service"]=="console"][0]["pid"])')
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# CPU share of one core of process $1 over $2 seconds, in %
measure_cpu() {
    local a b
    a=$(cpu_ticks "$1")
    sleep "$2"
    b=$(cpu_ticks "$1")
    awk -v a="$a" -v b="$b" -v hz="$HZ" -v s="$2" 'BEGIN { printf "%.1f", (b - a) * 100 / hz / s }'
}

BEACON='{"anonymousId":"3f7c9a2e-5b1d-4e8f-9a6b-2c4d8e0f1a3b","events":[{"type":"page_view","path":"/"},{"type":"click","path":"/"},{"type":"page_view","path":"/x"}]}'
# runs the load for SECS; prints "rps p50_ms p99_ms failed" of the reads
load() {
    "$BIN/tandem-load" -c 4 -d "$SECS" -r "$BEACONS" -m POST -b "$BEACON" --json \
        "$GW/api/activity/events" >"$DIR/beacons.json" 2>/dev/null &
    local bp=$!
    "$BIN/tandem-load" -c 8 -d "$SECS" -r "$RATE" --json "$GW/api/articles?limit=10" >"$DIR/reads.json"
    wait "$bp" || true
    python3 - "$DIR/reads.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency_us"]
print(f'{r["rps"]:.0f} {lat["p50"] / 1000:.2f} {lat["p99"] / 1000:.2f} {r["failed"]}')
PY
}

wait_quiet "console bench"
echo "console bench: idle ${SECS}s" >&2
IDLE=$(measure_cpu "$CONSOLE_PID" "$SECS")
echo "console bench: load ${SECS}s (${RATE} reads/s + ${BEACONS} beacons/s)" >&2
measure_cpu "$CONSOLE_PID" "$SECS" >"$DIR/cpu_load" &
CPU_PID=$!
WITH=$(load)
wait "$CPU_PID"
LOADED=$(cat "$DIR/cpu_load")
echo "console bench: the same load, console stopped" >&2
"$BIN/tandem" -f "$DIR/tandem.yaml" stop console >/dev/null
WITHOUT=$(load)

mkdir -p "$ROOT/bench/results"
CSV="$ROOT/bench/results/console-$(date -u +%Y%m%d-%H%M%S).csv"
{
    echo "case,console_cpu_pct,reads_rps,p50_ms,p99_ms,failed"
    echo "idle,$IDLE,,,,"
    read -r a b c d <<<"$WITH"
    echo "load,$LOADED,$a,$b,$c,$d"
    read -r a b c d <<<"$WITHOUT"
    echo "load without console,,$a,$b,$c,$d"
} >"$CSV"

echo
echo "| case | console CPU (% of a core) | reads/s | p50 | p99 | failed |"
echo "|---|---|---|---|---|---|"
tail -n +2 "$CSV" | while IFS=, read -r c cpu rps p50 p99 f; do
    echo "| $c | ${cpu:-—} | ${rps:-—} | ${p50:+$p50 ms} | ${p99:+$p99 ms} | ${f:-—} |"
done
echo
echo "SECS=$SECS RATE=$RATE BEACONS=$BEACONS BUILD=$BUILD; raw: $CSV"
