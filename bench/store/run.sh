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
rm -f "$DIR"/bench.db*
echo "raw: $CSV"
