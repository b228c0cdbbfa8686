#!/usr/bin/env bats
# The chat bot from the shell (`firebreak chat`): every command edits the
# inventory in place, commits as the bot with the person in the trailers,
# and the controller's plan for that commit follows in chat.  The
# inventory lives in a bare repository, as in production; people push to
# it from their own clone.

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	B=$BATS_TEST_TMPDIR/inventory.git
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	git clone -q --bare "$TEMPLATE" "$B"
	write_config
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	PID=
}

teardown() {
	stop_controller
}

# write_config [EXTRA-CHAT-ENTRY-LINES]
write_config() {
	{
		printf 'repo: %s\nbranch: main\nstate: %s\n' "$B" "$S"
		printf 'bot: {name: firebreak, email: firebreak@bot.example}\n'
		printf 'chat:\n  - {type: console, path: %s}\n' "$CHAT"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$C"
}

# bot USER COMMAND: a chat command from the shell, as USER.
bot() {
	"$FIREBREAK" chat --config "$C" --as "$1" "$2"
}

# A person's clone, to push human commits.
human_clone() {
	H=$BATS_TEST_TMPDIR/human
	git clone -q "$B" "$H"
	git -C "$H" config user.name "Hugh Man"
	git -C "$H" config user.email hugh@example.com
}

show() {
	git -C "$B" show "$1"
}

show_in() {
	git -C "$1" show "$2"
}

# The lines a commit removed and added in one file, "-old" / "+new".
changed_lines() {
	git -C "$B" diff --unified=0 "$1~1" "$1" -- "$2" | grep -E '^[-+]([^-+]|$)'
}

@test "bot: deploy commits as the bot, the asker in the trailers, one line changed, and the plan follows" {
	start_controller
	run bot alice "deploy app 1.4.3"
	assert_status 0
	local s
	s=$(short "$B")
	assert_eq "$output" "committed $s: deploy app 1.4.3 (production)"
	assert_eq "$(git -C "$B" log -1 --format='%an <%ae>|%cn <%ce>')" \
	    "firebreak <firebreak@bot.example>|firebreak <firebreak@bot.example>"
	assert_eq "$(git -C "$B" log -1 --format=%B)" \
	    "$(printf 'deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: shell\n')"
	assert_eq "$(changed_lines HEAD services/app.yaml)" "$(printf -- '-version: 1.4.2\n+version: 1.4.3')"
	assert_eq "$(git -C "$B" diff --name-only HEAD~1 HEAD)" "services/app.yaml"
	wait_for "$CHAT" "plan 2 for $s \"deploy app 1.4.3 (production)\" by alice: 1 pin.modify -> auto-applied"
}

@test "bot: deploy with an environment edits the override in place, comment kept" {
	run bot alice "deploy app 1.5.0 staging"
	assert_status 0
	assert_contains "$output" "deploy app 1.5.0 (staging)"
	assert_eq "$(changed_lines HEAD services/app.yaml)" \
	    "$(printf -- '-environments: {staging: 1.5.0-rc1}   # staging runs the release candidate\n+environments: {staging: 1.5.0}   # staging runs the release candidate')"
	run bot alice "deploy app 2.0.0 qa"
	assert_status 0
	assert_eq "$(show HEAD:services/app.yaml | sed -n 2p)" \
	    "environments: {staging: 1.5.0, qa: 2.0.0}   # staging runs the release candidate"
	run fb check --repo "$B"
	assert_status 0
}

@test "bot: UTF-8 text around the pin: deploy, deploy to an environment and a new environment commit, every other byte kept" {
	# libyaml counts characters, the editor splices bytes: one comment
	# like this used to make every deploy fail ("does not read back").
	local T=$BATS_TEST_TMPDIR
	human_clone
	{
		printf '# Zuständig: Jörg — 日本 🚀\n'
		cat "$H/services/app.yaml"
		printf '# Änderungen über den Bot ✓\n'
	} >"$T/app.yaml"
	cp "$T/app.yaml" "$H/services/app.yaml"
	commit_all "$H" "Zuständigkeit"
	git -C "$H" push -q origin main
	run bot alice "deploy app 1.4.3"
	assert_status 0
	assert_eq "$output" "committed $(short "$B"): deploy app 1.4.3 (production)"
	sed 's/^version: 1\.4\.2$/version: 1.4.3/' "$T/app.yaml" >"$T/want.1"
	show HEAD:services/app.yaml >"$T/got.1"
	cmp "$T/want.1" "$T/got.1"
	run bot alice "deploy app 1.5.0 staging"
	assert_status 0
	assert_eq "$output" "committed $(short "$B"): deploy app 1.5.0 (staging)"
	sed 's/{staging: 1\.5\.0-rc1}/{staging: 1.5.0}/' "$T/want.1" >"$T/want.2"
	show HEAD:services/app.yaml >"$T/got.2"
	cmp "$T/want.2" "$T/got.2"
	run bot alice "deploy app 2.0.0 qa"
	assert_status 0
	assert_eq "$output" "committed $(short "$B"): deploy app 2.0.0 (qa)"
	sed 's/{staging: 1\.5\.0}/{staging: 1.5.0, qa: 2.0.0}/' "$T/want.2" >"$T/want.3"
	show HEAD:services/app.yaml >"$T/got.3"
	cmp "$T/want.3" "$T/got.3"
	assert_eq "$(git -C "$B" diff --name-only HEAD~3 HEAD)" "services/app.yaml"
	run fb check --repo "$B"
	assert_status 0
}

@test "bot: a deploy that changes nothing makes no commit" {
	local before
	before=$(sha "$B")
	run bot alice "deploy app 1.4.2"
	assert_status 0
	assert_eq "$output" "app is already at 1.4.2; nothing to do"
	assert_eq "$(sha "$B")" "$before" "the branch"
}

@test "bot: drain waits for approval; the asker may not approve it, another approver may" {
	start_controller
	run bot alice "drain web-02"
	assert_status 0
	assert_eq "$(changed_lines HEAD hosts/web-02.example.com.yaml)" \
	    "$(printf -- '-state: active\n+state: drained')"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02.example.com\" by alice: .* -> approve (waiting for an approver)"
	run bot alice "approve 2"
	assert_status 1
	assert_contains "$output" "plan 2 only carries alice's own commands; someone else must approve it"
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" "open"
	run bot bob "approve 2"
	assert_status 0
	assert_contains "$output" "plan 2 applied"
	assert_eq "$(cat "$S/applied")" "$(sha "$B")"
	run bot bob "undrain web-02.example.com"
	assert_status 0
	assert_eq "$(changed_lines HEAD hosts/web-02.example.com.yaml)" \
	    "$(printf -- '-state: drained\n+state: active')"
}

@test "bot: self_approve: true lets the asker approve their own plan" {
	human_clone
	edit "$H" policy.yaml -e 's/^groups:/self_approve: true\ngroups:/'
	commit_all "$H" "policy: self approval"
	git -C "$H" push -q origin main
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	start_controller
	run bot alice "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 3 .* -> approve"
	run bot alice "approve 3"
	assert_status 0
	assert_contains "$output" "plan 3 applied"
}

@test "bot: discard drops an open plan" {
	start_controller
	run bot alice "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 2 .* -> approve"
	run bot bob "discard 2"
	assert_status 0
	assert_eq "$(jq -r .outcome "$S/plans/2.json")" "discarded"
}

@test "bot: provision takes a spare host into a role; decommission returns it" {
	start_controller
	run bot carol "provision spare-01.example.com web staging"
	assert_status 0
	assert_contains "$output" "provision spare-01.example.com as web (staging)"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"provision spare-01.example.com as web (staging)\" by carol: .*enc.modify"
	assert_eq "$(show HEAD:hosts/spare-01.example.com.yaml)" \
	    "$(printf 'state: active        # the contingency pool: `provision` takes it into service\nip: 10.0.9.1\nrole: web\nenvironment: staging')"
	run bot carol "provision spare-01.example.com web"
	assert_status 1
	assert_eq "$output" "spare-01.example.com is active, not spare; provision takes a host from the spare pool (decommission returns one to it)"
	run bot carol "decommission spare-01.example.com"
	assert_status 0
	assert_eq "$(changed_lines HEAD hosts/spare-01.example.com.yaml)" \
	    "$(printf -- '-state: active        # the contingency pool: `provision` takes it into service\n+state: spare        # the contingency pool: `provision` takes it into service')"
	run fb check --repo "$B"
	assert_status 0
}

@test "bot: dns add appends a record in the file's style; dns rm removes exactly it" {
	local before
	before=$(show HEAD:dns/example.com.yaml)
	start_controller
	run bot alice "dns add status CNAME statuspage.example.net. example.com"
	assert_status 0
	assert_contains "$output" "dns add status CNAME statuspage.example.net. (example.com)"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"dns add status CNAME statuspage.example.net. (example.com)\" by alice: 1 dns.add -> approve"
	assert_eq "$(changed_lines HEAD dns/example.com.yaml)" \
	    "+  - {name: status, type: CNAME, value: statuspage.example.net.}"
	run fb render --repo "$B" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	assert_contains "$(cat "$BATS_TEST_TMPDIR/out/terraform/route53/example.com.tf.json")" '"statuspage.example.net."'
	run bot alice "dns add status.example.com CNAME other.example.net."
	assert_status 1
	assert_contains "$output" "status CNAME already exists in example.com"
	run bot alice "dns rm status CNAME example.com"
	assert_status 0
	assert_eq "$(show HEAD:dns/example.com.yaml)" "$before"
	run bot alice "dns rm status CNAME example.com"
	assert_status 1
	assert_eq "$output" "there is no CNAME record 'status' in example.com"
}

@test "bot: revert undoes an earlier human commit as a new bot commit" {
	human_clone
	edit "$H" roles/web.yaml -e 's/nginx_workers: 4/nginx_workers: 6/'
	commit_all "$H" "more workers"
	git -C "$H" push -q origin main
	local target before
	target=$(short "$B")
	before=$(git -C "$B" rev-parse HEAD~1^{tree})
	start_controller
	run bot alice "revert $target"
	assert_status 0
	assert_contains "$output" "revert $target \"more workers\""
	wait_for "$CHAT" "for $(short "$B") \"revert $target .*\" by alice: "
	assert_eq "$(git -C "$B" rev-parse HEAD^{tree})" "$before" "the tree after the revert"
	assert_eq "$(git -C "$B" log -1 --format='%an')" "firebreak"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "alice"
	run bot bob "revert $target"
	assert_status 1
	assert_eq "$output" "bob may not run revert (commands.revert in policy.yaml)"
}

@test "bot: history shows who asked for what" {
	human_clone
	run bot alice "deploy app 1.4.3"
	assert_status 0
	run bot carol "drain web-01"
	assert_status 0
	run bot dave "history 3"
	assert_status 0
	assert_eq "$(echo "$output" | sed -n 1p | cut -c1-7)" "$(short "$B")"
	assert_contains "$(echo "$output" | sed -n 1p)" "drain web-01.example.com  (carol via shell)"
	assert_contains "$(echo "$output" | sed -n 2p)" "deploy app 1.4.3 (production)  (alice via shell)"
	assert_contains "$(echo "$output" | sed -n 3p)" "initial inventory  (Alice Example, by hand)"
	assert_eq "$(echo "$output" | wc -l)" "3"
}

# forged_commit AUTHOR-NAME AUTHOR-EMAIL COMMITTER-NAME COMMITTER-EMAIL SUBJECT:
# drain web-02 by hand in the human clone, with trailers that name alice,
# and push it.
forged_commit() {
	edit "$H" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	git -C "$H" add -A
	GIT_AUTHOR_NAME=$1 GIT_AUTHOR_EMAIL=$2 GIT_COMMITTER_NAME=$3 GIT_COMMITTER_EMAIL=$4 \
	    git -C "$H" commit -q -m "$5" -m "$(printf 'Requested-by: alice\nRequested-via: slack #ops')"
	git -C "$H" push -q origin main
}

@test "bot: a hand-made commit's Requested-by trailer is not believed: plan, history and approval name its author" {
	human_clone
	start_controller
	forged_commit mallory mallory@example.com mallory mallory@example.com "drain web-02 by hand"
	# git itself reads the trailer: it is well-formed, only not believed.
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "alice"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02 by hand\" by mallory: .* -> approve"
	assert_eq "$(grep -c '"drain web-02 by hand" by alice' "$CHAT")" "0" "alice named in chat"
	run bot dave "history 1"
	assert_status 0
	assert_contains "$output" "drain web-02 by hand  (mallory, by hand)"
	# Not alice's own command, so alice, an approver, may approve it.
	run bot alice "approve 2"
	assert_status 0
	assert_contains "$output" "plan 2 applied"
}

@test "bot: a commit authored as the bot but committed by someone else is not the bot's" {
	# Author AND committer must be the bot's name and email before a
	# trailer is believed; here only the author is.
	human_clone
	start_controller
	forged_commit firebreak firebreak@bot.example mallory mallory@example.com "drain web-02"
	wait_for "$CHAT" "plan 2 for $(short "$B") \"drain web-02\" by firebreak: .* -> approve"
	run bot dave "history 1"
	assert_status 0
	assert_contains "$output" "drain web-02  (firebreak, by hand)"
	run bot alice "approve 2"
	assert_status 0
	assert_contains "$output" "plan 2 applied"
}

@test "bot: help lists what this user may run; help CMD shows syntax and an example" {
	run bot alice help
	assert_status 0
	assert_contains "$output" "dns add NAME TYPE VALUE [ZONE]"
	assert_contains "$output" "approve ID"
	run bot dave help
	assert_status 0
	assert_contains "$output" "deploy SERVICE VERSION [ENV]"
	[[ "$output" != *"dns add"* ]] || { echo "dave may not run dns: $output"; false; }
	[[ "$output" != *"approve ID"* ]] || { echo "dave is no approver: $output"; false; }
	run bot dave "help dns"
	assert_status 0
	assert_contains "$output" "example: dns add status CNAME statuspage.example.net."
	assert_contains "$output" "(you may not run it: see commands in policy.yaml)"
}

@test "bot: unknown commands and bad arguments get the right syntax and change nothing" {
	local before
	before=$(sha "$B")
	run bot alice "deplyo app 1.4.3"
	assert_status 1
	assert_eq "$output" "unknown command 'deplyo' (did you mean deploy?); \`help\` lists what you may run"
	run bot alice "deploy app"
	assert_status 1
	assert_eq "$output" "usage: deploy SERVICE VERSION [ENV] (example: deploy app 1.4.3)"
	run bot alice "deploy ap 1.4.3"
	assert_status 1
	assert_eq "$output" "there is no service 'ap' (services/ap.yaml); did you mean app?"
	run bot alice "drain web-99"
	assert_status 1
	assert_contains "$output" "there is no host 'web-99'"
	run bot alice "drain web-03"
	assert_status 0
	assert_eq "$output" "web-03.example.com is already drained; nothing to do"
	run bot alice "undrain spare-01.example.com"
	assert_status 1
	assert_eq "$output" "spare-01.example.com is spare; undrain applies to drained hosts"
	run bot alice "provision spare-01 nosuchrole"
	assert_status 1
	assert_contains "$output" "there is no role 'nosuchrole'"
	run bot alice "dns add www A 300.1.1.1 example.com"
	assert_status 1
	assert_contains "$output" "an A record's value is an IPv4 address"
	run bot alice "dns add x BOGUS y example.com"
	assert_status 1
	assert_contains "$output" "'BOGUS' is not a record type"
	run bot alice "dns add x A 10.0.0.1"
	assert_status 1
	assert_eq "$output" "which zone? name it after the value: example.com, example.net"
	run bot alice "plan 999"
	assert_status 1
	assert_eq "$output" "there is no plan 999"
	assert_eq "$(sha "$B")" "$before" "the branch"
}

@test "bot: authorisation table; every refusal leaves no commit" {
	local before
	write_config "  - {type: irc, server: \"127.0.0.1:9\", nick: firebreak, channel: \"#ops\"}"
	before=$(sha "$B")
	# Denied by commands: drain is for the ops group, dns for alice and bob.
	run bot dave "drain web-01"
	assert_status 1
	assert_eq "$output" "dave may not run drain (commands.drain in policy.yaml)"
	run bot carol "dns rm docs CNAME example.com"
	assert_status 1
	assert_eq "$output" "carol may not run dns rm (commands.dns in policy.yaml)"
	# Unmapped identities may read, not write.
	run fb chat --config "$C" --identity slack:U999 "deploy app 1.4.3"
	assert_status 1
	assert_contains "$output" "you are not mapped to a firebreak user"
	run fb chat --config "$C" --identity slack:U999 "status"
	assert_status 0
	assert_contains "$output" "applied: $before"
	run fb chat --config "$C" --identity slack:U999 "history 1"
	assert_status 0
	# Approvers only; and not over IRC unless the config allows it.
	run bot carol "approve 1"
	assert_status 1
	assert_eq "$output" "carol is not an approver (approvers in policy.yaml)"
	run fb chat --config "$C" --identity irc:carol "approve 1"
	assert_status 1
	assert_eq "$(sha "$B")" "$before" "the branch after every refusal"
	# Mapped identities act as their policy user.
	run fb chat --config "$C" --identity slack:U024BE7LH --via "slack #ops" "deploy app 1.4.3"
	assert_status 0
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-by,valueonly)')" "alice"
	assert_eq "$(git -C "$B" log -1 --format='%(trailers:key=Requested-via,valueonly)')" "slack #ops"
}

