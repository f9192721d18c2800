#!/usr/bin/env python3
"""An EventSource, as a browser runs one, against example-hello's GET /greetings/live through
tandem's gateway (cli_sse.sh), judging what passes through nginx:

  1. the head: 200, text/event-stream, chunked, Cache-Control: no-cache, and no
     X-Accel-Buffering (nginx reads it and drops it);
  2. quiet: no event for READ_TIMEOUT + 3 s (more than the gateway's proxy_read_timeout): the
     stream stays open, heartbeat comments keep coming;
  3. live: three greetings POSTed to an instance (not through the gateway) one after the other;
     each arrives within 3 s of its POST, while the stream is open (not at its end);
  4. a rolling `tandem restart hello` while it reads: the stream ends (the old nginx worker's
     worker_shutdown_timeout, or the instance's drain), the client reconnects with Last-Event-ID
     as EventSource does, the restart completes in well under its 10 s per instance wait, and a
     greeting POSTed afterwards arrives on the new stream.

Usage: cli_sse_client.py GATEWAY_PORT INSTANCE_PORT READ_TIMEOUT TANDEM_CLI MANIFEST
Prints one JSON line of figures; exits 1 with the reason on the first failure.
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request

GATEWAY, INSTANCE, READ_TIMEOUT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
TANDEM, MANIFEST = sys.argv[4], sys.argv[5]


def fail(why):
    print("cli_sse_client: " + why, file=sys.stderr)
    sys.exit(1)


class Stream:
    """One GET /greetings/live: the head, then chunks decoded and events read as WHATWG HTML
    9.2.6 says (lines end at LF here: nginx and libtandem write no CR)."""

    def __init__(self, last_id=None):
        self.sock = socket.create_connection(("127.0.0.1", GATEWAY), timeout=5)
        extra = "Last-Event-ID: %s\r\n" % last_id if last_id else ""
        self.sock.sendall(("GET /greetings/live HTTP/1.1\r\nHost: t\r\n"
                           "Accept: text/event-stream\r\n%s\r\n" % extra).encode())
        self.raw, self.body, self.text = b"", b"", b""
        self.ended = False  # the last chunk, or the connection closed
        self.comments = 0
        self.events = []  # (arrival time, type, id, data)
        self.fields = {"data": []}
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(5):
                fail("no head from the gateway")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        self.head = head.decode()
        self.status = int(self.head.split()[1])
        self._decode()

    def header(self, name):
        for line in self.head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return None

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            b = b""
        if not b:
            self.ended = True
            return False
        self.raw += b
        return True

    def _decode(self):
        while not self.ended:
            line_end = self.raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self.raw[:line_end].split(b";")[0], 16)
            if len(self.raw) < line_end + 2 + size + 2:
                return
            chunk = self.raw[line_end + 2:line_end + 2 + size]
            self.raw = self.raw[line_end + 2 + size + 2:]
            if size == 0:
                self.ended = True
                return
            self.text += chunk
            self._lines()

    def _lines(self):
        while b"\n" in self.text:
            line, self.text = self.text.split(b"\n", 1)
            line = line.decode("utf-8", "replace")
            if line == "":
                if self.fields["data"]:
                    self.events.append((time.monotonic(), self.fields.get("event", "message"),
                                        self.fields.get("id"), "\n".join(self.fields["data"])))
                self.fields = {"data": [], "id": self.fields.get("id")}
            elif line.startswith(":"):
                self.comments += 1
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    self.fields["data"].append(value)
                elif name in ("event", "id"):
                    self.fields[name] = value

    def read_for(self, seconds, until=None):
        """Reads for up to `seconds`, or until until() is true; False if the stream ended."""
        deadline = time.monotonic() + seconds
        while not self.ended and time.monotonic() < deadline:
            if until is not None and until():
                return True
            self._recv(min(0.2, max(0.01, deadline - time.monotonic())))
            self._decode()
        return not self.ended

    def close(self):
        self.sock.close()


def post_greeting():
    req = urllib.request.Request("http://127.0.0.1:%d/greetings" % INSTANCE, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        if r.status != 202:
            fail("POST /greetings: %d" % r.status)
    return time.monotonic()


def live_greetings(s, count, out):
    """POSTs count greetings one after the other; each must reach s within 3 s."""
    for _ in range(count):
        n = len(s.events)
        sent = post_greeting()
        if not s.read_for(3, lambda: len(s.events) > n):
            fail("the stream ended while a greeting was on its way")
        if len(s.events) == n:
            fail("a greeting POSTed did not arrive within 3 s (%d events so far)" % n)
        at, kind, eid, data = s.events[n]
        if kind != "greeted" or eid is None or json.loads(data)["greeting"] is None:
            fail("unexpected event %r %r %r" % (kind, eid, data))
        out.append(round((at - sent) * 1000, 1))


s = Stream()
if s.status != 200:
    fail("status %d" % s.status)
want = {"content-type": "text/event-stream", "transfer-encoding": "chunked",
        "cache-control": "no-cache", "x-accel-buffering": None}
for k, v in want.items():
    if s.header(k) != v:
        fail("header %s: %r, want %r (head: %r)" % (k, s.header(k), v, s.head))

# ---- quiet for longer than proxy_read_timeout -----------------------------------------------
t0 = time.monotonic()
if not s.read_for(READ_TIMEOUT + 3):
    fail("the stream ended after %.1f s of quiet: cut at proxy_read_timeout?"
         % (time.monotonic() - t0))
quiet_comments = s.comments
if quiet_comments < READ_TIMEOUT:
    fail("%d heartbeats in %d s" % (quiet_comments, READ_TIMEOUT + 3))

# ---- greetings arrive as they are sent --------------------------------------------------------
latencies = []
live_greetings(s, 3, latencies)
last_id = s.events[-1][2]

# ---- a rolling restart: the stream ends, the client comes back ----------------------------------
ends, reconnects = 0, 0


def follow(s):
    """Reads a little; when the stream has ended, reconnects as EventSource does (with the last
    event id, after a short wait, again until it gets a stream). Returns the stream to read."""
    global ends, reconnects
    s.read_for(0.3)
    if not s.ended:
        return s
    ends += 1
    last = [e[2] for e in s.events if e[2] is not None]
    s.close()
    for _ in range(100):
        time.sleep(0.3)
        try:
            n = Stream(last[-1] if last else last_id)
        except OSError:
            continue
        if n.status == 200:
            reconnects += 1
            return n
        n.close()
    fail("could not reconnect within 30 s")


t0 = time.monotonic()
restart = subprocess.Popen([TANDEM, "-f", MANIFEST, "restart", "hello"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
while restart.poll() is None:
    s = follow(s)
    if time.monotonic() - t0 > 60:
        restart.kill()
        fail("tandem restart hello still running after 60 s")
restart_s = time.monotonic() - t0
output = restart.stdout.read().decode()
if restart.returncode != 0:
    fail("tandem restart hello: exit %d: %s" % (restart.returncode, output))
if ends < 1:
    fail("the stream was never ended by the restart")
if restart_s > 30:
    fail("the restart took %.1f s: old nginx workers kept their streams" % restart_s)
settle = time.monotonic() + 6  # the last reload's old worker lets go within 5 s
while time.monotonic() < settle:
    s = follow(s)
after = []
live_greetings(s, 1, after)
s.close()
print(json.dumps({"heartbeats_in_quiet": quiet_comments, "latency_ms": latencies + after,
                  "restart_s": round(restart_s, 1), "stream_ends": ends,
                  "reconnects": reconnects}))
