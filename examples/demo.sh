#!/usr/bin/env bash
# make demo: firebreak's main job on the bundled example inventory.
#
# Seeds a git repository from examples/inventory under demo/ (git-ignored),
# applies it once (the bootstrap an operator does by hand), then starts the
# controller on it with its chat on this terminal and plays a short scene:
# a version bump is committed and auto-applied, a DNS change is committed
# and posted for approval, then approved from the shell and applied.
# Afterwards the controller keeps running (on a terminal) so you can commit
# or approve from another one; DEMO_ONCE=1 (or no terminal) stops after
# the scene.  Re-runnable: it starts from scratch every time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fb=${FIREBREAK:-$top/build/firebreak}
demo=$top/demo
repo=$demo/inventory
state=$demo/state
conf=$demo/firebreak.yaml
pid=

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$top/||g"; "$@"; }
commit() {
	printf '$ git commit -am "%s"\n' "$1"
	git -C "$repo" -c user.name="Alice Example" -c user.email=alice@example.com \
	    commit -q -am "$1"
}
stop() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap stop EXIT
# The plan file appears when the controller has planned the commit.
wait_plan() {
	for _ in $(seq 200); do
		[ -f "$state/plans/$1.json" ] && grep -q '"outcome"' "$state/plans/$1.json" && return 0
		sleep 0.05
	done
	echo "demo: plan $1 did not appear" >&2
	return 1
}

rm -rf "$demo"
mkdir -p "$demo"
cp -r "$top/examples/inventory" "$repo"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name="Alice Example" -c user.email=alice@example.com \
    commit -q -m "initial inventory"
cat >"$conf" <<EOF
repo: $repo
branch: main
state: $state
chat:
  - {type: console, path: "-"}      # the chat, on this terminal
EOF

step "1. validate the inventory and apply it once (the bootstrap, by hand)"
run "$fb" check --repo "$repo"
run "$fb" apply --repo "$repo" --state "$state" >/dev/null
echo "applied $(cut -c1-7 "$state/applied") as release 1"

step "2. start the controller (chat lines below come from it)"
run "$fb" run --config "$conf" -n
"$fb" run --config "$conf" 2>"$demo/controller.log" &
pid=$!
for _ in $(seq 100); do [ -S "$state/control.sock" ] && break; sleep 0.05; done

step "3. commit a version bump: the policy trusts pin.modify, so it is applied at once"
sed -i 's/^version: 1.4.2/version: 1.4.3/' "$repo/services/app.yaml"
commit "deploy app 1.4.3"
wait_plan 2
sleep 0.2

step "4. commit a DNS change: dns.add needs an approver, so the plan waits"
printf '  - {name: status, type: CNAME, value: statuspage.example.org.}\n' \
    >>"$repo/dns/example.com.yaml"
commit "dns add status CNAME"
wait_plan 3
sleep 0.2
run "$fb" status --config "$conf"

step "5. approve it from the shell (alice approves dns in policy.yaml)"
run "$fb" approve --config "$conf" --as alice 3
sleep 0.2
echo "the record is now in the current release's Terraform:"
grep -A3 '"status_example_com_CNAME"' "$state/current/terraform/route53/example.com.tf.json"

if [ "${DEMO_ONCE:-}" = 1 ] || [ ! -t 0 ]; then
	step "done (the controller stops with the demo)"
	exit 0
fi
step "the controller keeps running; from another terminal try:"
cat <<EOF
  cd $repo && sed -i 's/^version: 1.4.3/version: 1.4.4/' services/app.yaml && git commit -qam bump
  $fb status --config $conf
  $fb approve --config $conf --as alice <plan id>
(Ctrl-C stops it)
EOF
wait "$pid"
