#!/usr/bin/env bats
# Health checks against a real Graphite (Debian's carbon-cache and
# graphite-web, started once for the file, unprivileged, on free loopback
# ports: tests/e2e/health/graphite.bash), fed plaintext points with past
# timestamps so a five-minute window needs no five-minute wait.  Every
# test bootstraps a state from the example inventory (web-01, web-02 and
# web-s1 active, web-03 drained: role web counts 4), sets the policy's
# `actions:` and starts the controller with a check every second:
#
#   canary-data: sumSeries(canary.{host_short}.received), avg < 50 over 5min
#
# Each test feeds its own metric prefix, so tests never see each other's
# points.  What chat heard is read from the console chat log; what was
# committed from git; what was applied from the state's current release.

load helpers
load health/graphite

setup_file() {
	require_firebreak
	require_jq
	template_repo
	if [ "$(id -u)" -eq 0 ]; then
		GRAPHITE_HOME=$(mktemp -d /tmp/firebreak-graphite.XXXXXX)
	else
		GRAPHITE_HOME=$BATS_FILE_TMPDIR/graphite
	fi
	export GRAPHITE_HOME
	graphite_start "$GRAPHITE_HOME"
}

teardown_file() {
	graphite_stop
	[ "$(id -u)" -eq 0 ] && case $GRAPHITE_HOME in /tmp/firebreak-graphite.*) rm -rf "$GRAPHITE_HOME" ;; esac
	return 0
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	PID= FAKE_PID=
	# A metric prefix of this test's own.
	P=t$BATS_TEST_NUMBER$RANDOM
	SOURCE_URL=$GRAPHITE_URL
	new_repo "$R"
}

teardown() {
	stop_controller
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
}

# policy LEVEL [POLICY-LINES]: the example policy with actions:
# {health.drain: LEVEL} and any further lines, committed.
policy() {
	local level=$1
	shift
	{
		printf '\nactions: {health.drain: %s}\n' "$level"
		for l in "$@"; do printf '%s\n' "$l"; done
	} | append "$R" policy.yaml
	commit_all "$R" "policy: health.drain $level"
}

# config [MAX_DRAINED] [EXTRA-HEALTH-LINES...]: the controller's config.
config() {
	local max=${1:-2}
	shift || true
	local port
	port=$(free_port)
	LISTEN=127.0.0.1:$port
	cat >"$C" <<-EOF
	repo: $R
	state: $S
	listen: $LISTEN
	chat:
	  - {type: console, path: $CHAT}
	metrics: {graphite: "127.0.0.1:$CARBON_PORT", prefix: $P.fb, interval: 1}
	health:
	  source: {type: graphite, url: "$SOURCE_URL", timeout: 2}
	  every: 1
	  max_drained: $max
	  unreachable_after: 2
	EOF
	for l in "$@"; do printf '  %s\n' "$l" >>"$C"; done
	cat >>"$C" <<-EOF
	  checks:
	    - name: canary-data
	      roles: [web]
	      query: "sumSeries($P.{host_short}.received)"
	      over: 5min
	      fail_if: "avg < 50"
	      action: drain
	EOF
}

bootstrap() {
	run fb apply --repo "$R" --state "$S"
	assert_status 0
}

# feed HOST VALUE: five minutes of points for the host's short name.
feed() {
	graphite_past "$P.$1.received" "$2"
	graphite_wait "$P.$1.received" 25
}

# evaluations: how many evaluations the log shows so far.
evaluations() {
	grep -c 'health: canary-data over' "$BATS_TEST_TMPDIR/run.log" 2>/dev/null || true
}

