#!/usr/bin/env bats
# Stored plans over a long life (DESIGN.md "State directory", "Plans"):
# ids are a counter that never gives an id twice, whatever happens to
# plans/; status, the bot's `plan` and restart recovery read the index of
# open plans, never every plan ever made; retention deletes closed plans
# (with their threads/ entries and release directories) by count and by
# age, and never the current release.

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
	new_repo "$R"
	printf 'repo: %s\nbranch: main\nstate: %s\nchat:\n  - {type: console, path: %s}\n' \
	    "$R" "$S" "$CHAT" >"$C"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	PID=
}

teardown() {
	stop_controller
}

# fake_plans FROM TO OUTCOME: closed plan records FROM..TO (no process per
# file: thousands are cheap).
fake_plans() {
	local i target
	target=$(sha "$R")
	for ((i = $1; i <= $2; i++)); do
		printf '{\n  "id": "%s",\n  "base": null,\n  "target": "%s",\n  "decision": "auto",\n  "changes": [],\n  "outcome": "%s"\n}\n' \
		    "$i" "$target" "$3" >"$S/plans/$i.json"
	done
}

# start_bounded: start_controller, but one that never answers (blocked on
# a plan file, say) fails the test within about 30 s instead of hanging
# (start_controller's status waits 10 s for an answer, 200 times).
start_bounded() {
	"$FIREBREAK" run --config "$C" 2>"$BATS_TEST_TMPDIR/run.log" 3>&- &
	PID=$!
	local end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		[ -S "$S/run/control.sock" ] && timeout 2 "$FIREBREAK" status --config "$C" >/dev/null 2>&1 &&
		    return 0
		sleep 0.05
	done
	echo "the controller did not answer; its log:" >&2
	cat "$BATS_TEST_TMPDIR/run.log" >&2
	return 1
}

# The stored plan ids, sorted numerically, on one line.
plan_ids() {
	local f ids=()
	for f in "$S"/plans/*.json; do
		[ -e "$f" ] || continue
		f=${f##*/}
		ids+=("${f%.json}")
	done
	printf '%s\n' "${ids[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//'
}

@test "plans: a removed plan file does not give its id (and its live release) out again" {
	start_controller
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$R" "deploy app 1.4.3"
	wait_for "$CHAT" 'plan 2 for .* -> auto-applied'
	first=$(sha "$R")
	stop_controller
	assert_eq "$(readlink "$S/current")" "releases/2" "the current release"
	# Someone tidies plans/ by hand.
	rm "$S/plans/2.json"
	start_controller
	edit "$R" services/app.yaml -e 's/^version: 1.4.3/version: 1.4.4/'
	commit_all "$R" "deploy app 1.4.4"
	wait_for "$CHAT" 'plan 3 for .* -> auto-applied'
	assert_eq "$(jq -r .outcome "$S/plans/3.json")" "applied" "plan 3"
	assert_eq "$(readlink "$S/current")" "releases/3" "the current release"
	# Release 2, current until plan 3, was not rebuilt under another commit.
	assert_eq "$(cat "$S/releases/2/COMMIT")" "$first" "release 2's commit"
	assert_eq "$(cat "$S/plan-seq")" "3" "the plan counter"
	run grep -c '^plan 2 ' "$CHAT"
	assert_eq "$output" "1" "messages about a plan 2"
}

@test "plans: a corrupt plan counter stops the controller with the file named; removed, it is recovered" {
	fake_plans 2 40 applied
	printf 'x17\n' >"$S/plan-seq"
	# (A controller that took it would run: the timeout ends that.)
	run --separate-stderr timeout 20 "$FIREBREAK" run --config "$C"
	assert_status 3
	assert_contains "$stderr" "$S/plan-seq: not a plan counter ('x17'); remove it, and the next start recovers it from the stored plans"
	assert_eq "$(cat "$S/plan-seq")" "x17" "the counter"
	rm "$S/plan-seq"
	start_controller
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$R" "deploy app 1.4.3"
	wait_for "$CHAT" 'plan 41 for .* -> auto-applied'
}

