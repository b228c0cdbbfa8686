#!/usr/bin/env bats
# The terraform apply provider end to end: a real `terraform` with the
# hashicorp/aws provider from the local filesystem mirror (terraform.bats
# says how it runs offline) against tests/e2e/dns/route53.py, a stand-in
# for Route53's REST/XML API that holds the record sets in memory.  What
# reached "Route53" is read from the stand-in, never taken from
# firebreak's word; what people see is read from the chat: a console file
# (one line per message) and a webhook (tests/tools/slackstub records the
# whole text of each post).
#
# setup_file makes, once, the Terraform state and the Route53 records of
# the example inventory's release (terraform init + apply, a few seconds);
# every test starts from a copy of both: release 1 applied by the one-shot
# `firebreak apply`, Terraform's state where the provider keeps it by
# default (<state>/terraform/terraform.tfstate), the stand-in loaded.
# Terraform is slow to start its 700 MB provider, so the tests wait up to
# three minutes for what it does, and assert no times.

load helpers

: "${BUILD:=$TOP/build}"
TOOLS=$BUILD/tests/tools
ZONES="Z0123456789ABC=example.com Z0987654321DEF=example.net"

setup_file() {
	T=$BATS_FILE_TMPDIR
	export T
	: >"$T/skip"
	if ! command -v terraform >/dev/null 2>&1; then
		echo "terraform is not installed (not a Debian package; put terraform >= 1.5 on PATH)" >"$T/skip"
		return 0
	fi
	MIRROR=$(tf_find_mirror)
	if [ -z "$MIRROR" ]; then
		echo "no filesystem mirror of hashicorp/aws (terraform.bats says where it looks)" >"$T/fail"
		return 0
	fi
	template_repo
	cat >"$T/terraformrc" <<-EOF
	disable_checkpoint = true
	provider_installation {
	  filesystem_mirror {
	    path    = "$MIRROR"
	    include = ["registry.terraform.io/hashicorp/aws"]
	  }
	  direct {
	    exclude = ["*/*/*"]
	  }
	}
	EOF
	# The release's records, in Terraform's state and in "Route53".
	"$FIREBREAK" render --repo "$TEMPLATE" --out "$T/out" >/dev/null || return 1
	mkdir -p "$T/boot"
	cp "$T"/out/terraform/route53/*.tf.json "$T/boot/"
	D=$T start_route53 --fast "$T/boot.r53" || return 1
	provider_file "$T/boot/provider.tf.json" "$(cat "$T/boot.r53.port")"
	printf '{"terraform": {"backend": {"local": {"path": "%s"}}}}\n' "$T/boot.tfstate" \
	    >"$T/boot/backend.tf.json"
	(
		cd "$T/boot" && export TF_CLI_CONFIG_FILE=$T/terraformrc TF_IN_AUTOMATION=1 &&
		    terraform init -input=false -no-color >"$T/boot.log" 2>&1 &&
		    terraform apply -input=false -no-color -auto-approve >>"$T/boot.log" 2>&1
	) || { echo "bootstrapping Terraform failed:" >&2; tail -30 "$T/boot.log" >&2; return 1; }
	curl -sf "http://127.0.0.1:$(cat "$T/boot.r53.port")/_dump" >"$T/route53.json"
	kill "$R53_PID"
	wait "$R53_PID" 2>/dev/null || true
}

setup() {
	[ -s "$T/skip" ] && skip "$(cat "$T/skip")"
	if [ -s "$T/fail" ]; then
		cat "$T/fail" >&2
		return 1
	fi
	require_firebreak
	require_jq
	D=$BATS_TEST_TMPDIR
	R=$D/repo
	S=$D/state
	C=$D/firebreak.yaml
	CHAT=$D/chat.log
	PID= R53_PID= HOOK_PID=
	new_repo "$R"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	mkdir -p "$S/terraform"
	cp "$T/boot.tfstate" "$S/terraform/terraform.tfstate"
	rm -f "$D/hook.port"
	"$TOOLS/slackstub" -P "$D/hook.port" -o "$D/hook.log" >/dev/null 2>&1 3>&- &
	HOOK_PID=$!
	for _ in $(seq 100); do
		[ -s "$D/hook.port" ] && break
		sleep 0.05
	done
}

teardown() {
	stop_controller
	local p
	for p in $R53_PID $HOOK_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# start_route53 [--fast] PREFIX: the stand-in, loaded with the release's
# records when there are some; PREFIX.port, PREFIX.log.
start_route53() {
	local fast=
	[ "$1" = --fast ] && { fast=--fast; shift; }
	local load=()
	[ -s "$T/route53.json" ] && load=(--load "$T/route53.json")
	rm -f "$1.port"
	# shellcheck disable=SC2086
	python3 "$TOP/tests/e2e/dns/route53.py" $fast "${load[@]}" "$1.port" "$1.log" $ZONES 3>&- &
	R53_PID=$!
	for _ in $(seq 200); do
		[ -s "$1.port" ] && return 0
		sleep 0.05
	done
	echo "route53.py did not start" >&2
	return 1
}

# provider_file FILE PORT: the AWS provider's settings, as
# examples/route53-provider.tf.json has them, pointed at the stand-in.
provider_file() {
	sed -e "s|\"region\": \"us-east-1\"|\"region\": \"us-east-1\", \"access_key\": \"AKIAFIREBREAKTEST\", \"secret_key\": \"firebreak-test-secret\", \"skip_credentials_validation\": true, \"skip_requesting_account_id\": true, \"skip_metadata_api_check\": true, \"skip_region_validation\": true, \"max_retries\": 1, \"endpoints\": {\"route53\": \"http://127.0.0.1:$2\"}|" \
	    "$TOP/examples/route53-provider.tf.json" >"$1"
	grep -q 127.0.0.1 "$1" || { echo "provider_file: the example changed" >&2; return 1; }
}

# r53 PATH [BODY]: the stand-in's own API (GET, or POST with BODY).
r53() {
	if [ $# -gt 1 ]; then
		curl -sf -X POST -d "$2" "http://127.0.0.1:$(cat "$D/r53.port")$1"
	else
		curl -sf "http://127.0.0.1:$(cat "$D/r53.port")$1"
	fi
}

# record NAME TYPE: what "Route53" holds, as compact JSON, or null.
record() {
	r53 /_dump | jq -c --arg n "$1." --arg t "$2" '[.[][$n][$t]?] | map(select(. != null)) | .[0]'
}

# write_config [TOP-LEVEL LINES...]: console and webhook chat, one
# terraform entry (the provider file pointing at the stand-in).
write_config() {
	provider_file "$D/provider.tf.json" "$(cat "$D/r53.port")"
	cat >"$C" <<-EOF
	repo: $R
	branch: main
	state: $S
	chat:
	  - {type: console, path: $CHAT}
	  - {type: webhook, url: "http://127.0.0.1:$(cat "$D/hook.port")/hooks/ops"}
	EOF
	local l
	for l in "$@"; do
		printf '%s\n' "$l" >>"$C"
	done
	cat >>"$C" <<-EOF
	apply:
	  - type: terraform
	    kinds: [dns]
	    cli_config: $T/terraformrc
	    provider_file: $D/provider.tf.json
	    timeout: 600
	EOF
	if [ -n "${TF_WRAP:-}" ]; then
		printf '    binary: %s\n' "$TF_WRAP" >>"$C"
	fi
}

# tf_wrap: Terraform through a script that logs each run's arguments to
# $D/tf.calls (TF_WRAP, for write_config): what was applied is counted
# there, not taken from firebreak's word.
tf_wrap() {
	TF_WRAP=$D/tf
	printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$D/tf.calls" "$(command -v terraform)" \
	    >"$TF_WRAP"
	chmod +x "$TF_WRAP"
	: >"$D/tf.calls"
}

# tf_applied ID: how many times a `terraform apply` of plan ID's saved plan ran.
tf_applied() {
	grep -c "^apply .*/tfplans/$1\.tfplan" "$D/tf.calls" || true
}

