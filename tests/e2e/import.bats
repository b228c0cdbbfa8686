#!/usr/bin/env bats
# firebreak import (issue 13): a team adopting firebreak brings its zone
# (by AXFR from a real BIND, with and without TSIG, or from a zone file)
# and its ENC (a script run per node) into an inventory checkout.  Every
# import is checked the way the team would: commit, `firebreak check`,
# `firebreak render`, and the rendering compared with what was imported
# -- the zone's records by BIND's own reading (named-compilezone, or the
# zone loaded back into BIND and transferred again), the ENC documents by
# Ruby's YAML, as Puppet reads them (tests/e2e/import/enc_same.rb).

load helpers
load dns/bind

setup_file() {
	require_firebreak
	template_repo
	if [ "$(id -u)" -eq 0 ]; then
		BIND_HOME=$(mktemp -d /tmp/firebreak-bind.XXXXXX)
	else
		BIND_HOME=$BATS_FILE_TMPDIR/bind
	fi
	export BIND_HOME
	bind_start "$BIND_HOME" example.com
}

teardown_file() {
	bind_stop
	[ "$(id -u)" -eq 0 ] && case $BIND_HOME in /tmp/firebreak-bind.*) rm -rf "$BIND_HOME" ;; esac
	return 0
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	SECRET=$BATS_TEST_TMPDIR/tsig.key
	cp "$BIND_DIR/fbkey.secret" "$SECRET"
	chmod 600 "$SECRET"
	ENC=$TOP/tests/e2e/import/sample-enc
	adopting_repo "$R"
}

