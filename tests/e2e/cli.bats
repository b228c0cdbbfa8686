#!/usr/bin/env bats
# The firebreak command line on real git repositories: check, render,
# plan, apply, enc; exit codes 0 ok, 1 input wrong, 2 usage, 3 environment.

load helpers

setup_file() {
	template_repo
	C0=$(sha "$TEMPLATE")
	export C0
}

setup() {
	require_firebreak
	require_jq
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	new_repo "$R"
}

# A new host with an unknown key ('stat' for 'state') on line 3.
add_host_with_typo() {
	printf 'role: web\nip: 10.0.1.8\nstat: active\n' |
		commit_file "$R" hosts/web-04.example.com.yaml "add web-04 (typo)"
}

# ---- check ------------------------------------------------------------------

@test "check: the example inventory is valid" {
	run --separate-stderr fb check --repo "$R"
	assert_status 0
	assert_eq "$output" "ok: ${C0:0:7} is valid (9 hosts, 3 roles, 2 services, 2 zones)"
	assert_eq "$stderr" ""
}

@test "check --format json: a valid commit" {
	run --separate-stderr fb check --repo "$R" --format json
	assert_status 0
	assert_eq "$(jqc "$output" '.')" "{\"commit\":\"$C0\",\"errors\":[],\"valid\":true}"
}

@test "check: unknown key with did-you-mean, at file:line:col" {
	add_host_with_typo
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$output" ""
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?)
firebreak: 1 problem in $(short "$R")"
}

@test "check: a role without a file, reported with the other problems, sorted" {
	printf 'role: nosuch\nip: 10.0.1.9\n' | write_file "$R" hosts/web-05.example.com.yaml
	printf 'role: web\nip: 10.0.1.8\nstat: active\n' | write_file "$R" hosts/web-04.example.com.yaml
	commit_all "$R" "two bad hosts"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?)
hosts/web-05.example.com.yaml:1:1: role 'nosuch' has no file roles/nosuch.yaml
firebreak: 2 problems in $(short "$R")"
}

@test "check --format json: errors carry file, line, column and message" {
	add_host_with_typo
	run --separate-stderr fb check --repo "$R" --format json
	assert_status 1
	assert_eq "$(jqc "$output" '[.commit, .valid, .errors]')" \
		"[\"$(sha "$R")\",false,"'[{"column":1,"file":"hosts/web-04.example.com.yaml","line":3,"message":"unknown key '"'stat'"' in a host (did you mean '"'state'"'?)"}]]'
}

@test "check: a duplicate active IP names the later host and the other one" {
	printf 'role: web\nip: 10.0.1.5\n' | commit_file "$R" hosts/web-04.example.com.yaml "web-04 reuses web-01's ip"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:2:1: ip 10.0.1.5 is also used by active host web-01.example.com
firebreak: 1 problem in $(short "$R")"
}

@test "check: an IP shared with a decommissioned host is fine" {
	printf 'role: web\nip: 10.0.1.99\n' | commit_file "$R" hosts/web-04.example.com.yaml "web-04 takes old-01's ip"
	run --separate-stderr fb check --repo "$R"
	assert_status 0
	assert_eq "$output" "ok: $(short "$R") is valid (10 hosts, 3 roles, 2 services, 2 zones)"
}

@test "check: a CNAME beside the role's A record of the same name" {
	printf '  - {name: www, type: CNAME, value: lb.example.com.}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "www as a CNAME"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "dns/example.com.yaml:8:1: CNAME www.example.com beside another record of the same name (A from roles/web.yaml)
firebreak: 1 problem in $(short "$R")"
}

@test "check: a file that is not UTF-8, at the byte's line and column" {
	printf 'role: web\nip: 10.0.1.8\nparams: {motd: "caf\xe9"}\n' |
		commit_file "$R" hosts/web-04.example.com.yaml "latin-1 motd"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:3:20: not valid UTF-8 (byte 0xe9)
firebreak: 1 problem in $(short "$R")"
}

@test "check: a file over 1 MiB is refused without a line" {
	{
		printf 'role: web\nip: 10.0.1.8\n#'
		head -c 1048576 /dev/zero | tr '\0' x
		printf '\n'
	} | write_file "$R" hosts/web-04.example.com.yaml
	size=$(wc -c <"$R/hosts/web-04.example.com.yaml")
	commit_all "$R" "a huge host file"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "hosts/web-04.example.com.yaml: file is $size bytes, over the limit of 1048576
firebreak: 1 problem in $(short "$R")"
}

