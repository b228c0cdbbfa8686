#!/usr/bin/env bats
# The rfc2136 apply provider against a real BIND (named from Debian's
# bind9, started once for the file, unprivileged, on a free loopback port;
# tests/e2e/dns/bind.bash).  Every test bootstraps a state from the example
# inventory with the one-shot apply, loads BIND's zones with what that
# release says (tests/e2e/dns/tf2zone.py), and starts the controller with
# an rfc2136 entry.  What reached the server is read back with dig and
# AXFR, never taken from firebreak's own word.  tests/e2e/dns/dnsproxy.py
# stands between firebreak and BIND where a test needs the network to
# misbehave (a transfer cut short, a change slipped in before an update).

load helpers
load dns/bind

setup_file() {
	require_firebreak
	require_jq
	template_repo
	# named -u nobody must reach its directory: not under bats's private
	# temporary directory when we are root.
	if [ "$(id -u)" -eq 0 ]; then
		BIND_HOME=$(mktemp -d /tmp/firebreak-bind.XXXXXX)
	else
		BIND_HOME=$BATS_FILE_TMPDIR/bind
	fi
	export BIND_HOME
	bind_start "$BIND_HOME" example.com example.net
}

teardown_file() {
	bind_stop
	[ "$(id -u)" -eq 0 ] && case $BIND_HOME in /tmp/firebreak-bind.*) rm -rf "$BIND_HOME" ;; esac
	return 0
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	PID= PROXY_PID= HOOK_PID=
	SERVER_PORT=$DNS_PORT
	SECRET=$BATS_TEST_TMPDIR/tsig.key
	cp "$BIND_DIR/fbkey.secret" "$SECRET"
	chmod 600 "$SECRET"
	new_repo "$R"
}

teardown() {
	stop_controller
	local p
	for p in ${PROXY_PID:-} ${HOOK_PID:-}; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# bootstrap: release 1 from the repository's head (the one-shot apply, no
# providers), and BIND's zones loaded with exactly what it says.
bootstrap() {
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	SERIAL=$((2026000000 + BATS_TEST_NUMBER * 1000))
	load_zone example.com "$S/current/terraform/route53/example.com.tf.json"
	load_zone example.net "$S/current/terraform/route53/example.net.tf.json"
}

load_zone() {
	python3 "$BATS_TEST_DIRNAME/dns/tf2zone.py" "$1" "$2" "$SERIAL" >"$BATS_TEST_TMPDIR/$1.zone"
	bind_load "$1" "$BATS_TEST_TMPDIR/$1.zone"
}

# write_config [EXTRA rfc2136 LINES]: console chat and one rfc2136 entry
# towards $SERVER_PORT (BIND or a proxy) with key $KEY_NAME (fbkey).
write_config() {
	cat >"$C" <<-EOF
	repo: $R
	branch: main
	state: $S
	chat:
	  - {type: console, path: $CHAT}
	apply:
	  - type: rfc2136
	    kinds: [dns]
	    server: "127.0.0.1:$SERVER_PORT"
	    tsig: {name: ${KEY_NAME:-fbkey}, algorithm: hmac-sha256, secret_file: $SECRET}
	    timeout: 60
	EOF
	local l
	for l in "$@"; do
		printf '    %s\n' "$l" >>"$C"
	done
}

# start_proxy MODE [ARGS]: dnsproxy.py in front of BIND; SERVER_PORT
# becomes its port, its log is $BATS_TEST_TMPDIR/proxy.log.
start_proxy() {
	python3 "$BATS_TEST_DIRNAME/dns/dnsproxy.py" "$BATS_TEST_TMPDIR/proxy.port" "$DNS_PORT" \
	    "$BATS_TEST_TMPDIR/proxy.log" "$@" 3>&- &
	PROXY_PID=$!
	for _ in $(seq 200); do
		[ -s "$BATS_TEST_TMPDIR/proxy.port" ] && break
		sleep 0.05
	done
	SERVER_PORT=$(cat "$BATS_TEST_TMPDIR/proxy.port")
	touch "$BATS_TEST_TMPDIR/proxy.log"
}

# wait_outcome ID: until plan ID has ended (60 s at most); prints its outcome.
wait_outcome() {
	local o=
	for _ in $(seq 1200); do
		o=$(jq -r .outcome "$S/plans/$1.json" 2>/dev/null)
		case $o in applied|failed) printf '%s\n' "$o"; return 0 ;; esac
		sleep 0.05
	done
	echo "plan $1 did not end (outcome: $o)" >&2
	cat "$CHAT" "$BATS_TEST_TMPDIR/run.log" >&2
	return 1
}

