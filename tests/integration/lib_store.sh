#!/usr/bin/env bash
# libtandem store (include/tandem/store.h, src/lib/store/) against a real tandem-broker, through
# lib-store-check (lib_store_check.c):
#   outbox  a writer commits 400 state changes, each with its outbox event, while its relay
#           publishes them; mid-way the broker stops, the writer goes on committing (those rows
#           cannot be sent), and it is killed with kill -9: unsent rows exist, checked in the
#           database. The broker restarts; a restarted writer's relay publishes the rest and
#           finishes the writes. Then a consumer reads the topic: every state change has its
#           event id on the topic, none is missing, no event lacks its state change; the ids of
#           the rows committed with the broker down are there exactly once; other duplicates
#           (published, not yet marked sent at the stop) are allowed and reported; per key the
#           first occurrences are in order.
#   dedup   100 events with ids, then 50 of them again (same ids): a consumer applying them
#           through tandem_idempotent (with a RETRY on the first attempt of some) writes one row
#           per id; and the same consumer killed with kill -9 mid-stream and restarted: the
#           records redelivered (handled but not committed) are skipped, still one row per id.
#
# STORE_BACKEND=postgres (lib_store_pg.sh) runs the same on PostgreSQL: a server from pg_lib.sh,
# one database per part instead of one file.
. "$(dirname "$0")/lib.sh"

SC="$TANDEM_TEST_BIN/lib-store-check"
GCHECK="$TANDEM_TEST_BIN/group-check"
N=400
if [ "${STORE_BACKEND:-sqlite}" = postgres ]; then
    . "$(dirname "$0")/pg_lib.sh"
    start_pg
    DB=$(pg_new_db outbox)
    DEDUP_DB=$(pg_new_db dedup)
    ADB=$(pg_new_db apply)
else
    DB="$TMP_ROOT/outbox.db"
    DEDUP_DB="$TMP_ROOT/dedup.db"
    ADB="$TMP_ROOT/apply.db"
fi

start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 20 "$GCHECK" create -b "$BROKER" -t outbox -p 3 || fail "create topic outbox"
within 20 "$GCHECK" create -b "$BROKER" -t dups -p 2 || fail "create topic dups"

# --- outbox: kill -9 with rows unsent -------------------------------------------------------
# The writer runs until its relay has had 40 rows acknowledged, then the broker stops (cleanly)
# under it. PAST = the state rows committed by then: every row after PAST is committed while no
# broker runs, so at the kill -9 such rows exist and none of them can have reached the topic.
"$SC" write -b "$BROKER" -t outbox -d "$DB" -n $N -w 20 >"$TMP_ROOT/w1.out" 2>"$TMP_ROOT/w1.err" &
pid=$!
track $pid
deadline=$((SECONDS + 40))
while :; do
    read -r _ states _ sent _ _ < <("$SC" status -d "$DB" 2>/dev/null || echo "states 0 sent 0")
    [ "${sent:-0}" -ge 40 ] && break
    kill -0 $pid 2>/dev/null || fail "the writer ended before the kill: $(cat "$TMP_ROOT/w1.err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "fewer than 40 rows sent in 40 s"
    sleep 0.05
done
port=$BROKER_PORT
stop_broker
read -r _ past _ _ _ _ < <("$SC" status -d "$DB")
log "broker stopped under the writer at $past state changes"
deadline=$((SECONDS + 40))
while :; do
    read -r _ states _ _ _ _ < <("$SC" status -d "$DB")
    [ "$states" -ge $((past + 20)) ] && break
    kill -0 $pid 2>/dev/null || fail "the writer ended before the kill: $(cat "$TMP_ROOT/w1.err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "fewer than 20 rows written in 40 s with the broker down"
    sleep 0.05
done
kill -KILL $pid
wait $pid 2>/dev/null || true
read -r _ states _ sent _ _ < <("$SC" status -d "$DB")
read -r _ unsent _ npast _ unsent_past < <("$SC" unsent -d "$DB" -a "$past") ||
    fail "unsent rows query"
log "killed the writer at $states state changes: $sent outbox rows marked sent, $unsent unsent," \
    "$unsent_past of the $npast written with the broker down"
[ "$states" -lt $N ] || fail "the writer finished before the kill"
[ "$npast" -ge 20 ] || fail "only $npast state changes written with the broker down"
[ "$unsent_past" -eq "$npast" ] ||
    fail "$((npast - unsent_past)) rows written with no broker running are marked sent"

start_broker --data-dir "$BROKER_DIR" --listen "127.0.0.1:$port" --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 90 "$SC" write -b "$BROKER" -t outbox -d "$DB" -n $N >"$TMP_ROOT/w2.out" \
    2>"$TMP_ROOT/w2.err" || record_failure "restarted writer: $(cat "$TMP_ROOT/w2.err")"
log "restart: $(tr '\n' ' ' <"$TMP_ROOT/w2.out")"

# Every id on the topic; those of the rows past PAST (only the restarted relay can have published
# them) exactly once.
within 90 "$SC" verify -b "$BROKER" -t outbox -d "$DB" -g verify-group -n $N -a "$past" \
    >"$TMP_ROOT/v.out" 2>"$TMP_ROOT/v.err" || record_failure "verify: $(cat "$TMP_ROOT/v.err")"
log "$(cat "$TMP_ROOT/v.out")"

# --- idempotent consumer over duplicated ids ----------------------------------------------------
within 90 "$SC" dedup -b "$BROKER" -t dups -d "$DEDUP_DB" -g dedup-group -n 100 \
    >"$TMP_ROOT/d.out" 2>"$TMP_ROOT/d.err" || record_failure "dedup: $(cat "$TMP_ROOT/d.err")"
log "$(cat "$TMP_ROOT/d.out")"

# --- idempotent consumer killed with kill -9: the redelivered records change nothing -----------
"$SC" apply -b "$BROKER" -t dups -d "$ADB" -g crash-group -n 100 -w 20 >"$TMP_ROOT/a1.out" \
    2>"$TMP_ROOT/a1.err" &
pid=$!
track $pid
deadline=$((SECONDS + 40))
while :; do
    read -r _ _ _ _ _ applied < <("$SC" status -d "$ADB" 2>/dev/null || echo "s 0 s 0 a 0")
    [ "${applied:-0}" -ge 30 ] && break
    kill -0 $pid 2>/dev/null || fail "the consumer ended before the kill: $(cat "$TMP_ROOT/a1.err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "fewer than 30 rows applied in 40 s"
    sleep 0.05
done
kill -KILL $pid
wait $pid 2>/dev/null || true
log "killed the idempotent consumer at $("$SC" status -d "$ADB" | cut -d' ' -f6) rows applied"
within 90 "$SC" apply -b "$BROKER" -t dups -d "$ADB" -g crash-group -n 100 >"$TMP_ROOT/a2.out" \
    2>"$TMP_ROOT/a2.err" || record_failure "apply after kill -9: $(cat "$TMP_ROOT/a2.err")"
log "restart: $(cat "$TMP_ROOT/a2.out")"

stop_broker
finish
