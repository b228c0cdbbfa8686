#!/usr/bin/env bats
# The plan page (GET /plans/ID) as people read it: in a real headless
# Chromium (Debian's chromium, driven over the DevTools protocol by
# tests/e2e/browser/pagecheck.py), served by a real controller this test
# starts, at a laptop's width (1280 px) and a phone's (390 px).  For a
# plan with ENC, DNS and pin changes (approved, then rolled out), an
# invalid plan and a plan of thousands of changes: the page fits the
# screen (no sideways scrolling), the diff is coloured (added and removed
# lines in different computed colours), the summary, decision, approvals,
# errors and rollout show, nothing goes to the console, and the
# Content-Security-Policy holds (no script allowed, none on the page, no
# violation reported).  A screenshot per case and width is kept in
# build/artifacts/planpage/ (README "The plan page").

load helpers

setup_file() {
	require_firebreak
	require_jq
	if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
		echo "chromium is required (make deps installs Debian's chromium)" >&2
		return 1
	fi
	template_repo
}

setup() {
	D=$BATS_TEST_TMPDIR
	R=$D/repo
	S=$D/state
	C=$D/firebreak.yaml
	CHAT=$D/chat.log
	ART=${BUILD:-$TOP/build}/artifacts/planpage
	mkdir -p "$ART" "$D/shots"
	new_repo "$R"
	PORT=$(free_port)
	printf 'repo: %s\nbranch: main\nstate: %s\nlisten: 127.0.0.1:%s\nchat:\n  - {type: console, path: %s}\n' \
	    "$R" "$S" "$PORT" "$CHAT" >"$C"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	PID=
}

teardown() {
	stop_controller
}

# check_page ID NAME: load /plans/ID in Chromium; the report in $D/NAME.json
# (and P, its text), the screenshots and the report copied to $ART.
check_page() {
	run --separate-stderr python3 "$TOP/tests/e2e/browser/pagecheck.py" --dir "$D/shots" \
	    --name "$2" "http://127.0.0.1:$PORT/plans/$1"
	assert_status 0
	# The timings, beside the test's result.
	sed 's/^/# /' <<<"$stderr" >&3
	printf '%s\n' "$output" >"$D/$2.json"
	cp "$D/$2.json" "$D/shots/$2-1280.png" "$D/shots/$2-390.png" "$ART/"
	P=$output
}

# What every plan page must be, at both widths: served with a CSP that
# allows no script and no inline anything but our stylesheet's hash; no
# script, no style attribute on the page; nothing on the console, no
# uncaught error, no log warning, no DevTools issue (a CSP violation is
# both); nothing wider than the screen; the diff's added and removed lines
# in different colours, neither the text's.
assert_page_sound() {
	assert_eq "$(jqr "$P" .status)" 200 "the page's status"
	local csp
	csp=$(jqr "$P" .csp)
	assert_contains "$csp" "default-src 'none'; style-src 'sha256-"
	assert_not_contains "$csp" "unsafe-inline"
	assert_not_contains "$csp" "unsafe-eval"
	assert_not_contains "$csp" "script-src"
	assert_eq "$(jqc "$P" '[.console, .exceptions, .log, .issues]')" '[[],[],[],[]]' \
	    "console messages, exceptions, log entries and issues"
	local w
	for w in 1280 390; do
		assert_eq "$(jqc "$P" ".views[\"$w\"] | [.viewport_width, .scroll_width <= .viewport_width, .dom.wider_than_viewport]")" \
		    "[$w,true,[]]" "at $w px: the viewport, whether the page fits it, what sticks out"
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.scripts, .style_attributes, .style_elements]")" \
		    '[0,0,1]' "at $w px: scripts, style attributes, style elements"
	done
	if [ "${1:-diff}" = diff ]; then
		assert_eq "$(jqc "$P" '.views["1280"].dom | [.diff_add.color != .diff_del.color,
		    .diff_add.background != .diff_del.background, .diff_add.color != .body_colour.color,
		    .diff_del.color != .body_colour.color]')" '[true,true,true,true]' \
		    "the diff's added and removed lines: colours that differ"
	fi
}

