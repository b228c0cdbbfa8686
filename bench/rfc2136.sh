#!/usr/bin/env bash
# bench/rfc2136.sh - the rfc2136 part of `make bench` (DESIGN.md
# "Performance targets": a one-record change to a 10,000-record zone on a
# local BIND applies and is verified in < 1 s; a 5,000-record change is
# split and applied without any message refused for size).
#
# A private BIND (tests/e2e/dns/bind.bash) holds example.com with the
# example inventory's records plus 10,000 more; the controller runs with
# an rfc2136 entry and a policy that auto-applies dns changes.  Measured,
# each $REPEAT times (best, and the worst for information):
#
#   one record   a commit changing one A record of the 10,000: the
#                provider's own time (read the zone by AXFR and compare,
#                UPDATE, verify by AXFR: what its report says) and the
#                wall time from the commit to the plan's outcome "applied"
#                (which adds noticing the commit, planning and the release)
#   5,000 added  one commit adding 5,000 records (to example.net: a YAML
#                file holds at most 100,000 nodes): time, UPDATE messages,
#                and whether BIND refused any (its log)
#
# Prints a Markdown table on stdout (progress on stderr).  Environment:
# FIREBREAK (default build/firebreak).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FIREBREAK=${FIREBREAK:-$ROOT/build/firebreak}
REPEAT=3

log() { printf 'bench rfc2136: %s\n' "$*" >&2; }
die() { printf 'bench rfc2136: %s\n' "$*" >&2; exit 3; }

for t in named dig rndc tsig-keygen python3 git jq; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing: run 'make deps'"
done
[ -x "$FIREBREAK" ] || die "$FIREBREAK is missing: run make"

# shellcheck source=../tests/e2e/dns/bind.bash
. "$ROOT/tests/e2e/dns/bind.bash"

# named -u nobody must reach its directory.
WORK=$(mktemp -d /tmp/firebreak-bench-dns.XXXXXX)
chmod 755 "$WORK"
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	bind_stop
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

