#!/usr/bin/env bats
# IRC identities against a real network whose services vouch for accounts:
# InspIRCd 3 (account-tag, extended-join, account-notify, SASL) with
# Atheme's NickServ and SaslServ linked to it over the server protocol,
# both started once for this file, unprivileged, on loopback ports, with
# every file under $BATS_FILE_TMPDIR.  People are tests/tools/ircwatch,
# logging in by SASL (-L) or through NickServ (-N).
#
# DESIGN "An IRC nick is not an identity": the bot maps a command to the
# services account the server vouches for (irc-account:NAME; the example
# policy maps irc-account:carol to carol); a bare nick may only read.
#
# A second server, irc2.test, linked to the first, has no account-tag: a
# bot there learns accounts from extended-join and account-notify.

load helpers

: "${BUILD:=$TOP/build}"
TOOLS=$BUILD/tests/tools

CAROL_PW=carol-s3cret-pw
MALLORY_PW=mallory-s3cret-pw

setup_file() {
	require_firebreak
	require_jq
	if ! command -v inspircd >/dev/null 2>&1 || ! command -v atheme-services >/dev/null 2>&1; then
		skip "inspircd or atheme-services is not installed (Debian packages; make deps installs them)"
	fi
	[ -x "$TOOLS/ircwatch" ] || { echo "$TOOLS/ircwatch is missing (make tools)" >&2; return 1; }
	template_repo
	N=$BATS_FILE_TMPDIR/net
	mkdir -p "$N"
	start_network
	export N IRC_PORT IRC2_PORT IRCD_PID IRCD2_PID ATHEME_PID
}

teardown_file() {
	local p
	for p in "${ATHEME_PID:-}" "${IRCD2_PID:-}" "${IRCD_PID:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	# Wait by polling (a few seconds at most), whether or not they are
	# this shell's children.
	for p in "${ATHEME_PID:-}" "${IRCD2_PID:-}" "${IRCD_PID:-}"; do
		[ -n "$p" ] || continue
		for _ in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
	done
}

setup() {
	D=$BATS_TEST_TMPDIR
	B=$D/inventory.git
	S=$D/state
	C=$D/firebreak.yaml
	CHAT=$D/chat.log
	PID=
	git clone -q --bare "$TEMPLATE" "$B"
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	write_config "$IRC_PORT"
}

teardown() {
	stop_controller
}

# ---- the network -----------------------------------------------------------

# inspircd_conf NAME SID CLIENT-PORT [EXTRA-MODULE...]: the start of a
# server's config on stdout.  Both servers load the same modules but the
# extra ones (linked servers must agree on most modules; account-tag's is
# the client's business only).
inspircd_conf() {
	local name=$1 sid=$2 port=$3 m
	shift 3
	cat <<EOF
<server name="$name" description="firebreak test" network="testnet" id="$sid">
<admin name="test" nick="test" email="test@$name">
<path configdir="$N" datadir="$N" logdir="$N" moduledir="/usr/lib/inspircd/modules">
<pid file="$N/$name.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$N/$name.log"
     flush="1">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="main" allow="*" timeout="20" pingfreq="2m" hardsendq="1M" softsendq="10240"
         recvq="10K" threshold="100" commandrate="100000" fakelag="no" localmax="100"
         globalmax="100" resolvehostnames="no" useident="no" limit="1000">
<module name="spanningtree">
<module name="services_account">
<module name="sasl">
<module name="cap">
<module name="ircv3">
<module name="ircv3_capnotify">
<ircv3 accountnotify="yes" awaynotify="no" extendedjoin="yes">
<sasl target="services.test">
<uline server="services.test" silent="yes">
EOF
	for m in "$@"; do
		printf '<module name="%s">\n' "$m"
	done
}

# run_inspircd NAME: start the server configured in $N/NAME.conf; its pid
# in LAST_PID.  Debian's AppArmor profile for /usr/sbin/inspircd confines it
# to /etc/inspircd, so the test runs a private copy of the binary, which
# is confined by nothing but its own uid.  InspIRCd refuses root unless
# told (CI containers run tests as root).
run_inspircd() {
	local asroot=
	[ "$(id -u)" -eq 0 ] && asroot=--runasroot
	"$N/inspircd" --config "$N/$1.conf" --nofork $asroot >"$N/$1.out" 2>&1 3>&- &
	LAST_PID=$!
}