@test "check: a YAML syntax error" {
	printf 'role: web\nip: [10.0.1.8\nstate: active\n' |
		commit_file "$R" hosts/web-04.example.com.yaml "unclosed flow sequence"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:3:6: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence
firebreak: 1 problem in $(short "$R")"
}

@test "check: an unknown change type in policy.yaml, with did-you-mean" {
	commit_edit "$R" policy.yaml 's/^auto: .*/auto: [pin.modfy, enc.modify]/' "policy typo"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$stderr" "policy.yaml:5:8: 'pin.modfy' is not a change type (did you mean 'pin.modify'?)
firebreak: 1 problem in $(short "$R")"
}

@test "check --rev: an older commit is checked, not HEAD" {
	add_host_with_typo
	run --separate-stderr fb check --repo "$R" --rev HEAD~1
	assert_status 0
	assert_eq "$output" "ok: ${C0:0:7} is valid (9 hosts, 3 roles, 2 services, 2 zones)"
}

@test "check: the inventory is read from git objects, not the work tree" {
	# A broken file in the work tree, uncommitted, and a deleted one.
	printf 'role: [\n' >"$R/hosts/web-04.example.com.yaml"
	rm "$R/roles/web.yaml"
	run --separate-stderr fb check --repo "$R"
	assert_status 0
	assert_eq "$output" "ok: ${C0:0:7} is valid (9 hosts, 3 roles, 2 services, 2 zones)"
}

@test "check: a bare repository works" {
	git clone -q --bare "$R" "$BATS_TEST_TMPDIR/bare.git"
	run --separate-stderr fb check --repo "$BATS_TEST_TMPDIR/bare.git"
	assert_status 0
	assert_eq "$output" "ok: ${C0:0:7} is valid (9 hosts, 3 roles, 2 services, 2 zones)"
}

# ---- render -----------------------------------------------------------------

@test "render: writes every artifact and a marker naming the commit" {
	run --separate-stderr fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	assert_eq "$output" "rendered 13 artifacts of ${C0:0:7} into $BATS_TEST_TMPDIR/out"
	assert_eq "$(tree_of "$BATS_TEST_TMPDIR/out")" "./.firebreak-render
./enc
./enc/db-01.example.com.yaml
./enc/db-02.example.com.yaml
./enc/lb-01.example.com.yaml
./enc/spare-01.example.com.yaml
./enc/web-01.example.com.yaml
./enc/web-02.example.com.yaml
./enc/web-03.example.com.yaml
./enc/web-s1.example.net.yaml
./hiera
./hiera/pins
./hiera/pins/production.yaml
./hiera/pins/staging.yaml
./policy.yaml
./terraform
./terraform/route53
./terraform/route53/example.com.tf.json
./terraform/route53/example.net.tf.json"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/out/.firebreak-render")" "$C0"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/out/hiera/pins/staging.yaml")" '---
"profile::app::version": "1.5.0-rc1"
"profile::postgres::version": "15.4"'
	# The decommissioned host renders nothing.
	[ ! -e "$BATS_TEST_TMPDIR/out/enc/old-01.example.com.yaml" ]
	jq -e . "$BATS_TEST_TMPDIR/out/terraform/route53/example.com.tf.json" >/dev/null
}

@test "render: byte-identical across renders and across repositories" {
	fb render --repo "$R" --out "$BATS_TEST_TMPDIR/a"
	fb render --repo "$R" --out "$BATS_TEST_TMPDIR/b"
	# The same inventory committed by someone else, at another time.
	GIT_AUTHOR_NAME=Bob GIT_AUTHOR_DATE="2027-06-01T12:00:00Z" \
		GIT_COMMITTER_DATE="2027-06-01T12:00:00Z" make_repo "$BATS_TEST_TMPDIR/repo2"
	fb render --repo "$BATS_TEST_TMPDIR/repo2" --out "$BATS_TEST_TMPDIR/c"
	run diff -r "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	assert_status 0
	run diff -r -x .firebreak-render "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/c"
	assert_status 0
	# And rendering into the same directory again changes no byte.
	cp -r "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/a.before"
	fb render --repo "$R" --out "$BATS_TEST_TMPDIR/a"
	run diff -r "$BATS_TEST_TMPDIR/a.before" "$BATS_TEST_TMPDIR/a"
	assert_status 0
}

