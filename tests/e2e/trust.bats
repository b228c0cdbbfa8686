#!/usr/bin/env bats
# The trust ladder (DESIGN.md "Trust ladder"): observe-mode plans that
# people approve unchanged, discard or revert; auto-applied plans that are
# reverted; `firebreak trust` and the chat command `trust`; the promotion
# suggested once after 20 agreeing outcomes; `trust promote` / `trust
# demote` as policy commits that need a policy approver.

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	PID=
	new_repo "$R"
	# dns.add and dns.delete only observe; policy may be approved by bob
	# as well as alice (a person's own policy command needs someone else).
	edit "$R" policy.yaml -e 's/^observe: \[dns.delete\]/observe: [dns.add, dns.delete]/' \
	    -e 's/"\*": \[alice\]/"*": [alice, bob]/'
	commit_all "$R" "policy: dns.add observes"
	cat >"$C" <<-EOF
	repo: $R
	state: $S
	chat:
	  - {type: console, path: $CHAT}
	EOF
	run fb apply --repo "$R" --state "$S"
	assert_status 0
}

teardown() {
	stop_controller
}

count() {
	if [ -f "$1" ]; then grep -c -- "$2" "$1" || true; else echo 0; fi
}

last_plan() {
	ls "$S"/plans | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1
}

# wait_plan SUBJECT: until the newest plan is for SUBJECT; its id in ID.
wait_plan() {
	for _ in $(seq 200); do
		ID=$(last_plan)
		[ -n "$ID" ] && [ "$(jq -r .subject "$S/plans/$ID.json")" = "$1" ] &&
		    grep -q "plan $ID " "$CHAT" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no plan for '$1'" >&2
	cat "$CHAT" >&2
	return 1
}

# add_record N: a hand commit adding one A record (dns.add: observe), its
# plan waits; alice approves it unchanged.
add_and_approve() {
	printf '  - {name: t%s, type: A, value: 10.9.0.%s}\n' "$1" "$1" | append "$R" dns/example.com.yaml
	commit_all "$R" "add t$1"
	wait_plan "add t$1"
	run fb approve --config "$C" --as alice "$ID"
	assert_status 0
	wait_for "$CHAT" "plan $ID .*applied"
}

@test "trust: 20 observed plans approved unchanged -> the table says so and the bot suggests the promotion once; discards count against" {
	start_controller
	for i in $(seq 1 20); do
		add_and_approve "$i"
	done
	wait_for "$CHAT" "dns.add: 20 of 20 observed plans were approved unchanged — \`trust promote dns.add\` to auto-apply it"
	add_and_approve 21
	sleep 2.5   # the ladder looks every 2 s: give it the chance to repeat itself
	assert_eq "$(count "$CHAT" 'trust promote dns.add')" 1 "suggestions"
	# A discarded observe plan of another type disagrees.
	edit "$R" dns/example.com.yaml '/name: t21,/d'
	commit_all "$R" "drop t21"
	wait_plan "drop t21"
	run fb discard --config "$C" --as bob "$ID"
	assert_status 0
	run fb trust --config "$C"
	assert_status 0
	assert_contains "$output" "type           level    observed  agreed  disagreed  auto-applied  reverted  suggestion"
	assert_contains "$output" "dns.add        observe        21      21          0             0         0  \`trust promote dns.add\`"
	assert_contains "$output" "dns.delete     observe         1       0          1             0         0"
	# The chat command shows the same table, to any identified user.
	run fb chat --config "$C" --as carol trust
	assert_status 0
	assert_contains "$output" "dns.add        observe        21      21          0"
}

@test "trust: a superseded observe plan disagrees, unless a restart planned the same thing again" {
	start_controller
	printf '  - {name: s1, type: A, value: 10.9.1.1}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "add s1"
	wait_plan "add s1"
	# A restart plans the head again: same hash, neither agreed nor not.
	stop_controller
	start_controller
	wait_for "$CHAT" "superseded: the controller restarted"
	printf '  - {name: s2, type: A, value: 10.9.1.2}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "add s2"
	wait_plan "add s2"
	run fb trust --config "$C"
	# The restart's re-plan was superseded by "add s2" (a different plan): one disagreement.
	assert_contains "$output" "dns.add        observe         2       0          1"
}

@test "trust: a revert of an auto-applied change is counted and posted with a suggestion to demote" {
	start_controller
	run fb chat --config "$C" --as alice "deploy app 1.4.9"
	assert_status 0
	wait_for "$CHAT" "deploy app 1.4.9.*-> auto-applied"
	deploy=$(sha "$R")
	run fb chat --config "$C" --as alice "revert ${deploy:0:7}"
	assert_status 0
	assert_eq "$(git -C "$R" log -1 --format=%b | head -1)" "This reverts commit $deploy."
	wait_for "$CHAT" "(pin.modify, applied without an approver) is reverted by $(short "$R") — \`trust demote pin.modify\` to need an approver again"
	run fb trust --config "$C"
	assert_contains "$output" "pin.modify     auto            0       0          0             2         1  \`trust demote pin.modify\`"
	# A person's own `git revert` of an auto-applied commit counts too.
	commit_edit "$R" roles/web.yaml 's/nginx_workers: 4/nginx_workers: 6/' "more workers"
	wait_for "$CHAT" '"more workers".*-> auto-applied'
	git -C "$R" revert --no-edit HEAD >/dev/null
	wait_for "$CHAT" "(enc.modify, applied without an approver) is reverted by $(short "$R")"
	assert_eq "$(count "$CHAT" 'is reverted by')" 2
}

@test "trust: promote and demote are policy commits that need a policy approver (never the asker alone), then move the type" {
	start_controller
	run fb trust --config "$C" --as carol promote dns.add
	assert_status 1
	assert_contains "$output" "carol may not run trust promote"
	run fb trust --config "$C" --as alice promote dns.add
	assert_status 0
	assert_contains "$output" "trust promote dns.add (observe -> auto)"
	run git -C "$R" show --stat --format=%s HEAD
	assert_contains "$output" "policy.yaml"
	wait_plan "trust promote dns.add (observe -> auto)"
	assert_eq "$(jq -r '.decision + " " + (.approvals_needed | join(","))' "$S/plans/$ID.json")" "approve policy"
	run fb approve --config "$C" --as alice "$ID"
	assert_status 1
	assert_contains "$output" "only carries alice's own commands"
	run fb approve --config "$C" --as bob "$ID"
	assert_status 0
	wait_for "$CHAT" "plan $ID .*applied"
	grep -q '^auto: \[pin.modify, enc.modify, dns.add\]' "$R/policy.yaml"
	grep -q '^observe: \[dns.delete\]' "$R/policy.yaml"
	run fb trust --config "$C"
	assert_contains "$output" "dns.add        auto"
	# And back down; an action goes off -> observe -> auto the same way.
	run fb trust --config "$C" --as alice demote dns.add
	assert_status 0
	assert_contains "$output" "trust demote dns.add (auto -> observe)"
	run fb chat --config "$C" --as alice "trust promote health.drain"
	assert_status 0
	assert_contains "$output" "trust promote health.drain (off -> observe)"
	grep -q '^actions:' "$R/policy.yaml"
	run fb check --repo "$R"
	assert_status 0
	# policy changes themselves cannot be promoted.
	run fb chat --config "$C" --as alice "trust promote policy.modify"
	assert_status 1
	assert_contains "$output" "always needs an approver of policy"
}
