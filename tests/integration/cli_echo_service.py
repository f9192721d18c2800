#!/usr/bin/env python3
# A stand-in service for the `tandem` command's integration tests (cli_gateway.sh, cli_data.sh,
# cli_jwt.sh): it listens where tandem says (TANDEM_LISTEN), answers /readyz and /healthz 200 like
# a libtandem service, and answers every other request with the request it received as JSON:
# method, path (raw), and its headers (names lower-cased). So a test sees exactly what nginx passed
# upstream. A path ending in /hangup is answered by closing the connection (a service that fails
# mid-request).
#
# Its data, as a blog service keeps it: one SQLite database in TANDEM_DATA_DIR (shared.db, WAL),
# the same file for every instance. POST /data/WORD adds the row (TANDEM_INSTANCE, WORD) and
# answers 201; GET /data answers every row, [[instance, word], ...], in the order written. A file
# named "crash" in TANDEM_DATA_DIR makes the service exit (status 3) as it starts, before it
# listens: a test turns every instance of the service into a crash loop by creating it.
import json
import os
import signal
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATA_DIR = os.environ.get("TANDEM_DATA_DIR", ".")
INSTANCE = os.environ.get("TANDEM_INSTANCE", "?")


def database():
    db = sqlite3.connect(os.path.join(DATA_DIR, "shared.db"), timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS data (instance TEXT NOT NULL, word TEXT NOT NULL)")
    return db


def data_answer(method, path):
    """(status, body) for /data and /data/WORD."""
    db = database()
    try:
        if method == "POST" and path.startswith("/data/"):
            with db:
                db.execute("INSERT INTO data VALUES (?, ?)", (INSTANCE, path[len("/data/"):]))
            return 201, b"{}"
        rows = db.execute("SELECT instance, word FROM data ORDER BY rowid").fetchall()
        return 200, json.dumps([list(r) for r in rows]).encode()
    finally:
        db.close()


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        if self.path.endswith("/hangup"):
            self.close_connection = True  # no answer at all: the gateway's 502
            return
        status = 200
        if self.path in ("/readyz", "/healthz"):
            body = b"ok\n"
            ctype = "text/plain"
        elif self.path == "/data" or self.path.startswith("/data/"):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = data_answer(self.command, self.path)
            ctype = "application/json"
        else:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            body = json.dumps({
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(data),
            }).encode()
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        # a service's own CORS answer, which a gateway configured for CORS must hide
        self.send_header("Access-Control-Allow-Origin", "https://from-the-service.example")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer

    def log_message(self, fmt, *args):
        sys.stderr.write(json.dumps({"msg": "request", "line": fmt % args}) + "\n")


def main():
    if os.path.exists(os.path.join(DATA_DIR, "crash")):
        sys.stderr.write(json.dumps({"msg": "crash switch on: exiting"}) + "\n")
        sys.exit(3)
    host, port = os.environ["TANDEM_LISTEN"].rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Echo)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
