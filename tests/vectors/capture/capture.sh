#!/usr/bin/env bash
# Re-captures the frames in tests/vectors/<scenario>/ from real clients (librdkafka 2.0.2, kcat)
# talking to librdkafka's mock broker through the recording proxy kproxy.py. A dev tool: the
# captured files are checked in, and the unit tests only read them. See tests/vectors/README.md.
#   tests/vectors/capture/capture.sh [SCENARIO ...]    (default: all)
# Needs librdkafka-dev, kcat, python3, cc. Binds 127.0.0.1 only; every process is stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vectors=$(dirname "$here")
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O1 -Wall -o "$tmp/kclient" "$here/kclient.c" -lrdkafka

# wait_line FILE PREFIX: prints the rest of the first line of FILE that starts with PREFIX.
wait_line() {
    for _ in $(seq 100); do
        if grep -q "^$2 " "$1" 2>/dev/null; then
            grep -m1 "^$2 " "$1" | cut -d' ' -f2
            return 0
        fi
        sleep 0.1
    done
    echo "capture: no '$2' in $1" >&2
    return 1
}

# start SCENARIO TOPIC [API:MIN:MAX ...]: mock cluster + proxy; sets BOOT (mock) and PROXY.
start() {
    local name=$1 topic=$2
    shift 2
    rm -rf "${vectors:?}/$name"
    mkdir -p "$vectors/$name"
    "$tmp/kclient" mock "$topic" 2 "$@" >"$tmp/$name.mock" 2>"$tmp/$name.mock.err" &
    pids+=($!)
    BOOT=$(wait_line "$tmp/$name.mock" BOOTSTRAP)
    python3 "$here/kproxy.py" --upstream "$BOOT" --out "$vectors/$name" ${FAKE_ADMIN:+--fake-admin} \
        >"$tmp/$name.proxy" 2>"$tmp/$name.proxy.err" &
    pids+=($!)
    PROXY=127.0.0.1:$(wait_line "$tmp/$name.proxy" PORT)
}

stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

scenario_kcat_metadata() {
    start kcat-metadata tandem-topic
    timeout 20 kcat -b "$PROXY" -L >/dev/null
    stop
}

# Metadata v0: an empty topics array asks for all topics.
scenario_kcat_metadata_v0() {
    start kcat-metadata-v0 tandem-topic 3:0:0
    timeout 20 kcat -b "$PROXY" -L >/dev/null
    stop
}

scenario_produce_gzip_acks1() {
    start produce-gzip-acks1 tandem-topic
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic 1 gzip
    stop
}

scenario_produce_zstd_acksall() {
    start produce-zstd-acksall tandem-topic
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic all zstd
    stop
}

# Older versions: the mock advertises Produce <= 3 and Metadata <= 1.
scenario_produce_v3_snappy() {
    start produce-v3-snappy tandem-topic 0:0:3 3:0:1
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic 1 snappy
    stop
}

# Produce v2: librdkafka falls back to the old message format (magic 1).
scenario_produce_v2_magic1() {
    start produce-v2-magic1 tandem-topic 0:0:2
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic 1 none
    stop
}

scenario_produce_none() {
    start produce-none tandem-topic
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic -1 none
    stop
}

# The messages are produced straight to the mock (not recorded), then read through the proxy.
scenario_consume() {
    start consume tandem-topic "$@"
    timeout 20 "$tmp/kclient" produce "$BOOT" tandem-topic 1 none
    timeout 20 "$tmp/kclient" consume "$PROXY" tandem-topic 0 5
    stop
}

scenario_consume_v4() {
    start consume-fetch-v4 tandem-topic 1:0:4 2:0:1
    timeout 20 "$tmp/kclient" produce "$BOOT" tandem-topic 1 none
    timeout 20 "$tmp/kclient" consume "$PROXY" tandem-topic 0 5
    stop
}

scenario_admin() {
    FAKE_ADMIN=1 start admin tandem-other
    timeout 30 "$tmp/kclient" admin "$PROXY" tandem-created
    stop
}

scenario_admin_partitions() {
    FAKE_ADMIN=1 start admin-partitions tandem-topic
    timeout 30 "$tmp/kclient" partitions "$PROXY" tandem-topic
    stop
}

scenario_idempotent() {
    start idempotent tandem-topic 22:0:1
    timeout 20 "$tmp/kclient" produce "$PROXY" tandem-topic all lz4 idempotent
    stop
}

all=(kcat_metadata kcat_metadata_v0 produce_gzip_acks1 produce_zstd_acksall produce_v3_snappy
     produce_v2_magic1 produce_none consume consume_v4 admin admin_partitions idempotent)
for s in "${@:-${all[@]}}"; do
    echo "capture: $s"
    "scenario_${s//-/_}"
done
echo "capture: done"