# wait_long FILE PATTERN [SECONDS]: wait_for, for what Terraform does (180 s).
wait_long() {
	local n=$(( ${3:-180} * 10 ))
	for _ in $(seq "$n"); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1" >&2
	cat "$1" "$D/run.log" >&2 2>/dev/null
	return 1
}

# posts: the text of every webhook post so far, one after another.
posts() {
	jq -r 'select(.path == "/hooks/ops") | .body | fromjson | .text' "$D/hook.log" 2>/dev/null
}

# post_with TEXT: the text of the first webhook post holding TEXT (waits).
post_with() {
	for _ in $(seq 300); do
		local p
		p=$(jq -r --arg s "$1" 'select(.path == "/hooks/ops") | .body | fromjson | .text |
		    select(contains($s))' "$D/hook.log" 2>/dev/null | head -c 100000)
		[ -n "$p" ] && { printf '%s\n' "$p"; return 0; }
		sleep 0.1
	done
	echo "no webhook post holds: $1" >&2
	posts >&2
	return 1
}

# outcome ID: plan ID's recorded outcome.
outcome() {
	jq -r .outcome "$S/plans/$1.json" 2>/dev/null
}

# wait_outcome ID: until plan ID has ended (180 s); prints its outcome.
wait_outcome() {
	local o=
	for _ in $(seq 1800); do
		o=$(outcome "$1")
		case $o in applied|failed) printf '%s\n' "$o"; return 0 ;; esac
		sleep 0.1
	done
	echo "plan $1 did not end (outcome: $o)" >&2
	cat "$CHAT" "$D/run.log" >&2
	return 1
}