# wait_chat TEXT: until the console chat holds TEXT (fixed string; 10 s at
# most): outcomes are recorded before their announcement is delivered.
wait_chat() {
	for _ in $(seq 200); do
		grep -qF -- "$1" "$CHAT" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$1' in the chat:" >&2
	cat "$CHAT" "$BATS_TEST_TMPDIR/run.log" >&2 2>/dev/null
	return 1
}

# approve_plan ID [USER]: approve through the running controller.
approve_plan() {
	run fb approve --config "$C" --as "${2:-alice}" "$1"
	assert_status 0
	assert_contains "$output" "plan $1 applied"
}

# drain_web02: a commit that takes web-02 out of www's round-robin.
drain_web02() {
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: active/state: drained/' "drain web-02"
}

# The www round-robin as the example inventory has it.
WWW_BEFORE=$'10.0.1.5\n10.0.1.6'

@test "rfc2136: a dns change committed by hand is answered by BIND once its plan is applied" {
	bootstrap
	write_config
	start_controller
	long=$(printf 'v=%0300d' 0)
	append "$R" dns/example.com.yaml <<-EOF
	  - {name: api, type: A, values: [10.0.5.6, 10.0.5.5]}
	  - {name: long, type: TXT, value: "$long"}
	  - {name: tmpl, type: TXT, value: 'literal \${x} and %{y}'}
	EOF
	commit_all "$R" "api, long and tmpl records"
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	assert_eq "$(dns api.example.com)" "" "api before the approval"
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	assert_eq "$(dns api.example.com)" $'10.0.5.5\n10.0.5.6' "api in BIND"
	# The text itself, split into 255-byte strings; Terraform's escapes undone.
	assert_eq "$(dns long.example.com TXT)" "\"${long:0:255}\" \"${long:255}\"" "the long TXT"
	assert_eq "$(dns tmpl.example.com TXT)" '"literal ${x} and %{y}"' "the TXT with template marks"
	wait_for "$CHAT" "plan 2: apply rfc2136 done: example.com: 4 records changed (4 added, 0 removed) in 1 UPDATE message, serial $SERIAL -> $((SERIAL + 1))"
	# The rest of the zone is what the release says, record for record.
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	python3 "$BATS_TEST_DIRNAME/dns/tf2zone.py" example.com \
	    "$BATS_TEST_TMPDIR/out/terraform/route53/example.com.tf.json" 1 |
	    awk '$3 == "IN" && $4 != "SOA" {$3 = ""; print}' | LC_ALL=C sort -u >"$BATS_TEST_TMPDIR/want"
	# The helper's own records use "@"; compare what both spell out.
	zone_records example.com | grep -v '^@' >"$BATS_TEST_TMPDIR/have"
	grep -v '^@' "$BATS_TEST_TMPDIR/want" | diff - "$BATS_TEST_TMPDIR/have"
}

@test "rfc2136: a record the bot adds reaches BIND after a second person approves" {
	bootstrap
	write_config
	start_controller
	run fb chat --config "$C" --as alice "dns add api A 10.0.5.5 example.com"
	assert_status 0
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	run fb approve --config "$C" --as alice 2
	assert_status 1
	approve_plan 2 bob
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	assert_eq "$(dns api.example.com)" "10.0.5.5" "api in BIND"
	wait_for "$CHAT" "plan 2: apply rfc2136 done: example.com: 1 record changed (1 added, 0 removed)"
}

@test "rfc2136: a drain takes the host out of the round-robin in BIND, and undrain puts it back" {
	bootstrap
	write_config
	start_controller
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www before"
	run fb chat --config "$C" --as carol "drain web-02.example.com"
	assert_status 0
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www after the drain"
	assert_eq "$(dns web-02.example.com)" "10.0.1.6" "web-02's own name stays"
	wait_for "$CHAT" "plan 2: apply rfc2136 done: example.com: 1 record changed (0 added, 1 removed) in 1 UPDATE message, serial $SERIAL -> $((SERIAL + 1))"
	run fb chat --config "$C" --as carol "undrain web-02.example.com"
	assert_status 0
	wait_for "$CHAT" 'plan 3 for .* -> approve'
	approve_plan 3
	assert_eq "$(wait_outcome 3)" "applied" "plan 3"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www after the undrain"
}

