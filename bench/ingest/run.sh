#!/usr/bin/env bash
# bench/ingest/run.sh [BUILD_DIR] -- [tandem bench ingest options]: the figures of
# docs/benchmarks.md ("tandem bench ingest"). Starts a system of the build's binaries on free
# 127.0.0.1 ports in a temp project (the broker with 4 partitions, the gateway, the fleet service
# and the activity service), runs `tandem bench ingest` with the options given against it, and
# stops it. BUILD_DIR defaults to build (a release build: docs/benchmarks.md). Without
# BUILD_DIR/bin/tandem-fleet the fleet is tests/integration/ingest_fleet_contract.mjs, the
# contract's stand-in, which only shows the benchmark works: its figures say nothing of the fleet
# (the script says so).
#   bench/ingest/run.sh build -- --mode all --vehicles 10000 --rate 10000 --duration 10
#   bench/ingest/run.sh build -- --workload activity --mode all --rate 2000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    BUILD=$(cd "$1" && pwd)
    shift
fi
[ "${1:-}" = "--" ] && shift
BIN=$BUILD/bin
for b in tandem tandem-ingest tandem-broker tandem-activity; do
    [ -x "$BIN/$b" ] || { echo "run.sh: $BIN/$b is not built" >&2; exit 2; }
done
if [ -x "$BIN/tandem-fleet" ]; then
    FLEET="binary: $BIN/tandem-fleet
    instances: 2"
else
    echo "run.sh: $BIN/tandem-fleet is not built: the fleet is the contract's stand-in" \
        "(tests/integration/ingest_fleet_contract.mjs); its figures are not the fleet's" >&2
    FLEET="binary: $(command -v node)
    args: [$ROOT/tests/integration/ingest_fleet_contract.mjs]
    instances: 1"
fi
base=$("$ROOT/scripts/free-ports" 30)
PROJ=$(mktemp -d "${TMPDIR:-/tmp}/tandem-ingest.XXXXXX")
cat >"$PROJ/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$base, binary: $BIN/tandem-broker, args: [--num-partitions, "4"] }
gateway: { listen: 127.0.0.1:$((base + 1)) }
jwt: {}
services:
  fleet:
    $FLEET
    port: $((base + 10))
    depends_on: [broker]
    routes:
      - { path: /api/fleet }
  activity:
    binary: $BIN/tandem-activity
    port: $((base + 20))
    instances: 1
    depends_on: [broker]
    routes:
      - { path: /api/activity }
YAML
stop() {
    "$BIN/tandem" -f "$PROJ/tandem.yaml" down >/dev/null 2>&1 || true
    rm -rf "$PROJ"
}
trap stop EXIT
"$BIN/tandem" -f "$PROJ/tandem.yaml" up --detach
"$BIN/tandem" -f "$PROJ/tandem.yaml" bench ingest "$@"