R=$WORK/repo S=$WORK/state C=$WORK/firebreak.yaml CHAT=$WORK/chat.log
log "BIND and a 10,000-record zone"
bind_start "$WORK/bind" example.com example.net
cp -r "$ROOT/examples/inventory" "$R"
# dns changes apply at once: what is measured is the apply, not a person.
sed -i 's/^auto: \[pin.modify, enc.modify\]/auto: [pin.modify, enc.modify, dns.add, dns.modify]/' "$R/policy.yaml"
python3 - "$R/dns/example.com.yaml" <<'EOF'
import sys
with open(sys.argv[1], "a") as f:
    for i in range(10000):
        f.write("  - {name: r%05d, type: A, value: 10.50.%d.%d}\n" % (i, i // 250, i % 250 + 1))
EOF
git -C "$R" init -q -b main
git -C "$R" add -A
git -C "$R" commit -q -m "10,000 records"
"$FIREBREAK" apply --repo "$R" --state "$S" >/dev/null
for z in example.com example.net; do
	python3 "$ROOT/tests/e2e/dns/tf2zone.py" "$z" "$S/current/terraform/route53/$z.tf.json" 1000 \
	    >"$WORK/$z.zone"
	bind_load "$z" "$WORK/$z.zone"
done
cp "$BIND_DIR/fbkey.secret" "$WORK/tsig.key"
chmod 600 "$WORK/tsig.key"
cat >"$C" <<EOF
repo: $R
branch: main
state: $S
chat:
  - {type: console, path: $CHAT}
apply:
  - {type: rfc2136, kinds: [dns], server: "127.0.0.1:$DNS_PORT", timeout: 120,
     tsig: {name: fbkey, algorithm: hmac-sha256, secret_file: $WORK/tsig.key}}
EOF
"$FIREBREAK" run --config "$C" 2>"$WORK/run.log" &
PID=$!
for _ in $(seq 200); do
	[ -S "$S/run/control.sock" ] && break
	sleep 0.05
done

now() { date +%s.%N; }

# commit_and_wait MESSAGE: commit the work tree; the wall time until the
# plan it makes is applied goes to WALL, the provider's report line to LINE.
commit_and_wait() {
	local t0 id o= before
	before=$(last_plan)
	t0=$(now)
	git -C "$R" commit -q -am "$1"
	for _ in $(seq 2400); do
		id=$(last_plan)
		[ "$id" -gt "$before" ] || { sleep 0.01; continue; }
		o=$(jq -r .outcome "$S/plans/$id.json" 2>/dev/null || true)
		case $o in
		applied) break ;;
		failed|invalid) cat "$CHAT" >&2; die "plan $id $o" ;;
		esac
		sleep 0.02
	done
	[ "$o" = applied ] || die "plan $id did not end"
	WALL=$(python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(now)")
	LINE=$(grep "plan $id: apply rfc2136 done" "$CHAT" | tail -1 || true)
}

last_plan() {
	ls "$S/plans" | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1
}

# The provider's own seconds, from its report: "...; 0.12 s (read ...".
own_time() {
	printf '%s\n' "$LINE" | sed -n 's/.*; \([0-9.]*\) s (read and compare \([0-9.]*\), update \([0-9.]*\), verify \([0-9.]*\)).*/\1 \2 \3 \4/p' | grep . ||
	    die "no report in: $LINE"
}

one_best= one_worst= wall_best= parts=
for i in $(seq $REPEAT); do
	log "one-record change $i"
	sed -i "s/{name: r05000, type: A, value: [0-9.]*}/{name: r05000, type: A, value: 10.60.0.$i}/" \
	    "$R/dns/example.com.yaml"
	commit_and_wait "r05000 -> 10.60.0.$i"
	wall=$WALL
	read -r own read upd ver < <(own_time)
	[ "$(dig @127.0.0.1 -p "$DNS_PORT" +short r05000.example.com A)" = "10.60.0.$i" ] ||
	    die "BIND does not answer the change"
	if [ -z "$one_best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$own" "$one_best"; then
		one_best=$own parts="read and compare $read s, update $upd s, verify $ver s"
	fi
	if [ -z "$one_worst" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" "$own" "$one_worst"; then
		one_worst=$own
	fi
	if [ -z "$wall_best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$wall" "$wall_best"; then
		wall_best=$wall
	fi
done

# Into the other zone: one YAML file holds at most 100,000 nodes, and
# example.com's is near that already.
log "5,000 records in one commit"
python3 - "$R/dns/example.net.yaml" <<'EOF'
import sys
with open(sys.argv[1], "a") as f:
    for i in range(5000):
        f.write("  - {name: n%05d, type: A, value: 10.70.%d.%d}\n" % (i, i // 250, i % 250 + 1))
EOF
commit_and_wait "5,000 records"
big_wall=$WALL
read -r big_own _ big_upd _ < <(own_time)
msgs=$(printf '%s\n' "$LINE" | sed -n 's/.* in \([0-9]*\) UPDATE message.*/\1/p')
refused=$(grep -ci 'refused\|too large\|too big' "$BIND_DIR/named.log" || true)
[ "$(dig @127.0.0.1 -p "$DNS_PORT" +short n04999.example.net A)" = "10.70.19.250" ] ||
    die "BIND does not answer the 5,000th record"

verdict=$(python3 -c "import sys; print('met' if float(sys.argv[1]) < 1.0 else 'NOT met')" "$one_best")
cat <<EOF

### rfc2136 against a local BIND $(named -v | awk '{print $2}')

| what | result | target |
|---|---|---|
| one record of a 10,000-record zone: the provider (AXFR, compare, UPDATE, verify AXFR) | ${one_best} s best, ${one_worst} s worst of $REPEAT ($parts) | < 1 s: $verdict |
| the same, commit to plan outcome "applied" (wall) | ${wall_best} s best of $REPEAT | (info) |
| 5,000 records added in one commit | ${big_own} s (update ${big_upd} s), $msgs UPDATE messages, $refused refused by BIND | split, none refused |
| the same, commit to "applied" (wall) | ${big_wall} s | (info) |
EOF
