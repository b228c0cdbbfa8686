#!/usr/bin/env bats
# The man pages (man/) are well-formed mdoc and cannot fall behind the
# code: every subcommand of the CLI's dispatch table is in firebreak(1)
# and answers --help; every configuration key the code accepts (the key
# tables of reconciler/state/ and of every provider) is in
# firebreak.yaml(5); every key of the
# inventory schema and of policy.yaml is in firebreak-inventory(5).  The
# names are read from the C sources, so a key or a command added without
# its documentation fails here.

load helpers

MAN=$TOP/man

setup() {
	require_firebreak
	# make deps installs mandoc: missing is a failure, not a skip.
	command -v mandoc >/dev/null ||
	    { echo "mandoc is missing (make deps installs it)" >&2; return 1; }
}

# c_strings FILE... : the string literals of every key table in the files
# (static arrays named keys, known, or ending in _keys), one a line.
c_strings() {
	python3 - "$@" <<'PY'
import re, sys
seen = []
for f in sys.argv[1:]:
    src = open(f, encoding="utf-8").read()
    for name, body in re.findall(
            r'static const char \*const (\w+)\[\]\s*=\s*\{(.*?)\};', src, re.S):
        if name in ("keys", "known") or name.endswith("_keys"):
            for s in re.findall(r'"([^"]*)"', body):
                if s not in seen:
                    seen.append(s)
print("\n".join(seen))
PY
}

# documented PAGE KEY: the page has an mdoc line naming KEY as a command
# modifier (.Cm KEY or .It Cm KEY).
documented() {
	grep -qE "^\.(It )?Cm $2( |\$)" "$1"
}

@test "mandoc -Tlint: the man pages are clean" {
	run mandoc -Tlint -Wwarning "$MAN/firebreak.1" "$MAN/firebreak.yaml.5" \
	    "$MAN/firebreak-inventory.5"
	assert_status 0
	assert_eq "$output" "" "mandoc's lint"
	# Each renders, with its name in the header.
	for p in firebreak.1:FIREBREAK firebreak.yaml.5:FIREBREAK.YAML \
	    firebreak-inventory.5:FIREBREAK-INVENTORY; do
		run mandoc -Tascii "$MAN/${p%%:*}"
		assert_status 0
		assert_contains "${lines[0]}" "${p##*:}("
	done
}

@test "every subcommand of the dispatch table is in firebreak(1) and answers --help" {
	cmds=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", cmd_[a-z_]*,.*/\1/p' "$TOP/reconciler/cli/cli.c")
	[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 16 ] ||
	    { echo "read only these commands from cli.c: $cmds" >&2; false; }
	missing=
	for c in $cmds; do
		grep -qE "^\.It Cm $c( |\$)" "$MAN/firebreak.1" || missing="$missing $c"
		run --separate-stderr fb "$c" --help
		assert_status 0
		assert_eq "${lines[0]%% *}" "usage:" "$c --help's first line"
		assert_contains "${lines[0]}" "usage: firebreak $c "
		assert_eq "$stderr" "" "$c --help's stderr"
		assert_contains "$output" "Exit codes: 0 ok, 1 the input is wrong, 2 usage, 3 environment."
		# -h and `help CMD` say the same.
		run fb "$c" -h
		assert_status 0
		h=$output
		run fb help "$c"
		assert_status 0
		assert_eq "$output" "$h" "help $c"
	done
	assert_eq "$missing" "" "subcommands missing from man/firebreak.1"
}

@test "every chat command of the bot's table is in firebreak(1)'s chat entry" {
	names=$(sed -n 's/^[[:space:]]*{ "\([a-z][a-z ]*\)", \(NULL\|"[a-z]*"\), ".*/\1/p' \
	    "$TOP/reconciler/bot/commands.c")
	[ "$(printf '%s\n' "$names" | wc -l)" -ge 15 ] ||
	    { echo "read only these chat commands: $names" >&2; false; }
	# The entry's .Cm lines, as one comma-separated list.
	listed=$(sed -n '/^\.It Cm chat /,/^\.It /p' "$MAN/firebreak.1" | sed -n 's/^\.Cm //p' |
	    tr '\n' ' ' | sed 's/ *, */,/g; s/ *\. *$//; s/ *\.* *$//')
	missing=
	while IFS= read -r n; do
		case ",$listed," in *",$n,"*) ;; *) missing="$missing '$n'" ;; esac
	done <<<"$names"
	assert_eq "$missing" "" "chat commands missing from firebreak(1) (listed: $listed)"
}

@test "--help wins over everything else, --version prints the version" {
	# Even with a missing config or a wrong option, --help only prints.
	run --separate-stderr fb run --config /nonexistent --help
	assert_status 0
	assert_eq "${lines[0]}" "usage: firebreak run --config C [-n] [--bootstrap-apply]"
	# After "--" it is an argument, not a request for help.
	run --separate-stderr fb check --repo /nonexistent -- --help
	assert_status 2
	version=$(sed -n '1s/^firebreak (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
	[ -n "$version" ]
	run --separate-stderr fb --version
	assert_status 0
	assert_eq "$output" "firebreak $version"
}

@test "firebreak(1) names every exit code" {
	section=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MAN/firebreak.1")
	for code in 0 1 2 3; do
		printf '%s\n' "$section" | grep -qx "\.It $code" ||
		    { echo "exit code $code is not in EXIT STATUS" >&2; false; }
	done
}

@test "every configuration key the code accepts is in firebreak.yaml(5)" {
	# dnsrec.c's table names the keys of Terraform's JSON, not of ours.
	files=$(cd "$TOP" && ls reconciler/state/*.c providers/*/*.c |
	    grep -v '^providers/apply/dnsrec\.c$')
	keys=$(cd "$TOP" && c_strings $files)
	# The tables are there: the top level's and the providers'.
	for k in repo state chat apply rollout token_file argv server graphite; do
		printf '%s\n' "$keys" | grep -qx "$k" ||
		    { echo "key '$k' not read from the sources" >&2; false; }
	done
	missing=
	for k in $keys; do
		documented "$MAN/firebreak.yaml.5" "$k" || missing="$missing $k"
	done
	assert_eq "$missing" "" "configuration keys missing from man/firebreak.yaml.5"
	# Every top-level key has its own entry under TOP-LEVEL KEYS.
	top=$(sed -n '/^\.Sh TOP-LEVEL KEYS/,/^\.Sh /p' "$MAN/firebreak.yaml.5")
	missing=
	for k in $(cd "$TOP" && python3 -c '
import re
src = open("reconciler/state/config.c").read()
body = re.search(r"top_keys\[\]\s*=\s*\{(.*?)\};", src, re.S).group(1)
print("\n".join(re.findall(r"\"([^\"]*)\"", body)))'); do
		printf '%s\n' "$top" | grep -qE "^\.It Cm $k( |\$)" || missing="$missing $k"
	done
	assert_eq "$missing" "" "top-level keys without an entry of their own"
}

@test "every key of the inventory schema and of policy.yaml is in firebreak-inventory(5)" {
	keys=$(cd "$TOP" && c_strings reconciler/model/inventory.c reconciler/model/policy.c)
	for k in role zone_id hiera_key auto approvers identities; do
		printf '%s\n' "$keys" | grep -qx "$k" ||
		    { echo "key '$k' not read from the sources" >&2; false; }
	done
	missing=
	for k in $keys; do
		documented "$MAN/firebreak-inventory.5" "$k" || missing="$missing $k"
	done
	assert_eq "$missing" "" "inventory keys missing from man/firebreak-inventory.5"
}
