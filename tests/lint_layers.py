#!/usr/bin/env python3
"""The layer rules of DESIGN.md "Layout", checked on every include.

    cli > bot, controller > state > plan > renderers > model > git > base

A file may include headers of its own folder and of the folders below
it; bot and controller never include each other.  Providers sit beside
state: a provider includes base, model, plan and its own folder; the
layers that drive providers (state, controller, cli) include only a
provider folder's interface header (providers/X/X.h), never a backend's.
Every include names its folder ("base/util.h", "providers/chat/chat.h"),
so what a line includes is plain from the line.  No include cycle between
files or folders.  Basenames are unique (the static library is an ar
archive, whose members are named by basename).

Prints each violation as file:line: message; exits 1 if there was one.
"""
import os
import re
import subprocess
import sys

BELOW = {
    "base": [],
    "git": ["base"],
    "model": ["git", "base"],
    "renderers": ["model", "base"],
    "plan": ["renderers", "model", "git", "base"],
    "state": ["plan", "renderers", "model", "git", "base"],
    "controller": ["state", "plan", "renderers", "model", "git", "base"],
    "bot": ["state", "plan", "renderers", "model", "git", "base"],
    "cli": ["bot", "controller", "state", "plan", "renderers", "model", "git", "base"],
}
# Layers that may include a provider interface header (providers/X/X.h).
DRIVES_PROVIDERS = {"state", "controller", "cli"}
PROVIDER_MAY = ["base", "model", "plan"]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    """('base', None) for reconciler/base/x.c; ('providers', 'chat') for a
    provider; ('renderers', None); None outside the checked tree."""
    parts = path.split("/")
    if parts[0] == "reconciler" and len(parts) == 3:
        return (parts[1], None)
    if parts[0] == "renderers" and len(parts) == 2:
        return ("renderers", None)
    if parts[0] == "providers" and len(parts) == 3:
        return ("providers", parts[1])
    return None


def target_path(name):
    """The repository path an include names (they are relative to the
    include roots -Ireconciler and -I.)."""
    first = name.split("/")[0]
    if first in ("providers", "renderers"):
        return name
    return "reconciler/" + name


def main():
    files = subprocess.check_output(
        ["git", "ls-files", "reconciler/*.[ch]", "renderers/*.[ch]", "providers/*.[ch]"],
        text=True).split()
    files = sorted(set(f for f in files if os.path.exists(f)))
    problems = []
    edges = {}
    seen = {}
    for f in files:
        base = os.path.basename(f)
        if base in seen:
            problems.append("%s:1: basename %s is also %s" % (f, base, seen[base]))
        seen[base] = f
    for f in files:
        where = folder_of(f)
        if where is None:
            problems.append("%s:1: not in a layer folder (DESIGN.md Layout)" % f)
            continue
        layer, prov = where
        edges[f] = []
        with open(f, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                name = m.group(1)
                tgt = target_path(name)
                if not os.path.exists(tgt):
                    problems.append("%s:%d: \"%s\" is not a file under an include root "
                                    "(name the folder: \"base/util.h\")" % (f, n, name))
                    continue
                edges[f].append((tgt, n))
                tl, tp = folder_of(tgt) or (None, None)
                if tl is None:
                    continue
                ok = False
                if layer == "providers":
                    ok = (tl == "providers" and tp == prov) or tl in PROVIDER_MAY
                elif tl == "providers":
                    iface = "providers/%s/%s.h" % (tp, tp)
                    ok = layer in DRIVES_PROVIDERS and tgt == iface
                    if not ok:
                        problems.append("%s:%d: %s may not include %s (only a provider "
                                        "interface, providers/X/X.h, from state, controller "
                                        "or cli)" % (f, n, layer, name))
                        continue
                else:
                    ok = tl == layer or tl in BELOW.get(layer, [])
                if not ok:
                    problems.append("%s:%d: layer %s may not include %s (layer %s): "
                                    "see DESIGN.md Layout" % (f, n, prov and "providers/" + prov
                                                              or layer, name, tl))
    # Cycles between files, then between folders.
    def cycles(graph):
        color, stack, found = {}, [], []

        def visit(u):
            color[u] = 1
            stack.append(u)
            for v in graph.get(u, ()):
                if color.get(v) == 1:
                    found.append(stack[stack.index(v):] + [v])
                elif not color.get(v):
                    visit(v)
            stack.pop()
            color[u] = 2
        for u in sorted(graph):
            if not color.get(u):
                visit(u)
        return found

    # A .c file's edges are its header's (x.c belongs with x.h).
    def unit(path):
        return path[:-2] if path.endswith((".c", ".h")) else path
    fg = {}
    for f, es in edges.items():
        for t, _ in es:
            if unit(t) != unit(f):
                fg.setdefault(unit(f), set()).add(unit(t))
    for c in cycles(fg):
        problems.append("%s.c:1: include cycle: %s" % (c[0], " -> ".join(c)))
    dg = {}
    for f, es in edges.items():
        a = folder_of(f)
        for t, _ in es:
            b = folder_of(t)
            if a and b and a != b:
                dg.setdefault(a, set()).add(b)
    for c in cycles(dg):
        problems.append("%s:1: folder cycle: %s" % (
            "/".join(x for x in c[0] if x), " -> ".join("/".join(x for x in p if x) for p in c)))
    for p in problems:
        print("lint: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
