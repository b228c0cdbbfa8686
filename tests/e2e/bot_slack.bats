#!/usr/bin/env bats
# The chat bot over HTTP, as Slack and Mattermost reach it: real requests
# from curl to the running controller's /slack/command, /slack/actions and
# /mattermost/command, signed exactly as Slack signs them (v0=HMAC-SHA256
# of "v0:<timestamp>:<raw body>" with the signing secret) or carrying
# Mattermost's slash command token.  The answers come back the way they
# would in production: the acknowledgement in the HTTP reply, the result
# through response_url (pointed at the Slack stand-in tests/tools/slackstub,
# which records every request), the commit announced in every chat and its
# plan threaded under the announcement.  See DESIGN.md "Chat commands",
# "Bot commits" and "Security rules".

load helpers

: "${BUILD:=$TOP/build}"
TOOLS=$BUILD/tests/tools

# The Python that starts fast (a pyenv shim takes a second per call).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

SECRET=8f742231b10e8888abcd99yyyzzz85a5
MM_TOKEN=xr3j5x3p4pfjpfpd3hswrkcktr

setup_file() {
	require_firebreak
	require_jq
	local t
	for t in curl openssl; do
		command -v "$t" >/dev/null || { echo "$t is required" >&2; return 1; }
	done
	[ -x "$TOOLS/slackstub" ] || { echo "$TOOLS/slackstub is missing (make tools)" >&2; return 1; }
	template_repo
}

setup() {
	D=$BATS_TEST_TMPDIR
	B=$D/inventory.git
	S=$D/state
	C=$D/firebreak.yaml
	CHAT=$D/chat.log
	REQ=$D/req.log
	PID='' STUB_PID='' HANG_PID=''
	EXTRA_TOP='' EXTRA_CHAT=''
	printf '%s\n' "$SECRET" >"$D/signing-secret"
	printf 'xoxb-test-token\n' >"$D/slack-token"
	printf '%s\n' "$MM_TOKEN" >"$D/mm-token"
	chmod 600 "$D/signing-secret" "$D/slack-token" "$D/mm-token"
	git clone -q --bare "$TEMPLATE" "$B"
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	start_stub
}

teardown() {
	# The hung remote first: a controller or child blocked on it wakes up.
	stop_pid "${HANG_PID:-}"
	stop_pid "${PID:-}"
	stop_pid "${STUB_PID:-}"
}

# stop_pid PID: TERM, then KILL if it has not gone within 5 s.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# The Slack stand-in on a free port; SPORT is its port.
start_stub() {
	"$TOOLS/slackstub" -P "$D/stub.port" -o "$REQ" >/dev/null 2>&1 3>&- &
	STUB_PID=$!
	for _ in $(seq 200); do
		[ -s "$D/stub.port" ] && break
		sleep 0.05
	done
	SPORT=$(cat "$D/stub.port")
	: >>"$REQ"
}

# The controller's config: console and Slack, plus $EXTRA_CHAT (chat
# entries) and $EXTRA_TOP (top-level lines).
write_config() {
	{
		printf 'repo: %s\nbranch: main\nstate: %s\nlisten: 127.0.0.1:%s\n' "$B" "$S" "$PORT"
		printf 'bot: {name: firebreak, email: firebreak@bot.example}\n'
		printf 'chat:\n  - {type: console, path: %s}\n' "$CHAT"
		printf '  - {type: slack, token_file: %s, signing_secret_file: %s, channel: "#ops", ' \
		    "$D/slack-token" "$D/signing-secret"
		printf 'api_url: "http://127.0.0.1:%s/api"}\n' "$SPORT"
		[ -z "$EXTRA_CHAT" ] || printf '%s\n' "$EXTRA_CHAT"
		[ -z "$EXTRA_TOP" ] || printf '%s\n' "$EXTRA_TOP"
	} >"$C"
}

# start [--no-wait]: the controller on a random free port (PORT), ready when
# /healthz answers.  A port someone else took makes it exit: another port.
start() {
	local attempt
	for attempt in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20000))
		# Taken already (perhaps by another suite's controller): another.
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			continue
		fi
		write_config
		"$FIREBREAK" run --config "$C" 2>"$D/run.log" &
		PID=$!
		if [ "${1:-}" = --no-wait ]; then
			# Only until the loop runs; /healthz is not asked.
			for _ in $(seq 200); do
				grep -q '^firebreak: running on ' "$D/run.log" 2>/dev/null && return 0
				kill -0 "$PID" 2>/dev/null || break
				sleep 0.05
			done
		else
			for _ in $(seq 200); do
				[ "$(curl -s --max-time 2 "http://127.0.0.1:$PORT/healthz" 2>/dev/null)" = ok ] &&
				    kill -0 "$PID" 2>/dev/null && return 0
				kill -0 "$PID" 2>/dev/null || break
				sleep 0.05
			done
		fi
		kill -0 "$PID" 2>/dev/null && break   # running but not answering: no retry
		wait "$PID" 2>/dev/null || true
		PID=
		grep -qi 'address\|in use' "$D/run.log" || break
	done
	echo "the controller did not come up" >&2
	cat "$D/run.log" >&2
	return 1
}