@test "render: replacing a previous render removes files of deleted hosts" {
	out=$BATS_TEST_TMPDIR/parent/out
	mkdir -p "$BATS_TEST_TMPDIR/parent"
	fb render --repo "$R" --out "$out"
	[ -f "$out/enc/web-03.example.com.yaml" ]
	git -C "$R" rm -q hosts/web-03.example.com.yaml
	commit_all "$R" "remove web-03"
	run --separate-stderr fb render --repo "$R" --out "$out"
	assert_status 0
	assert_eq "$output" "rendered 12 artifacts of $(short "$R") into $out"
	[ ! -e "$out/enc/web-03.example.com.yaml" ]
	[ -f "$out/enc/web-02.example.com.yaml" ]
	assert_eq "$(cat "$out/.firebreak-render")" "$(sha "$R")"
	assert_not_contains "$(cat "$out/terraform/route53/example.com.tf.json")" "web-03"
	# No temporary or old copy is left beside it.
	assert_eq "$(entries "$BATS_TEST_TMPDIR/parent")" "out"
}

@test "render: refuses a non-empty directory it did not render" {
	mkdir -p "$BATS_TEST_TMPDIR/mine"
	echo precious >"$BATS_TEST_TMPDIR/mine/notes.txt"
	run --separate-stderr fb render --repo "$R" --out "$BATS_TEST_TMPDIR/mine"
	assert_status 1
	assert_eq "$stderr" "firebreak: $BATS_TEST_TMPDIR/mine is not empty and was not rendered by firebreak; refusing to replace it"
	assert_eq "$(tree_of "$BATS_TEST_TMPDIR/mine")" "./notes.txt"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/mine/notes.txt")" "precious"
}

@test "render: refuses a --out that is a file" {
	echo precious >"$BATS_TEST_TMPDIR/afile"
	run --separate-stderr fb render --repo "$R" --out "$BATS_TEST_TMPDIR/afile"
	assert_status 1
	assert_eq "$stderr" "firebreak: $BATS_TEST_TMPDIR/afile exists and is not a directory"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/afile")" "precious"
}

@test "render: an existing empty directory is rendered into" {
	mkdir "$BATS_TEST_TMPDIR/empty"
	run --separate-stderr fb render --repo "$R" --out "$BATS_TEST_TMPDIR/empty"
	assert_status 0
	[ -f "$BATS_TEST_TMPDIR/empty/enc/web-01.example.com.yaml" ]
	assert_eq "$(cat "$BATS_TEST_TMPDIR/empty/.firebreak-render")" "$C0"
}

@test "render: an invalid commit writes nothing and keeps the previous render" {
	out=$BATS_TEST_TMPDIR/parent/out
	mkdir -p "$BATS_TEST_TMPDIR/parent"
	fb render --repo "$R" --out "$out"
	before=$(tree_of "$out"; cat "$out/.firebreak-render")
	add_host_with_typo
	run --separate-stderr fb render --repo "$R" --out "$out"
	assert_status 1
	assert_eq "$output" ""
	assert_eq "$stderr" "hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?)
firebreak: 1 problem in $(short "$R"); nothing rendered"
	assert_eq "$(tree_of "$out"; cat "$out/.firebreak-render")" "$before"
	# Into a fresh path: not even the directory appears.
	run --separate-stderr fb render --repo "$R" --out "$BATS_TEST_TMPDIR/parent/fresh"
	assert_status 1
	assert_eq "$(entries "$BATS_TEST_TMPDIR/parent")" "out"
}

@test "render: --out with a trailing slash works like without" {
	out=$BATS_TEST_TMPDIR/parent/out
	mkdir -p "$BATS_TEST_TMPDIR/parent"
	run --separate-stderr fb render --repo "$R" --out "$out/"
	assert_status 0
	[ -f "$out/enc/web-01.example.com.yaml" ]
	assert_eq "$(cat "$out/.firebreak-render")" "$C0"
	run --separate-stderr fb render --repo "$R" --out "$out/"
	assert_status 0
	assert_eq "$(entries "$BATS_TEST_TMPDIR/parent")" "out"
	assert_not_contains "$(entries "$out")" ".tmp-" "the output directory"
	assert_not_contains "$(entries "$out")" ".old-" "the output directory"
}

# ---- plan -------------------------------------------------------------------

