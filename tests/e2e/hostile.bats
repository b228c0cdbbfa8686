#!/usr/bin/env bats
# Hostile inventories: names and values that try to become paths, shell
# commands, YAML or Terraform templates.  Each must be refused naming the
# file (check exits 1), write nothing anywhere (render), leave the state as
# it was (apply), and run nothing.

load helpers

setup_file() {
	template_repo
	C0=$(sha "$TEMPLATE")
	# A state with the example inventory applied, copied by every test.
	STATE0=$BATS_FILE_TMPDIR/state0
	"$FIREBREAK" apply --repo "$TEMPLATE" --state "$STATE0" >/dev/null
	export C0 STATE0
}

setup() {
	require_firebreak
	require_jq
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	W=$BATS_TEST_TMPDIR/work
	# Where a command injected into the inventory would leave its mark.
	PWN=$BATS_TEST_TMPDIR/pwned
	new_repo "$R"
	cp -a "$STATE0" "$S"
	mkdir -p "$W/cwd" "$W/parent"
	echo keep >"$W/parent/sentinel"
	# Relative marks (file names cannot hold a '/') land in the cwd.
	cd "$W/cwd"
}

teardown() {
	# Checked after every test, passing or not: nothing ran.
	if [ -e "$PWN" ] || [ -e "$W/cwd/PWNED" ] || [ -e "$R/PWNED" ]; then
		echo "an injected command ran" >&2
		return 1
	fi
}

no_injection() {
	if [ -e "$PWN" ] || [ -n "$(entries "$W/cwd")" ] || [ -e "$R/PWNED" ]; then
		echo "an injected command ran (or something was written to the cwd):" >&2
		ls -la "$W/cwd" "$PWN" 2>&1 >&2
		return 1
	fi
}

# hostile_case [-p] EXPECTED: the inventory at HEAD is hostile.  check
# exits 1 and its first problem is EXPECTED (-p: starts with EXPECTED; for
# messages whose exact form is not the point), render writes nothing, and
# apply records an invalid plan and changes nothing else.
hostile_case() {
	local prefix=0 expected first
	if [ "$1" = -p ]; then
		prefix=1
		shift
	fi
	expected=$1
	local c7
	c7=$(short "$R")

	run --separate-stderr fb check --repo "$R"
	assert_status 1
	assert_eq "$output" ""
	first=${stderr_lines[0]}
	if [ $prefix -eq 1 ]; then
		first=${first:0:${#expected}}
	fi
	assert_eq "$first" "$expected" "the first problem"
	assert_eq "${stderr_lines[-1]}" "firebreak: 1 problem in $c7"

	run --separate-stderr fb render --repo "$R" --out "$W/parent/out"
	assert_status 1
	assert_eq "$(entries "$W/parent")" "sentinel" "the parent of --out"

	local before
	before=$(state_fingerprint "$S")
	run --separate-stderr fb apply --repo "$R" --state "$S"
	assert_status 1
	assert_eq "$stderr" "firebreak: $c7 does not validate; $C0 stays applied"
	assert_eq "$(state_fingerprint "$S")" "$before" "the state"
	assert_eq "$(plan_files "$S")" "1.json
2.json"
	local pj
	pj=$(slurp "$S/plans/2.json")
	assert_contains "$pj" '"decision": "invalid",'
	assert_contains "$pj" '"outcome": "invalid"'
	no_injection
}

host_file() {
	commit_file "$R" "hosts/$1" "hostile host $1"
}

# ---- names that would become paths or commands --------------------------

@test "hostile: a host file named '..yaml'" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file '..yaml'
	hostile_case "hosts/..yaml: '.' is not a valid host name"
}

@test "hostile: a host name with '..' in it" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file 'a..b.example.com.yaml'
	hostile_case "hosts/a..b.example.com.yaml: 'a..b.example.com' is not a valid host name"
}

@test "hostile: an uppercase host name" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file 'Web-09.example.com.yaml'
	hostile_case "hosts/Web-09.example.com.yaml: 'Web-09.example.com' is not a valid host name"
}

@test "hostile: a host name with a space" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file 'web 09.example.com.yaml'
	hostile_case "hosts/web 09.example.com.yaml: 'web 09.example.com' is not a valid host name"
}

@test "hostile: a host named \$(touch PWNED)" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file '$(touch PWNED).example.com.yaml'
	hostile_case "hosts/\$(touch PWNED).example.com.yaml: '\$(touch PWNED).example.com' is not a valid host name"
}

