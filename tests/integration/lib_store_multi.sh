#!/usr/bin/env bash
# Several instances of a service on ONE SQLite file (include/tandem/store.h: the outbox lock,
# tandem_db_writer, tandem_idempotent), against a real tandem-broker, through
# lib-store-multi-check (lib_store_multi_check.c):
#   inproc   one process, 3 relays on separate connections, 2 writers committing 400 rows
#            concurrently; the lock holder is stopped mid-stream (clean handover) and restarted:
#            one holder at a time, each row published exactly once, none missing, per key in
#            seq order.
#   kill     3 instance processes, each a relay and a writer committing 300 rows (900 in all,
#            concurrently); the process holding the outbox lock is killed with kill -9
#            mid-stream. Another takes over (the takeover time is measured and must be under
#            2 s: the standby retry is 200 ms, a commit's wake makes it sooner); the survivors
#            finish; then the new holder is killed too, with the last instance idle (takeover by
#            the retry alone, measured). Every state row's event is on the topic, per key the
#            first occurrences in seq order, and an id appears twice only if its row was unsent
#            at one of the kills (the documented at-least-once case).
#   consume  two processes consume the same 150 records (100 ids, 50 repeated) in two Kafka
#            groups with one tandem_idempotent group on one database (BEGIN IMMEDIATE
#            contention across processes): 100 rows, one per id.
. "$(dirname "$0")/lib.sh"

MC="$TANDEM_TEST_BIN/lib-store-multi-check"
GCHECK="$TANDEM_TEST_BIN/group-check"

start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
for t in inproc multi dups; do
    within 20 "$GCHECK" create -b "$BROKER" -t $t -p 3 || fail "create topic $t"
done

# --- inproc: three relays and two writers in one process, a clean handover ----------------------
DB1="$TMP_ROOT/inproc.db"
within 120 "$MC" inproc -b "$BROKER" -t inproc -d "$DB1" -n 400 >"$TMP_ROOT/i.out" \
    2>"$TMP_ROOT/i.err" || record_failure "inproc: $(grep -v '"level"' "$TMP_ROOT/i.err")"
log "inproc: $(tr '\n' ' ' <"$TMP_ROOT/i.out")"
within 90 "$MC" verify -b "$BROKER" -t inproc -d "$DB1" -g v-inproc >"$TMP_ROOT/iv.out" \
    2>"$TMP_ROOT/iv.err" || record_failure "verify inproc: $(grep FAIL "$TMP_ROOT/iv.err")"
log "$(cat "$TMP_ROOT/iv.out")"
grep -q "duplicated_ids=0 " "$TMP_ROOT/iv.out" || record_failure "inproc: duplicates after a clean handover"

# --- kill: three instance processes, the lock holder killed with kill -9 -----------------------
DB="$TMP_ROOT/multi.db"
declare -A PIDS
for i in 1 2 3; do
    "$MC" instance -b "$BROKER" -t multi -d "$DB" -i $i -n 300 -w 30 >"$TMP_ROOT/m$i.out" \
        2>"$TMP_ROOT/m$i.err" &
    PIDS[$i]=$!
    track "${PIDS[$i]}"