@test "planpage: ENC, DNS and pin changes read path by path; approvals and the rollout show; laptop and phone" {
	hook=$D/orchestrate
	# web-03's Puppet run fails, with output; the others change.
	printf '#!/bin/sh\ncase "$1" in web-03.*) echo "Error: Could not apply catalog for $1"; exit 4;; esac\nexit 2\n' >"$hook"
	chmod +x "$hook"
	printf 'rollout:\n  orchestrator: {type: exec, argv: [%s, "{host}"], timeout: 10}\n  canary: 1\n  batch: 2\n  parallel: 2\n  max_failures: 5\n' \
	    "$hook" >>"$C"
	start_controller
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	edit "$R" roles/web.yaml -e 's/^classes: \[profile::base, profile::web\]/classes: [profile::base, profile::web, profile::nginx]/' \
	    -e 's/nginx_workers: 4/nginx_workers: 6/'
	commit_all "$R" "drain web-02, app 1.4.3, nginx"
	wait_for "$CHAT" 'plan 2 .* -> approve (waiting for an approver)'
	run fb approve --config "$C" --as alice 2
	assert_status 0
	# The served JSON carries the rollout (the controller adds it).
	local ro
	for _ in $(seq 400); do
		ro=$(curl -sS "http://127.0.0.1:$PORT/plans/2.json" | jq -r '.rollout.status // empty')
		[ -n "$ro" ] && [ "$ro" != running ] && [ "$ro" != pending ] && break
		sleep 0.05
	done
	assert_eq "$ro" done "plan 2's rollout"
	check_page 2 changes
	assert_page_sound
	local w
	for w in 1280 390; do
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.title, .h1, .summary, .decision, .needs, .approvals, .decided_by, .outcome]")" \
		    "[\"plan 2\",\"plan 2\",\"plan 2 for $(short "$R") \\\"drain web-02, app 1.4.3, nginx\\\" by Alice Example: 5 enc.modify, 1 dns.modify, 1 pin.modify -> approve\",\"approve\",\"dns\",\"dns by alice\",\"alice\",\"applied\"]" \
		    "at $w px: the summary and the details"
		# What each change changed, path by path (no whole documents).
		assert_eq "$(jqr "$P" ".views[\"$w\"].dom.change_lines[] | \"\\(.[0]): \\(.[1] | join(\" | \"))\"")" \
"lb-01.example.com: parameters.backends: − web-02.example.com
web-01.example.com: classes: + profile::nginx
web-02.example.com: classes: + profile::nginx | parameters.nginx_workers: 4 → 6
web-03.example.com: classes: + profile::nginx | parameters.nginx_workers: 4 → 6
web-s1.example.net: classes: + profile::nginx | parameters.nginx_workers: 4 → 6
www.example.com/A: − 10.0.1.6
profile::app::version: 1.4.2 → 1.4.3" "at $w px: the changes"
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.rollout, .rollout_hosts, .rollout_failed]")" \
		    '["done",5,["web-03.example.com: Error: Could not apply catalog for web-03.example.com"]]' \
		    "at $w px: the rollout"
		# The semantic lines are coloured like the diff.
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.change_add.background != .change_del.background, .change_add.color == .diff_add.color, .change_del.color == .diff_del.color]")" \
		    '[true,true,true]' "at $w px: the colours of added and removed values"
	done
}

@test "planpage: an invalid plan shows its errors and its decision" {
	start_controller
	printf 'role: nope\nip: 10.0.1.77\n' | write_file "$R" hosts/bad-01.example.com.yaml
	commit_all "$R" "a host with no role file"
	wait_for "$CHAT" 'plan 2 .* -> invalid'
	check_page 2 invalid
	assert_page_sound nodiff
	local w
	for w in 1280 390; do
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.summary, .decision, .changes, .headings[0]]")" \
		    "[\"plan 2 for $(short "$R") \\\"a host with no role file\\\" by Alice Example: 1 error -> invalid\",\"invalid\",0,\"errors (1)\"]" \
		    "at $w px: the summary, the decision, the changes"
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom.errors")" \
		    "[\"hosts/bad-01.example.com.yaml:1 role 'nope' has no file roles/nope.yaml\"]" \
		    "at $w px: the errors"
	done
}

