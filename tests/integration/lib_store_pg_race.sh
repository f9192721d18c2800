#!/usr/bin/env bash
# Two relays racing on one PostgreSQL outbox (include/tandem/store.h, src/lib/store/relay_pg.c):
# two lib-store-check processes (race -k 0 -m 2 and -k 1 -m 2) write the state rows 1..N between
# them (odd and even), each commit with its outbox event, each process with its own relay and its
# own producer, at once on one database, beside a third relay (a process writing nothing). One
# relay holds the outbox's advisory lock and publishes while the others stand by: the third holds
# it first, and stops while the writers still write, so another takes over; the faster writer
# stops next, and if its relay held the lock the last one takes over. Then: every state row's
# event is on the topic exactly once (no event published twice by two relays, none missing), none
# is left unsent, and per key the events come in order.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

SC="$TANDEM_TEST_BIN/lib-store-check"
GCHECK="$TANDEM_TEST_BIN/group-check"
N=${RACE_N:-600}

start_pg
DB=$(pg_new_db race)
start_broker --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 20 "$GCHECK" create -b "$BROKER" -t race -p 3 || fail "create topic race"

# relay 2 (a process that writes nothing) starts first, so it holds the lock when the writers
# start, and stops after 2 s while they still write (writer 1 needs at least 3 s): another relay
# must take over.
PGAPPNAME=race-2 "$SC" race -b "$BROKER" -t race -d "$DB" -n 0 -k 0 -m 1 -H 2000 \
    >"$TMP_ROOT/r2.out" 2>"$TMP_ROOT/r2.err" &
p2=$!
track $p2
deadline=$((SECONDS + 30))
until grep -q 'outbox: this relay holds the outbox lock' "$TMP_ROOT/r2.err"; do
    kill -0 $p2 2>/dev/null || fail "relay 2 ended before holding the lock: $(cat "$TMP_ROOT/r2.err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "relay 2 did not take the lock in 30 s"
    sleep 0.05
done
PGAPPNAME=race-0 "$SC" race -b "$BROKER" -t race -d "$DB" -n $N -k 0 -m 2 -w 2 \
    >"$TMP_ROOT/r0.out" 2>"$TMP_ROOT/r0.err" &
p0=$!
track $p0
PGAPPNAME=race-1 "$SC" race -b "$BROKER" -t race -d "$DB" -n $N -k 1 -m 2 -w 10 \
    >"$TMP_ROOT/r1.out" 2>"$TMP_ROOT/r1.err" &
p1=$!
track $p1
rc2=0
wait $p2 || rc2=$?
[ $rc2 -eq 0 ] || record_failure "relay 2 (rc $rc2): $(cat "$TMP_ROOT/r2.err")"
rc0=0
rc1=0
wait $p0 || rc0=$?
wait $p1 || rc1=$?
[ $rc0 -eq 0 ] || record_failure "writer 0 (rc $rc0): $(cat "$TMP_ROOT/r0.err")"
[ $rc1 -eq 0 ] || record_failure "writer 1 (rc $rc1): $(cat "$TMP_ROOT/r1.err")"
log "writer 0: $(tr '\n' ' ' <"$TMP_ROOT/r0.out")"
log "writer 1: $(tr '\n' ' ' <"$TMP_ROOT/r1.out")"
log "relay 2: $(tr '\n' ' ' <"$TMP_ROOT/r2.out")"
p2pub=$(sed -n 's/.*published=\([0-9]*\).*/\1/p' "$TMP_ROOT/r2.out")
[ "${p2pub:-0}" -gt 0 ] || record_failure "relay 2 published nothing while it held the lock"
holders=$(grep -l 'outbox: this relay holds the outbox lock' "$TMP_ROOT"/r[012].err | wc -l)
log "relays that held the outbox lock at some time: $holders of 3"
unsent=$(pg_sql "$DB" "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL")
[ "$unsent" = 0 ] || record_failure "$unsent outbox rows left unsent"

# every id exactly once (-a 0: the rows past seq 0, i.e. all)
within 90 "$SC" verify -b "$BROKER" -t race -d "$DB" -g verify-group -n $N -a 0 \
    >"$TMP_ROOT/v.out" 2>"$TMP_ROOT/v.err" || record_failure "verify: $(cat "$TMP_ROOT/v.err")"
log "$(cat "$TMP_ROOT/v.out")"
# relay 2 held the lock first and stopped while rows were still being written: another took over
[ "$holders" -ge 2 ] || record_failure "$holders relay(s) held the lock: no handover happened"

stop_broker
finish
