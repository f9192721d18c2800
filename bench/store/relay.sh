#!/usr/bin/env bash
# bench/store/relay.sh: outbox relay throughput (relay-bench) on PostgreSQL and on SQLite, against
# a tandem-broker started for the run (127.0.0.1, a free port, topic of 6 partitions) and a
# PostgreSQL 15 started by tests/integration/pg_lib.sh (fsync on: the durable setting), each
# stopped at the end. For each backend: ROWS rows put into the outbox, then the time until the
# relay has published and marked them all; on PostgreSQL also with 2 relays (one publishes, one
# stands by). Prints the table of docs/scale-out.md; raw rows go to
# bench/results/relay-<time>.csv. Target (issue 13): >= 20,000 events/s on PostgreSQL.
#   bench/store/relay.sh [BUILD_DIR (default build)] [ROWS (default 100000)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
ROWS=${2:-100000}
BIN=$BUILD/bin
WAIT_QUIET=${WAIT_QUIET:-900}
. "$ROOT/bench/quiet.sh"
for b in relay-bench tandem-broker; do
    [ -x "$BIN/$b" ] || { echo "no $BIN/$b: cmake --build $BUILD --target $b" >&2; exit 1; }
done
WORK=$(mktemp -d "$BUILD/relay-bench.XXXXXX")
BROKER_PID=""
cleanup() {
    [ -z "$BROKER_PID" ] || kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
PG_FSYNC=on
. "$ROOT/tests/integration/pg_lib.sh" # its EXIT trap stops PostgreSQL, then runs ours
trap "_pg_rc=\$?; stop_pg; cleanup; exit \$_pg_rc" EXIT

start_pg >/dev/null 2>&1
mkdir -p "$WORK/broker" "$ROOT/bench/results"
"$BIN/tandem-broker" --listen 127.0.0.1:0 --data-dir "$WORK/broker" --port-file "$WORK/port" \
    --num-partitions 6 >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
BROKERS=127.0.0.1:$(tr -dc 0-9 <"$WORK/port")
CSV=$ROOT/bench/results/relay-$(date -u +%Y%m%dT%H%M%SZ).csv
echo "backend,rows,relays,seconds,events_per_s,published,fill_rows_per_s" >"$CSV"
echo "| backend    |     rows | relays | seconds |  events/s | published | fill rows/s |"
echo "|------------|----------|--------|---------|-----------|-----------|-------------|"
n=0
for run in "postgresql 1" "postgresql 2" "sqlite 1"; do
    read -r backend relays <<<"$run"
    n=$((n + 1))
    if [ "$backend" = postgresql ]; then
        db=$(pg_new_db "bench$n")
    else
        db=$WORK/bench$n.db
    fi
    wait_quiet relay-bench
    "$BIN/relay-bench" --db "$db" --brokers "$BROKERS" --topic "relay-$n" --rows "$ROWS" \
        --relays "$relays" --csv "$CSV" 2>>"$WORK/bench.err" ||
        { echo "relay-bench $backend $relays failed:" >&2; tail -5 "$WORK/bench.err" >&2; }
done
echo "raw: $CSV"
