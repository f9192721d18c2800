#!/usr/bin/env bash
# Committed offsets are durable and the group admin APIs tell the truth:
#   - a consumer processes exactly 1000 of 3000 records and commits (manual, synchronous); the
#     broker restarts (SIGTERM, same data dir and port); rd_kafka_committed gives the same
#     offsets, and a consumer of the group resumes exactly at them (no record twice, none lost);
#   - commits acknowledged just before a kill -9 of the broker are there after it restarts;
#   - ListConsumerGroups and the legacy rd_kafka_list_groups (ListGroups, then DescribeGroups for
#     the state) show the group before and after the restart; DescribeConsumerGroups shows an empty group as Empty and an active
#     one as Stable with its member and assignment;
#   - DeleteGroups: an active group gives NON_EMPTY_GROUP and keeps its offsets, an empty group is
#     deleted (its offsets with it), an unknown group gives GROUP_ID_NOT_FOUND.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/group_lib.sh"

FLAGS=(--auto-create-topics-enable false --group-initial-rebalance-delay-ms 100)
start_broker "${FLAGS[@]}"
wait_metadata 20
within 30 "$GCHECK" create -b "$BROKER" -t rs -p 3 || fail "create topic rs"
within 60 "$GCHECK" produce -b "$BROKER" -t rs -s 1 -n 3000 || fail "produce 1..3000"

consume_exactly() { # N OUT: group rg processes exactly N records, commits, closes
    within 60 "$GCHECK" consume -b "$BROKER" -t rs -g rg --manual-commit --batch 100 --max "$1" \
        --out "$2" >/dev/null 2>>"$TMP_ROOT/consume.err" || fail "consume $1 records into $2"
    [ "$(wc -l <"$2")" -eq "$1" ] || fail "$2 has $(wc -l <"$2") records, want $1"
}
committed() { # OUT
    within 30 "$GCHECK" committed -b "$BROKER" -t rs -g "${2:-rg}" >"$1" || fail "committed offsets"
}
# groups_has GROUP STATE [PROTOCOL_TYPE_RE]: both listings show GROUP; the legacy one (ListGroups
# + DescribeGroups) in STATE with protocol type "consumer" (or matching the regex given).
# ListConsumerGroups gives the state only from ListGroups v4, which the broker does not offer.
groups_has() {
    within 30 "$GCHECK" groups -b "$BROKER" >"$TMP_ROOT/groups.txt" || fail "list groups"
    grep -q "^GROUP $1 " "$TMP_ROOT/groups.txt" &&
        grep -qE "^LEGACY $1 $2 ${3:-consumer} " "$TMP_ROOT/groups.txt" ||
        fail "group $1 ($2) not listed: $(tr '\n' ';' <"$TMP_ROOT/groups.txt")"
}

consume_exactly 1000 "$TMP_ROOT/run1.rec"
committed "$TMP_ROOT/before.txt"
sum=$(awk '$2 > 0 {s += $2} END {print s + 0}' "$TMP_ROOT/before.txt")
[ "$sum" -eq 1000 ] || fail "committed offsets sum to $sum after 1000 records: $(tr '\n' ' ' <"$TMP_ROOT/before.txt")"
log "committed after 1000 records: $(tr '\n' ' ' <"$TMP_ROOT/before.txt")"
groups_has rg Empty

restart_broker "${FLAGS[@]}"
wait_metadata 20
committed "$TMP_ROOT/after.txt"
diff "$TMP_ROOT/before.txt" "$TMP_ROOT/after.txt" >&2 || fail "committed offsets changed across the restart"
log "committed offsets unchanged across the restart"
# The offsets log keeps the group's protocol type beside its offsets (as Kafka's GroupMetadata
# record does), so the empty group is still a "consumer" group after the restart.
groups_has rg Empty consumer
log "after the restart: $(grep '^LEGACY rg ' "$TMP_ROOT/groups.txt")"
within 30 "$GCHECK" describe -b "$BROKER" -g rg >"$TMP_ROOT/describe-rg.txt" || fail "describe rg"
grep -qx 'STATE Empty' "$TMP_ROOT/describe-rg.txt" && grep -qx 'MEMBERS 0' "$TMP_ROOT/describe-rg.txt" ||
    fail "describe rg: $(tr '\n' ';' <"$TMP_ROOT/describe-rg.txt")"