@test "plan: a version bump is 1 pin.modify, auto under the example policy" {
	fb apply --repo "$R" --state "$S" >/dev/null
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2$/version: 1.4.3/' "deploy app 1.4.3"
	C1=$(sha "$R")
	run --separate-stderr fb plan --repo "$R" --state "$S"
	assert_status 0
	assert_eq "${lines[0]}" "plan 2 for ${C1:0:7} \"deploy app 1.4.3\" by Alice Example: 1 pin.modify -> auto"
	assert_eq "${lines[1]}" "base $C0, target $C1"
	run --separate-stderr fb plan --repo "$R" --state "$S" --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.id, .base, .target, .decision, .subject, .author]')" \
		"[\"2\",\"$C0\",\"$C1\",\"auto\",\"deploy app 1.4.3\",\"Alice Example\"]"
	assert_eq "$(jqc "$output" '.changes')" \
		'[{"after":"1.4.3","artifact":"hiera/pins/production.yaml","before":"1.4.2","decision":"auto","object":"profile::app::version","type":"pin.modify"}]'
	# web-01, web-02 and web-03 (drained, still classified) get the pin.
	assert_eq "$(jqc "$output" '[[.artifacts[] | {path, status}], .errors, .summary, .approvals_needed, .blast_radius, (.hash | test("^[0-9a-f]{64}$"))]')" \
		'[[{"path":"hiera/pins/production.yaml","status":"modified"}],[],{"pin.modify":1},[],{"hosts":3,"records":0},true]'
	assert_contains "$(jqr "$output" '.artifacts[0].diff')" '-"profile::app::version": "1.4.2"
+"profile::app::version": "1.4.3"'
}

@test "plan: previewing a plan records nothing in the state" {
	fb apply --repo "$R" --state "$S" >/dev/null
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2$/version: 1.4.3/' "deploy app 1.4.3"
	before=$(state_fingerprint "$S"; plan_files "$S")
	run fb plan --repo "$R" --state "$S" --format json
	assert_status 0
	run fb plan --repo "$R" --state "$S" --format json
	assert_status 0
	assert_eq "$(jqr "$output" .id)" "2"
	assert_eq "$(state_fingerprint "$S"; plan_files "$S")" "$before"
}

@test "plan: the same inputs give the same plan, hash included" {
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2$/version: 1.4.3/' "deploy app 1.4.3"
	run fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	first=$output
	assert_eq "$(jqc "$first" '[.decision, .summary]')" '["auto",{"pin.modify":1}]'
	run fb plan --repo "$R" --from "$C0" --to "$(sha "$R")" --format json
	assert_eq "$output" "$first" "a second plan of the same commits"
}

@test "plan: a drain is an enc.modify of the lb backends and a dns.modify of www -> approve" {
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02.example.com"
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .approvals_needed, .summary]')" \
		'["approve",["dns"],{"dns.modify":1,"enc.modify":1}]'
	assert_eq "$(jqc "$output" '[.changes[] | {type, artifact, object, decision}]')" \
		'[{"artifact":"enc/lb-01.example.com.yaml","decision":"auto","object":"lb-01.example.com","type":"enc.modify"},{"artifact":"terraform/route53/example.com.tf.json","decision":"approve","object":"www.example.com/A","type":"dns.modify"}]'
	assert_eq "$(jqc "$output" '[.changes[0].before.parameters.backends, .changes[0].after.parameters.backends, .changes[1].before, .changes[1].after]')" \
		'[["web-01.example.com","web-02.example.com","web-s1.example.net"],["web-01.example.com","web-s1.example.net"],["10.0.1.5","10.0.1.6"],["10.0.1.5"]]'
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD
	assert_status 0
	[[ "${lines[0]}" == "plan "*" for $(short "$R") \"drain web-02.example.com\" by Alice Example: 1 enc.modify, 1 dns.modify -> approve" ]] ||
		{ echo "first line: ${lines[0]}" >&2; false; }
}

@test "plan: one dns.delete is observe" {
	commit_edit "$R" dns/example.com.yaml '/name: mail/d' "remove mail"
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .approvals_needed, .changes]')" \
		'["observe",["dns"],[{"after":null,"artifact":"terraform/route53/example.com.tf.json","before":["10.0.3.25"],"decision":"observe","object":"mail.example.com/A","type":"dns.delete"}]]'
}

