#!/usr/bin/env bats
# The Debian package (debian/, `make package`): built once per run of this
# file, unpacked with dpkg-deb -x into the test's directory (never
# installed on the machine), and checked as a user would meet it: lintian
# finds no error; the binaries run from the unpacked tree; the conffiles,
# the unit, the system user and group, the state directory, the man pages
# and log rotation are where Debian puts them and agree with each other.
#
# FIREBREAK_DEB=path/to/firebreak_*.deb checks a package built already.

load helpers

setup_file() {
	require_firebreak
	# make deps installs them: missing is a failure, not a skip.
	local t
	for t in dpkg-buildpackage dpkg-deb lintian mandoc systemd-analyze systemd-sysusers \
	    systemd-tmpfiles; do
		command -v "$t" >/dev/null ||
		    { echo "$t is missing (make deps installs it)" >&2; return 1; }
	done
	VERSION=$(sed -n '1s/^firebreak (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
	if [ -n "${FIREBREAK_DEB:-}" ]; then
		DEB=$FIREBREAK_DEB
	else
		# Its own build directory, so the developer's build/ is left alone;
		# the unit tests ran with `make test` already.
		DEB_BUILD_OPTIONS="nocheck parallel=2" make -C "$TOP" --no-print-directory \
		    package BUILD="$BATS_FILE_TMPDIR/build" >"$BATS_FILE_TMPDIR/package.log" 2>&1 ||
		    { tail -40 "$BATS_FILE_TMPDIR/package.log" >&2; return 1; }
		DEB=$(ls "$BATS_FILE_TMPDIR"/build/pkg/firebreak_"$VERSION"_*.deb)
	fi
	[ -f "$DEB" ] || { echo "no package at $DEB" >&2; return 1; }
	ROOT=$BATS_FILE_TMPDIR/root
	mkdir -p "$ROOT"
	dpkg-deb -x "$DEB" "$ROOT"
	dpkg-deb --ctrl-tarfile "$DEB" | tar -xf - -C "$BATS_FILE_TMPDIR" ./conffiles ./control
	export VERSION DEB ROOT
	template_repo
}

# The unpacked front (it runs the unpacked core beside it).
pfb() {
	"$ROOT/usr/bin/firebreak" "$@"
}

@test "package: make package builds firebreak_VERSION_ARCH.deb with its library dependencies" {
	assert_eq "$(dpkg-deb -f "$DEB" Package)" firebreak "Package"
	assert_eq "$(dpkg-deb -f "$DEB" Version)" "$VERSION" "Version"
	assert_eq "$(dpkg-deb -f "$DEB" Architecture)" "$(dpkg --print-architecture)" "Architecture"
	deps=$(dpkg-deb -f "$DEB" Depends)
	for lib in libgit2 libyaml libjansson libssl libcurl libsystemd0 libldns libmicrohttpd; do
		assert_contains "$deps" "$lib"
	done
	# sysusers.d needs systemd-sysusers at configure time.
	assert_contains "$deps" "systemd-sysusers"
}

@test "package: lintian reports no errors and no warnings" {
	run lintian --no-tag-display-limit "$DEB"
	errors=$(printf '%s\n' "$output" | grep '^E: ' || true)
	assert_eq "$errors" "" "lintian's errors"
	warnings=$(printf '%s\n' "$output" | grep '^W: ' || true)
	assert_eq "$warnings" "" "lintian's warnings"
}

@test "package: the unpacked binaries run: --version, check, render, plan, apply, enc" {
	run --separate-stderr pfb --version
	assert_status 0
	assert_eq "$output" "firebreak $VERSION"
	R=$BATS_TEST_TMPDIR/repo
	new_repo "$R"
	run --separate-stderr pfb check --repo "$R"
	assert_status 0
	# The example inventory rendered by the packaged build is byte for byte
	# what this tree's build renders.
	run pfb render --repo "$R" --out "$BATS_TEST_TMPDIR/pkg-out"
	assert_status 0
	run fb render --repo "$R" --out "$BATS_TEST_TMPDIR/dev-out"
	assert_status 0
	run diff -r "$BATS_TEST_TMPDIR/pkg-out" "$BATS_TEST_TMPDIR/dev-out"
	assert_status 0
	[ -s "$BATS_TEST_TMPDIR/pkg-out/enc/web-01.example.com.yaml" ]
	# A broken inventory is refused with file:line.
	edit "$R" hosts/web-01.example.com.yaml -e 's/^role: web/role: nosuchrole/'
	commit_all "$R" "break it"
	run --separate-stderr pfb check --repo "$R"
	assert_status 1
	assert_contains "$stderr" "hosts/web-01.example.com.yaml:1:"
	# apply, then the libc-only front answers enc from the state.
	run pfb apply --repo "$R" --state "$BATS_TEST_TMPDIR/state" --to HEAD~1
	assert_status 0
	run --separate-stderr pfb enc --state "$BATS_TEST_TMPDIR/state" web-01.example.com
	assert_status 0
	assert_eq "$output" "$(cat "$BATS_TEST_TMPDIR/dev-out/enc/web-01.example.com.yaml")" "enc"
	run --separate-stderr pfb enc --state "$BATS_TEST_TMPDIR/state" nope.example.com
	assert_status 1
}

@test "package: conffiles are the configuration and the logrotate file" {
	run cat "$BATS_FILE_TMPDIR/conffiles"
	assert_eq "$output" "/etc/firebreak/firebreak.yaml
/etc/logrotate.d/firebreak"
	[ -f "$ROOT/etc/firebreak/firebreak.yaml" ]
	[ -f "$ROOT/etc/logrotate.d/firebreak" ]
}

@test "package: the packaged configuration passes run -n and uses the package's paths" {
	CONF=$ROOT/etc/firebreak/firebreak.yaml
	run --separate-stderr pfb run --config "$CONF" -n
	assert_status 0
	assert_eq "$output" "ok: $CONF is a valid configuration"
	assert_eq "$(sed -n 's/^state: *\([^ #]*\).*/\1/p' "$CONF")" /var/lib/firebreak "state:"
	assert_eq "$(sed -n 's/^repo: *\([^ #]*\).*/\1/p' "$CONF")" /srv/git/inventory.git "repo:"
	log=$(sed -n 's/^  - {type: console, path: \([^,}]*\)}.*/\1/p' "$CONF")
	assert_eq "$log" /var/log/firebreak/chat.log "the console chat log"
	# logrotate rotates exactly that file.
	run grep -c "^$log {\$" "$ROOT/etc/logrotate.d/firebreak"
	assert_eq "$output" 1 "logrotate stanza for $log"
}

@test "package: sysusers.d makes the firebreak user and the firebreak-releases group; tmpfiles.d the state directory" {
	[ -f "$ROOT/usr/lib/sysusers.d/firebreak.conf" ]
	[ -f "$ROOT/usr/lib/tmpfiles.d/firebreak.conf" ]
	# On a copy of the unpacked tree, as the postinst does on /.
	T=$BATS_TEST_TMPDIR/root
	cp -a "$ROOT" "$T"
	mkdir -p "$T/etc"
	run systemd-sysusers --root="$T" "$T/usr/lib/sysusers.d/firebreak.conf"
	assert_status 0
	uid=$(awk -F: '$1 == "firebreak" { print $3 }' "$T/etc/passwd")
	home=$(awk -F: '$1 == "firebreak" { print $6 }' "$T/etc/passwd")
	shell=$(awk -F: '$1 == "firebreak" { print $7 }' "$T/etc/passwd")
	gid=$(awk -F: '$1 == "firebreak-releases" { print $3 }' "$T/etc/group")
	[ -n "$uid" ] && [ -n "$gid" ] || { cat "$T/etc/passwd" "$T/etc/group" >&2; false; }
	[ "$uid" -lt 1000 ] || { echo "firebreak's uid $uid is not a system uid" >&2; false; }
	assert_eq "$home" /var/lib/firebreak "firebreak's home"
	assert_eq "$shell" /usr/sbin/nologin "firebreak's shell"
	run systemd-tmpfiles --root="$T" --create "$T/usr/lib/tmpfiles.d/firebreak.conf"
	assert_status 0
	assert_eq "$(stat -c '%a %u %g' "$T/var/lib/firebreak")" "2750 $uid $gid" \
	    "/var/lib/firebreak: mode, owner, group"
	# The unit's user is the one sysusers makes, and README.Debian tells
	# how Puppet's user joins the group.
	assert_eq "$(sed -n 's/^User=//p' "$ROOT/lib/systemd/system/firebreak.service")" firebreak "User="
	run grep -c '^ *adduser puppet firebreak-releases$' "$ROOT/usr/share/doc/firebreak/README.Debian"
	assert_eq "$output" 1 "README.Debian: adduser puppet firebreak-releases"
}

@test "package: the unit is installed, Type=notify with a watchdog, and systemd-analyze verifies it" {
	UNIT=$ROOT/lib/systemd/system/firebreak.service
	[ -f "$UNIT" ]
	assert_eq "$(sed -n 's/^Type=//p' "$UNIT")" notify "Type="
	assert_eq "$(sed -n 's/^NotifyAccess=//p' "$UNIT")" main "NotifyAccess="
	[ -n "$(sed -n 's/^WatchdogSec=//p' "$UNIT")" ]
	assert_eq "$(sed -n 's/^ExecStartPre=//p' "$UNIT")" \
	    "/usr/bin/firebreak run --config /etc/firebreak/firebreak.yaml -n" "ExecStartPre="
	assert_eq "$(sed -n 's/^ExecStart=//p' "$UNIT")" \
	    "/usr/bin/firebreak run --config /etc/firebreak/firebreak.yaml" "ExecStart="
	# What the packaged config writes, the unit lets it write.
	rw=$(sed -n 's/^ReadWritePaths=//p' "$UNIT" | tr ' ' '\n' | sed 's/^-//')
	for p in /var/lib/firebreak /srv/git/inventory.git; do
		printf '%s\n' "$rw" | grep -qx "$p" ||
		    { echo "$p is not in ReadWritePaths ($rw)" >&2; false; }
	done
	assert_eq "$(sed -n 's/^LogsDirectory=//p' "$UNIT")" firebreak "LogsDirectory="
	# verify checks that the commands exist: point them at the unpacked tree.
	sed "s|/usr/bin/firebreak|$ROOT/usr/bin/firebreak|g" "$UNIT" \
	    >"$BATS_TEST_TMPDIR/firebreak.service"
	cd "$BATS_TEST_TMPDIR"
	run systemd-analyze verify --man=no ./firebreak.service
	assert_status 0
	ours=$(printf '%s\n' "$output" | grep 'firebreak\.service' || true)
	assert_eq "$ours" "" "systemd-analyze's warnings about the unit"
	run systemd-analyze security --offline=yes ./firebreak.service
	level=$(printf '%s\n' "$output" | sed -n 's/.*Overall exposure level for firebreak.service: \([0-9.]*\).*/\1/p')
	[ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
	    { echo "exposure level '$level'" >&2; false; }
}

@test "package: the man pages are installed and render" {
	for p in man1/firebreak.1.gz man1/firebreak-core.1.gz man5/firebreak.yaml.5.gz \
	    man5/firebreak-inventory.5.gz; do
		[ -e "$ROOT/usr/share/man/$p" ] || { echo "no $p" >&2; false; }
	done
	# firebreak-core's page is firebreak's.
	assert_eq "$(readlink "$ROOT/usr/share/man/man1/firebreak-core.1.gz")" firebreak.1.gz \
	    "firebreak-core.1.gz"
	for p in man1/firebreak.1.gz man5/firebreak.yaml.5.gz man5/firebreak-inventory.5.gz; do
		run mandoc -Tlint -Wwarning "$ROOT/usr/share/man/$p"
		assert_status 0
		assert_eq "$output" "" "mandoc -Tlint $p"
	done
	run mandoc -Tmarkdown "$ROOT/usr/share/man/man1/firebreak.1.gz"
	assert_contains "$output" "# EXIT STATUS"
}
