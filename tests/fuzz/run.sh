#!/usr/bin/env bash
# Runs every fuzz_* binary in DIR for FUZZ_SECONDS (default 300) each, over a copy of its seed
# corpus (tests/fuzz/corpus/<name without fuzz_>/) in tests/fuzz/corpus-run/ (git-ignored), so
# the checked-in seeds stay as they are. Crash reproducers land in tests/fuzz/corpus-run/<name>/.
#   tests/fuzz/run.sh build-asan/bin        (make fuzz; FUZZ_SECONDS=600 make fuzz)
set -euo pipefail
dir=${1:?usage: run.sh DIR-WITH-FUZZ-BINARIES}
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-300}
found=0
status=0
for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    found=1
    name=$(basename "$bin")
    work="$here/corpus-run/$name"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [ -d "$here/corpus/${name#fuzz_}" ]; then
        cp -n "$here/corpus/${name#fuzz_}"/* "$work/corpus/" 2>/dev/null || true
    fi
    echo "fuzz: $name for ${secs}s (corpus $work/corpus)"
    if ! "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"; then
        echo "fuzz: $name FAILED, reproducer in $work/artifacts" >&2
        status=1
    fi
done
[ "$found" = 1 ] || { echo "fuzz: no fuzz_* binaries in $dir (configure with -DTANDEM_FUZZ=ON)" >&2; exit 1; }
exit $status
