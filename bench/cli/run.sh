#!/usr/bin/env bash
# The `tandem` command's benchmark (issue 5): how long `tandem up` takes to bring the default
# system to ready, and how much latency the nginx gateway adds to a request.
#
#   bench/cli/run.sh        RUNS=5 up rounds; RUNS_LAT=3 rounds x DURATION=5 s per latency cell;
#                           CONNS=16 for the concurrent cells; BUILD=build (a release build);
#                           MANIFEST=examples/hello/tandem.yaml (the example system; the
#                           blog, the repository's tandem.yaml, works too)
#
# 1. Up to ready: MANIFEST, copied into a temp dir with every port moved to a free one and its
#    binaries taken from $BUILD/bin, started with `tandem up --detach` (which
#    returns once the broker, every instance and nginx are ready) and stopped with `tandem down`,
#    RUNS times. Target: 2 s.
# 2. Gateway latency: one system with one example-hello instance (one worker) behind nginx,
#    route /hello not cached, and a second identical one with `cache: true`. tandem-load
#    (bench/load/) sends GET /hello, keep-alive, closed loop, to three targets in interleaved
#    rounds: the instance directly, the gateway (proxied to that instance), and the caching
#    gateway (answered from nginx's cache); with 1 connection (latency) and CONNS connections.
#    Nothing is pinned: processes run as `tandem up` starts them. Target: the gateway adds at
#    most 100 µs at p50 (1 connection).
# Prints a table of medians and writes the raw rows to bench/results/cli-<UTC time>.csv and the
# table to .md. Waits (up to WAIT_QUIET seconds, default 900) for the 1-minute load average to
# drop below 0.5, like bench/http/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=${RUNS:-5}
RUNS_LAT=${RUNS_LAT:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
WAIT_QUIET=${WAIT_QUIET:-900}
BUILD=${BUILD:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
    { echo "bench/cli: nginx missing (scripts/deps.sh)" >&2; exit 1; }
MANIFEST=${MANIFEST:-$ROOT/examples/hello/tandem.yaml}
[ -f "$MANIFEST" ] || { echo "bench/cli: no $MANIFEST" >&2; exit 1; }

# The release build the user runs (make build does the same).
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
TANDEM=$BUILD/bin/tandem
LOAD=$BUILD/bin/tandem-load
for b in "$TANDEM" "$LOAD" "$BUILD/bin/example-hello" "$BUILD/bin/tandem-broker"; do
    [ -x "$b" ] || { echo "bench/cli: $b was not built" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/tandem-clibench.XXXXXX)
SYSTEMS=()
cleanup() {
    local m
    for m in "${SYSTEMS[@]}"; do
        timeout 60 "$TANDEM" -f "$m" down >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { "$ROOT/scripts/free-ports"; }
# A base port with $1 consecutive free ports.
free_range() { "$ROOT/scripts/free-ports" "$1"; }

# shellcheck source-path=SCRIPTDIR source=../quiet.sh
source "$ROOT/bench/quiet.sh"

# The system of $MANIFEST, moved to another directory: every "127.0.0.1:PORT" and every service
# "port:" gets a free port (a service keeps room for 64 instances); every "binary:" becomes
# build/bin/<its name>, and `build` there is a symlink to $BUILD, so the binaries (the broker's
# default build/bin/tandem-broker too) are the release build's.
default_copy() { # dir
    mkdir -p "$1"
    ln -sfn "$BUILD" "$1/build"
    python3 - "$MANIFEST" "$1/tandem.yaml" "$ROOT/scripts/free-ports" <<'PY'
import re, subprocess, sys
src, dst, free_ports = sys.argv[1:4]
text = open(src).read()
def free(n=1):
    return int(subprocess.check_output([free_ports, str(n)]))
text = re.sub(r"127\.0\.0\.1:\d+", lambda m: f"127.0.0.1:{free()}", text)
text = re.sub(r"(\bport:\s*)(\d+)", lambda m: f"{m.group(1)}{free(64)}", text)
text = re.sub(r"(\bbinary:\s*)(\S+?)([,}\s])",
              lambda m: f"{m.group(1)}build/bin/{m.group(2).rsplit('/', 1)[-1]}{m.group(3)}", text)
open(dst, "w").write(text)
PY
}

# A one-instance system for the latency cells: $1 dir, $2 "true" to cache /hello. Writes
# "gateway_port instance_port" to $1/ports.
latency_system() {
    local dir=$1 cache=$2 bport gport hport
    mkdir -p "$dir"
    bport=$(free_port)
    gport=$(free_port)
    hport=$(free_range 4)
    cat >"$dir/tandem.yaml" <<YAML
broker: { listen: 127.0.0.1:$bport, data_dir: var/broker, binary: $BUILD/bin/tandem-broker }
gateway: { listen: 127.0.0.1:$gport }
services:
  hello:
    binary: $BUILD/bin/example-hello
    instances: 1
    port: $hport
    env: { TANDEM_WORKERS: "1", TANDEM_LOG_LEVEL: warn }
    depends_on: [broker]
    routes:
      - { path: /hello, cache: $cache }
YAML
    "$TANDEM" -f "$dir/tandem.yaml" up --detach >"$dir/up.out" 2>&1 ||
        { cat "$dir/up.out" >&2; echo "bench/cli: tandem up failed in $dir" >&2; exit 1; }
    SYSTEMS+=("$dir/tandem.yaml")
    echo "$gport $hport" >"$dir/ports"
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$ROOT/bench/results/cli-$STAMP.csv
mkdir -p "$ROOT/bench/results"
echo "kind,target,conns,run,seconds,requests,rps,p50_us,p90_us,p99_us,max_us,failed,load1" >"$CSV"
load1() { cut -d' ' -f1 /proc/loadavg; }

wait_quiet bench/cli

# ---- 1. tandem up to ready, the default system -------------------------------------------------
UPDIR=$TMP/default
default_copy "$UPDIR"
for run in $(seq "$RUNS"); do
    rm -rf "${UPDIR:?}/var"
    t0=$(date +%s%N)
    "$TANDEM" -f "$UPDIR/tandem.yaml" up --detach >"$TMP/up.out" 2>&1 ||
        { cat "$TMP/up.out" >&2; echo "bench/cli: tandem up failed" >&2; exit 1; }
    t1=$(date +%s%N)
    SYSTEMS+=("$UPDIR/tandem.yaml")
    "$TANDEM" -f "$UPDIR/tandem.yaml" ps >&2
    timeout 60 "$TANDEM" -f "$UPDIR/tandem.yaml" down >/dev/null 2>&1
    unset 'SYSTEMS[-1]'
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    echo "up,default,,$run,$secs,,,,,,,,$(load1)" >>"$CSV"
    tail -1 "$CSV" >&2
    sleep 1
done

# ---- 2. the gateway's added latency -------------------------------------------------------------
latency_system "$TMP/lat" false
latency_system "$TMP/latc" true
read -r GW_PORT HELLO_PORT <"$TMP/lat/ports"
read -r GWC_PORT _ <"$TMP/latc/ports"
declare -A URL=([direct]="http://127.0.0.1:$HELLO_PORT/hello"
    [gateway]="http://127.0.0.1:$GW_PORT/hello"
    [gateway-cache]="http://127.0.0.1:$GWC_PORT/hello")
for t in direct gateway gateway-cache; do
    "$LOAD" -c 4 -d 1 "${URL[$t]}" >/dev/null # warm-up: connections, nginx's cache
done
for run in $(seq "$RUNS_LAT"); do
    for conns in 1 "$CONNS"; do
        for t in direct gateway gateway-cache; do
            out=$("$LOAD" --json -c "$conns" -d "$DURATION" "${URL[$t]}") ||
                { echo "$out" >&2; echo "bench/cli: failures against $t" >&2; exit 1; }
            python3 -c '
import json, sys
o = json.loads(sys.argv[1]); l = o["latency_us"]
print(",".join(str(x) for x in ["latency", sys.argv[2], o["connections"], sys.argv[3],
      o["elapsed_s"], o["requests"], o["rps"], l["p50"], l["p90"], l["p99"], l["max"],
      o["failed"], sys.argv[4]]))' "$out" "$t" "$run" "$(load1)" >>"$CSV"
            tail -1 "$CSV" >&2
        done
    done
done

python3 "$ROOT/bench/cli/report.py" "$CSV" \
    "tandem-load --json -c CONNS -d $DURATION http://127.0.0.1:PORT/hello" | tee "${CSV%.csv}.md"
echo "raw: $CSV"
