# Test helper programs (tests/tools/*.c: chatpost, slackstub, ircwatch),
# built into $(BUILD)/tests/tools/ for the e2e suites.  Included from
# tests/tests.mk; `make test` builds $(TOOLS_BIN) before running.

TOOLS_SRC := $(wildcard tests/tools/*.c)
TOOLS_BIN := $(TOOLS_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libfirebreak.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libfirebreak.a $(ALL_LDFLAGS) $(PKG_LIBS)


# The test build of the program: the same objects, except that
# reconciler/base/crashpoint.c is compiled with -DFIREBREAK_TEST_HOOKS, so
# this firebreak-core (and only this one) kills itself where
# FIREBREAK_CRASH_AT says (base/crashpoint.h).  Its object comes ahead of
# the library on the link line, so the library's empty crash_point() is
# never pulled in.  The front is copied beside it: it runs the core that
# sits in its own directory.
HOOKS_DIR := $(BUILD)/tests/hooks
HOOKS_BIN := $(HOOKS_DIR)/firebreak $(HOOKS_DIR)/firebreak-core

$(HOOKS_DIR)/crashpoint.o: reconciler/base/crashpoint.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFIREBREAK_TEST_HOOKS -MMD -MP -c -o $@ $<

$(HOOKS_DIR)/firebreak-core: $(CORE_OBJ) $(HOOKS_DIR)/crashpoint.o $(BUILD)/libfirebreak.a
	$(CC) -o $@ $(CORE_OBJ) $(HOOKS_DIR)/crashpoint.o $(BUILD)/libfirebreak.a $(ALL_LDFLAGS) $(PKG_LIBS)

$(HOOKS_DIR)/firebreak: $(BIN)
	@mkdir -p $(dir $@)
	cp $< $@

TOOLS_BIN += $(HOOKS_BIN)

.PHONY: tools
tools: $(TOOLS_BIN)
