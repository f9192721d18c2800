#!/usr/bin/env bash
# libtandem as an outside program sees it: `cmake --install` into a temp prefix, then
# examples/hello/main.c compiled with nothing but `pkg-config --cflags --libs tandem` against the
# installed headers and libtandem.so, run on a kernel-chosen 127.0.0.1 port: GET /hello answers,
# SIGTERM exits 0. Also checks that libtandem.so exports only tandem_* symbols.
set -euo pipefail
: "${TANDEM_BUILD_DIR:?}" "${TANDEM_SRC_DIR:?}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tandem-lib-install.XXXXXX")
PID=""
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
    echo "lib_install FAIL: $*" >&2
    [ -f "$TMP/hello.log" ] && tail -n 20 "$TMP/hello.log" >&2
    exit 1
}

cmake --install "$TANDEM_BUILD_DIR" --prefix "$TMP/prefix" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; fail "cmake --install"; }
libdir=$(dirname "$(find "$TMP/prefix" -name tandem.pc | head -1)")/..
[ -f "$libdir/pkgconfig/tandem.pc" ] || fail "no tandem.pc installed"
[ -f "$TMP/prefix/include/tandem/service.h" ] || fail "no headers installed"
so=$(find "$TMP/prefix" -name 'libtandem.so.*' | head -1)
[ -n "$so" ] || fail "no libtandem.so installed"
leaked=$(nm -D --defined-only "$so" | awk '$2 == "T" && $3 !~ /^tandem_/ {print $3}')
[ -z "$leaked" ] || fail "libtandem.so exports non-tandem functions: $leaked"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046,SC2086
${CC:-cc} ${TANDEM_SAN_CFLAGS:-} -o "$TMP/hello" "$TANDEM_SRC_DIR/examples/hello/main.c" \
    $(pkg-config --cflags --libs tandem) || fail "cannot build the example against tandem.pc"

TANDEM_LISTEN=127.0.0.1:0 TANDEM_DATA_DIR="$TMP/data" LD_LIBRARY_PATH="$libdir" \
    "$TMP/hello" 2>"$TMP/hello.log" &
PID=$!
port=""
for _ in $(seq 100); do
    port=$(grep '"msg":"ready"' "$TMP/hello.log" | sed 's/.*"port":\([0-9]*\).*/\1/' || true)
    [ -n "$port" ] && break
    kill -0 "$PID" 2>/dev/null || fail "the example exited"
    sleep 0.1
done
[ -n "$port" ] || fail "not ready"
body=$(curl -sS --max-time 5 "http://127.0.0.1:$port/hello")
[ "$body" = '{"message":"Hello, World!"}' ] || fail "GET /hello: $body"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
[ "$rc" = 0 ] || fail "exit status $rc"
echo "lib_install: PASS (linked with: $(pkg-config --libs tandem))" >&2
