#!/usr/bin/env bats
# The controller (firebreak run) on a real repository: a commit is planned
# at once, applied when the policy trusts it, posted and held otherwise;
# approvals from the shell reach it through its control socket.

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
	# Bootstrap with the one-shot apply, so the example policy governs.
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	PID=
}

teardown() {
	stop_controller
}

outcome() {
	jq -r .outcome "$S/plans/$1.json"
}

@test "controller: run -n checks the configuration" {
	run fb run --config "$C" -n
	assert_status 0
	printf 'repo: %s\nstate: %s\nchatt: []\n' "$R" "$S" >"$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "firebreak.yaml:3:1: unknown key 'chatt' in the configuration (did you mean 'chat'?)"
}

@test "controller: a pin change is planned and auto-applied at once" {
	start_controller
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$R" "deploy app 1.4.3"
	wait_for "$CHAT" 'plan 2 for .* 1 pin.modify -> auto-applied'
	assert_eq "$(outcome 2)" "applied" "plan 2's outcome"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
	run fb enc --state "$S" web-01.example.com
	assert_status 0
}

@test "controller: a dns change waits; approve applies once; a second approve does nothing" {
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 .* -> approve (waiting for an approver)'
	assert_eq "$(outcome 2)" "open" "plan 2 before approval"
	run fb approve --config "$C" --as alice 2
	assert_status 0
	assert_contains "$output" "plan 2 applied"
	assert_eq "$(outcome 2)" "applied" "plan 2 after approval"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
	run fb approve --config "$C" --as alice 2
	assert_status 0
	assert_contains "$output" "plan 2 is already applied; nothing to do"
	assert_eq "$(ls "$S/plans" | wc -l)" "2" "no new plan"
}

@test "controller: an approver the policy does not name is refused" {
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	run --separate-stderr fb approve --config "$C" --as carol 2
	assert_status 1
	assert_contains "$stderr" "carol may not approve dns changes"
	assert_eq "$(outcome 2)" "open" "plan 2 stays open"
}

@test "controller: a newer commit supersedes an open plan" {
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	edit "$R" hosts/web-03.example.com.yaml -e 's/^state: drained/state: active/'
	commit_all "$R" "undrain web-03"
	wait_for "$CHAT" 'plan 2 superseded by plan 3'
	# Approving the old plan is refused as stale, naming the fresh one.
	run --separate-stderr fb approve --config "$C" --as alice 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 is stale; the fresh plan is 3"
	assert_eq "$(outcome 2)" "superseded" "plan 2"
	assert_eq "$(outcome 3)" "open" "plan 3"
}

@test "controller: approving a plan whose target is no longer the head is refused as stale" {
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	start_controller
	wait_for "$CHAT" 'plan 2 '
	stop_controller
	edit "$R" hosts/web-03.example.com.yaml -e 's/^state: drained/state: active/'
	commit_all "$R" "undrain web-03"
	run --separate-stderr fb approve --config "$C" --as alice 2
	assert_status 1
	assert_eq "$stderr" "firebreak: plan 2 is stale; the head $(short "$R") has no plan yet (the controller plans it when it runs)"
	assert_eq "$(outcome 2)" "open" "plan 2"
}

@test "controller: an invalid commit is posted and the last good release stays" {
	start_controller
	before=$(cat "$S/applied")
	printf 'role: nope\nip: 10.0.1.77\n' | write_file "$R" hosts/bad-01.example.com.yaml
	commit_all "$R" "a host with no role file"
	wait_for "$CHAT" 'plan 2 .* -> invalid'
	# The one chat line says where (issue 12, defect 14).
	assert_eq "$(grep -o '^plan 2 .* -> invalid (the last good release stays current)' "$CHAT")" \
	    "plan 2 for $(short "$R") \"a host with no role file\" by Alice Example: 1 error: hosts/bad-01.example.com.yaml:1:1: role 'nope' has no file roles/nope.yaml -> invalid (the last good release stays current)" \
	    "plan 2's chat line"
	assert_eq "$(outcome 2)" "invalid" "plan 2"
	assert_eq "$(jq -r '.errors[0].file' "$S/plans/2.json")" "hosts/bad-01.example.com.yaml" "the error's file"
	assert_eq "$(cat "$S/applied")" "$before" "the applied commit"
	run fb enc --state "$S" web-01.example.com
	assert_status 0
}

