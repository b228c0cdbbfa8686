#!/usr/bin/env python3
"""dnsproxy.py PORTFILE UPSTREAM_PORT LOG MODE [ARGS]: a DNS-over-TCP proxy
on 127.0.0.1 for the rfc2136 tests, between firebreak and BIND.  It
listens on a free port (written to PORTFILE once it listens), forwards
every connection to 127.0.0.1:UPSTREAM_PORT, and logs one line per
message the client sends ("conn 1: opcode QUERY" / "opcode UPDATE").

MODE
  pass                  forward everything
  cut N                 on the first connection, forward the server's
                        first N bytes and then close both sides: a zone
                        transfer cut mid-way
  race KEYFILE SCRIPT   hold the client's first UPDATE, run
                        `nsupdate -k KEYFILE < SCRIPT` straight against
                        the server (someone else changing the zone between
                        firebreak's read and its update), then forward it
"""
import socket
import subprocess
import sys
import threading

OPCODES = {0: "QUERY", 4: "NOTIFY", 5: "UPDATE"}


def main():
    portfile, upstream, logpath, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    args = sys.argv[5:]
    lock = threading.Lock()
    state = {"conns": 0, "raced": False}
    log = open(logpath, "a", buffering=1)

    def say(line):
        with lock:
            log.write(line + "\n")

    def recv_exact(s, n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def client_to_server(cn, c, u):
        try:
            while True:
                pre = recv_exact(c, 2)
                if pre is None:
                    break
                msg = recv_exact(c, int.from_bytes(pre, "big"))
                if msg is None:
                    break
                op = (msg[2] >> 3) & 0xF if len(msg) > 2 else -1
                say("conn %d: opcode %s" % (cn, OPCODES.get(op, str(op))))
                if mode == "race" and op == 5:
                    with lock:
                        go = not state["raced"]
                        state["raced"] = True
                    if go:
                        with open(args[1]) as script:
                            r = subprocess.run(["nsupdate", "-k", args[0]], stdin=script)
                        say("conn %d: raced an nsupdate first (exit %d)" % (cn, r.returncode))
                u.sendall(pre + msg)
        except OSError:
            pass
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def server_to_client(cn, c, u, limit):
        sent = 0
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    c.sendall(data[:limit - sent])
                    say("conn %d: cut after %d bytes" % (cn, limit))
                    break
                c.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = ls.accept()
        state["conns"] += 1
        cn = state["conns"]
        u = socket.create_connection(("127.0.0.1", upstream))
        limit = int(args[0]) if mode == "cut" and cn == 1 else None
        threading.Thread(target=client_to_server, args=(cn, c, u), daemon=True).start()
        threading.Thread(target=server_to_client, args=(cn, c, u, limit), daemon=True).start()


main()
