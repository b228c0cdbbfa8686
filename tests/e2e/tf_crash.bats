#!/usr/bin/env bats
# Crash recovery with the terraform apply provider, end to end: a real
# `terraform` and the hashicorp/aws provider against the Route53 stand-in,
# as in tf_apply.bats (tf_helpers.bash has the setup both share; the two
# files run side by side, Terraform's time being most of the suite's).

load helpers
load tf_helpers

# ---- crash recovery with the terraform provider ----------------------------
#
# DESIGN.md "State directory" and README "Crash safety": a plan whose
# terraform apply a stop or a kill -9 cut short is finished by the
# restart, but its saved plan is never applied then: the plan fails,
# saying so once, and a new plan of the current release follows, decided
# as the interrupted one was.  The test build's controller kills itself
# where FIREBREAK_CRASH_AT says (tests/e2e/crash.bats); a kill while
# `terraform apply` is inside Route53 is the release build's kill -9 while
# the stand-in holds a change it applied (/_hold).  Announcements are
# counted at the webhook receiver, which deduplicates nothing.

HOOKS=$BUILD/tests/hooks/firebreak

# crash_start POINT: the test build, told to kill itself at POINT, in the
# background (its log $D/crash.log).
crash_start() {
	[ -x "$HOOKS" ] || { echo "$HOOKS is missing (make tools)" >&2; return 1; }
	FIREBREAK_CRASH_AT=$1 "$HOOKS" run --config "$C" 2>>"$D/crash.log" 3>&- &
	PID=$!
	for _ in $(seq 200); do
		grep -q "^firebreak: running on " "$D/crash.log" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$D/crash.log" >&2
	return 1
}

# crash_wait POINT: until the test build killed itself at POINT (180 s).
crash_wait() {
	for _ in $(seq 1800); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	local rc=0
	wait "$PID" || rc=$?
	PID=
	assert_eq "$rc" 137 "the exit status of a controller killed at $1"
	grep -q "crash point $1: killing this process" "$D/crash.log"
}

# dns_auto: dns.add and dns.modify auto-applied, by a policy commit the
# one-shot apply takes in (no DNS change: the world stays).
dns_auto() {
	edit "$R" policy.yaml -e 's/^auto: \[pin.modify, enc.modify\]/auto: [pin.modify, enc.modify, dns.add, dns.modify]/'
	commit_all "$R" "dns changes are trusted"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
}

# said: the first line of every webhook post, in order, without the
# seconds a run took.
said() {
	posts_raw | sed -E 's/ \([0-9]+\.[0-9] s\)$//'
}

posts_raw() {
	jq -r 'select(.path == "/hooks/ops") | .body | fromjson | .text | split("\n")[0]' "$D/hook.log"
}

# settle_outcome ID: plan ID has ended and the outbox is empty.
settle_outcome() {
	wait_outcome "$1" >/dev/null || return 1
	for _ in $(seq 300); do
		compgen -G "$S/outbox/*.json" >/dev/null || return 0
		sleep 0.1
	done
	echo "the outbox did not empty" >&2
	return 1
}

# The records the target release says (api added, mail's TTL 600), and
# every other record as it was.
assert_route53_target() {
	assert_eq "$(record api.example.com A)" '{"records":["10.0.5.5","10.0.5.6"],"ttl":300}' "api"
	assert_eq "$(record mail.example.com A)" '{"records":["10.0.3.25"],"ttl":600}' "mail"
	assert_eq "$(r53 /_dump | jq -cS 'del(.Z0123456789ABC["api.example.com."]) |
	    del(.Z0123456789ABC["mail.example.com."])')" \
	    "$(jq -cS 'del(.Z0123456789ABC["mail.example.com."])' "$T/route53.json")" "the other records"
}