within 30 "$GCHECK" ends -b "$BROKER" -t rs >"$TMP_ROOT/ends2.txt" || fail "end offsets of rs"
consume_exactly 2000 "$TMP_ROOT/run2.rec"
# Resumed exactly at the commit: each partition with records left starts at its committed offset
# (one that run 1 read to its end has nothing left, and run 2 must show none of it).
while read -r p off; do
    first=$(awk -v p="$p" '$1 == p {print $2; exit}' "$TMP_ROOT/run2.rec")
    end=$(awk -v p="$p" '$1 == p {print $2}' "$TMP_ROOT/ends2.txt")
    [ "$off" -ge 0 ] || off=0
    if [ "$off" -ge "${end:?no end offset for partition $p}" ]; then
        [ -z "$first" ] || fail "partition $p: record at $first after its commit $off = its end"
        continue
    fi
    [ "${first:-none}" = "$off" ] || fail "partition $p resumed at offset ${first:-none}, committed $off"
done <"$TMP_ROOT/after.txt"
both=$(cat "$TMP_ROOT/run1.rec" "$TMP_ROOT/run2.rec" | awk '{print $3}' | sort -n -u | wc -l)
[ "$both" -eq 3000 ] || fail "the two runs processed $both distinct values of 3000 in 3000 records"
log "resumed exactly at the committed offsets: 1..3000, each once"

# An acknowledged commit survives a crash: commit, then at once kill -9 and start again.
within 60 "$GCHECK" produce -b "$BROKER" -t rs -s 3001 -n 300 || fail "produce 3001..3300"
consume_exactly 300 "$TMP_ROOT/run3.rec"
kill9_broker
start_broker --data-dir "$BROKER_DIR" --listen "$BROKER" "${FLAGS[@]}"
wait_metadata 20
committed "$TMP_ROOT/crashed.txt"
within 30 "$GCHECK" ends -b "$BROKER" -t rs >"$TMP_ROOT/ends.txt" || fail "end offsets of rs"
diff "$TMP_ROOT/crashed.txt" "$TMP_ROOT/ends.txt" >&2 ||
    fail "committed offsets after kill -9 are not the end offsets: $(tr '\n' ' ' <"$TMP_ROOT/crashed.txt")"
log "commits acknowledged just before a kill -9 are there after the restart"

# An active group (one member) next to the empty one.
gc_start live -t rs -g rg-live --session-ms 6000
wait_assign 30 3 live >/dev/null
groups_has rg-live Stable
within 30 "$GCHECK" describe -b "$BROKER" -g rg-live >"$TMP_ROOT/describe-live.txt" ||
    fail "describe rg-live"
grep -qx 'STATE Stable' "$TMP_ROOT/describe-live.txt" && grep -qx 'MEMBERS 1' "$TMP_ROOT/describe-live.txt" &&
    grep -qE '^MEMBER .* group-check rs/0,rs/1,rs/2$' "$TMP_ROOT/describe-live.txt" ||
    fail "describe rg-live: $(tr '\n' ';' <"$TMP_ROOT/describe-live.txt")"
wait_values 30 1 3000 live
committed "$TMP_ROOT/live-before.txt" rg-live

delete() { # GROUP WANT
    within 30 "$GCHECK" delete -b "$BROKER" -g "$1" >"$TMP_ROOT/delete.txt" || fail "delete $1"
    grep -qx "DELETE $1 $2" "$TMP_ROOT/delete.txt" ||
        fail "DeleteGroups $1: $(cat "$TMP_ROOT/delete.txt"), want $2"
    log "DeleteGroups $1: $2"
}
delete rg-live NON_EMPTY_GROUP
committed "$TMP_ROOT/live-after.txt" rg-live
diff "$TMP_ROOT/live-before.txt" "$TMP_ROOT/live-after.txt" >&2 ||
    fail "a refused DeleteGroups changed rg-live's offsets"
delete rg NO_ERROR
committed "$TMP_ROOT/deleted.txt"
[ "$(awk '$2 != -1' "$TMP_ROOT/deleted.txt" | wc -l)" -eq 0 ] ||
    fail "rg still has committed offsets after DeleteGroups: $(tr '\n' ' ' <"$TMP_ROOT/deleted.txt")"
within 30 "$GCHECK" groups -b "$BROKER" >"$TMP_ROOT/groups.txt" || fail "list groups"
grep -q '^GROUP rg ' "$TMP_ROOT/groups.txt" && fail "rg is still listed after DeleteGroups"
delete rg-no-such-group GROUP_ID_NOT_FOUND
gc_term live
broker_alive "after the admin calls"

stop_broker
log "PASS"
