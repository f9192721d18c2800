#!/usr/bin/env bash
# bench/store/run.sh: durable small writes per second through libtandem's database writer (group
# commit) against one transaction per write, on the real disk with synchronous=FULL. Runs
# store-bench for each mode and submitter count (in one process, then in three processes on the
# same file, as three instances of a service), on a fresh database each time, in DIR (default
# build/store-bench: under the work tree, so on its disk, never a tmpfs), and prints the table of
# docs/benchmarks.md; raw rows go to bench/results/store-<time>.csv.
#   bench/store/run.sh [BUILD_DIR (default build)] [SECONDS (default 5)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SECS=${2:-5}
BIN=$BUILD/bin/store-bench
DIR=${STORE_BENCH_DIR:-$BUILD/store-bench}
WAIT_QUIET=${WAIT_QUIET:-900}
. "$ROOT/bench/quiet.sh"
[ -x "$BIN" ] || { echo "no $BIN: build with cmake --build $BUILD --target store-bench" >&2; exit 1; }
mkdir -p "$DIR" "$ROOT/bench/results"
CSV=$ROOT/bench/results/store-$(date -u +%Y%m%dT%H%M%SZ).csv
echo "mode,procs,threads,jobs,jobs_per_s,p50_ms,p99_ms,mean_batch,commit_ms,errors" >"$CSV"
echo "disk: $(df -T "$DIR" | awk 'NR==2 {print $1, $2}')"
echo "| mode         | procs | threads |     jobs |   jobs/s |   p50 ms |   p99 ms | mean batch | commit ms | errors |"
echo "|--------------|-------|---------|----------|----------|----------|----------|------------|-----------|--------|"
# one process with 1, 8, 64 submitters; then 3 processes (instances) with 21 submitters each
for run in "1 1" "1 8" "1 64" "3 63"; do
    read -r procs threads <<<"$run"
    for mode in single batch; do
        rm -f "$DIR"/bench.db*
        wait_quiet store-bench
        "$BIN" --db "$DIR/bench.db" --mode "$mode" --procs "$procs" --threads "$threads" \
            --seconds "$SECS" --csv "$CSV" || echo "store-bench: $mode $procs $threads: errors" >&2
    done
done

# the HTTP path: POSTs from tandem-load (64 connections) to store-bench --serve (2 workers), each
# answered 201 once its write is committed
LOAD=$BUILD/bin/tandem-load
if [ -x "$LOAD" ]; then
    echo
    echo "| HTTP POST, 64 connections | answered/s | p50 ms | p99 ms | failed | writer |"
    echo "|---|---|---|---|---|---|"
    for mode in single batch; do
        rm -f "$DIR"/bench.db* "$DIR/port"
        wait_quiet store-bench
        "$BIN" --db "$DIR/bench.db" --serve "$DIR/port" --mode "$mode" \
            --seconds $((SECS + 3)) >"$DIR/serve.out" 2>&1 &
        spid=$!
        for _ in $(seq 50); do [ -s "$DIR/port" ] && break; sleep 0.1; done
        "$LOAD" --json --allow-failures -c 64 -d "$SECS" -m POST \
            -b '{"comment":{"body":"Thank you so much!"}}' \
            "http://127.0.0.1:$(cat "$DIR/port")/api/articles/how-to/comments" >"$DIR/load.json"
        wait $spid || true
        python3 - "$mode" "$DIR/load.json" "$DIR/serve.out" "$CSV" <<'PY'
import json, sys
mode, load, served, csv = sys.argv[1:]
j = json.load(open(load))
srv = open(served).read().strip().splitlines()[-1]
lat = j.get("latency_us", {})
row = (mode, j.get("rps", 0), lat.get("p50", 0) / 1000, lat.get("p99", 0) / 1000,
       j.get("failed", 0), srv.replace("SERVED ", ""))
print("| %s | %.0f | %.2f | %.2f | %s | %s |" % row)
open(csv, "a").write("http-%s,1,64,,%.0f,%.3f,%.3f,,,%s\n" % row[:5])
PY
    done
fi
rm -f "$DIR"/bench.db* "$DIR/port" "$DIR/serve.out" "$DIR/load.json"
echo "raw: $CSV"
