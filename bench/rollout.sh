#!/usr/bin/env bash
# bench/rollout.sh - a rollout's own overhead (DESIGN.md "Performance
# targets"): 1,000 hosts, an orchestrator that returns at once (/bin/true
# through the exec orchestrator: Puppet's "unchanged"), parallel 50, a
# canary of 1 then one batch of the rest, staged.  It reports
#
#   per host     the rollout's wall time (first start to last end, from the
#                rollout's own record) divided by the hosts: what firebreak
#                adds per host, process creation included (target < 2 ms)
#   slot gap     for every start that was not a batch's first wave, the time
#                since the last run ended before it: how long a free slot sat
#                idle while a host waited (target: ~0, "no host waits for a
#                slot while one is free"); p50 and max
#   concurrency  the most runs in flight at once (must be <= 50)
#   /healthz     the slowest of the answers to a curl loop during the
#                rollout (target < 50 ms: the loop stays responsive)
#   chat         the same for chat: a Mattermost slash command (`rollout`)
#                posted every 0.1 s, timed to its "on it" answer
#   longest turn the loop's own longest turn from the rollout's start, as
#                the controller logs it when the rollout is over (no curl,
#                no scheduling of the probe in it)
#
# The probes start before the commit, so they also see the commit's own
# turn (plan, release switch of 1,000 hosts, the rollout written).
# Environment: FIREBREAK (the binary), BENCH_ROLLOUT_HOSTS (default 1000),
# BENCH_ROLLOUT_PARALLEL (default 50).  Prints a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FIREBREAK=${FIREBREAK:-$ROOT/build/firebreak}
N=${BENCH_ROLLOUT_HOSTS:-1000}
P=${BENCH_ROLLOUT_PARALLEL:-50}
W=$(mktemp -d /tmp/fb-bench-rollout.XXXXXX)
pid= sinkpid=
stop() {
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	[ -z "$sinkpid" ] || kill "$sinkpid" 2>/dev/null || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap stop EXIT
log() { printf 'bench: %s\n' "$*" >&2; }

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

log "rollout: $N hosts, parallel $P"
R=$W/repo
mkdir -p "$R/hosts" "$R/roles" "$R/services"
printf 'classes: [profile::web]\nservices: [app]\n' >"$R/roles/web.yaml"
printf 'version: 1.0.0\n' >"$R/services/app.yaml"
printf 'auto: [pin.modify]\n' >"$R/policy.yaml"
for i in $(seq -w 1 "$N"); do
	printf 'role: web\n' >"$R/hosts/web-$i.example.com.yaml"
done
git -C "$R" init -q -b main
git -C "$R" add -A
git -C "$R" commit -q -m "$N web hosts"
"$FIREBREAK" apply --repo "$R" --state "$W/state" >/dev/null
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
# Mattermost's side: a sink that takes the webhook's posts and the answers
# to the response_url.
sink=$(free_port)
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$sink" &
sinkpid=$!
printf 'bench-token-0123456789\n' >"$W/mm-token"
chmod 600 "$W/mm-token"
cat >"$W/fb.yaml" <<EOF
repo: $R
state: $W/state
listen: 127.0.0.1:$port
chat:
  - {type: webhook, url: "http://127.0.0.1:$sink/hook", flavor: mattermost, command_token_file: $W/mm-token}
rollout:
  orchestrator: {type: exec, argv: [/bin/true, "{host}"], timeout: 60}
  canary: 1
  batch: "100%"
  parallel: $P
  staged: true
EOF
"$FIREBREAK" run --config "$W/fb.yaml" --timings 2>"$W/run.log" &
pid=$!
for _ in $(seq 200); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
kill -0 "$pid" 2>/dev/null || { cat "$W/run.log" >&2; log "the controller did not start"; exit 1; }
# /healthz with nothing to do, for comparison (the machine is shared).
for _ in $(seq 30); do
	curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/healthz" >>"$W/healthz-idle" || true
done
# /healthz all along, each answer's own time.
(
	while [ ! -e "$W/done" ]; do
		curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/healthz" >>"$W/healthz" || true
	done
) &
probe=$!
# A chat command every 0.1 s, each with its own trigger_id, timed to the
# "on it" answer.
(
	k=0
	resp=http%3A%2F%2F127.0.0.1%3A$sink%2Fresp
	while [ ! -e "$W/done" ]; do
		k=$((k + 1))
		curl -s -o /dev/null -w '%{time_total}\n' --data "channel_id=c1&channel_name=ops&command=%2Ffirebreak&text=rollout&token=bench-token-0123456789&trigger_id=bench$k&user_id=u1&user_name=bench&response_url=$resp" \
		    "http://127.0.0.1:$port/mattermost/command" >>"$W/chat" || true
		sleep 0.1
	done
) &
chatprobe=$!
sed -i 's/^version: 1.0.0/version: 1.0.1/' "$R/services/app.yaml"
git -C "$R" commit -q -am "deploy app 1.0.1"
# The journal goes when the rollout is over (cheaper to watch than the record).
for _ in $(seq 100); do [ -e "$W/state/rollouts/2.log" ] && break; sleep 0.05; done
for _ in $(seq 6000); do
	[ -e "$W/state/rollouts/2.log" ] || break
	sleep 0.02
done
touch "$W/done"
wait "$probe" "$chatprobe" 2>/dev/null || true
"$FIREBREAK" rollout --config "$W/fb.yaml" --json 2 >"$W/rollout.json"
for _ in $(seq 100); do grep -q "longest turn while it ran" "$W/run.log" && break; sleep 0.05; done
python3 - "$W/rollout.json" "$W/healthz" "$P" "$W/healthz-idle" "$W/chat" "$W/run.log" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
P = int(sys.argv[3])
hosts = r["hosts"]
assert r["status"] == "done", r["status"]
runs = sorted((h["started"], h["started"] + h["seconds"], h["group"]) for h in hosts)
n = len(runs)
wall = max(e for _, e, _ in runs) - min(s for s, _, _ in runs)
ends = sorted(e for _, e, _ in runs)
# The slot gap: a start that had to wait for a run to end (every slot
# busy) comes right after some end; the time since the latest end before
# it is how long a free slot sat idle.  A batch's first wave had free
# slots from the start: it is left out.
gaps = []
group_start = {}
for s, e, g in runs:
    group_start.setdefault(g, []).append(s)
import bisect
for s, e, g in runs:
    first = sorted(group_start[g])[:P]
    if s in first:
        continue
    k = bisect.bisect_right(ends, s)
    if k:
        gaps.append(s - ends[k - 1])
gaps.sort()
conc = 0
ev = sorted([(s, 1) for s, _, _ in runs] + [(e, -1) for _, e, _ in runs])
cur = 0
for _, d in ev:
    cur += d
    conc = max(conc, cur)
hz = sorted(float(x) for x in open(sys.argv[2]) if x.strip())
idle = sorted(float(x) for x in open(sys.argv[4]) if x.strip())
starts = sorted(s for s, _, _ in runs)
iv = sorted(b - a for a, b in zip(starts, starts[1:]))
p50 = gaps[len(gaps) // 2] * 1000 if gaps else 0.0
gmax = gaps[-1] * 1000 if gaps else 0.0
print("| measure | value | target |")
print("| --- | --- | --- |")
print(f"| rollout of {n} hosts, parallel {P} (wall, first start to last end) | {wall:.2f} s | |")
print(f"| per host | {wall / n * 1000:.2f} ms | < 2 ms: {'ok' if wall / n < 0.002 else 'MISSED'} |")
print(f"| most runs at once | {conc} | <= {P}: {'ok' if conc <= P else 'MISSED'} |")
print(f"| time between two starts | p50 {iv[len(iv) // 2] * 1000:.2f} ms, p99 {iv[len(iv) * 99 // 100] * 1000:.2f} ms | |")
if conc < P:
    print(f"| a host waiting while a slot was free | never: at most {conc} of {P} slots were ever busy; each host started as soon as the one before it was spawned | none |")
else:
    print(f"| slot gap (a free slot idle while a host waited) | p50 {p50:.2f} ms, max {gmax:.2f} ms | ~0 |")
if idle:
    print(f"| /healthz with no rollout ({len(idle)} requests, same machine) | max {idle[-1] * 1000:.1f} ms, p50 {idle[len(idle) // 2] * 1000:.1f} ms | |")
if hz:
    over = sum(1 for x in hz if x >= 0.05)
    print(f"| /healthz during the rollout ({len(hz)} requests) | max {hz[-1] * 1000:.1f} ms, p90 {hz[len(hz) * 9 // 10] * 1000:.1f} ms, p50 {hz[len(hz) // 2] * 1000:.1f} ms; {over} of {len(hz)} at 50 ms or more | < 50 ms: {'ok' if hz[-1] < 0.05 else 'MISSED'} |")
import os, re
ch = sorted(float(x) for x in open(sys.argv[5]) if x.strip()) if os.path.exists(sys.argv[5]) else []
if ch:
    over = sum(1 for x in ch if x >= 0.05)
    print(f"| chat answers (\"on it\") during the rollout ({len(ch)} commands) | max {ch[-1] * 1000:.1f} ms, p90 {ch[len(ch) * 9 // 10] * 1000:.1f} ms, p50 {ch[len(ch) // 2] * 1000:.1f} ms; {over} of {len(ch)} at 50 ms or more | < 50 ms: {'ok' if ch[-1] < 0.05 else 'MISSED'} |")
m = re.search(r"longest turn while it ran: ([0-9.]+) ms", open(sys.argv[6]).read())
if m:
    t = float(m.group(1))
    print(f"| the loop's longest turn from the rollout's start (its own log) | {t:.1f} ms | < 50 ms: {'ok' if t < 50 else 'MISSED'} |")
m = re.search(r"commit to plan ([0-9.]+) ms", open(sys.argv[6]).read())
r2 = re.search(r"timing: release ([0-9.]+) ms", open(sys.argv[6]).read())
if m and r2:
    print(f"| the commit's own turn before it (--timings): plan, then the release switch | {float(m.group(1)):.1f} ms + {float(r2.group(1)):.1f} ms | |")
PY
