#!/usr/bin/env bash
# Every service binary's --help (tandem_service_help_asked): exit 0, the usage with the options
# the service declares (its own and libtandem's --jwt-*), nothing on stderr, and nothing created
# or opened: run in an empty directory with a broker address nobody listens on, the directory
# stays empty (no database, no var/), and it returns at once (no connection attempt waited for).
set -euo pipefail
BIN=$(cd "${TANDEM_TEST_BIN:?}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for svc in users articles comments activity web console; do
    exe=$BIN/tandem-$svc
    [ -x "$exe" ] || { echo "FAIL $svc: $exe is not built"; fail=1; continue; }
    dir=$work/$svc
    mkdir "$dir"
    rc=0
    (cd "$dir" && TANDEM_BROKERS=127.0.0.1:1 timeout 10 "$exe" --help >"$work/$svc.out" 2>"$work/$svc.err") || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAIL $svc: --help exited $rc"; cat "$work/$svc.err"; fail=1; continue
    fi
    if [ -s "$work/$svc.err" ]; then
        echo "FAIL $svc: --help wrote to stderr:"; cat "$work/$svc.err"; fail=1
    fi
    grep -q "^usage: $svc " "$work/$svc.out" || { echo "FAIL $svc: no usage line"; fail=1; }
    grep -q -- "--listen " "$work/$svc.out" || { echo "FAIL $svc: --listen not listed"; fail=1; }
    if [ -n "$(ls -A "$dir")" ]; then
        echo "FAIL $svc: --help created $(ls -A "$dir" | tr '\n' ' ')"; fail=1
    fi
done
# the services that verify tokens list the token options
for svc in users articles comments activity; do
    grep -q -- "--jwt-public-key" "$work/$svc.out" ||
        { echo "FAIL $svc: --jwt-public-key not listed"; fail=1; }
done
for svc in users articles comments activity; do
    grep -q -- "--db-file" "$work/$svc.out" || { echo "FAIL $svc: --db-file not listed"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "ok: six services' --help"
exit "$fail"
