#!/usr/bin/env python3
"""Load a page in a real headless Chromium and report what a reader gets.

    pagecheck.py --dir DIR --name NAME URL

Starts Debian's /usr/bin/chromium (headless, its own profile under DIR,
loopback only: every host name but 127.0.0.1 resolves to nothing) and
speaks the DevTools protocol to it over its websocket, with a minimal
client written here on the standard library (no npm, no pip).  For each
viewport, 1280x800 (a laptop) and 390x844 (a phone), it loads URL, waits
for the load event, measures the page in the DOM and saves a screenshot
as DIR/NAME-WIDTH.png (the whole page if it is at most 4000 px tall, else
the screen at its top).  It prints one JSON object on stdout:

    {"status": 200, "csp": "<the Content-Security-Policy header>",
     "console": [...], "exceptions": [...], "log": [...], "issues": [...],
     "views": {"1280": {"scroll_width": N, "viewport_width": N,
                        "screenshot": "DIR/NAME-1280.png", "dom": {...}},
               "390": {...}}}

console: console API calls of level warning or error; exceptions:
uncaught script errors; log: browser log entries of level warning or error
(a CSP violation is one: "Refused to apply inline style ..."); issues:
DevTools issues (a CSP violation is a ContentSecurityPolicyIssue).  dom:
the facts DOM_FACTS below collects.  The test asserts on all of it; this
script only observes (exit 0), except when the browser cannot be driven
(exit 2, with a message on stderr).

Privilege: Chromium refuses to run as root with its sandbox on.  When
this runs as root (CI does), Chromium runs as the unprivileged user
nobody instead, with its sandbox on, and DIR's ancestors get o+x (search
only, never read) for as long as it runs, so nobody can reach its
profile; the modes are put back at the end.  Only when the sandbox cannot
start there (no user namespaces) does it fall back to --no-sandbox, still
as nobody, and says so on stderr.  Run as an ordinary user, it is that
user's own sandboxed Chromium.
"""
import argparse
import base64
import json
import os
import pwd
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time
import urllib.request

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWS = [(1280, 800, False), (390, 844, True)]
LOAD_TIMEOUT = 300          # seconds for a page (a plan of thousands of changes is big)
START_TIMEOUT = 60
SHOT_MAX_HEIGHT = 4000      # px: a page taller than this is shot one screen high

# What the test asserts on, measured in the page.  Colours are computed
# styles, so a stylesheet the CSP refused shows as the default colours.
DOM_FACTS = r"""
(() => {
  const q = (s) => document.querySelector(s);
  const qa = (s) => Array.from(document.querySelectorAll(s));
  const text = (e) => e ? e.textContent.replace(/\s+/g, ' ').trim() : null;
  const colours = (e) => e ? {color: getComputedStyle(e).color,
                              background: getComputedStyle(e).backgroundColor} : null;
  const row = (label) => {
    const th = qa('table.details th').find((t) => t.textContent === label);
    return th ? text(th.nextElementSibling) : null;
  };
  // What sticks out, named only when something does: measuring every
  // element of a page of thousands of changes (and of closed <details>)
  // is slow.
  const vw = document.documentElement.clientWidth;
  const wider = document.scrollingElement.scrollWidth <= vw ? [] :
      qa('body *').filter((e) => e.getBoundingClientRect().right > vw + 0.5)
      .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).slice(0, 5);
  return {
    title: document.title,
    h1: text(q('h1')),
    summary: text(q('p.summary')),
    decision: row('decision'),
    approvals: row('approvals'),
    needs: row('needs an approver for'),
    decided_by: row('decided by'),
    outcome: row('outcome'),
    errors: qa('ul.errors li').map(text),
    rollout: text(q('p.rollout')),
    rollout_hosts: qa('table.rollout tbody tr').length,
    rollout_failed: qa('table.rollout tbody tr').filter((tr) => tr.querySelector('pre'))
        .map((tr) => text(tr.cells[0]) + ': ' + text(tr.querySelector('pre'))),
    omitted: qa('ul.vd li.note').map(text),
    headings: qa('h2').map(text),
    changes: qa('table.changes tbody tr').length,
    change_lines: qa('table.changes tbody tr').slice(0, 20).map((tr) =>
        [text(tr.cells[1]), Array.from(tr.querySelectorAll('ul.vd li')).map(text)]),
    diff_add: colours(q('pre.diff .add')),
    diff_del: colours(q('pre.diff .del')),
    change_add: colours(q('ul.vd li.add')),
    change_del: colours(q('ul.vd li.del')),
    body_colour: colours(document.body),
    scripts: document.scripts.length,
    style_attributes: qa('[style]').length,
    style_elements: qa('style').length,
    folded_values: qa('details').length,
    wider_than_viewport: wider,
    scroll_width: document.scrollingElement.scrollWidth,
    scroll_height: document.scrollingElement.scrollHeight,
    viewport_width: document.documentElement.clientWidth,
  };
})()
"""


def fail(msg):
    sys.stderr.write("pagecheck: %s\n" % msg)
    sys.exit(2)


# ---- a minimal websocket client (RFC 6455), enough for DevTools ----

