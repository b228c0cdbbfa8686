#!/usr/bin/env bash
# campaign.sh - run every fuzz target until it has executed GOAL inputs in
# total, in slices, round-robin, and keep the count (make fuzz-campaign).
#
#   tests/fuzz/campaign.sh [GOAL [SLICE_SECONDS [TARGET...]]]
#
# Counts accumulate across runs in build-fuzz/execs.tsv ("target<TAB>
# executions<TAB>seconds<TAB>crashes"), so a campaign can be stopped and
# resumed.  Each slice starts from the seed corpus and the corpus earlier
# slices grew (build-fuzz/corpus/<target>/).  A crash stops that target:
# its input is build-fuzz/crash-<target>-*, to be fixed and added to the
# seed corpus.  FUZZ_TMPDIR: where targets make their files (default
# /dev/shm when writable, else $TMPDIR or /tmp).  Prints the table at the end (bench/RESULTS.md keeps it).
set -u
cd "$(dirname "$0")/../.."
goal=${1:-10000000}
slice=${2:-120}
shift 2 2>/dev/null || shift $#
fb=build-fuzz
tsv=$fb/execs.tsv
# The targets that write files per input (planjson, and botcmd's
# repository) write them to a tmpfs when there is one (fuzz.h: fuzz_tmpdir).
if [ -z "${FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	FUZZ_TMPDIR=/dev/shm
fi
[ -z "${FUZZ_TMPDIR:-}" ] || export TMPDIR=$FUZZ_TMPDIR
mkdir -p "$fb"
touch "$tsv"
if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in tests/fuzz/fuzz_*.c; do
		t=${f#tests/fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi

get() { # target field(2 execs, 3 seconds, 4 crashes)
	awk -F'\t' -v t="$1" -v f="$2" '$1 == t { print $f; found = 1 } END { if (!found) print 0 }' "$tsv"
}

put() { # target execs seconds crashes
	awk -F'\t' -v t="$1" '$1 != t' "$tsv" >"$tsv.new"
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$tsv.new"
	sort -o "$tsv" "$tsv.new"
	rm -f "$tsv.new"
}

while :; do
	left=0
	for t in "${targets[@]}"; do
		bin=$fb/fuzz_$t
		n=$(get "$t" 2)
		[ "$(get "$t" 4)" -gt 0 ] && continue
		[ "$n" -ge "$goal" ] && continue
		[ -x "$bin" ] || { echo "campaign: $bin is missing (make fuzz-build)" >&2; exit 2; }
		left=1
		mkdir -p "$fb/corpus/$t"
		log=$fb/campaign-$t.log
		start=$(date +%s)
		"$bin" -max_total_time="$slice" -print_final_stats=1 \
		    -artifact_prefix="$fb/crash-$t-" "$fb/corpus/$t" "tests/fuzz/corpus/$t" \
		    >"$log" 2>&1
		rc=$?
		ran=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		secs=$(( $(date +%s) - start ))
		crashes=$(get "$t" 4)
		if [ $rc -ne 0 ]; then
			crashes=$((crashes + 1))
			echo "campaign: $t stopped with status $rc; see $log and $fb/crash-$t-*" >&2
		fi
		put "$t" $((n + ${ran:-0})) $(( $(get "$t" 3) + secs )) "$crashes"
		printf 'campaign: %-12s %12d executions (+%d in %ds)\n' "$t" $((n + ${ran:-0})) \
		    "${ran:-0}" "$secs"
	done
	[ $left -eq 0 ] && break
done
printf '%-12s %14s %9s %8s\n' target executions seconds crashes
sort "$tsv" | while IFS=$'\t' read -r t n s c; do
	printf '%-12s %14d %9d %8d\n' "$t" "$n" "$s" "$c"
done
