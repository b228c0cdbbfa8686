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
load tf_helpers

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
