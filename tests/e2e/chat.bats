#!/usr/bin/env bats
# Chat out, on the wire: the outbox and the four backends driven by
# tests/tools/chatpost against a local Slack stand-in (tests/tools/slackstub,
# which records every request), a real IRC server (ngircd on a loopback
# port) watched by tests/tools/ircwatch, and a console file.  The wire
# format checked is the one DESIGN.md "Posting plans to chat" and
# providers/slack.c document.

load helpers

: "${BUILD:=$TOP/build}"
TOOLS=$BUILD/tests/tools

setup_file() {
	local t
	for t in chatpost slackstub ircwatch; do
		if [ ! -x "$TOOLS/$t" ]; then
			echo "$TOOLS/$t is missing (make tools)" >&2
			return 1
		fi
	done
}

setup() {
	require_jq
	D=$BATS_TEST_TMPDIR
	STUB_PID= NGIRCD_PID= WATCH_PID=
	printf 'xoxb-secret-token\n' >"$D/token"
	chmod 600 "$D/token"
	# A plan's body: the changes by kind, then the diff.
	cat >"$D/body" <<'EOF'
dns (1 change), needs an approver
  ~ dns.modify www.example.com/A: ["10.0.1.5","10.0.1.6"] -> ["10.0.1.5"] [approve]

diff --git a/terraform/route53/example.com.tf.json b/terraform/route53/example.com.tf.json
--- a/terraform/route53/example.com.tf.json
+++ b/terraform/route53/example.com.tf.json
@@ -1 +1 @@
-"records": ["10.0.1.5", "10.0.1.6"]
+"records": ["10.0.1.5"]
EOF
}

teardown() {
	local p
	for p in $STUB_PID $WATCH_PID $NGIRCD_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in $STUB_PID $WATCH_PID $NGIRCD_PID; do
		wait "$p" 2>/dev/null || true
	done
}

# start_stub [ARGS...]: the Slack stand-in on a free port (or -p PORT),
# logging to $D/req.log; sets PORT and STUB_PID.
start_stub() {
	rm -f "$D/port"
	"$TOOLS/slackstub" -P "$D/port" -o "$D/req.log" "$@" >/dev/null 2>&1 3>&- &
	STUB_PID=$!
	local i
	for i in $(seq 100); do
		[ -s "$D/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$D/port")
}

stop_stub() {
	kill "$STUB_PID" && wait "$STUB_PID" 2>/dev/null || true
	STUB_PID=
}

slack_config() {
	cat >"$D/chat.yaml" <<EOF
chat:
  - {type: slack, token_file: "$D/token", channel: "#ops", api_url: "http://127.0.0.1:$1/api"}
EOF
}

# req N: request N's JSON body (1-based).
req_body() {
	sed -n "${1}p" "$D/req.log" | jq -c '.body | fromjson'
}

post() {
	run "$TOOLS/chatpost" -c "$D/chat.yaml" -s "$D/state" "$@"
}

SUMMARY='plan 17 for d55800f "drain web-02.example.com" by Alice Example: 1 dns.modify -> approve'
# The same, escaped for Slack's mrkdwn.
SUMMARY_MRKDWN='plan 17 for d55800f "drain web-02.example.com" by Alice Example: 1 dns.modify -&gt; approve'

@test "slack: bot token, JSON, channel, Block Kit with Approve/Discard, thread_ts under the plan's first message" {
	start_stub
	slack_config "$PORT"
	post -p 17 -u http://127.0.0.1:8088/plans/17 -a -b "$D/body" "$SUMMARY" "plan 17 applied"
	assert_status 0
	assert_contains "$output" "delivered 2 pending 0 dead 0"
	[ "$(wc -l <"$D/req.log")" -eq 2 ]

	local r1 b1 b2
	r1=$(sed -n 1p "$D/req.log")
	assert_eq "$(jq -r .method <<<"$r1")" POST
	assert_eq "$(jq -r .path <<<"$r1")" /api/chat.postMessage
	assert_eq "$(jq -r .headers.authorization <<<"$r1")" "Bearer xoxb-secret-token"
	assert_eq "$(jq -r '.headers["content-type"]' <<<"$r1")" "application/json; charset=utf-8"
	b1=$(req_body 1)
	assert_eq "$(jq -r .channel <<<"$b1")" "#ops"
	assert_eq "$(jq -r .text <<<"$b1")" "$SUMMARY_MRKDWN"
	assert_eq "$(jq -r 'has("thread_ts")' <<<"$b1")" false
	# The summary, the changes, the diff, the buttons, the link.
	assert_eq "$(jq -r '[.blocks[].type] | join(",")' <<<"$b1")" \
		"section,section,section,actions,context"
	assert_eq "$(jq -r '.blocks[0].text.text' <<<"$b1")" "*$SUMMARY_MRKDWN*"
	assert_contains "$(jq -r '.blocks[1].text.text' <<<"$b1")" '~ dns.modify www.example.com/A'
	assert_contains "$(jq -r '.blocks[2].text.text' <<<"$b1")" '+"records": ["10.0.1.5"]'
	assert_eq "$(jq -c '[.blocks[3].elements[] | [.type, .text.text, .action_id, .value, .style]]' <<<"$b1")" \
		'[["button","Approve","approve","17","primary"],["button","Discard","discard","17","danger"]]'
	assert_eq "$(jq -r '.blocks[4].elements[0].text' <<<"$b1")" "<http://127.0.0.1:8088/plans/17|full plan>"

	# The second message of plan 17 threads under the first's ts.
	b2=$(req_body 2)
	assert_eq "$(jq -r .thread_ts <<<"$b2")" "$(sed -n 1p "$D/req.log" | jq -r .ts)"
	assert_eq "$(jq -r .thread_ts <<<"$b2")" "1767225600.000001"
	# The thread is remembered for the plan's later messages.
	assert_eq "$(slurp "$D/state/threads/17.0")" "1767225600.000001"
	# The token is never printed.
	[[ "$output" != *xoxb-secret* ]]
}

