#!/usr/bin/env bash
# A service's files (issue "The blog", the gateway and the system): the instances of a service
# share its data directory, each has a directory of its own, and data an older tandem left is
# kept where it was.
#   - every instance of echo (two) gets TANDEM_DATA_DIR=var/services/echo, its TANDEM_INSTANCE
#     and TANDEM_INSTANCE_DIR=var/services/echo/I (read from /proc/PID/environ), both 0700;
#   - one SQLite database in WAL mode in that shared directory: a row written through instance 0
#     is read through instance 1 and the other way round, and the rows outlive a down/up;
#   - a project from an older tandem (instance 0's files in var/services/echo/0, its data
#     directory then): `up` says so once, on its stderr, naming the directory, and leaves the
#     files as they were; the next `up` says nothing (var/tandem/layout).
source "$(dirname "$0")/cli_lib.sh"

pick_ports
E=$((HELLO_P + 4))
cat >"$PROJ/tandem.yaml" <<YAML
gateway: { listen: 127.0.0.1:$GATEWAY_P }
services:
  echo:
    binary: $TANDEM_IT_DIR/cli_echo_service.py
    instances: 2
    port: $E
    routes: [ { path: /data } ]
YAML

# An older tandem's project: instance 0's database in what was its TANDEM_DATA_DIR.
mkdir -p "$PROJ/var/services/echo/0"
printf 'old instance 0 data\n' >"$PROJ/var/services/echo/0/echo.db"
up
grep -q 'echo: var/services/echo/0 holds files from an older tandem' "$TMP_ROOT/up.err" ||
    record_failure "no note about var/services/echo/0 on up's stderr: $(cat "$TMP_ROOT/up.err")"
[ "$(cat "$PROJ/var/services/echo/0/echo.db")" = "old instance 0 data" ] ||
    record_failure "the older run's file was changed"
[ -f "$PROJ/var/tandem/layout" ] || record_failure "no var/tandem/layout after up"

# environ PID NAME: the value of NAME in the process's environment ("<unset>" when absent).
environ() {
    tr '\0' '\n' <"/proc/$1/environ" | python3 -c '
import sys
name = sys.argv[1] + "="
print(next((l[len(name):].rstrip("\n") for l in sys.stdin if l.startswith(name)), "<unset>"))' "$2"
}

for i in 0 1; do
    pid=$(psj pid "echo.$i")
    [ "$(environ "$pid" TANDEM_DATA_DIR)" = "var/services/echo" ] ||
        record_failure "echo.$i: TANDEM_DATA_DIR=$(environ "$pid" TANDEM_DATA_DIR)"
    [ "$(environ "$pid" TANDEM_INSTANCE)" = "$i" ] ||
        record_failure "echo.$i: TANDEM_INSTANCE=$(environ "$pid" TANDEM_INSTANCE)"
    [ "$(environ "$pid" TANDEM_INSTANCE_DIR)" = "var/services/echo/$i" ] ||
        record_failure "echo.$i: TANDEM_INSTANCE_DIR=$(environ "$pid" TANDEM_INSTANCE_DIR)"
    [ "$(stat -c %a "$PROJ/var/services/echo/$i")" = 700 ] ||
        record_failure "var/services/echo/$i is mode $(stat -c %a "$PROJ/var/services/echo/$i")"
done
[ "$(stat -c %a "$PROJ/var/services/echo")" = 700 ] || record_failure "var/services/echo mode"

# One database, two processes: each instance reads what the other wrote.
post() {
    local code
    code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$1/data/$2")
    [ "$code" = 201 ] || fail "POST /data/$2 to port $1: $code"
}
post "$E" from-0
post $((E + 1)) from-1
post "$E" again-0
want='[["0", "from-0"], ["1", "from-1"], ["0", "again-0"]]'
for port in "$E" $((E + 1)); do
    got=$("${CURL[@]}" "http://127.0.0.1:$port/data")
    [ "$got" = "$want" ] || record_failure "GET /data from port $port: $got (want $want)"
done
[ -f "$PROJ/var/services/echo/shared.db" ] || record_failure "no shared.db in var/services/echo"
[ "$(sqlite3 "$PROJ/var/services/echo/shared.db" 'PRAGMA journal_mode')" = wal ] ||
    record_failure "shared.db is not in WAL mode"
for i in 0 1; do
    [ ! -e "$PROJ/var/services/echo/$i/shared.db" ] ||
        record_failure "a database of its own in var/services/echo/$i"
done
log "one SQLite file, written and read by echo.0 and echo.1"

down_and_check
up
! grep -q 'older tandem' "$TMP_ROOT/up.err" || record_failure "the note again at the second up"
got=$("${CURL[@]}" "$GW/data")
[ "$got" = "$want" ] || record_failure "GET /data after down/up, through the gateway: $got"
[ "$(cat "$PROJ/var/services/echo/0/echo.db")" = "old instance 0 data" ] ||
    record_failure "the older run's file changed at the second up"
down_and_check
finish
