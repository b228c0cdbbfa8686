# Fuzz targets (tests/fuzz/fuzz_<name>.c, one LLVMFuzzerTestOneInput each)
# and their seed corpora (tests/fuzz/corpus/<name>/).  Included from
# tests/tests.mk.
#
#   make fuzz                  build every target with clang and libFuzzer
#                              (+ ASan + UBSan) into build-fuzz/ and run each
#                              for FUZZ_SECONDS over a copy of its corpus
#   make fuzz FUZZ_SECONDS=N   N seconds per target (default 60)
#   make fuzz FUZZ_TARGETS="ydoc edit"   only these
#   make fuzz FUZZ_JOBS=2      two runs of each target side by side
#   make fuzz-build            build only
#   make fuzz-campaign         run every target until it has executed
#                              FUZZ_GOAL inputs in total (default 10 million;
#                              resumable: build-fuzz/execs.tsv keeps the count)
#
# New inputs libFuzzer finds go to build-fuzz/corpus/<name>/ (not the
# source tree); a crash is written as build-fuzz/crash-<name>-*.  Turn a
# crash into tests/fuzz/corpus/<name>/crash-<what> once it is fixed.
#
# `make test` replays every corpus through every target built with the
# normal compiler ($(BUILD)/tests/fuzz/fuzz_<name>, linked with
# tests/fuzz/replay.c): one TAP line per target.

FUZZ_CC      ?= clang-14
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -pthread -O1 -g $(WARN) -Wno-format-nonliteral $(FUZZ_SAN) \
                $(INCLUDES) -Itests/fuzz $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
REPLAY_BIN   := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-campaign
fuzz-build: $(FUZZ_BIN)

FUZZ_GOAL ?= 10000000
fuzz-campaign: $(FUZZ_BIN)
	@./tests/fuzz/campaign.sh $(FUZZ_GOAL) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The library is instrumented for coverage (fuzzer-no-link); only the
# targets link libFuzzer's main.
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libfirebreak.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libfirebreak.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libfirebreak.a \
	    -pthread $(PKG_LIBS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

# Each target starts from its seed corpus and its own earlier finds.
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
		    $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
		    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# The replay binaries: the same target source, the normal compiler.
$(BUILD)/tests/fuzz/replay.o: tests/fuzz/replay.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/tests/fuzz/replay.o \
    $(BUILD)/libfirebreak.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ $< $(BUILD)/tests/fuzz/replay.o \
	    $(BUILD)/libfirebreak.a $(ALL_LDFLAGS) $(PKG_LIBS)
