#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify(3)).

    sdnotify_listen.py SOCKET OUT [APPLIED]

Binds a unix datagram socket at SOCKET and appends every message it
receives to OUT: each assignment on its own line ("READY=1",
"STATUS=applied ..."), then a line "--".  When a message holds READY=1
and APPLIED (a state directory's `applied` file) is given, the line
"applied-at-ready=<its content>" follows, read as the message arrives: it
shows what the controller had applied when it said it was ready.  Runs
until killed.
"""
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    applied = sys.argv[3] if len(sys.argv) > 3 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path + ".tmp")
    # The socket appears under its name only once it is bound.
    os.rename(path + ".tmp", path)
    with open(out, "a", encoding="utf-8") as f:
        while True:
            data = s.recv(65536).decode("utf-8", "replace")
            lines = [l for l in data.split("\n") if l]
            if "READY=1" in lines and applied:
                try:
                    with open(applied, encoding="utf-8") as a:
                        lines.append("applied-at-ready=" + a.read().strip())
                except OSError as e:
                    lines.append("applied-at-ready=(unreadable: %s)" % e.strerror)
            f.write("\n".join(lines) + "\n--\n")
            f.flush()


if __name__ == "__main__":
    main()