@test "hostile: a host named with backticks" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file '`touch PWNED`.example.com.yaml'
	hostile_case "hosts/\`touch PWNED\`.example.com.yaml: '\`touch PWNED\`.example.com' is not a valid host name"
}

@test "hostile: a host 'file' named \$(touch /abs/path) is a subdirectory" {
	printf 'role: web\nip: 10.0.1.50\n' | host_file "\$(touch $PWN).yaml"
	hostile_case "hosts/\$(touch : host files live directly in hosts/; this is not a regular file"
}

@test "hostile: a role value of ../../etc" {
	printf 'role: ../../etc\nip: 10.0.1.50\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:1:7: '../../etc' is not a valid role name for 'role'"
}

@test "hostile: an environment of ../../tmp (it names a hiera/pins file)" {
	printf 'role: web\nip: 10.0.1.50\nenvironment: ../../tmp\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:14: '../../tmp' is not a valid environment name for 'environment'"
}

@test "hostile: a service environment key of ../x" {
	printf 'version: 1.0.0\nenvironments: {"../x": 2.0.0}\n' | commit_file "$R" services/q.yaml "hostile env"
	hostile_case "services/q.yaml:2:16: '../x' is not a valid environment name"
}

@test "hostile: a zone named a..b" {
	printf 'zone_id: ZABC\nrecords: []\n' | commit_file "$R" dns/a..b.yaml "hostile zone"
	hostile_case "dns/a..b.yaml: 'a..b' is not a valid zone name"
}

@test "hostile: an uppercase zone name" {
	printf 'zone_id: ZABC\nrecords: []\n' | commit_file "$R" dns/Example.org.yaml "hostile zone"
	hostile_case "dns/Example.org.yaml: 'Example.org' is not a valid zone name"
}

@test "hostile: a role file named with a space" {
	printf 'classes: [profile::base]\n' | commit_file "$R" "roles/we b.yaml" "hostile role"
	hostile_case "roles/we b.yaml: 'we b' is not a valid role name"
}

@test "hostile: a record name of ../t" {
	printf '  - {name: "../t", type: TXT, value: "x"}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "hostile record name"
	hostile_case "dns/example.com.yaml:8:12: '../t' is not a valid record name for 'name'"
}

@test "hostile: a Route53 zone id with a quote" {
	edit "$R" dns/example.net.yaml 's/^zone_id: .*/zone_id: "Z1\\"; evil"/'
	commit_all "$R" "hostile zone id"
	hostile_case "dns/example.net.yaml:1:10: 'Z1\"; evil' is not a valid Route53 zone id for 'zone_id'"
}

@test "hostile: a class name with a shell command" {
	printf 'role: web\nip: 10.0.1.50\nclasses: ["profile::x; rm -rf /"]\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:11: 'profile::x; rm -rf /' is not a valid Puppet class name in 'classes'"
}

@test "hostile: a parameter name with a space" {
	printf 'role: web\nip: 10.0.1.50\nparams: {"bad key": 1}\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:10: 'bad key' is not a valid parameter name"
}

# ---- values that would break out of YAML, JSON or a record -----------------

@test "hostile: a hiera_key with a double quote" {
	edit "$R" services/app.yaml 's/^hiera_key: .*/hiera_key: "profile::app::\\"version"/'
	commit_all "$R" "hostile hiera_key"
	hostile_case "services/app.yaml:3:12: 'profile::app::\"version' is not a valid Hiera key for 'hiera_key'"
}

@test "hostile: a hiera_key with a single quote, in a new service" {
	printf "version: 1.0.0\nhiera_key: \"x'y\"\n" | commit_file "$R" services/q.yaml "hostile hiera_key"
	hostile_case "services/q.yaml:2:12: 'x'y' is not a valid Hiera key for 'hiera_key'"
}

@test "hostile: a version that would start a new YAML document" {
	printf 'version: "1.0\\n---\\nevil: 1"\n' | commit_file "$R" services/q.yaml "hostile version"
	hostile_case -p "services/q.yaml:1:10: '1.0"
}

@test "hostile: a TXT value with a newline" {
	printf '  - {name: t, type: TXT, value: "a\\nb"}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "hostile TXT"
	hostile_case -p "dns/example.com.yaml:8:33: 'a"
}

