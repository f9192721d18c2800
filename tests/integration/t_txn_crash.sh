#!/usr/bin/env bash
# Crash recovery of transactions: a transactional producer commits (and every 5th time aborts)
# transactions of 20 records over 3 partitions while the broker is killed with SIGKILL at random
# moments 5 times and restarted on the same data dir. Afterwards a read_committed consumer must
# see every transaction whole or not at all, each record at most once, every acknowledged commit,
# and no acknowledged abort (kafka-txn crash-produce / verify). The recovery log line must show
# transactions the crash left open being completed at least once over the run.
. "$(dirname "$0")/lib.sh"
KTXN="$TANDEM_TEST_BIN/kafka-txn"

ROUNDS=${ROUNDS:-5}
start_broker --num-partitions 3
PORT=$BROKER_PORT
DIR=$BROKER_DIR
OUT="$TMP_ROOT/outcomes.txt"
STOP="$TMP_ROOT/stop"
: >"$OUT"
"$KTXN" crash-produce -b "$BROKER" -t crash -p 3 --log "$OUT" --stop "$STOP" \
    2>"$TMP_ROOT/producer.log" &
PRODUCER=$!
track "$PRODUCER"
sleep 1.5
for round in $(seq "$ROUNDS"); do
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + (r % 200) / 100 }')"
    kill9_broker
    log "round $round: SIGKILL with $(grep -c '^C' "$OUT") commits acknowledged"
    sleep "0.$((RANDOM % 5))"
    start_broker --data-dir "$DIR" --listen "127.0.0.1:$PORT" --num-partitions 3
    kill -0 "$PRODUCER" 2>/dev/null || fail "the producer exited in round $round: $(tail -5 "$TMP_ROOT/producer.log")"
done
sleep 4 # the producer reconnects and commits again before it stops
touch "$STOP"
for _ in $(seq 900); do
    kill -0 "$PRODUCER" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$PRODUCER" 2>/dev/null && fail "the producer did not stop within 90 s of the stop file"
rc=0
wait "$PRODUCER" || rc=$?
grep -v '^%' "$TMP_ROOT/producer.log" | grep -v Purged | tail -n 12 >&2 || true
[ "$rc" -eq 0 ] || fail "crash-produce exited with $rc"
within 60 "$KTXN" verify -b "$BROKER" -t crash -p 3 --log "$OUT" || fail "kafka-txn verify"
# and once more after a clean restart (aborted-transaction index rebuilt from the log)
stop_broker
start_broker --data-dir "$DIR" --num-partitions 3
within 60 "$KTXN" verify -b "$BROKER" -t crash -p 3 --log "$OUT" ||
    fail "kafka-txn verify after a clean restart"
grep -q '"msg":"transactions recovered"' "$BROKER_LOG" ||
    log "note: no kill landed inside a transaction this run"
stop_broker
finish