@test "bot: what the chat provider vouches for decides: --unverified reads only, --no-approve cannot approve" {
	# The controller runs chat commands with the flags the provider set:
	# --unverified for an identity the platform does not vouch for (a bare
	# IRC nick), --no-approve where approving may not come from (IRC
	# without allow_approve).  The real IRC path is in bot_irc.bats.
	start_controller
	run fb chat --config "$C" --as carol "drain web-02"
	assert_status 0
	wait_for "$CHAT" "plan 2 .* -> approve"
	stop_controller
	human_clone
	edit "$H" policy.yaml -e 's/"irc-account:carol": carol}/"irc-account:carol": carol, "irc:alice": alice, "irc-account:alice": alice}/'
	commit_all "$H" "map alice on irc"
	git -C "$H" push -q origin main
	run fb apply --repo "$B" --state "$S"
	assert_status 0
	start_controller
	run fb chat --config "$C" --as carol "drain web-01"
	assert_status 0
	wait_for "$CHAT" "plan 4 .* -> observe"
	# A bare nick, even one policy maps, is not an identity.
	run fb chat --config "$C" --identity irc:alice --unverified --via "irc #ops" "approve 4"
	assert_status 1
	assert_eq "$output" "irc:alice is not an identity the chat server vouches for (anyone can take a nick), so you may only run help, plan, status and history; log in to your services account and map its identity in policy.yaml"
	run fb chat --config "$C" --identity irc:alice --unverified --via "irc #ops" "drain web-03"
	assert_status 1
	assert_contains "$output" "is not an identity the chat server vouches for"
	run fb chat --config "$C" --identity irc:alice --unverified --via "irc #ops" "status"
	assert_status 0
	# A vouched-for account where approving is off.
	run fb chat --config "$C" --identity irc-account:alice --no-approve --via "irc #ops" "approve 4"
	assert_status 1
	assert_eq "$output" "approving from irc #ops is off (allow_approve on its chat entry turns it on); approve in Slack or with \`firebreak approve\`"
	assert_eq "$(jq -r .outcome "$S/plans/4.json")" "open"
	# And where it is on.
	run fb chat --config "$C" --identity irc-account:alice --via "irc #ops" "approve 4"
	assert_status 0
	assert_contains "$output" "plan 4 applied"
}

