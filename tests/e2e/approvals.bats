#!/usr/bin/env bats
# Approvals per kind and stale approvals, on a real controller and real
# git (issue 12, defects 3 and 13).  DESIGN.md: "a plan needs one approver
# for each kind it touches that is not auto"; "approving a plan whose base
# is no longer the last applied commit, or whose target is no longer the
# head, is refused as stale, with the id of the fresh plan".
#
# The policy here: enc.modify is not auto, dns is bob's, enc is carol's,
# dana approves both.  Draining web-02 touches both kinds (lb-01's
# backends and the www round robin), so its plan needs two approvals.

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	B=$BATS_TEST_TMPDIR/inventory.git
	H=$BATS_TEST_TMPDIR/human
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	git clone -q --bare "$TEMPLATE" "$B"
	git clone -q "$B" "$H"
	edit "$H" policy.yaml -e 's/^auto: .*/auto: [pin.modify]/' \
	    -e 's/^approvers: .*/approvers: {dns: [bob, dana], enc: [carol, dana], policy: [alice]}/'
	push_all "policy: an approver per kind"
	{
		printf 'repo: %s\nbranch: main\nstate: %s\n' "$B" "$S"
		printf 'bot: {name: firebreak, email: firebreak@bot.example}\n'
		printf 'chat:\n  - {type: console, path: %s}\n' "$CHAT"
	} >"$C"
	# Bootstrap with the one-shot apply, so this policy governs.
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	PID=
}

teardown() {
	stop_controller
}

# push_all MESSAGE: commit everything in the human clone and push it.
push_all() {
	commit_all "$H" "$1" && git -C "$H" push -q origin main
}

outcome() {
	jq -r .outcome "$S/plans/$1.json"
}

approvals() {
	jq -cS '.approvals // {}' "$S/plans/$1.json"
}

# A plan that needs an enc and a dns approver: plan 2.
mixed_plan() {
	edit "$H" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	push_all "drain web-02"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02\" by Alice Example: 1 enc.modify, 1 dns.modify -> approve (waiting for an approver)"
	assert_eq "$(jq -c .approvals_needed "$S/plans/2.json")" '["enc","dns"]' "plan 2's kinds"
	BEFORE=$(cat "$S/applied")
}

@test "approvals: dns by bob does not apply; enc by carol then does, once" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2: approved dns by bob; enc still needs one of: carol, dana"
	assert_eq "$(outcome 2)" "open" "plan 2 after bob"
	assert_eq "$(approvals 2)" '{"dns":"bob"}' "plan 2's approvals"
	assert_eq "$(cat "$S/applied")" "$BEFORE" "the applied commit after bob"
	# Said in the plan's thread, too.
	wait_for "$CHAT" "^plan 2: approved dns by bob; enc still needs one of: carol, dana \[msg"
	run fb approve --config "$C" --as carol 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by carol (enc) and bob (dns)"
	assert_eq "$(outcome 2)" "applied" "plan 2 after carol"
	assert_eq "$(approvals 2)" '{"dns":"bob","enc":"carol"}' "plan 2's approvals"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
	wait_for "$CHAT" "-> approve, approved by carol (enc) and bob (dns): applied"
	# Once: a third click applies nothing and posts nothing.
	run fb approve --config "$C" --as carol 2
	assert_status 0
	assert_eq "$output" "plan 2 is already applied; nothing to do"
	assert_eq "$(grep -c ': applied \[msg' "$CHAT")" "1" "applied messages"
	assert_eq "$(plan_files "$S" | wc -l)" "2" "no new plan"
}

@test "approvals: the other order, enc by carol then dns by bob" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as carol 2
	assert_status 0
	assert_eq "$output" "plan 2: approved enc by carol; dns still needs one of: bob, dana"
	assert_eq "$(outcome 2)" "open" "plan 2 after carol"
	assert_eq "$(approvals 2)" '{"enc":"carol"}' "plan 2's approvals"
	assert_eq "$(cat "$S/applied")" "$BEFORE" "the applied commit after carol"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by carol (enc) and bob (dns)"
	assert_eq "$(outcome 2)" "applied" "plan 2 after bob"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
}

@test "approvals: an approver of both kinds applies in one go" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as dana 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by dana"
	assert_eq "$(approvals 2)" '{"dns":"dana","enc":"dana"}' "plan 2's approvals"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
}

@test "approvals: a second approve of a covered kind is a no-op that says so; a non-approver is refused" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as bob 2
	assert_status 0
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2: dns is already approved by bob; nothing to do (enc still needs one of: carol, dana)"
	assert_eq "$(approvals 2)" '{"dns":"bob"}' "plan 2's approvals"
	run --separate-stderr fb approve --config "$C" --as erin 2
	assert_status 1
	assert_eq "$stderr" "firebreak: erin may not approve enc and dns changes (see approvers in policy.yaml)"
	assert_eq "$(outcome 2)" "open" "plan 2 after erin"
	assert_eq "$(grep -c '^plan 2: ' "$CHAT")" "1" "approval messages in the thread"
	# dana may approve dns too, but bob covered it: she covers enc and applies.
	run fb approve --config "$C" --as dana 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by dana (enc) and bob (dns)"
}