@test "terraform crash after the release switch: the saved plan is never applied; plan 2 fails once, saying why; a new plan asks for approval again and applies" {
	start_route53 --fast "$D/r53"
	tf_wrap
	write_config
	crash_start after-switch
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	run fb approve --config "$C" --as bob 2
	crash_wait after-switch
	assert_eq "$(outcome 2)" applying "plan 2 after the kill"
	assert_eq "$(tf_applied 2)/$(changes)" 0/0 "applies of plan 2's saved plan, and changes, before the restart"
	[ -e "$S/tfplans/2.tfplan" ]
	start_controller
	wait_long "$CHAT" 'plan 3 for .* -> approve (waiting for an approver)'
	assert_eq "$(outcome 2)" failed "plan 2"
	p=$(post_with "plan 3 for")
	assert_contains "$p" "Plan: 1 to add, 1 to change, 0 to destroy."
	# Never applied, and gone: nobody can apply it later.
	assert_eq "$(tf_applied 2)/$(changes)" 0/0 "applies of plan 2's saved plan, and changes"
	assert_eq "$(entries "$S/tfplans" | grep '^2\.' || true)" "" "plan 2's files in tfplans/"
	run fb approve --config "$C" --as bob 3
	assert_status 0
	settle_outcome 3
	assert_eq "$(outcome 3)" applied "plan 3"
	assert_route53_target
	assert_eq "$(tf_applied 2)/$(tf_applied 3)/$(changes)" 0/1/2 "applies of the saved plans, and changes"
	assert_eq "$(said)" "plan 2 for $(short "$R") \"api, and mail's ttl\" by Alice Example: 1 dns.add, 1 dns.modify -&gt; approve (waiting for an approver)
plan 2: apply terraform failed (after a restart): terraform: a restart came before plan 2's saved plan was applied; a saved plan is never applied after a restart (the world may have moved), and nothing was applied: a new plan of the current release follows
plan 3 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; approve (waiting for an approver)
plan 3: apply terraform done: terraform apply: Apply complete! Resources: 1 added, 1 changed, 0 destroyed.
plan 3 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; approve, approved by bob: applied" "what chat heard"
	assert_eq "$(entries "$S/tfplans")" "" "what tfplans/ keeps"
}

@test "terraform crash during the provider (terraform running): auto stays auto: plan 3 fails once, a new plan is made and applied at once, nothing applied twice" {
	start_route53 --fast "$D/r53"
	tf_wrap
	dns_auto
	write_config
	crash_start during-provider
	commit_api
	crash_wait during-provider
	assert_eq "$(jq -r '.providers[0].state' "$S/plans/3.json")" running "the record after the kill"
	start_controller
	settle_outcome 4
	assert_eq "$(outcome 3)/$(outcome 4)" failed/applied "plans 3 and 4"
	assert_route53_target
	assert_eq "$(tf_applied 3)/$(tf_applied 4)/$(changes)" 0/1/2 "applies of the saved plans, and changes"
	assert_eq "$(said)" "plan 3: apply terraform failed (after a restart): terraform: a restart cut short the apply of plan 3's saved plan, which may be half applied; it is never applied again, and nothing was applied now: a new plan of the current release follows
plan 4: apply terraform done: terraform apply: Apply complete! Resources: 1 added, 1 changed, 0 destroyed.
plan 4 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 3: apply[0] terraform was cut short by a restart -&gt; auto-applied" "what chat heard"
	assert_contains "$(post_with "plan 4 for")" "Plan: 1 to add, 1 to change, 0 to destroy."
	assert_eq "$(entries "$S/tfplans")" "" "what tfplans/ keeps"
}

@test "terraform kill -9 while terraform apply is inside Route53: the run left is stopped, its saved plan never applied again; a new plan finishes the job once approved" {
	start_route53 --fast "$D/r53"
	tf_wrap
	write_config
	start_controller
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	# Both changes (Terraform sends them side by side) reach "Route53"
	# and are applied there; their answers wait.
	r53 /_hold '{"changes": 2}' >/dev/null
	run fb approve --config "$C" --as bob 2
	for _ in $(seq 1800); do
		[ "$(grep -c ' held$' "$D/r53.log")" = 2 ] && break
		sleep 0.1
	done
	assert_eq "$(grep -c ' held$' "$D/r53.log")" 2 "changes held"
	kill -9 "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
	assert_eq "$(outcome 2)" applying "plan 2 after the kill"
	assert_eq "$(tf_applied 2)/$(changes)" 1/2 "applies of plan 2's saved plan, and changes, at the kill"
	start_controller
	# The left-over terraform is stopped before anything runs again.
	wait_long "$D/run.log" "plan 2: stopping the run of terraform (process group [0-9]*) a stopped controller left running"
	wait_long "$CHAT" 'plan 3 for .* -> approve (waiting for an approver)'
	r53 /_release '{}' >/dev/null
	# Terraform never heard Route53's answers, so its state does not
	# have api: the new plan creates it again (real Route53 would refuse
	# that; README "Crash safety", Terraform's own bookkeeping).  Mail's
	# TTL it reads back from Route53: nothing to change there.
	assert_contains "$(post_with "plan 3 for")" "Plan: 1 to add, 0 to change, 0 to destroy."
	assert_eq "$(outcome 2)" failed "plan 2"
	run fb approve --config "$C" --as bob 3
	assert_status 0
	settle_outcome 3
	assert_eq "$(outcome 3)" applied "plan 3"
	assert_route53_target
	assert_eq "$(tf_applied 2)/$(tf_applied 3)" 1/1 "applies of the saved plans"
	assert_eq "$(said | sed -n '1,3p')" "plan 2 for $(short "$R") \"api, and mail's ttl\" by Alice Example: 1 dns.add, 1 dns.modify -&gt; approve (waiting for an approver)
plan 2: apply terraform failed (after a restart): terraform: a restart cut short the apply of plan 2's saved plan, which may be half applied; it is never applied again, and nothing was applied now: a new plan of the current release follows
plan 3 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; approve (waiting for an approver)" "what chat heard"
	assert_eq "$(said | grep -c '^plan 2')/$(said | grep -c '^plan 3 for .*, approved by bob: applied$')" 2/1 "plan 2's and plan 3's announcements"
	assert_eq "$(entries "$S/tfplans")" "" "what tfplans/ keeps"
}