# ---- the stand-in's request log -------------------------------------------

# reqs PATH: the JSON bodies POSTed to PATH, in order, one a line.
reqs() {
	jq -c --arg p "$1" 'select(.path == $p) | .body | fromjson' "$REQ" 2>/dev/null
}

# nreqs PREFIX: how many requests went to a path starting with PREFIX.
# (grep, not jq: it is polled.  The log is compact JSON, its keys sorted;
# inside the "body" string every quote is escaped, so this is the key.)
nreqs() {
	grep -cF "\"path\":\"$1" "$REQ" 2>/dev/null || true
}

# wait_req PREFIX [N [TRIES]]: until N (default 1) requests to PREFIX... are
# logged, polling TRIES times (default 200: 10 s).
wait_req() {
	for _ in $(seq "${3:-200}"); do
		[ "$(nreqs "$1")" -ge "${2:-1}" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for ${2:-1} request(s) to $1" >&2
	cat "$REQ" >&2
	cat "$D/run.log" >&2
	return 1
}

# posts: every chat.postMessage as {ts, thread_ts, text}, one a line.
posts() {
	jq -c 'select(.path == "/api/chat.postMessage") | (.body | fromjson) as $b |
	    {ts, thread_ts: $b.thread_ts, text: $b.text}' "$REQ" 2>/dev/null
}

# wait_post REGEX: until a chat.postMessage's text matches.
wait_post() {
	for _ in $(seq 200); do
		posts | jq -e --arg r "$1" 'select(.text | test($r))' >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "timed out waiting for a chat.postMessage matching '$1'" >&2
	cat "$REQ" >&2
	cat "$D/run.log" >&2
	return 1
}

# answer PATH: the text the bot sent to the response_url PATH (exactly one).
answer() {
	local n
	n=$(nreqs "$1")
	[ "$n" -eq 1 ] || { echo "$n answers to $1, not 1" >&2; cat "$REQ" >&2; return 1; }
	reqs "$1" | jq -r .text
}

# ---- requests ---------------------------------------------------------------

uri() {
	jq -rn --arg s "$1" '$s | @uri'
}

# form_url URL: a plain http URL ([A-Za-z0-9:/.] only) form-encoded, in bash.
form_url() {
	local u=${1//:/%3A}
	printf '%s' "${u//\//%2F}"
}

# now: Unix seconds, without a process.
now() {
	printf '%(%s)T' -1
}

# slack_form USER_ID TEXT [RESPONSE-PATH [TRIGGER]]: a slash command's form
# body, fields in Slack's order.  TEXT is as Slack sends it: form-encoded
# already ("deploy+app+1.4.3").  RESPONSE-PATH is a path on the stand-in
# ("/resp/1"); TRIGGER "-" leaves trigger_id out (default: a fresh one).
slack_form() {
	local uid=$1 text=$2
	local rpath=${3:-/resp/$uid} trig=${4:-}
	local name=mallory
	[ "$uid" != U024BE7LH ] || name=alice
	# Unique: this runs in $(...), where a counter would not last.
	[ -n "$trig" ] || trig=13345224609.${EPOCHREALTIME:-$RANDOM}.$BASHPID$RANDOM
	printf 'token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example'
	printf '&channel_id=C2147483705&channel_name=ops&user_id=%s&user_name=%s' "$uid" "$name"
	printf '&command=%%2Ffirebreak&text=%s&api_app_id=A123456' "$text"
	printf '&is_enterprise_install=false&response_url=%s' "$(form_url "http://127.0.0.1:$SPORT$rpath")"
	[ "$trig" = - ] || printf '&trigger_id=%s' "$trig"
}

# slack_sig TS BODY: Slack's signature of BODY sent at TS.
slack_sig() {
	local out
	out=$(printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SECRET" -hex) || return 1
	printf '%s\n' "${out##* }"
}

# http_post PATH BODY [CURL-ARGS...]: sets HTTP (status), CTYPE, ANSWER (body).
http_post() {
	local path=$1 body=$2 out
	shift 2
	out=$(printf '%s' "$body" | curl -sS --max-time "${MAXTIME:-10}" -o "$D/http.body" \
	    -w '%{http_code} %{content_type}' "$@" --data-binary @- "http://127.0.0.1:$PORT$path") || true
	HTTP=${out%% *}
	CTYPE=${out#* }
	ANSWER=$(slurp "$D/http.body" 2>/dev/null || true)
	rm -f "$D/http.body"
}

# slack_post PATH BODY [TS [SIGNATURE]]: as Slack posts it, signed for TS
# (default: now) unless SIGNATURE is given ("-": no signature header).
slack_post() {
	local path=$1 body=$2 ts=${3:-$(now)} sig=${4:-}
	[ -n "$sig" ] || sig=v0=$(slack_sig "$ts" "$body")
	if [ "$sig" = - ]; then
		http_post "$path" "$body" -H "X-Slack-Request-Timestamp: $ts"
	else
		http_post "$path" "$body" -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $sig"
	fi
}

# slack_command USER_ID TEXT [RESPONSE-PATH]: a signed slash command.
slack_command() {
	slack_post /slack/command "$(slack_form "$@")"
}

# The acknowledgement Slack shows at once.
ack() {
	printf '{"response_type":"ephemeral","text":"on it: %s"}' "$1"
}

assert_http() {
	assert_eq "$HTTP" "$1" "HTTP status (body: $ANSWER)"
}

assert_ack() {
	assert_http 200
	assert_eq "$CTYPE" "application/json" "Content-Type"
	assert_eq "$ANSWER" "$(ack "$1")" "the acknowledgement"
}

commits() {
	git -C "$B" rev-list --count main
}

trailer() {
	git -C "$B" log -1 --format="%(trailers:key=$1,valueonly)" "${2:-HEAD}"
}

# ---- tests --------------------------------------------------------------------

@test "slack: a signed /deploy is acknowledged at once, commits as the bot, answers through response_url, and the plan threads under the announcement" {
	start
	local before
	before=$(sha "$B")
	slack_command U024BE7LH "deploy+app+1.4.3" /resp/1
	assert_ack "deploy app 1.4.3"

	# The answer through response_url: only the asker sees it.
	wait_req /resp/1
	local s
	s=$(short "$B")
	[ "$(sha "$B")" != "$before" ] || { echo "no commit"; false; }
	assert_eq "$(answer /resp/1)" "committed $s: deploy app 1.4.3 (production)"
	assert_eq "$(reqs /resp/1 | jq -c .)" \
	    "{\"response_type\":\"ephemeral\",\"text\":\"committed $s: deploy app 1.4.3 (production)\\n\"}" \
	    "the response_url JSON"
	assert_eq "$(reqs /resp/1 | jq -r .response_type)" "ephemeral"
	assert_eq "$(jq -r 'select(.path == "/resp/1") | .headers["content-type"]' "$REQ")" "application/json"

	# The commit: the bot's, one line changed, the asker in the trailers.
	assert_eq "$(git -C "$B" log -1 --format='%an <%ae>|%cn <%ce>')" \
	    "firebreak <firebreak@bot.example>|firebreak <firebreak@bot.example>"
	assert_eq "$(git -C "$B" log -1 --format=%B)" \
	    "$(printf 'deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: slack #ops\n')"
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "the commit's parent"
	assert_eq "$(git -C "$B" diff --name-only HEAD~1 HEAD)" "services/app.yaml"
	assert_eq "$(git -C "$B" diff --unified=0 HEAD~1 HEAD | grep -E '^[-+]([^-+]|$)')" \
	    "$(printf -- '-version: 1.4.2\n+version: 1.4.3')" "the lines changed"

	# Announced in every chat, then the plan in the same thread.
	wait_for "$CHAT" "plan 2 for $s \"deploy app 1.4.3 (production)\" by alice: 1 pin.modify -> auto-applied"
	local ann plan
	ann=$(grep -n "^alice (slack #ops): committed $s: deploy app 1.4.3 (production) \[msg [0-9]*\]$" "$CHAT" | cut -d: -f1)
	plan=$(grep -n "^plan 2 for $s " "$CHAT" | cut -d: -f1)
	[ -n "$ann" ] && [ "$ann" -lt "$plan" ] || { echo "announcement not before the plan:"; cat "$CHAT"; false; }
	wait_post "^plan 2 for $s "
	local first second
	first=$(posts | sed -n 1p)
	second=$(posts | sed -n 2p)
	assert_eq "$(jqr "$first" .text)" "alice (slack #ops): committed $s: deploy app 1.4.3 (production)"
	assert_eq "$(jqr "$first" .thread_ts)" "null" "the announcement starts a thread"
	assert_contains "$(jqr "$second" .text)" "plan 2 for $s \"deploy app 1.4.3 (production)\" by alice: 1 pin.modify -&gt; auto-applied"
	assert_eq "$(jqr "$second" .thread_ts)" "$(jqr "$first" .ts)" "the plan's thread_ts"
	assert_eq "$(posts | wc -l)" 2 "chat.postMessage calls"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
}

@test "slack: a wrong, stale, missing or mismatched signature is 401 and nothing happens" {
	start
	local before now body sig
	before=$(sha "$B")
	now=$(now)

	# One hex digit changed.
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad1)
	sig=$(slack_sig "$now" "$body")
	if [ "${sig:20:1}" = 0 ]; then sig=v0=${sig:0:20}1${sig:21}; else sig=v0=${sig:0:20}0${sig:21}; fi
	[ "${#sig}" -eq 67 ]
	[ "$sig" != "v0=$(slack_sig "$now" "$body")" ]
	slack_post /slack/command "$body" "$now" "$sig"
	assert_http 401
	assert_eq "$ANSWER" "invalid request signature"

	# Stale: signed correctly, but 301 s old; and well ahead (the
	# controller's clock may tick between our reading it and its).
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad2)
	slack_post /slack/command "$body" "$(($(now) - 301))"
	assert_http 401
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad3)
	slack_post /slack/command "$body" "$(($(now) + 310))"
	assert_http 401

	# No signature header; no timestamp header.
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad4)
	slack_post /slack/command "$body" "$now" -
	assert_http 401
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad5)
	http_post /slack/command "$body" -H "X-Slack-Signature: v0=$(slack_sig "$now" "$body")"
	assert_http 401

	# The body changed after signing (another version).
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/bad6)
	sig=v0=$(slack_sig "$now" "$body")
	slack_post /slack/command "${body/1.4.3/6.6.6}" "$now" "$sig"
	assert_http 401

	# A button press signed wrongly is refused the same way.
	slack_post /slack/actions "payload=%7B%7D" "$now" "v0=$(printf '0%.0s' $(seq 64))"
	assert_http 401

	# Each for the right reason.
	local log
	log=$(slurp "$D/run.log")
	assert_contains "$log" "X-Slack-Signature does not match the body"
	grep -q "stale request: X-Slack-Request-Timestamp is 30[12] s away from our clock (at most 300)" "$D/run.log" ||
	    { echo "no stale refusal logged"; cat "$D/run.log"; false; }
	assert_contains "$log" "no X-Slack-Signature header"
	assert_contains "$log" "no X-Slack-Request-Timestamp header"

	# A good request after them all goes through; by the time its answer
	# is in, nothing of the refused ones happened.
	slack_command U024BE7LH "deploy+app+1.4.4" /resp/good
	assert_ack "deploy app 1.4.4"
	wait_req /resp/good
	assert_eq "$(nreqs /resp/bad)" 0 "answers to refused requests"
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "the branch: one commit, the good one"
	assert_eq "$(git -C "$B" log -1 --format=%s)" "deploy app 1.4.4 (production)"
	assert_not_contains "$(slurp "$CHAT")" "1.4.3"
	assert_not_contains "$(slurp "$CHAT")" "6.6.6"
}