@test "approvals: in chat, and on a stopped controller's state" {
	start_controller
	mixed_plan
	run fb chat --config "$C" --as bob "approve 2"
	assert_status 0
	assert_eq "$output" "plan 2: approved dns by bob; enc still needs one of: carol, dana"
	stop_controller
	# The approval is in the record; the shell acts on the state itself.
	assert_eq "$(approvals 2)" '{"dns":"bob"}' "plan 2's approvals"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2: dns is already approved by bob; nothing to do (enc still needs one of: carol, dana)"
	run --separate-stderr fb approve --config "$C" --as carol 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by carol (enc) and bob (dns)"
	assert_eq "$(outcome 2)" "applied" "plan 2"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
	wait_for "$CHAT" "-> approve, approved by carol (enc) and bob (dns): applied"
}

@test "approvals: a plan of one person's own bot commands still needs someone else, kind by kind" {
	start_controller
	run fb chat --config "$C" --as carol "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02.example.com\" by carol: 1 enc.modify, 1 dns.modify -> approve"
	run --separate-stderr fb approve --config "$C" --as carol 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 only carries carol's own commands; someone else must approve it (self_approve is off in policy.yaml)"
	assert_eq "$(approvals 2)" '{}' "plan 2's approvals"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2: approved dns by bob; enc still needs one of: carol, dana"
	run fb approve --config "$C" --as carol 2
	assert_status 1
	assert_eq "$(outcome 2)" "open" "plan 2"
	run fb approve --config "$C" --as dana 2
	assert_status 0
	assert_eq "$output" "plan 2 applied ($(short "$B")), approved by dana (enc) and bob (dns)"
}

@test "approvals: an approver of any waiting kind may discard; someone who approves none may not" {
	start_controller
	mixed_plan
	run --separate-stderr fb discard --config "$C" --as alice 2
	assert_status 1
	assert_eq "$stderr" "firebreak: alice may not discard enc and dns changes (see approvers in policy.yaml)"
	assert_eq "$(outcome 2)" "open" "plan 2"
	# bob approves dns only: enough to reject the whole change.
	run fb discard --config "$C" --as bob 2
	assert_status 0
	assert_eq "$output" "plan 2 discarded by bob"
	assert_eq "$(outcome 2)" "discarded" "plan 2"
}

@test "approvals: approving a superseded plan is refused and names the fresh plan (CLI, socket, chat, stopped)" {
	start_controller
	mixed_plan
	edit "$H" hosts/web-03.example.com.yaml -e 's/^state: drained/state: active/'
	push_all "undrain web-03"
	wait_for "$CHAT" "plan 2 superseded by plan 3"
	assert_eq "$(outcome 2)" "superseded" "plan 2"
	run --separate-stderr fb approve --config "$C" --as carol 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 is stale; the fresh plan is 3"
	run fb chat --config "$C" --as carol "approve 2"
	assert_status 1
	assert_eq "$output" "plan 2 is stale; the fresh plan is 3"
	stop_controller
	run --separate-stderr fb approve --config "$C" --as carol 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 is stale; the fresh plan is 3"
	assert_eq "$(cat "$S/applied")" "$BEFORE" "nothing applied"
}

@test "approvals: a plan whose head went back to the applied commit is stale, with no fresh plan" {
	start_controller
	mixed_plan
	git -C "$H" reset -q --hard HEAD~1
	git -C "$H" push -q -f origin main
	for _ in $(seq 200); do [ "$(outcome 2)" = superseded ] && break; sleep 0.05; done
	assert_eq "$(outcome 2)" "superseded" "plan 2"
	run --separate-stderr fb approve --config "$C" --as dana 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 is stale, and there is no fresh plan: the head $(short "$B") is already applied"
	assert_eq "$(cat "$S/applied")" "$BEFORE" "nothing applied"
}

@test "approvals: a restart plans the head again, and the approvals of the same plan hash carry over" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as bob 2
	assert_status 0
	stop_controller
	start_controller
	wait_for "$CHAT" "plan 3 for $(short "$B") \"drain web-02\" by Alice Example: 1 enc.modify, 1 dns.modify -> approve"
	assert_eq "$(outcome 2)" "superseded" "plan 2"
	assert_eq "$(jq -r .hash "$S/plans/3.json")" "$(jq -r .hash "$S/plans/2.json")" "the plans' hashes"
	assert_eq "$(approvals 3)" '{"dns":"bob"}' "plan 3's approvals"
	run fb approve --config "$C" --as carol 3
	assert_status 0
	assert_eq "$output" "plan 3 applied ($(short "$B")), approved by carol (enc) and bob (dns)"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
}

@test "approvals: the plan of a new head starts over" {
	start_controller
	mixed_plan
	run fb approve --config "$C" --as bob 2
	assert_status 0
	edit "$H" hosts/web-03.example.com.yaml -e 's/^state: drained/state: active/'
	push_all "undrain web-03"
	wait_for "$CHAT" "plan 2 superseded by plan 3"
	assert_eq "$(approvals 3)" '{}' "plan 3's approvals"
	run fb approve --config "$C" --as carol 3
	assert_status 0
	assert_eq "$output" "plan 3: approved enc by carol; dns still needs one of: bob, dana"
	assert_eq "$(cat "$S/applied")" "$BEFORE" "nothing applied"
}
