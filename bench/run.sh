#!/usr/bin/env bash
# bench/run.sh - the performance report of `make bench` (DESIGN.md,
# "Performance targets").  For each size it generates an inventory
# repository with bench/geninv (cached in bench/.work/), then measures
#
#   floor       bench/floor: read every blob of HEAD with libgit2 and run
#               libyaml's event parser over it (best of 3, whole process)
#   render      firebreak render --repo R --rev HEAD --out D --timings: the
#               in-memory render (its load + render stages: the pipeline's
#               work, what the target is about) and, for information, the
#               whole command, which also writes every file (best of 3; peak RSS)
#   plan        firebreak plan --repo R --from HEAD~1 --to HEAD --format json,
#               a cold one-host-change plan (best of 3)
#   apply       firebreak apply --repo R --state S --to X --timings of a
#               one-host change, alternating HEAD and HEAD~1 on one state
#               dir: the release switch itself (its `release` stage: the
#               target), and the whole one-shot command, which also plans
#               from a cold start (best of 3)
#   controller  firebreak run (warm) on the repository: three one-host
#               commits, each planned and auto-applied; its --timings give
#               commit -> plan and the release switch (best of 3)
#   enc         firebreak enc --state S FQDN against cat of the same document,
#               each $BENCH_ENC_LOOPS times in a row (best of 3 rounds)
#
# and prints the machine and a Markdown table on stdout (progress goes to
# stderr).  Environment:
#
#   FIREBREAK        the binary (default build/firebreak)
#   BENCH_BIN        where geninv, floor and measure are (default build/bench)
#   BENCH_SIZES      which sizes, e.g. "1k 10k" (default "1k 10k 100k")
#   BENCH_ENC_LOOPS  enc/cat calls per round (default 300)
#   BENCH_WORK       the generated repositories (default bench/.work)
#
# Targets are defined at 100k hosts; at the smaller sizes the verdict is
# marked "(info)": there process start-up dominates and ratios say little.
# No shell tricks on inventory data: every command gets its arguments as an
# array.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FIREBREAK=${FIREBREAK:-$ROOT/build/firebreak}
BENCH_BIN=${BENCH_BIN:-$ROOT/build/bench}
BENCH_SIZES=${BENCH_SIZES:-"1k 10k 100k"}
ENC_LOOPS=${BENCH_ENC_LOOPS:-300}
WORK=${BENCH_WORK:-$ROOT/bench/.work}
REPEAT=3

GENINV=$BENCH_BIN/geninv
FLOOR=$BENCH_BIN/floor
MEASURE=$BENCH_BIN/measure

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 3; }

for t in "$GENINV" "$FLOOR" "$MEASURE"; do
	[ -x "$t" ] || die "$t is missing: run 'make bench' (or 'make bench-tools')"
done
case $ENC_LOOPS in ''|*[!0-9]*) die "BENCH_ENC_LOOPS must be a number" ;; esac

HAVE_FB=1
if [ ! -x "$FIREBREAK" ]; then
	HAVE_FB=0
	log "no firebreak binary at $FIREBREAK: only the floor is measured"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/firebreak-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# size -> geninv arguments (hosts, roles, services, zones)
size_args() {
	case $1 in
	1k)   echo "--hosts 1000 --roles 20 --services 50 --zones 4" ;;
	10k)  echo "--hosts 10000 --roles 100 --services 200 --zones 10" ;;
	100k) echo "--hosts 100000 --roles 200 --services 500 --zones 20" ;;
	*)    return 1 ;;
	esac
}

# ------------------------------------------------------------------ helpers

# awk does the floating point.
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt_s()  { calc "sprintf(\"%.3f s\", $1)"; }
fmt_ms() { calc "sprintf(\"%.2f ms\", $1 * 1000)"; }
# le A B -> exit 0 when A <= B
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' </dev/null; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' </dev/null; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }' </dev/null; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b > a) ? b : a }' </dev/null; }