@test "slack: a replayed request is 401; the command runs once" {
	start
	local before now body sig
	before=$(commits)
	now=$(now)
	body=$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/1)
	sig=v0=$(slack_sig "$now" "$body")
	slack_post /slack/command "$body" "$now" "$sig"
	assert_ack "deploy app 1.4.3"
	slack_post /slack/command "$body" "$now" "$sig"
	assert_http 401
	assert_eq "$ANSWER" "replayed request"

	# The same trigger_id in a freshly signed, different request.
	local trig
	trig=$(printf '%s' "$body" | sed 's/.*trigger_id=//')
	slack_post /slack/command "$(slack_form U024BE7LH "deploy+app+1.4.9" /resp/2 "$trig")"
	assert_http 401

	# Without a trigger_id the signature is the key.
	body=$(slack_form U024BE7LH "deploy+app+1.4.5+staging" /resp/3 -)
	sig=v0=$(slack_sig "$now" "$body")
	slack_post /slack/command "$body" "$now" "$sig"
	assert_ack "deploy app 1.4.5 staging"
	slack_post /slack/command "$body" "$now" "$sig"
	assert_http 401

	wait_req /resp/1
	wait_req /resp/3
	wait_for "$CHAT" "committed .*: deploy app 1.4.5 (staging)"
	assert_eq "$(commits)" "$((before + 2))" "commits"
	assert_eq "$(nreqs /resp/1)" 1 "answers to the first"
	assert_eq "$(nreqs /resp/2)" 0 "answers to the replayed trigger"
	assert_eq "$(nreqs /resp/3)" 1 "answers to the one without a trigger_id"
	assert_eq "$(git -C "$B" log --format=%s | grep -c '^deploy app 1.4.3 (production)$')" 1
	assert_eq "$(git -C "$B" log --format=%s | grep -c '^deploy app 1.4.5 (staging)$')" 1
	assert_eq "$(grep -c 'committed .*: deploy app 1.4.3 (production)' "$CHAT")" 1
	assert_eq "$(grep -c 'replayed request' "$D/run.log")" 3
}