@test "rfc2136: a zone changed behind firebreak's back is drift: nothing is sent, the plan fails, the drift is posted" {
	bootstrap
	write_config
	start_controller
	nsupd "update delete web-03.example.com A" "update add web-03.example.com 300 A 10.9.9.9" \
	    "update add stray.example.com 300 TXT hello"
	serial=$(bind_serial example.com)
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "plan 2: apply rfc2136 failed: example.com on 127.0.0.1:$DNS_PORT: the zone has drifted: 2 record sets differ from what the last applied release says (serial $serial); nothing was sent"
	wait_chat 'stray.example.com. TXT: live "hello" (ttl 300); expected (none)'
	wait_chat "web-03.example.com. A: live 10.9.9.9 (ttl 300); expected 10.0.1.7 (ttl 300)"
	# BIND as it was; the release is current all the same.
	assert_eq "$(bind_serial example.com)" "$serial" "the serial"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
	assert_eq "$(dns web-03.example.com)" "10.9.9.9" "web-03"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
}

@test "rfc2136: on the first apply every record the inventory does not know is drift; an empty zone is filled" {
	# No release before: the live zone is compared with nothing.
	SERIAL=$((2026000000 + BATS_TEST_NUMBER * 1000))
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	load_zone example.com "$BATS_TEST_TMPDIR/out/terraform/route53/example.com.tf.json"
	printf '$TTL 300\n@ IN SOA ns1.nameservers.test. h.example.net. %s 3600 600 86400 300\n@ IN NS ns1.nameservers.test.\n' \
	    "$SERIAL" >"$BATS_TEST_TMPDIR/empty.zone"
	bind_load example.net "$BATS_TEST_TMPDIR/empty.zone"
	write_config
	start_controller --bootstrap-apply
	assert_eq "$(wait_outcome 1)" "failed" "plan 1"
	wait_chat "example.com on 127.0.0.1:$DNS_PORT: the zone has drifted"
	wait_chat "www.example.com. A: live 10.0.1.5, 10.0.1.6 (ttl 300); expected (none)"
	wait_chat "nothing was sent to any zone (example.com, example.net)"
	assert_eq "$(dns status.example.net CNAME)" "" "example.net untouched"
	# Only example.net configured: its empty zone is filled.
	stop_controller
	rm -rf "$S"
	write_config "zones: [example.net]"
	start_controller --bootstrap-apply
	assert_eq "$(wait_outcome 1)" "applied" "plan 1"
	assert_eq "$(dns status.example.net CNAME)" "statuspage.example.org." "status.example.net"
}

@test "rfc2136: someone changing the zone between firebreak's transfer and its update makes the server refuse it: nothing applied, drift posted" {
	bootstrap
	printf 'server 127.0.0.1 %s\nzone example.com\nupdate add race.example.com 300 A 10.7.7.7\nsend\n' \
	    "$DNS_PORT" >"$BATS_TEST_TMPDIR/race.nsupdate"
	start_proxy race "$BIND_DIR/fbkey.conf" "$BATS_TEST_TMPDIR/race.nsupdate"
	write_config
	start_controller
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "example.com on 127.0.0.1:$SERVER_PORT: the server refused UPDATE 1 of 1: its SOA prerequisite failed (NXRRSET): someone changed the zone since firebreak read it; 0 messages had been applied"
	wait_chat "race.example.com. A: live 10.7.7.7 (ttl 300); expected (none)"
	assert_contains "$(slurp "$BATS_TEST_TMPDIR/proxy.log")" "raced an nsupdate first (exit 0)"
	assert_eq "$(grep -c 'opcode UPDATE' "$BATS_TEST_TMPDIR/proxy.log")" "1" "UPDATE messages sent"
	# The other change is in; firebreak's is not.
	assert_eq "$(dns race.example.com)" "10.7.7.7" "race"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
}

# key_failure NAME SECRET-FILE-CONTENT EXPECTED: with that key, a drain
# fails with EXPECTED in the thread, BIND and the release as they should be.
key_failure() {
	KEY_NAME=$1
	printf '%s\n' "$2" >"$SECRET"
	bootstrap
	write_config
	start_controller
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "plan 2: apply rfc2136 failed: example.com on 127.0.0.1:$DNS_PORT: $3"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
}

@test "rfc2136: a key the server knows but does not allow is REFUSED, named with zone and server" {
	key_failure otherkey "$(cat "$BIND_DIR/otherkey.secret")" \
	    "reading the zone by AXFR failed: the transfer was refused: REFUSED; nothing was sent"
}