@test "terraform crash after terraform apply ended, before the record says so: not applied again; the new plan has nothing to change and applies without a review" {
	start_route53 --fast "$D/r53"
	tf_wrap
	write_config
	crash_start provider-ended
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	run fb approve --config "$C" --as bob 2
	crash_wait provider-ended
	assert_eq "$(outcome 2)" applying "plan 2 after the kill"
	assert_route53_target
	assert_eq "$(tf_applied 2)/$(changes)" 1/2 "applies of plan 2's saved plan, and changes"
	start_controller
	settle_outcome 3
	assert_eq "$(outcome 2)/$(outcome 3)" failed/applied "plans 2 and 3"
	assert_route53_target
	# The world was at the target: nothing sent again.
	assert_eq "$(tf_applied 2)/$(changes)" 1/2 "applies of plan 2's saved plan, and changes"
	assert_contains "$(post_with "plan 3 for")" "No changes"
	assert_eq "$(said)" "plan 2 for $(short "$R") \"api, and mail's ttl\" by Alice Example: 1 dns.add, 1 dns.modify -&gt; approve (waiting for an approver)
plan 2: apply terraform failed (after a restart): terraform: a restart cut short the apply of plan 2's saved plan, which may be half applied; it is never applied again, and nothing was applied now: a new plan of the current release follows
plan 3: apply terraform done: terraform apply: Apply complete! Resources: 0 added, 0 changed, 0 destroyed.
plan 3 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; auto-applied (nothing to change, so nothing to review)" "what chat heard"
	assert_eq "$(entries "$S/tfplans")" "" "what tfplans/ keeps"
}

@test "terraform crash while the new plan is being made: the next start makes it (it was noted before plan 2 said one follows); each announced once" {
	start_route53 --fast "$D/r53"
	tf_wrap
	write_config
	crash_start after-switch
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	run fb approve --config "$C" --as bob 2
	crash_wait after-switch
	# The restart fails plan 2 and starts its new plan (id 3): killed
	# while Terraform plans it, before plan 3 has a record.
	crash_start preparing
	crash_wait preparing
	assert_eq "$(outcome 2)" failed "plan 2"
	[ ! -e "$S/plans/3.json" ]
	assert_eq "$(jq -r '.of + " " + .id' "$S/renew.json")" "2 3" "the new plan owed"
	start_controller
	wait_long "$CHAT" 'plan 4 for .* -> approve (waiting for an approver)'
	grep -q "plan 2: the new plan a stopped controller owed it is made now (a new plan for plan 2: apply\[0\] terraform was cut short by a restart)" "$D/run.log"
	[ ! -e "$S/renew.json" ]
	run fb approve --config "$C" --as bob 4
	assert_status 0
	settle_outcome 4
	assert_eq "$(outcome 4)" applied "plan 4"
	assert_route53_target
	assert_eq "$(tf_applied 2)/$(tf_applied 3)/$(tf_applied 4)/$(changes)" 0/0/1/2 "applies of the saved plans, and changes"
	assert_eq "$(said)" "plan 2 for $(short "$R") \"api, and mail's ttl\" by Alice Example: 1 dns.add, 1 dns.modify -&gt; approve (waiting for an approver)
plan 2: apply terraform failed (after a restart): terraform: a restart came before plan 2's saved plan was applied; a saved plan is never applied after a restart (the world may have moved), and nothing was applied: a new plan of the current release follows
plan 4 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; approve (waiting for an approver)
plan 4: apply terraform done: terraform apply: Apply complete! Resources: 1 added, 1 changed, 0 destroyed.
plan 4 for $(short "$R") \"api, and mail's ttl\" by Alice Example: a new plan for plan 2: apply[0] terraform was cut short by a restart -&gt; approve, approved by bob: applied" "what chat heard"
	assert_eq "$(entries "$S/tfplans" | grep -E '^(2|4)\.' || true)" "" "plans 2's and 4's files in tfplans/"
}