@test "controller: an invalid plan's chat line names its first error, escaped, on one line" {
	start_controller
	# A file name with a newline (git allows it) and a role that is a typo.
	printf 'role: web\n' | write_file "$R" "hosts/a"$'\n'"forged.yaml"
	printf 'role: wbe\nip: 10.0.1.77\n' | write_file "$R" hosts/web-09.example.com.yaml
	commit_all "$R" "two bad hosts"
	wait_for "$CHAT" 'plan 2 .* -> invalid'
	assert_eq "$(grep -c '' "$CHAT")" "1" "lines in the chat log"
	assert_eq "$(grep -o '^plan 2 .* -> invalid (the last good release stays current)' "$CHAT")" \
	    "plan 2 for $(short "$R") \"two bad hosts\" by Alice Example: 2 errors, first hosts/a\\nforged.yaml: 'a\\nforged' is not a valid host name -> invalid (the last good release stays current)" \
	    "plan 2's chat line"
}

@test "controller: approve and status work from the shell when the controller is stopped" {
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	stop_controller
	run fb status --config "$C"
	assert_status 0
	assert_contains "$output" "controller: not running"
	assert_contains "$output" "open: plan 2 for $(short "$R") (approve)"
	assert_contains "$output" "outbox: 0 undelivered posts"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$(outcome 2)" "applied" "plan 2"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
}

@test "controller: a policy change always waits for an approver of policy" {
	start_controller
	edit "$R" policy.yaml -e 's/^auto: \[pin.modify, enc.modify\]/auto: [pin.modify, enc.modify, dns.add]/'
	commit_all "$R" "trust dns.add"
	wait_for "$CHAT" 'plan 2 .* 1 policy.modify -> approve'
	run --separate-stderr fb approve --config "$C" --as bob 2
	assert_status 1
	assert_contains "$stderr" "bob may not approve policy changes"
	run fb approve --config "$C" --as alice 2
	assert_status 0
}

@test "controller: observe posts would-apply and applies nothing" {
	start_controller
	edit "$R" dns/example.com.yaml -e '/name: mail, type: A/d'
	commit_all "$R" "drop mail"
	wait_for "$CHAT" 'plan 2 .* 1 dns.delete -> observe (observe: would apply'
	assert_eq "$(outcome 2)" "open" "plan 2"
	assert_eq "$(git -C "$R" rev-parse HEAD~1)" "$(cat "$S/applied")" "nothing applied"
}

@test "controller: limits force approval" {
	# A policy whose enc.modify limit is 2, applied by the operator.
	edit "$R" policy.yaml -e 's/^limits: {dns.delete: 5, enc.modify: 50}/limits: {dns.delete: 5, enc.modify: 2}/'
	commit_all "$R" "tighter limit"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	start_controller
	# Every web host's document changes: 5 enc.modify, above the limit.
	edit "$R" roles/web.yaml -e 's/nginx_workers: 4/nginx_workers: 6/'
	commit_all "$R" "web workers"
	wait_for "$CHAT" 'plan 3 .* enc.modify -> approve'
	assert_eq "$(outcome 3)" "open" "plan 3"
	assert_eq "$(jq -r '[.changes[] | select(.type == "enc.modify") | .decision] | unique | join(",")' "$S/plans/3.json")" \
	    "approve" "each enc.modify's decision"
}

@test "controller: stops cleanly on SIGTERM and leaves no socket" {
	start_controller
	kill -TERM "$PID"
	wait "$PID"
	PID=
	[ ! -e "$S/run/control.sock" ]
}

@test "controller: an exec apply hook runs after the release switch, with the release path" {
	hook=$BATS_TEST_TMPDIR/hook
	printf '#!/bin/sh\necho "$@" >>%s/hook.log\nls "$1" >>%s/hook.log\n' \
	    "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" >"$hook"
	chmod +x "$hook"
	printf 'apply:\n  - {type: exec, kinds: [dns], argv: [%s, "{release}/terraform/route53", "{plan}", "{commit}"], timeout: 30}\n' \
	    "$hook" >>"$C"
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	run fb approve --config "$C" --as alice 2
	assert_status 0
	for _ in $(seq 100); do [ "$(outcome 2)" = applied ] && break; sleep 0.05; done
	assert_eq "$(outcome 2)" "applied" "plan 2"
	assert_eq "$(head -1 "$BATS_TEST_TMPDIR/hook.log")" \
	    "$S/releases/2/terraform/route53 2 $(sha "$R")" "the hook's arguments"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/hook.log")" "example.com.tf.json"
}

