#!/usr/bin/env bash
# broker.external (docs/scale-out.md) against a tandem-broker this test runs itself, with topic
# auto-creation off, as production clusters often have it:
#   - `tandem check` names the external broker; `up` starts no broker (ps: the two hello
#     instances and the gateway only) and creates the manifest's topics through CreateTopics
#     with broker.partitions partitions and the default replication factor, min(3, brokers) = 1,
#     which the supervisor's log states; the services get the cluster as TANDEM_BROKERS: a POST
#     /greetings through the gateway lands in the topic, and is consumed back (hello's count);
#   - the console (through the gateway) shows the cluster's topics and hello's consumer group;
#   - down stops what tandem started and leaves the cluster running; a second up finds the topics
#     there and leaves them as they are;
#   - replication_factor above the cluster's brokers fails `up` with a clear message, before any
#     process starts.
source "$(dirname "$0")/cli_lib.sh"

# cli_lib.sh's up, for a manifest with a console: its line follows up's
up() {
    local out rc=0
    out=$(tandem up --detach 2>"$TMP_ROOT/up.err") || rc=$?
    [ "$rc" -eq 0 ] || fail "tandem up --detach: exit $rc: $(cat "$TMP_ROOT/up.err")"
    [[ "$(head -n 1 <<<"$out")" == "tandem: up in "*" ms: $GW" ]] || fail "up said: $out"
    SUP_PID=$(tr -d '[:space:]' <"$PROJ/var/tandem/lock")
    track "$SUP_PID"
}

start_broker --auto-create-topics-enable false
pick_ports
external_manifest() { # $1: extra broker keys
    cat >"$PROJ/tandem.yaml" <<YAML
broker: { external: "$BROKER", partitions: 3, topics: [hello-events, hello-events.dlq]$1 }
gateway: { listen: 127.0.0.1:$GATEWAY_P }
services:
  hello:
    binary: $EXAMPLE_HELLO
    instances: 2
    port: $HELLO_P
    env: { TANDEM_WORKERS: "1" }
    depends_on: [broker]
    routes:
      - { path: /hello }
      - { path: /greetings, methods: [POST] }
  console:
    binary: $TANDEM_TEST_BIN/tandem-console
    port: $((HELLO_P + 4))
    control: true
    depends_on: [broker]
    routes: [ { path: /api/console } ]
YAML
}
# what the supervisor logged: before it detaches, on up's stderr
suplog() { cat "$TMP_ROOT/up.err" "$PROJ/var/tandem/supervisor.log" 2>/dev/null; }
external_manifest ""
out=$(tandem check) || fail "tandem check: $out"
[[ "$out" == *"the external broker $BROKER"* ]] || fail "check does not name the broker: $out"

up
rows=$(tandem ps --json)
echo "$rows" >&2
[ "$(echo "$rows" | wc -l)" -eq 4 ] || fail "ps --json: expected 4 rows (no broker)"
echo "$rows" | grep -q '"name":"broker"' && fail "ps shows a broker"
suplog | grep -q "broker: external $BROKER: 1 broker(s); topics get 3 partition(s), replication factor 1" ||
    fail "no cluster line in the supervisor's log"
for t in hello-events hello-events.dlq; do
    suplog | grep -q "broker: topic $t created: 3 partition(s), replication factor 1" || fail "$t: not created by up"
    n=$(kcat -L -b "$BROKER" -t "$t" -m 5 | grep -c "partition [0-9]*, leader") || true
    [ "$n" -eq 3 ] || fail "$t has $n partitions, not 3"
done

code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$GW/greetings")
[ "$code" = 202 ] || fail "POST /greetings: $code"
got=""
for _ in $(seq 100); do # published after the answer (fire-and-forget): wait for it
    got=$(within 10 kcat -C -b "$BROKER" -t hello-events -o beginning -c 1 -e -q -f '%h\n') || true
    [ -n "$got" ] && break
    sleep 0.1
done
[[ "$got" == *"ce_type=hello.greeted"* ]] || fail "the record is not a greeting: $got"
# the console reads the external cluster: its topics, and hello's group once it has consumed.
# Its tail learns a new topic's partitions one by one (a watermark query each, at its metadata
# refresh): wait until it lists all three, not only the topic.
parts3() {
    python3 -c '
import json, sys
t = {x["name"]: x for x in json.load(sys.stdin)["topics"]}
assert len(t["hello-events"]["partitions"]) == 3, t["hello-events"]' 2>/dev/null
}
for _ in $(seq 100); do
    topics=$("${CURL[@]}" "$GW/api/console/topics") || true
    groups=$("${CURL[@]}" "$GW/api/console/groups") || true
    [[ "$groups" == *'"hello"'* ]] && parts3 <<<"$topics" && break
    sleep 0.2
done
parts3 <<<"$topics" ||
    fail "console topics: $topics; up said: $(suplog | grep -E 'broker:|kafka:' | head -8)"
[[ "$groups" == *'"hello"'* ]] || fail "console groups: $groups"
down_and_check
kill -0 "$BROKER_PID" || fail "down stopped the external broker"

up
suplog | grep -q "broker: topic hello-events exists: 3 partition(s), replication factor 1$" ||
    fail "second up: no 'exists' line: $(suplog | grep 'broker: topic' | head -5)"
down_and_check

external_manifest ", replication_factor: 3"
lines=$(cat "$PROJ"/var/tandem/logs/hello.*.log | wc -l)
rc=0
tandem up --detach >"$TMP_ROOT/up3.out" 2>"$TMP_ROOT/up3.err" || rc=$?
cat "$TMP_ROOT/up3.err" >&2
[ "$rc" -eq 1 ] || fail "up with replication_factor 3 on one broker: exit $rc"
grep -q "broker.replication_factor 3 needs 3 brokers; the cluster at $BROKER has 1" \
    "$TMP_ROOT/up3.err" || fail "no clear message for the replication factor"
[ "$(cat "$PROJ"/var/tandem/logs/hello.*.log | wc -l)" -eq "$lines" ] || fail "a service started"
stop_broker
finish