@test "plans: with thousands of closed plans and one that would block a reader, status, plan and a restart read only the open ones" {
	fake_plans 2 3000 superseded
	# A reader that opened every plan would wait here forever.
	rm "$S/plans/1500.json"
	mkfifo "$S/plans/1500.json"
	printf '3000\n' >"$S/plan-seq"
	start_bounded
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 3001 .* -> approve (waiting for an approver)'
	run timeout 20 "$FIREBREAK" chat --config "$C" --as alice plan
	assert_status 0
	assert_contains "$output" "plan 3001 for $(short "$R")"
	assert_not_contains "$output" "plan 2999"
	stop_controller
	run timeout 20 "$FIREBREAK" status --config "$C"
	assert_status 0
	assert_contains "$output" "open: plan 3001 for $(short "$R") (approve)"
	# A restart: recovery supersedes the open plan and plans the head anew.
	start_bounded
	wait_for "$CHAT" 'plan 3002 .* -> approve (waiting for an approver)'
	assert_eq "$(jq -r .outcome "$S/plans/3001.json")" "superseded" "plan 3001"
	grep -q '^plan 3001 superseded: the controller restarted; the head is planned again' "$CHAT"
	run timeout 20 "$FIREBREAK" status --config "$C"
	assert_status 0
	assert_contains "$output" "open: plan 3002"
	# Retention's defaults (90 days, 10000 plans) keep all of them.
	[ -p "$S/plans/1500.json" ]
	assert_eq "$(compgen -G "$S/plans/*.json" | wc -l)" "3002" "stored plans"
}

@test "plans: retention by count deletes the oldest closed plans, their threads and releases, never the current one" {
	# Plans 2, 3 and 4 applied by the shell: releases 2, 3, 4 (current).
	for v in 1.4.3 1.4.4 1.4.5; do
		edit "$R" services/app.yaml -e "s/^version: .*/version: $v/"
		commit_all "$R" "deploy app $v"
		run fb apply --repo "$R" --state "$S"
		assert_status 0
	done
	assert_eq "$(readlink "$S/current")" "releases/4" "the current release"
	fake_plans 5 12 invalid
	printf '12\n' >"$S/plan-seq"
	mkdir -p "$S/threads"
	for k in 3 5 9 "$(sha "$R" HEAD~1)"; do echo "ts-$k" >"$S/threads/$k.0"; done
	printf 'retention: {days: 3650, plans: 5}\n' >>"$C"
	start_controller
	# Ids up to 12 - 5 = 7 go, except 4 (the current release's).
	assert_eq "$(plan_ids)" "4 8 9 10 11 12" "the plans kept"
	assert_eq "$(entries "$S/releases")" "4" "the releases kept"
	assert_eq "$(entries "$S/threads")" "9.0" "the threads kept"
	run fb enc --state "$S" web-01.example.com
	assert_status 0
	assert_contains "$(cat "$BATS_TEST_TMPDIR/run.log")" "retention: deleted 6 closed plans and 3 releases"
}

@test "plans: retention by age deletes closed plans older than retention.days, oldest first" {
	fake_plans 2 9 superseded
	printf '9\n' >"$S/plan-seq"
	touch -d '40 days ago' "$S"/plans/{2,3,4,5}.json "$S/plans/8.json"
	touch -d '29 days ago' "$S/plans/6.json"
	printf 'retention:\n  days: 30\n' >>"$C"
	start_controller
	# 8 is old enough but waits behind 6 and 7 (oldest first); 1 is the
	# current release's.
	assert_eq "$(plan_ids)" "1 6 7 8 9" "the plans kept"
}

@test "plans: a bad retention setting is refused with its line" {
	printf 'retention: {days: 0, plans: lots}\n' >>"$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "firebreak.yaml:6:19: 'retention.days' must be a whole number of days (1..36500)"
	assert_contains "$stderr" "firebreak.yaml:6:29: 'retention.plans' must be a whole number of plans (1..1000000000)"
}
