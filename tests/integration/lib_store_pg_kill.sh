#!/usr/bin/env bash
# A lost PostgreSQL connection under tandem_sql_write (include/tandem/sql.h): lib-store-check
# kwrite makes N writes (each a counter increment, two rows with a pause between them inside the
# database, and an outbox row, in one transaction) while this script kills the backend serving
# its connection, over and over, mid-write: with pg_terminate_backend, with kill -9 of the backend
# process (PostgreSQL then restarts every backend and recovers), and once while the backend
# waits inside COMMIT (synchronous replication to a standby that does not exist: the commit is
# written locally, then the backend is terminated before it answers, so the write's outcome is
# unknown to the client). Then kwrite checks on a new connection: every write it was told
# succeeded is there, every one it was told failed is not, each is whole or absent, and none was
# applied twice (the counter equals the writes present).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

SC="$TANDEM_TEST_BIN/lib-store-check"
N=${KILL_N:-300}

start_pg
DB=$(pg_new_db kill)
PGAPPNAME=kwrite "$SC" kwrite -d "$DB" -n $N -w 20 >"$TMP_ROOT/k.out" 2>"$TMP_ROOT/k.err" &
pid=$!
track $pid

backend() { pg_backend_pids "$PG_URL" kwrite | head -n 1; }

terminated=0
killed=0
commit_cut=0
i=0
while kill -0 $pid 2>/dev/null; do
    sleep 0.$((RANDOM % 3 + 2))
    b=$(backend || true)
    [ -n "$b" ] || continue
    i=$((i + 1))
    if [ $i -eq 4 ]; then
        # the commit-time cut: commits wait for a standby that never comes; the next COMMIT of
        # kwrite waits (already written locally), and its backend is terminated there
        pg_sql "$PG_URL" "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" >/dev/null
        pg_sql "$PG_URL" "SELECT pg_reload_conf()" >/dev/null
        deadline=$((SECONDS + 20))
        while [ -z "$(pg_sql "$PG_URL" "SELECT pid FROM pg_stat_activity WHERE application_name = 'kwrite' AND wait_event = 'SyncRep'")" ]; do
            [ "$SECONDS" -lt "$deadline" ] || fail "kwrite never waited in COMMIT"
            sleep 0.05
        done
        b=$(backend)
        pg_sql "$PG_URL" "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
        pg_sql "$PG_URL" "SELECT pg_terminate_backend($b)" >/dev/null
        pg_sql "$PG_URL" "SELECT pg_reload_conf()" >/dev/null
        commit_cut=$((commit_cut + 1))
        log "terminated backend $b while it waited in COMMIT"
    elif [ $((i % 5)) -eq 0 ]; then
        kill -KILL "$b" 2>/dev/null && killed=$((killed + 1))
        log "kill -9 of backend $b"
        sleep 1 # PostgreSQL restarts its backends
    else
        pg_sql "$PG_URL" "SELECT pg_terminate_backend($b)" >/dev/null 2>&1 &&
            terminated=$((terminated + 1))
    fi
    [ $((killed + terminated)) -lt 40 ] || break
done
rc=0
wait $pid || rc=$?
log "backends terminated: $terminated, killed with kill -9: $killed, cut in COMMIT: $commit_cut"
log "$(cat "$TMP_ROOT/k.out")"
[ $rc -eq 0 ] || record_failure "kwrite (rc $rc): $(grep FAIL "$TMP_ROOT/k.err" | head -20)"
[ $killed -ge 1 ] || record_failure "no backend was killed with kill -9 during the writes"
[ $commit_cut -eq 1 ] || record_failure "the COMMIT-time cut did not happen"
grep -q "a write whose COMMIT went unanswered had committed" "$TMP_ROOT/k.err" ||
    record_failure "the write cut in COMMIT was not recognised as committed by its token"
retried=$(sed -n 's/.*retried=\([0-9]*\).*/\1/p' "$TMP_ROOT/k.out")
[ "${retried:-0}" -ge 3 ] || record_failure "only ${retried:-0} writes were run again"
finish