@test "slack: 429 with Retry-After is retried after it, and the message arrives once" {
	start_stub -4 1
	slack_config "$PORT"
	post -p 18 "plan 18 for abc1234 \"bump\" by alice: 1 pin.modify -> auto-applied"
	assert_status 0
	assert_contains "$output" "delivered 1 pending 0 dead 0"
	assert_eq "$(jq -r .status "$D/req.log" | tr '\n' ' ')" "429 200 "
	# The same message both times, and only one was taken.
	assert_eq "$(req_body 1 | jq -r .text)" "$(req_body 2 | jq -r .text)"
	[ "$(jq -r 'select(.status == 200) | .n' "$D/req.log" | wc -l)" -eq 1 ]
}

@test "slack: ok:false is permanent: the message goes to dead/ with Slack's error, not retried" {
	start_stub -E channel_not_found
	slack_config "$PORT"
	post -p 19 "plan 19"
	assert_status 0
	assert_contains "$output" "delivered 0 pending 0 dead 1"
	assert_contains "$output" "slack: chat.postMessage: channel_not_found; moved to dead/"
	[ "$(wc -l <"$D/req.log")" -eq 1 ]
	assert_eq "$(jq -r .error "$D/state/outbox/dead/1.json")" "slack: chat.postMessage: channel_not_found"
	assert_eq "$(jq -r .summary "$D/state/outbox/dead/1.json")" "plan 19"
}

@test "slack: unreachable, kept across a restart, then delivered once" {
	start_stub
	stop_stub
	slack_config "$PORT"
	post -t 0.5 -p 20 "plan 20"
	assert_status 1
	assert_contains "$output" "pending 1"
	[ -f "$D/state/outbox/1.json" ]
	# The service comes back; a fresh process delivers what is pending.
	start_stub -p "$PORT"
	post -t 10
	assert_status 0
	assert_contains "$output" "delivered 1 pending 0"
	[ "$(wc -l <"$D/req.log")" -eq 1 ]
	assert_eq "$(req_body 1 | jq -r .text)" "plan 20"
	[ ! -e "$D/state/outbox/1.json" ]
}

@test "slack: a long diff is cut to the budget: sections of at most 3000, about 12000 in all" {
	start_stub
	slack_config "$PORT"
	{
		cat "$D/body"
		for i in $(seq 2000); do echo "+line $i <b> & \`\`\`"; done
	} >"$D/big"
	post -p 21 -u http://127.0.0.1:8088/plans/21 -b "$D/big" "plan 21"
	assert_status 0
	local b
	b=$(req_body 1)
	[ "$(jq '[.blocks[] | select(.type == "section") | .text.text | length] | max' <<<"$b")" -le 3000 ]
	[ "$(jq '[.blocks[] | (.text.text // "" | length), (.elements[]?.text // "" | length)] | add' <<<"$b")" -le 12000 ]
	assert_contains "$(jq -r '.blocks[] | select(.type == "context") | .elements[0].text' <<<"$b")" "Cut to fit"
	# Escaped for mrkdwn, and no run of backticks closes the code block.
	assert_contains "$b" '+line 1 &lt;b&gt; &amp;'
	[ "$(jq -r '[.blocks[] | select(.type == "section") | .text.text] | join("\n")' <<<"$b" | grep -c '```x\|``````' || true)" -eq 0 ]
}

