#!/usr/bin/env bats
# The chat bot over real IRC: a private ngircd, the controller in #ops as
# "firebreak", and people (tests/tools/ircwatch) addressing it there.
#
# ngircd has no services accounts, so every sender is a bare nick: the
# bot lets a nick run read-only commands only, unless the irc entry says
# trust_nicks: true (which these tests set where they need a nick to act;
# the example policy maps irc-account:carol, and setup adds the old-style
# "irc:carol" mapping a team might have written before).

load helpers

: "${BUILD:=$TOP/build}"
TOOLS=$BUILD/tests/tools

setup_file() {
	require_firebreak
	require_jq
	command -v ngircd >/dev/null 2>&1 || skip "ngircd is not installed"
	[ -x "$TOOLS/ircwatch" ] || { echo "$TOOLS/ircwatch is missing (make tools)" >&2; return 1; }
	template_repo
}

setup() {
	D=$BATS_TEST_TMPDIR
	B=$D/inventory.git
	S=$D/state
	C=$D/firebreak.yaml
	CHAT=$D/chat.log
	PID= NGIRCD_PID=
	git clone -q --bare "$TEMPLATE" "$B"
	git clone -q "$B" "$D/human"
	sed -i 's/"irc-account:carol": carol}/"irc-account:carol": carol, "irc:carol": carol}/' \
	    "$D/human/policy.yaml"
	git -C "$D/human" -c user.name=H -c user.email=h@x commit -qam "map the nick carol"
	git -C "$D/human" push -q origin main
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	start_ngircd
	write_config "trust_nicks: true"
}

teardown() {
	local p
	for p in "${PID:-}" "${NGIRCD_PID:-}"; do
		if [ -n "$p" ]; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
}

# write_config [EXTRA-IRC-KEYS]
write_config() {
	cat >"$C" <<EOF
repo: $B
branch: main
state: $S
bot: {name: firebreak, email: firebreak@bot.example}
chat:
  - {type: console, path: $CHAT}
  - {type: irc, server: "127.0.0.1:$IRC_PORT", nick: firebreak, channel: "#ops"${1:+, $1}}
EOF
}

# say NICK "LINE" N [PREFIX]: NICK says LINE in #ops once the bot is
# there, and waits for N notices after it (starting with PREFIX); the log
# is $D/NICK.log.
say() {
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n "$1" -c '#ops' -o "$D/$1.log" \
	    -j firebreak -m "$2" -w "$3" ${4:+-a "$4"} -t 20 3>&-
}

# say_lines NICK LINE...: NICK says each LINE, then waits for the first
# answer addressed to NICK.
say_lines() {
	local nick=$1 args=() l
	shift
	for l in "$@"; do args+=(-m "$l"); done
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n "$nick" -c '#ops' -o "$D/$nick.log" \
	    -j firebreak "${args[@]}" -w 1 -a "$nick: " -t 20 3>&-
}

# The answers to NICK, without the "NICK: " prefix.
answers() {
	notices "$1" | sed -n "s/^$1: //p"
}

# The notices NICK saw in #ops, their text only.
notices() {
	grep -a ' NOTICE #ops :' "$D/$1.log" | sed 's/^.* NOTICE #ops ://' | tr -d '\r'
}

@test "irc: a bare nick is not an identity: whoever takes the nick carol may only read" {
	# The policy maps "irc:carol", but the server vouches for no account:
	# without trust_nicks, anyone who takes the nick must not deploy.
	write_config
	start_controller
	local before
	before=$(sha "$B")
	run say carol "firebreak: deploy app 1.4.3" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "irc:carol is not an identity the chat server vouches for (anyone can take a nick), so you may only run help, plan, status and history; log in to your services account and map its identity in policy.yaml"
	run say carol "firebreak: status" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "applied: $before"
	assert_eq "$(sha "$B")" "$before" "the branch"
	grep -q 'irc:carol (unverified) via irc #ops: deploy app 1.4.3' "$D/run.log"
}

