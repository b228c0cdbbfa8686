#!/usr/bin/env python3
"""bench/ha.py - HA (DESIGN.md "Performance targets", issue 11):

  failover   kill -9 of the leader, then a commit at once: the time until
             the successor's plan for it is in chat (its console log),
             over BENCH_HA_RUNS runs (default 20); median and max.  Target:
             lease_seconds + 2 s.
  latency    a one-file commit (an auto-applied pin) until its plan is in
             chat, HA off (one controller, no `ha:`) against HA on (two
             controllers on a 3-member etcd); median of BENCH_HA_COMMITS
             (default 20).  Target: the etcd round-trips add <= 20 ms.

Everything runs on loopback ports in a temporary directory: a real
3-member etcd (etcd-server), the example inventory, console chat (a line
per message, written when delivered).  Prints a Markdown table.
Environment: FIREBREAK (the binary), BENCH_HA_LEASE (default 2).
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FB = os.environ.get("FIREBREAK", os.path.join(ROOT, "build", "firebreak"))
RUNS = int(os.environ.get("BENCH_HA_RUNS", "20"))
COMMITS = int(os.environ.get("BENCH_HA_COMMITS", "20"))
LEASE = int(os.environ.get("BENCH_HA_LEASE", "2"))
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
           GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def git(*args, cwd):
    subprocess.run(["git"] + list(args), cwd=cwd, env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Bench:
    def __init__(self, w):
        self.w = w
        self.procs = {}
        self.etcd = []
        self.n = 0

    def start_etcd(self):
        cl, peers, self.clients = [], [], []
        for i in range(3):
            self.clients.append(port())
            peers.append(port())
            cl.append("e%d=http://127.0.0.1:%d" % (i, peers[i]))
        for i in range(3):
            out = open(os.path.join(self.w, "etcd%d.log" % i), "w")
            self.etcd.append(subprocess.Popen(
                ["etcd", "--name", "e%d" % i, "--data-dir", os.path.join(self.w, "etcd%d" % i),
                 "--listen-client-urls", "http://127.0.0.1:%d" % self.clients[i],
                 "--advertise-client-urls", "http://127.0.0.1:%d" % self.clients[i],
                 "--listen-peer-urls", "http://127.0.0.1:%d" % peers[i],
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peers[i],
                 "--initial-cluster", ",".join(cl), "--initial-cluster-state", "new",
                 "--heartbeat-interval", "50", "--election-timeout", "500"],
                stdout=out, stderr=out))
        for _ in range(200):
            r = subprocess.run(["curl", "-s", "--max-time", "1", "-X", "POST",
                                "http://127.0.0.1:%d/v3/kv/put" % self.clients[0],
                                "-d", '{"key":"cA==","value":"MQ=="}'], capture_output=True)
            if b"revision" in r.stdout:
                return
            time.sleep(0.1)
        raise SystemExit("etcd did not come up")

    def repo(self):
        self.work = os.path.join(self.w, "work")
        self.bare = os.path.join(self.w, "inv.git")
        shutil.copytree(os.path.join(ROOT, "examples", "inventory"), self.work)
        git("init", "-q", "-b", "main", cwd=self.work)
        git("add", "-A", cwd=self.work)
        git("commit", "-qm", "initial", cwd=self.work)
        git("clone", "-q", "--bare", self.work, self.bare, cwd=self.w)
        git("remote", "add", "b", self.bare, cwd=self.work)

    def config(self, name, ha):
        st = os.path.join(self.w, "st-" + name)
        if not os.path.isdir(st):
            subprocess.run([FB, "apply", "--repo", self.bare, "--state", st], check=True,
                           stdout=subprocess.DEVNULL)
        path = os.path.join(self.w, name + ".yaml")
        with open(path, "w") as f:
            f.write("repo: %s\nbranch: main\nstate: %s\n" % (self.bare, st))
            f.write("chat:\n  - {type: console, path: %s}\n" % self.chat(name))
            if ha:
                f.write("ha:\n  etcd: [%s]\n  name: %s\n  lease_seconds: %d\n" % (
                    ", ".join('"http://127.0.0.1:%d"' % p for p in self.clients), name, LEASE))
        return path

    def chat(self, name):
        return os.path.join(self.w, "chat-%s.log" % name)

    def start(self, name, ha=True):
        cfg = self.config(name, ha)
        err = open(os.path.join(self.w, "run-%s.log" % name), "a")
        self.procs[name] = subprocess.Popen([FB, "run", "--config", cfg], stderr=err,
                                            stdout=subprocess.DEVNULL)

    def leader(self):
        for _ in range(2000):
            for name in self.procs:
                with open(os.path.join(self.w, "run-%s.log" % name)) as f:
                    lines = [l for l in f if "running on" in l or "stops leading" in l]
                if lines and "as the leader" in lines[-1] and self.procs[name].poll() is None:
                    return name
            time.sleep(0.01)
        raise SystemExit("no leader")

    def commit(self):
        """An auto-applied pin change, pushed; returns (time, its line)."""
        self.n += 1
        ver = "9.%d.0" % self.n
        p = os.path.join(self.work, "services", "app.yaml")
        with open(p) as f:
            text = f.read()
        import re
        text = re.sub(r"(?m)^version: .*$", "version: " + ver, text)
        with open(p, "w") as f:
            f.write(text)
        git("commit", "-qam", "deploy app " + ver, cwd=self.work)
        t = time.monotonic()
        git("push", "-q", "b", "main", cwd=self.work)
        return t, '"deploy app %s"' % ver

    def wait_line(self, needle, names):
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for name in names:
                try:
                    with open(self.chat(name)) as f:
                        if needle in f.read():
                            return time.monotonic()
                except FileNotFoundError:
                    pass
            time.sleep(0.0005)
        raise SystemExit("no plan for %s in chat" % needle)

    def stop(self):
        for p in list(self.procs.values()) + self.etcd:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.procs.values()) + self.etcd:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def latency(b, names):
    """Commit -> plan in chat, ms, COMMITS times (after 2 warm-up commits)."""
    out = []
    for i in range(COMMITS + 2):
        t0, needle = b.commit()
        t1 = b.wait_line(needle, names)
        if i >= 2:
            out.append((t1 - t0) * 1000)
        time.sleep(0.3)
    return out


def main():
    w = tempfile.mkdtemp(prefix="fb-bench-ha.")
    b = Bench(w)
    try:
        b.repo()
        # HA off: one controller, its state alone.
        log("latency, HA off")
        b.start("solo", ha=False)
        time.sleep(1.5)
        off = latency(b, ["solo"])
        b.procs["solo"].send_signal(signal.SIGTERM)
        b.procs["solo"].wait()
        del b.procs["solo"]
        # HA on: two controllers on a 3-member etcd.
        b.start_etcd()
        b.start("a")
        time.sleep(0.5)
        b.start("b")
        b.leader()
        time.sleep(1)
        log("latency, HA on")
        on = latency(b, ["a", "b"])
        log("failover, %d runs" % RUNS)
        fo = []
        for i in range(RUNS):
            l = b.leader()
            other = "b" if l == "a" else "a"
            time.sleep(LEASE)     # the follower is settled
            t0 = time.monotonic()
            b.procs[l].kill()
            b.procs[l].wait()
            _, needle = b.commit()
            t1 = b.wait_line(needle, [other])
            fo.append(t1 - t0)
            log("failover %d: %.2f s" % (i + 1, t1 - t0))
            runlog = os.path.join(w, "run-%s.log" % l)
            before = open(runlog).read().count("running on")
            b.start(l)
            # Until the restarted one says it follows (its log's last line
            # about its role must not be the killed process's).
            for _ in range(2000):
                if open(runlog).read().count("running on") > before:
                    break
                time.sleep(0.01)
        print("| HA (issue 11) | value | target |")
        print("|---|---|---|")
        print("| failover (kill -9 -> successor's plan in chat), median of %d | %.2f s | "
              "lease_seconds + 2 = %d s |" % (RUNS, statistics.median(fo), LEASE + 2))
        print("| failover, max | %.2f s | %d s |" % (max(fo), LEASE + 2))
        print("| commit -> plan in chat, HA off, median of %d | %.1f ms | |" % (
            COMMITS, statistics.median(off)))
        print("| commit -> plan in chat, HA on, median of %d | %.1f ms | |" % (
            COMMITS, statistics.median(on)))
        print("| what HA adds (medians) | %.1f ms | <= 20 ms |" % (
            statistics.median(on) - statistics.median(off)))
    finally:
        b.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