@test "planpage: a plan of thousands of changes renders whole, fits, and stays quiet" {
	local i
	# 2000 new web hosts: an ENC document and an address each, and every
	# one of them in www's round robin and lb-01's backends.
	for ((i = 0; i < 2000; i++)); do
		printf 'role: web\nip: 10.2.%d.%d\nstate: active\n' $((i / 200)) $((i % 200 + 1)) \
		    >"$R/hosts/gen-$(printf %04d $i).example.com.yaml"
	done
	# A parameter of 300 characters with no blank to break at, on every
	# web host: it folds (<details>) and still fits a phone.
	edit "$R" roles/web.yaml -e "s/^  tls: true/  tls: true\n  banner: $(printf 'x%.0s' $(seq 300))/"
	commit_all "$R" "2000 web hosts"
	start_controller
	wait_for "$CHAT" 'plan 2 .* -> approve'
	local n
	n=$(jq '.changes | length' "$S/plans/2.json")
	[ "$n" -ge 2000 ] || { echo "only $n changes" >&2; false; }
	check_page 2 huge
	assert_page_sound
	local w
	for w in 1280 390; do
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom | [.changes, .decision, .headings[0]]")" \
		    "[$n,\"approve\",\"changes ($n)\"]" "at $w px: every change"
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom.folded_values > 2000")" true \
		    "at $w px: long values folded"
		# lb-01's 2000 new backends: 40 lines, the rest counted.
		assert_eq "$(jqc "$P" ".views[\"$w\"].dom.omitted")" \
		    '["and 1960 more; the whole change is in the JSON","and 1960 more; the whole change is in the JSON"]' \
		    "at $w px: the changes cut short"
	done
}

# The check itself: a page that breaks every rule is caught (so a quiet
# report above means a quiet page, not a deaf browser).
@test "planpage: the browser check sees inline script and style refused by a CSP, console errors and a page too wide" {
	cat >"$D/bad.py" <<-'EOF'
	import http.server, sys
	class H(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        body = (b"<!DOCTYPE html><html><head><meta name=viewport content='width=device-width'>"
	                b"<style>p{color:red}</style></head><body><p style='color:blue'>x</p>"
	                b"<pre>" + b"y" * 400 + b"</pre><script>console.error('boom')</script></body></html>")
	        self.send_response(200)
	        self.send_header("Content-Type", "text/html")
	        if self.path.endswith("/1"):
	            self.send_header("Content-Security-Policy", "default-src 'none'")
	        self.end_headers()
	        self.wfile.write(body)
	    def log_message(self, *a):
	        pass
	s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
	s.serve_forever()
	EOF
	python3 "$D/bad.py" "$PORT" &
	PID=$!
	for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
	run --separate-stderr python3 "$TOP/tests/e2e/browser/pagecheck.py" --dir "$D/shots" --name bad \
	    "http://127.0.0.1:$PORT/plans/1"
	assert_status 0
	P=$output
	assert_eq "$(jqc "$P" '[.csp, ([.issues[] | select(. == "ContentSecurityPolicyIssue")] | length > 0),
	    ([.log[] | select(startswith("security: Executing inline script violates"))] | length > 0),
	    ([.log[] | select(startswith("security: Applying inline style violates"))] | length > 0)]')" \
	    "[\"default-src 'none'\",true,true,true]" "the CSP violations"
	assert_eq "$(jqc "$P" '.views["390"] | [.viewport_width, .scroll_width > .viewport_width, .dom.scripts, .dom.style_attributes]')" \
	    '[390,true,1,1]' "the phone view"
	# Without the CSP the script runs, and what it logs is seen.
	run --separate-stderr python3 "$TOP/tests/e2e/browser/pagecheck.py" --dir "$D/shots" --name bad2 \
	    "http://127.0.0.1:$PORT/plans/2"
	assert_status 0
	assert_eq "$(jqc "$output" '[.csp, .console]')" '[null,["boom","boom"]]' \
	    "the console at both widths"
}
