#!/usr/bin/env python3
"""Recording Kafka proxy: a dev tool that captures real request and response frames.

    kproxy.py --upstream HOST:PORT --out DIR [--listen-port N] [--max-per-api 2]
              [--fake-admin]

Listens on 127.0.0.1 (a free port unless --listen-port), prints "PORT <n>" on stdout, and
forwards every connection to the upstream broker (librdkafka's mock cluster). Each Kafka frame
is cut by its INT32 size prefix; the request header gives (api key, version, correlation id),
which labels the response with the same correlation id. The first --max-per-api frames of each
(api, version) are written to DIR as

    NNN-<Api>-v<version>.req.bin    request frame: header + body, without the size prefix
    NNN-<Api>-v<version>.resp.bin   response frame: header + body, without the size prefix

Metadata and FindCoordinator responses have their broker ports rewritten to the proxy's port (an INT32 in place,
same length), so that the client keeps talking through the proxy after bootstrap; the recorded
response is the rewritten one.

--fake-admin: librdkafka's mock broker implements neither CreateTopics, DeleteTopics nor
CreatePartitions, so the proxy adds them to the ApiVersions response (CreateTopics 0-4,
DeleteTopics 0-3, CreatePartitions 0-1) and answers those requests itself with "no error" per
topic. The mock also names controller 0, a
broker that does not exist, so that the admin client finds its controller, the proxy sets
controller_id in Metadata responses to the first broker's id. The recorded requests are still what
the real client sent; the recorded responses are the proxy's.

--swap-port N: for an upstream that advertises its own port N (tandem-broker), Metadata and
FindCoordinator responses of every version, flexible ones included, get each big-endian INT32 N
replaced by the proxy's port instead of the per-version rewriting above (captures check that N
appears only as a port).

Only ever binds 127.0.0.1. Stops on SIGTERM or SIGINT.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
             13: "LeaveGroup", 14: "SyncGroup", 18: "ApiVersions", 19: "CreateTopics",
             15: "DescribeGroups", 16: "ListGroups", 20: "DeleteTopics", 22: "InitProducerId",
             37: "CreatePartitions", 42: "DeleteGroups"}
FAKE_APIS = {19: (0, 4), 20: (0, 3), 37: (0, 1)}


class Recorder:
    def __init__(self, out, max_per_api):
        self.out = out
        self.max_per_api = max_per_api
        self.lock = threading.Lock()
        self.seq = 0
        self.counts = {}

    def want(self, api, ver):
        with self.lock:
            n = self.counts.get((api, ver), 0)
            if n >= self.max_per_api:
                return None
            self.counts[(api, ver)] = n + 1
            self.seq += 1
            return "%03d-%s-v%d" % (self.seq, API_NAMES.get(api, "Api%d" % api), ver)

    def write(self, name, suffix, frame):
        with open(os.path.join(self.out, name + suffix), "wb") as f:
            f.write(frame)


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    size = read_exact(sock, 4)
    if size is None:
        return None
    (n,) = struct.unpack(">i", size)
    return read_exact(sock, n)


def send_frame(sock, frame):
    sock.sendall(struct.pack(">i", len(frame)) + frame)


def skip_string(b, o):
    (n,) = struct.unpack_from(">h", b, o)
    return o + 2 + max(n, 0)


def patch_metadata(frame, ver, port, fix_controller):
    """Rewrites every broker's port (Metadata v0-8, response header v0) to `port`; with
    fix_controller, also sets controller_id (v1+) to the first broker's node id."""
    b = bytearray(frame)
    o = 4  # correlation id
    if ver >= 3:
        o += 4  # throttle_time_ms
    (nbrokers,) = struct.unpack_from(">i", b, o)
    o += 4
    first = -1
    for i in range(nbrokers):
        if i == 0:
            (first,) = struct.unpack_from(">i", b, o)
        o += 4  # node_id
        o = skip_string(b, o)  # host
        struct.pack_into(">i", b, o, port)
        o += 4
        if ver >= 1:
            o = skip_string(b, o)  # rack
    if ver >= 2:
        o = skip_string(b, o)  # cluster_id
    if ver >= 1 and fix_controller:
        struct.pack_into(">i", b, o, first)
    return bytes(b)


def patch_find_coordinator(frame, ver, port):
    """Rewrites the coordinator's port (FindCoordinator v0-2, response header v0)."""
    b = bytearray(frame)
    o = 4  # correlation id
    if ver >= 1:
        o += 4  # throttle_time_ms
    o += 2  # error_code
    if ver >= 1:
        o = skip_string(b, o)  # error_message
    o += 4  # node_id
    o = skip_string(b, o)  # host
    struct.pack_into(">i", b, o, port)
    return bytes(b)


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def read_uvarint(b, o):
    v, shift = 0, 0
    while True:
        c = b[o]
        o += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, o
        shift += 7