@test "webhook: one JSON POST with the text, the diff in a code block, how to act and the link" {
	start_stub -5 1
	cat >"$D/chat.yaml" <<EOF
chat:
  - {type: webhook, url: "http://127.0.0.1:$PORT/hooks/T000/B000/secretpath"}
EOF
	post -p 17 -u http://127.0.0.1:8088/plans/17 -a -b "$D/body" "$SUMMARY"
	assert_status 0
	# 503 first, then taken once.
	assert_eq "$(jq -r .status "$D/req.log" | tr '\n' ' ')" "503 200 "
	[[ "$output" != *secretpath* ]]
	local r t
	r=$(sed -n 2p "$D/req.log")
	assert_eq "$(jq -r .path <<<"$r")" /hooks/T000/B000/secretpath
	assert_eq "$(jq -r '.headers["content-type"]' <<<"$r")" "application/json; charset=utf-8"
	assert_eq "$(jq -r '.body | fromjson | keys | join(",")' <<<"$r")" text
	t=$(jq -r '.body | fromjson | .text' <<<"$r")
	assert_eq "$(head -1 <<<"$t")" "$SUMMARY_MRKDWN"
	assert_contains "$t" $'```\ndns (1 change), needs an approver'
	assert_contains "$t" '+"records": ["10.0.1.5"]'
	assert_contains "$t" $'approve 17 / discard 17\n<http://127.0.0.1:8088/plans/17|full plan>'
}

@test "console: one line per message, control characters stripped, each message once across kill -9" {
	cat >"$D/chat.yaml" <<EOF
chat:
  - {type: console, path: "$D/chat.log"}
EOF
	post -p 5 -u http://127.0.0.1:8088/plans/5 -a $'plan 5 "x\r\nforged line\e[2J" by bob: 1 enc.modify -> approve'
	assert_status 0
	assert_eq "$(cat "$D/chat.log")" \
		"plan 5 \"x  forged line[2J\" by bob: 1 enc.modify -> approve — approve 5 / discard 5 — http://127.0.0.1:8088/plans/5 [msg 1]"

	# Kill the poster at random moments; what it said it stored arrives
	# exactly once, and nothing arrives twice.
	local r k n
	for r in $(seq 8); do
		"$TOOLS/chatpost" -c "$D/chat.yaml" -s "$D/state" "r$r m1" "r$r m2" "r$r m3" "r$r m4" \
			>"$D/posted.$r" 2>/dev/null 3>&- &
		sleep "$(printf '0.%03d' $((RANDOM % 30)))"
		kill -9 $! 2>/dev/null || true
		wait $! 2>/dev/null || true
	done
	post -t 10
	assert_status 0
	for r in $(seq 8); do
		n=$(grep -c '^posted' "$D/posted.$r" || true)
		for k in 1 2 3 4; do
			local c
			c=$(grep -c "^r$r m$k \[msg [0-9]*\]\$" "$D/chat.log" || true)
			if [ "$k" -le "$n" ]; then
				[ "$c" -eq 1 ] || { echo "r$r m$k: $c copies" >&2; return 1; }
			else
				[ "$c" -le 1 ] || { echo "r$r m$k: $c copies" >&2; return 1; }
			fi
		done
	done
	# Every line is whole.
	[ "$(grep -vc ' \[msg [0-9]*\]$' "$D/chat.log" || true)" -eq 0 ]
}

# watch_channel NICK N: a client in #ops recording what it receives until
# N notices arrived; returns once it has joined.
watch_channel() {
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n "$1" -c '#ops' -o "$D/watch.log" \
		-r "$D/ready" -w "$2" -t 25 >/dev/null 2>&1 3>&- &
	WATCH_PID=$!
	local i
	for i in $(seq 200); do
		[ -e "$D/ready" ] && return 0
		sleep 0.05
	done
	echo "ircwatch did not join" >&2
	return 1
}

irc_config() {
	cat >"$D/chat.yaml" <<EOF
chat:
  - {type: irc, server: "127.0.0.1:$IRC_PORT", nick: firebreak, channel: "#ops"}
EOF
}

