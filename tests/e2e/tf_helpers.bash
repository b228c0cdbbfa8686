# Shared by tf_apply.bats and tf_crash.bats (each loads helpers first):
# setup_file's one Terraform bootstrap, a test's state and stand-ins, and
# what the tests read back from Route53 and the chat.
# shellcheck shell=bash

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
	provider_file "$T/boot/provider.tf.json" "$(cat "$T/boot.r53.port")" || { kill "$R53_PID"; return 1; }
	printf '{"terraform": {"backend": {"local": {"path": "%s"}}}}\n' "$T/boot.tfstate" \
	    >"$T/boot/backend.tf.json"
	(
		cd "$T/boot" && export TF_CLI_CONFIG_FILE=$T/terraformrc TF_IN_AUTOMATION=1 &&
		    terraform init -input=false -no-color >"$T/boot.log" 2>&1 &&
		    terraform apply -input=false -no-color -auto-approve >>"$T/boot.log" 2>&1
	) || {
		# The stand-in would hold bats's output open, and the file would hang.
		kill "$R53_PID"
		echo "bootstrapping Terraform failed:" >&2; tail -30 "$T/boot.log" >&2; return 1
	}
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