@test "rfc2136: a key the server does not know is BADKEY" {
	key_failure nosuchkey "$(cat "$BIND_DIR/fbkey.secret")" \
	    'reading the zone by AXFR failed: NOTAUTH (TSIG error BADKEY): the server does not know key "nosuchkey" with algorithm hmac-sha256; nothing was sent'
}

@test "rfc2136: a wrong secret is BADSIG" {
	key_failure fbkey "$(cat "$BIND_DIR/otherkey.secret")" \
	    'reading the zone by AXFR failed: NOTAUTH (TSIG error BADSIG): the server'"'"'s secret for key "fbkey" is not the one in the secret file; nothing was sent'
}

@test "rfc2136: a secret file missing or empty at apply time fails the plan naming zone, server and file" {
	bootstrap
	write_config
	start_controller
	rm "$SECRET"
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "plan 2: apply rfc2136 could not start: example.com on 127.0.0.1:$DNS_PORT: tsig.secret_file: cannot read $SECRET: No such file or directory; nothing was sent"
	(umask 077 && : >"$SECRET")
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: drained/state: active/' "undrain web-02"
	wait_for "$CHAT" 'plan 3 for .* -> approve'
	approve_plan 3
	assert_eq "$(wait_outcome 3)" "failed" "plan 3"
	wait_chat "plan 3: apply rfc2136 could not start: example.com on 127.0.0.1:$DNS_PORT: tsig.secret_file: $SECRET is empty; nothing was sent"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
	assert_eq "$(cat "$S/applied")" "$(sha "$R")" "the applied commit"
}

@test "rfc2136: run -n refuses a secret file that is missing, empty, world-readable or not a key, and a bad entry" {
	bootstrap
	write_config
	run fb run --config "$C" -n
	assert_status 0
	chmod 644 "$SECRET"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "apply rfc2136: tsig.secret_file: $SECRET is readable by others (mode 0644): a secret file may be open to its owner and group only (chmod o-rwx)"
	chmod 600 "$SECRET"
	printf 'not base64!\n' >"$SECRET"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "tsig.secret_file: $SECRET: expected a base64 secret"
	# The block tsig-keygen writes is accepted; one for another key is not.
	cp "$BIND_DIR/fbkey.conf" "$SECRET"
	run fb run --config "$C" -n
	assert_status 0
	cp "$BIND_DIR/otherkey.conf" "$SECRET"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" 'the key block is for key "otherkey", not "fbkey."'
	: >"$SECRET"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "tsig.secret_file: $SECRET is empty"
	rm "$SECRET"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" "tsig.secret_file: cannot read $SECRET: No such file or directory"
	cp "$BIND_DIR/fbkey.secret" "$SECRET"
	write_config "ttl: 5"
	run --separate-stderr fb run --config "$C" -n
	assert_status 1
	assert_contains "$stderr" 'apply rfc2136: unknown key "ttl"'
}

@test "rfc2136: a transfer cut mid-way is an error, never an empty zone: no update is sent" {
	bootstrap
	start_proxy cut 200
	write_config
	start_controller
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "example.com on 127.0.0.1:$SERVER_PORT: reading the zone by AXFR failed: the server closed the connection after 200 bytes; nothing was sent"
	assert_eq "$(grep -c 'opcode UPDATE' "$BATS_TEST_TMPDIR/proxy.log")" "0" "UPDATE messages sent"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
}