@test "irc: NOTICE lines of at most 512 bytes in the channel, no CR/LF injection, nick in use gets a _" {
	start_ngircd
	# The watcher takes the nick first: the poster becomes firebreak_.
	watch_channel firebreak 4
	irc_config
	local long
	long=$(printf 'x%.0s' $(seq 700))
	post -t 20 -p 17 -u http://127.0.0.1:8088/plans/17 -a -b "$D/body" \
		$'plan 17 for d55800f "x\r\nPRIVMSG #ops :evil\r\nQUIT" by alice: '"$long"
	assert_status 0
	wait "$WATCH_PID"
	WATCH_PID=
	local notices
	notices=$(grep -a ' NOTICE #ops :' "$D/watch.log")
	# The summary, the two lines of changes, how to act.
	[ "$(wc -l <<<"$notices")" -eq 4 ]
	# From firebreak_, each line with its CRLF at most 512 bytes.
	[ "$(grep -ac '^:firebreak_!' <<<"$notices")" -eq 4 ]
	[ "$(awk '{ n = length($0) + 1; if (n > m) m = n } END { print m }' <<<"$notices")" -le 512 ]
	[ "$(grep -ac $'\r$' <<<"$notices")" -eq 4 ]
	# The injected commands stayed text inside the first NOTICE.
	! grep -a ' PRIVMSG ' "$D/watch.log"
	assert_contains "$(sed -n 1p <<<"$notices")" 'NOTICE #ops :plan 17 for d55800f "x  PRIVMSG #ops :evil  QUIT" by alice: xxx'
	assert_contains "$(sed -n 1p <<<"$notices")" '...'
	assert_contains "$(sed -n 2p <<<"$notices")" 'NOTICE #ops :dns (1 change), needs an approver'
	assert_contains "$(sed -n 3p <<<"$notices")" 'NOTICE #ops :  ~ dns.modify www.example.com/A'
	assert_contains "$(sed -n 4p <<<"$notices")" 'NOTICE #ops :approve 17 / discard 17 — full plan: http://127.0.0.1:8088/plans/17'
}

@test "irc: a server that is down at first is reached by the reconnect backoff" {
	start_ngircd
	kill "$NGIRCD_PID"
	wait "$NGIRCD_PID" 2>/dev/null || true
	NGIRCD_PID=
	irc_config
	"$TOOLS/chatpost" -c "$D/chat.yaml" -s "$D/state" -t 20 -p 9 "plan 9 applied" \
		>"$D/post.out" 2>"$D/post.err" 3>&- &
	local poster=$!
	sleep 1.5
	run_ngircd
	watch_channel watcher 1
	wait "$poster" || { cat "$D/post.out" "$D/post.err" >&2; return 1; }
	assert_contains "$(cat "$D/post.err")" "reconnecting in 1 s"
	assert_contains "$(cat "$D/post.err")" "joined #ops as firebreak"
	wait "$WATCH_PID"
	WATCH_PID=
	grep -aq '^:firebreak![^ ]* NOTICE #ops :plan 9 applied' "$D/watch.log"
}

# wait_for_line FILE REGEX: until a line of FILE matches (5 s at most).
wait_for_line() {
	local i
	for i in $(seq 100); do
		grep -aq "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line matching '$2' in $1:" >&2
	cat -v "$1" >&2
	return 1
}

@test "ircwatch -m: says lines in #ops once -j's nick is there, and -w counts only the answers after them" {
	start_ngircd
	# carol is first in #ops and waits for firebreak to join (the watcher
	# stands in for the bot) before she says anything.
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n carol -c '#ops' -o "$D/carol.log" \
		-r "$D/carol.ready" -j firebreak -m "firebreak: status" \
		-m $'\x02firebreak\x02, plan 17' -t 10 >/dev/null 2>&1 3>&- &
	local carol=$!
	wait_for_line "$D/carol.log" ' 366 carol '
	sleep 0.3
	kill -0 "$carol"       # still waiting: nobody to say it to
	watch_channel firebreak 99
	wait "$carol"
	# The watcher heard both lines, which it could only if carol said them
	# after it joined.
	wait_for_line "$D/watch.log" '^:carol![^ ]* PRIVMSG #ops :.firebreak., plan 17'
	grep -aq $'^:carol![^ ]* PRIVMSG #ops :firebreak: status\r$' "$D/watch.log"
	grep -aq $'^:carol![^ ]* PRIVMSG #ops :\x02firebreak\x02, plan 17\r$' "$D/watch.log"
	# CR or LF in a line is refused before anything is sent.
	run "$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n eve -c '#ops' -o "$D/eve.log" \
		-m $'firebreak: status\r\nQUIT'
	assert_status 2

	# -w: dave says his line, then waits for one NOTICE, which comes after
	# it (from chatpost, posting as the bot would answer).
	"$TOOLS/ircwatch" -s "127.0.0.1:$IRC_PORT" -n dave -c '#ops' -o "$D/dave.log" \
		-j firebreak -m "firebreak: history" -w 1 -t 15 >/dev/null 2>&1 3>&- &
	local dave=$!
	wait_for_line "$D/watch.log" '^:dave![^ ]* PRIVMSG #ops :firebreak: history'
	irc_config
	sed -i 's/nick: firebreak/nick: answerer/' "$D/chat.yaml"
	post -t 10 "dave: no changes yet"
	assert_status 0
	wait "$dave" || { cat -v "$D/dave.log" >&2; return 1; }
	grep -aq $'^:answerer![^ ]* NOTICE #ops :dave: no changes yet\r$' "$D/dave.log"
}
