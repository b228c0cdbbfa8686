#!/usr/bin/env bash
# make demo: firebreak's main job on the bundled example inventory.
#
# Seeds a bare git repository from examples/inventory under demo/
# (git-ignored), applies it once (the bootstrap an operator does by hand),
# then starts the controller on it with its chat on this terminal and
# plays a short scene through the chat bot (`firebreak chat`, the same
# commands as in Slack, Mattermost or IRC): alice deploys a version, which
# is auto-applied; bob adds a DNS record, which waits for an approver;
# alice approves it; `history` shows who asked for what.  The deploy ends
# with Puppet runs on the hosts it changed (a local `puppet apply` per host,
# examples/demo-puppet.sh, through the `exec` orchestrator), canary first,
# and their results in the chat.
# Afterwards the controller keeps running (on a terminal) so you can commit
# or approve from another one; DEMO_ONCE=1 (or no terminal) stops after
# the scene.  Re-runnable: it starts from scratch every time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fb=${FIREBREAK:-$top/build/firebreak}
demo=$top/demo
repo=$demo/inventory.git
state=$demo/state
conf=$demo/firebreak.yaml
pid=

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$top/||g"; "$@"; }
# chat USER COMMAND: what USER would type in the ops channel.
chat() {
	printf '$ firebreak chat --as %s "%s"\n' "$1" "$2"
	"$fb" chat --config "$conf" --as "$1" "$2"
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
cp -r "$top/examples/inventory" "$demo/seed"
git -C "$demo/seed" init -q -b main
git -C "$demo/seed" add -A
git -C "$demo/seed" -c user.name="Alice Example" -c user.email=alice@example.com \
    commit -q -m "initial inventory"
git clone -q --bare "$demo/seed" "$repo"
rm -rf "$demo/seed"
cat >"$conf" <<EOF
repo: $repo
branch: main
state: $state
bot: {name: firebreak, email: firebreak@localhost}
chat:
  - {type: console, path: "-"}      # the chat, on this terminal
rollout:                            # Puppet on the hosts a release changed
  orchestrator: {type: exec, argv: [$top/examples/demo-puppet.sh, "{host}"], timeout: 300}
  canary: 1
  batch: 2
  parallel: 2
EOF
# The "hosts": Puppet on this machine, one certname each, classified by
# firebreak's ENC and pinned through examples/hiera.yaml.
pp=$demo/puppet
mkdir -p "$pp/code/environments/production/modules/profile/manifests" "$pp/out" "$pp/var" \
    "$pp/code/environments/staging"
ln -sfn ../production/modules "$pp/code/environments/staging/modules"
for c in base debug lb postgres; do
	echo "class profile::$c { }" >"$pp/code/environments/production/modules/profile/manifests/$c.pp"
done
cat >"$pp/code/environments/production/modules/profile/manifests/web.pp" <<EOF
class profile::web {
  file { "$pp/out/\${trusted['certname']}.version":
    content => "\${lookup('profile::app::version', String, 'first', 'none')}\n" }
}
EOF
: >"$pp/site.pp"
sed "s|/var/lib/firebreak|$state|g" "$top/examples/hiera.yaml" >"$pp/hiera.yaml"
cat >"$pp/puppet.conf" <<EOF
[main]
codedir = $pp/code
environmentpath = $pp/code/environments
logdir = $pp/log
rundir = $pp/run
node_terminus = exec
external_nodes = $fb enc --state $state
hiera_config = $pp/hiera.yaml
EOF

step "1. validate the inventory and apply it once (the bootstrap, by hand)"
run "$fb" check --repo "$repo"
run "$fb" apply --repo "$repo" --state "$state" >/dev/null
echo "applied $(cut -c1-7 "$state/applied") as release 1"

step "2. start the controller (chat lines below come from it)"
run "$fb" run --config "$conf" -n
"$fb" run --config "$conf" 2>"$demo/controller.log" &
pid=$!
for _ in $(seq 100); do [ -S "$state/run/control.sock" ] && break; sleep 0.05; done

step "3. alice deploys a version: the bot commits it as itself, naming alice; pin.modify is trusted, so it is applied at once"
chat alice "deploy app 1.4.3"
wait_plan 2
sleep 0.2
git -C "$repo" log -1 --format='%an <%ae>: %B' | sed '/^$/d'

step "3b. the deploy ends on the hosts: Puppet runs on the production web hosts, canary first"
for _ in $(seq 1200); do
	[ -e "$state/rollouts/2.json" ] && [ ! -e "$state/rollouts/2.log" ] && break
	sleep 0.1
done
chat carol "rollout 2"
for h in web-01 web-02 web-03; do
	printf '%s.example.com runs app %s\n' "$h" "$(cat "$pp/out/$h.example.com.version" 2>/dev/null)"
done

step "4. bob adds a DNS record: dns.add needs an approver, so the plan waits"
chat bob "dns add status CNAME statuspage.example.org. example.com"
wait_plan 3
sleep 0.2
chat bob "plan"

step "5. alice approves it (bob asked, so he may not approve it himself)"
chat alice "approve 3"
sleep 0.2
echo "the record is now in the current release's Terraform:"
grep -A3 '"status_example_com_CNAME"' "$state/current/terraform/route53/example.com.tf.json"

step "6. who asked for what, from the commits' trailers"
chat carol "history 3"

if [ "${DEMO_ONCE:-}" = 1 ] || [ ! -t 0 ]; then
	step "done (the controller stops with the demo)"
	exit 0
fi
step "the controller keeps running; from another terminal try:"
cat <<EOF
  $fb chat --config $conf --as carol "drain web-02"
  $fb chat --config $conf --as alice "status"
  $fb chat --config $conf --as alice "approve <plan id>"
  $fb chat --config $conf --as alice help
(Ctrl-C stops it)
EOF
wait "$pid"
