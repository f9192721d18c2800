#!/usr/bin/env bash
# HTTP server benchmark: libtandem's HTTP core (bench/http/hello.c, one worker thread; on its
# epoll backend as "tandem" and on its io_uring backend as "tandem-uring") against nginx returning
# the same 27-byte JSON body, in one run, interleaved.
#
#   bench/http/run.sh                 3 rounds x 10 s per server (RUNS=, DURATION=, CONNS=)
#   SERVERS="service service-info" bench/http/run.sh     only those servers, in that order
#   BASE_BUILD=DIR bench/http/run.sh  also each service* server with DIR/bin/example-hello (a
#                                     build of another commit), as "<server>@base", interleaved
#
# Servers: nginx, tandem, tandem-uring, service (example-hello with access logs off, as nginx's),
# service-info (the same at the default log level, info: one access-log line per request,
# appended to a file as under `tandem up`). Not in the default list: service-info.
#
# Each measurement: the server pinned to core 0 (taskset -c 0), wrk pinned to core 1
# (taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s, keep-alive), GET /hello. Server CPU is utime +
# stime from /proc/PID/stat of every server process (nginx: master + worker) before and after
# wrk, divided by the requests wrk completed (user_ticks: the utime part alone). Prints a table of medians with ratios to nginx and
# writes the raw rows to bench/results/http-<UTC time>.csv and the table to .md.
# Waits (up to WAIT_QUIET seconds, default 900) for the 1-minute load average to drop below 0.5.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
WAIT_QUIET=${WAIT_QUIET:-900}
BUILD=${BUILD:-$ROOT/build-bench-http}
SERVERS=${SERVERS:-nginx tandem tandem-uring service}
BASE_BUILD=${BASE_BUILD:-}

for tool in wrk nginx taskset; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        { echo "bench/http: $tool missing (scripts/deps.sh bench)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# An optimized build without sanitizers, in its own directory.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target hello_http example-hello tandem-broker >/dev/null
HELLO=$BUILD/bin/hello_http
SERVICE=$BUILD/bin/example-hello # the binary start_service* runs (measure sets it per server)
SERVICE_NEW=$SERVICE
if [ -n "$BASE_BUILD" ]; then
    [ -x "$BASE_BUILD/bin/example-hello" ] || { echo "bench/http: no $BASE_BUILD/bin/example-hello" >&2; exit 1; }
    for s in $SERVERS; do
        case $s in service*) SERVERS="$SERVERS $s@base" ;; esac
    done
fi

TMP=$(mktemp -d /tmp/tandem-httpbench.XXXXXX)
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
BROKER_PID=""
trap 'stop_server; [ -z "$BROKER_PID" ] || kill -TERM "$BROKER_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

free_port() { "$ROOT/scripts/free-ports"; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/http: nothing listening on $1" >&2
    return 1
}
# "utime stime" (clock ticks) of a pid and its children
cpu_ticks() {
    local u=0 s=0 p t
    for p in $1 $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] || continue
        t=$(awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$p/stat")
        u=$((u + ${t% *}))
        s=$((s + ${t#* }))
    done
    echo "$u $s"
}

start_nginx() { # port
    mkdir -p "$TMP/nginx/logs"
    cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$1;
        location / {
            default_type application/json;
            return 200 '{"message":"Hello, World!"}';
        }
    }
}
CONF
    taskset -c 0 "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" &
    SERVER_PID=$!
}
start_tandem() { # port
    TANDEM_HTTP_IO=epoll taskset -c 0 "$HELLO" --port "$1" --workers 1 >"$TMP/tandem.out" &
    SERVER_PID=$!
}
start_tandem-uring() { # port
    TANDEM_HTTP_IO=uring taskset -c 0 "$HELLO" --port "$1" --workers 1 >"$TMP/tandem.out" &
    SERVER_PID=$!
    wait_port "$1"
    grep -q io_uring "$TMP/tandem.out" ||
        { echo "bench/http: io_uring refused here: tandem-uring would measure epoll" >&2; exit 1; }
}
# The example service (examples/hello) through the whole runtime: router, per-worker metrics,
# traceparent, ETag/Cache-Control, and its idle event producer and consumer connected to a real
# tandem-broker (started once, pinned to core 1 with wrk; its CPU is not counted). Access logs
# are off (TANDEM_LOG_LEVEL=warn), as nginx's are in its configuration above.
start_service() { # port [log level]
    TANDEM_LISTEN=127.0.0.1:$1 TANDEM_WORKERS=1 TANDEM_BROKERS=$BENCH_BROKER \
        TANDEM_DATA_DIR="$TMP/svc" TANDEM_LOG_LEVEL=${2:-warn} taskset -c 0 "$SERVICE" \
        2>>"$TMP/service.err" &
    SERVER_PID=$!
}
# The same at the default level: an access-log line per request, appended (O_APPEND) to a file on
# the disk of /tmp, as the supervisor appends a service's stderr to var/tandem/logs/NAME.log.
start_service-info() { # port
    start_service "$1" info
}

# shellcheck source-path=SCRIPTDIR source=../quiet.sh
source "$ROOT/bench/quiet.sh"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$ROOT/bench/results/http-$STAMP.csv
mkdir -p "$ROOT/bench/results"
echo "server,run,requests,seconds,rps,cpu_ticks,clk_tck,cpu_us_per_req,user_ticks,load1" >"$CSV"
TCK=$(getconf CLK_TCK)

measure() { # server run
    local port url before after out reqs secs rps
    port=$(free_port)
    SERVICE=$SERVICE_NEW
    [[ $1 != *@base ]] || SERVICE=$BASE_BUILD/bin/example-hello
    rm -f "$TMP/service.err"
    "start_${1%@base}" "$port"
    wait_port "$port"
    url="http://127.0.0.1:$port/hello"
    [ "$(curl -s "$url")" = '{"message":"Hello, World!"}' ] ||
        { echo "bench/http: $1 answers something else" >&2; exit 1; }
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null # warm-up
    before=$(cpu_ticks "$SERVER_PID")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$url")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "bench/http: $1 had errors:" >&2
        echo "$out" >&2
        exit 1
    fi
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' <<<"$out")
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    local u0=${before% *} s0=${before#* } u1=${after% *} s1=${after#* }
    awk -v s="$1" -v r="$2" -v n="$reqs" -v t="$secs" -v q="$rps" -v c=$((u1 + s1 - u0 - s0)) \
        -v u=$((u1 - u0)) -v k="$TCK" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN { printf "%s,%d,%d,%s,%s,%d,%d,%.3f,%d,%s\n", s, r, n, t, q, c, k, c * 1e6 / k / n, u, l }' \
        >>"$CSV"
    tail -1 "$CSV" >&2
}

taskset -c 1 "$BUILD/bin/tandem-broker" --listen 127.0.0.1:0 --data-dir "$TMP/broker" \
    --port-file "$TMP/broker.port" 2>"$TMP/broker.err" &
BROKER_PID=$!
for _ in $(seq 100); do [ -s "$TMP/broker.port" ] && break; sleep 0.05; done
BENCH_BROKER=127.0.0.1:$(cat "$TMP/broker.port")

wait_quiet bench/http
for run in $(seq "$RUNS"); do
    for s in $SERVERS; do
        measure "$s" "$run"
    done
done

python3 "$ROOT/bench/http/report.py" "$CSV" "taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s" \
    | tee "${CSV%.csv}.md"
echo "raw: $CSV"
