#!/usr/bin/env bash
# bench/health.sh - the health part of `make bench` (DESIGN.md
# "Performance targets": one evaluation of a check over 1,000 hosts against
# a local graphite-web in < 1 s, batching targets per request, and it never
# stalls the event loop).
#
# A private Graphite (tests/e2e/health/graphite.bash: carbon-cache and
# graphite-web under gunicorn, 2 workers) holds five minutes of points for
# 1,000 hosts (role web of a generated inventory); the check is
#   sumSeries(canary.{host_short}.received), avg < 50 over 5min
# Measured:
#
#   one evaluation   `firebreak health --config C` (a cold process: read
#                    the applied inventory, fork the evaluation child, 10
#                    requests of 100 targets, 4 at a time, parse, judge), its
#                    own timing line; best and worst of $REPEAT
#   in the loop      the controller evaluating every second for $SECONDS_RUN
#                    s: each evaluation's time, the longest loop turn (work
#                    between two polls) while the child asked, and the turn
#                    that reads and judges the answer (all from its log);
#                    and from outside, the longest the loop took to answer
#                    /healthz meanwhile (a probe on one keep-alive
#                    connection, a request every 2 ms: the loop answers HTTP
#                    itself), which also counts waiting for a core while
#                    graphite-web's workers use both
#
# Prints a Markdown table on stdout (progress on stderr).  Environment:
# FIREBREAK (default build/firebreak), HOSTS (default 1000).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FIREBREAK=${FIREBREAK:-$ROOT/build/firebreak}
HOSTS=${HOSTS:-1000}
REPEAT=5
SECONDS_RUN=20

log() { printf 'bench health: %s\n' "$*" >&2; }
die() { printf 'bench health: %s\n' "$*" >&2; exit 3; }

for t in carbon-cache gunicorn curl jq git; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing: run 'make deps'"
done
[ -x "$FIREBREAK" ] || die "$FIREBREAK is missing: run make"

# shellcheck source=../tests/e2e/health/graphite.bash
. "$ROOT/tests/e2e/health/graphite.bash"

WORK=$(mktemp -d /tmp/firebreak-bench-health.XXXXXX)
# graphite runs as nobody when we are root: it must reach its directory.
chmod 755 "$WORK"
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	graphite_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

log "graphite in $WORK/graphite"
graphite_start "$WORK/graphite"

log "inventory: $HOSTS hosts of role web"
R=$WORK/repo
cp -r "$ROOT/examples/inventory" "$R"
for ((i = 0; i < HOSTS; i++)); do
	printf 'role: web\nstate: active\n' >"$R/hosts/$(printf 'h%04d' "$i").bench.example.yaml"
done
git -C "$R" init -q -b main
git -C "$R" add -A
GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench \
    GIT_COMMITTER_EMAIL=bench@example.com git -C "$R" commit -q -m "bench inventory"
"$FIREBREAK" apply --repo "$R" --state "$WORK/state" >/dev/null

log "feeding 5 minutes of points for $HOSTS hosts"
now=$(date +%s)
for ((i = 0; i < HOSTS; i++)); do
	for ((t = now - 295; t < now; t += 10)); do
		printf 'canary.h%04d.received 100 %d\n' "$i" "$t"
	done
done | graphite_feed
graphite_wait "canary.h$(printf '%04d' $((HOSTS - 1))).received" 25
graphite_wait "canary.h0000.received" 25

port=$(graphite_free_port)
cat >"$WORK/fb.yaml" <<CONF
repo: $R
state: $WORK/state
listen: 127.0.0.1:$port
health:
  source: {type: graphite, url: "$GRAPHITE_URL", timeout: 10}
  every: 1
  checks:
    - name: canary-data
      roles: [web]
      query: "sumSeries(canary.{host_short}.received)"
      over: 5min
      fail_if: "avg < 50"
CONF

log "one evaluation, $REPEAT times (firebreak health)"
evals=()
for ((k = 0; k < REPEAT; k++)); do
	line=$("$FIREBREAK" health --config "$WORK/fb.yaml" 2>&1 >"$WORK/health.out" | tail -1) || true
	pass=$(grep -c ' pass ' "$WORK/health.out" || true)
	[ "$pass" -ge "$HOSTS" ] || die "only $pass of $HOSTS hosts passed: $line"
	evals+=("$(sed -n 's/.*: \([0-9.]*\) s, .*/\1/p' <<<"$line")")
	requests=$(sed -n 's/.* s, \([0-9]*\) request.*/\1/p' <<<"$line")
done
best=$(printf '%s\n' "${evals[@]}" | sort -n | head -1)
worst=$(printf '%s\n' "${evals[@]}" | sort -n | tail -1)

log "the controller evaluating every second for $SECONDS_RUN s, /healthz probed"
"$FIREBREAK" run --config "$WORK/fb.yaml" 2>"$WORK/run.log" &
PID=$!
for _ in $(seq 200); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.05
done
probe=$(/usr/bin/python3 - "$port" "$SECONDS_RUN" <<'PY'
import http.client, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
worst = n = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    t = time.monotonic()
    try:
        c.request("GET", "/healthz")
        c.getresponse().read()
    except Exception:
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        continue
    worst = max(worst, time.monotonic() - t)
    n += 1
    time.sleep(0.002)
print("%d %.1f" % (n, worst * 1000))
PY
)
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
loop_evals=$(sed -n "s/.*canary-data over [0-9]* hosts: \([0-9.]*\) s.*/\1/p" "$WORK/run.log")
turn_max=$(sed -n 's/.*longest turn \([0-9.]*\) ms.*/\1/p' "$WORK/run.log" | sort -n | tail -1)
turn_cpu=$(sed -n 's/.*longest turn [0-9.]* ms, \([0-9.]*\) ms of CPU.*/\1/p' "$WORK/run.log" | sort -n | tail -1)
judge_max=$(sed -n 's/.*judging \([0-9.]*\) ms.*/\1/p' "$WORK/run.log" | sort -n | tail -1)
nloop=$(printf '%s\n' "$loop_evals" | grep -c . || true)
loop_best=$(printf '%s\n' "$loop_evals" | sort -n | head -1)
loop_worst=$(printf '%s\n' "$loop_evals" | sort -n | tail -1)
read -r probes probe_ms <<<"$probe"

cat <<TABLE
| health ($HOSTS hosts, local graphite-web) | result | target |
|---|---|---|
| one evaluation (\`firebreak health\`, cold process, $requests requests) | best ${best} s, worst ${worst} s of $REPEAT | < 1 s |
| evaluations in the running controller ($nloop in ${SECONDS_RUN} s) | best ${loop_best} s, worst ${loop_worst} s | < 1 s |
| longest loop turn while an evaluation ran (its log): wall / the controller's CPU | ${turn_max} ms / ${turn_cpu} ms | loop never blocked > 10 ms |
| reading and judging an evaluation's answer (one loop turn) | ${judge_max} ms | (part of the above) |
| longest /healthz answer meanwhile, from outside ($probes requests) | ${probe_ms} ms | (with graphite-web on the same 2 cores) |
TABLE