@test "controller: a failing apply hook marks the plan failed and says so in chat" {
	hook=$BATS_TEST_TMPDIR/hook
	printf '#!/bin/sh\necho "terraform exploded" >&2\nexit 3\n' >"$hook"
	chmod +x "$hook"
	printf 'apply:\n  - {type: exec, kinds: [pin], argv: [%s], timeout: 30}\n' "$hook" >>"$C"
	start_controller
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$R" "deploy app 1.4.3"
	wait_for "$CHAT" 'plan 2: apply exec failed'
	assert_eq "$(outcome 2)" "failed" "plan 2"
}

@test "controller: HTTP serves health, metrics and plans; push hooks need a valid HMAC" {
	port=$((20000 + RANDOM % 20000))
	printf 's3cret\n' >"$BATS_TEST_TMPDIR/hook-secret"
	chmod 600 "$BATS_TEST_TMPDIR/hook-secret"
	printf 'listen: 127.0.0.1:%s\nhook_secret_file: %s\n' "$port" "$BATS_TEST_TMPDIR/hook-secret" >>"$C"
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	base=http://127.0.0.1:$port
	run curl -sS "$base/healthz"
	assert_eq "$output" "ok" "healthz"
	run curl -sS "$base/plans/2.json"
	assert_eq "$(printf '%s' "$output" | jq -r .id)" "2" "plan 2's JSON"
	run curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$base/plans/2"
	assert_contains "$output" "200 text/html"
	run curl -sS -o /dev/null -w '%{http_code}' "$base/plans/99"
	assert_eq "$output" "404" "an unknown plan"
	run curl -sS "$base/metrics"
	assert_contains "$output" 'firebreak_plans_total{decision="approve"} 1'
	body='{"ref":"refs/heads/main"}'
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac s3cret | sed 's/^.* //')
	run curl -sS -o /dev/null -w '%{http_code}' -H "X-Hub-Signature-256: sha256=$sig" \
	    -H 'Content-Type: application/json' --data "$body" "$base/hooks/push"
	assert_eq "$output" "202" "a signed push"
	run curl -sS -o /dev/null -w '%{http_code}' -H "X-Hub-Signature-256: sha256=00$sig" \
	    -H 'Content-Type: application/json' --data "$body" "$base/hooks/push"
	assert_eq "$output" "401" "a badly signed push"
}

@test "controller: with a remote, it fetches every poll_seconds and plans what it fetched" {
	origin=$BATS_TEST_TMPDIR/origin.git
	git clone -q --bare "$R" "$origin"
	printf 'remote: %s\npoll_seconds: 1\n' "$origin" >>"$C"
	start_controller
	work=$BATS_TEST_TMPDIR/work
	git clone -q "$origin" "$work"
	edit "$work" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$work" "deploy app 1.4.3 upstream"
	git -C "$work" push -q origin HEAD:main
	wait_for "$CHAT" 'plan 2 .* -> auto-applied'
	assert_eq "$(cat "$S/applied")" "$(sha "$work")" "the applied commit"
}

@test "controller: run -n names an unreadable secret file of a chat provider" {
	printf '  - {type: slack, token_file: %s/missing-token, channel: "#ops"}\n' "$BATS_TEST_TMPDIR" >>"$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "firebreak.yaml:6:5: chat[1] slack: token_file: cannot read $BATS_TEST_TMPDIR/missing-token"
}

