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
#
# Then the same through HTTP: lib-store-pg-service (a tandem service, TANDEM_DATABASE_URL, a pool
# of connections, two workers) is sent POST /writes/1..M one after the other while its backends
# are terminated and killed with kill -9: every request is answered 201 (the write is there,
# once), 503 (it is not) or 504 (outcome unknown: whole or absent); none half applied. Then the
# same through the service's group-commit writer (POST /batched: tandem_db_write_sql, several
# requests' jobs in one transaction), from 4 clients at once: a batch cut by a lost connection
# is run again on a new one, and the same answers and checks hold.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

SC="$TANDEM_TEST_BIN/lib-store-check"
N=${KILL_N:-300}

start_pg
DB=$(pg_new_db kill)
# a statement prepared on the server, its backend terminated under it (lib-store-check prepared)
"$SC" prepared -d "$DB" >"$TMP_ROOT/p.out" 2>"$TMP_ROOT/p.err" ||
    record_failure "prepared: $(grep FAIL "$TMP_ROOT/p.err" | head -5)"
grep -q "PREPARED OK" "$TMP_ROOT/p.out" || record_failure "prepared did not finish"
# two writes that cross: the deadlock's victim is run again (lib-store-check deadlock)
"$SC" deadlock -d "$(pg_new_db deadlock)" >"$TMP_ROOT/d.out" 2>"$TMP_ROOT/d.err" ||
    record_failure "deadlock: $(grep FAIL "$TMP_ROOT/d.err" | head -5)"
grep -q "DEADLOCK OK" "$TMP_ROOT/d.out" || record_failure "deadlock did not finish"
grep -q "a write lost a deadlock; running it again" "$TMP_ROOT/d.err" ||
    record_failure "no write lost the deadlock (the two did not cross)"
grep -q "db writer: a job lost a deadlock; its batch runs again" "$TMP_ROOT/d.err" ||
    record_failure "no writer's job lost the deadlock (the two writers' jobs did not cross)"

PGAPPNAME=kwrite "$SC" kwrite -d "$DB" -n $N -w 20 >"$TMP_ROOT/k.out" 2>"$TMP_ROOT/k.err" &
pid=$!
track $pid

backend() { pg_backend_pids "$PG_URL" kwrite | head -n 1; }

terminated=0
killed=0
commit_cut=0
i=0
while kill -0 $pid 2>/dev/null && ! grep -q 'WRITES DONE' "$TMP_ROOT/k.out"; do
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

# ---- through a service's HTTP requests ---------------------------------------------------------
M=${KILL_M:-200}
SDB=$(pg_new_db killsvc)
TANDEM_DATABASE_URL=$SDB PGAPPNAME=pgkill TANDEM_LISTEN=127.0.0.1:0 TANDEM_WORKERS=2 \
    TANDEM_DATA_DIR="$TMP_ROOT/svc" "$TANDEM_TEST_BIN/lib-store-pg-service" 2>"$TMP_ROOT/svc.log" &
spid=$!
track $spid
port=""
for _ in $(seq 100); do
    port=$(grep '"msg":"ready"' "$TMP_ROOT/svc.log" | sed 's/.*"port":\([0-9]*\).*/\1/' |
        head -1 || true)
    [ -n "$port" ] && break
    kill -0 $spid 2>/dev/null || fail "the service exited: $(tail -5 "$TMP_ROOT/svc.log")"
    sleep 0.1
done
[ -n "$port" ] || fail "the service was not ready within 10 s"
killer_loop() {
    for j in $(seq 30); do
        sleep 0.$((RANDOM % 3 + 3))
        b=$(pg_backend_pids "$PG_URL" pgkill 2>/dev/null | shuf -n 1 || true)
        [ -n "$b" ] || continue
        if [ $((j % 4)) -eq 0 ]; then
            kill -KILL "$b" 2>/dev/null && echo kill9
            sleep 1
        else
            pg_sql "$PG_URL" "SELECT pg_terminate_backend($b)" >/dev/null 2>&1 && echo terminated
        fi
    done
}
killer_loop >"$TMP_ROOT/killer.out" 2>/dev/null &
killer=$!
track $killer
: >"$TMP_ROOT/codes"
for n in $(seq "$M"); do
    code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X POST \
        "http://127.0.0.1:$port/writes/$n" 2>/dev/null || true)
    echo "$n $code" >>"$TMP_ROOT/codes"