# many_records N PREFIX FIRST-OCTET: N A records for dns/example.com.yaml.
many_records() {
	python3 -c '
import sys
n, pre, o = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print("  - {name: %s%05d, type: A, value: 10.%s.%d.%d}" % (pre, i, o, i // 250, i % 250 + 1))
' "$@"
}

@test "rfc2136: a transfer cut after whole messages says how far it got (no closing SOA)" {
	many_records 3000 big 200 | append "$R" dns/example.com.yaml
	commit_all "$R" "3,000 records"
	bootstrap
	start_proxy cut 40000
	write_config
	start_controller
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "example.com on 127.0.0.1:$SERVER_PORT: reading the zone by AXFR failed: the transfer was cut short after"
	wait_chat "no closing SOA"
	assert_eq "$(grep -c 'opcode UPDATE' "$BATS_TEST_TMPDIR/proxy.log")" "0" "UPDATE messages sent"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
}

@test "rfc2136: 5,000 records in one commit are applied in several messages, none refused for size" {
	bootstrap
	write_config
	start_controller
	many_records 5000 h 100 | append "$R" dns/example.com.yaml
	commit_all "$R" "5,000 records"
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	# The outcome is recorded before its chat message is delivered.
	wait_chat "apply rfc2136 done: example.com: 5000 records changed"
	line=$(grep -o 'apply rfc2136 done: example.com: 5000 records changed (5000 added, 0 removed) in [0-9]* UPDATE messages' "$CHAT")
	msgs=$(printf '%s\n' "$line" | awk '{print $(NF-2)}')
	[ "${msgs:-0}" -ge 2 ] || { echo "not split: $line"; cat "$CHAT"; false; }
	assert_eq "$(dns h00000.example.com)" "10.100.0.1" "the first"
	assert_eq "$(dns h04999.example.com)" "10.100.19.250" "the last"
	assert_eq "$(zone_records example.com | grep -c '^h[0-9]')" "5000" "records in the zone"
	assert_eq "$(bind_serial example.com)" "$((SERIAL + msgs))" "one serial bump per message"
}

@test "rfc2136: a round-robin larger than max_rrset fails the apply naming it, before anything is sent" {
	bootstrap
	write_config "max_rrset: 100"
	start_controller
	ips=$(python3 -c 'print(", ".join("10.9.0.%d" % i for i in range(1, 102)))')
	printf '  - {name: big, type: A, values: [%s]}\n  - {name: small, type: A, value: 10.9.1.1}\n' "$ips" |
	    append "$R" dns/example.com.yaml
	commit_all "$R" "a big round-robin"
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "example.com on 127.0.0.1:$DNS_PORT: big.example.com. A would hold 101 records, more than max_rrset (100)"
	assert_eq "$(dns small.example.com)" "" "small (nothing sent)"
}

@test "rfc2136: a TTL change and an A record replaced by a CNAME apply in one message, deletes first" {
	# BIND refuses an MX whose target in the zone has no address.
	printf '  - {name: mx1, type: A, value: 10.0.3.1}\n  - {name: mx2, type: A, value: 10.0.3.2}\n' |
	    append "$R" dns/example.com.yaml
	commit_all "$R" "addresses for the MX targets"
	bootstrap
	write_config
	start_controller
	edit "$R" dns/example.com.yaml -e 's/^ttl: 300/ttl: 600/' \
	    -e 's/{name: mail, type: A, value: 10.0.3.25, ttl: 3600}/{name: mail, type: CNAME, value: web-01.example.com.}/'
	commit_all "$R" "ttl 600, mail is a CNAME"
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "applied" "plan 2" || { cat "$CHAT"; false; }
	assert_eq "$(dns mail.example.com CNAME)" "web-01.example.com." "mail"
	assert_eq "$(dns mail.example.com A)" $'10.0.1.5\nweb-01.example.com.' "mail's A follows the CNAME"
	run dig @127.0.0.1 -p "$DNS_PORT" +noall +answer www.example.com A
	assert_contains "$output" "www.example.com.	600	IN	A	10.0.1.5"
	wait_for "$CHAT" "plan 2: apply rfc2136 done: example.com: .* in 1 UPDATE message, serial $SERIAL -> $((SERIAL + 1))"
}

@test "rfc2136: check warns about a record set BIND would refuse (more than 100 records), and still passes" {
	ips=$(python3 -c 'print(", ".join("10.9.0.%d" % i for i in range(1, 102)))')
	printf '  - {name: big, type: A, values: [%s]}\n' "$ips" | append "$R" dns/example.com.yaml
	python3 -c '
for i in range(101):
    print("ip: 10.8.%d.%d\nrole: web\nstate: active" % (i // 200, i % 200 + 1), file=open("'"$R"'/hosts/w%03d.example.com.yaml" % i, "w"))
'
	commit_all "$R" "big record sets"
	run --separate-stderr fb check --repo "$R"
	assert_status 0
	assert_contains "$stderr" "warning: big.example.com A would hold 101 records: BIND refuses more than 100 in one record set (max-records-per-type), and the rfc2136 provider's max_rrset (default 100) fails the apply"
	# www: web-01 and web-02 (active) and the 101 new ones.
	assert_contains "$stderr" "warning: www.example.com A would hold 103 records"
	assert_contains "$output" "ok: "
}

@test "rfc2136: firebreak drift compares the zones with the current release and changes nothing" {
	bootstrap
	write_config
	run fb drift --config "$C"
	assert_status 0
	assert_contains "$output" "apply[0] rfc2136: no drift"
	n=$(zone_records example.com | wc -l)
	assert_contains "$output" "example.com: as the release says ($n records, serial $SERIAL)"
	n=$(zone_records example.net | wc -l)
	assert_contains "$output" "example.net: as the release says ($n records, serial $SERIAL)"
	nsupd "update add stray.example.com 300 A 10.6.6.6"
	run fb drift --config "$C"
	assert_status 1
	assert_contains "$output" "apply[0] rfc2136: drift"
	assert_contains "$output" "example.com on 127.0.0.1:$DNS_PORT: the zone has drifted: 1 record set differs from what the current release says (serial $((SERIAL + 1)))"
	assert_contains "$output" "stray.example.com. A: live 10.6.6.6 (ttl 300); expected (none)"
	assert_eq "$(dns stray.example.com)" "10.6.6.6" "BIND untouched"
	# An unreadable zone is exit 3, not "no drift".
	KEY_NAME=nosuchkey write_config
	run fb drift --config "$C"
	assert_status 3
	assert_contains "$output" "could not read the world"
}

# Crash recovery (DESIGN.md "State directory"; tests/e2e/crash.bats has
# the rest): the test build's controller kills itself once the provider's
# run ended and before the controller recorded it.  The UPDATEs reached
# BIND; the restart runs the provider again, which must take the zone at
# the target for the apply's progress, not for drift, and send nothing.
@test "rfc2136: a kill after the UPDATEs were sent, before the controller recorded it: the restart finishes the plan and sends nothing again" {
	HOOKS=${BUILD:-$TOP/build}/tests/hooks/firebreak
	[ -x "$HOOKS" ] || skip "$HOOKS is missing (make tools)"
	bootstrap
	write_config
	hook_chat
	drain_web02
	FIREBREAK_CRASH_AT=provider-ended "$HOOKS" run --config "$C" 2>"$BATS_TEST_TMPDIR/crash.log" 3>&- &
	PID=$!
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	run fb approve --config "$C" --as alice 2
	for _ in $(seq 400); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	wait "$PID" || true
	PID=
	grep -q "crash point provider-ended" "$BATS_TEST_TMPDIR/crash.log"
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" applying "plan 2 after the kill"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www after the kill (the UPDATE reached BIND)"
	serial=$(dig +short -p "$DNS_PORT" @127.0.0.1 example.com SOA | awk '{print $3}')
	start_controller
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_chat "plan 2: apply rfc2136 done: example.com: no change (serial $serial)"
	wait_chat "approved by alice: applied (finished after a restart)"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www in BIND"
	assert_eq "$(dig +short -p "$DNS_PORT" @127.0.0.1 example.com SOA | awk '{print $3}')" "$serial" \
	    "the serial (nothing sent again)"
	assert_eq "$(grep -c 'apply rfc2136 failed' "$CHAT")" 0 "failures said"
	for _ in $(seq 200); do [ "$(heard '^plan 2 for .*applied (finished after a restart)$')" = 1 ] && break; sleep 0.05; done
	assert_eq "$(heard '^plan 2 for ')/$(heard '^plan 2 for .*applied (finished after a restart)$')/$(heard '^plan 2: apply rfc2136 ')" \
	    "2/1/1" "plan 2's posts, its outcome's and the provider's report at the webhook"
}

# The same at the other instants, each announcement counted at a webhook
# receiver that deduplicates nothing (tests/tools/slackstub; the console
# would hide a message sent twice), and what reached BIND counted by its
# serial: one UPDATE message, so the serial moves on by exactly one.

# hook_chat: a webhook chat entry beside the console one ($HOOK_LOG).
hook_chat() {
	local tools=${BUILD:-$TOP/build}/tests/tools
	HOOK_LOG=$BATS_TEST_TMPDIR/hook.log
	"$tools/slackstub" -P "$BATS_TEST_TMPDIR/hook.port" -o "$HOOK_LOG" >/dev/null 2>&1 3>&- &
	HOOK_PID=$!
	for _ in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/hook.port" ] && break
		sleep 0.05
	done
	sed -i "s|^  - {type: console, path: $CHAT}|&\n  - {type: webhook, url: \"http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/hook.port")/hooks/ops\"}|" "$C"
	grep -q 'type: webhook' "$C"
}

# heard PATTERN: how many webhook posts begin with a line matching PATTERN.
heard() {
	jq -r '.body | fromjson | .text | split("\n")[0]' "$HOOK_LOG" | grep -c -- "$1" || true
}

soa_serial() {
	dig +short -p "$DNS_PORT" @127.0.0.1 example.com SOA | awk '{print $3}'
}

# crash_approved POINT: the test build, told to kill itself at POINT, runs
# until plan 2 is posted, alice approves it, and it dies there.
crash_approved() {
	local hooks=${BUILD:-$TOP/build}/tests/hooks/firebreak
	[ -x "$hooks" ] || { echo "$hooks is missing (make tools)" >&2; return 1; }
	FIREBREAK_CRASH_AT=$1 "$hooks" run --config "$C" 2>"$BATS_TEST_TMPDIR/crash.log" 3>&- &
	PID=$!
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	run fb approve --config "$C" --as alice 2
	for _ in $(seq 400); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	local rc=0
	wait "$PID" || rc=$?
	PID=
	assert_eq "$rc" 137 "the exit status of a controller killed at $1"
	grep -q "crash point $1: killing this process" "$BATS_TEST_TMPDIR/crash.log"
}

@test "rfc2136: a kill after the release switch, before the provider ran: the restart sends the UPDATE once and announces the plan once" {
	bootstrap
	write_config
	hook_chat
	drain_web02
	serial=$(soa_serial)
	crash_approved after-switch
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" applying "plan 2 after the kill"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www after the kill (nothing sent)"
	assert_eq "$(soa_serial)" "$serial" "the serial after the kill"
	start_controller
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_chat "approved by alice: applied (finished after a restart)"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www in BIND"
	assert_eq "$(soa_serial)" "$((serial + 1))" "the serial (one UPDATE)"
	for _ in $(seq 200); do [ "$(heard '^plan 2 for .*applied (finished after a restart)$')" = 1 ] && break; sleep 0.05; done
	assert_eq "$(heard '^plan 2 for ')/$(heard '^plan 2 for .*applied (finished after a restart)$')/$(heard '^plan 2: apply rfc2136 ')" \
	    "2/1/1" "plan 2's posts, its outcome's and the provider's report at the webhook"
}

@test "rfc2136: a kill while the provider runs: the run left is stopped or has finished, the restart converges, nothing is sent twice, the plan is announced once" {
	bootstrap
	write_config
	hook_chat
	drain_web02
	serial=$(soa_serial)
	crash_approved during-provider
	assert_eq "$(jq -r '.providers[0].state' "$S/plans/2.json")" running "the record after the kill"
	start_controller
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_chat "approved by alice: applied (finished after a restart)"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www in BIND"
	# Whether the run the dead controller left sent it before it was
	# stopped or the restart did: one UPDATE.
	assert_eq "$(soa_serial)" "$((serial + 1))" "the serial (one UPDATE)"
	assert_eq "$(grep -c 'apply rfc2136 failed' "$CHAT")" 0 "failures said"
	for _ in $(seq 200); do [ "$(heard '^plan 2 for .*applied (finished after a restart)$')" = 1 ] && break; sleep 0.05; done
	assert_eq "$(heard '^plan 2 for ')/$(heard '^plan 2 for .*applied (finished after a restart)$')/$(heard '^plan 2: apply rfc2136 ')" \
	    "2/1/1" "plan 2's posts, its outcome's and the provider's report at the webhook"
}

@test "rfc2136: drift_seconds reads the zones on a timer and posts a drift once per distinct difference; drift and /metrics show it; reconcile dns overwrites it" {
	bootstrap
	write_config
	port=$(free_port)
	printf 'drift_seconds: 1\nlisten: 127.0.0.1:%s\n' "$port" >>"$C"
	start_controller
	nsupd "update add stray.example.com 300 A 10.6.6.6"
	wait_chat "drift: apply[0] rfc2136: 1 record set differs from the current release $(short "$R"); \`reconcile dns\` applies the release again"
	# Read again, the same difference: said once.
	n=$(grep -c 'drift: apply\[0\] rfc2136: drift' "$BATS_TEST_TMPDIR/run.log")
	for _ in $(seq 200); do
		[ "$(grep -c 'drift: apply\[0\] rfc2136: drift (as before)' "$BATS_TEST_TMPDIR/run.log")" -ge 2 ] && break
		sleep 0.05
	done
	grep -q 'drift: apply\[0\] rfc2136: drift (as before)' "$BATS_TEST_TMPDIR/run.log"
	assert_eq "$(grep -c 'drift: apply\[0\] rfc2136: ' "$CHAT")" "1" "drift posts"
	run fb chat --config "$C" --as carol drift
	assert_status 0
	assert_contains "$output" "apply[0] rfc2136: drift, 1 record set differs (read "
	assert_contains "$output" "stray.example.com. A: live 10.6.6.6 (ttl 300); expected (none)"
	run curl -sf "http://127.0.0.1:$port/metrics"
	assert_contains "$output" $'\nfirebreak_drift_records 1\n'
	# Another difference is posted again.
	nsupd "update add stray2.example.com 300 TXT hello"
	wait_chat "drift: apply[0] rfc2136: 2 record sets differ from the current release"
	# reconcile: only an approver of dns; it overwrites what differs.
	run fb reconcile --config "$C" --as carol dns
	assert_status 1
	assert_contains "$output" "carol may not reconcile it: it needs an approver of dns (approvers in policy.yaml)"
	run fb chat --config "$C" --as bob "reconcile dns"
	assert_status 0
	assert_contains "$output" "reconciling dns as plan 2: the current release $(short "$R") is applied again"
	assert_eq "$(wait_outcome 2)" "applied" "plan 2"
	wait_chat "plan 2 for $(short "$R"): reconcile dns by bob: apply[0] rfc2136 -> auto-applied"
	wait_chat "plan 2: apply rfc2136 done: example.com: reconcile: 2 record sets differ from the release"
	assert_eq "$(dns stray.example.com)" "" "stray"
	assert_eq "$(dns stray2.example.com TXT)" "" "stray2"
	assert_eq "$(dns www.example.com)" "$WWW_BEFORE" "www"
	wait_chat "drift resolved: apply[0] rfc2136: the world is what the current release $(short "$R") says"
	run curl -sf "http://127.0.0.1:$port/metrics"
	assert_contains "$output" $'\nfirebreak_drift_records 0\n'
}

@test "rfc2136: retry runs a failed plan's provider again once the cause is gone; only an approver may, only a failed plan of the current release" {
	bootstrap
	write_config
	port=$(free_port)
	printf 'listen: 127.0.0.1:%s\n' "$port" >>"$C"
	start_controller
	mv "$SECRET" "$SECRET.away"
	drain_web02
	wait_for "$CHAT" 'plan 2 for .* -> approve'
	approve_plan 2
	assert_eq "$(wait_outcome 2)" "failed" "plan 2"
	wait_chat "plan 2: apply rfc2136 could not start"
	assert_eq "$(jq -c .apply_unfinished "$S/plans/2.json")" "[0]" "what a retry runs"
	run curl -sf "http://127.0.0.1:$port/metrics"
	assert_contains "$output" 'firebreak_apply_provider_failures_total{entry="0",provider="rfc2136"} 1'
	mv "$SECRET.away" "$SECRET"
	run fb retry --config "$C" --as carol 2
	assert_status 1
	assert_contains "$output" "carol may not retry it: it needs an approver of dns (approvers in policy.yaml)"
	run fb chat --config "$C" --as alice "retry 1"
	assert_status 1
	assert_contains "$output" "plan 1 is applied, not failed: nothing to retry"
	run fb chat --config "$C" --as bob "retry 2"
	assert_status 0
	assert_eq "$output" "plan 2: retrying its failed apply providers as plan 3"
	assert_eq "$(wait_outcome 3)" "applied" "plan 3"
	wait_chat "plan 3 for $(short "$R") \"drain web-02\" by Alice Example: retry of plan 2: apply[0] rfc2136 -> auto-applied"
	wait_chat "plan 3: apply rfc2136 done: example.com: 1 record changed (0 added, 1 removed)"
	assert_eq "$(dns www.example.com)" "10.0.1.5" "www after the retry"
	# A newer release: plan 2's is not current any more.
	commit_edit "$R" hosts/web-02.example.com.yaml 's/^state: drained/state: active/' "undrain web-02"
	wait_for "$CHAT" 'plan 4 for .* -> approve'
	approve_plan 4
	assert_eq "$(wait_outcome 4)" "applied" "plan 4"
	run fb retry --config "$C" --as bob 2
	assert_status 1
	assert_contains "$output" "plan 2's release $(short "$R" HEAD~1) is no longer current ($(short "$R") is); nothing to retry"
	run fb retry --config "$C" --as bob 99
	assert_status 1
	assert_contains "$output" "there is no plan 99"
}