# field NAME LINE: the value of NAME=... in a measure output line
field() {
	local v=${2#*"$1"=}
	[ "$v" != "$2" ] || { echo ""; return; }
	echo "${v%% *}"
}

# stage_sum FILE STAGE...: the seconds the named --timings stages took
# ("timing: load 640.2 ms" lines on the command's stderr).
stage_sum() {
	local file=$1; shift
	awk -v want=" $* " '$1 == "timing:" && index(want, " " $2 " ") { ms += $3 }
	    END { printf "%.6f", ms / 1000 }' "$file"
}

# mrun [measure options] -- argv...: prints measure's line, fails when the
# command failed.
mrun() {
	local out
	out=$("$MEASURE" "$@") || { log "failed: ${*}"; return 1; }
	echo "$out"
}

ROWS=()
# row METRIC SIZE VALUE REF RATIO TARGET VERDICT
row() {
	local IFS='|'
	ROWS+=("$*")
}

# verdict SIZE OK(0|1)
verdict() {
	local v
	if [ "$2" = 1 ]; then v=pass; else v=FAIL; fi
	if [ "$1" != 100k ]; then v="$v (info)"; fi
	echo "$v"
}

# ------------------------------------------------------------- generation

GEN_HASH=$(sha256sum bench/geninv.c | cut -c1-16)

# prepare SIZE: bench/.work/SIZE is an inventory repo with the one-host
# change on top; reused while geninv.c and the arguments are unchanged.
prepare() {
	local size=$1 args repo stamp want out
	args=$(size_args "$size") || die "unknown size '$size' (1k, 10k, 100k)"
	repo=$WORK/$size
	stamp=$WORK/$size.stamp
	want="$GEN_HASH $args"
	if [ -d "$repo/.git" ] && [ -f "$stamp" ] && [ -f "$WORK/$size.host" ] &&
	    [ "$(cat "$stamp")" = "$want" ]; then
		log "$size: reusing $repo"
		return 0
	fi
	log "$size: generating $repo ($args)"
	rm -rf "$repo" "$stamp" "$WORK/$size.host"
	mkdir -p "$WORK"
	# shellcheck disable=SC2086 # args are our own fixed words
	"$GENINV" $args --no-checkout --out "$repo" >&2
	out=$("$GENINV" --change-one-host "$repo")
	echo "$out" >&2
	out=$(field host "$out")
	[ -n "$out" ] || die "geninv --change-one-host printed no host"
	echo "$out" >"$WORK/$size.host"
	echo "$want" >"$stamp"
}

# ------------------------------------------------------------ measurement

declare -A ENC_S FLOOR_S

bench_size() {
	local size=$1 repo=$WORK/$1 fqdn line floor="" self s best i
	local render="" plan1="" render_mem="" render_rss="" render_ok=$HAVE_FB plan="" plan_rss="" plan_ok=$HAVE_FB
	fqdn=$(cat "$WORK/$size.host")

	# Floor, render and plan take turns, so that a burst of load on the
	# machine hits all three alike and the ratios stay honest.  All are
	# timed the same way: the whole process, by measure.
	for i in $(seq "$REPEAT"); do
		line=$(mrun -- "$FLOOR" "$repo") || die "floor failed on $repo"
		floor=$(min "$floor" "$(field seconds "$line")")
		if [ "$render_ok" = 1 ]; then
			if line=$(mrun -- "$FIREBREAK" render --repo "$repo" --rev HEAD \
			    --out "$TMP/render-$size-$i" --timings 2>"$TMP/timings"); then
				render=$(min "$render" "$(field seconds "$line")")
				render_mem=$(min "$render_mem" "$(stage_sum "$TMP/timings" load render)")
				render_rss=$(max "$render_rss" "$(field maxrss_mb "$line")")
			else
				render_ok=0
			fi
			rm -rf "$TMP/render-$size-$i"
		fi
		if [ "$plan_ok" = 1 ]; then
			if line=$(mrun -- "$FIREBREAK" plan --repo "$repo" --from HEAD~1 --to HEAD \
			    --format json); then
				plan=$(min "$plan" "$(field seconds "$line")")
				plan_rss=$(max "$plan_rss" "$(field maxrss_mb "$line")")
			else
				plan_ok=0
			fi
			# The same on one core, to show what the second thread buys.
			if [ "$plan_ok" = 1 ] && line=$(mrun -- env FIREBREAK_THREADS=1 "$FIREBREAK" plan \
			    --repo "$repo" --from HEAD~1 --to HEAD --format json); then
				plan1=$(min "$plan1" "$(field seconds "$line")")
			fi
		fi
	done
	# The floor's own clock (no exec, no dynamic loading, no exit): shows
	# what process start-up adds at the small sizes.
	self=""
	for i in $(seq "$REPEAT"); do
		self=$(min "$self" "$("$FLOOR" "$repo")")
	done
	row floor "$size" "$(fmt_s "$floor")" "self-timed $(fmt_s "$self")" "-" "-" "-"
	FLOOR_S[$size]=$floor
	log "$size: floor $floor s"

	if [ "$HAVE_FB" = 0 ]; then
		for s in "full render" "render peak RSS" "cold plan (one host)" \
		    "apply (one host)" "enc per call"; do
			row "$s" "$size" "n/a (no firebreak)" "-" "-" "-" "-"
		done
		return 0
	fi

	if [ "$render_ok" = 1 ]; then
		s=$(calc "$render_mem / $floor")
		row "full render (load + render)" "$size" "$(fmt_s "$render_mem")" "floor $(fmt_s "$floor")" \
		    "$(calc "sprintf(\"%.2fx\", $s)")" "<= 2x floor" \
		    "$(verdict "$size" "$(le "$s" 2 && echo 1 || echo 0)")"
		s=$(calc "$render / $floor")
		row "render --out, whole command (writes every file)" "$size" "$(fmt_s "$render")" \
		    "floor $(fmt_s "$floor")" "$(calc "sprintf(\"%.2fx\", $s)")" "-" "(info)"
		row "render peak RSS" "$size" "$render_rss MB" "-" "-" "< 300 MB" \
		    "$(verdict "$size" "$(lt "$render_rss" 300 && echo 1 || echo 0)")"
		log "$size: render $render s, $render_rss MB"
	else
		row "full render" "$size" "FAILED" "-" "-" "<= 2x floor" "FAIL"
		row "render peak RSS" "$size" "FAILED" "-" "-" "< 300 MB" "FAIL"
	fi

	# A plan that does not name the change would be fast for the wrong
	# reason: say so.
	if [ "$plan_ok" = 1 ]; then
		if ! "$FIREBREAK" plan --repo "$repo" --from HEAD~1 --to HEAD --format json 2>/dev/null |
		    grep -q '"enc.modify"'; then
			log "$size: warning: the plan does not show an enc.modify change"
		fi
		s=$(calc "$plan / $floor")
		row "cold plan (one host)" "$size" "$(fmt_s "$plan") ($plan_rss MB)" "floor $(fmt_s "$floor")" \
		    "$(calc "sprintf(\"%.2fx\", $s)")" "<= 2.5x floor" \
		    "$(verdict "$size" "$(le "$s" 2.5 && echo 1 || echo 0)")"
		if [ -n "$plan1" ]; then
			s=$(calc "$plan1 / $floor")
			row "cold plan (one host), one thread" "$size" "$(fmt_s "$plan1")" \
			    "floor $(fmt_s "$floor")" "$(calc "sprintf(\"%.2fx\", $s)")" "-" "(info)"
		fi
		log "$size: plan $plan s"
	else
		row "cold plan (one host)" "$size" "FAILED" "-" "-" "<= 2.5x floor" "FAIL"
	fi

	# One-host apply: a state dir at HEAD~1, then HEAD, HEAD~1, HEAD (each
	# a one-host change).  If going back is refused, rebuild the state.
	local state=$TMP/state-$size cur to ok=1 release=""
	best=""
	rm -rf "$state"
	if "$FIREBREAK" apply --repo "$repo" --state "$state" --to HEAD~1 >/dev/null; then
		cur=HEAD~1
		for i in $(seq "$REPEAT"); do
			if [ "$cur" = HEAD~1 ]; then to=HEAD; else to=HEAD~1; fi
			if ! line=$(mrun -- "$FIREBREAK" apply --repo "$repo" --state "$state" \
			    --to "$to" --timings 2>"$TMP/timings"); then
				[ "$to" = HEAD~1 ] || { ok=0; break; }
				log "$size: apply back to HEAD~1 refused; rebuilding the state instead"
				rm -rf "$state"
				"$FIREBREAK" apply --repo "$repo" --state "$state" --to HEAD~1 >/dev/null || { ok=0; break; }
				to=HEAD
				line=$(mrun -- "$FIREBREAK" apply --repo "$repo" --state "$state" \
				    --to HEAD --timings 2>"$TMP/timings") || { ok=0; break; }
			fi
			cur=$to
			best=$(min "$best" "$(field seconds "$line")")
			release=$(min "$release" "$(stage_sum "$TMP/timings" release)")
		done
	else
		log "$size: setting up the state at HEAD~1 failed"
		ok=0
	fi
	if [ "$ok" = 1 ] && [ -n "$best" ]; then
		row "apply (one host): the release switch" "$size" "$(fmt_ms "$release")" "-" "-" \
		    "< 100 ms" "$(verdict "$size" "$(lt "$release" 0.1 && echo 1 || echo 0)")"
		s=$(calc "$best / $floor")
		row "apply (one host), whole one-shot command (cold plan + switch)" "$size" \
		    "$(fmt_ms "$best")" "floor $(fmt_s "$floor")" "$(calc "sprintf(\"%.2fx\", $s)")" \
		    "-" "(info)"
		log "$size: apply $best s (release $release s)"
	else
		row "apply (one host)" "$size" "FAILED" "-" "-" "< 100 ms" "FAIL"
	fi

	# enc against cat of the very same document, in alternating rounds.
	local doc=$TMP/enc-$size.yaml enc="" cat="" enc_ok=$ok
	if [ "$enc_ok" = 1 ] && ! "$FIREBREAK" enc --state "$state" "$fqdn" >"$doc"; then
		enc_ok=0
	fi
	if [ "$enc_ok" = 1 ]; then
		for i in $(seq "$REPEAT"); do
			line=$(mrun -l "$ENC_LOOPS" -- "$FIREBREAK" enc --state "$state" "$fqdn") ||
			    { enc_ok=0; break; }
			enc=$(min "$enc" "$(field seconds "$line")")
			line=$(mrun -l "$ENC_LOOPS" -- cat "$doc") || die "cat failed"
			cat=$(min "$cat" "$(field seconds "$line")")
		done
	fi
	if [ "$enc_ok" = 1 ]; then
		ENC_S[$size]=$enc
		s=$(calc "$enc / $cat")
		row "enc per call" "$size" "$(fmt_ms "$enc")" "cat $(fmt_ms "$cat")" \
		    "$(calc "sprintf(\"%.2fx\", $s)")" "<= 1.5x cat" \
		    "$(verdict "$size" "$(le "$s" 1.5 && echo 1 || echo 0)")"
		log "$size: enc $enc s, cat $cat s"
	else
		row "enc per call" "$size" "FAILED" "-" "-" "<= 1.5x cat" "FAIL"
	fi
	rm -rf "$state"
	bench_controller "$size"
}

# The running controller: a warm base, so a one-host commit costs only what
# changed.  geninv --change-one-host makes each commit (the policy trusts
# enc.modify, so each is applied too).
bench_controller() {
	local size=$1 repo=$WORK/$1 state=$TMP/ctl-$1 conf=$TMP/ctl-$1.yaml pid i n
	local log=$TMP/ctl-$1.log plan_s="" release_s=""
	rm -rf "$state"
	if ! "$FIREBREAK" apply --repo "$repo" --state "$state" >/dev/null; then
		row "controller: commit to plan (warm)" "$size" "FAILED" "-" "-" "< 100 ms" "FAIL"
		return 0
	fi
	printf 'repo: %s\nbranch: main\nstate: %s\n' "$repo" "$state" >"$conf"
	"$FIREBREAK" run --config "$conf" --timings 2>"$log" &
	pid=$!
	for _ in $(seq 600); do [ -S "$state/control.sock" ] && break; sleep 0.05; done
	for i in 1 2 3; do
		"$GENINV" --change-one-host "$repo" >/dev/null
		for _ in $(seq 600); do
			n=$(grep -c 'timing: release' "$log" || true)
			[ "$n" -ge "$i" ] && break
			sleep 0.05
		done
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	plan_s=$(awk '$1 == "timing:" && $2 == "commit" { v = $5 / 1000; if (b == "" || v < b) b = v }
	    END { print b }' "$log")
	release_s=$(awk '$1 == "timing:" && $2 == "release" { v = $3 / 1000; if (b == "" || v < b) b = v }
	    END { print b }' "$log")
	if [ -z "$plan_s" ] || [ -z "$release_s" ]; then
		log "$size: the controller did not plan the commits: $(tail -3 "$log")"
		row "controller: commit to plan (warm)" "$size" "FAILED" "-" "-" "< 100 ms" "FAIL"
		return 0
	fi
	row "controller: commit to plan (warm)" "$size" "$(fmt_ms "$plan_s")" "-" "-" "< 100 ms" \
	    "$(verdict "$size" "$(lt "$plan_s" 0.1 && echo 1 || echo 0)")"
	row "controller: one-host apply, release switch (warm)" "$size" "$(fmt_ms "$release_s")" \
	    "-" "-" "< 100 ms" "$(verdict "$size" "$(lt "$release_s" 0.1 && echo 1 || echo 0)")"
	log "$size: controller plan $plan_s s, release $release_s s"
	bench_bot "$size" "$state"
	rm -rf "$state"
}

# bench_bot SIZE STATE: one chat command end to end (a cold process:
# validate the arguments against the head, edit, commit, re-validate the
# whole inventory, compare-and-swap), on a clone so the cached inventory
# keeps its shape.  No DESIGN target: reported against the floor.
bench_bot() {
	local size=$1 state=$2 clone=$TMP/bot-$1.git conf=$TMP/bot-$1.yaml svc t0 t1 s
	rm -rf "$clone"
	git clone -q --bare "$WORK/$size" "$clone" || return 0
	svc=$(git -C "$clone" ls-tree --name-only HEAD services/ | head -1)
	svc=${svc#services/}
	svc=${svc%.yaml}
	printf 'repo: %s\nbranch: main\nstate: %s\n' "$clone" "$state" >"$conf"
	t0=$(date +%s.%N)
	if ! "$FIREBREAK" chat --config "$conf" --as alice "deploy $svc 99.0.$$" >/dev/null 2>"$TMP/bot.err"; then
		log "$size: the bot failed: $(tail -2 "$TMP/bot.err")"
		row "bot: deploy, commit made (one process)" "$size" "FAILED" "-" "-" "-" "-"
		rm -rf "$clone"
		return 0
	fi
	t1=$(date +%s.%N)
	s=$(calc "$t1 - $t0")
	row "bot: deploy, commit made (one process)" "$size" "$(fmt_s "$s")" \
	    "floor $(fmt_s "${FLOOR_S[$size]}")" "$(calc "sprintf(\"%.2fx\", $s / ${FLOOR_S[$size]})")" \
	    "- (info)" "-"
	log "$size: bot deploy $s s"
	rm -rf "$clone"
}

# ------------------------------------------------------------------ report

for size in $BENCH_SIZES; do
	size_args "$size" >/dev/null || die "unknown size '$size' (1k, 10k, 100k)"
done
for size in $BENCH_SIZES; do
	prepare "$size"
done
for size in $BENCH_SIZES; do
	bench_size "$size"
done

# enc must cost the same at 1k and 100k hosts.
small=""
for size in $BENCH_SIZES; do
	if [ -n "${ENC_S[$size]:-}" ]; then small=$size; break; fi
done
if [ -n "$small" ] && [ -n "${ENC_S[100k]:-}" ] && [ "$small" != 100k ]; then
	s=$(calc "${ENC_S[100k]} / ${ENC_S[$small]}")
	row "enc 100k vs $small" "100k" "$(fmt_ms "${ENC_S[100k]}")" "$small $(fmt_ms "${ENC_S[$small]}")" \
	    "$(calc "sprintf(\"%.2fx\", $s)")" "same (<= 1.25x)" \
	    "$(verdict 100k "$(le "$s" 1.25 && echo 1 || echo 0)")"
fi

cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
dirty=$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)

echo "## firebreak bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, ${mem:-? GiB}, $(uname -sr)"
echo "- firebreak: $rev${dirty:+ (work tree modified)}; libgit2 $(pkg-config --modversion libgit2 2>/dev/null || echo '?'),"\
     "libyaml $(pkg-config --modversion yaml-0.1 2>/dev/null || echo '?'), $(git --version)"
echo "- sizes: 1k = 1000 hosts/20 roles/50 services/4 zones, 10k = 10000/100/200/10,"\
     "100k = 100000/200/500/20 (bench/geninv, seed 1); enc: $ENC_LOOPS calls per round"
echo "- times are wall clock of the whole process, best of $REPEAT; targets apply at 100k"
echo
echo "| metric | size | value | floor or reference | ratio | target | verdict |"
echo "|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do
	IFS='|' read -r m sz v ref ratio target verd <<<"$r"
	echo "| $m | $sz | $v | $ref | $ratio | $target | $verd |"
done