@test "irc: a command addressed to the bot becomes a commit by the bot, announced in the channel; the plan follows" {
	start_controller
	run say carol "firebreak: drain web-02" 1
	assert_status 0
	local s
	s=$(short "$B")
	assert_eq "$(git -C "$B" log -1 --format='%an|%s')" "firebreak|drain web-02.example.com"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "carol"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-via,valueonly)')" "irc #ops"
	assert_eq "$(notices carol | head -1)" "carol (irc #ops): committed $s: drain web-02.example.com"
	wait_for "$CHAT" "plan 2 for $s \"drain web-02.example.com\" by carol: "
	# The announcement came first, the plan after it.
	assert_eq "$(grep -n "committed $s" "$CHAT" | cut -d: -f1)" "1"
}

@test "irc: read-only answers go to the asker in the channel; nothing is committed" {
	start_controller
	local before
	before=$(sha "$B")
	run say carol "firebreak, status" 1 "carol: "
	assert_status 0
	assert_eq "$(answers carol | head -1)" "applied: $before"
	run say eve "firebreak: deploy app 1.4.3" 1 "eve: "
	assert_status 0
	assert_contains "$(answers eve | head -1)" "you are not mapped to a firebreak user (identities in policy.yaml: \"irc:eve\")"
	run say carol "firebreak: deplyo app 1.4.3" 1 "carol: "
	assert_status 0
	assert_contains "$(answers carol | head -1)" "unknown command 'deplyo' (did you mean deploy?)"
	assert_eq "$(sha "$B")" "$before" "the branch"
}

@test "irc: lines not addressed to the bot, and hostile ones, are ignored" {
	start_controller
	local before
	before=$(sha "$B")
	# Not addressed to the bot, a CTCP, a bell: no answer, no commit.  The
	# last line is a good command: its answer is the first one carol gets,
	# so the bot read the lines before it and said nothing to them.
	run say_lines carol "deploy app 1.4.3" "firebreakx: deploy app 1.4.3" \
	    "$(printf '\001ACTION firebreak: deploy app 1.4.3\001')" \
	    "$(printf 'firebreak: deploy app 1.4.3\a')" "firebreak: history 1"
	assert_status 0
	assert_contains "$(answers carol | head -1)" "$(git -C "$B" log -1 --format=%h)"
	assert_eq "$(answers carol | wc -l)" "1" "answers to carol"
	assert_eq "$(sha "$B")" "$before" "the branch"
	# Shell metacharacters reach the bot as text, and are refused as a version.
	run say carol 'firebreak: deploy app $(touch /tmp/pwned)' 1 "carol: "
	assert_status 0
	assert_contains "$(answers carol | head -1)" "is not a version"
	[ ! -e /tmp/pwned ]
	assert_eq "$(sha "$B")" "$before" "the branch"
}

@test "irc: approving over IRC needs allow_approve on the irc entry" {
	local human=$D/human
	git -C "$human" pull -q
	sed -i 's/"irc:carol": carol}/"irc:carol": carol, "irc:alice": alice}/' "$human/policy.yaml"
	git -C "$human" -c user.name=H -c user.email=h@x commit -qam "map alice on irc"
	git -C "$human" push -q origin main
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	start_controller
	run fb chat --config "$C" --as carol "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 3 .* -> approve"
	run say alice "firebreak: approve 3" 1 "alice: "
	assert_status 0
	assert_eq "$(answers alice | head -1)" "approving from irc #ops is off (allow_approve on its chat entry turns it on); approve in Slack or with \`firebreak approve\`"
	assert_eq "$(jq -r .outcome "$S/plans/3.json")" "open"
	stop_controller
	write_config "trust_nicks: true, allow_approve: true"
	start_controller
	wait_for "$CHAT" "plan 4 .* -> approve"
	run say alice "firebreak: approve 4" 1 "alice: "
	assert_status 0
	wait_for "$CHAT" "plan 4 .*approved by alice: applied"
	assert_eq "$(jq -r .outcome "$S/plans/4.json")" "applied"
}