@test "slack: an unmapped user is acknowledged, refused through response_url, and may read status" {
	start
	local before
	before=$(sha "$B")
	slack_command U999 "deploy+app+1.4.3" /resp/deploy
	assert_ack "deploy app 1.4.3"
	wait_req /resp/deploy
	assert_eq "$(answer /resp/deploy)" \
	    'you are not mapped to a firebreak user (identities in policy.yaml: "slack:U999"), so you may only run help, plan, status and history'
	assert_eq "$(sha "$B")" "$before" "the branch"

	slack_command U999 status /resp/status
	assert_ack "status"
	wait_req /resp/status
	local text
	text=$(answer /resp/status)
	assert_contains "$text" "applied: $before"
	assert_contains "$text" "open: none"
	# A refusal or a read is for the asker only: nothing in the channel.
	assert_eq "$(posts | wc -l)" 0 "chat.postMessage calls"
	assert_eq "$(slurp "$CHAT")" "" "the console chat"
	assert_eq "$(sha "$B")" "$before" "the branch"
}

# action_payload ACTION PLAN USER_ID RESPONSE-PATH: a block_actions
# payload as Slack sends it when a button of the plan's message is pressed.
# The username is always "alice": only user.id may count.
action_payload() {
	jq -cn --arg a "$1" --arg id "$2" --arg uid "$3" --arg url "http://127.0.0.1:$SPORT$4" '{
	    type: "block_actions",
	    user: {id: $uid, username: "alice", name: "alice", team_id: "T0001"},
	    api_app_id: "A123456", token: "gIkuvaNzQIHg97ATvDxqgjtO",
	    container: {type: "message", message_ts: "1767225600.000002", channel_id: "C2147483705", is_ephemeral: false},
	    trigger_id: ("13345224609.8534564800.6f8ab1f53e13d0cd15f96106292d5536." + $id + $a + $uid + $url),
	    team: {id: "T0001", domain: "example"},
	    channel: {id: "C2147483705", name: "ops"},
	    message: {type: "message", ts: "1767225600.000002", text: "plan"},
	    response_url: $url,
	    actions: [{action_id: $a, block_id: "plan", type: "button", value: $id,
	        text: {type: "plain_text", text: "Approve"}, action_ts: "1767225700.000100"}]
	}'
}

