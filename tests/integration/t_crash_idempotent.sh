#!/usr/bin/env bash
# Crash safety with an idempotent producer (acks=all): the broker is killed with SIGKILL at a
# random moment 5 times while the producer sends, and restarted on the same data dir and port.
# Afterwards every acknowledged value must be stored exactly once and in order; values never
# acknowledged may be stored too, at most once.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
start_broker --num-partitions 2 --auto-create-topics-enable true
wait_metadata 20
PORT=$BROKER_PORT
DIR=$BROKER_DIR

ACKED="$TMP_ROOT/acked.txt"
STOP="$TMP_ROOT/stop"
"$KCHECK" idem-produce -b "$BROKER" -t crash --acked-file "$ACKED" --stop-file "$STOP" \
    --rate 4000 --timeout 90 --tag c 2>"$TMP_ROOT/producer.log" &
PRODUCER=$!
track "$PRODUCER"

acked() { [ -f "$ACKED" ] && wc -l <"$ACKED" || echo 0; }
sleep 1.5
for round in $(seq "$ROUNDS"); do
    # A random moment 0.3 .. 2.3 s into this round.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + (r % 200) / 100 }')"
    before=$(acked)
    kill9_broker
    log "round $round: SIGKILL with $before records acknowledged"
    sleep "0.$((RANDOM % 5))"
    start_broker --data-dir "$DIR" --listen "127.0.0.1:$PORT" --num-partitions 2 \
        --auto-create-topics-enable true
    kill -0 "$PRODUCER" 2>/dev/null || fail "the producer exited during round $round: $(tail -5 "$TMP_ROOT/producer.log")"
done
sleep 2
touch "$STOP"
rc=0
for _ in $(seq 600); do
    kill -0 "$PRODUCER" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$PRODUCER" 2>/dev/null && fail "the producer did not finish within 60 s of the stop file"
wait "$PRODUCER" || rc=$?
grep -v '^%7' "$TMP_ROOT/producer.log" | tail -n 15 >&2
log "producer exit code $rc, $(acked) records acknowledged"
[ "$(acked)" -gt 1000 ] || fail "only $(acked) records were acknowledged"

within 60 "$KCHECK" dump -b "$BROKER" -t crash >"$TMP_ROOT/stored.txt" || fail "dump crash"
python3 - "$ACKED" "$TMP_ROOT/stored.txt" <<'PY' || fail "stored records violate exactly-once/in-order"
import sys
acked = [int(l) for l in open(sys.argv[1]) if l.strip()]
errors = []
stored = {}
last = {}
for line in open(sys.argv[2]):
    p, off, key, val = line.rstrip("\n").split("\t")
    seq = int(val.split("-", 1)[1])
    if key != f"key-{seq}":
        errors.append(f"partition {p} offset {off}: key {key} for value {val}")
    if seq in stored:
        errors.append(f"value {seq} stored twice: {stored[seq]} and partition {p} offset {off}")
    stored[seq] = (p, int(off))
    if seq % 2 != int(p):
        errors.append(f"value {seq} in partition {p}")
    if seq <= last.get(p, -1):
        errors.append(f"partition {p} offset {off}: value {seq} after {last[p]} (order)")
    last[p] = seq
missing = [s for s in acked if s not in stored]
if missing:
    errors.append(f"{len(missing)} acknowledged values missing, first {missing[:10]}")
if len(set(acked)) != len(acked):
    errors.append("the producer reported a value acknowledged twice")
print(f"crash: {len(acked)} acknowledged, {len(stored)} stored, "
      f"{len(set(stored) - set(acked))} stored but not acknowledged", file=sys.stderr)
for e in errors[:10]:
    print("crash:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
[ "$rc" -eq 0 ] || fail "the idempotent producer failed (exit $rc): see its log above"

stop_broker
log "PASS"