@test "plan: five dns.deletes stay observe, six need approval (limit 5)" {
	for i in 1 2 3 4 5 6; do
		printf '  - {name: t%s, type: TXT, value: "t%s"}\n' "$i" "$i"
	done | append "$R" dns/example.com.yaml
	commit_all "$R" "six TXT records"
	A=$(sha "$R")
	commit_edit "$R" dns/example.com.yaml '/name: t[1-5],/d' "remove five"
	run fb plan --repo "$R" --from "$A" --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.summary, .decision, ([.changes[].decision] | unique)]')" \
		'[{"dns.delete":5},"observe",["observe"]]'
	commit_edit "$R" dns/example.com.yaml '/name: t6,/d' "remove the sixth"
	run fb plan --repo "$R" --from "$A" --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.summary, .decision, ([.changes[].decision] | unique)]')" \
		'[{"dns.delete":6},"approve",["approve"]]'
}

@test "plan: a policy.yaml change is policy.modify and needs approval" {
	commit_edit "$R" policy.yaml 's/^auto: .*/auto: [pin.modify]/' "policy: no auto enc"
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .approvals_needed, .changes]')" \
		'["approve",["policy"],[{"after":["pin.modify"],"artifact":"policy.yaml","before":["pin.modify","enc.modify"],"decision":"approve","object":"auto","type":"policy.modify"}]]'
}

@test "plan: the base commit's policy governs, not the target's" {
	# One commit trusts dns.modify and drains web-02: the dns.modify it
	# brings is still judged by the old policy.
	edit "$R" policy.yaml 's/^auto: .*/auto: [pin.modify, enc.modify, dns.modify]/'
	edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/'
	commit_all "$R" "trust dns.modify, drain web-02"
	P=$(sha "$R")
	run fb plan --repo "$R" --from "$C0" --to "$P" --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .approvals_needed, [.changes[] | {type, decision}]]')" \
		'["approve",["dns","policy"],[{"decision":"auto","type":"enc.modify"},{"decision":"approve","type":"dns.modify"},{"decision":"approve","type":"policy.modify"}]]'
	# From that commit on, its policy governs: undraining is auto.
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: drained/state: active/' "undrain web-02"
	run fb plan --repo "$R" --from "$P" --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .approvals_needed, [.changes[] | {type, decision}]]')" \
		'["auto",[],[{"decision":"auto","type":"enc.modify"},{"decision":"auto","type":"dns.modify"}]]'
}

@test "plan: from the empty tree there is no policy, so everything needs approval" {
	run --separate-stderr fb plan --repo "$R" --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.base, .target, .decision, ([.changes[].decision] | unique), .summary, ([.artifacts[].status] | unique)]')" \
		"[null,\"$C0\",\"approve\",[\"approve\"],{\"dns.add\":15,\"enc.add\":8,\"pin.add\":4,\"policy.add\":7},[\"added\"]]"
	run --separate-stderr fb plan --repo "$R"
	assert_status 0
	[[ "${lines[0]}" == "plan "*" for ${C0:0:7} \"initial inventory\" by Alice Example: 8 enc.add, 15 dns.add, 4 pin.add, 7 policy.add -> approve" ]] ||
		{ echo "first line: ${lines[0]}" >&2; false; }
	assert_eq "${lines[1]}" "base (empty tree), target $C0"
}

@test "plan: an invalid target is decision invalid, exit 1, errors with file and line" {
	add_host_with_typo
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 1
	assert_eq "$(jqc "$output" '[.decision, .base, .changes, .artifacts]')" "[\"invalid\",\"$C0\",[],[]]"
	assert_eq "$(jqc "$output" .errors)" \
		'[{"column":1,"file":"hosts/web-04.example.com.yaml","line":3,"message":"unknown key '"'stat'"' in a host (did you mean '"'state'"'?)"}]'
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD
	assert_status 1
	[[ "${lines[0]}" == "plan "*" for $(short "$R") \"add web-04 (typo)\" by Alice Example: 1 error: hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?) -> invalid" ]] ||
		{ echo "first line: ${lines[0]}" >&2; false; }
	assert_contains "$output" "hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?)"
}

@test "plan: nothing changed is noop; a comment-only commit is noop" {
	run fb plan --repo "$R" --from HEAD --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '[.decision, .changes, .artifacts]')" '["noop",[],[]]'
	commit_edit "$R" hosts/web-01.example.com.yaml '1i # the first web server' "a comment"
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD
	assert_status 0
	[[ "${lines[0]}" == "plan "*" for $(short "$R") \"a comment\" by Alice Example: no changes -> noop" ]] ||
		{ echo "first line: ${lines[0]}" >&2; false; }
}