# changes: how many ChangeResourceRecordSets the stand-in applied.
changes() {
	r53 /_calls | jq .changes
}

# The commit every test plans: a record added and a TTL changed.
commit_api() {
	append "$R" dns/example.com.yaml <<-EOF
	  - {name: api, type: A, values: [10.0.5.6, 10.0.5.5]}
	EOF
	edit "$R" dns/example.com.yaml -e 's/{name: mail, type: A, value: 10.0.3.25, ttl: 3600}/{name: mail, type: A, value: 10.0.3.25, ttl: 600}/'
	commit_all "$R" "api, and mail's ttl"
}

@test "terraform: the posted plan carries Terraform's own summary, and approving applies exactly that saved plan" {
	# Route53's documented answers: every change is waited for (GetChange).
	start_route53 "$D/r53"
	write_config
	start_controller
	commit_api
	wait_long "$CHAT" 'plan 2 for .* "api, and mail.s ttl" by Alice Example: 1 dns.add, 1 dns.modify -> approve (waiting for an approver)'
	# Terraform's summary, in the posted plan, before anyone decides.
	p=$(post_with "plan 2 for")
	assert_contains "$p" "terraform (apply[0]):"
	assert_contains "$p" "Plan: 1 to add, 1 to change, 0 to destroy."
	assert_contains "$p" "+ aws_route53_record.api_example_com_A: create"
	assert_contains "$p" "~ aws_route53_record.mail_example_com_A: update (ttl 3600 -&gt; 600)"
	assert_contains "$p" "approve 2 / discard 2"
	# The saved plan's SHA-256 is part of what the approval binds.
	sum=$(sha256sum "$S/tfplans/2.tfplan" | cut -d' ' -f1)
	assert_eq "$(jq -r '.prepared[0].digest' "$S/plans/2.json")" "$sum" "the digest of the saved plan"
	assert_contains "$p" "saved plan tfplans/2.tfplan, sha256 ${sum:0:16}..."
	assert_eq "$(changes)" "0" "changes before the approval"
	assert_eq "$(record api.example.com A)" "null" "api before the approval"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_contains "$output" "plan 2 applied"
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_long "$CHAT" "plan 2: apply terraform done: terraform apply: Apply complete! Resources: 1 added, 1 changed, 0 destroyed."
	assert_eq "$(record api.example.com A)" '{"records":["10.0.5.5","10.0.5.6"],"ttl":300}' "api"
	assert_eq "$(record mail.example.com A)" '{"records":["10.0.3.25"],"ttl":600}' "mail"
	# Exactly the two changes, waited for the way Route53 says.
	assert_eq "$(changes)" "2" "ChangeResourceRecordSets"
	grep -q "GetChange" "$D/r53.log"
	# Every other record as it was; the saved plan used once and gone.
	assert_eq "$(r53 /_dump | jq -cS 'del(.Z0123456789ABC["api.example.com."]) |
	    del(.Z0123456789ABC["mail.example.com."])')" \
	    "$(jq -cS 'del(.Z0123456789ABC["mail.example.com."])' "$T/route53.json")" "the other records"
	assert_eq "$(entries "$S/tfplans")" "" "what tfplans/ keeps"
	# Terraform's state is where the provider keeps it by default.
	assert_contains "$(cat "$S/terraform/terraform.tfstate")" '"api_example_com_A"'
}