@test "bot: nothing the bot commits touches policy.yaml (a revert of a policy change is refused)" {
	human_clone
	edit "$H" policy.yaml -e 's/^auto: \[pin.modify, enc.modify\]/auto: [pin.modify]/'
	commit_all "$H" "policy: fewer autos"
	git -C "$H" push -q origin main
	local before
	before=$(sha "$B")
	run bot alice "revert $(short "$B")"
	assert_status 1
	assert_contains "$output" "would change policy.yaml; the bot never commits policy changes"
	assert_eq "$(sha "$B")" "$before"
}

@test "bot: hostile arguments are refused or quoted; the repository stays valid" {
	local before
	before=$(sha "$B")
	local bad
	for bad in "deploy app ../../etc/passwd" "deploy ../app 1.0" "deploy app 1.0 ../prod" \
	    "drain ../../etc/passwd" "drain web-01.example.com/../x" "deploy app 1.0:x" \
	    "deploy app {1.0}" "deploy app #1" 'deploy app ${jndi}' 'deploy app $(rm -rf /)' \
	    "deploy app 1.0;ls" "deploy app \`id\`" "deploy app 'x'" "deploy app 1.0 PROD" \
	    "dns add a:b A 10.0.0.1 example.com" "dns add x A 10.0.0.1 ../example.com" \
	    "dns add x CNAME 'a b' example.com" "dns add x CNAME a\$b. example.com" \
	    "provision spare-01 web {x: y}" "deploy app $(printf 'v%.0s' $(seq 70))"; do
		run bot alice "$bad"
		[ "$status" -eq 1 ] || { echo "accepted: $bad -> $output"; false; }
	done
	run bot alice "$(printf 'deploy app 1.0\r\nRequested-by: mallory')"
	assert_status 1
	assert_contains "$output" "without control characters"
	run bot alice "$(printf 'deploy app 1.0\xff')"
	assert_status 1
	run bot alice "$(head -c 2000 /dev/zero | tr '\0' a)"
	assert_status 1
	assert_contains "$output" "too long"
	assert_eq "$(sha "$B")" "$before" "the branch after every refusal"
	# A TXT value may hold YAML's and the shell's special characters: quoted.
	local v='a: b # c {d} [e] ${f} $(g) `h` '"'"'j'"'"' %k &l *m !n'
	run bot alice "dns add note TXT \"$v\" example.com"
	assert_status 0
	run fb check --repo "$B"
	assert_status 0
	run fb render --repo "$B" --out "$BATS_TEST_TMPDIR/out"
	assert_status 0
	assert_eq "$(jq -r '.resource.aws_route53_record[] | select(.name == "note.example.com") | .records[0]' \
	    "$BATS_TEST_TMPDIR/out/terraform/route53/example.com.tf.json")" "$(printf '%s' "$v" | sed 's/\${/$${/g')"
}