done
holder=""
deadline=$((SECONDS + 60))
while :; do
    for i in 1 2 3; do
        grep -q '^HOLDER' "$TMP_ROOT/m$i.out" 2>/dev/null && holder=$i
    done
    read -r _ states _ sent _ _ _ _ < <("$MC" status -d "$DB" 2>/dev/null || echo "s 0 s 0 u 0 a 0")
    [ -n "$holder" ] && [ "${sent:-0}" -ge 150 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "no holder with 150 rows sent in 60 s (holder '$holder')"
    sleep 0.02
done
# SIGSTOP first: frozen, the holder keeps the lock, so no relay publishes or marks while the
# unsent rows are listed; those are exactly the rows that may come twice
kill -STOP "${PIDS[$holder]}"
within 20 "$MC" snapshot -d "$DB" >"$TMP_ROOT/snap.out" || fail "snapshot"
kill -KILL "${PIDS[$holder]}"
kill_ms=$(date +%s%3N)
wait "${PIDS[$holder]}" 2>/dev/null || true
read -r _ states _ sent _ unsent _ _ < <("$MC" status -d "$DB")
log "killed instance $holder (the lock holder) with $(wc -l <"$TMP_ROOT/snap.out") rows unsent;" \
    "now $states rows, $sent sent, $unsent unsent"
[ "$states" -lt 900 ] || record_failure "the instances finished before the kill"
next=""
deadline=$((SECONDS + 10))
while [ -z "$next" ]; do
    for i in 1 2 3; do
        [ "$i" = "$holder" ] && continue
        grep -q '^HOLDER' "$TMP_ROOT/m$i.out" 2>/dev/null && next=$i
    done
    [ "$SECONDS" -lt "$deadline" ] || fail "no instance took the outbox lock in 10 s"
    sleep 0.01
done
take_ms=$(awk '/^HOLDER/ {print $2}' "$TMP_ROOT/m$next.out")
takeover=$((take_ms - kill_ms))
log "instance $next took over ${takeover} ms after the kill -9"
[ "$takeover" -lt 2000 ] || record_failure "takeover took $takeover ms (bound: 200 ms retry)"
for i in 1 2 3; do
    [ "$i" = "$holder" ] && continue
    deadline=$((SECONDS + 90))
    until grep -q '^WRITTEN' "$TMP_ROOT/m$i.out"; do
        kill -0 "${PIDS[$i]}" 2>/dev/null || fail "instance $i died: $(grep FAIL "$TMP_ROOT/m$i.err")"
        [ "$SECONDS" -lt "$deadline" ] || fail "instance $i did not finish writing in 90 s"
        sleep 0.05
    done
done
# the new holder killed too, once every instance is idle: no commit wakes the last standby, so
# its takeover is the standby's 200 ms retry alone
kill -STOP "${PIDS[$next]}"
within 20 "$MC" snapshot -d "$DB" >>"$TMP_ROOT/snap.out" || fail "snapshot 2"
kill -KILL "${PIDS[$next]}"
kill_ms=$(date +%s%3N)
wait "${PIDS[$next]}" 2>/dev/null || true
last=""
for i in 1 2 3; do
    [ "$i" != "$holder" ] && [ "$i" != "$next" ] && last=$i
done
deadline=$((SECONDS + 10))
until grep -q '^HOLDER' "$TMP_ROOT/m$last.out"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "instance $last did not take the outbox lock in 10 s"
    sleep 0.01
done
takeover=$(($(awk '/^HOLDER/ {print $2}' "$TMP_ROOT/m$last.out") - kill_ms))
log "idle standby $last took over ${takeover} ms after the kill -9 of instance $next"
[ "$takeover" -lt 2000 ] || record_failure "idle takeover took $takeover ms (bound: 200 ms retry)"
touch "$DB.stop"
for i in $last; do
    wait "${PIDS[$i]}" || record_failure "instance $i: $(grep -v rdkafka "$TMP_ROOT/m$i.err" | tail -n 30)"
    log "instance $i: $(grep '^DONE' "$TMP_ROOT/m$i.out")"
done
within 120 "$MC" verify -b "$BROKER" -t multi -d "$DB" -g v-multi -s "$TMP_ROOT/snap.out" \
    >"$TMP_ROOT/v.out" \
    2>"$TMP_ROOT/v.err" || record_failure "verify: $(grep FAIL "$TMP_ROOT/v.err")"
log "$(cat "$TMP_ROOT/v.out")"

# --- consume: two processes, one database, one idempotent group --------------------------------
within 60 "$MC" feed -b "$BROKER" -t dups -n 100 || fail "feed"
ADB="$TMP_ROOT/apply.db"
"$MC" status -d "$ADB" >/dev/null
for k in 1 2; do
    within 90 "$MC" apply -b "$BROKER" -t dups -d "$ADB" -g readers -k kafka-$k -n 100 \
        >"$TMP_ROOT/a$k.out" 2>"$TMP_ROOT/a$k.err" &
    PIDS[a$k]=$!
    track "${PIDS[a$k]}"
done
for k in 1 2; do
    wait "${PIDS[a$k]}" || record_failure "apply $k: $(grep -v rdkafka "$TMP_ROOT/a$k.err" | tail -n 30)"
    log "$(cat "$TMP_ROOT/a$k.out")"
done

stop_broker
finish
