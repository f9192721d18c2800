#!/usr/bin/env python3
"""Recording Kafka proxy for consumer-group captures (a dev tool; see capture.sh).

    gproxy.py --upstream HOST:PORT --out DIR [--max-per-api N]

Listens on a free 127.0.0.1 port, prints "PORT <n>", and relays every connection to the
upstream broker (librdkafka's mock cluster), cutting frames at their INT32 size prefix. The first
N (default 2) requests of each (api, version), and the responses with the same correlation id,
are written to DIR as NNN-<Api>-v<version>.req.bin / .resp.bin (frame without size prefix).

The capture tool in ../capture (kproxy.py) rewrites only Metadata responses; a group consumer
also learns a broker address from FindCoordinator, and librdkafka then reconnects to the port
it names, past the proxy. So this proxy rewrites the port in both (an INT32 in place, same
length), and what is recorded is the rewritten response. Layouts: MetadataResponse.json v0-8
and FindCoordinatorResponse.json v0-2 (non-flexible, response header v0).

Only binds 127.0.0.1; stops on SIGTERM or SIGINT.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading

NAMES = {3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator",
         11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
         15: "DescribeGroups", 16: "ListGroups", 18: "ApiVersions", 42: "DeleteGroups"}


def recv_n(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            return None
        out += b
    return bytes(out)


def recv_frame(s):
    hdr = recv_n(s, 4)
    return None if hdr is None else recv_n(s, struct.unpack(">i", hdr)[0])


def str_end(b, o):
    return o + 2 + max(struct.unpack_from(">h", b, o)[0], 0)


def rewrite_metadata(b, ver, port):
    b = bytearray(b)
    o = 4 + (4 if ver >= 3 else 0)
    (n,) = struct.unpack_from(">i", b, o)
    o += 4
    for _ in range(n):
        o = str_end(b, o + 4)
        struct.pack_into(">i", b, o, port)
        o = str_end(b, o + 4) if ver >= 1 else o + 4
    return bytes(b)


def rewrite_find_coordinator(b, ver, port):
    b = bytearray(b)
    o = 4
    if ver >= 1:
        o = str_end(b, o + 4 + 2)  # throttle, error_code, error_message
    else:
        o += 2
    o = str_end(b, o + 4)  # node_id, host
    struct.pack_into(">i", b, o, port)
    return bytes(b)


class Recorder:
    def __init__(self, out, limit):
        self.out, self.limit = out, limit
        self.lock = threading.Lock()
        self.seq, self.seen = 0, {}

    def name(self, api, ver):
        with self.lock:
            k = (api, ver)
            if self.seen.get(k, 0) >= self.limit:
                return None
            self.seen[k] = self.seen.get(k, 0) + 1
            self.seq += 1
            return "%03d-%s-v%d" % (self.seq, NAMES.get(api, "Api%d" % api), ver)

    def save(self, name, suffix, frame):
        with open(os.path.join(self.out, name + suffix), "wb") as f:
            f.write(frame)


def relay(client, up_addr, rec, port):
    up = socket.create_connection(up_addr)
    inflight = {}
    lock = threading.Lock()

    def responses():
        try:
            while True:
                f = recv_frame(up)
                if f is None:
                    break
                (corr,) = struct.unpack_from(">i", f, 0)
                with lock:
                    api, ver, name = inflight.pop(corr, (None, None, None))
                if api == 3:
                    f = rewrite_metadata(f, ver, port)
                elif api == 10 and ver <= 2:
                    f = rewrite_find_coordinator(f, ver, port)
                if name:
                    rec.save(name, ".resp.bin", f)
                client.sendall(struct.pack(">i", len(f)) + f)
        except OSError:
            pass
        finally:
            client.close()

    threading.Thread(target=responses, daemon=True).start()
    try:
        while True:
            f = recv_frame(client)
            if f is None:
                break
            api, ver, corr = struct.unpack_from(">hhi", f, 0)
            name = rec.name(api, ver)
            if name:
                rec.save(name, ".req.bin", f)
            with lock:
                inflight[corr] = (api, ver, name)
            up.sendall(struct.pack(">i", len(f)) + f)
    except OSError:
        pass
    finally:
        up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-per-api", type=int, default=2)
    a = ap.parse_args()
    host, p = a.upstream.rsplit(":", 1)
    os.makedirs(a.out, exist_ok=True)
    rec = Recorder(a.out, a.max_per_api)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    print("PORT %d" % port, flush=True)

    def accept():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=relay, args=(c, (host, int(p)), rec, port),
                             daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