@test "bot: 30 commands at once and human pushes in between: each lands exactly once" {
	human_clone
	local i pids=()
	for i in $(seq 1 30); do
		"$FIREBREAK" chat --config "$C" --as alice "deploy app 1.$i.0 env$i" \
		    >"$BATS_TEST_TMPDIR/bot.$i" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3; do
		echo "# note $i" >>"$H/roles/db.yaml"
		commit_all "$H" "human $i"
		until git -C "$H" push -q origin main 2>/dev/null; do
			git -C "$H" pull -q --rebase origin main
		done
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$BATS_TEST_TMPDIR/bot.$((i + 1))"; false; }
	done
	for i in $(seq 1 30); do
		assert_eq "$(git -C "$B" log --format=%s | grep -cx "deploy app 1.$i.0 (env$i)")" "1" "commits for env$i"
		show HEAD:services/app.yaml | grep -q "env$i: 1.$i.0" || { show HEAD:services/app.yaml; false; }
	done
	for i in 1 2 3; do
		assert_eq "$(git -C "$B" log --format=%s | grep -cx "human $i")" "1" "human $i"
	done
	assert_eq "$(show HEAD:roles/db.yaml | grep -c '^# note')" "3"
	run fb check --repo "$B"
	assert_status 0
}

@test "bot: a checked-out branch's work tree follows the bot's commit, so the next human commit keeps it" {
	local W=$BATS_TEST_TMPDIR/work
	new_repo "$W"
	printf 'repo: %s\nstate: %s/ws\n' "$W" "$BATS_TEST_TMPDIR" >"$C"
	run fb apply --repo "$W" --state "$BATS_TEST_TMPDIR/ws"
	assert_status 0
	run bot alice "deploy app 1.4.3"
	assert_status 0
	assert_eq "$(git -C "$W" status --porcelain)" "" "the work tree after the bot's commit"
	edit "$W" roles/web.yaml -e 's/nginx_workers: 4/nginx_workers: 6/'
	commit_all "$W" "more workers"
	assert_eq "$(show_in "$W" HEAD:services/app.yaml | sed -n 1p)" "version: 1.4.3"
	# A local change to the same file: the commit lands, the work tree is
	# left alone, and the answer says so.
	echo "# local note" >>"$W/services/app.yaml"
	local before
	before=$(short "$W")
	run bot alice "deploy app 1.4.4"
	assert_status 0
	assert_eq "${lines[1]}" "note: $W: the work tree was left at $before (main is at $(short "$W")): services/app.yaml has local changes; after setting them aside, \`git read-tree -u -m $before main\` brings it up"
	assert_eq "$(tail -1 "$W/services/app.yaml")" "# local note"
	assert_eq "$(git -C "$W" write-tree)" "$(git -C "$W" rev-parse "$before^{tree}")" "the index is left alone"
	# The recipe in the note works.
	git -C "$W" checkout -- services/app.yaml
	git -C "$W" read-tree -u -m "$before" main
	assert_eq "$(git -C "$W" status --porcelain)" "" "after the recipe"
	# A local change to another file: the update goes around it, and it stays.
	echo "# local note" >>"$W/roles/db.yaml"
	run bot alice "deploy app 1.4.5"
	assert_status 0
	assert_eq "$output" "committed $(short "$W"): deploy app 1.4.5 (production)"
	assert_eq "$(git -C "$W" status --porcelain)" " M roles/db.yaml"
	assert_eq "$(sed -n 1p "$W/services/app.yaml")" "version: 1.4.5"
	git -C "$W" checkout -- roles/db.yaml
	# Something staged: the index is at no commit of the branch; left alone.
	before=$(short "$W")
	echo "# staged" >>"$W/roles/db.yaml"
	git -C "$W" add roles/db.yaml
	run bot alice "deploy app 1.4.6"
	assert_status 0
	assert_eq "${lines[1]}" "note: $W: the work tree's index is not at main or any of its last 1000 commits (are changes staged there?); left alone"
	assert_eq "$(git -C "$W" diff --cached --name-only "$before")" "roles/db.yaml"
	assert_eq "$(sed -n 1p "$W/services/app.yaml")" "version: 1.4.5"
}

