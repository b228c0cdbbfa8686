#!/usr/bin/python3
"""A health source that misbehaves on demand, for tests/e2e/health.bats.

    fakesrc.py PORT MODEFILE UPSTREAM

Listens on 127.0.0.1:PORT.  Each request reads MODEFILE (one word) and:
  ok         forwards the request to UPSTREAM (a real graphite-web) and
             relays its answer
  500 | 400  answers with that status and a short body
  malformed  answers 200 with a body that is not JSON
  shape      answers 200 with JSON of the wrong shape
  slow       sleeps 30 s before answering (past any test's timeout)
  close      closes the connection without an answer
Every request is counted in MODEFILE.count (one line per request).
"""
import http.server
import socketserver
import sys
import time
import urllib.request

PORT, MODEFILE, UPSTREAM = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle_one(self):
        with open(MODEFILE + ".count", "a") as f:
            f.write("x\n")
        try:
            mode = open(MODEFILE).read().strip()
        except OSError:
            mode = "ok"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if mode == "ok":
            req = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command)
            if body is not None:
                req.add_header("Content-Type", "application/x-www-form-urlencoded")
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    data, status = r.read(), r.status
            except urllib.error.HTTPError as e:
                data, status = e.read(), e.code
            self.reply(status, data)
        elif mode in ("500", "400"):
            self.reply(int(mode), b"it went wrong\x1b[31m\n")
        elif mode == "malformed":
            self.reply(200, b"[{\"target\": \"fb0\", \"datapoints\": [[1, 2]")
        elif mode == "shape":
            self.reply(200, b"{\"target\": \"fb0\"}")
        elif mode == "slow":
            time.sleep(30)
            self.reply(200, b"[]")
        elif mode == "close":
            self.close_connection = True

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = handle_one
    do_POST = handle_one


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