@test "hostile: a TXT value that closes its JSON string and object" {
	printf '  - {name: t, type: TXT, value: "x\\"\\n}, \\"evil\\": {"}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "hostile TXT"
	hostile_case -p "dns/example.com.yaml:8:33: 'x\""
}

@test "hostile: an A record value with a trailing newline" {
	printf '  - {name: t, type: A, value: "10.0.0.1\\n"}\n' | append "$R" dns/example.com.yaml
	commit_all "$R" "hostile A"
	hostile_case -p "dns/example.com.yaml:8:31: '10.0.0.1"
}

@test "hostile: a control character in a file" {
	printf 'role: web\nip: 10.0.1.50\x1b[2J\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:2:14: control character 0x1b is not allowed"
}

# ---- YAML features that expand or construct ---------------------------------

@test "hostile: YAML aliases (billion laughs) are refused" {
	printf 'role: web\nip: 10.0.1.50\nparams: {a: &x [1, 2], b: *x}\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:27: YAML aliases (*x) are not allowed"
}

@test "hostile: YAML nested 40 deep is refused" {
	{
		printf 'role: web\nip: 10.0.1.50\nparams: {a: '
		printf '%.0s[' $(seq 40)
		printf '%.0s]' $(seq 40)
		printf '}\n'
	} | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:43: nested deeper than 32 levels"
}

@test "hostile: YAML tags are refused" {
	printf 'role: web\nip: 10.0.1.50\nparams: !!python/object:os.system {a: 1}\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:9: YAML tags (tag:yaml.org,2002:python/object:os.system) are not allowed"
}

@test "hostile: a second YAML document is refused" {
	printf 'role: web\nip: 10.0.1.50\n---\nrole: db\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:1: more than one YAML document in the file"
}

@test "hostile: a duplicate key is refused" {
	printf 'role: web\nip: 10.0.1.50\nip: 10.0.1.51\n' | host_file web-09.example.com.yaml
	hostile_case "hosts/web-09.example.com.yaml:3:1: duplicate key 'ip'"
}

# ---- git tree entries that are not regular files --------------------------------

@test "hostile: a directory named like a host file" {
	printf 'role: web\n' | write_file "$R" hosts/web-09.example.com.yaml/x.yaml
	commit_all "$R" "a directory"
	hostile_case "hosts/web-09.example.com.yaml: host files live directly in hosts/; this is not a regular file"
}

@test "hostile: a submodule (gitlink) named like a host file" {
	git -C "$R" update-index --add --cacheinfo "160000,$C0,hosts/sub.example.com.yaml"
	git -C "$R" commit -q -m "a gitlink"
	hostile_case "hosts/sub.example.com.yaml: host files live directly in hosts/; this is not a regular file"
}

@test "hostile: policy.yaml as a directory" {
	git -C "$R" rm -q policy.yaml
	printf 'auto: [dns.delete]\n' | write_file "$R" policy.yaml/x.yaml
	commit_all "$R" "policy dir"
	hostile_case "policy.yaml: policy.yaml must be a file"
}

@test "hostile: a symlink to /etc/passwd named like a host file" {
	ln -s /etc/passwd "$R/hosts/evil.example.com.yaml"
	commit_all "$R" "a symlink"
	hostile_case -p "hosts/evil.example.com.yaml"
	assert_not_contains "$stderr" "root:"
}

@test "hostile: a symlink is not a host file, even when its target reads as YAML" {
	# Git stores a symlink as a blob holding its target; what a reviewer
	# sees in the work tree is a dangling link, not a host.
	ln -s '{role: web, ip: 10.0.1.50}' "$R/hosts/web-09.example.com.yaml"
	commit_all "$R" "a symlink whose target is YAML"
	[ "$(git -C "$R" ls-tree HEAD hosts/web-09.example.com.yaml | cut -c1-6)" = 120000 ]
	hostile_case -p "hosts/web-09.example.com.yaml: "
}

# ---- sizes are checked before work (issue 12, defect 6) ------------------------

