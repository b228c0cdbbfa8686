#!/usr/bin/env bats
# Real Terraform reads the rendered terraform/route53/*.tf.json: init from a
# local filesystem mirror of hashicorp/aws (nothing is downloaded), validate,
# and plan.  The provider's endpoints point at 127.0.0.1:1 with dummy keys
# and every start-up check off, so nothing leaves the machine; a plan of
# creates with -refresh=false and no state needs no API call (a call would
# fail: nothing listens there).
#
# Terraform is slow to start the 700 MB provider, so setup_file runs
# init, validate, plan and show once; the tests read what they produced.

load helpers

setup_file() {
	command -v terraform >/dev/null 2>&1 || return 0
	template_repo
	T=$BATS_FILE_TMPDIR
	TR=$T/repo
	cp -a "$TEMPLATE" "$TR"
	# Beyond the example: template sequences, a wildcard, an underscore
	# name, two names that sanitise to the same label, a host whose name
	# starts with a digit, and a zone with no records.
	cat >>"$TR/dns/example.com.yaml" <<'EOF'
  - {name: tpl, type: TXT, values: ['v=${jndi:ldap://x} %{if true}y%{endif}', 'a $ b % c {d} $${e} \ "q"']}
  - {name: "*", type: A, value: 10.0.5.5}
  - {name: _dmarc, type: TXT, value: '"v=DMARC1; p=none"'}
  - {name: a.b, type: A, value: 10.0.5.6}
  - {name: a_b, type: A, value: 10.0.5.7}
EOF
	printf 'role: db\nip: 10.0.2.12\n' >"$TR/hosts/0db.example.com.yaml"
	printf 'zone_id: ZEMPTY1\nttl: 60\n' >"$TR/dns/empty.example.org.yaml"
	git -C "$TR" add -A
	git -C "$TR" commit -q -m "awkward records"
	"$FIREBREAK" render --repo "$TR" --out "$T/out" >"$T/render.out" 2>&1
	echo $? >"$T/render.status"

	MIRROR=$(tf_find_mirror)
	echo "$MIRROR" >"$T/mirror"
	[ -n "$MIRROR" ] || return 0

	TW=$T/tf
	mkdir -p "$TW"
	cp "$T"/out/terraform/route53/*.tf.json "$TW/"
	cat >"$TW/provider.tf.json" <<'EOF'
{
  "terraform": {
    "required_providers": {"aws": {"source": "hashicorp/aws"}}
  },
  "provider": {
    "aws": {
      "region": "us-east-1",
      "access_key": "AKIAFIREBREAKTEST",
      "secret_key": "firebreak-test-secret",
      "skip_credentials_validation": true,
      "skip_requesting_account_id": true,
      "skip_metadata_api_check": true,
      "skip_region_validation": true,
      "endpoints": {"route53": "http://127.0.0.1:1", "sts": "http://127.0.0.1:1"}
    }
  }
}
EOF
	cat >"$T/terraformrc" <<EOF
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
	(
		export TF_CLI_CONFIG_FILE=$T/terraformrc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
		unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_CLI_ARGS TF_CLI_ARGS_init TF_CLI_ARGS_plan
		export HOME=$T/home
		mkdir -p "$HOME"
		cd "$TW"
		terraform init -input=false -no-color >"$T/init.out" 2>&1
		echo $? >"$T/init.status"
		# validate and plan both start the provider (seconds each): in parallel.
		terraform validate -json -no-color >"$T/validate.json" 2>"$T/validate.err" &
		vpid=$!
		terraform plan -refresh=false -input=false -lock=false -no-color -out tfplan \
			>"$T/plan.out" 2>&1
		echo $? >"$T/plan.status"
		wait $vpid
		echo $? >"$T/validate.status"
		terraform show -json tfplan >"$T/show.json" 2>"$T/show.err"
		echo $? >"$T/show.status"
	)
	export T TW MIRROR
}

setup() {
	require_firebreak
	require_jq
	if ! command -v terraform >/dev/null 2>&1; then
		skip "terraform is not installed (not a Debian package; put terraform >= 1.5 on PATH)"
	fi
	if [ -z "$(cat "$T/mirror")" ]; then
		echo "no filesystem mirror of hashicorp/aws found (looked in /opt/tf-plugins," \
			"/usr/share/terraform/plugins, ~/.terraform.d/plugins and the whole filesystem);" \
			"terraform init would need the network" >&2
		return 1
	fi
}

# status_of STEP: the exit status setup_file recorded; shows the output if not 0.
step_ok() {
	local st
	st=$(cat "$T/$1.status" 2>/dev/null || echo missing)
	if [ "$st" != 0 ]; then
		echo "terraform $1 exited $st:" >&2
		cat "$T/$1.out" "$T/$1.err" "$T/$1.json" 2>/dev/null | tail -40 >&2
		return 1
	fi
}

# The rendered records, keyed by resource address, as Terraform should read
# them: its template escapes ("$${" for "${", "%%{" for "%{") undone.
rendered() {
	jq -s -cS '[.[] | .resource.aws_route53_record // {} | to_entries[] |
		{key: ("aws_route53_record." + .key),
		 value: (.value | .records |= sort)}] | from_entries |
		walk(if type == "string" then gsub("\\$\\$\\{"; "${") | gsub("%%\\{"; "%{") else . end)' \
		"$T"/out/terraform/route53/*.tf.json
}

# The planned records, keyed by address.
planned() {
	jq -cS '[.resource_changes[] |
		{key: .address,
		 value: (.change.after | {name, records: (.records | sort), ttl, type, zone_id})}] |
		from_entries' "$T/show.json"
}

@test "terraform: init installs hashicorp/aws from the filesystem mirror, offline" {
	step_ok init
	assert_contains "$(cat "$T/init.out")" "Terraform has been successfully initialized!"
	# A filesystem mirror has no signatures: the registry's would be "signed by HashiCorp".
	assert_contains "$(cat "$T/init.out")" "(unauthenticated)"
	assert_contains "$(cat "$TW/.terraform.lock.hcl")" 'provider "registry.terraform.io/hashicorp/aws"'
}

@test "terraform: validate accepts the rendered JSON, with no warnings" {
	step_ok init
	step_ok validate
	assert_eq "$(jq -c '[.valid, .error_count, .warning_count]' "$T/validate.json")" '[true,0,0]'
}

@test "terraform: the empty zone renders a file Terraform accepts" {
	assert_eq "$(cat "$T/render.status")" "0"
	assert_eq "$(cat "$T/out/terraform/route53/empty.example.org.tf.json")" "{}"
	step_ok validate
}

@test "terraform: plan (no refresh, no API) creates exactly the rendered records" {
	step_ok plan
	step_ok show
	n=$(rendered | jq 'length')
	assert_eq "$n" "21" "records rendered (15 of the example, 5 zone records and 1 host added)"
	assert_contains "$(cat "$T/plan.out")" "Plan: $n to add, 0 to change, 0 to destroy."
	assert_eq "$(jq -c '[.resource_changes[].change.actions] | unique' "$T/show.json")" '[["create"]]'
	assert_eq "$(jq -c '[.resource_changes[].type] | unique' "$T/show.json")" '["aws_route53_record"]'
	assert_eq "$(planned | jq -c 'keys')" "$(rendered | jq -c 'keys')"
}

@test "terraform: every planned record has the rendered name, type, ttl, zone and values" {
	step_ok show
	assert_eq "$(planned)" "$(rendered)"
}

@test "terraform: www.example.com is one A record with the 2 active web hosts" {
	step_ok show
	assert_eq "$(jq -cS '[.resource_changes[] | select(.change.after.name == "www.example.com" and
		.change.after.type == "A") | .change.after | {name, type, ttl, zone_id, records}]' "$T/show.json")" \
		'[{"name":"www.example.com","records":["10.0.1.5","10.0.1.6"],"ttl":300,"type":"A","zone_id":"Z0123456789ABC"}]'
}

# Route53 reads a TXT value as quoted strings: the aws provider only adds
# the outer quotes, so the render escapes '"' and '\\' itself.
@test "terraform: template sequences in TXT values reach Terraform as literal text, quotes escaped for Route53" {
	step_ok show
	assert_eq "$(jq -c '[.resource_changes[] | select(.change.after.name == "tpl.example.com") |
		.change.after.records | sort]' "$T/show.json")" \
		'[["a $ b % c {d} $${e} \\\\ \\\"q\\\"","v=${jndi:ldap://x} %{if true}y%{endif}"]]'
}

@test "terraform: wildcard, underscore, digit-first and colliding names get valid, distinct labels" {
	step_ok show
	# Labels are the renderer's business; that each name is one resource of
	# its own, under an identifier Terraform accepted, is not.
	assert_eq "$(jq -c '[.resource_changes[] | .change.after.name |
		select(test("^(\\*|_dmarc|a\\.b|a_b|0db)\\.example\\.com$"))] | sort' "$T/show.json")" \
		'["*.example.com","0db.example.com","_dmarc.example.com","a.b.example.com","a_b.example.com"]'
	assert_eq "$(jq -c '[.resource_changes[].address] | (length == (unique | length))' "$T/show.json")" "true"
	assert_eq "$(jq -c '[.resource_changes[].address |
		select(test("^aws_route53_record\\.[A-Za-z_][A-Za-z0-9_-]*$") | not)]' "$T/show.json")" "[]"
}