# wait_evaluations N: until N more evaluations than now have ended.
wait_evaluations() {
	local want=$(($(evaluations) + $1))
	for _ in $(seq 400); do
		[ "$(evaluations)" -ge "$want" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1 evaluations" >&2
	cat "$BATS_TEST_TMPDIR/run.log" >&2
	return 1
}

count() {
	if [ -f "$1" ]; then
		grep -c -- "$2" "$1" || true
	else
		echo 0
	fi
}

metric() {
	curl -s "http://$LISTEN/metrics" | sed -n "s/^$1 //p"
}

@test "health: observe says 'would drain' once per host and episode, counts it on /metrics and in Graphite, and does nothing else" {
	policy observe
	bootstrap
	config 2
	feed web-01 100
	feed web-02 0
	feed web-s1 100
	start_controller
	wait_for "$CHAT" "would drain web-02.example.com: canary-data avg 0.0 < 50 over 5min"
	wait_evaluations 3
	assert_eq "$(count "$CHAT" 'would drain')" 1 "would-drain lines"
	assert_eq "$(metric 'firebreak_would_act_total{action="health.drain"}')" 1
	assert_eq "$(metric 'firebreak_health_episodes')" 1
	# Observe commits nothing.
	assert_eq "$(git -C "$R" log -1 --format=%s)" "policy: health.drain observe"
	# The Graphite metric, through graphite-web's render API.
	graphite_wait "$P.fb.would_act.health.drain"
	run curl -s "$GRAPHITE_URL/render?format=json&from=-5min&target=$P.fb.would_act.health.drain"
	assert_eq "$(jqr "$output" '[.[0].datapoints[] | select(.[0] != null) | .[0]] | max')" 1
	# A restart does not repeat the episode.
	stop_controller
	start_controller
	wait_evaluations 2
	assert_eq "$(count "$CHAT" 'would drain')" 1 "would-drain lines after a restart"
	assert_eq "$(metric 'firebreak_would_act_total{action="health.drain"}')" 1
}

@test "health: no data is no action: hosts without points are inconclusive, in auto as in observe" {
	policy auto
	bootstrap
	config 2
	# web-02 has no points at all; web-01 only nulls (a series of nothing).
	printf '%s.web-01.received 100 %s\n' "$P" "$(($(date +%s) - 3600))" | graphite_feed
	head=$(sha "$R")
	start_controller
	wait_evaluations 4
	assert_eq "$(sha "$R")" "$head" "the branch"
	assert_eq "$(count "$CHAT" 'drain')" 0 "chat lines about draining"
	[ "$(metric 'firebreak_health_checks_total{check="canary-data",result="no_data"}')" -ge 3 ]
	assert_eq "$(metric 'firebreak_health_checks_total{check="canary-data",result="fail"}')" 0
	assert_eq "$(metric 'firebreak_health_episodes')" 0
}

@test "health: auto drains through a bot commit (drain HOST, the finding, Requested-by: firebreak-health), applied under the action's trust though dns.modify needs approval" {
	policy auto
	bootstrap
	config 2
	feed web-01 100
	feed web-02 0
	feed web-s1 100
	start_controller
	wait_for "$CHAT" "drain web-02.example.com.*-> auto-applied"
	run git -C "$R" log -1 --format='%s%n%b%n%an <%ae>'
	assert_contains "$output" "drain web-02.example.com"
	assert_contains "$output" "canary-data avg 0.0 < 50 over 5min"
	assert_contains "$output" "Requested-by: firebreak-health"
	assert_contains "$output" "Requested-via: health"
	assert_contains "$output" "firebreak <firebreak@localhost>"
	# Applied: the release no longer has web-02 in www's round robin.
	run jq -r '.resource[] | to_entries[] | select(.value.name == "www.example.com") | .value.records | join(" ")' \
	    "$S/current/terraform/route53/example.com.tf.json"
	assert_eq "$output" "10.0.1.5"
	id=$(ls "$S"/plans | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
	assert_eq "$(jq -r '.action + " " + .decision + " " + .outcome' "$S/plans/$id.json")" \
	    "health.drain auto applied"
	# The policy itself would have asked for an approver of dns.
	assert_contains "$(jq -r '[.changes[].type] | unique | join(" ")' "$S/plans/$id.json")" "dns.modify"
	# Drained hosts stay checked: its recovery is said once; undraining stays a person's.
	feed web-02 100
	wait_for "$CHAT" "web-02.example.com recovered: canary-data avg 100.0 (fails if < 50); it stays drained"
	wait_evaluations 2
	assert_eq "$(count "$CHAT" 'recovered')" 1
	assert_eq "$(git -C "$R" log -1 --format=%s)" "drain web-02.example.com"
	assert_eq "$(metric 'firebreak_health_actions_total{action="health.drain",result="committed"}')" 1
}

@test "health: policy limits still force approval of the action's plan" {
	edit "$R" policy.yaml 's/^limits: {/limits: {dns.modify: 0, /'
	policy auto
	bootstrap
	config 2
	feed web-01 100
	feed web-02 0
	start_controller
	wait_for "$CHAT" "drain web-02.example.com.*waiting for an approver"
	assert_eq "$(git -C "$R" log -1 --format=%s)" "drain web-02.example.com"
	id=$(ls "$S"/plans | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
	assert_eq "$(jq -r '.action + " " + .decision + " " + .outcome' "$S/plans/$id.json")" \
	    "health.drain approve open"
	assert_eq "$(jq -r '.approvals_needed | join(" ")' "$S/plans/$id.json")" "dns"
}

@test "health: max_drained holds a drain back, said once per episode, nothing committed; observe counts the same way" {
	policy auto
	bootstrap
	config 1
	feed web-01 100
	feed web-02 0
	head=$(sha "$R")
	start_controller
	wait_for "$CHAT" "would drain web-02.example.com, but max_drained holds it back (1 of 4 drained)"
	wait_evaluations 3
	assert_eq "$(count "$CHAT" 'max_drained holds')" 1
	assert_eq "$(sha "$R")" "$head" "the branch"
	assert_eq "$(metric 'firebreak_health_actions_total{action="health.drain",result="held"}')" 1
	# The bot checks again at the head: a health drain past the limit is refused there too.
	run fb chat --config "$C" --health-action --reason "test" -- "drain web-02.example.com"
	assert_status 1
	assert_contains "$output" "max_drained holds it back (1 of 4 drained)"
}

@test "health: a flapping host gets one line per episode, and its recovery once" {
	policy observe
	bootstrap
	config 2
	feed web-01 100
	feed web-02 0
	start_controller
	wait_for "$CHAT" "would drain web-02.example.com"
	wait_evaluations 2
	feed web-02 100
	wait_for "$CHAT" "web-02.example.com recovered: canary-data avg 100.0"
	wait_evaluations 2
	feed web-02 0
	for _ in $(seq 200); do
		[ "$(count "$CHAT" 'would drain web-02')" -ge 2 ] && break
		sleep 0.05
	done
	wait_evaluations 3
	assert_eq "$(count "$CHAT" 'would drain web-02')" 2 "would-drain lines (two episodes)"
	assert_eq "$(count "$CHAT" 'recovered')" 1
	assert_eq "$(metric 'firebreak_would_act_total{action="health.drain"}')" 2
}

@test "health: a source that is down, slow, or answers 400, 500 or malformed JSON is no data: no action, one 'unreachable' line, one 'back' line" {
	policy auto
	bootstrap
	FAKE_PORT=$(free_port)
	MODE=$BATS_TEST_TMPDIR/mode
	echo 500 >"$MODE"
	/usr/bin/python3 "$TOP/tests/e2e/health/fakesrc.py" "$FAKE_PORT" "$MODE" "$GRAPHITE_URL" 3>&- &
	FAKE_PID=$!
	SOURCE_URL=http://127.0.0.1:$FAKE_PORT
	config 2
	feed web-01 100
	feed web-02 0
	head=$(sha "$R")
	start_controller
	wait_for "$CHAT" "health source graphite $SOURCE_URL is unreachable: HTTP 500 (2 evaluations in a row)"
	for mode in 400 malformed shape slow close; do
		echo "$mode" >"$MODE"
		wait_evaluations 2
	done
	# Down: nothing listens any more.
	kill "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null || true
	wait_evaluations 2
	assert_eq "$(count "$CHAT" 'unreachable')" 1 "unreachable lines"
	assert_eq "$(sha "$R")" "$head" "the branch (nothing drained on no data)"
	assert_eq "$(count "$CHAT" 'drain')" 0
	[ "$(metric 'firebreak_health_evaluations_total{result="failed"}')" -ge 10 ]
	assert_contains "$(cat "$BATS_TEST_TMPDIR/run.log")" "failed: timed out after 2 s"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/run.log")" "failed: malformed answer"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/run.log")" "failed: HTTP 400"
	# Nothing the source said reached chat (the 500's body had an escape).
	assert_not_contains "$(cat "$CHAT")" "it went wrong"
	# Back: the same port answers again, as the real Graphite.
	echo ok >"$MODE"
	/usr/bin/python3 "$TOP/tests/e2e/health/fakesrc.py" "$FAKE_PORT" "$MODE" "$GRAPHITE_URL" 3>&- &
	FAKE_PID=$!
	wait_for "$CHAT" "health source graphite $SOURCE_URL is back"
	wait_for "$CHAT" "drain web-02.example.com.*-> auto-applied"
	assert_eq "$(count "$CHAT" 'is back')" 1
	assert_eq "$(count "$CHAT" 'unreachable')" 1
}

@test "health: firebreak's own counters reach Graphite (find and render)" {
	bootstrap
	config 2
	start_controller
	# A plan, so that plans.* moves.
	commit_edit "$R" services/app.yaml 's/^version: .*/version: 9.9.9/' "deploy app 9.9.9"
	wait_for "$CHAT" "deploy app 9.9.9.*-> auto-applied"
	graphite_wait "$P.fb.plans.auto"
	run curl -s "$GRAPHITE_URL/metrics/find?query=$P.fb.*"
	for node in plans applies commit_to_plan_seconds_count health_checks would_act outbox_depth; do
		assert_contains "$(jqr "$output" '[.[].text] | join(" ")')" "$node"
	done
	run curl -s "$GRAPHITE_URL/render?format=json&from=-5min&target=$P.fb.plans.auto"
	assert_eq "$(jqr "$output" '[.[0].datapoints[] | select(.[0] != null) | .[0]] | max')" 1
	run curl -s "$GRAPHITE_URL/render?format=json&from=-5min&target=$P.fb.applies.ok"
	[ "$(jqr "$output" '[.[0].datapoints[] | select(.[0] != null) | .[0]] | max')" -ge 1 ]
}

@test "health: the Graphite output survives a server that goes away (bounded queue, reconnect)" {
	bootstrap
	# A port nobody listens on: lines queue (bounded), dropped oldest first.
	dead=$(free_port)
	config 2
	sed -i "s/metrics: {graphite: \"127.0.0.1:$CARBON_PORT\", prefix: $P.fb, interval: 1}/metrics: {graphite: \"127.0.0.1:$dead\", prefix: $P.fb, interval: 1, queue: 50}/" "$C"
	grep -q "queue: 50" "$C"
	start_controller
	for _ in $(seq 200); do
		[ "$(metric 'firebreak_graphite_lines_total{result="dropped"}')" -gt 0 ] 2>/dev/null && break
		sleep 0.05
	done
	[ "$(metric 'firebreak_graphite_lines_total{result="dropped"}')" -gt 0 ]
	[ "$(metric 'firebreak_graphite_queue')" -le 50 ]
	# The loop keeps answering meanwhile.
	run fb status --config "$C"
	assert_status 0
}

@test "health: the config is checked with file:line (bad condition, unknown key, query without the host, bad source)" {
	bootstrap
	cat >"$C" <<-EOF
	repo: $R
	state: $S
	health:
	  source: {type: graphite, url: "ftp://x", timeout: 2}
	  checks:
	    - name: Bad Name
	      roles: [web]
	      query: "sumSeries(canary.all.received)"
	      over: 5 minutes
	      fail_if: "mean < 50"
	      no_data: maybe
	      acton: drain
	EOF
	run fb run --config "$C" -n
	assert_status 1
	assert_contains "$output" "firebreak.yaml:4:"
	assert_contains "$output" "'url' must be an http:// or https:// URL"
	assert_contains "$output" "unknown key 'acton' in a health check (did you mean 'action'?)"
	assert_contains "$output" "the query must name the host"
	assert_contains "$output" "fail_if: 'mean < 50' is not a condition"
	assert_contains "$output" "over: '5 minutes' is not a duration"
	assert_contains "$output" "no_data is inconclusive, fail or pass"
	assert_contains "$output" "a health check needs a 'name'"
}

@test "health: switching observe -> auto acts on a host already in an episode at the next evaluation" {
	policy observe
	bootstrap
	config 2
	feed web-01 100
	feed web-02 0
	start_controller
	wait_for "$CHAT" "would drain web-02.example.com: canary-data"
	# A person moves the action up; a policy change needs a policy approver.
	edit "$R" policy.yaml 's/^actions: {health.drain: observe}/actions: {health.drain: auto}/'
	commit_all "$R" "health.drain: auto"
	wait_for "$CHAT" '"health.drain: auto".*waiting for an approver'
	id=$(ls "$S"/plans | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
	run fb approve --config "$C" --as alice "$id"
	assert_status 0
	wait_for "$CHAT" "drain web-02.example.com.*-> auto-applied"
	assert_eq "$(count "$CHAT" 'would drain')" 1 "would-drain lines"
	assert_eq "$(git -C "$R" log -1 --format=%s)" "drain web-02.example.com"
}

@test "health: nobody can act as firebreak-health: not a chat identity, not --as, and the action itself only drains when policy says auto" {
	bootstrap
	config 2
	run fb chat --config "$C" --as firebreak-health "drain web-02.example.com"
	assert_status 1
	assert_contains "$output" "reserved for firebreak's own health actions"
	printf '\nidentities: {"slack:U999": firebreak-health}\n' | append "$R" policy.yaml
	sed -i '/^identities: {"slack:U024BE7LH"/d' "$R/policy.yaml"
	commit_all "$R" "claim the health identity"
	run fb check --repo "$R"
	assert_status 1
	assert_contains "$output" "identity 'slack:U999' may not map to firebreak-health"
	# The action's own flag, with actions off (the example policy says nothing).
	run fb chat --config "$C" --health-action --reason x -- "drain web-02.example.com"
	assert_status 1
	assert_contains "$output" "health.drain is off in the applied policy.yaml"
	run fb chat --config "$C" --health-action --reason x -- "deploy app 1.0"
	assert_status 1
	assert_contains "$output" "a health action may only run drain"
}

@test "health: a template Graphite can group (sumSeries(PATH.{host_short}...)) and one it cannot (asked per host) give the same verdicts" {
	bootstrap
	config 2
	# Four minutes of points in the five-minute window: between the two
	# evaluations below the oldest point must not leave it (a full five
	# minutes lost one under ASan: 30 points, then 29).
	graphite_past "$P.web-01.received" 100 240
	graphite_past "$P.web-02.received" 0 240
	graphite_wait "$P.web-01.received" 20
	graphite_wait "$P.web-02.received" 20
	run --separate-stderr fb health --config "$C" --format json
	grouped=$(jqc "$output" '[.[] | {host, result, value, points}]')
	assert_contains "$stderr" "canary-data over 4 hosts"
	sed -i "s|query: \"sumSeries($P.{host_short}.received)\"|query: \"scale(sumSeries($P.{host_short}.received),1)\"|" "$C"
	grep -q 'scale(' "$C"
	run --separate-stderr fb health --config "$C" --format json
	assert_eq "$(jqc "$output" '[.[] | {host, result, value, points}]')" "$grouped" "per-host verdicts"
	assert_eq "$(jqr "$grouped" '[.[] | .result] | join(" ")')" "pass fail no_data no_data"
}

# rollout_config: the rollout block, an exec orchestrator that succeeds at
# once, canary 1, gated by canary-data.
rollout_config() {
	cat >>"$C" <<-EOF
	rollout:
	  orchestrator: {type: exec, argv: [/bin/echo, "{host}"], timeout: 10}
	  canary: 1
	  batch: 2
	  staged: false
	  gates: [canary-data]
	EOF
}

@test "health: rollout.gates: a failing gate stops the rollout with the reason; resume asks again, and a passing gate lets the batches run" {
	bootstrap
	config 2
	rollout_config
	feed web-01 0
	start_controller
	commit_edit "$R" services/app.yaml 's/^version: .*/version: 2.0.0/' "deploy app 2.0.0"
	wait_for "$CHAT" "rollout 2 -> stopped: gate canary-data fails for web-01.example.com: canary-data avg 0.0 < 50 over 5min"
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqr "$output" '.status')" "stopped"
	assert_eq "$(jqr "$output" '[.hosts[] | select(.state == "pending")] | length')" 2
	# Fixed: resume asks the gate again, which passes, and the batches run.
	feed web-01 100
	run fb rollout --config "$C" --as alice resume 2
	assert_status 0
	wait_for "$CHAT" "rollout 2: every gate passes for the 1 canary host"
	wait_for "$CHAT" "rollout 2, batch .* -> done"
	# The next deploy's canary passes at once.
	commit_edit "$R" services/app.yaml 's/^version: .*/version: 2.0.1/' "deploy app 2.0.1"
	wait_for "$CHAT" "rollout 3: every gate passes for the 1 canary host"
	wait_for "$CHAT" "rollout 3, batch .* -> done"
}

@test "health: rollout.gates with no data for the canary is inconclusive and stops the rollout" {
	bootstrap
	config 2
	rollout_config
	start_controller
	commit_edit "$R" services/app.yaml 's/^version: .*/version: 2.0.0/' "deploy app 2.0.0"
	wait_for "$CHAT" "rollout 2 -> stopped: gate canary-data is inconclusive for web-01.example.com: canary-data: no data over 5min"
	run fb check --repo "$R"
	assert_status 0
	# A gate must name a check.
	sed -i 's/gates: \[canary-data\]/gates: [canary-dta]/' "$C"
	run fb run --config "$C" -n
	assert_status 1
	assert_contains "$output" "'rollout.gates[0]': there is no health check 'canary-dta'"
}
