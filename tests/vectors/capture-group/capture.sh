#!/usr/bin/env bash
# Re-captures the consumer-group frames in tests/vectors/group/<scenario>/ from a librdkafka
# 2.0.2 high-level consumer (gclient.c: subscribe, read, rd_kafka_commit, close) talking to
# librdkafka's mock cluster through the recording proxy gproxy.py. The mock cluster and the
# producer that fills the topic are the colleague's tool, ../capture/kclient.c (modes "mock" and
# "produce"), compiled from there unchanged. A dev tool: the captures are checked in and the unit
# tests only read them.
#   tests/vectors/capture-group/capture.sh [SCENARIO ...]     (default: all)
# Needs librdkafka-dev, python3, cc. Binds 127.0.0.1 only; every process it starts is stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vectors=$(dirname "$here")
out=$vectors/group
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O1 -Wall -o "$tmp/kclient" "$vectors/capture/kclient.c" -lrdkafka
cc -O1 -Wall -o "$tmp/gclient" "$here/gclient.c" -lrdkafka

# first_word_after FILE PREFIX: the word after PREFIX on the first line of FILE that has it.
first_word_after() {
    for _ in $(seq 100); do
        if grep -q "^$2 " "$1" 2>/dev/null; then
            grep -m1 "^$2 " "$1" | cut -d' ' -f2
            return 0
        fi
        sleep 0.1
    done
    echo "capture-group: no '$2' in $1" >&2
    return 1
}

# run SCENARIO INSTANCE_ID [API:MIN:MAX ...]: a mock cluster with those version caps, 5 messages
# produced straight to it, then one group consumer through the proxy.
run() {
    local name=$1 instance=$2
    shift 2
    rm -rf "${out:?}/$name"
    mkdir -p "$out/$name"
    "$tmp/kclient" mock tandem-topic 2 "$@" >"$tmp/$name.mock" 2>"$tmp/$name.mock.err" &
    pids+=($!)
    local boot
    boot=$(first_word_after "$tmp/$name.mock" BOOTSTRAP)
    python3 "$here/gproxy.py" --upstream "$boot" --out "$out/$name" >"$tmp/$name.proxy" &
    pids+=($!)
    local proxy=127.0.0.1:$(first_word_after "$tmp/$name.proxy" PORT)
    timeout 20 "$tmp/kclient" produce "$boot" tandem-topic 1 none
    timeout 40 "$tmp/gclient" "$proxy" tandem-topic tandem-group 5 $instance
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    # Only the group APIs are kept (the others are covered by ../capture).
    find "$out/$name" -type f ! -regex '.*-\(FindCoordinator\|JoinGroup\|SyncGroup\|Heartbeat\|LeaveGroup\|OffsetCommit\|OffsetFetch\)-v.*' -delete
}

# Newest non-flexible versions librdkafka 2.0.2 sends: OffsetCommit and OffsetFetch are capped
# below their first flexible versions (8 and 6); the rest are at librdkafka's maximum.
scenario_newest() { run newest "" 8:0:7 9:0:5; }
# The same with static membership (group.instance.id): non-null group_instance_id fields.
scenario_static() { run static tandem-instance-1 8:0:7 9:0:5; }
# Middle versions: OffsetCommit v2 (retention_time_ms), OffsetFetch v3, JoinGroup v2, ...
scenario_middle() { run middle "" 8:0:2 9:0:3 10:0:1 11:0:2 12:0:1 13:0:0 14:0:1; }
# Oldest: every group API at v0 except OffsetCommit v1 (commit_timestamp per partition).
scenario_oldest() { run oldest "" 8:0:1 9:0:1 10:0:0 11:0:0 12:0:0 13:0:0 14:0:0; }

all=(newest static middle oldest)
for s in "${@:-${all[@]}}"; do
    echo "capture-group: $s"
    "scenario_$s"
done
echo "capture-group: done"
