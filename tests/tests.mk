# Tests: cmocka unit tests (tests/unit/test_*.c, one binary each), golden
# renderer output (tests/golden/), bats end-to-end tests (tests/e2e/), and
# the fuzz corpora replayed (tests/fuzz/fuzz.mk).
# `make test` ends with one line "N passed, N failed".

include tests/tools/tools.mk
include tests/fuzz/fuzz.mk

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libfirebreak.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libfirebreak.a $(ALL_LDFLAGS) $(PKG_LIBS) -lcmocka

# Under the sanitizers the e2e files run one after the other (unless
# FIREBREAK_TEST_JOBS says otherwise): ASan's slower writes on a loaded
# machine widen crash.bats's documented window (a kill between Slack's 200
# and the outbox's record) past its bound of one resend per 100 kills.
TEST_JOBS := $(or $(FIREBREAK_TEST_JOBS),$(if $(filter 1,$(SAN)),1))

test: deps
	@$(MAKE) --no-print-directory test-build
	@FIREBREAK=$(abspath $(BIN)) BUILD=$(abspath $(BUILD)) \
	    $(if $(TEST_JOBS),FIREBREAK_TEST_JOBS=$(TEST_JOBS)) ./tests/run.sh $(UNIT_BIN)

# Everything the suites run, built, nothing run (no deps).
.PHONY: test-build
test-build: all $(UNIT_BIN) $(TOOLS_BIN) $(REPLAY_BIN)

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done