# An empty hook_secret_file crashed both (SIGSEGV, exit 139).  Exit 1: the
# problem is in what the operator set up (the config and the files it
# names), reported at the config's file:line like every other config
# problem, before anything runs; 3 is for what a retry can cure.
@test "controller: run and run -n refuse an empty, a world-readable or a missing hook_secret_file" {
	local F=$BATS_TEST_TMPDIR/hook-secret mode want
	printf 'hook_secret_file: %s\n' "$F" >>"$C"
	for mode in "-n" ""; do
		: >"$F"; chmod 600 "$F"
		run --separate-stderr timeout 30 "$FIREBREAK" run --config "$C" $mode
		assert_status 1
		assert_eq "$stderr" "$C:6:19: hook_secret_file: $F is empty
firebreak: 1 problem in $C" "run $mode with an empty secret file"

		printf 's3cret\n' >"$F"; chmod 644 "$F"
		run --separate-stderr timeout 30 "$FIREBREAK" run --config "$C" $mode
		assert_status 1
		want="$C:6:19: hook_secret_file: $F is readable by others (mode 0644): a secret"
		want+=" file may be open to its owner and group only (chmod o-rwx)"
		assert_eq "$stderr" "$want
firebreak: 1 problem in $C" "run $mode with a world-readable secret file"
		assert_not_contains "$stderr$output" s3cret

		rm -f "$F"
		run --separate-stderr timeout 30 "$FIREBREAK" run --config "$C" $mode
		assert_status 1
		assert_eq "$stderr" "$C:6:19: hook_secret_file: cannot read $F: No such file or directory
firebreak: 1 problem in $C" "run $mode with a missing secret file"
	done
	# Nothing ran: no plan beyond the bootstrap's, no control socket.
	assert_eq "$(ls "$S/plans")" "1.json" "plans"
	[ ! -e "$S/run/control.sock" ]
	# Group-readable is fine (the secret may belong to a service group).
	printf 's3cret\n' >"$F"; chmod 640 "$F"
	run --separate-stderr fb run --config "$C" -n
	assert_status 0
	assert_eq "$output" "ok: $C is a valid configuration"
}

# modes DIR...: "mode type path" of everything under DIR (symlinks left
# out: a link has no mode of its own), sorted.
modes() {
	find "$@" ! -type l -printf '%m %y %p\n' | sort -k3
}

# every_mode DIR FILEMODE DIRMODE: every file under DIR (DIR included) has
# FILEMODE and every directory DIRMODE; and there is at least one file.
every_mode() {
	local bad
	bad=$(modes "$1" | awk -v f="$2" -v d="$3" '($2 == "f" && $1 != f) || ($2 == "d" && $1 != d)')
	assert_eq "$bad" "" "modes under $1 (want files $2, directories $3)"
	[ -n "$(find "$1" -type f)" ] || { echo "no file under $1" >&2; return 1; }
}

