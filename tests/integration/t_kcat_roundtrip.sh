#!/usr/bin/env bash
# kcat -P of 100,000 keyed records with headers into a 4-partition topic, read back with
# kcat -C -e: every record exactly once, identical, offsets 0..n-1 and input order per partition,
# one partition per key.
. "$(dirname "$0")/lib.sh"

N=${N:-100000}
start_broker --num-partitions 4 --auto-create-topics-enable true
wait_metadata 20
within 30 "$KCHECK" admin create -b "$BROKER" -t roundtrip -p 4 ||
    log "CreateTopics failed; relying on auto-creation with --num-partitions 4"

# key<TAB>value lines; keys repeat (997 distinct), values are unique and carry their line number.
python3 - "$N" >"$TMP_ROOT/in.txt" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    out.write(f"k{i % 997}\tvalue-{i:06d}-{'abcdefghij' * (i % 7)}\n")
PY

log "kcat -P of $N records"
within 120 kcat -P -b "$BROKER" -t roundtrip -K $'\t' -H "h1=v1" -H "trace=00-abc-01" \
    -X linger.ms=20 <"$TMP_ROOT/in.txt" || fail "kcat -P failed"

log "kcat -C -e"
within 120 kcat -C -b "$BROKER" -t roundtrip -o beginning -e -q \
    -f '%p\t%o\t%k\t%h\t%s\n' >"$TMP_ROOT/out.txt" || fail "kcat -C failed"

python3 - "$TMP_ROOT/in.txt" "$TMP_ROOT/out.txt" "$N" <<'PY' || fail "the records read back differ"
import sys
n = int(sys.argv[3])
inp = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1])]
errors = []
next_off = {}
last_i = {}
key_part = {}
seen = set()
for lineno, line in enumerate(open(sys.argv[2])):
    f = line.rstrip("\n").split("\t", 4)
    if len(f) != 5:
        errors.append(f"line {lineno}: malformed {line!r}")
        break
    p, off, key, hdrs, val = int(f[0]), int(f[1]), f[2], f[3], f[4]
    try:
        i = int(val.split("-")[1])
    except Exception:
        errors.append(f"partition {p} offset {off}: unexpected value {val!r}")
        break
    if off != next_off.get(p, 0):
        errors.append(f"partition {p}: offset {off}, want {next_off.get(p, 0)}")
    next_off[p] = off + 1
    if i <= last_i.get(p, -1):
        errors.append(f"partition {p} offset {off}: record {i} after record {last_i[p]} (order)")
    last_i[p] = i
    if i in seen:
        errors.append(f"record {i} read twice")
    seen.add(i)
    if i >= n or [key, val] != inp[i]:
        errors.append(f"partition {p} offset {off}: key/value {key!r}/{val!r}, want {inp[i] if i < n else None}")
    if hdrs != "h1=v1,trace=00-abc-01":
        errors.append(f"partition {p} offset {off}: headers {hdrs!r}")
    if key_part.setdefault(key, p) != p:
        errors.append(f"key {key} in partitions {key_part[key]} and {p}")
    if len(errors) > 10:
        break
if not errors and len(seen) != n:
    missing = sorted(set(range(n)) - seen)
    errors.append(f"{len(seen)} records read, want {n}; first missing: {missing[:10]}")
if not errors and sorted(next_off) != [0, 1, 2, 3]:
    errors.append(f"records in partitions {sorted(next_off)}, want all of 0..3")
for e in errors[:10]:
    print("roundtrip:", e, file=sys.stderr)
print(f"roundtrip: {len(seen)} records, per partition {dict(sorted(next_off.items()))}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

stop_broker
log "PASS"