@test "slack: the Approve button applies the plan as the mapped user; Discard discards" {
	start
	run fb chat --config "$C" --as carol "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02.example.com\" by carol: .* -> approve (waiting for an approver)"
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" "open"

	# A double click: two presses, two requests (each its own trigger_id).
	slack_post /slack/actions "payload=$(uri "$(action_payload approve 2 U024BE7LH /resp/approve)")"
	assert_http 200
	assert_eq "$ANSWER" "" "the reply to a button"
	slack_post /slack/actions "payload=$(uri "$(action_payload approve 2 U024BE7LH /resp/again)")"
	assert_http 200
	for _ in $(seq 200); do
		[ "$(jq -r .outcome "$S/plans/2.json")" = applied ] && break
		sleep 0.05
	done
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" "applied" "plan 2"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")" "the applied commit"
	# Applied once; the presses run side by side, so either may be first.
	wait_req /resp/approve
	wait_req /resp/again
	assert_eq "$(printf '%s\n' "$(answer /resp/approve)" "$(answer /resp/again)" | sort)" \
	    "$(printf '%s\n' "plan 2 applied ($(short "$B")), approved by alice" \
	    "plan 2 is already applied; nothing to do" | sort)" "the answers to the two presses"
	wait_for "$CHAT" "approved by alice: applied"
	assert_eq "$(grep -c 'approved by alice: applied' "$CHAT")" 1 "applied once"

	# Another plan: an unmapped user's press changes nothing; then it is
	# discarded with the other button.
	run fb chat --config "$C" --as carol "drain web-01"
	assert_status 0
	wait_for "$CHAT" "plan 3 for $(short "$B") \"drain web-01.example.com\" by carol: .* -> observe"
	slack_post /slack/actions "payload=$(uri "$(action_payload approve 3 U999 /resp/u999)")"
	assert_http 200
	wait_req /resp/u999
	assert_eq "$(answer /resp/u999)" \
	    'you are not mapped to a firebreak user (identities in policy.yaml: "slack:U999"), so you may only run help, plan, status and history'
	assert_eq "$(jq -r .outcome "$S/plans/3.json")" "open"
	slack_post /slack/actions "payload=$(uri "$(action_payload discard 3 U024BE7LH /resp/discard)")"
	assert_http 200
	wait_req /resp/discard
	assert_eq "$(answer /resp/discard)" "plan 3 discarded by alice"
	assert_eq "$(jq -r .outcome "$S/plans/3.json")" "discarded"
}