@test "terraform: a saved plan made stale by another Terraform run (its state's serial moved on) is never applied; a new plan is posted and applied once approved" {
	start_route53 --fast "$D/r53"
	tf_wrap
	write_config
	start_controller
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	# Someone else's Terraform, on the same state, takes in a change made
	# in Route53 by hand: the state's serial moves on.
	r53 /_set '{"zone": "Z0123456789ABC", "name": "www.example.com", "type": "A", "ttl": 300, "records": ["10.9.9.9"]}'
	mkdir "$D/other"
	cp "$S"/current/terraform/route53/*.tf.json "$D/provider.tf.json" "$D/other/"
	printf '{"terraform": {"backend": {"local": {"path": "%s"}}}}\n' "$S/terraform/terraform.tfstate" \
	    >"$D/other/backend.tf.json"
	(cd "$D/other" && export TF_CLI_CONFIG_FILE=$T/terraformrc &&
	    terraform init -input=false -no-color >"$D/other.log" 2>&1 &&
	    terraform apply -refresh-only -auto-approve -input=false -no-color >>"$D/other.log" 2>&1) ||
	    { cat "$D/other.log"; false; }
	before=$(changes)
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	# firebreak sees the state's serial move on before Terraform runs
	# (Terraform's own "Saved plan is stale" would say the same).
	wait_long "$CHAT" "plan 2: apply terraform failed: terraform: Terraform's state changed since plan 2's saved plan was made (serial [0-9]* then, serial [0-9]* now); nothing was applied, and it is never applied again: a new plan follows"
	assert_eq "$(tf_applied 2)" 0 "applies of plan 2's saved plan"
	# A new plan, made now, posted for approval as plan 2's decision says.
	wait_long "$CHAT" 'plan 3 for .* "api, and mail.s ttl" by Alice Example: a new plan for plan 2: apply\[0\] terraform was stale -> approve (waiting for an approver)'
	p=$(post_with "plan 3 for")
	assert_contains "$p" "Plan: 1 to add, 2 to change, 0 to destroy."
	assert_contains "$p" '~ aws_route53_record.www_example_com_A: update (records ["10.9.9.9"] -&gt; ["10.0.1.5","10.0.1.6"])'
	assert_eq "$(changes)" "$before" "nothing applied from the stale plan"
	assert_eq "$(record api.example.com A)" "null" "api"
	[ ! -e "$S/tfplans/2.tfplan" ] && [ ! -e "$S/tfplans/2.tfplan.applying" ]
	run fb approve --config "$C" --as bob 3
	assert_status 0
	assert_eq "$(wait_outcome 3)" "applied" "plan 3"
	wait_long "$CHAT" "plan 3: apply terraform done: terraform apply: Apply complete! Resources: 1 added, 2 changed, 0 destroyed."
	assert_eq "$(record api.example.com A)" '{"records":["10.0.5.5","10.0.5.6"],"ttl":300}' "api"
	assert_eq "$(record www.example.com A)" '{"records":["10.0.1.5","10.0.1.6"],"ttl":300}' "www"
}

@test "terraform: a saved plan changed on disk is refused; a failed apply's errors are in the thread; retry makes a new plan" {
	start_route53 --fast "$D/r53"
	write_config
	start_controller
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve (waiting for an approver)'
	printf 'x' >>"$S/tfplans/2.tfplan"
	run fb approve --config "$C" --as bob 2
	assert_status 0
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_long "$CHAT" "plan 2: apply terraform failed: terraform: the saved plan tfplans/2.tfplan is not the one approved (its SHA-256 is [0-9a-f]\{16\}..., the approved [0-9a-f]\{16\}...); nothing was applied: a new plan follows"
	wait_long "$CHAT" 'plan 3 for .* a new plan for plan 2: apply\[0\] terraform was stale -> approve'
	assert_eq "$(changes)" "0" "nothing applied"
	# Route53 refuses the change: Terraform's error in the thread.
	r53 /_fail '{"name": "api.example.com", "message": "RRSet of type A with DNS name api.example.com. is not permitted because the zone is locked"}'
	run fb approve --config "$C" --as bob 3
	assert_status 0
	assert_eq "$(wait_outcome 3)" "failed" "plan 3"
	p=$(post_with "plan 3: apply terraform failed")
	assert_contains "$p" "terraform apply exited with status 1 after"
	assert_contains "$p" "Error: creating Route53 Record: operation error Route 53: ChangeResourceRecordSets, https response error StatusCode: 400"
	assert_contains "$p" "InvalidChangeBatch: RRSet of type A with DNS name api.example.com. is not permitted because the zone is locked"
	assert_contains "$p" "(with aws_route53_record.api_example_com_A)"
	[[ "$(cat "$CHAT" "$D/hook.log")" != *$'\e'* ]] || { echo "an escape reached chat" >&2; false; }
	# retry needs an approver of dns; it plans anew, never the old file.
	run fb retry --config "$C" --as carol 3
	assert_status 1
	assert_contains "$output" "carol may not retry it: it needs an approver of dns"
	run fb retry --config "$C" --as bob 3
	assert_status 0
	assert_eq "$output" "plan 3: retrying its failed apply providers as plan 4 (Terraform plans first; the plan is posted when it is ready)"
	wait_long "$CHAT" 'plan 4 for .* retry of plan 3: apply\[0\] terraform -> approve (waiting for an approver)'
	[ ! -e "$S/tfplans/3.tfplan" ]
	assert_eq "$(jq -r '.rerun.of' "$S/plans/4.json")" "3"
	run fb approve --config "$C" --as alice 4
	assert_status 0
	assert_eq "$(wait_outcome 4)" "applied" "plan 4"
	assert_eq "$(record api.example.com A)" '{"records":["10.0.5.5","10.0.5.6"],"ttl":300}' "api"
	run fb retry --config "$C" --as bob 4
	assert_status 1
	assert_contains "$output" "plan 4 is applied, not failed: nothing to retry"
}

@test "terraform: a terraform plan that fails fails the plan with Terraform's error; nothing is applied, the release stays" {
	start_route53 --fast "$D/r53"
	write_config
	start_controller
	r53 /_fail '{"on": "read", "message": "the stand-in refuses to list record sets"}'
	commit_api
	wait_long "$CHAT" 'plan 2 for .* -> approve; not applied: its apply providers could not prepare it (the release stays as it was)'
	p=$(post_with "plan 2 for")
	assert_contains "$p" "apply[0] terraform could not plan:"
	assert_contains "$p" "terraform plan exited with status 1 after"
	assert_contains "$p" "InvalidInput: the stand-in refuses to list record sets"
	assert_eq "$(outcome 2)" "failed" "plan 2"
	assert_eq "$(cat "$S/applied")" "$(sha "$R" HEAD~1)" "the applied commit"
	assert_eq "$(entries "$S/tfplans")" "" "no saved plan is kept"
	# Once Route53 answers, retry plans the head again.
	r53 /_fail '{}'
	run fb retry --config "$C" --as bob 2
	assert_status 0
	assert_contains "$output" "plan 2 never reached its release; the head $(short "$R") is planned again"
	wait_long "$CHAT" 'plan 3 for .* -> approve (waiting for an approver)'
	assert_contains "$(post_with "plan 3 for")" "Plan: 1 to add, 1 to change, 0 to destroy."
}

@test "terraform: drift_seconds finds a record changed in Route53, posts it once, shows it in drift and on /metrics; reconcile dns puts it back" {
	start_route53 --fast "$D/r53"
	port=$(free_port)
	write_config "drift_seconds: 1" "listen: 127.0.0.1:$port"
	start_controller
	r53 /_set '{"zone": "Z0123456789ABC", "name": "www.example.com", "type": "A", "ttl": 300, "records": ["10.9.9.9"]}'
	wait_long "$CHAT" "drift: apply\[0\] terraform: 1 record set differs from the current release $(short "$R"); \`reconcile dns\` applies the release again"
	p=$(post_with "drift: apply[0] terraform")
	assert_contains "$p" '~ aws_route53_record.www_example_com_A: update (records ["10.9.9.9"] -&gt; ["10.0.1.5","10.0.1.6"])'
	# Read again (the same difference): not posted again.
	n=$(grep -c 'drift: apply\[0\] terraform: drift' "$D/run.log")
	for _ in $(seq 1800); do
		[ "$(grep -c 'drift: apply\[0\] terraform: drift' "$D/run.log")" -gt "$n" ] && break
		sleep 0.1
	done
	grep -q 'drift: apply\[0\] terraform: drift (as before)' "$D/run.log"
	assert_eq "$(grep -c 'drift: apply\[0\] terraform: 1 record set differs' "$CHAT")" "1" "drift posts"
	run fb chat --config "$C" --as carol drift
	assert_status 0
	assert_contains "$output" "apply[0] terraform: drift, 1 record set differs (read "
	assert_contains "$output" '~ aws_route53_record.www_example_com_A: update (records ["10.9.9.9"] -> ["10.0.1.5","10.0.1.6"])'
	assert_contains "$output" "the world is read every 1 s (drift_seconds)"
	run curl -sf "http://127.0.0.1:$port/metrics"
	assert_contains "$output" $'\nfirebreak_drift_records 1\n'
	run fb drift --config "$C"
	assert_status 1
	assert_contains "$output" "apply[0] terraform: drift (1 record set differs)"
	# reconcile: an approver of dns; Terraform plans and applies at once.
	run fb reconcile --config "$C" --as carol dns
	assert_status 1
	assert_contains "$output" "carol may not reconcile it: it needs an approver of dns"
	run fb chat --config "$C" --as bob "reconcile dns"
	assert_status 0
	assert_contains "$output" "reconciling dns as plan 2: the current release $(short "$R") is applied again"
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_long "$CHAT" "plan 2 for $(short "$R"): reconcile dns by bob: apply\[0\] terraform -> auto-applied"
	assert_contains "$(post_with "reconcile dns by bob")" "Plan: 0 to add, 1 to change, 0 to destroy."
	assert_eq "$(record www.example.com A)" '{"records":["10.0.1.5","10.0.1.6"],"ttl":300}' "www"
	wait_long "$CHAT" "drift resolved: apply\[0\] terraform: the world is what the current release $(short "$R") says"
	run curl -sf "http://127.0.0.1:$port/metrics"
	assert_contains "$output" $'\nfirebreak_drift_records 0\n'
	assert_contains "$output" 'firebreak_apply_provider_failures_total{entry="0",provider="terraform"} 0'
}

@test "terraform: run -n names what is wrong in the entry: a missing binary, a provider file that is not JSON, a backend and state_dir" {
	start_route53 --fast "$D/r53"
	write_config
	run fb run --config "$C" -n
	assert_status 0
	sed -i 's|    timeout: 600|    binary: no-such-terraform\n    timeout: 600|' "$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "apply[0] terraform: apply terraform: binary (line "
	assert_contains "$stderr" '"no-such-terraform" is not in PATH'
	write_config
	printf '{"provider": ' >"$D/provider.tf.json"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "apply terraform: provider_file (line 11): $D/provider.tf.json is not a JSON object"
	write_config
	jq '.terraform.backend = {"local": {"path": "/tmp/x.tfstate"}}' "$D/provider.tf.json" >"$D/p2" &&
	    mv "$D/p2" "$D/provider.tf.json"
	sed -i "s|    timeout: 600|    state_dir: $D/tfstate\n    timeout: 600|" "$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "apply terraform: state_dir (line 12): provider_file $D/provider.tf.json configures a backend of its own"
	write_config
	sed -i 's|    timeout: 600|    timeout: 600\n    parallelism: 4|' "$C"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" 'apply terraform: unknown key "parallelism"'
}

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
