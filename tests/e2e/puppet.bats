#!/usr/bin/env bats
# Real Puppet classifies nodes through `firebreak enc --state S` (its exec
# node terminus, as `external_nodes`), offline, in throwaway directories.
# Facts come from the memory terminus, so the node's parameters are
# exactly the ENC's.

load helpers

setup_file() {
	command -v puppet >/dev/null 2>&1 || return 0
	template_repo
	# Puppet splits external_nodes on spaces: keep every path in it free
	# of them (the binary through a symlink: the front answers enc itself).
	BASE=$BATS_FILE_TMPDIR
	case "$BASE" in *" "*) BASE=$(mktemp -d /tmp/fb-puppet.XXXXXX) ;; esac
	ENC_BIN=$FIREBREAK
	case "$ENC_BIN" in
	*" "*)
		mkdir -p "$BASE/bin"
		ln -s "$FIREBREAK" "$BASE/bin/firebreak"
		ENC_BIN=$BASE/bin/firebreak ;;
	esac
	PR=$BASE/repo
	PS=$BASE/state
	PD=$BASE/puppet
	cp -a "$TEMPLATE" "$PR"
	# web-02 carries values YAML loves to reinterpret; Puppet must get strings.
	cat >"$PR/hosts/web-02.example.com.yaml" <<'EOF'
role: web
ip: 10.0.1.6
state: active
params:
  motd: "line one\nline two: ${x} %{y} \"quoted\" 'single' #hash"
  yes_str: "yes"
  off_str: "off"
  ver: "1.10"
  tilde: "~"
  null_str: "null"
  num_str: "0x10"
  octal_str: "0755"
  tag: "!ruby/object:Foo"
  amp: "&anchor"
  star: "*alias"
  dash: "- item"
  colon: "a: b"
  empty: ""
  lead_space: " x"
  unicode: "caf\u00e9 \u2603"
  bool: true
  int: 42
  float: 1.5
  list: [a, "b c", 3]
  nested: {k: v, n: {deep: "yes"}}
EOF
	git -C "$PR" add -A
	git -C "$PR" commit -q -m "web-02: awkward parameters"
	"$FIREBREAK" apply --repo "$PR" --state "$PS" >/dev/null
	mkdir -p "$PD"/{conf,var,log,run} "$PD"/code/environments/{production,staging}
	export BASE ENC_BIN PR PS PD
}

teardown_file() {
	case "${BASE:-}" in /tmp/fb-puppet.*) rm -rf "$BASE" ;; esac
}

setup() {
	require_firebreak
	require_jq
	if ! command -v puppet >/dev/null 2>&1; then
		skip "puppet is not installed (Debian package 'puppet'; make deps installs it)"
	fi
}

# node_find FQDN FORMAT: `puppet node find` through firebreak's ENC.
node_find() {
	# Puppet reads the ENC's output in the locale's encoding: under C,
	# any non-ASCII parameter fails the lookup ("invalid byte sequence in
	# US-ASCII").  Agents and servers run with a UTF-8 locale.
	LC_ALL=C.UTF-8 LANG=C.UTF-8 puppet node find "$1" --render-as "$2" --color false \
		--node_terminus exec --external_nodes "$ENC_BIN enc --state $PS" \
		--facts_terminus memory \
		--confdir "$PD/conf" --vardir "$PD/var" --codedir "$PD/code" \
		--environmentpath "$PD/code/environments" \
		--logdir "$PD/log" --rundir "$PD/run"
}

@test "puppet: web-01 gets the role's and its own classes, parameters and environment" {
	run --separate-stderr node_find web-01.example.com yaml
	assert_status 0
	assert_eq "$output" "--- !ruby/object:Puppet::Node
name: web-01.example.com
environment: production
classes:
- profile::base
- profile::web
- profile::debug
parameters:
  nginx_workers: 8
  role: web
  tls: true"
}

@test "puppet: lb-01 gets the active web hosts as backends" {
	run --separate-stderr node_find lb-01.example.com json
	assert_status 0
	assert_eq "$(jqc "$output" '[.name, .environment, .classes, .parameters]')" \
		'["lb-01.example.com","production",["profile::base","profile::lb"],{"backends":["web-01.example.com","web-02.example.com","web-s1.example.net"],"maxconn":2000,"role":"lb"}]'
}

@test "puppet: a staging host lands in the staging environment" {
	run --separate-stderr node_find web-s1.example.net json
	assert_status 0
	assert_eq "$(jqc "$output" '[.environment, .classes, .parameters.role]')" \
		'["staging",["profile::base","profile::web"],"web"]'
}

@test "puppet: a spare host has no classes and role spare" {
	run --separate-stderr node_find spare-01.example.com yaml
	assert_status 0
	# Puppet leaves an empty class list out of its rendering.
	assert_eq "$output" "--- !ruby/object:Puppet::Node
name: spare-01.example.com
environment: production
parameters:
  role: spare"
}

@test "puppet: parameter values arrive as written, strings as strings" {
	run --separate-stderr node_find web-02.example.com json
	assert_status 0
	assert_eq "$(jqc "$output" '.parameters')" "$(jq -cS . <<'EOF'
{"amp":"&anchor","bool":true,"colon":"a: b","dash":"- item","empty":"","float":1.5,"int":42,
 "lead_space":" x","list":["a","b c",3],
 "motd":"line one\nline two: ${x} %{y} \"quoted\" 'single' #hash",
 "nested":{"k":"v","n":{"deep":"yes"}},"nginx_workers":4,"null_str":"null","num_str":"0x10",
 "octal_str":"0755","off_str":"off","role":"web","star":"*alias","tag":"!ruby/object:Foo",
 "tilde":"~","tls":true,"unicode":"café ☃","ver":"1.10","yes_str":"yes"}
EOF
)"
}

@test "puppet: an unknown node fails the lookup, quoting firebreak's reason" {
	run node_find nope.example.com yaml
	[ "$status" -ne 0 ] || { echo "puppet succeeded for an unknown node" >&2; false; }
	assert_contains "$output" "returned 1: firebreak: no node 'nope.example.com' in the current release"
}

@test "puppet: after the next apply, Puppet sees the new release" {
	# A copy of the state, so the other tests' release is untouched.
	PS2=$BASE/state-drain
	cp -a "$PS" "$PS2"
	R=$BATS_TEST_TMPDIR/repo
	cp -a "$PR" "$R"
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02.example.com"
	fb apply --repo "$R" --state "$PS2" >/dev/null
	PS=$PS2
	run --separate-stderr node_find lb-01.example.com json
	assert_status 0
	assert_eq "$(jqc "$output" .parameters.backends)" '["web-01.example.com","web-s1.example.net"]'
}
