#!/usr/bin/env bats
# `make lint`'s layer check (tests/lint_layers.py) on a copy of the source
# tree: the tree as it is passes; an include that goes up a layer, one
# between bot and controller, a backend's header used outside its provider
# folder, an include cycle and a file outside the layer folders each fail
# with a line naming the file and what is wrong.

load helpers

setup() {
	T=$BATS_TEST_TMPDIR/src
	mkdir -p "$T"
	# The tracked sources as they are in the work tree (uncommitted edits too).
	(cd "$TOP" && git ls-files -z -- reconciler renderers providers tests/lint_layers.py |
	    xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$T"
	git -C "$T" init -q
	git -C "$T" add -A
}

lint() {
	(cd "$T" && git add -A && python3 tests/lint_layers.py)
}

# add_include FILE HEADER: a new include line before FILE's first one;
# LINE is its line number.
add_include() {
	sed -i "0,/^#include/s||#include \"$2\"\n#include|" "$T/$1"
	LINE=$(grep -n -F "#include \"$2\"" "$T/$1" | head -1 | cut -d: -f1)
}

@test "lint: the tree as it is keeps the layers" {
	run lint
	assert_status 0
	assert_eq "$output" ""
}

@test "lint: an include that goes up a layer is refused, naming the file, the line and the layers" {
	add_include reconciler/model/ydoc.c controller/controller.h
	run lint
	assert_status 1
	assert_eq "$(head -1 <<<"$output")" "lint: reconciler/model/ydoc.c:$LINE: layer model may not include controller/controller.h (layer controller): see DESIGN.md Layout"
	# The folders now depend on each other both ways: said as well.
	assert_contains "$output" "folder cycle: model -> controller -> model"
}

@test "lint: base may include nothing above it; renderers not plan" {
	add_include reconciler/base/util.c git/repo.h
	local l1=$LINE
	add_include renderers/pins.c plan/plan.h
	run lint
	assert_status 1
	assert_contains "$output" "lint: reconciler/base/util.c:$l1: layer base may not include git/repo.h (layer git)"
	assert_contains "$output" "lint: renderers/pins.c:$LINE: layer renderers may not include plan/plan.h (layer plan)"
}

@test "lint: bot and controller never include each other" {
	add_include reconciler/bot/commit.c controller/controller.h
	run lint
	assert_status 1
	assert_contains "$output" "layer bot may not include controller/controller.h (layer controller)"
}

@test "lint: only a provider interface header is included outside its folder" {
	add_include reconciler/controller/chatin.c providers/chat/slack_in.h
	local l1=$LINE
	add_include reconciler/bot/commit.c providers/chat/chat.h
	run lint
	assert_status 1
	assert_contains "$output" "lint: reconciler/controller/chatin.c:$l1: controller may not include providers/chat/slack_in.h (only a provider interface, providers/X/X.h, from state, controller or cli)"
	assert_contains "$output" "lint: reconciler/bot/commit.c:$LINE: bot may not include providers/chat/chat.h"
}

@test "lint: a provider includes only base, model, plan and its own folder" {
	add_include providers/chat/console.c state/outbox.h
	add_include providers/apply/exec.c providers/chat/chat.h
	run lint
	assert_status 1
	assert_contains "$output" "layer providers/chat may not include state/outbox.h (layer state)"
	assert_contains "$output" "layer providers/apply may not include providers/chat/chat.h (layer providers)"
}

@test "lint: an include cycle between files of one folder is refused" {
	add_include reconciler/base/fs.h base/proc.h
	add_include reconciler/base/proc.h base/fs.h
	run lint
	assert_status 1
	assert_contains "$output" "include cycle: reconciler/base/"
	grep -q -e "reconciler/base/fs -> reconciler/base/proc -> reconciler/base/fs" \
	    -e "reconciler/base/proc -> reconciler/base/fs -> reconciler/base/proc" <<<"$output"
}

@test "lint: includes name their folder; files live in a layer folder; basenames are unique" {
	add_include reconciler/model/ydoc.c util.h
	printf 'int x;\n' >"$T/reconciler/stray.c"
	printf 'int y;\n' >"$T/reconciler/bot/util.c"
	run lint
	assert_status 1
	assert_contains "$output" "lint: reconciler/model/ydoc.c:$LINE: \"util.h\" is not a file under an include root (name the folder: \"base/util.h\")"
	assert_contains "$output" "lint: reconciler/stray.c:1: not in a layer folder (DESIGN.md Layout)"
	assert_contains "$output" "basename util.c is also"
}