done
kill "$killer" 2>/dev/null || true
wait "$killer" 2>/dev/null || true

# ---- through the group-commit writer (tandem_db_write_sql) -------------------------------------
# POST /batched/M+1..M+B from 4 clients at once (their jobs share batches), the backends killed
# again: a batch cut before COMMIT answered runs again on a new connection, so a job is answered
# 201 (there, once), 503 (not there) or 504 (COMMIT unanswered, whole or absent); none half
# applied.
B=${KILL_B:-200}
killer_loop >"$TMP_ROOT/killer2.out" 2>/dev/null &
killer=$!
track $killer
seq $((M + 1)) $((M + B)) | xargs -P 4 -I{} sh -c \
    'echo "{} $(curl -sS --max-time 30 -o /dev/null -w "%{http_code}" -X POST \
        "http://127.0.0.1:'"$port"'/batched/{}" 2>/dev/null || true)"' >>"$TMP_ROOT/codes"
kill "$killer" 2>/dev/null || true
wait "$killer" 2>/dev/null || true
log "batched: $(awk -v m="$M" '$1 > m { print $2 }' "$TMP_ROOT/codes" | sort | uniq -c |
    tr '\n' ' ')after $(grep -c . "$TMP_ROOT/killer2.out") kills of its backends"
grep -q "connection lost during a write; running it again" "$TMP_ROOT/svc.log" ||
    record_failure "no batch of the writer was run again after a lost connection"
kill -TERM $spid
wait $spid || record_failure "the service exited with status $? after SIGTERM"
log "HTTP: $(awk -v m="$M" '$1 <= m { print $2 }' "$TMP_ROOT/codes" | sort | uniq -c |
    tr '\n' ' ')after" \
    "$(grep -c terminated "$TMP_ROOT/killer.out") terminations and" \
    "$(grep -c kill9 "$TMP_ROOT/killer.out") kill -9 of its backends"
# per write: a, b, outbox rows, as one number abo (111 whole, 000 absent)
pg_sql "$SDB" "SELECT s.n, (SELECT count(*) FROM kv WHERE seq = s.n AND part = 'a') * 100 +
    (SELECT count(*) FROM kv WHERE seq = s.n AND part = 'b') * 10 +
    (SELECT count(*) FROM tandem_outbox WHERE subject = s.n::text)
    FROM generate_series(1, $((M + B))) AS s(n) ORDER BY s.n" | tr '|' ' ' >"$TMP_ROOT/state"
bad=$(awk 'NR == FNR { code[$1] = $2; next }
    { c = code[$1] }
    $2 != 0 && $2 != 111 { print "write " $1 ": half applied or twice: " $2; next }
    c == 201 && $2 != 111 { print "write " $1 ": 201 but not there"; next }
    c == 503 && $2 != 0 { print "write " $1 ": 503 but there"; next }
    c != 201 && c != 503 && c != 504 { print "write " $1 ": answered " c }' \
    "$TMP_ROOT/codes" "$TMP_ROOT/state")
[ -z "$bad" ] || record_failure "$(echo "$bad" | head -10)"
there=$(awk '$2 == 111' "$TMP_ROOT/state" | wc -l)
count=$(pg_sql "$SDB" "SELECT n FROM kcount")
[ "$count" = "$there" ] || record_failure "count $count for $there writes there"
[ "$(grep -c . "$TMP_ROOT/killer.out")" -ge 3 ] || record_failure "fewer than 3 backends killed"
grep -q kill9 "$TMP_ROOT/killer.out" || record_failure "no backend of the service was killed with kill -9"
grep -q ' 201$' "$TMP_ROOT/codes" || record_failure "no request succeeded"
awk -v m="$M" '$1 > m && $2 == 201' "$TMP_ROOT/codes" | grep -q . ||
    record_failure "no batched write succeeded"
finish