@test "plan: a base that does not validate cannot govern (exit 1)" {
	add_host_with_typo
	B=$(sha "$R")
	git -C "$R" rm -q hosts/web-04.example.com.yaml
	commit_all "$R" "drop web-04"
	run --separate-stderr fb plan --repo "$R" --from "$B" --to HEAD
	assert_status 1
	assert_eq "$output" ""
	assert_eq "${stderr_lines[-1]}" "firebreak: the base commit ${B:0:7} does not validate, so it cannot govern a plan"
}

# ---- apply ------------------------------------------------------------------

@test "apply: the first apply makes release 1 current and records the plan" {
	run --separate-stderr fb apply --repo "$R" --state "$S"
	assert_status 0
	assert_eq "${lines[0]}" "plan 1 for ${C0:0:7} \"initial inventory\" by Alice Example: 8 enc.add, 15 dns.add, 4 pin.add, 7 policy.add -> approve"
	assert_eq "${lines[-1]}" "applied ${C0:0:7} as release 1"
	assert_eq "$(cat "$S/applied"; echo .)" "$C0
."
	assert_eq "$(readlink "$S/current")" "releases/1"
	assert_eq "$(plan_files "$S")" "1.json"
	assert_eq "$(jq -cS '{id, outcome, release, decision, base, target}' "$S/plans/1.json")" \
		"{\"base\":null,\"decision\":\"approve\",\"id\":\"1\",\"outcome\":\"applied\",\"release\":\"1\",\"target\":\"$C0\"}"
}

@test "apply: applying the same commit again changes nothing" {
	fb apply --repo "$R" --state "$S" >/dev/null
	find "$S" -exec touch -h -d '2000-01-01 00:00:00' {} +
	before=$(state_fingerprint "$S"; plan_files "$S")
	run --separate-stderr fb apply --repo "$R" --state "$S"
	assert_status 0
	assert_eq "$output" "nothing to apply: ${C0:0:7} is already applied"
	assert_eq "$stderr" ""
	assert_eq "$(state_fingerprint "$S"; plan_files "$S")" "$before"
	assert_eq "$(find "$S" -newermt '2000-01-02' | LC_ALL=C sort)" "" "files written by a no-op apply"
	run --separate-stderr fb apply --repo "$R" --state "$S" --format json
	assert_status 0
	assert_eq "$(jqc "$output" .)" "{\"applied\":\"$C0\",\"outcome\":\"noop\"}"
}

@test "apply: a later commit becomes release 2 and enc serves it" {
	fb apply --repo "$R" --state "$S" >/dev/null
	run fb enc --state "$S" lb-01.example.com
	assert_contains "$output" "    - web-02.example.com"
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02.example.com"
	C1=$(sha "$R")
	run --separate-stderr fb apply --repo "$R" --state "$S" --format json
	assert_status 0
	assert_eq "$(jqc "$output" '{id, base, target, decision, outcome, release}')" \
		"{\"base\":\"$C0\",\"decision\":\"approve\",\"id\":\"2\",\"outcome\":\"applied\",\"release\":\"2\",\"target\":\"$C1\"}"
	assert_eq "$(cat "$S/applied")" "$C1"
	assert_eq "$(readlink "$S/current")" "releases/2"
	assert_eq "$(plan_files "$S")" "1.json
2.json"
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" "applied"
	run fb enc --state "$S" lb-01.example.com
	assert_status 0
	assert_eq "$output" "---
classes:
  - profile::base
  - profile::lb
environment: production
parameters:
  backends:
    - web-01.example.com
    - web-s1.example.net
  maxconn: 2000
  role: lb"
}