# Plans, the outbox and threads are the controller's alone; releases are
# read by Puppet's group, never by others; whatever the umask says.
@test "controller: state files get their modes whatever the umask: private 0600/0700, releases 0640/0750" {
	umask 022
	rm -rf "$S"
	printf 'xoxb-test\n' >"$BATS_TEST_TMPDIR/token"
	chmod 600 "$BATS_TEST_TMPDIR/token"
	# Slack unreachable: its messages stay queued in the outbox.
	printf '  - {type: slack, token_file: %s, channel: "#ops", api_url: "http://127.0.0.1:1/api"}\n' \
	    "$BATS_TEST_TMPDIR/token" >>"$C"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 .* -> approve'
	for _ in $(seq 200); do [ -f "$S/outbox/1.json" ] && break; sleep 0.05; done
	stop_controller
	assert_eq "$(stat -c %a "$S")" 750 "the state directory"
	assert_eq "$(stat -c %a "$S/plans" "$S/plans/1.json" "$S/plans/2.json")" "700
600
600" "plans"
	assert_eq "$(stat -c %a "$S/outbox" "$S/outbox/1.json" "$S/outbox/seq" "$S/outbox/dead")" "700
600
600
700" "the outbox"
	assert_eq "$(stat -c %a "$S/threads" "$S/run" "$S/lock")" "700
700
600" "threads, run, lock"
	every_mode "$S/plans" 600 700
	every_mode "$S/outbox" 600 700
	assert_eq "$(stat -c %a "$S/applied" "$S/releases" "$S/buckets")" "640
750
750" "applied, releases, buckets"
	# current/ and what Puppet reads through it, bucketed ENC documents too.
	assert_eq "$(stat -L -c %a "$S/current" "$S/current/COMMIT" "$S/current/hiera/pins/production.yaml" \
	    "$S/current/enc" "$(echo "$S"/current/enc/*/ | cut -d' ' -f1)")" "750
640
640
750
750" "current/"
	every_mode "$S/releases" 640 750
	every_mode "$S/buckets" 640 750
	assert_eq "$(stat -L -c %a "$(enc_file web-01.example.com)")" 640 "an ENC document"

	# A umask of 077 does not lock Puppet's group out of a fresh state.
	umask 077
	rm -rf "$S"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	assert_eq "$(stat -c %a "$S" "$S/plans" "$S/plans/1.json")" "750
700
600" "a state made under umask 077"
	every_mode "$S/releases" 640 750
	every_mode "$S/buckets" 640 750
}

# enc_file FQDN: the file `firebreak enc` reads for FQDN in the current release.
enc_file() {
	local f
	for f in "$S"/current/enc/*/"$1".yaml; do
		[ -e "$f" ] && printf '%s\n' "$f" && return 0
	done
	return 1
}

@test "controller: everything the shell can do works while chat is unreachable" {
	printf 'xoxb-test\n' >"$BATS_TEST_TMPDIR/token"
	chmod 600 "$BATS_TEST_TMPDIR/token"
	printf 'repo: %s\nstate: %s\nchat:\n  - {type: slack, token_file: %s, channel: "#ops", api_url: "http://127.0.0.1:1/api"}\n' \
	    "$R" "$S" "$BATS_TEST_TMPDIR/token" >"$C"
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	for _ in $(seq 200); do [ -f "$S/plans/2.json" ] && break; sleep 0.05; done
	assert_eq "$(outcome 2)" "open" "plan 2"
	run fb status --config "$C"
	assert_status 0
	assert_contains "$output" "open: plan 2"
	run fb approve --config "$C" --as alice 2
	assert_status 0
	assert_eq "$(outcome 2)" "applied" "plan 2"
	run fb status --config "$C"
	assert_contains "$output" "outbox: "
	[ "$(printf '%s\n' "$output" | sed -n 's/^outbox: //p')" -ge 1 ]
}

@test "controller: an empty state gets one plan of everything, which waits unless --bootstrap-apply" {
	rm -rf "$S"
	start_controller
	wait_for "$CHAT" 'plan 1 .* -> approve (waiting for an approver)'
	assert_eq "$(outcome 1)" "open" "plan 1"
	[ ! -e "$S/applied" ] || [ ! -s "$S/applied" ]
	stop_controller
	# A new state starts its message ids again: a new chat log too.
	rm -rf "$S"
	CHAT=$BATS_TEST_TMPDIR/chat2.log
	printf 'repo: %s\nbranch: main\nstate: %s\nchat:\n  - {type: console, path: %s}\n' \
	    "$R" "$S" "$CHAT" >"$C"
	start_controller --bootstrap-apply
	wait_for "$CHAT" 'plan 1 .* (bootstrap: applied)'
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
	run fb enc --state "$S" web-01.example.com
	assert_status 0
}

@test "controller: discard closes a plan for an approver only; approving it afterwards does nothing" {
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" 'plan 2 '
	run --separate-stderr fb discard --config "$C" --as carol 2
	assert_status 1
	assert_contains "$stderr" "carol may not discard dns changes"
	run fb discard --config "$C" --as bob 2
	assert_status 0
	assert_contains "$output" "plan 2 discarded by bob"
	assert_eq "$(outcome 2)" "discarded" "plan 2"
	run fb approve --config "$C" --as alice 2
	assert_status 0
	assert_contains "$output" "plan 2 is already discarded; nothing to do"
	assert_eq "$(git -C "$R" rev-parse HEAD~1)" "$(cat "$S/applied")" "nothing applied"
}

@test "controller: a role that drops its round-robin names deletes their records (incrementally too)" {
	start_controller
	edit "$R" roles/web.yaml -e '/^dns:/d'
	commit_all "$R" "web: no round-robin name"
	wait_for "$CHAT" 'plan 2 for .* 2 dns.delete -> observe'
	assert_eq "$(jq -r '.changes[] | select(.type == "dns.delete") | .object' "$S/plans/2.json")" \
	    "$(printf 'www.example.com/A\nwww.example.net/A')"
}
