#!/usr/bin/env bats
# examples/firebreak.service and examples/firebreak.yaml agree (issue 12,
# defect 16): the unit lets the controller write what the config says it
# writes (the state directory, the repository the bot commits into, the
# chat log) and nothing else, and Puppet's group — the one the README
# names — reads the releases.  systemd itself checks the unit.

load helpers

UNIT=$TOP/examples/firebreak.service
CONF=$TOP/examples/firebreak.yaml

setup() {
	require_firebreak
	# make deps installs systemd; a missing systemd-analyze is a failure,
	# not a skip, so CI always runs these.
	command -v systemd-analyze >/dev/null ||
	    { echo "systemd-analyze is missing (make deps installs systemd)" >&2; return 1; }
}

# unit_values KEY: every value of KEY= in the unit, one a line (values
# holding several paths are split).
unit_values() {
	sed -n "s/^$1=//p" "$UNIT" | tr ' ' '\n' | sed '/^$/d'
}

# conf_value KEY: a top-level scalar of the example config.
conf_value() {
	sed -n "s/^$1: *\([^ #]*\).*/\1/p" "$CONF"
}

# under PATH DIR...: is PATH one of the DIRs or inside one?
under() {
	local p=$1 d
	shift
	for d in "$@"; do
		case "$p/" in "${d%/}/"*) return 0 ;; esac
	done
	return 1
}

@test "systemd-analyze verify: the unit is valid and draws no warning" {
	# verify checks that the commands exist: point them at the build.
	sed "s|/usr/local/bin/firebreak|$(dirname "$FIREBREAK")/firebreak|g" "$UNIT" \
	    >"$BATS_TEST_TMPDIR/firebreak.service"
	cd "$BATS_TEST_TMPDIR"
	# --man=no: the Documentation= pages are in man/, not installed here.
	run systemd-analyze verify --man=no ./firebreak.service
	assert_status 0
	# Warnings about other units installed on the machine are not ours.
	ours=$(printf '%s\n' "$output" | grep 'firebreak\.service' || true)
	assert_eq "$ours" "" "systemd-analyze's warnings about the unit"
}

@test "systemd-analyze security: the unit stays well locked down" {
	sed "s|/usr/local/bin/firebreak|$(dirname "$FIREBREAK")/firebreak|g" "$UNIT" \
	    >"$BATS_TEST_TMPDIR/firebreak.service"
	cd "$BATS_TEST_TMPDIR"
	run systemd-analyze security --offline=yes ./firebreak.service
	level=$(printf '%s\n' "$output" | sed -n 's/.*Overall exposure level for firebreak.service: \([0-9.]*\).*/\1/p')
	[ -n "$level" ] || { printf '%s\n' "$output" >&2; false; }
	# 1.4 today; systemd calls up to 3.9 "OK", 10 "UNSAFE".
	awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
	    { echo "exposure level $level, above 2.0" >&2; printf '%s\n' "$output" >&2; false; }
}

@test "the unit lets the controller write the repository, the state and the chat log" {
	run unit_values ProtectSystem
	assert_eq "$output" strict "ProtectSystem"
	rw=$(unit_values ReadWritePaths)
	ro=$(unit_values ReadOnlyPaths; unit_values InaccessiblePaths)
	for d in $(unit_values StateDirectory); do rw="$rw /var/lib/$d"; done
	for d in $(unit_values LogsDirectory); do rw="$rw /var/log/$d"; done
	repo=$(conf_value repo)
	state=$(conf_value state)
	log=$(sed -n 's/.*type: console, path: \([^,}]*\).*/\1/p' "$CONF")
	[ -n "$repo" ] && [ -n "$state" ] && [ -n "$log" ]
	for p in "$repo" "$state" "$(dirname "$log")"; do
		# shellcheck disable=SC2086
		under "$p" $rw || { echo "$p is not writable under the unit (ReadWritePaths: $rw)" >&2; false; }
		# shellcheck disable=SC2086
		! under "$p" $ro || { echo "$p is read-only or hidden under the unit" >&2; false; }
	done
}

