#!/usr/bin/env bash
# kcat -L lists the broker (node 0 at the listen address, the controller) and topics: one
# auto-created by producing to it, one created through CreateTopics.
. "$(dirname "$0")/lib.sh"

start_broker --num-partitions 3 --auto-create-topics-enable true
wait_metadata 20

echo "hello" | within 30 kcat -P -b "$BROKER" -t meta-auto || fail "kcat -P to meta-auto failed"
within 30 "$KCHECK" admin create -b "$BROKER" -t meta-created -p 5 ||
    fail "CreateTopics meta-created failed"

within 20 kcat -L -b "$BROKER" >"$TMP_ROOT/meta.txt" || fail "kcat -L failed"
cat "$TMP_ROOT/meta.txt" >&2
within 20 kcat -L -J -b "$BROKER" >"$TMP_ROOT/meta.json" || fail "kcat -L -J failed"

python3 - "$TMP_ROOT/meta.json" "$BROKER" <<'PY' || fail "kcat -L metadata is not what it should be"
import json, sys
md = json.load(open(sys.argv[1]))
want_broker = sys.argv[2]
errors = []
brokers = md.get("brokers", [])
if [(b.get("id"), b.get("name")) for b in brokers] != [(0, want_broker)]:
    errors.append(f"brokers {brokers}, want [id 0 at {want_broker}]")
if md.get("controllerid") != 0:
    errors.append(f"controllerid {md.get('controllerid')}, want 0")
topics = {t["topic"]: t for t in md.get("topics", [])}
for name, nparts in (("meta-auto", 3), ("meta-created", 5)):
    t = topics.get(name)
    if t is None:
        errors.append(f"topic {name} not listed (topics: {sorted(topics)})")
        continue
    if t.get("error"):
        errors.append(f"topic {name}: error {t['error']}")
    parts = sorted(t.get("partitions", []), key=lambda p: p["partition"])
    if [p["partition"] for p in parts] != list(range(nparts)):
        errors.append(f"topic {name}: partitions {[p['partition'] for p in parts]}, want 0..{nparts-1}")
    for p in parts:
        if p.get("leader") != 0 or p.get("error"):
            errors.append(f"topic {name} partition {p['partition']}: {p}")
        if [r["id"] for r in p.get("replicas", [])] != [0] or [r["id"] for r in p.get("isrs", [])] != [0]:
            errors.append(f"topic {name} partition {p['partition']}: replicas/isrs {p}")
for e in errors:
    print("metadata:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# The auto-created topic holds the record.
got=$(within 30 kcat -C -b "$BROKER" -t meta-auto -o beginning -e -q -f '%s\n') ||
    fail "kcat -C meta-auto failed"
[ "$got" = "hello" ] || fail "meta-auto holds '$got', want 'hello'"

stop_broker
log "PASS"