# wait_port PORT WHAT: until something listens on the loopback PORT (10 s).
wait_port() {
	for _ in $(seq 200); do
		(exec 4<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$2 does not listen on $1:" >&2
	cat "$N"/*.out >&2
	return 1
}

# start_network: irc.test (clients on IRC_PORT, servers on LINK_PORT),
# Atheme linked to it as services.test, and irc2.test (clients on
# IRC2_PORT, without account-tag) linked to irc.test; registers the
# accounts carol and mallory.  Returns once the whole network is linked.
start_network() {
	local link
	IRC_PORT=$(free_port)
	IRC2_PORT=$(free_port)
	link=$(free_port)
	cp /usr/sbin/inspircd "$N/inspircd"
	{
		inspircd_conf irc.test 00A "$IRC_PORT" ircv3_accounttag
		cat <<EOF
<bind address="127.0.0.1" port="$link" type="servers">
<link name="services.test" ipaddr="127.0.0.1" port="$link" allowmask="127.0.0.0/8"
      sendpass="services-link-pw" recvpass="services-link-pw">
<link name="irc2.test" ipaddr="127.0.0.1" port="$link" allowmask="127.0.0.0/8"
      sendpass="irc2-link-pw" recvpass="irc2-link-pw">
EOF
	} >"$N/irc.test.conf"
	{
		inspircd_conf irc2.test 00C "$IRC2_PORT"
		cat <<EOF
<link name="irc.test" ipaddr="127.0.0.1" port="$link" allowmask="127.0.0.0/8"
      sendpass="irc2-link-pw" recvpass="irc2-link-pw">
<autoconnect period="1s" server="irc.test">
EOF
	} >"$N/irc2.test.conf"
	run_inspircd irc.test
	IRCD_PID=$LAST_PID
	wait_port "$IRC_PORT" irc.test
	# Atheme: NickServ (REGISTER needs no e-mail verification: auth =
	# none) and SaslServ (PLAIN).  -n keeps it in the foreground (it then
	# says it runs "in debug mode" to whoever connects; harmless).
	cat >"$N/atheme.conf" <<EOF
loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/identify";
loadmodule "modules/nickserv/register";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";

serverinfo {
	name = "services.test";
	desc = "firebreak test services";
	numeric = "00B";
	recontime = 1;
	netname = "testnet";
	hidehostsuffix = "users.test";
	adminname = "test";
	adminemail = "admin@services.test";
	registeremail = "noreply@services.test";
	loglevel = { error; info; admin; network; };
	maxlogins = 5;
	maxusers = 5;
	mdlimit = 30;
	emaillimit = 10;
	emailtime = 300;
	auth = none;
	casemapping = rfc1459;
};

uplink "irc.test" {
	host = "127.0.0.1";
	port = $link;
	send_password = "services-link-pw";
	receive_password = "services-link-pw";
};

nickserv {
	nick = "NickServ";
	user = "NickServ";
	host = "services.test";
	real = "Nickname Services";
	maxnicks = 5;
	expire = 30;
};

saslserv {
	nick = "SaslServ";
	user = "SaslServ";
	host = "services.test";
	real = "SASL Authentication Agent";
};

logfile "$N/atheme.log" { error; info; admin; network; register; };

general {
	flood_msgs = 0;
	flood_time = 10;
	ratelimit_uses = 100;
	ratelimit_period = 60;
	kline_time = 7;
	commit_interval = 5;
	language = "en";
};
EOF
	mkdir -p "$N/atheme"
	atheme-services -n -c "$N/atheme.conf" -l "$N/atheme.log" -p "$N/atheme.pid" \
	    -D "$N/atheme" >"$N/atheme.out" 2>&1 3>&- &
	ATHEME_PID=$!
	run_inspircd irc2.test
	IRCD2_PID=$LAST_PID
	wait_port "$IRC2_PORT" irc2.test
	wait_log "$N/atheme.out" "finished synching with uplink" || return 1
	# The accounts, registered as a person would, both at once: NickServ
	# REGISTER logs the new account in (900), which ircwatch -N waits for.
	local carol mallory
	register carol "$CAROL_PW" &
	carol=$!
	register mallory "$MALLORY_PW" &
	mallory=$!
	wait "$carol" || { cat "$N/register-carol.log" >&2; return 1; }
	wait "$mallory" || { cat "$N/register-mallory.log" >&2; return 1; }
	# irc2.test links on its own (autoconnect); the services see it once
	# it did.
	wait_log "$N/atheme.out" "end of burst from irc2.test" || return 1
}

# wait_log FILE PATTERN: until grep finds PATTERN in FILE (20 s); shows the
# servers' logs if not.
wait_log() {
	for _ in $(seq 400); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$2' in $1" >&2
	tail -n 20 "$N"/*.log "$N"/*.out >&2
	return 1
}

# register ACCOUNT PASSWORD: NickServ REGISTER as the nick ACCOUNT.
register() {
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n "$1" -o "$N/register-$1.log" \
	    -N "REGISTER $2 $1@example.com" -t 20 3>&-
}

# ---- the bot and the people -------------------------------------------------

# write_config PORT [EXTRA-IRC-KEYS]
write_config() {
	cat >"$C" <<EOF
repo: $B
branch: main
state: $S
bot: {name: firebreak, email: firebreak@bot.example}
chat:
  - {type: console, path: $CHAT}
  - {type: irc, server: "127.0.0.1:$1", nick: firebreak, channel: "#ops"${2:+, $2}}
EOF
}

# say NICK LOGIN "LINE" N [PREFIX [PORT]]: NICK, logged in as LOGIN, says
# LINE in #ops once the bot is there, and waits for N notices after it
# (starting with PREFIX); the log is $D/NICK.log.  LOGIN: "-L ACCOUNT:PW"
# (SASL), "-N TEXT" (to NickServ before joining), "-J TEXT" (to NickServ
# once in #ops with the bot), or "" (none).
say() {
	local login=()
	case "$2" in
	-L*) login=(-L "${2#-L }") ;;
	-N*) login=(-N "${2#-N }") ;;
	-J*) login=(-J -N "${2#-J }") ;;
	esac
	"$TOOLS/ircwatch" -s "127.0.0.1:${6:-$IRC_PORT}" -n "$1" -c '#ops' -o "$D/$1.log" \
	    "${login[@]}" -j firebreak -m "$3" -w "$4" ${5:+-a "$5"} -t 20 3>&-
}

# The answers to NICK, without the "NICK: " prefix.
answers() {
	notices "$1" | sed -n "s/^$1: //p"
}

# The notices NICK saw in #ops, their text only.
notices() {
	grep -a ' NOTICE #ops :' "$D/$1.log" | sed 's/^.* NOTICE #ops ://' | tr -d '\r'
}

# The controller's log lines for inbound chat commands.
chat_log() {
	grep -a ' via irc #ops: ' "$D/run.log" | sed 's/^.*chat: /chat: /'
}

REFUSED_NICK="is not an identity the chat server vouches for (anyone can take a nick), so you may only run help, plan, status and history; log in to your services account and map its identity in policy.yaml"

# ---- the tests --------------------------------------------------------------

@test "irc accounts: carol, logged in to her account by SASL, drains a host: a bot commit requested by carol, announced in #ops" {
	start_controller
	wait_for "$D/run.log" "joined #ops as firebreak (account-tag)"
	run say carol "-L carol:$CAROL_PW" "firebreak: drain web-02" 1
	assert_status 0
	local s
	s=$(short "$B")
	assert_eq "$(git -C "$B" log -1 --format='%an|%s')" "firebreak|drain web-02.example.com"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-via,valueonly)')" "irc #ops"
	assert_eq "$(notices carol | head -1)" "carol (irc #ops): committed $s: drain web-02.example.com"
	assert_eq "$(chat_log)" "chat: irc-account:carol via irc #ops: drain web-02"
	wait_for "$CHAT" "plan 2 for $s \"drain web-02.example.com\" by carol: "
}

@test "irc accounts: whoever takes the nick carol without logging in may only read" {
	start_controller
	local before
	before=$(sha "$B")
	run say carol "" "firebreak: drain web-02" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "irc:carol $REFUSED_NICK"
	run say carol "" "firebreak: status" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "applied: $before"
	assert_eq "$(sha "$B")" "$before" "the branch"
	assert_eq "$(chat_log)" "chat: irc:carol (unverified) via irc #ops: drain web-02
chat: irc:carol (unverified) via irc #ops: status"
}

@test "irc accounts: the nick carol logged in to the account mallory is mallory, who is not mapped" {
	start_controller
	local before
	before=$(sha "$B")
	run say carol "-L mallory:$MALLORY_PW" "firebreak: drain web-02" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "you are not mapped to a firebreak user (identities in policy.yaml: \"irc-account:mallory\"), so you may only run help, plan, status and history"
	assert_eq "$(sha "$B")" "$before" "the branch"
	assert_eq "$(chat_log)" "chat: irc-account:mallory via irc #ops: drain web-02"
}

@test "irc accounts: the account decides, not the nick: carol as cz deploys, and the pin is applied" {
	start_controller
	run say cz "-L carol:$CAROL_PW" "firebreak: deploy app 1.4.3" 1
	assert_status 0
	local s
	s=$(short "$B")
	assert_eq "$(git -C "$B" log -1 --format='%an|%s')" "firebreak|deploy app 1.4.3 (production)"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(notices cz | head -1)" "carol (irc #ops): committed $s: deploy app 1.4.3 (production)"
	assert_eq "$(chat_log)" "chat: irc-account:carol via irc #ops: deploy app 1.4.3"
	wait_for "$CHAT" "plan 2 for $s \"deploy app 1.4.3 (production)\" by carol: 1 pin.modify -> auto-applied"
}

@test "irc accounts: logging in with NickServ IDENTIFY after connecting counts as well" {
	start_controller
	run say carol "-N IDENTIFY carol $CAROL_PW" "firebreak: drain web-02" 1
	assert_status 0
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(notices carol | head -1)" "carol (irc #ops): committed $(short "$B"): drain web-02.example.com"
	assert_eq "$(chat_log)" "chat: irc-account:carol via irc #ops: drain web-02"
}

@test "irc accounts: on a server without account-tag, extended-join and account-notify vouch for the account" {
	write_config "$IRC2_PORT"
	start_controller
	wait_for "$D/run.log" "joined #ops as firebreak (extended-join, account-notify)"
	local before
	before=$(sha "$B")
	run say carol "" "firebreak: drain web-02" 1 "carol: " "$IRC2_PORT"
	assert_status 0
	assert_eq "$(answers carol | head -1)" "irc:carol $REFUSED_NICK"
	assert_eq "$(sha "$B")" "$before" "the branch"
	run say cz "-L carol:$CAROL_PW" "firebreak: drain web-02" 1 "" "$IRC2_PORT"
	assert_status 0
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(notices cz | head -1)" "carol (irc #ops): committed $(short "$B"): drain web-02.example.com"
	assert_eq "$(chat_log)" "chat: irc:carol (unverified) via irc #ops: drain web-02
chat: irc-account:carol via irc #ops: drain web-02"
}

@test "irc accounts: without account-tag, account-notify tells the bot of a login in the channel" {
	write_config "$IRC2_PORT"
	start_controller
	# The bot must be in #ops before carol logs in, or it hears no ACCOUNT.
	wait_for "$D/run.log" "joined #ops as firebreak (extended-join, account-notify)"
	# carol joins #ops as a bare nick, with the bot there, then identifies:
	# the bot hears of the login (ACCOUNT) and takes her next line as hers.
	run say carol "-J IDENTIFY carol $CAROL_PW" "firebreak: drain web-02" 1 "" "$IRC2_PORT"
	assert_status 0
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(notices carol | head -1)" "carol (irc #ops): committed $(short "$B"): drain web-02.example.com"
	assert_eq "$(chat_log)" "chat: irc-account:carol via irc #ops: drain web-02"
	# The login came after the join: carol's log holds the server's echo
	# of her JOIN before its 900 ("You are now logged in as carol").
	local joined login
	joined=$(grep -a -n -m1 '^:carol![^ ]* JOIN ' "$D/carol.log" | cut -d: -f1)
	login=$(grep -a -n -m1 '^:[^ ]* 900 carol ' "$D/carol.log" | cut -d: -f1)
	[ -n "$joined" ] && [ -n "$login" ] && [ "$joined" -lt "$login" ]
}
