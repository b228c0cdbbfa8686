#!/usr/bin/env bats
# Rollouts (DESIGN.md "Rollout") against a real OpenSSH server and real
# Puppet: the controller's `ssh` orchestrator reaches every example host
# through one sshd on a loopback port (tests/e2e/rollout_hosts.bash), and
# on the far side `puppet apply --detailed-exitcodes` classifies the host
# through `firebreak enc` and reads its pins through examples/hiera.yaml.
# Nothing here waits on a clock: a slow canary is a marker file the test
# removes, and every wait is for something the controller writes.

load helpers
load rollout_hosts

setup_file() {
	template_repo
	# Remote words and Puppet's external_nodes must not hold spaces.
	RD=$(mktemp -d /tmp/fb-rollout.XXXXXX)
	S=$RD/state
	export RD S
	rollout_hosts_setup
	export SSHD_PID SSH_PORT
}

teardown_file() {
	rollout_hosts_teardown
	case "${RD:-}" in /tmp/fb-rollout.*) rm -rf "$RD" 2>/dev/null || true ;; esac
}

setup() {
	require_firebreak
	require_jq
	command -v puppet >/dev/null || { echo "puppet is required (make deps)" >&2; return 1; }
	D=$BATS_TEST_TMPDIR
	R=$D/repo
	C=$D/firebreak.yaml
	new_repo "$R"
	rm -rf "$S" "$RD"/out/* "$RD"/var/*
	"$FIREBREAK" apply --repo "$R" --state "$S" >/dev/null
	PORT=$(free_port)
}

teardown() {
	stop_controller
	# A held run left behind by a failing test ends now.
	rm -f "$RD"/out/hold-*
}

# config: the controller's config with the ssh orchestrator; the rest of
# the rollout block from stdin.
config() {
	{
		printf 'repo: %s\nstate: %s\nlisten: 127.0.0.1:%s\n' "$R" "$S" "$PORT"
		printf 'chat:\n  - {type: console, path: %s/chat.log}\nrollout:\n' "$D"
		orchestrator_ssh
		printf '  retry_backoff: 1\n'
		cat
	} >"$C"
}

# until_true SECONDS COMMAND...: poll (the runs are real Puppet: slow).
until_true() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "timed out waiting for: $*" >&2
	cat "$D/chat.log" >&2 2>/dev/null
	tail -20 "$D/run.log" >&2 2>/dev/null
	return 1
}

chat_has() {
	grep -qF -- "$1" "$D/chat.log" 2>/dev/null
}

host_state() {
	"$FIREBREAK" rollout --config "$C" --json "$1" | jq -r --arg h "$2" '.hosts[] | select(.host == $h) | .state'
}

is_state() {
	[ "$(host_state "$1" "$2")" = "$3" ]
}

# agent_run HOST: Puppet on HOST on its own schedule, as its agent would.
agent_run() {
	ssh -F "$RD/ssh/config" -o BatchMode=yes "$1" env LANG=C.UTF-8 /usr/bin/puppet apply \
		"--config=$RD/puppet/puppet.conf" "--vardir=$RD/var/$1-agent" "--certname=$1" \
		--detailed-exitcodes --color=false "$RD/puppet/site.pp" >"$D/agent-$1.log" 2>&1
}

line_of() {
	grep -nF -- "$1" "$D/chat.log" | head -1 | cut -d: -f1
}

@test "rollout: the canary runs first while every other host keeps the previous release, then the batches" {
	printf '  canary: 1\n  batch: 2\n  parallel: 2\n' | config
	start_controller
	touch "$RD/out/hold-web-01.example.com"
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	edit "$R" roles/web.yaml -e 's/tls: true/tls: false/'
	commit_all "$R" "deploy app 1.4.3 without tls"
	until_true 60 is_state 2 web-01.example.com running
	# During the canary: the canary reads the new release, everyone else the old.
	run fb enc --state "$S" web-01.example.com
	assert_contains "$output" "tls: false"
	run fb enc --state "$S" web-02.example.com
	assert_contains "$output" "tls: true"
	assert_eq "$(readlink "$S/current")" "releases/1" "current during the canary"
	# An agent on its own schedule outside the canary cannot run ahead of it.
	run agent_run web-02.example.com
	assert_status 2
	assert_eq "$(version_of web-02.example.com)" "1.4.2" "web-02's pin during the canary"
	assert_eq "$(version_of web-03.example.com)" "" "web-03 before its batch"
	# The canary passes: everyone gets the new release, and the batches run.
	rm "$RD/out/hold-web-01.example.com"
	until_true 120 chat_has "-> done"
	assert_eq "$(readlink "$S/current")" "releases/2"
	for h in web-01 web-02 web-03; do
		assert_eq "$(version_of $h.example.com)" "1.4.3" "$h's version"
	done
	assert_eq "$(version_of web-s1.example.net)" "1.5.0-rc1" "the staging host's version"
	run fb enc --state "$S" web-02.example.com
	assert_contains "$output" "tls: false"
	# The thread: the start, the canary, then one message per batch.
	local start canary b1 b2
	start=$(line_of "rollout 2: Puppet runs on 4 hosts, canary web-01.example.com (the others keep the previous release until it passes), then 2 batches; parallel 2, max_failures 0")
	canary=$(line_of "rollout 2, canary (1 host): 1 changed")
	b1=$(line_of "rollout 2, batch 1 of 2 (2 hosts): 2 changed")
	b2=$(line_of "rollout 2, batch 2 of 2 (1 host): 1 changed -> done: 4 changed, 0 unchanged, 0 failed, 0 unreachable, 0 skipped")
	[ -n "$start" ] && [ -n "$canary" ] && [ -n "$b1" ] && [ -n "$b2" ] || { cat "$D/chat.log" >&2; false; }
	[ "$start" -lt "$canary" ] && [ "$canary" -lt "$b1" ] && [ "$b1" -lt "$b2" ]
	# Exactly the blast radius ran, each once: not lb-01, db-01, spare-01.
	for h in lb-01.example.com db-01.example.com spare-01.example.com; do
		[ "$(runs_of $h)" = 0 ] || { echo "$h ran" >&2; false; }
	done
	for h in web-01.example.com web-02.example.com web-03.example.com web-s1.example.net; do
		[ "$(runs_of $h)" = 1 ] || { echo "$h ran $(runs_of $h) times" >&2; false; }
	done
	# The plan's JSON and page show each host with its timing.
	run curl -sf "http://127.0.0.1:$PORT/plans/2.json"
	assert_status 0
	assert_eq "$(jqc "$output" '[.rollout.status, [.rollout.hosts[] | [.host, .group, .state, .exit, (.seconds > 0)]]]')" \
		'["done",[["web-01.example.com",0,"changed",2,true],["web-02.example.com",1,"changed",2,true],["web-03.example.com",1,"changed",2,true],["web-s1.example.net",2,"changed",2,true]]]'
	run curl -sf "http://127.0.0.1:$PORT/plans/2"
	assert_contains "$output" "<h2>rollout (4 hosts)</h2>"
	assert_contains "$output" "<code>web-02.example.com</code></td><td>batch 1</td><td>changed</td>"
	run fb chat --config "$C" --as carol "rollout 2"
	assert_status 0
	assert_contains "$output" "rollout 2 for $(short "$R"): done, 4 hosts: 4 changed"
	assert_contains "$output" "  changed     canary    web-01.example.com"
}

@test "rollout: more failures than max_failures stop it; resume (CLI) runs the failed host again and goes on; abort (chat) skips the rest" {
	printf '  canary: 1\n  batch: 1\n  parallel: 1\n  max_failures: 0\n' | config
	start_controller
	touch "$RD/out/fail-web-02.example.com"
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2/version: 1.4.3/' "deploy app 1.4.3"
	until_true 90 chat_has "-> stopped"
	assert_contains "$(cat "$D/chat.log")" "rollout 2, batch 1 of 2 (1 host): 1 failed -> stopped: 1 host failed, more than max_failures 0"
	run fb rollout --config "$C" 2
	assert_contains "$output" "rollout 2 for $(short "$R"): stopped (1 host failed, more than max_failures 0), 3 hosts: 1 pending, 1 changed, 1 failed"
	assert_contains "$output" "  pending     batch 2   web-03.example.com"
	assert_eq "$(runs_of web-03.example.com)" "0" "web-03 runs after a stop"
	# Puppet's own code and the failure's output are kept.
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqr "$output" '.hosts[1] | [.host, .state, .exit] | @tsv')" "$(printf 'web-02.example.com\tfailed\t6')"
	assert_contains "$(jqr "$output" '.hosts[1].tail')" "Exec[fail]"
	# Resuming needs an approver of what the plan changed (pin: alice).
	run fb rollout --config "$C" --as bob resume 2
	assert_status 1
	assert_contains "$output" "bob may not act on rollout 2: it needs an approver of pin"
	rm "$RD/out/fail-web-02.example.com"
	run fb rollout --config "$C" --as alice resume 2
	assert_status 0
	assert_contains "$output" "rollout 2 resumed by alice: 1 failed host run again, then the rest"
	until_true 90 chat_has "-> done"
	assert_eq "$(host_state 2 web-02.example.com)" "unchanged"
	assert_eq "$(host_state 2 web-03.example.com)" "changed"
	assert_eq "$(version_of web-03.example.com)" "1.4.3"
	# The next deploy fails its canary; abort it from chat.
	touch "$RD/out/fail-web-01.example.com"
	commit_edit "$R" services/app.yaml 's/^version: 1.4.3/version: 1.4.4/' "deploy app 1.4.4"
	until_true 90 chat_has "rollout 3, canary (1 host): 1 failed -> stopped"
	assert_eq "$(readlink "$S/current")" "releases/2" "held back while stopped"
	run fb chat --config "$C" --as alice "rollout abort 3"
	assert_status 0
	assert_contains "$output" "rollout 3 aborted by alice: 2 hosts skipped"
	until_true 10 chat_has "rollout 3 aborted by alice"
	assert_eq "$(host_state 3 web-02.example.com)" "skipped"
	assert_eq "$(runs_of web-02.example.com)" "2" "web-02 runs after the abort"
	assert_eq "$(readlink "$S/current")" "releases/3" "an aborted rollout is over: everyone reads the applied release"
	run fb chat --config "$C" --as alice "rollout abort 3"
	assert_status 1
	assert_contains "$output" "rollout 3 is aborted; nothing to abort"
}

@test "rollout: a new commit supersedes a stopped rollout; the new one covers the union of hosts" {
	printf '  canary: 1\n  batch: 2\n  parallel: 2\n' | config
	start_controller
	touch "$RD/out/fail-web-01.example.com"
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2/version: 1.4.3/' "deploy app 1.4.3"
	until_true 90 chat_has "rollout 2, canary (1 host): 1 failed -> stopped"
	rm "$RD/out/fail-web-01.example.com"
	# Draining web-02 alone would run lb-01 and web-02; superseding adds
	# rollout 2's hosts.  (lb-01's manifest has nothing to do, and web-01
	# wrote its version before its failing resource: Puppet says 0.)
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02"
	until_true 10 jq -e '.outcome == "open"' "$S/plans/3.json"
	run fb approve --config "$C" --as alice 3
	assert_status 0
	until_true 10 chat_has "rollout 2 superseded by plan 3: 2 hosts not run here go into rollout 3"
	until_true 150 chat_has "-> done"
	run fb rollout --config "$C" --json 3
	assert_eq "$(jqc "$output" '[.hosts[] | [.host, .state]]')" \
		'[["lb-01.example.com","unchanged"],["web-01.example.com","unchanged"],["web-02.example.com","changed"],["web-03.example.com","changed"]]'
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqc "$output" '[.status, .superseded_by, [.hosts[] | [.host, .state]]]')" \
		'["superseded","3",[["web-01.example.com","failed"],["web-02.example.com","skipped"],["web-03.example.com","skipped"]]]'
	for h in web-01 web-02 web-03; do
		assert_eq "$(version_of $h.example.com)" "1.4.3" "$h's version"
	done
}

@test "rollout: kill -9 during the canary; the restart runs the in-flight host again and counts it once" {
	printf '  canary: 1\n  batch: 2\n  parallel: 2\n' | config
	start_controller
	touch "$RD/out/hold-web-01.example.com"
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2/version: 1.4.3/' "deploy app 1.4.3"
	until_true 60 is_state 2 web-01.example.com running
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
	assert_eq "$(readlink "$S/staged")" "stages/2" "the staging survives"
	start_controller
	until_true 30 grep -q "rollout 2: resumed after a restart" "$D/run.log"
	rm "$RD/out/hold-web-01.example.com"
	until_true 120 chat_has "-> done"
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqc "$output" '[.status, .counts.changed + .counts.unchanged, [.hosts[] | [.host, .attempts]]]')" \
		'["done",3,[["web-01.example.com",2],["web-02.example.com",1],["web-03.example.com",1]]]'
	# Announced once each, though the controller died in the middle.
	[ "$(grep -c "rollout 2: Puppet runs on 3 hosts" "$D/chat.log")" = 1 ]
	[ "$(grep -c "rollout 2, canary (1 host)" "$D/chat.log")" = 1 ]
	[ "$(grep -c "rollout 2, batch 1 of 1 (2 hosts): 2 changed -> done" "$D/chat.log")" = 1 ]
	for h in web-01 web-02 web-03; do
		assert_eq "$(version_of $h.example.com)" "1.4.3" "$h's version"
	done
	[ ! -e "$S/staged" ]
}

# ---- the exec orchestrator: bad input and hostile hosts (no Puppet) ----

# exec_config SCRIPT: an exec orchestrator running SCRIPT HOST; the rest
# of the rollout block from stdin.  Chat also goes to a webhook stub when
# STUB_PORT is set, to see message bodies as a chat service gets them.
exec_config() {
	{
		printf 'repo: %s\nstate: %s\nlisten: 127.0.0.1:%s\n' "$R" "$S" "$PORT"
		printf 'chat:\n  - {type: console, path: %s/chat.log}\n' "$D"
		[ -z "${STUB_PORT:-}" ] || printf '  - {type: webhook, url: "http://127.0.0.1:%s/hooks/T0/B0/x"}\n' "$STUB_PORT"
		printf 'rollout:\n  orchestrator: {type: exec, argv: [%s, "{host}"], timeout: 2}\n' "$1"
		printf '  retry_backoff: 0\n'
		cat
	} >"$C"
}

@test "rollout: a malformed orchestrator template is refused at config load, with its line" {
	printf 'repo: %s\nstate: %s\nrollout:\n  orchestrator:\n    type: ssh\n    argv: [ssh, "{host}", puppet, "agent --test"]\n' "$R" "$S" >"$C"
	run fb run --config "$C" -n
	assert_status 1
	assert_contains "$output" "rollout.orchestrator ssh: argv[3] (line 6): \"agent --test\" would not stay one word on the host"
	printf 'repo: %s\nstate: %s\nrollout:\n  orchestrator: {type: exec, argv: [/bin/echo, "{hots}"]}\n  canary: "150%%"\n  gates: [Bad Gate]\n' "$R" "$S" >"$C"
	run fb run --config "$C" -n
	assert_status 1
	assert_contains "$output" "unknown or unclosed placeholder at \"{hots}\""
	assert_contains "$output" "firebreak.yaml:5:11: 'rollout.canary': '150%' is not a percentage from 1% to 100%"
	assert_contains "$output" "firebreak.yaml:6:11: 'rollout.gates[0]': a health check name is"
}

@test "rollout: a hanging orchestrator is killed at its timeout (unreachable); a host that vanishes is skipped with a note; output cannot forge a chat line" {
	"$BUILD/tests/tools/slackstub" -P "$D/stub.port" -o "$D/stub.log" >/dev/null 2>&1 3>&- &
	STUB_PID=$!
	until_true 10 test -s "$D/stub.port"
	STUB_PORT=$(cat "$D/stub.port")
	{
		echo '#!/bin/sh'
		echo 'case "$1" in'
		printf '%s\n' "web-01.example.com) printf 'ok\\n\\033[31mplan 99 approved by alice\\r\\nfirebreak: rollout 9 done\\007\\n'; exit 4 ;;"
		echo 'web-02.example.com) exec sleep 30 ;;'
		echo 'esac'
		echo 'exit 2'
	} >"$D/orch"
	chmod +x "$D/orch"
	printf '  canary: 0\n  batch: 1\n  parallel: 1\n  max_failures: 1\n' | exec_config "$D/orch"
	start_controller
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2/version: 1.4.3/' "deploy app 1.4.3"
	until_true 20 chat_has "rollout 2, batch 2 of 3 (1 host): 1 unreachable -> stopped: 2 hosts failed, more than max_failures 1"
	assert_eq "$(host_state 2 web-01.example.com)" "failed"
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqr "$output" '.hosts[1] | [.host, .state] | @tsv')" "$(printf 'web-02.example.com\tunreachable')"
	assert_contains "$(jqr "$output" '.hosts[1].how')" "timed out after 2"
	# web-03 leaves the inventory before its batch: the next plan supersedes
	# the rollout, and says web-03 is skipped, and why.
	git -C "$R" rm -q hosts/web-03.example.com.yaml
	commit_all "$R" "web-03 is gone"
	until_true 10 jq -e '.outcome == "open"' "$S/plans/3.json"
	run fb approve --config "$C" --as alice 3
	assert_status 0
	until_true 20 chat_has "rollout 2 superseded by plan 3"
	until_true 20 chat_has "rollout 3, batch 2 of 2"
	run fb rollout --config "$C" --json 3
	assert_eq "$(jqc "$output" '[.hosts[] | [.host, .state, .note]]')" \
		'[["web-01.example.com","failed",null],["web-02.example.com","unreachable",null],["web-03.example.com","skipped","no longer in the inventory (from rollout 2)"]]'
	run fb rollout --config "$C" --json 2
	assert_eq "$(jqc "$output" '[.hosts[] | select(.host == "web-03.example.com") | [.state, .note]]')" \
		'[["skipped","superseded by plan 3"]]'
	# What the chat service got: every line of every message is firebreak's.
	until_true 20 grep -q "rollout 3, batch 2" "$D/stub.log"
	local text
	text=$(jq -r '.body | fromjson | .text' "$D/stub.log")
	assert_contains "$text" "web-01.example.com: failed (exit 4 after"
	assert_contains "$text" "): firebreak: rollout 9 done"
	assert_contains "$text" "web-03.example.com: skipped [no longer in the inventory (from rollout 2)]"
	assert_not_contains "$text" $'\nplan 99'
	assert_not_contains "$text" $'\nfirebreak: rollout 9'
	assert_not_contains "$text" $'\033'
	assert_not_contains "$text" $'\r'
	kill "$STUB_PID" 2>/dev/null || true
	wait "$STUB_PID" 2>/dev/null || true
}

@test "rollout: at most parallel runs at once, and a busy Puppet (exit 1) is retried, then failed" {
	local i
	for i in 4 5 6 7 8 9; do
		printf 'role: web\nip: 10.0.1.%s\n' "$((20 + i))" | write_file "$R" "hosts/web-0$i.example.com.yaml"
	done
	commit_all "$R" "six more web hosts"
	"$FIREBREAK" apply --repo "$R" --state "$S" >/dev/null
	{
		echo '#!/bin/sh'
		echo "mkdir $D/run-\$1 || exit 3"
		echo "ls -d $D/run-* | wc -l >>$D/concurrency"
		echo "[ \"\$1\" = web-09.example.com ] && { rmdir $D/run-\$1; echo 'Run of Puppet configuration client already in progress'; exit 1; }"
		echo 'sleep 0.2'
		echo "rmdir $D/run-\$1"
		echo 'exit 2'
	} >"$D/orch"
	chmod +x "$D/orch"
	printf '  canary: 1\n  batch: "50%%"\n  parallel: 3\n  max_failures: 1\n' | exec_config "$D/orch"
	start_controller
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2/version: 1.4.3/' "deploy app 1.4.3"
	until_true 30 chat_has "-> done"
	# 9 hosts: a canary, then batches of 5 (50% of 9, rounded up) and 3.
	assert_contains "$(cat "$D/chat.log")" "rollout 3, batch 1 of 2 (5 hosts): 5 changed"
	assert_contains "$(cat "$D/chat.log")" "rollout 3, batch 2 of 2 (3 hosts): 2 changed, 1 failed -> done: 8 changed"
	[ "$(sort -n "$D/concurrency" | tail -1)" -le 3 ]
	run fb rollout --config "$C" --json 3
	assert_eq "$(jqc "$output" '[.hosts[] | select(.host == "web-09.example.com") | [.state, .attempts, .exit, .note]]')" \
		'[["failed",4,1,"Puppet could not run, 4 attempts"]]'
}