class WebSocket:
    def __init__(self, url, timeout):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        if host not in ("127.0.0.1", "localhost"):
            fail("DevTools is not on loopback: %s" % url)
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("websocket: connection closed during the handshake")
            head += chunk
        head, _, self.pending = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            fail("websocket: handshake refused: %r" % head[:80])

    def _read(self, n):
        while len(self.pending) < n:
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                fail("no answer from the browser within %d s" % LOAD_TIMEOUT)
            if not chunk:
                fail("websocket: connection closed")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv(self):
        """One whole text message (fragments joined; pings answered)."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if op == 0x8:
                fail("websocket: closed by the browser")
            if op == 0x9:
                self.sock.sendall(struct.pack("!BB", 0x8A, 0x80 | len(data)) + b"\0\0\0\0" + data)
                continue
            if op in (0x0, 0x1, 0x2):
                message += data
                if b0 & 0x80:
                    return message.decode()


class DevTools:
    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url, LOAD_TIMEOUT)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == mid:
                if "error" in m:
                    fail("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, timeout):
        end = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e["method"] == method:
                del self.events[i]
                return e
        while time.monotonic() < end:
            m = json.loads(self.ws.recv())
            if m.get("method") == method:
                return m
            if "method" in m:
                self.events.append(m)
        fail("no %s within %d s" % (method, timeout))


# ---- the browser ----

def open_ancestors(path):
    """o+x on path's ancestors that lack it (for nobody); returns what to restore."""
    changed = []
    p = os.path.dirname(os.path.abspath(path))
    while p != "/":
        mode = os.stat(p).st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((p, stat.S_IMODE(mode)))
        p = os.path.dirname(p)
    return changed


def start_browser(work, sandbox):
    profile = os.path.join(work, "profile")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    argv = [CHROMIUM, "--headless=new", "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + profile,
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-gpu", "--mute-audio", "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--hide-scrollbars", "--force-device-scale-factor=1", "about:blank"]
    if not sandbox:
        argv.insert(1, "--no-sandbox")
    env = {"PATH": "/usr/bin:/bin", "HOME": profile, "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile}
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(profile):
            os.chown(root, nobody.pw_uid, nobody.pw_gid)
        argv = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                "--clear-groups", "--"] + argv
    log = open(os.path.join(work, "chromium.log"), "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                            start_new_session=True)
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        if proc.poll() is not None:
            return proc, None
        try:
            with open(port_file) as f:
                port = int(f.readline())
            return proc, port
        except (OSError, ValueError):
            time.sleep(0.05)
    return proc, None


def stop_browser(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def page_ws_url(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
        targets = json.load(r)
    for t in targets:
        if t.get("type") == "page":
            return t["webSocketDebuggerUrl"]
    fail("no page target")


def check(dt, url, out, name):
    report = {"status": None, "csp": None, "console": [], "exceptions": [], "log": [],
              "issues": [], "views": {}}
    for domain in ("Page", "Runtime", "Log", "Network", "Audits"):
        dt.call(domain + ".enable")
    for width, height, mobile in VIEWS:
        dt.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                deviceScaleFactor=1, mobile=mobile)
        dt.events = []
        t0 = time.monotonic()
        dt.call("Page.navigate", url=url)
        dt.wait_event("Page.loadEventFired", LOAD_TIMEOUT)
        t1 = time.monotonic()
        # Let the late reports (issues, log entries) arrive.
        dt.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 200))",
                awaitPromise=True)
        dom = dt.call("Runtime.evaluate", expression=DOM_FACTS, returnByValue=True)
        if "exceptionDetails" in dom:
            fail("the measuring script failed: %s" % dom["exceptionDetails"])
        dom = dom["result"]["value"]
        t2 = time.monotonic()
        # The whole page when it is at most SHOT_MAX_HEIGHT px tall, else
        # the screen's worth at its top (laying out a long page again at
        # its full height is slow).
        if dom.pop("scroll_height") <= SHOT_MAX_HEIGHT:
            shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        else:
            shot = dt.call("Page.captureScreenshot", format="png")
        path = os.path.join(out, "%s-%d.png" % (name, width))
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        sys.stderr.write("pagecheck: %s at %d px: loaded in %.1f s, measured in %.1f s, "
                         "screenshot in %.1f s\n" % (name, width, t1 - t0, t2 - t1,
                                                      time.monotonic() - t2))
        for e in dt.events:
            m, p = e["method"], e["params"]
            if m == "Network.responseReceived" and p.get("type") == "Document":
                report["status"] = p["response"]["status"]
                headers = {k.lower(): v for k, v in p["response"]["headers"].items()}
                report["csp"] = headers.get("content-security-policy")
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
                report["console"].append(" ".join(str(a.get("value", a.get("description")))
                                                  for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                report["exceptions"].append(p["exceptionDetails"].get("text"))
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                report["log"].append("%s: %s" % (p["entry"]["source"], p["entry"]["text"]))
            elif m == "Audits.issueAdded":
                report["issues"].append(p["issue"]["code"])
        report["views"][str(width)] = {"scroll_width": dom.pop("scroll_width"),
                                       "viewport_width": dom.pop("viewport_width"),
                                       "screenshot": path, "dom": dom}
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("url")
    args = ap.parse_args()
    if not args.url.startswith("http://127.0.0.1:"):
        fail("only pages on 127.0.0.1: %s" % args.url)
    out = os.path.abspath(args.dir)
    work = os.path.join(out, "chromium-" + args.name)
    os.makedirs(work, exist_ok=True)
    restore = open_ancestors(os.path.join(work, "profile")) if os.geteuid() == 0 else []
    proc = None
    try:
        proc, port = start_browser(work, sandbox=True)
        if port is None:
            stop_browser(proc)
            sys.stderr.write("pagecheck: chromium did not start with its sandbox (see %s); "
                             "running it with --no-sandbox\n" % os.path.join(work, "chromium.log"))
            proc, port = start_browser(work, sandbox=False)
            if port is None:
                fail("chromium did not start; its log: %s" % os.path.join(work, "chromium.log"))
        dt = DevTools(page_ws_url(port))
        report = check(dt, args.url, out, args.name)
    finally:
        if proc:
            stop_browser(proc)
        for p, mode in reversed(restore):
            os.chmod(p, mode)
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
