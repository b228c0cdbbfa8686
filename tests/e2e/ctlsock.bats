#!/usr/bin/env bats
# The controller's loop against clients that misbehave and a poll() that
# fails: the control socket (<state>/run/control.sock) is served without
# blocking, lives in a 0700 directory and answers only our own user; a
# loop that cannot poll any more exits non-zero, so systemd restarts it.
# (issue 12, defects 5 and 15)

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	SOCK=$S/run/control.sock
	new_repo "$R"
	PORT=$(free_port)
	write_config
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	PID=
	IDLE=
	PEERDIR=
}

teardown() {
	[ -z "$IDLE" ] || kill "$IDLE" 2>/dev/null || true
	stop_controller
	[ -z "$PEERDIR" ] || rm -rf "$PEERDIR"
}

write_config() {
	printf 'repo: %s\nbranch: main\nstate: %s\nlisten: 127.0.0.1:%s\nchat:\n  - {type: console, path: %s}\n' \
	    "$R" "$S" "$PORT" "$CHAT" >"$C"
}

# hold_idle: connect to the control socket and send nothing, for two
# minutes (teardown kills it); returns once connected, its pid in IDLE.
hold_idle() {
	local ready=$BATS_TEST_TMPDIR/idle.ready
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
open(sys.argv[2], "w").write("connected\n")
time.sleep(120)
' "$SOCK" "$ready" 3>&- &
	IDLE=$!
	wait_for "$ready" connected
}

@test "ctlsock: a client that connects and sends nothing blocks neither HTTP, nor planning, nor status" {
	start_controller
	hold_idle
	# Every one of these is bounded so a frozen loop fails the test rather
	# than hang it; none of them asserts how long it took.
	run curl -sS --max-time 20 "http://127.0.0.1:$PORT/healthz"
	assert_status 0
	assert_eq "$output" "ok" "/healthz"
	edit "$R" hosts/web-02.example.com.yaml -e 's/^state: active/state: drained/'
	commit_all "$R" "drain web-02"
	wait_for "$CHAT" "plan 2 for $(short "$R") \"drain web-02\" by Alice Example: .* -> approve (waiting for an approver)"
	run timeout 20 "$FIREBREAK" status --config "$C"
	assert_status 0
	assert_contains "$output" "open: plan 2 for $(short "$R") (approve)"
	# The idle client is still connected, and still costs the loop nothing.
	kill -0 "$IDLE"
	run timeout 20 "$FIREBREAK" approve --config "$C" --as alice 2
	assert_status 0
	assert_contains "$output" "plan 2 applied ($(short "$R"))"
}

@test "ctlsock: the socket lives in a 0700 directory of the state" {
	start_controller
	[ -S "$SOCK" ] || { echo "no socket at $SOCK" >&2; false; }
	assert_eq "$(stat -c '%a %U' "$S/run")" "700 $(id -un)" "the socket directory's mode and owner"
}

@test "ctlsock: a client of another uid is refused, even when the directory lets it in" {
	[ "$(id -u)" = 0 ] || skip "connecting as another user needs root"
	command -v setpriv >/dev/null 2>&1 || skip "setpriv is not installed"
	[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
	# The test's own temporary directory is private to root: this state
	# directory is one that user nobody can reach.
	PEERDIR=$(mktemp -d /tmp/fb-peer.XXXXXX)
	chmod 755 "$PEERDIR"
	S=$PEERDIR/state
	SOCK=$S/run/control.sock
	write_config
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	start_controller
	# Loosen the directory and the socket by hand: the peer check still holds.
	chmod 755 "$S" "$S/run"
	chmod 777 "$SOCK"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
data = b""
try:
    # The controller may close before the request is written: a refusal.
    s.sendall(b"status\n")
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
while True:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write("answer: [%s]\n" % data.decode("utf-8", "replace"))
' "$SOCK"
	assert_status 0
	assert_eq "$output" "answer: []" "what user nobody reads"
	wait_for "$BATS_TEST_TMPDIR/run.log" "control socket: refused a client of another user"
	# Our own user is still answered.
	run fb status --config "$C"
	assert_status 0
	assert_contains "$output" "open: none"
}

@test "ctlsock: a poll() that fails stops the controller with exit 3 and says why" {
	command -v prlimit >/dev/null 2>&1 || skip "prlimit is not installed"
	# Under ASan (make SAN=1), the leak check at exit needs descriptors this
	# test takes away, and would turn exit 3 into its own failure.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 start_controller
	# poll() refuses more descriptors than RLIMIT_NOFILE allows (EINVAL):
	# the loop polls at least inotify, the signalfd, the HTTP listener and
	# the control socket.
	prlimit --pid "$PID" --nofile=3:3
	local rc=0
	# `wait` returns the exit status; bounded, so a loop that keeps going
	# fails the test instead of hanging it.
	timeout 30 tail --pid="$PID" -f /dev/null || true
	if kill -0 "$PID" 2>/dev/null; then
		echo "firebreak run still runs after its poll() failed" >&2
		cat "$BATS_TEST_TMPDIR/run.log" >&2
		false
	fi
	wait "$PID" || rc=$?
	PID=
	assert_eq "$rc" "3" "firebreak run's exit status" || { cat "$BATS_TEST_TMPDIR/run.log" >&2; false; }
	assert_contains "$(cat "$BATS_TEST_TMPDIR/run.log")" "stopping: poll: Invalid argument"
}
