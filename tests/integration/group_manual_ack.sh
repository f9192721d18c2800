#!/usr/bin/env bash
# At-least-once with manual commits through crashes: 100,000 records are produced up front; a
# consumer with enable.auto.commit=false appends each processed record to a file and then
# commits the consumed positions synchronously (group-check consume --manual-commit); it is
# killed with kill -9 at 20 random points and restarted each time (a static member,
# group.instance.id, so a restart takes its place at once). At the end every value 1..100000
# was processed at least once (duplicates are allowed and counted, gaps are not), and the
# group's committed offsets equal the log end offsets. GROUP_SEED=N replays the kill points.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"

N=100000
KILLS=20
SEED=${GROUP_SEED:-$$}
RANDOM=$SEED
log "seed $SEED (GROUP_SEED=$SEED replays these kill points)"

start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t ma -p 4 || fail "create topic ma"
within 90 "$GCHECK" produce -b "$BROKER" -t ma -s 1 -n $N || fail "produce 1..$N"

# A kill -9 can cut a batch's write at a page boundary (see open_records in group_check.c), so a
# member may find a torn last line; the first one finds one on purpose and must drop it, or the
# next line runs into it and the check below finds a malformed line.
printf '0 0 1' >"$TMP_ROOT/c.rec"
args=(-t ma -g ma-group --manual-commit --instance-id ma-1 --session-ms 6000 --batch 200
    --delay-ms 40)
for i in $(seq $KILLS); do
    gc_start c "${args[@]}"
    pause=$((300 + RANDOM % 1200))
    sleep "$(printf '0.%03d' $((pause % 1000)))"
    [ "$pause" -lt 1000 ] || sleep 1
    gc_kill9 c
    done_n=$(values c | wc -l)
    log "kill $i after ${pause} ms: $done_n distinct values processed so far"
    broker_alive "after kill $i"
done

gc_start c "${args[@]}"
wait_values 90 1 $N c
gc_term c

grep -q 'dropped a torn last line of 5 bytes' "$TMP_ROOT/c.err" ||
    fail "the first member did not drop the torn line it was given"
lines=$(wc -l <"$TMP_ROOT/c.rec")
distinct=$(values c | wc -l)
bad=$(awk -v n=$N 'NF != 3 || $3 !~ /^[0-9]+$/ || $3 < 1 || $3 > n' "$TMP_ROOT/c.rec" | wc -l)
[ "$bad" -eq 0 ] || fail "$bad processed lines are malformed or out of 1..$N"
[ "$distinct" -eq $N ] || fail "$distinct distinct values processed, want $N"
log "every value 1..$N processed: $lines records handled, $((lines - distinct)) duplicates" \
    "after $KILLS kills"

within 30 "$GCHECK" committed -b "$BROKER" -t ma -g ma-group >"$TMP_ROOT/committed.txt" ||
    fail "committed offsets of ma-group"
within 30 "$GCHECK" ends -b "$BROKER" -t ma >"$TMP_ROOT/ends.txt" || fail "end offsets of ma"
log "committed: $(tr '\n' ' ' <"$TMP_ROOT/committed.txt")| log ends: $(tr '\n' ' ' <"$TMP_ROOT/ends.txt")"
diff "$TMP_ROOT/committed.txt" "$TMP_ROOT/ends.txt" >&2 ||
    fail "the committed offsets differ from the log end offsets"

stop_broker
log "PASS"
