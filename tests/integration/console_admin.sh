#!/usr/bin/env bash
# The console's admin client when the broker goes away and comes back (console_admin_check.c):
# a reset made while the broker is down times out (502), the admin handle is replaced, and the
# console's process survives the broker's return (librdkafka 2.0.2 aborted it there: admin.c).
set -euo pipefail
: "${TANDEM_TEST_BIN:?TANDEM_TEST_BIN must name the test programs directory}"
: "${TANDEM_BROKER:?TANDEM_BROKER must name tandem-broker}"
d=$(mktemp -d "${TMPDIR:-/tmp}/tandem-it-console_admin.XXXXXX")
trap 'rm -rf "$d"' EXIT
rc=0
"$TANDEM_TEST_BIN/console-admin-check" "$d/data" 2>"$d/check.log" || rc=$?
if [ "$rc" != 0 ]; then
    tail -n 60 "$d/check.log" >&2
    echo "FAIL: console-admin-check exited with $rc" >&2
    exit 1
fi
grep -q '"msg":"console: admin client replaced after a coordinator timeout"' "$d/check.log" || {
    tail -n 60 "$d/check.log" >&2
    echo "FAIL: no 'admin client replaced' log line" >&2
    exit 1
}
grep 'reset with the broker down' "$d/check.log" >&2