# hang_server: a "git server" on HPORT that accepts connections and never
# answers them once $D/armed exists (before that it closes them at once,
# so a fetch fails fast).  HANG_COUNT counts the connections it holds.
hang_server() {
	cat >"$D/hang.py" <<'EOF'
import os, socket, sys
d = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(d + "/hang.port.tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(d + "/hang.port.tmp", d + "/hang.port")
held = []
while True:
    c, _ = s.accept()
    if os.path.exists(d + "/armed"):
        held.append(c)
        with open(d + "/hang.count", "w") as f:
            f.write("%d\n" % len(held))
    else:
        c.close()
EOF
	"$PY" "$D/hang.py" "$D" 3>&- &
	HANG_PID=$!
	for _ in $(seq 200); do
		[ -s "$D/hang.port" ] && break
		sleep 0.05
	done
	HPORT=$(cat "$D/hang.port")
	HANG_COUNT=$D/hang.count
}

@test "slack: the 3-second acknowledgement holds while every command's git work hangs" {
	# The remote answers nothing once armed: each command's child blocks in
	# its fetch.  The controller's own first fetch (before arming) fails
	# fast, and poll_seconds keeps it from fetching again during the test.
	hang_server
	EXTRA_TOP="remote: http://127.0.0.1:$HPORT/inventory.git
poll_seconds: 86400"
	start
	local before i
	before=$(sha "$B")
	touch "$D/armed"
	for i in 1 2 3 4 5; do
		MAXTIME=3 slack_command U024BE7LH "deploy+app+1.4.$((i + 2))" "/resp/slow$i"
		assert_ack "deploy app 1.4.$((i + 2))"
	done
	# The git work really is stuck: the children running (4 at once here)
	# hold connections to the remote; nothing answered, nothing committed.
	for _ in $(seq 200); do
		[ "$(cat "$HANG_COUNT" 2>/dev/null || echo 0)" -ge 4 ] && break
		sleep 0.05
	done
	[ "$(cat "$HANG_COUNT" 2>/dev/null || echo 0)" -ge 1 ] || { echo "no child reached the remote"; false; }
	run curl -sS --max-time 3 "http://127.0.0.1:$PORT/healthz"
	assert_eq "$output" ok "/healthz while the remote hangs"
	assert_eq "$(nreqs /resp/)" 0 "answers while the remote hangs"
	assert_eq "$(sha "$B")" "$before" "the branch"

	# The remote goes away: every command is answered, none lost.
	stop_pid "$HANG_PID"
	HANG_PID=
	wait_req /resp/slow 5
	for i in 1 2 3 4 5; do
		assert_contains "$(answer "/resp/slow$i")" "fetching from the remote"
	done
	assert_eq "$(sha "$B")" "$before" "the branch"
}

# The controller's own periodic fetch runs in a child (`firebreak-core
# fetch`), so a remote that accepts the connection and never answers cannot
# freeze the loop: HTTP, the control socket and plans go on.
@test "slack: the 3-second acknowledgement holds while the remote hangs from the start" {
	hang_server
	touch "$D/armed"
	EXTRA_TOP="remote: http://127.0.0.1:$HPORT/inventory.git
poll_seconds: 86400"
	start --no-wait
	local i
	for i in 1 2 3 4 5; do
		MAXTIME=3 slack_command U024BE7LH "deploy+app+1.4.$((i + 2))" "/resp/slow$i"
		assert_ack "deploy app 1.4.$((i + 2))" || {
			echo "no answer within 3 s: is the controller's loop blocked in a fetch?"
			false
		}
	done
}

# A command whose child ends without its answer (it died: killed here, as
# it would be after BOT_TIMEOUT_MS) is still answered through
# response_url, by a `firebreak-core reply` child of the controller.
@test "slack: a command whose child dies without answering still gets an answer through response_url" {
	hang_server
	EXTRA_TOP="remote: http://127.0.0.1:$HPORT/inventory.git
poll_seconds: 86400"
	start
	touch "$D/armed"
	slack_command U024BE7LH "deploy+app+1.4.3" /resp/lost
	assert_ack "deploy app 1.4.3"
	# The child hangs in its fetch; kill it.
	local child=
	for _ in $(seq 200); do
		child=$(pgrep -f -- "firebreak-core chat --config $C" | head -1)
		[ -n "$child" ] && break
		sleep 0.05
	done
	[ -n "$child" ] || { echo "the command's child never started"; false; }
	kill -9 "$child"
	wait_for "$D/run.log" 'chat: `deploy app 1.4.3` from slack:U024BE7LH failed'
	wait_req /resp/lost 1 40 || {
		echo "the asker was told \"on it\" and never heard back"
		false
	}
	assert_contains "$(answer /resp/lost)" "deploy app 1.4.3\` failed (killed by SIGKILL)"
}

@test "mattermost: the right token (form field) commits as the mapped user with Requested-via mattermost #channel" {
	EXTRA_CHAT="  - {type: webhook, url: \"http://127.0.0.1:$SPORT/hook\", flavor: mattermost, command_token_file: $D/mm-token}"
	start
	local before body
	before=$(sha "$B")
	body="channel_id=fukxanjgjbnp7ng383at53k1sy&channel_name=town-square&command=%2Ffirebreak"
	body+="&response_url=$(uri "http://127.0.0.1:$SPORT/resp/mm1")&team_domain=example"
	body+="&team_id=ca9oi4rx7pfxbg9ou9ga8mfc3a&text=deploy+app+1.4.3&token=$MM_TOKEN"
	body+="&trigger_id=OXBoM3VkZXRlZmJlOGg3&user_id=8x3k&user_name=bob"
	http_post /mattermost/command "$body"
	assert_ack "deploy app 1.4.3"
	wait_req /resp/mm1
	local s
	s=$(short "$B")
	assert_eq "$(answer /resp/mm1)" "committed $s: deploy app 1.4.3 (production)"
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "the commit's parent"
	assert_eq "$(git -C "$B" log -1 --format='%an <%ae>')" "firebreak <firebreak@bot.example>"
	assert_eq "$(git -C "$B" log -1 --format=%B)" \
	    "$(printf 'deploy app 1.4.3 (production)\n\nRequested-by: bob\nRequested-via: mattermost #town-square\n')"
	wait_for "$CHAT" "^bob (mattermost #town-square): committed $s: deploy app 1.4.3 (production)"
	wait_req /hook 2
	assert_eq "$(reqs /hook | sed -n 1p | jq -r .text)" \
	    "bob (mattermost #town-square): committed $s: deploy app 1.4.3 (production)"
	assert_contains "$(reqs /hook | sed -n 2p | jq -r .text)" "plan 2 for $s"
}

@test "mattermost: the token in an Authorization header works; a wrong token is 401 and commits nothing" {
	EXTRA_CHAT="  - {type: webhook, url: \"http://127.0.0.1:$SPORT/hook\", flavor: mattermost, command_token_file: $D/mm-token}"
	start
	local before base
	before=$(sha "$B")
	base="channel_id=fukxanjgjbnp7ng383at53k1sy&channel_name=town-square&command=%2Ffirebreak"
	base+="&team_domain=example&team_id=ca9oi4rx7pfxbg9ou9ga8mfc3a&user_id=8x3k&user_name=bob"
	base+="&trigger_id=T$RANDOM$RANDOM"
	local url=http%3A%2F%2F127.0.0.1%3A$SPORT%2Fresp%2F

	http_post /mattermost/command "$base&text=deploy+app+6.6.6&response_url=${url}bad1&token=${MM_TOKEN}x"
	assert_http 401
	assert_eq "$ANSWER" "invalid token"
	http_post /mattermost/command "$base&text=deploy+app+6.6.6&response_url=${url}bad2" \
	    -H "Authorization: Token ${MM_TOKEN:1}"
	assert_http 401
	http_post /mattermost/command "$base&text=deploy+app+6.6.6&response_url=${url}bad3&token=wrong" \
	    -H "Authorization: Token $MM_TOKEN"
	assert_http 401
	http_post /mattermost/command "$base&text=deploy+app+6.6.6&response_url=${url}bad4"
	assert_http 401
	http_post /mattermost/command "$base&text=deploy+app+6.6.6&response_url=${url}bad5&token=$MM_TOKEN" \
	    -H "Authorization: Bearer $MM_TOKEN"
	assert_http 401
	# A Slack signature is no Mattermost token.
	local now b="$base&text=deploy+app+6.6.6&response_url=${url}bad6"
	now=$(now)
	http_post /mattermost/command "$b" -H "X-Slack-Request-Timestamp: $now" \
	    -H "X-Slack-Signature: v0=$(slack_sig "$now" "$b")"
	assert_http 401

	http_post /mattermost/command "$base&text=deploy+app+1.4.3&response_url=${url}good" \
	    -H "Authorization: Token $MM_TOKEN"
	assert_ack "deploy app 1.4.3"
	wait_req /resp/good
	assert_eq "$(answer /resp/good)" "committed $(short "$B"): deploy app 1.4.3 (production)"
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "the branch: one commit, the good one"
	assert_eq "$(trailer Requested-by)" "bob"
	assert_eq "$(trailer Requested-via)" "mattermost #town-square"
	assert_eq "$(nreqs /resp/bad)" 0 "answers to refused requests"
	assert_not_contains "$(slurp "$CHAT")" "6.6.6"
}

# mm_form TEXT RESPONSE-URL [TRIGGER]: a Mattermost slash command's body
# with the right token ("-" as TRIGGER leaves trigger_id out).
mm_form() {
	printf 'channel_id=fukxanjgjbnp7ng383at53k1sy&channel_name=town-square&command=%%2Ffirebreak'
	printf '&response_url=%s&team_domain=example&team_id=ca9oi4rx7pfxbg9ou9ga8mfc3a' "$(uri "$2")"
	printf '&text=%s&token=%s&user_id=8x3k&user_name=bob' "$1" "$MM_TOKEN"
	[ "${3:-}" = - ] || printf '&trigger_id=%s' "${3:-T$RANDOM$RANDOM}"
}

@test "mattermost: a response_url off the Mattermost server is not followed; a replayed trigger_id is 401; none is 400" {
	EXTRA_CHAT="  - {type: webhook, url: \"http://127.0.0.1:$SPORT/hook\", flavor: mattermost, command_token_file: $D/mm-token}"
	start
	local before
	before=$(sha "$B")
	# The same stand-in, named another way: a different origin.  Acted on
	# (the commit is announced in the channel), but the answer does not go
	# there.
	http_post /mattermost/command "$(mm_form deploy+app+1.4.3 "http://localhost:$SPORT/resp/steal" T1)"
	assert_ack "deploy app 1.4.3"
	wait_for "$CHAT" "^bob (mattermost #town-square): committed"
	sleep 1
	assert_eq "$(nreqs /resp/steal)" 0 "requests to a response_url off the server"
	wait_for "$D/run.log" "not answering through a response_url outside http://127.0.0.1:$SPORT"
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "one commit"
	# The same trigger_id again: refused, nothing runs.
	http_post /mattermost/command "$(mm_form deploy+app+1.4.4 "http://127.0.0.1:$SPORT/resp/again" T1)"
	assert_http 401
	assert_eq "$ANSWER" "replayed request"
	# No trigger_id: it could not be checked for replays.
	http_post /mattermost/command "$(mm_form deploy+app+1.4.5 "http://127.0.0.1:$SPORT/resp/none" -)"
	assert_http 400
	assert_contains "$ANSWER" "trigger_id: missing"
	sleep 1
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "still one commit"
	assert_eq "$(nreqs /resp/again)$(nreqs /resp/none)" "00" "answers to refused requests"
}

@test "slack: a response_url off response_url_origin is not followed" {
	start
	local body now
	body=$(slack_form U024BE7LH status /resp/x | sed "s/127.0.0.1%3A$SPORT/localhost%3A$SPORT/")
	now=$(now)
	slack_post /slack/command "$body" "$now"
	assert_ack status
	# A status answer would be there within a second or two.
	sleep 2
	assert_eq "$(nreqs /resp/x)" 0 "requests to a response_url off the origin"
	wait_for "$D/run.log" "not answering through a response_url outside http://127.0.0.1:$SPORT"
}

@test "slack: hostile text (CR/LF, NUL, 2000 bytes, invalid UTF-8, bidi) is 400 and commits nothing" {
	start
	local before long
	before=$(sha "$B")
	long=$(head -c 2000 /dev/zero | tr '\0' a)
	# TEXT (form-encoded) and the reason the 400 names.
	local -a cases=(
	    "deploy+app+1.0%0D%0ARequested-by%3A+mallory" "text holds a control, line separator or bidi character"
	    "deploy+app+1.0%0ARequested-via%3A+shell" "text holds a control, line separator or bidi character"
	    "deploy+app+1.0%00x" "form field text holds a NUL byte"
	    "$long" "text is 2000 bytes, over 1000"
	    "deploy+app+1.0%FF" "form field text holds invalid UTF-8"
	    "deploy+app+%E2%80%AE3.4.1" "text holds a control, line separator or bidi character"
	    "deploy+app+1.0%C0%AF" "form field text holds invalid UTF-8"
	    "deploy+app+1.0%" "form field text holds a '%' not followed by two hex digits"
	)
	local i
	for ((i = 0; i < ${#cases[@]}; i += 2)); do
		slack_command U024BE7LH "${cases[i]}" "/resp/bad$i"
		assert_http 400
		assert_eq "$CTYPE" "application/json" "Content-Type"
		assert_eq "$(jqr "$ANSWER" '.response_type + "|" + .text')" \
		    "ephemeral|firebreak could not read that request: ${cases[i + 1]}" \
		    "the answer to case $((i / 2 + 1))"
	done
	# Hostile fields other than the text.
	local body
	body=$(slack_form U024BE7LH "status" /resp/x | sed 's/user_id=U024BE7LH/user_id=..%2F..%2Fetc/')
	slack_post /slack/command "$body"
	assert_http 400
	assert_eq "$(jqr "$ANSWER" .text)" "firebreak could not read that request: user_id is not [A-Za-z0-9._-]{1,64}"
	body=$(slack_form U024BE7LH "status" /resp/x | sed 's/channel_name=ops/channel_name=ops%0Aevil/')
	slack_post /slack/command "$body"
	assert_http 400
	body=$(slack_form U024BE7LH "status" /resp/x |
	    sed 's/response_url=[^&]*/response_url=file%3A%2F%2F%2Fetc%2Fpasswd/')
	slack_post /slack/command "$body"
	assert_http 400
	assert_contains "$(jqr "$ANSWER" .text)" "response_url is not an http(s) URL"
	body="$(slack_form U024BE7LH "deploy+app+1.4.3" /resp/x)&text=deploy+app+6.6.6"
	slack_post /slack/command "$body"
	assert_http 400
	assert_eq "$(jqr "$ANSWER" .text)" "firebreak could not read that request: form field text appears more than once"

	# A good request after them goes through, and only it.
	slack_command U024BE7LH "deploy+app+1.4.3" /resp/good
	assert_ack "deploy app 1.4.3"
	wait_req /resp/good
	assert_eq "$(git -C "$B" rev-parse HEAD~1)" "$before" "the branch: one commit, the good one"
	assert_eq "$(git -C "$B" log -1 --format=%B)" \
	    "$(printf 'deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: slack #ops\n')"
	assert_eq "$(nreqs /resp/bad)" 0 "answers to refused requests"
	assert_eq "$(nreqs /resp/x)" 0 "answers to refused requests"
}
