#!/usr/bin/env python3
# A stand-in service for the gateway's integration tests (cli_gateway.sh): it listens where
# tandem says (TANDEM_LISTEN), answers /readyz and /healthz 200 like a libtandem service, and
# answers every other request with the request it received as JSON: method, path (raw), and its
# headers (names lower-cased). So a test sees exactly what nginx passed upstream. A path ending in
# /hangup is answered by closing the connection (a service that fails mid-request).
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        if self.path.endswith("/hangup"):
            self.close_connection = True  # no answer at all: the gateway's 502
            return
        if self.path in ("/readyz", "/healthz"):
            body = b"ok\n"
            ctype = "text/plain"
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
        self.send_response(200)
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
    host, port = os.environ["TANDEM_LISTEN"].rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Echo)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
