"""An HTTP proxy on loopback that makes a well-behaved AWS emulator behave like the real
network: per request, with a seeded random draw, it answers as a throttled service does (S3's
503 SlowDown; EventBridge's and SageMaker's ThrottlingException), drops the connection without
an answer, answers late, or cuts the answer's body short. Everything else goes to the upstream
(the moto server) unchanged.

    python3 tests/fault_proxy.py --upstream http://127.0.0.1:5000 [--seed 7] [--rate 0.1]

prints `listening on http://127.0.0.1:PORT` once it takes requests. `--rate` is the share of
requests that get each kind of fault (four kinds: 0.1 makes 40% of requests faulty). At run
time `GET /__faults?rate=R&kinds=throttle,drop,delay,cut` changes it (`rate=1&kinds=throttle`:
every request throttled) and `GET /__faults` returns the counts so far as JSON. Standard
library only, so the test command needs nothing more than Python.
"""

import argparse
import http.client
import http.server
import json
import random
import socket
import sys
import threading
import time
import urllib.parse

KINDS = ("throttle", "drop", "delay", "cut")
# Long enough to be noticed (a slow answer, not a lost one), short enough that a test of a few
# thousand requests ends in minutes; well below the SDK's attempt timeout.
DELAY_SECONDS = 0.5
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class State:
    def __init__(self, seed, rate):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.rate = rate
        self.kinds = list(KINDS)
        self.counts = {k: 0 for k in KINDS}
        self.counts["forwarded"] = 0

    def draw(self):
        """The fault for the next request, or None."""
        with self.lock:
            u = self.rng.random()
            for i, kind in enumerate(self.kinds):
                if u < self.rate * (i + 1):
                    self.counts[kind] += 1
                    return kind
            self.counts["forwarded"] += 1
            return None


def make_handler(state, upstream):
    up = urllib.parse.urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def control(self):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with state.lock:
                if "rate" in q:
                    state.rate = float(q["rate"][0])
                if "kinds" in q:
                    state.kinds = [k for k in q["kinds"][0].split(",") if k in KINDS]
                body = json.dumps({"rate": state.rate, "kinds": state.kinds, "counts": state.counts}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def throttle(self):
            if self.headers.get("X-Amz-Target"):
                body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
                status, ctype = 400, "application/x-amz-json-1.1"
            else:
                body = (
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                    b"<Message>Please reduce your request rate.</Message></Error>"
                )
                status, ctype = 503, "application/xml"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def drop(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def handle_any(self):
            if self.path.startswith("/__faults"):
                return self.control()
            payload = self.body()
            fault = state.draw()
            if fault == "throttle":
                return self.throttle()
            if fault == "drop":
                return self.drop()
            if fault == "delay":
                time.sleep(DELAY_SECONDS)
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(payload))
            conn.request(self.command, self.path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault == "cut" and len(data) > 1 and self.command != "HEAD":
                # The headers promise the whole body; half of it comes, then the connection ends.
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                return self.drop()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    state = State(a.seed, a.rate)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(state, a.upstream))
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
