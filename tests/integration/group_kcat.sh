#!/usr/bin/env bash
# kcat -G (librdkafka's high-level KafkaConsumer inside kcat): a first run joins the group and
# consumes every record to the end (-e), committing on close; a second run of the same group
# resumes after those commits and sees exactly the records produced in between.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"

start_broker --auto-create-topics-enable false --group-initial-rebalance-delay-ms 100
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t kg -p 3 || fail "create topic kg"

kcat_group() { # OUT: consume group kg-group to the end of every partition
    within 40 kcat -b "$BROKER" -G kg-group -q -e -f '%p %o %s\n' \
        -X auto.offset.reset=earliest -X session.timeout.ms=6000 kg >"$1" ||
        fail "kcat -G run writing $1"
}
check_run() { # OUT FROM TO: OUT holds each value FROM..TO exactly once, nothing else
    local want=$(($3 - $2 + 1)) got extra
    got=$(awk '{print $3}' "$1" | sort -n -u | awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b' | wc -l)
    extra=$(awk -v a="$2" -v b="$3" '$3 < a || $3 > b' "$1" | wc -l)
    [ "$got" -eq "$want" ] && [ "$(wc -l <"$1")" -eq "$want" ] && [ "$extra" -eq 0 ] ||
        fail "$1: $(wc -l <"$1") records, $got of the values $2..$3, $extra others"
}

within 60 "$GCHECK" produce -b "$BROKER" -t kg -s 1 -n 3000 || fail "produce 1..3000"
kcat_group "$TMP_ROOT/run1.txt"
check_run "$TMP_ROOT/run1.txt" 1 3000
log "first kcat -G run: 1..3000 exactly once"
within 30 "$GCHECK" committed -b "$BROKER" -t kg -g kg-group >"$TMP_ROOT/committed.txt" ||
    fail "committed offsets"
within 30 "$GCHECK" ends -b "$BROKER" -t kg >"$TMP_ROOT/ends.txt" || fail "end offsets"
diff "$TMP_ROOT/committed.txt" "$TMP_ROOT/ends.txt" >&2 ||
    fail "kcat's commits are not the end offsets"

within 60 "$GCHECK" produce -b "$BROKER" -t kg -s 3001 -n 500 || fail "produce 3001..3500"
kcat_group "$TMP_ROOT/run2.txt"
check_run "$TMP_ROOT/run2.txt" 3001 3500
log "second kcat -G run resumed at the commits: 3001..3500 exactly once"

stop_broker
log "PASS"