@test "bot: after bursts of concurrent commands a checked-out work tree and its index are at the branch head" {
	# Each command syncs the work tree after its own compare-and-swap; a
	# sync of an older commit used to land after a newer one, leaving the
	# index a step behind HEAD (a person's next `git commit -a` would then
	# undo the bot's commits).  Four bursts of 25, checked after each.
	local W=$BATS_TEST_TMPDIR/work i r pids n=25 v=2
	new_repo "$W"
	printf 'repo: %s\nstate: %s/ws\n' "$W" "$BATS_TEST_TMPDIR" >"$C"
	run fb apply --repo "$W" --state "$BATS_TEST_TMPDIR/ws"
	assert_status 0
	for r in 1 2 3 4; do
		pids=()
		for i in $(seq 1 $n); do
			v=$((v + 1))
			"$FIREBREAK" chat --config "$C" --as alice "deploy app 1.4.$v" \
			    >"$BATS_TEST_TMPDIR/bot.$r.$i" 2>&1 &
			pids+=($!)
		done
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}" || { cat "$BATS_TEST_TMPDIR/bot.$r.$((i + 1))"; false; }
		done
		assert_eq "$(git -C "$W" log --format=%s | grep -c '^deploy app ')" "$((r * n))" "bot commits"
		assert_eq "$(git -C "$W" status --porcelain)" "" "git status, burst $r"
		assert_eq "$(git -C "$W" diff HEAD)" "" "git diff HEAD, burst $r"
		run git -C "$W" diff --cached --quiet
		assert_status 0
		assert_eq "$(git -C "$W" write-tree)" "$(git -C "$W" rev-parse 'HEAD^{tree}')" \
		    "the index is HEAD's tree, burst $r"
		# A clean work tree: no command had a reason to leave it alone.
		assert_eq "$(cat "$BATS_TEST_TMPDIR"/bot.$r.* | grep -c '^note:')" "0" "notes, burst $r"
	done
}