@test "apply: an invalid commit is recorded as invalid and the old release stays" {
	fb apply --repo "$R" --state "$S" >/dev/null
	enc_before=$(fb enc --state "$S" web-01.example.com)
	before=$(state_fingerprint "$S")
	add_host_with_typo
	C1=$(sha "$R")
	run --separate-stderr fb apply --repo "$R" --state "$S"
	assert_status 1
	assert_eq "$stderr" "firebreak: ${C1:0:7} does not validate; $C0 stays applied"
	assert_contains "${lines[0]}" "\"add web-04 (typo)\" by Alice Example: 1 error: hosts/web-04.example.com.yaml:3:1: unknown key 'stat' in a host (did you mean 'state'?) -> invalid"
	assert_eq "$(state_fingerprint "$S")" "$before"
	assert_eq "$(cat "$S/applied")" "$C0"
	assert_eq "$(plan_files "$S")" "1.json
2.json"
	assert_eq "$(jq -cS '{decision, outcome, target, file: .errors[0].file, line: .errors[0].line}' "$S/plans/2.json")" \
		"{\"decision\":\"invalid\",\"file\":\"hosts/web-04.example.com.yaml\",\"line\":3,\"outcome\":\"invalid\",\"target\":\"$C1\"}"
	run fb enc --state "$S" web-01.example.com
	assert_status 0
	assert_eq "$output" "$enc_before"
	run fb enc --state "$S" web-04.example.com
	assert_status 1
}

@test "apply: after more applies than releases kept, enc serves every node of the last" {
	fb apply --repo "$R" --state "$S" >/dev/null
	# Seven one-host changes (old releases are collected after five), then
	# a host goes away.
	for h in web-01.example.com web-02.example.com db-01.example.com lb-01.example.com \
		db-02.example.com web-01.example.com spare-01.example.com; do
		sed -i '/^environment:/d' "$R/hosts/$h.yaml"
		echo "environment: canary$RANDOM" >>"$R/hosts/$h.yaml"
		commit_all "$R" "move $h"
		fb apply --repo "$R" --state "$S" >/dev/null
	done
	git -C "$R" rm -q hosts/web-03.example.com.yaml
	commit_all "$R" "remove web-03"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	assert_eq "${lines[-1]}" "applied $(short "$R") as release 9"
	fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out" >/dev/null
	for f in "$BATS_TEST_TMPDIR"/out/enc/*.yaml; do
		node=${f##*/}
		fb enc --state "$S" "${node%.yaml}" >"$BATS_TEST_TMPDIR/enc.yaml"
		cmp "$BATS_TEST_TMPDIR/enc.yaml" "$f"
	done
	run --separate-stderr fb enc --state "$S" web-03.example.com
	assert_status 1
	assert_eq "$output" "firebreak: no node 'web-03.example.com' in the current release"
}

@test "apply --to: applies the named commit, not HEAD" {
	commit_edit "$R" services/app.yaml 's/^version: 1.4.2$/version: 1.4.3/' "deploy app 1.4.3"
	run --separate-stderr fb apply --repo "$R" --state "$S" --to HEAD~1
	assert_status 0
	assert_eq "${lines[-1]}" "applied ${C0:0:7} as release 1"
	assert_eq "$(cat "$S/applied")" "$C0"
}

# ---- enc --------------------------------------------------------------------

@test "enc --state: the node's ENC document from the current release" {
	fb apply --repo "$R" --state "$S" >/dev/null
	run --separate-stderr fb enc --state "$S" web-01.example.com
	assert_status 0
	assert_eq "$stderr" ""
	assert_eq "$output" "---
classes:
  - profile::base
  - profile::web
  - profile::debug
environment: production
parameters:
  nginx_workers: 8
  role: web
  tls: true"
	fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out" >/dev/null
	fb enc --state "$S" web-01.example.com >"$BATS_TEST_TMPDIR/enc.yaml"
	cmp "$BATS_TEST_TMPDIR/enc.yaml" "$BATS_TEST_TMPDIR/out/enc/web-01.example.com.yaml"
	run fb enc --state "$S" spare-01.example.com
	assert_status 0
	assert_eq "$output" "---
classes: []
environment: production
parameters:
  role: spare"
}

@test "enc: the front's fast path and the core give the same answers" {
	fb apply --repo "$R" --state "$S" >/dev/null
	fast=$(fb enc --state "$S" web-s1.example.net)
	# `--` is not a form the front answers itself: the core does.
	run --separate-stderr fb enc --state "$S" -- web-s1.example.net
	assert_status 0
	assert_eq "$output" "$fast"
	assert_contains "$output" "environment: staging"
	run --separate-stderr fb enc --state "$S" -- nope.example.com
	assert_status 1
	assert_eq "$output" "firebreak: no node 'nope.example.com' in the current release"
	assert_eq "$stderr" "$output"
	run --separate-stderr fb enc "--state=$S" web-s1.example.net
	assert_status 0
	assert_eq "$output" "$fast"
}