# peak_kb CMD...: CMD's peak resident memory in KiB (its exit status is not
# the point here).  An oracle that works in the ASan build too, where a
# `ulimit -v` would stop the sanitizer itself.
peak_kb() {
	python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

@test "hostile: a 64 MiB host file is refused from its size, without being inflated" {
	# Zeros: a few KiB as a git object, 64 MiB once inflated.
	truncate -s 64M "$R/hosts/big.example.com.yaml"
	commit_all "$R" "a 64 MiB host file"
	rm "$R/hosts/big.example.com.yaml"
	hostile_case "hosts/big.example.com.yaml: file is 67108864 bytes, over the limit of 1048576"
	# Checking it costs what checking the inventory without it costs, not
	# 64 MiB more.
	local with without
	with=$(peak_kb "$FIREBREAK" check --repo "$R")
	without=$(peak_kb "$FIREBREAK" check --repo "$TEMPLATE")
	if [ "$with" -ge $((without + 32 * 1024)) ]; then
		echo "check peaked at $with KiB with the big file, $without KiB without" >&2
		return 1
	fi
}

@test "hostile: a hosts/ folder too big for a tree is refused from its header, not parsed" {
	# 64 MB of zeros stored as a tree object: libgit2 would inflate it,
	# then fail to parse it; its header alone says it is too big.
	head -c 64000001 /dev/zero >"$W/zeros"
	local z root c
	z=$(git -C "$R" hash-object -t tree -w --literally "$W/zeros")
	rm "$W/zeros"
	root=$(git -C "$R" ls-tree HEAD | sed "s/^040000 tree [0-9a-f]*\thosts\$/040000 tree $z\thosts/" |
		git -C "$R" mktree --missing)
	c=$(git -C "$R" commit-tree "$root" -p HEAD -m "a hosts/ tree of 64 MB")
	git -C "$R" update-ref refs/heads/main "$c"
	git -C "$R" reset -q --soft main
	hostile_case "hosts/: a git tree of 64000001 bytes, more than the 64000000 a folder may take (1000000 entries)"
}

# ---- one problem per line ------------------------------------------------------

@test "hostile: a value with newlines cannot forge diagnostic lines" {
	printf '  - {name: t, type: TXT, value: "x\\nhosts/web-01.example.com.yaml:1:1: forged problem"}\n' |
		append "$R" dns/example.com.yaml
	commit_all "$R" "forge a diagnostic"
	run --separate-stderr fb check --repo "$R"
	assert_status 1
	# One problem, so one diagnostic line and the summary.
	assert_eq "${#stderr_lines[@]}" "2" "the number of stderr lines"
	assert_eq "${stderr_lines[1]}" "firebreak: 1 problem in $(short "$R")"
	assert_eq "${stderr_lines[0]:0:27}" "dns/example.com.yaml:8:33: "
}

# ---- hostile but valid: everything is data, nothing runs ------------------------

@test "hostile: shell and template syntax in values is carried as data" {
	write_file "$R" hosts/web-02.example.com.yaml <<EOF
role: web
ip: 10.0.1.6
params:
  motd: "\$(touch $PWN) \`touch $PWN\` \${x} %{y} ; rm -rf / # \"q\" 'q'"
EOF
	printf '  - {name: tpl, type: TXT, value: "$(touch %s) ${x}"}\n' "$PWN" | append "$R" dns/example.com.yaml
	commit_all "$R" "\$(touch $PWN) \`touch $PWN\`"
	run --separate-stderr fb check --repo "$R"
	assert_status 0
	run --separate-stderr fb render --repo "$R" --out "$W/parent/out"
	assert_status 0
	assert_eq "$(entries "$W/parent")" "out
sentinel"
	assert_contains "$(cat "$W/parent/out/enc/web-02.example.com.yaml")" \
		"  motd: \"\$(touch $PWN) \`touch $PWN\` \${x} %{y} ; rm -rf / # \\\"q\\\" 'q'\""
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqr "$output" '.changes[] | select(.object == "web-02.example.com") | .after.parameters.motd')" \
		"\$(touch $PWN) \`touch $PWN\` \${x} %{y} ; rm -rf / # \"q\" 'q'"
	run --separate-stderr fb apply --repo "$R" --state "$S"
	assert_status 0
	run fb enc --state "$S" web-02.example.com
	assert_status 0
	assert_contains "$output" "rm -rf /"
	no_injection
}

@test "hostile: control characters in a commit subject do not reach the terminal" {
	printf 'role: web\nip: 10.0.1.50\n' | write_file "$R" hosts/web-09.example.com.yaml
	commit_all "$R" "$(printf 'add web-09\033[2J\033]0;owned\007 \r done')"
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD
	assert_status 0
	assert_eq "$(printf '%s' "${lines[0]}" | tr -d '[:print:]' | wc -c)" "0" "non-printable bytes in the summary line"
	assert_contains "${lines[0]}" "\"add web-09 [2J ]0;owned  "
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqr "$output" .subject | od -An -c | tr -s ' ' | head -1)" \
		"$(printf 'add web-09\033[2J\033]0;owned\007 \r done' | od -An -c | tr -s ' ' | head -1)"
}

@test "hostile: Terraform template sequences in TXT values are escaped (and quotes and backslashes for Route53)" {
	cat >>"$R/dns/example.com.yaml" <<'EOF'
  - {name: tpl, type: TXT, values: ['v=${jndi:ldap://x} %{if true}y%{endif}', 'a $ b % c {d} $${e} \ "q"']}
EOF
	commit_all "$R" "template sequences"
	run --separate-stderr fb render --repo "$R" --out "$W/parent/out"
	assert_status 0
	tf=$W/parent/out/terraform/route53/example.com.tf.json
	assert_contains "$(cat "$tf")" '
        "name": "tpl.example.com",
        "records": [
          "a $ b % c {d} $$${e} \\\\ \\\"q\\\"",
          "v=$${jndi:ldap://x} %%{if true}y%%{endif}"
        ],'
	# Still JSON; the escaped strings are what Terraform reads as the raw ones.
	assert_eq "$(jq -c '[.resource.aws_route53_record[] | select(.name == "tpl.example.com") | .records]' "$tf")" \
		'[["a $ b % c {d} $$${e} \\\\ \\\"q\\\"","v=$${jndi:ldap://x} %%{if true}y%%{endif}"]]'
	# No unescaped sequence anywhere in the file: every ${ / %{ is doubled.
	assert_eq "$(grep -o '.[$%]{' "$tf" | grep -v '^\$\${\|^%%{' | wc -l)" "0"
	# The plan shows the values as written.
	run --separate-stderr fb plan --repo "$R" --from HEAD~1 --to HEAD --format json
	assert_status 0
	assert_eq "$(jqc "$output" '.changes[] | select(.object == "tpl.example.com/TXT") | .after')" \
		'["a $ b % c {d} $${e} \\ \"q\"","v=${jndi:ldap://x} %{if true}y%{endif}"]'
}

# ---- enc with names that are paths ----------------------------------------------

@test "hostile: enc refuses names that are paths and prints no file" {
	for name in '../../etc/passwd' '/etc/passwd' '..' '.' \
		'web-01.example.com/../../../../etc/passwd' '../current/enc/00/x' \
		"$(printf 'web-01.example.com\nx')" ''; do
		for form in fast core; do
			if [ $form = fast ]; then
				run --separate-stderr fb enc --state "$S" "$name"
			else
				run --separate-stderr fb enc --state "$S" -- "$name"
			fi
			assert_status 1
			assert_eq "$output" "firebreak: '$name' is not a valid fqdn"
			assert_eq "$stderr" "$output"
			assert_not_contains "$output" "root:"
		done
	done
	long=$(printf 'a%.0s' $(seq 5000)).example.com
	run --separate-stderr fb enc --state "$S" "$long"
	assert_status 1
	assert_eq "${#lines[@]}" "1" "lines of the reason"
	assert_eq "${output:0:16}" "firebreak: 'aaaa"
}

@test "hostile: enc --repo refuses names that are paths" {
	run --separate-stderr fb enc --repo "$R" '../../etc/passwd'
	assert_status 1
	assert_eq "$output" "firebreak: no node '../../etc/passwd' in commit ${C0:0:7}"
	assert_eq "$stderr" "$output"
	run --separate-stderr fb enc --repo "$R" '../hosts/web-01.example.com'
	assert_status 1
	assert_not_contains "$output" "role:"
}

@test "hostile: re-rendering does not follow a symlink planted in the output" {
	out=$W/parent/out
	fb render --repo "$R" --out "$out" >/dev/null
	mkdir "$W/precious"
	echo data >"$W/precious/file"
	ln -s "$W/precious" "$out/enc/link"
	ln -s "$W/precious/file" "$out/hiera/filelink"
	run --separate-stderr fb render --repo "$R" --out "$out"
	assert_status 0
	assert_eq "$(cat "$W/precious/file")" "data"
	[ ! -e "$out/enc/link" ]
	[ ! -L "$out/enc/link" ]
	assert_eq "$(entries "$W/parent")" "out
sentinel"
}
