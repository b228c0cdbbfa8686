#!/usr/bin/env bats
# Incremental snapshots: a plan's target reuses the base's parsed files and
# rendered artifacts for what did not change (reconciler/pipeline.c).  Its
# result must be byte-identical to rendering the commit from scratch.  Each
# test applies a sequence of commits, one at a time, and after every apply
# compares the current release (built from the incremental target) with
# `firebreak render` of the same commit (built from nothing).

load helpers

setup_file() {
	require_firebreak
	template_repo
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	new_repo "$R"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
}

# The release at S/current equals a fresh render of HEAD, file for file.
same_as_fresh_render() {
	local out=$BATS_TEST_TMPDIR/fresh f fqdn
	rm -rf "$out"
	run fb render --repo "$R" --out "$out"
	assert_status 0
	for f in $(cd "$out" && find terraform hiera -type f | LC_ALL=C sort) policy.yaml; do
		[ -f "$out/$f" ] || continue
		if ! cmp -s "$out/$f" "$S/current/$f"; then
			echo "release differs from a fresh render: $f" >&2
			diff -u "$out/$f" "$S/current/$f" | head -20 >&2
			return 1
		fi
	done
	# Every ENC document, through the same path Puppet uses.
	for f in "$out"/enc/*.yaml; do
		fqdn=$(basename "$f" .yaml)
		run fb enc --state "$S" "$fqdn"
		assert_status 0
		if [ "$output" != "$(cat "$f")" ]; then
			echo "enc $fqdn differs from a fresh render" >&2
			return 1
		fi
	done
	# And nothing more: a deleted node is gone from the release too.
	assert_eq "$(find "$S/current/enc/" -follow -name '*.yaml' | wc -l)" \
	    "$(ls "$out"/enc | wc -l)" "the number of ENC documents"
}

step() {
	commit_all "$R" "$1"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	same_as_fresh_render
}

@test "incremental: a version bump and an environment override" {
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	step "bump app"
	edit "$R" services/app.yaml -e 's/staging: 1.5.0-rc1/staging: 1.5.0-rc2/'
	step "bump staging"
}

@test "incremental: drain and undrain change backends and round-robin" {
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	step "drain web-02"
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: drained/state: active/'
	step "undrain web-02"
}

@test "incremental: a role's params and classes change every member's document" {
	edit "$R" roles/web.yaml -e 's/nginx_workers: 4/nginx_workers: 6/'
	step "web workers"
	edit "$R" roles/web.yaml -e 's/classes: \[profile::base, profile::web\]/classes: [profile::base, profile::web, profile::waf]/'
	step "web waf"
}

@test "incremental: hosts added, decommissioned and deleted" {
	printf 'role: web\nip: 10.0.1.8\n' | write_file "$R" hosts/web-04.example.com.yaml
	step "add web-04"
	edit "$R" hosts/web-01.example.com.yaml -e 's/^state: active/state: decommissioned/'
	step "decommission web-01"
	git -C "$R" rm -q hosts/web-03.example.com.yaml
	step "delete web-03"
}

@test "incremental: a role's dns names and a zone's records" {
	edit "$R" roles/web.yaml -e 's/^dns: \[www\]/dns: [www, app]/'
	step "web answers app too"
	printf '  - {name: ftp, type: CNAME, value: web-02.example.com.}\n' | append "$R" dns/example.com.yaml
	step "ftp record"
	edit "$R" dns/example.com.yaml -e 's/^ttl: 300/ttl: 120/'
	step "zone ttl"
}

@test "incremental: a new zone moves hosts into it" {
	printf 'zone_id: Z555\nttl: 60\n' | write_file "$R" dns/staging.example.net.yaml
	git -C "$R" mv hosts/web-s1.example.net.yaml hosts/web-s1.staging.example.net.yaml
	step "staging zone"
}

@test "incremental: a host changes role, and lb fronts another role" {
	edit "$R" hosts/web-02.example.com.yaml -e 's/^role: web/role: db/'
	step "web-02 becomes db"
	edit "$R" roles/lb.yaml -e 's/^backends_of: web/backends_of: db/'
	step "lb fronts db"
}