# adopting_repo DIR: the example inventory as a team has it before its
# zone is imported: no dns/example.com.yaml, no host ips in example.com,
# no round-robin name on role web (web-s1, in example.net, is gone, so
# a www name on web would render in example.com alone).  Committed.
adopting_repo() {
	new_repo "$1"
	git -C "$1" rm -q dns/example.com.yaml hosts/web-s1.example.net.yaml
	sed -i '/^ip:/d' "$1"/hosts/*.example.com.yaml
	sed -i '/^dns:/d' "$1/roles/web.yaml"
	commit_all "$1" "before the import"
}

# The zone as the team's BIND serves it (after an SOA and apex NS).
zone_body() {
	local long
	long=$(printf 'k=%0253d' 0)
	cat <<-EOF
	@          MX  10 mx1
	@          MX  20 mx2.example.com.
	@          TXT "v=spf1 mx -all"
	@          CAA 0 issue "letsencrypt.org"
	mx1        A   10.0.3.1
	mx2        A   10.0.3.2
	mail 3600  A   10.0.3.25        ; its own TTL
	docs       CNAME web-01
	web-01     A   10.0.1.5
	web-02     IN 300 A 10.0.1.6
	web-03     300 IN A 10.0.1.7
	www        A   10.0.1.5
	           A   10.0.1.6
	db-01      A   10.0.2.10
	db-02      A   10.0.2.11
	lb-01      A   10.0.0.10
	lb         A   10.0.0.10
	_sip._tcp  SRV 10 60 5060 sip
	sip        AAAA 2001:db8::1
	long       TXT "$long" "and the rest of it"
	quote      TXT "say \"hi\"; then \\\\ go"
	EOF
}

# zone_file SERIAL: the whole zone, one line per SOA (bind_load reads it).
zone_file() {
	printf '$TTL 300\n@ IN SOA ns1.nameservers.test. hostmaster.example.com. %s 3600 600 86400 300\n' "$1"
	printf '@ IN NS ns1.nameservers.test.\n@ IN NS ns2.nameservers.test.\n'
	zone_body
}

# compiled ZONE FILE: BIND's reading of a zone file, without the SOA and
# the apex NS set, one record a line, sorted.
compiled() {
	named-compilezone -q -i none -o - "$1" "$2" |
	    awk -v z="$1." '$4 != "SOA" && !($4 == "NS" && $1 == z)' | LC_ALL=C sort
}

# rendered_zone ZONE: the zone file of what the committed inventory of $R
# renders for ZONE (tests/e2e/dns/tf2zone.py), into $BATS_TEST_TMPDIR/rendered.zone.
rendered_zone() {
	rm -rf "$BATS_TEST_TMPDIR/out"
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	python3 "$TOP/tests/e2e/dns/tf2zone.py" "$1" \
	    "$BATS_TEST_TMPDIR/out/terraform/route53/$1.tf.json" "${2:-7}" \
	    >"$BATS_TEST_TMPDIR/rendered.zone"
}

# commit_and_check: what the team does after an import.
commit_and_check() {
	commit_all "$R" "import"
	run fb check --repo "$R"
	assert_status 0
	assert_contains "$output" "is valid"
}

@test "import: --help documents every flag" {
	run fb import --help
	assert_status 0
	for f in --from-axfr --tsig NAME:ALG:FILE --from-file --zone-id --skip-unsupported \
	    --repo --force --script --nodes; do
		assert_contains "$output" "$f"
	done
	run fb --help
	assert_contains "$output" "import {zone ZONE --from-axfr"
	run fb import
	assert_status 2
}

@test "import zone --from-file: a master file round-trips through the inventory" {
	{
		printf '$ORIGIN example.com.\n$TTL 5m\n'
		printf '@ IN SOA ns1.nameservers.test. hostmaster.example.com. (\n'
		printf '\t\t2026010100 ; serial\n\t\t1h 10m 1d 300 )\n'
		printf '\tIN NS ns1.nameservers.test.\n\tNS ns2.nameservers.test.\n'
		zone_body
		printf 'api.example.com. 60 in a 10.0.5.5\napi.example.com. 60 IN A 10.0.5.6\n'
		printf '$ORIGIN dev.example.com.\n*  CNAME web-02.example.com.\n'
	} >"$BATS_TEST_TMPDIR/example.com.zone"
	run fb import zone example.com --from-file "$BATS_TEST_TMPDIR/example.com.zone" \
	    --repo "$R" --zone-id Z0123456789ABC
	assert_status 0
	assert_contains "$output" "left out: 1 SOA, 2 apex NS"
	# Hosts got their ips, web its round-robin name; lb's is lb's own.
	assert_contains "$(cat "$R/hosts/web-01.example.com.yaml")" "ip: 10.0.1.5"
	assert_contains "$(cat "$R/hosts/web-03.example.com.yaml")" "ip: 10.0.1.7"
	assert_contains "$(cat "$R/roles/web.yaml")" "dns: [www]"
	assert_contains "$(cat "$R/hosts/web-01.example.com.yaml")" "classes: [profile::debug]"
	z=$(cat "$R/dns/example.com.yaml")
	assert_contains "$z" "zone_id: Z0123456789ABC"
	assert_contains "$z" "ttl: 300"
	assert_contains "$z" '{name: mail, type: A, value: "10.0.3.25", ttl: 3600}'
	assert_contains "$z" '{name: "@", type: MX, values: ["10 mx1.example.com.", "20 mx2.example.com."]}'
	assert_contains "$z" '{name: "*.dev", type: CNAME, value: web-02.example.com.}'
	assert_contains "$z" '{name: api, type: A, values: ["10.0.5.5", "10.0.5.6"], ttl: 60}'
	assert_not_contains "$z" "type: SOA"
	assert_not_contains "$z" "name: \"@\", type: NS"
	assert_not_contains "$z" "web-01, type: A"
	assert_not_contains "$z" "www"
	commit_and_check
	rendered_zone example.com
	compiled example.com "$BATS_TEST_TMPDIR/example.com.zone" >"$BATS_TEST_TMPDIR/want"
	compiled example.com "$BATS_TEST_TMPDIR/rendered.zone" >"$BATS_TEST_TMPDIR/got"
	# Only the long TXT's strings differ on the wire: firebreak splits at
	# 255 bytes (and says so); its text is the same.
	grep -v '^long\.' "$BATS_TEST_TMPDIR/want" >"$BATS_TEST_TMPDIR/want2"
	grep -v '^long\.' "$BATS_TEST_TMPDIR/got" >"$BATS_TEST_TMPDIR/got2"
	diff -u "$BATS_TEST_TMPDIR/want2" "$BATS_TEST_TMPDIR/got2"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/want")" -gt 15 ]
	assert_contains "$(cat "$R/dns/example.com.yaml")" "$(printf 'k=%0253dand the rest of it' 0)"
}

@test "import zone --from-axfr with TSIG: BIND's zone comes back from the rendered inventory" {
	zone_file 2026010101 >"$BATS_TEST_TMPDIR/live.zone"
	bind_load example.com "$BATS_TEST_TMPDIR/live.zone"
	zone_records example.com >"$BATS_TEST_TMPDIR/before"
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" \
	    --tsig "fbkey:hmac-sha256:$SECRET" --repo "$R"
	assert_status 0
	assert_contains "$output" "by AXFR (TSIG)"
	assert_contains "$output" "left out: the SOA and the apex NS set"
	assert_contains "$(cat "$R/dns/example.com.yaml")" "zone_id: NONE"
	commit_and_check
	# Load what the inventory renders into BIND and transfer it again.
	rendered_zone example.com 2026010102
	bind_load example.com "$BATS_TEST_TMPDIR/rendered.zone"
	zone_records example.com >"$BATS_TEST_TMPDIR/after"
	diff -u "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/before")" -gt 15 ]
	# NAME:FILE means hmac-sha256; a second import is refused without --force.
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" --tsig "fbkey:$SECRET" \
	    --repo "$R"
	assert_status 1
	assert_contains "$output" "dns/example.com.yaml exists"
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" --tsig "fbkey:$SECRET" \
	    --repo "$R" --force --zone-id Z0123456789ABC
	assert_status 0
	assert_eq "$(git -C "$R" status --porcelain)" " M dns/example.com.yaml" "only the zone id changed"
	commit_all "$R" "zone id"
	# Without --zone-id, --force keeps the replaced file's.
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" --tsig "fbkey:$SECRET" \
	    --repo "$R" --force
	assert_status 0
	assert_eq "$(git -C "$R" status --porcelain)" "" "the checkout after the same import"
}

@test "import zone --from-axfr without TSIG, from a zone open to transfers" {
	printf '$TTL 600\n@ IN SOA ns1.nameservers.test. hostmaster.open.test. 5 3600 600 86400 300\n' \
	    >"$BATS_TEST_TMPDIR/open.zone"
	printf '@ IN NS ns1.nameservers.test.\nwww A 192.0.2.1\nwww A 192.0.2.2\n@ TXT "hello"\n' \
	    >>"$BATS_TEST_TMPDIR/open.zone"
	bind_load open.test "$BATS_TEST_TMPDIR/open.zone" "127.0.0.1;"
	run fb import zone open.test --from-axfr "127.0.0.1:$DNS_PORT" --repo "$R"
	assert_status 0
	assert_contains "$output" "imported open.test from 127.0.0.1:$DNS_PORT by AXFR:"
	z=$(cat "$R/dns/open.test.yaml")
	assert_contains "$z" "ttl: 600"
	assert_contains "$z" '{name: www, type: A, values: ["192.0.2.1", "192.0.2.2"]}'
	assert_contains "$z" '{name: "@", type: TXT, value: hello}'
	commit_and_check
	rendered_zone open.test
	diff -u <(compiled open.test "$BATS_TEST_TMPDIR/open.zone") \
	    <(compiled open.test "$BATS_TEST_TMPDIR/rendered.zone")
}

@test "import zone --from-axfr: a refused transfer writes nothing" {
	zone_file 2026010201 >"$BATS_TEST_TMPDIR/live.zone"
	bind_load example.com "$BATS_TEST_TMPDIR/live.zone"
	# Unsigned, where the zone wants key fbkey.
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" --repo "$R"
	assert_status 1
	assert_contains "$output" "AXFR of example.com from 127.0.0.1:$DNS_PORT: the transfer was refused: REFUSED"
	assert_contains "$output" "nothing was written"
	# A key the server knows but that may not transfer.
	cp "$BIND_DIR/otherkey.secret" "$BATS_TEST_TMPDIR/other.key"
	chmod 600 "$BATS_TEST_TMPDIR/other.key"
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" \
	    --tsig "otherkey:hmac-sha256:$BATS_TEST_TMPDIR/other.key" --repo "$R"
	assert_status 1
	assert_contains "$output" "refused"
	# The right name with the wrong secret: the server says BADSIG.
	run fb import zone example.com --from-axfr "127.0.0.1:$DNS_PORT" \
	    --tsig "fbkey:hmac-sha256:$BATS_TEST_TMPDIR/other.key" --repo "$R"
	assert_status 1
	assert_contains "$output" "BADSIG"
	# Nobody listening.
	run fb import zone example.com --from-axfr "127.0.0.1:$(bind_free_port)" --repo "$R"
	assert_status 3
	assert_eq "$(git -C "$R" status --porcelain)" "" "the checkout"
}

@test "import zone --from-file: a bad line is named by file and line, and nothing is written" {
	f=$BATS_TEST_TMPDIR/bad.zone
	printf '$TTL 300\n@ IN SOA ns1.nameservers.test. h.example.com. 1 2 3 4 5\nweb-01 A 10.0.1.5\n' >"$f"
	printf '; a comment\nwww IN A 10.0.1.300\n' >>"$f"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:5: A: '10.0.1.300' is not an IPv4 address; nothing was written"
	printf '$TTL 300\nhost ( A\n10.0.0.1\n' >"$f"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:2: '(' is never closed"
	printf '$TTL 300\nx.example.org. A 10.0.0.1\n' >"$f"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:2: x.example.org is outside zone example.com"
	printf '$TTL 300\n$INCLUDE /etc/passwd\n' >"$f"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:2: \$INCLUDE is not supported"
	printf '$TTL 300\nkey SSHFP 1 1 0123456789abcdef\nok A 10.0.0.1\n' >"$f"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:2: key.example.com. SSHFP: dns/ files hold"
	# A host whose ip disagrees with the zone.
	printf '$TTL 300\nlb-01 A 10.9.9.9\n' >"$f"
	printf 'ip: 10.0.0.10\n' >>"$R/hosts/lb-01.example.com.yaml"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 1
	assert_contains "$output" "$f:2: lb-01.example.com A is [\"10.9.9.9\"] (ttl 300) there, but the inventory renders it as [\"10.0.0.10\"]"
	git -C "$R" checkout -q hosts/lb-01.example.com.yaml
	assert_eq "$(git -C "$R" status --porcelain)" "" "the checkout"
	# --skip-unsupported leaves the SSHFP out, with a warning.
	printf '$TTL 300\nkey SSHFP 1 1 0123456789abcdef\nok A 10.0.0.1\n' >"$f"
	run fb import zone example.com --from-file "$f" --repo "$R" --skip-unsupported
	assert_status 0
	assert_contains "$output" "$f:2: warning: key.example.com. SSHFP skipped"
}

# enc_nodes FILE NODE...: a nodes file with a comment and a blank line.
enc_nodes() {
	local f=$1
	shift
	{ echo "# the fleet"; echo; printf '%s\n' "$@"; } >"$f"
}

ENC_NODES=(web-01.example.com web-02.example.com web-03.example.com web-04.example.com
	db-01.example.com db-02.example.com lb-01.example.com mon-01.example.com)

@test "import enc: hosts and roles that render the script's documents" {
	E=$BATS_TEST_TMPDIR/enc
	mkdir "$E"
	git -C "$E" init -q -b main
	enc_nodes "$BATS_TEST_TMPDIR/nodes" "${ENC_NODES[@]}"
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E"
	assert_status 0
	assert_contains "$output" "imported 8 nodes from $ENC into 4 roles"
	assert_not_contains "$output" "sample-enc: looking up"
	# Shared by role: web's classes and the common params; web-01 keeps
	# its extra class and its override, web-03 its environment and motd.
	assert_eq "$(grep -v '^#' "$E/roles/web.yaml")" $'classes: [profile::base, profile::web]\nparams:\n  nginx_workers: 4\n  tls: true'
	assert_eq "$(grep -v '^#' "$E/hosts/web-01.example.com.yaml")" $'role: web\nstate: active\nclasses: [profile::debug]\nparams:\n  nginx_workers: 8'
	assert_eq "$(grep -v '^#' "$E/hosts/web-02.example.com.yaml")" $'role: web\nstate: active'
	assert_eq "$(grep -v '^#' "$E/hosts/web-03.example.com.yaml")" $'role: web\nstate: active\nenvironment: staging\nparams:\n  motd: "staging box: expect breakage"'
	assert_contains "$(cat "$E/roles/db.yaml")" 'port: "5432"'
	assert_contains "$(cat "$E/roles/monitoring.yaml")" "classes: [role::monitoring, profile::base]"
	# lb's backends are web's hosts: the role fronts web, so the list
	# follows the inventory (drains, new hosts) instead of being copied.
	assert_eq "$(grep -v '^#' "$E/roles/lb.yaml")" $'classes: [profile::base, profile::lb]\nbackends_of: web   # parameter `backends`: its active hosts\nparams:\n  maxconn: 2000'
	assert_eq "$(grep -v '^#' "$E/hosts/lb-01.example.com.yaml")" $'role: lb\nstate: active'
	R=$E
	commit_and_check
	run fb render --repo "$E" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	for n in "${ENC_NODES[@]}"; do
		"$ENC" "$n" >"$BATS_TEST_TMPDIR/want.yaml" 2>/dev/null
		role=$(sed -n 's/^role: //p' "$E/hosts/$n.yaml")
		ruby "$TOP/tests/e2e/import/enc_same.rb" "$BATS_TEST_TMPDIR/want.yaml" \
		    "$BATS_TEST_TMPDIR/out/enc/$n.yaml" "$role"
	done
	# The same import again gives the same files, byte for byte.
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E" --force
	assert_status 0
	assert_eq "$(git -C "$E" status --porcelain)" "" "a second import"
	# backends_of is live: a drained web host leaves lb-01's backends.
	commit_edit "$E" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02"
	run fb enc --repo "$E" lb-01.example.com
	assert_status 0
	assert_contains "$output" $'backends:\n    - web-01.example.com\n    - web-03.example.com\n    - web-04.example.com\n'
}

@test "import enc: a script failing for one node names it and writes nothing" {
	E=$BATS_TEST_TMPDIR/enc
	mkdir "$E"
	enc_nodes "$BATS_TEST_TMPDIR/nodes" web-01.example.com ghost.example.com db-01.example.com
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E"
	assert_status 1
	assert_contains "$output" "the ENC script failed for node ghost.example.com (exited with status 1): sample-enc: looking up ghost.example.com"
	assert_contains "$output" "sample-enc: no such node: ghost.example.com; nothing was written"
	assert_eq "$(find "$E" -mindepth 1 | wc -l)" "0" "files in the checkout"
	# A bad nodes file is named by line.
	printf 'web-01.example.com\nWeb 02\n' >"$BATS_TEST_TMPDIR/nodes"
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E"
	assert_status 1
	assert_contains "$output" "$BATS_TEST_TMPDIR/nodes:2: 'Web 02' is not a host name"
	# An existing host file is not replaced without --force.
	enc_nodes "$BATS_TEST_TMPDIR/nodes" web-01.example.com web-02.example.com
	mkdir "$E/hosts"
	echo "role: web" >"$E/hosts/web-02.example.com.yaml"
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E"
	assert_status 1
	assert_contains "$output" "$E/hosts/web-02.example.com.yaml exists"
	assert_eq "$(find "$E" -mindepth 1 | wc -l)" "2" "files in the checkout"
	run fb import enc --script "$ENC" --nodes "$BATS_TEST_TMPDIR/nodes" --repo "$E" --force
	assert_status 0
	assert_contains "$(cat "$E/hosts/web-02.example.com.yaml")" "imported by"
}

@test "import zone: a round-robin stays a zone record where a role cannot take dns:" {
	f=$BATS_TEST_TMPDIR/rr.zone
	zone_file 1 | head -4 >"$f"
	printf 'web-01 A 10.0.1.5\nweb-02 A 10.0.1.6\nwww A 10.0.1.6\nwww A 10.0.1.5\n' >>"$f"
	# A role file that is one flow mapping: a line appended would not parse.
	printf '{classes: [profile::base, profile::web], params: {nginx_workers: 4}, services: [app]}\n' \
	    >"$R/roles/web.yaml"
	commit_all "$R" "web in flow style"
	run fb import zone example.com --from-file "$f" --repo "$R"
	assert_status 0
	assert_contains "$output" "1 in dns/example.com.yaml, 2 host ips, 0 role dns names"
	assert_contains "$(cat "$R/dns/example.com.yaml")" '{name: www, type: A, values: ["10.0.1.5", "10.0.1.6"]}'
	assert_eq "$(git -C "$R" diff --stat -- roles | wc -l)" "0" "changes to roles/"
	commit_and_check
	rendered_zone example.com
	diff -u <(compiled example.com "$f") <(compiled example.com "$BATS_TEST_TMPDIR/rendered.zone")
}
