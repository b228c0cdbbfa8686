# helpers.bash - shared by the e2e suites (bats).  `load helpers` at the top
# of a .bats file.
#
# Every test works on its own git repository made from examples/inventory
# in a temporary directory, with a fixed author ("Alice Example") and fixed
# dates, so commits (and so plans) are reproducible.  Nothing here touches
# the network, the user's git configuration or anything outside the temp
# directories.
#
# Environment: FIREBREAK (the built front binary; default $TOP/build/firebreak),
# TOP (the repository root; default: two levels above this file).

bats_require_minimum_version 1.5.0

: "${TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${FIREBREAK:=$TOP/build/firebreak}"
export TOP FIREBREAK

# git: no system or user configuration, a fixed identity and fixed dates.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Alice Example" GIT_AUTHOR_EMAIL=alice@example.com
export GIT_COMMITTER_NAME="Alice Example" GIT_COMMITTER_EMAIL=alice@example.com
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
export LC_ALL=C

# Fail early and clearly when the binary or a tool the suite needs is missing.
require_firebreak() {
	if [ ! -x "$FIREBREAK" ]; then
		echo "firebreak binary not found at $FIREBREAK (run make first)" >&2
		return 1
	fi
}

require_jq() {
	if ! command -v jq >/dev/null 2>&1; then
		echo "jq is required by the e2e tests (apt-get install jq)" >&2
		return 1
	fi
}

# Run firebreak (for use under `run`).
fb() {
	"$FIREBREAK" "$@"
}

# make_repo DIR: DIR becomes a git repository (branch main) holding
# examples/inventory, with one commit "initial inventory" by Alice Example.
make_repo() {
	local dir=$1
	mkdir -p "$(dirname "$dir")"
	cp -r "$TOP/examples/inventory" "$dir"
	git -C "$dir" init -q -b main
	git -C "$dir" add -A
	git -C "$dir" commit -q -m "initial inventory"
}

# Process creation is slow on some CI machines: setup_file makes the
# example repository once (template_repo), each test copies it (new_repo).
template_repo() {
	TEMPLATE=$BATS_FILE_TMPDIR/template
	[ -d "$TEMPLATE" ] || make_repo "$TEMPLATE"
	export TEMPLATE
}

# new_repo DIR: a private copy of the template (make_repo when there is none).
new_repo() {
	if [ -n "${TEMPLATE:-}" ] && [ -d "$TEMPLATE" ]; then
		cp -a "$TEMPLATE" "$1"
	else
		make_repo "$1"
	fi
}

# commit_all REPO MESSAGE: commit everything in the work tree (adds,
# changes and deletions).  git refuses an empty commit, so a helper that
# silently changed nothing cannot make a test pass.
commit_all() {
	local repo=$1 msg=$2
	git -C "$repo" add -A
	git -C "$repo" commit -q -m "$msg" >/dev/null ||
		{ echo "commit_all: nothing to commit for '$msg'" >&2; return 1; }
}

# edit REPO FILE SED-EXPRESSION...: edit a file in place; fails when the
# expression changed nothing.
edit() {
	local repo=$1 file=$2
	shift 2
	local before
	before=$(cat "$repo/$file") || return 1
	sed -i "$@" "$repo/$file"
	if [ "$before" = "$(cat "$repo/$file")" ]; then
		echo "edit: sed $* changed nothing in $file" >&2
		return 1
	fi
}

# write_file REPO FILE: the file's content from stdin (directories made).
write_file() {
	local repo=$1 file=$2
	mkdir -p "$(dirname "$repo/$file")"
	cat >"$repo/$file"
}

# append REPO FILE: append stdin to the file.
append() {
	cat >>"$1/$2"
}

# commit_edit REPO FILE SED-EXPRESSION MESSAGE
commit_edit() {
	edit "$1" "$2" -e "$3" && commit_all "$1" "$4"
}

# commit_file REPO FILE MESSAGE: write the file from stdin and commit it.
commit_file() {
	write_file "$1" "$2" && commit_all "$1" "$3"
}

# sha REPO [REV]: the full commit id; short REPO [REV]: its first 7 digits.
sha() {
	git -C "$1" rev-parse "${2:-HEAD}^{commit}"
}

short() {
	local s
	s=$(sha "$@") || return 1
	printf '%s\n' "${s:0:7}"
}

# Every file under DIR, relative, sorted (dot files included).
tree_of() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort)
}

# What a reader of a state directory sees, except the plan records (plans/,
# the plan counter, the index of open plans, retention's cursor): every
# path with its type, size, modification time and link target (applied,
# current, the releases and the release store).  A file rewritten, even
# with the same bytes, changes it.  The top directory's own mtime is left
# out: it changes with any entry renamed in, the plan records too, and the
# entries themselves are all here.  One find, one sort: processes are slow.
state_fingerprint() {
	(cd "$1" && find . -mindepth 1 \( -path ./plans -o -path ./plan-seq -o \
	    -path ./open-plans.json -o -path ./retention.json \) -prune -o \
	    -printf '%p %y %s %T@ %l\n' | LC_ALL=C sort)
}