def add_fake_apis(frame, ver):
    """Re-encodes an ApiVersions response with CreateTopics/DeleteTopics added."""
    corr, err = struct.unpack_from(">ih", frame, 0)
    o = 6
    keys = {}
    if ver >= 3:
        n, o = read_uvarint(frame, o)
        n -= 1
    else:
        (n,) = struct.unpack_from(">i", frame, o)
        o += 4
    for _ in range(n):
        k, lo, hi = struct.unpack_from(">hhh", frame, o)
        o += 6
        if ver >= 3:
            o += 1  # empty tagged fields
        keys[k] = (lo, hi)
    rest = frame[o:]  # throttle (v1+) and, for v3, the trailing tagged fields
    for k, r in FAKE_APIS.items():
        keys.setdefault(k, r)
    out = struct.pack(">ih", corr, err)
    out += uvarint(len(keys) + 1) if ver >= 3 else struct.pack(">i", len(keys))
    for k in sorted(keys):
        out += struct.pack(">hhh", k, *keys[k])
        if ver >= 3:
            out += b"\x00"
    return out + rest


def fake_admin_response(api, ver, corr, body):
    """CreateTopics v0-4 / DeleteTopics v0-3 / CreatePartitions v0-1 response: every named
    topic, error 0."""
    o = 0
    (n,) = struct.unpack_from(">i", body, o)
    o += 4
    names = []
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", body, o)
        names.append(body[o + 2:o + 2 + ln])
        o += 2 + ln
        if api == 19:  # num_partitions, replication_factor, assignments, configs
            o += 6
            (na,) = struct.unpack_from(">i", body, o)
            o += 4
            for _ in range(na):
                (nb,) = struct.unpack_from(">i", body, o + 4)
                o += 8 + 4 * nb
            (nc,) = struct.unpack_from(">i", body, o)
            o += 4
            for _ in range(nc):
                o = skip_string(body, o)
                o = skip_string(body, o)
        elif api == 37:  # count, nullable assignments of [broker_ids]
            o += 4
            (na,) = struct.unpack_from(">i", body, o)
            o += 4
            for _ in range(max(na, 0)):
                (nb,) = struct.unpack_from(">i", body, o)
                o += 4 + 4 * nb
    out = struct.pack(">i", corr)
    if (api == 19 and ver >= 2) or (api == 20 and ver >= 1) or api == 37:
        out += struct.pack(">i", 0)
    out += struct.pack(">i", len(names))
    for nm in names:
        out += struct.pack(">h", len(nm)) + nm + struct.pack(">h", 0)
        if (api == 19 and ver >= 1) or api == 37:
            out += struct.pack(">h", -1)
    return out


def handle(client, args, rec, port):
    upstream = socket.create_connection((args.up_host, args.up_port))
    pending = {}  # correlation id -> (api, version, name)
    lock = threading.Lock()

    def down():
        try:
            while True:
                frame = read_frame(upstream)
                if frame is None:
                    break
                (corr,) = struct.unpack_from(">i", frame, 0)
                with lock:
                    api, ver, name = pending.pop(corr, (None, None, None))
                if args.swap_port and api in (3, 10):
                    frame = frame.replace(struct.pack(">i", args.swap_port), struct.pack(">i", port))
                elif api == 3:
                    frame = patch_metadata(frame, ver, port, args.fake_admin)
                elif api == 10 and ver <= 2:
                    frame = patch_find_coordinator(frame, ver, port)
                elif api == 18 and args.fake_admin and not struct.unpack_from(">h", frame, 4)[0]:
                    frame = add_fake_apis(frame, ver)
                if name:
                    rec.write(name, ".resp.bin", frame)
                with lock:
                    send_frame(client, frame)
        except OSError:
            pass
        finally:
            client.close()

    t = threading.Thread(target=down, daemon=True)
    t.start()
    try:
        while True:
            frame = read_frame(client)
            if frame is None:
                break
            api, ver, corr = struct.unpack_from(">hhi", frame, 0)
            name = rec.want(api, ver)
            if name:
                rec.write(name, ".req.bin", frame)
            if args.fake_admin and api in FAKE_APIS:
                o = 8
                o = skip_string(frame, o)  # client_id (these versions use header v1)
                resp = fake_admin_response(api, ver, corr, frame[o:])
                if name:
                    rec.write(name, ".resp.bin", resp)
                with lock:
                    send_frame(client, resp)
                continue
            with lock:
                pending[corr] = (api, ver, name)
            send_frame(upstream, frame)
    except OSError:
        pass
    finally:
        upstream.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--max-per-api", type=int, default=2)
    ap.add_argument("--fake-admin", action="store_true")
    ap.add_argument("--swap-port", type=int, default=0)
    args = ap.parse_args()
    host, p = args.upstream.rsplit(":", 1)
    args.up_host, args.up_port = host, int(p)
    os.makedirs(args.out, exist_ok=True)
    rec = Recorder(args.out, args.max_per_api)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen_port))
    ls.listen(16)
    port = ls.getsockname()[1]
    print("PORT %d" % port, flush=True)

    def accept_loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c, args, rec, port), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
