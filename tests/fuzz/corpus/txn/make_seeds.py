#!/usr/bin/env python3
# Writes the seed corpus of fuzz_txn: one request frame (header v1 + body, no size prefix) per
# transaction API and version 0-2, and one transaction log record. Run from this directory.
import struct

def s(x):
    b = x.encode()
    return struct.pack('>h', len(b)) + b

def hdr(api, v):
    return struct.pack('>hhi', api, v, 7) + s('seed')

def add_partitions(v):
    return s('tx') + struct.pack('>qh', 5, 1) + struct.pack('>i', 1) + s('t') + struct.pack('>iii', 2, 0, 1)

def add_offsets(v):
    return s('tx') + struct.pack('>qh', 5, 1) + s('g')

def end_txn(v):
    return s('tx') + struct.pack('>qhb', 5, 1, 1)

def txn_offset_commit(v):
    part = struct.pack('>iq', 0, 42) + (struct.pack('>i', 3) if v >= 2 else b'') + s('m')
    return s('tx') + s('g') + struct.pack('>qh', 5, 1) + struct.pack('>i', 1) + s('t') + struct.pack('>i', 1) + part

for api, name, fn in [(24, 'AddPartitionsToTxn', add_partitions), (25, 'AddOffsetsToTxn', add_offsets),
                      (26, 'EndTxn', end_txn), (28, 'TxnOffsetCommit', txn_offset_commit)]:
    for v in range(3):
        with open(f'{name}-v{v}.bin', 'wb') as f:
            f.write(hdr(api, v) + fn(v))

rec = (struct.pack('>b', 1) + s('tx') + struct.pack('>qhbiq', 5, 1, 2, 60000, 1000) +
       struct.pack('>i', 1) + s('t') + struct.pack('>iq', 0, 17) + struct.pack('>i', 1) + s('g') +
       struct.pack('>i', 1) + s('g') + s('t') + struct.pack('>iqi', 0, 42, -1) + struct.pack('>h', -1))
with open('record-prepare-commit.bin', 'wb') as f:
    f.write(rec)