# The plan files of a state directory, one name a line (no process: a glob).
plan_files() {
	local f names=()
	for f in "$1"/plans/*; do
		[ -e "$f" ] && names+=("${f##*/}")
	done
	[ ${#names[@]} -gt 0 ] && printf '%s\n' "${names[@]}" | LC_ALL=C sort
	return 0
}

# entries DIR: the names in DIR (dot files too), sorted, one a line.
entries() {
	(cd "$1" && shopt -s dotglob nullglob && set -- * && [ $# -gt 0 ] && printf '%s\n' "$@")
	return 0
}

# slurp FILE: the file's content, without a process.
slurp() {
	local content=
	IFS= read -r -d '' content <"$1" || true
	printf '%s' "$content"
}

# assert_status N: after `run`, the exit status is N; shows the output if not.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected exit status $1, got $status" >&2
		echo "--- stdout:" >&2
		printf '%s\n' "$output" >&2
		if [ -n "${stderr+x}" ]; then
			echo "--- stderr:" >&2
			printf '%s\n' "$stderr" >&2
		fi
		return 1
	fi
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	if [ "$1" != "$2" ]; then
		echo "${3:-value} differs" >&2
		echo "--- expected:" >&2
		printf '%s\n' "$2" >&2
		echo "--- actual:" >&2
		printf '%s\n' "$1" >&2
		return 1
	fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	case "$1" in
	*"$2"*) return 0 ;;
	esac
	echo "${3:-output} does not contain: $2" >&2
	echo "--- actual:" >&2
	printf '%s\n' "$1" >&2
	return 1
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	case "$1" in
	*"$2"*)
		echo "${3:-output} contains what it must not: $2" >&2
		echo "--- actual:" >&2
		printf '%s\n' "$1" >&2
		return 1 ;;
	esac
	return 0
}

# jqr JSON FILTER: jq -r on a string (for assertions on plan JSON).
jqr() {
	printf '%s\n' "$1" | jq -r "$2"
}

# jqc JSON FILTER: compact jq output, keys sorted (for exact comparisons).
jqc() {
	printf '%s\n' "$1" | jq -cS "$2"
}

# wait_for FILE PATTERN: until grep finds PATTERN in FILE (10 s at most);
# on a timeout, shows the file and the controller's log.
wait_for() {
	for _ in $(seq 200); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$2' in $1" >&2
	cat "$1" >&2 2>/dev/null
	cat "$BATS_TEST_TMPDIR/run.log" >&2 2>/dev/null
	return 1
}

# start_controller [RUN-OPTIONS]: `firebreak run --config $C` in the
# background (its pid in PID, its log in $BATS_TEST_TMPDIR/run.log);
# returns once it answers on its control socket ($S/run/control.sock).
start_controller() {
	"$FIREBREAK" run --config "$C" "$@" 2>"$BATS_TEST_TMPDIR/run.log" 3>&- &
	PID=$!
	for _ in $(seq 200); do
		[ -S "$S/run/control.sock" ] && "$FIREBREAK" status --config "$C" >/dev/null 2>&1 &&
		    return 0
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/run.log" >&2
	return 1
}

# stop_controller: SIGTERM, and wait for it.
stop_controller() {
	if [ -n "${PID:-}" ]; then
		kill -TERM "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
		PID=
	fi
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_ngircd: a private IRC server (config and logs in $D) on a free
# loopback port; sets IRC_PORT and NGIRCD_PID.
start_ngircd() {
	command -v ngircd >/dev/null 2>&1 || skip "ngircd is not installed"
	IRC_PORT=$(free_port)
	mkdir -p "$D/ngircd.d"
	cat >"$D/ngircd.conf" <<EOF
[Global]
Name = irc.test
Info = firebreak test
Listen = 127.0.0.1
Ports = $IRC_PORT
MotdPhrase = "test"
[Limits]
MaxNickLength = 30
[Options]
PAM = no
Ident = no
DNS = no
IncludeDir = $D/ngircd.d
EOF
	run_ngircd
}

# run_ngircd: (re)start the server configured by start_ngircd; returns
# once it listens.
run_ngircd() {
	ngircd -n -f "$D/ngircd.conf" >"$D/ngircd.log" 2>&1 3>&- &
	NGIRCD_PID=$!
	local i
	for i in $(seq 100); do
		(exec 4<>"/dev/tcp/127.0.0.1/$IRC_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "ngircd did not start:" >&2
	cat "$D/ngircd.log" >&2
	return 1
}

# tf_find_mirror: the root of a filesystem mirror holding hashicorp/aws, or
# nothing (terraform.bats and tf_apply.bats run Terraform offline from it).
tf_find_mirror() {
	local dir f
	for dir in /opt/tf-plugins /usr/share/terraform/plugins /usr/local/share/terraform/plugins \
		"$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins"; do
		[ -d "$dir" ] || continue
		f=$(find "$dir" -name 'terraform-provider-aws*' -print -quit 2>/dev/null)
		[ -n "$f" ] && break
	done
	if [ -z "${f:-}" ]; then
		f=$(find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
			-path '*/registry.terraform.io/hashicorp/aws/*' -name 'terraform-provider-aws*' \
			-print -quit 2>/dev/null)
	fi
	[ -n "$f" ] || return 0
	# Unpacked: <root>/registry.terraform.io/hashicorp/aws/<ver>/<os_arch>/terraform-provider-aws_*
	# Packed:   <root>/registry.terraform.io/hashicorp/aws/terraform-provider-aws_<ver>_<os_arch>.zip
	case "$f" in
	*.zip) dirname "$(dirname "$(dirname "$(dirname "$f")")")" ;;
	*) dirname "$(dirname "$(dirname "$(dirname "$(dirname "$(dirname "$f")")")")")" ;;
	esac
}