@test "bot: with a remote, commands are pushed there; racing pushes are fetched and redone, none lost" {
	# The controller's repository is a clone; the team's repository (the
	# remote) is where people push.
	local U=$BATS_TEST_TMPDIR/upstream.git L=$BATS_TEST_TMPDIR/local.git i pids=()
	mv "$B" "$U"
	git clone -q --bare "$U" "$L"
	B=$L
	{
		printf 'repo: %s\nbranch: main\nstate: %s\nremote: %s\n' "$L" "$S" "$U"
		printf 'bot: {name: firebreak, email: firebreak@bot.example}\n'
	} >"$C"
	human_clone
	git -C "$H" remote set-url origin "$U"
	echo "# note" >>"$H/roles/db.yaml"
	commit_all "$H" "human before"
	git -C "$H" push -q origin main
	# The bot fetches first: its commit lands on top of the human one.
	run bot alice "deploy app 1.4.3"
	assert_status 0
	assert_eq "$(git -C "$U" log -2 --format=%s)" "$(printf 'deploy app 1.4.3 (production)\nhuman before')"
	assert_eq "$(sha "$L")" "$(sha "$U")" "the local branch follows the remote"
	# Ten at once: each push that loses the race is fetched and redone.
	for i in $(seq 1 10); do
		"$FIREBREAK" chat --config "$C" --as alice "deploy app 2.$i.0 env$i" \
		    >"$BATS_TEST_TMPDIR/bot.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$BATS_TEST_TMPDIR/bot.$((i + 1))"; false; }
	done
	for i in $(seq 1 10); do
		assert_eq "$(git -C "$U" log --format=%s | grep -cx "deploy app 2.$i.0 (env$i)")" "1" "env$i"
	done
	assert_eq "$(git -C "$U" log --format=%s | grep -c '^human before$')" "1"
	run fb check --repo "$U"
	assert_status 0
}
