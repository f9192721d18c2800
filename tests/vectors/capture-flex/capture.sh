#!/usr/bin/env bash
# Captures frames of real clients talking to tandem-broker itself at the versions the clients
# pick from what tandem advertises (flexible ones included: ApiVersions v3, InitProducerId v2 and
# OffsetFetch v7 from librdkafka 2.0.2), into tests/vectors/flex/<scenario>/, through the
# recording proxy ../capture/kproxy.py (--swap-port: tandem advertises its own port). A dev
# tool: the captures are checked in and tests/unit/test_codec_schema.c only reads them.
#   tests/vectors/capture-flex/capture.sh BROKER_BINARY [SCENARIO ...]   (default: all)
# Needs librdkafka-dev, kcat, node with kafkajs (tests/integration/node_modules), python3, cc.
# Binds 127.0.0.1 only, on free ports; every process it starts is stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vectors=$(dirname "$here")
root=$(cd "$vectors/../.." && pwd)
broker_bin=$1
shift
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O1 -Wall -o "$tmp/kclient" "$vectors/capture/kclient.c" -lrdkafka
cc -O1 -Wall -o "$tmp/gclient" "$vectors/capture-group/gclient.c" -lrdkafka

wait_line() { # FILE PREFIX: the word after PREFIX on the first line that has it
    for _ in $(seq 100); do
        if grep -q "^$2 " "$1" 2>/dev/null; then
            grep -m1 "^$2 " "$1" | cut -d' ' -f2
            return 0
        fi
        sleep 0.1
    done
    echo "capture-flex: no '$2' in $1" >&2
    return 1
}

# start SCENARIO: a fresh tandem-broker and the proxy in front of it; sets PROXY.
start() {
    local name=$1 port
    port=$("$root/scripts/free-ports" 1)
    rm -rf "${vectors:?}/flex/$name"
    mkdir -p "$vectors/flex/$name" "$tmp/$name.data"
    "$broker_bin" --listen "127.0.0.1:$port" --data-dir "$tmp/$name.data" \
        >"$tmp/$name.broker" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q ready "$tmp/$name.broker" && break
        sleep 0.1
    done
    python3 "$vectors/capture/kproxy.py" --upstream "127.0.0.1:$port" --swap-port "$port" \
        --out "$vectors/flex/$name" >"$tmp/$name.proxy" 2>"$tmp/$name.proxy.err" &
    pids+=($!)
    PROXY=127.0.0.1:$(wait_line "$tmp/$name.proxy" PORT)
}

stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

# librdkafka idempotent producer: ApiVersions v3, Metadata, InitProducerId v2 (flexible), Produce.
scenario_librdkafka_idempotent() {
    start librdkafka-idempotent
    timeout 30 "$tmp/kclient" produce "$PROXY" flex-topic all lz4 idempotent
    stop
}

# librdkafka group consumer: FindCoordinator, JoinGroup, SyncGroup, OffsetFetch v7 (flexible),
# Heartbeat, OffsetCommit, LeaveGroup, ListOffsets, Fetch.
scenario_librdkafka_group() {
    start librdkafka-group
    timeout 30 "$tmp/kclient" produce "$PROXY" flex-group 1 none
    timeout 60 "$tmp/gclient" "$PROXY" flex-group flex-capture 5
    stop
}

# kafkajs 2.2.4: admin, producer, group consumer.
scenario_kafkajs() {
    start kafkajs
    NODE_PATH="$root/tests/integration/node_modules" timeout 60 node "$here/kafkajs_capture.js" \
        "$PROXY" js-flex
    stop
}

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(librdkafka_idempotent librdkafka_group kafkajs)
for s in "${scenarios[@]}"; do
    "scenario_$s"
done
