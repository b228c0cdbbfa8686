# Test helper programs (tests/tools/*.c: chatpost, slackstub, ircwatch),
# built into $(BUILD)/tests/tools/ for the e2e suites.  Included from
# tests/tests.mk; `make test` builds $(TOOLS_BIN) before running.

TOOLS_SRC := $(wildcard tests/tools/*.c)
TOOLS_BIN := $(TOOLS_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libfirebreak.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libfirebreak.a $(ALL_LDFLAGS) $(PKG_LIBS)

.PHONY: tools
tools: $(TOOLS_BIN)
