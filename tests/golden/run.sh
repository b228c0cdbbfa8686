#!/usr/bin/env bash
# Golden test: examples/inventory, committed to a fresh git repository,
# rendered by `firebreak render` must equal tests/golden/expected/ byte for
# byte, file for file.  UPDATE_GOLDEN=1 rewrites the expected files (review
# the diff before committing it).  Output: TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${FIREBREAK:=$top/build/firebreak}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$top/examples/inventory" "$work/repo"
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" -c user.name=golden -c user.email=golden@localhost \
    commit -q -m "golden" --date="2026-01-01T00:00:00Z"
if ! "$FIREBREAK" render --repo "$work/repo" --out "$work/out" >/dev/null; then
	echo "1..1"
	echo "not ok 1 - render examples/inventory"
	exit 1
fi
rm -f "$work/out/.firebreak-render"
if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
	rm -rf "$here/expected"
	cp -r "$work/out" "$here/expected"
	echo "golden: updated $here/expected" >&2
fi
mapfile -t files < <(cd "$work/out" && find . -type f | sed 's|^\./||' | sort)
mapfile -t want < <(cd "$here/expected" && find . -type f | sed 's|^\./||' | sort)
echo "1..$(( ${#want[@]} + 1 ))"
n=1
if [ "${files[*]}" = "${want[*]}" ]; then
	echo "ok $n - the same set of files (${#want[@]})"
else
	echo "not ok $n - the set of rendered files differs"
	diff <(printf '%s\n' "${want[@]}") <(printf '%s\n' "${files[@]}") | sed 's/^/# /'
fi
for f in "${want[@]}"; do
	n=$((n + 1))
	if cmp -s "$here/expected/$f" "$work/out/$f"; then
		echo "ok $n - $f"
	else
		echo "not ok $n - $f differs"
		diff -u "$here/expected/$f" "$work/out/$f" 2>&1 | head -40 | sed 's/^/# /'
	fi
done
