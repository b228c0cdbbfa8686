#!/usr/bin/env bash
# Run every test suite and end with one line "N passed, N failed".
#
# Each suite speaks TAP: the cmocka unit binaries (CMOCKA_MESSAGE_OUTPUT=TAP),
# the golden comparison, bats (--tap), and the fuzz corpora replayed
# ($BUILD/tests/fuzz/fuzz_*, one TAP line per target).  Arguments: the
# unit binaries.
# Environment: FIREBREAK (the built front binary), BUILD (the build dir).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
: "${FIREBREAK:=$top/build/firebreak}"
export FIREBREAK TOP="$top"
passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Count one TAP stream; print failures (with their diagnostics) as they come.
tally() {
	local name=$1 line in_fail=0
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case "$line" in
		"not ok "*)
			failed=$((failed + 1)); in_fail=1
			printf '  FAIL %s: %s\n' "$name" "${line#not ok }" ;;
		"ok "*"# skip"*|"ok "*"# SKIP"*)
			skipped=$((skipped + 1)); in_fail=0
			printf '  skip %s: %s\n' "$name" "${line#ok }" ;;
		"ok "*)
			passed=$((passed + 1)); in_fail=0 ;;
		"#"*)
			[ $in_fail -eq 1 ] && printf '       %s\n' "$line" ;;
		*)
			[ $in_fail -eq 1 ] && printf '       %s\n' "$line" ;;
		esac
	done
}

# A suite that dies without reporting must not look like a pass.
run_suite() {
	local name=$1; shift
	local out status
	out=$(mktemp)
	"$@" >"$out" 2>&1
	status=$?
	tally "$name" <"$out"
	if [ $status -ne 0 ] && ! grep -q '^not ok ' "$out"; then
		failed=$((failed + 1))
		printf '  FAIL %s: exited %d without a failing test\n' "$name" $status
		tail -20 "$out" | sed 's/^/       /'
	fi
	rm -f "$out"
}

echo "== unit"
for t in "$@"; do
	run_suite "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
done
echo "== fuzz corpora"
for t in "${BUILD:-$top/build}"/tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=${t##*/fuzz_}
	run_suite "fuzz_$name" "$t" "$name" "$here/fuzz/corpus/$name"
done
echo "== golden"
run_suite golden "$here/golden/run.sh"
echo "== e2e"
# The files run side by side (GNU parallel; make deps installs it), each
# file's tests in order: most of a test's time is waiting on a server it
# started, and Terraform's AWS provider (~9 s of CPU a `terraform plan`)
# is 60% of the suite's CPU, so its tests are split over tf_apply.bats
# and tf_crash.bats.  FIREBREAK_TEST_JOBS sets how many at once (1: one
# after the other); FIREBREAK_E2E names the files to run ("cli hostile";
# "none"; default: all).  A test still running after BATS_TEST_TIMEOUT seconds
# (default 600) fails, so that a hang cannot eat a CI run.
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-600}
jobs=${FIREBREAK_TEST_JOBS:-$(( $(nproc 2>/dev/null || echo 1) + 1 ))}
files=()
if [ "${FIREBREAK_E2E:-}" = none ]; then
	echo "  (none: FIREBREAK_E2E=none)"
elif [ -n "${FIREBREAK_E2E:-}" ]; then
	for f in $FIREBREAK_E2E; do
		if [ -e "$here/e2e/$f.bats" ]; then
			files+=("$here/e2e/$f.bats")
		else
			failed=$((failed + 1))
			echo "  FAIL e2e: FIREBREAK_E2E names $f, and there is no tests/e2e/$f.bats"
		fi
	done
else
	# The longest files first, so that none starts last and runs alone.
	slow="tf_crash tf_apply ha health rollout rfc2136 package planpage crash"
	for f in $slow; do
		[ -e "$here/e2e/$f.bats" ] && files+=("$here/e2e/$f.bats")
	done
	for f in "$here"/e2e/*.bats; do
		case " $slow " in *" $(basename "$f" .bats) "*) ;; *) files+=("$f") ;; esac
	done
fi
if ! command -v bats >/dev/null 2>&1; then
	failed=$((failed + 1))
	echo "  FAIL e2e: bats is not installed (make deps installs it)"
elif [ ${#files[@]} -eq 0 ]; then
	:
elif [ "$jobs" -gt 1 ] && command -v parallel >/dev/null 2>&1; then
	run_suite e2e bats --tap --jobs "$jobs" --no-parallelize-within-files "${files[@]}"
else
	run_suite e2e bats --tap "${files[@]}"
fi
echo
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
