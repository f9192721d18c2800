# shellcheck shell=bash
# bench/quiet.sh: sourced by the benchmark scripts. wait_quiet LABEL waits, up to $WAIT_QUIET
# seconds (the caller's default: 900), until the 1-minute load average is below 0.5, so a
# measurement does not start while a build or another benchmark still runs; after that it
# measures anyway, with a warning that names the load.
wait_quiet() {
    local label=$1 waited=0 load
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        if awk -v l="$load" 'BEGIN { exit !(l < 0.5) }'; then
            return 0
        fi
        if [ "$waited" -ge "$WAIT_QUIET" ]; then
            echo "$label: WARNING load $load still >= 0.5 after ${waited}s; measuring anyway" >&2
            return 0
        fi
        [ $((waited % 60)) -eq 0 ] && echo "$label: waiting for a quiet machine (load $load)" >&2
        sleep 10
        waited=$((waited + 10))
    done
}