@test "enc --repo --rev: the document as of a commit" {
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02.example.com"
	run --separate-stderr fb enc --repo "$R" --rev "$C0" lb-01.example.com
	assert_status 0
	assert_contains "$output" "    - web-02.example.com"
	run --separate-stderr fb enc --repo "$R" lb-01.example.com
	assert_status 0
	assert_not_contains "$output" "web-02"
	assert_contains "$output" "  backends:
    - web-01.example.com
    - web-s1.example.net"
}

@test "enc: an unknown node exits 1 with the reason on stdout and stderr" {
	fb apply --repo "$R" --state "$S" >/dev/null
	run --separate-stderr fb enc --state "$S" nope.example.com
	assert_status 1
	assert_eq "$output" "firebreak: no node 'nope.example.com' in the current release"
	assert_eq "$stderr" "$output"
	# A decommissioned host is not a node.
	run --separate-stderr fb enc --state "$S" old-01.example.com
	assert_status 1
	assert_eq "$output" "firebreak: no node 'old-01.example.com' in the current release"
	assert_eq "$stderr" "$output"
	run --separate-stderr fb enc --repo "$R" nope.example.com
	assert_status 1
	assert_eq "$output" "firebreak: no node 'nope.example.com' in commit ${C0:0:7}"
	assert_eq "$stderr" "$output"
}

@test "enc --state: before any apply there is no release (exit 3)" {
	mkdir -p "$S"
	run --separate-stderr fb enc --state "$S" web-01.example.com
	assert_status 3
	assert_eq "$output" ""
	assert_eq "$stderr" "firebreak: $S has no current release (run firebreak apply first)"
}

# ---- usage and environment ------------------------------------------------

@test "usage errors exit 2 and point at --help" {
	fails=0
	while IFS= read -r args; do
		eval "set -- $args"
		run --separate-stderr fb "$@"
		if [ "$status" -ne 2 ] || [ -n "$output" ] ||
			[[ "$stderr" != *"(firebreak --help for usage)"* ]]; then
			echo "firebreak $args: exit $status, stdout '$output', stderr '$stderr'" >&2
			fails=$((fails + 1))
		fi
	done <<EOF
frobnicate
check
check --repo
check --repo "$R" --bogus x
check --repo "$R" --format yaml
check --repo "$R" extra
render --repo "$R"
plan --repo "$R" --out x
apply --repo "$R"
enc --state "$S"
enc --state "$S" --repo "$R" web-01.example.com
enc web-01.example.com
enc --state "$S" a.example.com b.example.com
EOF
	run --separate-stderr fb
	[ "$status" -eq 2 ] || { echo "no command: exit $status" >&2; fails=$((fails + 1)); }
	[ "$fails" -eq 0 ]
}

@test "--help prints the usage and exits 0" {
	run --separate-stderr fb --help
	assert_status 0
	assert_eq "${lines[0]}" "usage: firebreak <command> [options]"
	assert_contains "$output" "Exit codes: 0 ok, 1 the input is wrong, 2 usage, 3 environment."
}

@test "a missing repository exits 3 for every command" {
	mkdir "$BATS_TEST_TMPDIR/not-a-repo"
	for repo in "$BATS_TEST_TMPDIR/no-such-repo" "$BATS_TEST_TMPDIR/not-a-repo"; do
		for cmd in check render plan apply enc; do
			case $cmd in
			check) run --separate-stderr fb check --repo "$repo" ;;
			render) run --separate-stderr fb render --repo "$repo" --out "$BATS_TEST_TMPDIR/out" ;;
			plan) run --separate-stderr fb plan --repo "$repo" ;;
			apply) run --separate-stderr fb apply --repo "$repo" --state "$S" ;;
			enc) run --separate-stderr fb enc --repo "$repo" web-01.example.com ;;
			esac
			assert_status 3
			assert_eq "$stderr" "firebreak: $repo: not a git repository" "$cmd's message"
		done
	done
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
	[ ! -e "$S/applied" ]
}

@test "an unknown revision is an input error (exit 1)" {
	run --separate-stderr fb check --repo "$R" --rev nosuch
	assert_status 1
	assert_eq "$stderr" "firebreak: no commit 'nosuch' in the repository"
	run --separate-stderr fb plan --repo "$R" --from nosuch
	assert_status 1
	run --separate-stderr fb apply --repo "$R" --state "$S" --to nosuch
	assert_status 1
	[ ! -e "$S/applied" ]
}