@test "terraform crash: kill -9 at random instants while Terraform plans and applies: Route53 ends at the head, no saved plan applied twice, every ended plan announced once" {
	local round ms calls k kills=${TF_CRASH_KILLS:-6}
	start_route53 --fast "$D/r53"
	tf_wrap
	dns_auto
	write_config
	: >"$D/runs.log"
	for round in $(seq "$kills"); do
		# Killed once Terraform was started k times in this round (init,
		# plan, show, init, apply make a plan and its apply), and a
		# random moment more: the kill lands in the start-up, in
		# Terraform's plan or its apply, or in a post.
		calls=$(wc -l <"$D/tf.calls")
		k=$((RANDOM % 6))
		"$FIREBREAK" run --config "$C" 2>>"$D/runs.log" 3>&- &
		PID=$!
		edit "$R" dns/example.com.yaml -e "s/{name: mail, type: A, value: 10.0.3.25, ttl: [0-9]*}/{name: mail, type: A, value: 10.0.3.25, ttl: $((600 + round))}/"
		commit_all "$R" "mail's ttl $((600 + round))"
		for _ in $(seq 600); do
			[ $(($(wc -l <"$D/tf.calls") - calls)) -ge "$k" ] && break
			sleep 0.1
		done
		ms=$((RANDOM % 3000))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		kill -9 "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
		PID=
	done
	start_controller
	local want="{\"records\":[\"10.0.3.25\"],\"ttl\":$((600 + kills))}"
	for _ in $(seq 3000); do
		if [ "$(cat "$S/applied")" = "$(sha "$R")" ] && [ "$(record mail.example.com A)" = "$want" ] &&
		    ! compgen -G "$S/outbox/*.json" >/dev/null && [ ! -e "$S/renew.json" ] &&
		    ! grep -qs '"outcome": "applying"' "$S"/plans/*.json; then
			break
		fi
		sleep 0.1
	done
	stop_controller
	cat "$D/runs.log" "$D/run.log" >"$D/all.log"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
	assert_eq "$(record mail.example.com A)" "$want" "mail in Route53"
	assert_eq "$(compgen -G "$S/outbox/*.json" || true)" "" "messages still in the outbox"
	left=$(jq -r 'select(.outcome == "applying" or .outcome == "open") | .id' "$S"/plans/*.json)
	assert_eq "$left" "" "plans left applying or open"
	# A saved plan is applied once at most.
	assert_eq "$(grep '^apply ' "$D/tf.calls" | sort | uniq -d)" "" "saved plans applied twice"
	# Every plan that ended was announced once (twice only where the
	# outbox logged the message in flight at a kill).
	local id outcome n window report=
	posts_raw >"$D/summaries"
	while IFS=' ' read -r id outcome; do
		[ "$id" -le 2 ] && continue
		n=$(grep -Ec "^plan $id( for |: apply terraform failed| superseded)" "$D/summaries" || true)
		window=$(grep -c "(plan $id) to chat\[[0-9]\] webhook may have been delivered before a restart" "$D/all.log" || true)
		if [ "$n" -lt 1 ] || [ "$n" -gt $((1 + window)) ]; then
			report+="plan $id ($outcome): announced $n times, $window in the window"$'\n'
		fi
	done < <(jq -r '"\(.id) \(.outcome)"' "$S"/plans/*.json)
	echo "# $kills kills; plans: $(jq -r 'select((.id | tonumber) > 2) | .outcome' "$S"/plans/*.json | sort | uniq -c | xargs); $(grep -c '^apply ' "$D/tf.calls") terraform applies; $(grep -c 'finishing its apply after a restart' "$D/all.log") applies finished after a restart; $(grep -c 'owed it is made now' "$D/all.log") owed plans made at a start" >&3
	assert_eq "$report" "" "plans not announced exactly once"
}
