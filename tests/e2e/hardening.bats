#!/usr/bin/env bats
# Release builds are hardened (Makefile HARDEN, issue 12): position-
# independent executables, full RELRO (BIND_NOW and a GNU_RELRO segment),
# stack canaries and _FORTIFY_SOURCE's checked libc calls.  readelf reads
# what the linker wrote, so a flag dropped from the Makefile fails here.

load helpers

setup() {
	require_firebreak
	command -v readelf >/dev/null || { echo "readelf (binutils) is missing" >&2; return 1; }
	BINS="$FIREBREAK $(dirname "$FIREBREAK")/firebreak-core"
	# The sanitizer build (SAN=1) is for finding bugs, not for shipping:
	# ASan does not go with _FORTIFY_SOURCE, so it is built without them.
	if readelf -d "$FIREBREAK" | grep -q 'NEEDED.*libasan'; then
		skip "a sanitizer build: hardening applies to release builds"
	fi
}

@test "the binaries are position-independent executables" {
	for b in $BINS; do
		run readelf -h "$b"
		assert_contains "$output" "DYN (Position-Independent Executable file)" "$b"
		run readelf -d "$b"
		assert_contains "$output" "PIE" "$b"
	done
}

@test "the binaries have full RELRO: BIND_NOW and a GNU_RELRO segment" {
	for b in $BINS; do
		run readelf -d "$b"
		assert_contains "$output" "(FLAGS)              BIND_NOW" "$b"
		run readelf -lW "$b"
		assert_contains "$output" "GNU_RELRO" "$b"
	done
}

@test "the binaries use stack canaries and _FORTIFY_SOURCE's checked calls" {
	for b in $BINS; do
		run readelf --dyn-syms -W "$b"
		assert_contains "$output" "__stack_chk_fail" "$b"
		assert_contains "$output" "__snprintf_chk" "$b"
	done
}
