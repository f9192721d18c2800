#!/usr/bin/env bash
# The blog's benchmark (make bench-blog): the system of tandem.yaml, release build, measured
# through the gateway by bench/blog/run.mjs on SQLite and on PostgreSQL, with the CPU each request
# costs (what and how: the comment at its top; results in
# docs/benchmarks.md#the-blog-through-the-gateway).
#
#   bench/blog/run.sh        BUILD=build; BACKENDS="sqlite postgres" (the default when Debian's
#                            postgresql-15 is installed, else sqlite); ROUNDS=3 SECS=10 CONNS=32
#                            ARTICLES=1000 READ_RATE=5000 LAG_N=200 PG_SET (passed on); WAIT_QUIET=900
#
# Waits (up to WAIT_QUIET seconds) for the 1-minute load average to drop below 0.5, like the
# other benchmarks, then runs the whole benchmark once per backend and prints Markdown tables: each
# backend's medians, then the backends side by side with the CPU per request and PostgreSQL's
# ratio to SQLite (issue 13's target: at most 1.5x on the read path), then where the CPU goes; and
# writes bench/results/blog-<UTC time>.{csv,md}.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WAIT_QUIET=${WAIT_QUIET:-900}
BUILD=${BUILD:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
    { echo "bench/blog: nginx missing (scripts/deps.sh)" >&2; exit 1; }
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
if [[ " ${BACKENDS:-} " == *" postgres "* ]] && [ ! -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" ]; then
    echo "bench/blog: BACKENDS names postgres but postgresql-15 is missing (scripts/deps.sh)" >&2
    exit 1
fi
for b in tandem tandem-load tandem-broker tandem-users tandem-articles tandem-comments tandem-activity; do
    [ -x "$BUILD/bin/$b" ] || { echo "bench/blog: $BUILD/bin/$b was not built" >&2; exit 1; }
done

# shellcheck source-path=SCRIPTDIR source=../quiet.sh
source "$ROOT/bench/quiet.sh"
wait_quiet bench/blog
exec node "$ROOT/bench/blog/run.mjs" "$BUILD"