@test "Puppet's group, as the README names it, owns the state directory the unit writes" {
	group=$(sed -n "s/.*Puppet's group, \`\([a-z_][a-z0-9_-]*\)\`, reads the releases.*/\1/p" \
	    "$TOP/README.md")
	assert_eq "$group" puppet "the group README.md names"
	state=$(conf_value state)
	# The unit's install step makes the state directory setgid in that
	# group, so everything firebreak writes in it is Puppet's group's.
	run grep -E "^#   install -d -o firebreak -g $group -m 2750 $state\$" "$UNIT"
	assert_status 0
	# systemd would chown a StateDirectory= to the unit's own group.
	if grep -q '^StateDirectory=' "$UNIT"; then
		assert_eq "$(unit_values Group)" "$group" "Group= with StateDirectory="
	fi
	# The umask keeps group read and takes everything from others.
	umask=$(unit_values UMask)
	[ $((8#$umask & 8#040)) -eq 0 ] && [ $((8#$umask & 8#007)) -eq 7 ] ||
	    { echo "UMask=$umask" >&2; false; }
}

@test "the unit is Type=notify with a watchdog, only the main process notifies, and checks its config first" {
	assert_eq "$(unit_values Type)" notify "Type="
	assert_eq "$(unit_values NotifyAccess)" main "NotifyAccess="
	wd=$(unit_values WatchdogSec)
	[ -n "$wd" ] && [ "$wd" != 0 ] || { echo "WatchdogSec=$wd" >&2; false; }
	# Restart=on-failure covers a watchdog timeout (systemd.service(5)).
	assert_eq "$(unit_values Restart)" on-failure "Restart="
	run grep -c '^ExecStartPre=/usr/local/bin/firebreak run --config /etc/firebreak/firebreak.yaml -n$' "$UNIT"
	assert_eq "$output" 1 "ExecStartPre= runs run -n"
}

# ---- the notification protocol, on a real socket ----------------------------
#
# systemd is not PID 1 here, so these stand in for it: NOTIFY_SOCKET names a
# unix datagram socket tests/e2e/sdnotify_listen.py reads, and what the
# controller sends there is what systemd would get (sd_notify(3)).

# notify_setup: a repository with the example inventory applied (plan 1),
# then a pin change committed (plan 2 will auto-apply), a config, and the
# listener ($N: what it heard).
notify_setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	N=$BATS_TEST_TMPDIR/notify.log
	make_repo "$R"
	printf 'repo: %s\nbranch: main\nstate: %s\nchat:\n  - {type: console, path: %s}\n' \
	    "$R" "$S" "$CHAT" >"$C"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	FIRST=$(sha "$R")
	edit "$R" services/app.yaml -e 's/^version: 1.4.2/version: 1.4.3/'
	commit_all "$R" "deploy app 1.4.3"
	SECOND=$(sha "$R")
	: >"$N"
	python3 "$TOP/tests/e2e/sdnotify_listen.py" "$BATS_TEST_TMPDIR/notify.sock" "$N" \
	    "$S/applied" 3>&- &
	LPID=$!
	for _ in $(seq 200); do
		[ -S "$BATS_TEST_TMPDIR/notify.sock" ] && break
		sleep 0.05
	done
	[ -S "$BATS_TEST_TMPDIR/notify.sock" ]
	export NOTIFY_SOCKET=$BATS_TEST_TMPDIR/notify.sock
}

teardown() {
	stop_controller
	if [ -n "${LPID:-}" ]; then
		kill "$LPID" 2>/dev/null || true
		wait "$LPID" 2>/dev/null || true
	fi
}

# count N PATTERN: how many lines of the notifications match.
count() {
	grep -c -- "$1" "$N" || true
}

@test "sd_notify: READY=1 once the first reconcile has applied, STATUS names the applied commit" {
	notify_setup
	unset WATCHDOG_USEC WATCHDOG_PID
	start_controller
	wait_for "$N" '^READY=1$'
	# When it said it was ready, the commit made while it was down was
	# already planned and applied.
	assert_eq "$(sed -n 's/^applied-at-ready=//p' "$N")" "$SECOND" "applied when READY=1 came"
	assert_eq "$(count '^READY=1$')" 1 "READY=1 messages"
	assert_eq "$(grep '^STATUS=' "$N" | head -1)" "STATUS=applied $SECOND on main" "the first STATUS="
	assert_eq "$(count "^STATUS=applied $FIRST")" 0 "STATUS= naming the commit it started from"
	stop_controller
	wait_for "$N" '^STOPPING=1$'
}

@test "sd_notify: STATUS= follows the applied commit as it changes" {
	notify_setup
	start_controller
	wait_for "$N" "^STATUS=applied $SECOND on main\$"
	edit "$R" services/app.yaml -e 's/^version: 1.4.3/version: 1.4.4/'
	commit_all "$R" "deploy app 1.4.4"
	THIRD=$(sha "$R")
	wait_for "$N" "^STATUS=applied $THIRD on main\$"
	assert_eq "$(cat "$S/applied")" "$THIRD" "the applied commit"
	# Once per change, not once per turn of the loop.
	assert_eq "$(count "^STATUS=applied $SECOND on main\$")" 1 "STATUS= for $SECOND"
	assert_eq "$(count "^STATUS=applied $THIRD on main\$")" 1 "STATUS= for $THIRD"
}

@test "sd_notify: WATCHDOG=1 pings come from the loop when WATCHDOG_USEC is set" {
	notify_setup
	# 0.4 s: a ping every 0.2 s.
	WATCHDOG_USEC=400000 start_controller
	wait_for "$N" '^READY=1$'
	for _ in $(seq 200); do
		[ "$(count '^WATCHDOG=1$')" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(count '^WATCHDOG=1$')" -ge 3 ] || { cat "$N" >&2; false; }
	# The loop still does its work between the pings.
	edit "$R" services/app.yaml -e 's/^version: 1.4.3/version: 1.4.4/'
	commit_all "$R" "deploy app 1.4.4"
	wait_for "$N" "^STATUS=applied $(sha "$R") on main\$"
	before=$(count '^WATCHDOG=1$')
	for _ in $(seq 200); do
		[ "$(count '^WATCHDOG=1$')" -gt "$before" ] && break
		sleep 0.05
	done
	[ "$(count '^WATCHDOG=1$')" -gt "$before" ] || { cat "$N" >&2; false; }
}

@test "sd_notify: no WATCHDOG=1 without WATCHDOG_USEC, or when WATCHDOG_PID names another process" {
	notify_setup
	unset WATCHDOG_USEC WATCHDOG_PID
	start_controller
	wait_for "$N" '^READY=1$'
	edit "$R" services/app.yaml -e 's/^version: 1.4.3/version: 1.4.4/'
	commit_all "$R" "deploy app 1.4.4"
	wait_for "$N" "^STATUS=applied $(sha "$R") on main\$"
	# As long as a 0.4 s watchdog needs for several pings.
	sleep 1
	stop_controller
	wait_for "$N" '^STOPPING=1$'
	assert_eq "$(count '^WATCHDOG=1$')" 0 "WATCHDOG=1 without WATCHDOG_USEC"
	# systemd sets WATCHDOG_PID to the service's main process: a program
	# that only inherited the variables must not ping.
	: >"$N"
	WATCHDOG_USEC=400000 WATCHDOG_PID=1 start_controller
	wait_for "$N" '^READY=1$'
	sleep 1
	stop_controller
	wait_for "$N" '^STOPPING=1$'
	assert_eq "$(count '^WATCHDOG=1$')" 0 "WATCHDOG=1 with another process's WATCHDOG_PID"
}
