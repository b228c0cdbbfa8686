#!/usr/bin/env bash
# make demo: firebreak's main job on the bundled example inventory.
#
# Seeds a git repository from examples/inventory under demo/ (git-ignored),
# validates it, applies it to a fresh state directory, then commits a
# version bump and a drain and shows each plan with the decision the
# policy makes, applies them, and prints a node's ENC document the way
# Puppet reads it.  Re-runnable: it starts from scratch every time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fb=${FIREBREAK:-$top/build/firebreak}
demo=$top/demo
repo=$demo/inventory
state=$demo/state

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$top/||g"; "$@"; }
# Show only the first/last line of a long output (no SIGPIPE under pipefail).
run_first() { local out; printf '$ %s\n' "$*" | sed "s|$top/||g"; out=$("$@"); printf '%s\n' "${out%%$'\n'*}"; }
run_last() { local out; printf '$ %s\n' "$*" | sed "s|$top/||g"; out=$("$@"); printf '%s\n' "${out##*$'\n'}"; }
commit() {
	git -C "$repo" -c user.name="Alice Example" -c user.email=alice@example.com \
	    commit -q -am "$1"
}

rm -rf "$demo"
mkdir -p "$demo"
cp -r "$top/examples/inventory" "$repo"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name="Alice Example" -c user.email=alice@example.com \
    commit -q -m "initial inventory"

step "1. validate the inventory (every problem would be listed with file:line)"
run "$fb" check --repo "$repo"

step "2. bootstrap: plan everything against the empty tree, then apply it"
run_first "$fb" plan --repo "$repo" --state "$state"
run_last "$fb" apply --repo "$repo" --state "$state"

step "3. commit a version bump: the policy trusts pin.modify, so the plan is auto"
sed -i 's/^version: 1.4.2/version: 1.4.3/' "$repo/services/app.yaml"
commit "deploy app 1.4.3"
run "$fb" plan --repo "$repo" --state "$state"
run_last "$fb" apply --repo "$repo" --state "$state"

step "4. commit a drain: the lb's backends and www's round-robin change; dns.modify needs an approver"
sed -i 's/^state: active/state: drained/' "$repo/hosts/web-02.example.com.yaml"
commit "drain web-02.example.com"
run "$fb" plan --repo "$repo" --state "$state"
echo "(the controller would post this plan to chat and wait for an approver;"
echo " firebreak apply is the operator's explicit act)"
run_last "$fb" apply --repo "$repo" --state "$state"

step "5. a second apply of the same commit changes nothing"
run "$fb" apply --repo "$repo" --state "$state"

step "6. what Puppet sees: firebreak enc reads the current release"
run "$fb" enc --state "$state" lb-01.example.com
run "$fb" enc --state "$state" web-01.example.com
echo
echo "State directory: $state (current -> $(readlink "$state/current"))"
echo "Terraform for Route53: $state/current/terraform/route53/"
echo "Point Puppet at it:  external_nodes = $fb enc --state $state"
