#!/usr/bin/env bats
# What the fuzz targets found (tests/fuzz/), as a user meets it: a host
# file that crashed `firebreak plan`, an ENC document Puppet could not
# read, a chat answer that was not UTF-8.  Each test failed before its fix.

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	new_repo "$R"
}

# Is stdin valid UTF-8?  (iconv exits non-zero at the first bad byte.)
is_utf8() {
	iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1
}

# bot_state: a configuration ($C) for `firebreak chat` on $R, and its
# state ($S) at the repository's head.
bot_state() {
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	printf 'repo: %s\nbranch: main\nstate: %s\nbot: {name: firebreak, email: fb@bot.example}\n' \
	    "$R" "$S" >"$C"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
}

@test "a NUL escape in a host param is an error with file:line, not an abort" {
	commit_file "$R" hosts/web-01.example.com.yaml "nul" <<-'EOF'
	role: web
	ip: 10.0.1.5
	params: {motd: "a\0b"}
	EOF
	run fb plan --repo "$R" --format json
	assert_status 1
	assert_eq "$(jqr "$output" '.decision')" invalid
	assert_eq "$(jqr "$output" '.errors[0] | "\(.file):\(.line):\(.column): \(.message)"')" \
	    'hosts/web-01.example.com.yaml:3:16: a value cannot hold a NUL character (\0)'
}

@test "a param number beyond 64 bits reaches the plan's JSON as a string" {
	commit_file "$R" hosts/web-01.example.com.yaml "big" <<-'EOF'
	role: web
	ip: 10.0.1.5
	params: {big: 22222222222222222222, huge: 1.0e+999}
	EOF
	run fb plan --repo "$R" --format json
	assert_status 0
	assert_eq "$(jqr "$output" '.changes[] | select(.object == "web-01.example.com") | .after.parameters | [.big, .huge] | @json')" \
	    '["22222222222222222222","1.0e+999"]'
}

@test "keys that are one value to YAML are duplicates: ~ and null, 16 and 0x10" {
	commit_file "$R" hosts/web-01.example.com.yaml "dup" <<-'EOF'
	role: web
	ip: 10.0.1.5
	params:
	  x: {~: 1, null: 2}
	EOF
	run fb check --repo "$R"
	assert_status 1
	assert_contains "$output" "hosts/web-01.example.com.yaml:4:13: duplicate key 'null'"
}

@test "the ENC document of a param with control characters and a long key is YAML Puppet reads" {
	# Puppet's YAML reader: ruby comes with puppet (make deps).
	command -v ruby >/dev/null || { echo "ruby is missing (make deps installs puppet)" >&2; false; }
	long=$(printf 'k%.0s' $(seq 1100))
	commit_file "$R" hosts/web-01.example.com.yaml "odd" <<-EOF
	role: web
	ip: 10.0.1.5
	params:
	  motd: "a\\x90b\\Nc\\Ld"
	  nested:
	    ? $long
	    : 1
	EOF
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	run ruby -ryaml -e 'p = YAML.load_file(ARGV[0])["parameters"]; puts p["motd"].unpack("U*").inspect; puts p["nested"].keys.first.length' \
	    "$BATS_TEST_TMPDIR/out/enc/web-01.example.com.yaml"
	assert_status 0
	assert_eq "$output" "[97, 144, 98, 133, 99, 8232, 100]
1100"
}

@test "an unknown chat command of many-byte letters is answered in whole characters" {
	bot_state
	run fb chat --config "$C" --as alice "unknown$(printf 'é%.0s' $(seq 30))"
	assert_status 1
	printf '%s' "$output" | is_utf8
	assert_contains "$output" "unknown command 'unknownéééééééééééééééé'"
}

@test "reconcile with a 'kind' whose 40th byte is inside a letter is answered in valid UTF-8" {
	bot_state
	# "xy" and twelve 3-byte letters are 38 bytes: the 40-byte quote ends 2
	# bytes into the thirteenth, which was a cut character in the answer.
	run fb chat --config "$C" --as alice "reconcile xy$(printf '€%.0s' $(seq 20))"
	assert_status 1
	printf '%s' "$output" | is_utf8
	assert_contains "$output" "'xy€€€€€€€€€€€€??' is not a kind: reconcile enc, dns, pin or policy"
}

@test "a command with a bidi override or a disguised line break is refused from every channel" {
	bot_state
	before=$(sha "$R")
	# U+202E, U+2066, U+2028 as UTF-8 (the tests run in the C locale)
	for c in $'\xe2\x80\xae' $'\xe2\x81\xa6' $'\xe2\x80\xa8'; do
		run fb chat --config "$C" --as alice "deploy app 1.4.3${c}1"
		assert_status 1
		assert_eq "$output" "a command is one line of UTF-8 text without control characters or bidirectional overrides"
	done
	assert_eq "$(sha "$R")" "$before" "the branch"
}

@test "a required field written as null is a problem with file:line, not a crash" {
	check_null() {   # FILE CONTENT EXPECTED-FIRST-LINE
		git -C "$R" checkout -q -- .
		printf '%b' "$2" >"$R/$1"
		commit_all "$R" "null in $1"
		run fb check --repo "$R"
		assert_status 1
		assert_eq "${lines[0]}" "$3"
		run fb plan --repo "$R" --format json
		assert_status 1
		assert_eq "$(jqr "$output" .decision)" invalid
		git -C "$R" reset -q --hard HEAD~1
	}
	check_null services/app.yaml 'version: ~\n' \
	    "services/app.yaml:1:1: a service needs a 'version'"
	check_null dns/example.com.yaml 'zone_id:\nrecords: []\n' \
	    "dns/example.com.yaml:1:1: a zone needs a 'zone_id' (the Route53 hosted zone id)"
	check_null dns/example.com.yaml 'zone_id: Z1\nrecords:\n  - {name: ~, type: A, value: 10.0.0.1}\n' \
	    "dns/example.com.yaml:3:5: a record needs a 'name' ('@' for the zone apex)"
	check_null hosts/web-01.example.com.yaml 'role: null\nip: 10.0.1.5\n' \
	    "hosts/web-01.example.com.yaml:1:1: an active host needs a 'role'"
	# A null hiera_key is the default one.
	printf 'version: 1.4.2\nhiera_key:\n' >"$R/services/app.yaml"
	commit_all "$R" "null hiera_key"
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	assert_contains "$(cat "$BATS_TEST_TMPDIR/out/hiera/pins/production.yaml")" '"app::version": "1.4.2"'
}

@test "history quotes a long subject in whole characters" {
	bot_state
	# 71 bytes, then a 2-byte letter across the 72-byte cut.
	subject="$(printf 'a%.0s' $(seq 71))$(printf '\xc3\xa9')tc"
	edit "$R" services/app.yaml -e 's/1.4.2/1.4.3/'
	commit_all "$R" "$subject"
	run fb chat --config "$C" --as alice "history 1"
	assert_status 0
	printf '%s' "$output" | is_utf8
	assert_contains "$output" "$(printf 'a%.0s' $(seq 71))  (Alice Example, by hand)"
}
