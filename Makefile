# firebreak - build, test, demo, bench, deps.  See README.md.
#
#   make            build $(BUILD)/firebreak (plain make only builds)
#   make test       install missing Debian packages, then unit, golden and e2e tests
#   make demo       install missing packages, then run firebreak on examples/inventory
#   make bench      the performance report (bench/RESULTS.md records the latest)
#   make lint       banned functions and header boundaries
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (tests/fuzz/fuzz.mk)
#   make install    binaries and man pages into $(DESTDIR)$(PREFIX) (/usr/local)
#   make package    the Debian package (debian/), into $(BUILD)/pkg/
#   make manlint    mandoc -Tlint on the man pages (man/)
#   WERROR=1        warnings are errors (CI)
#   SAN=1           ASan + UBSan build in build-san/

# Every core builds, unless make is told otherwise (-jN; -j1 for one).  A
# sub-make shares its parent's jobs.
ifeq ($(MAKELEVEL),0)
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif
endif

CC      ?= cc
PKGS    := libgit2 yaml-0.1 jansson libcrypto libmicrohttpd libcurl ldns libsystemd
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wwrite-strings -Wimplicit-fallthrough \
           -Wcast-qual -Wundef
ifeq ($(WERROR),1)
WARN    += -Werror
endif
OPT     ?= -O2 -g
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1 -g
HARDEN  :=
HARDEN_LD :=
else
BUILD   ?= build
SANFLAGS :=
# Release builds are hardened: checked libc calls, stack canaries, a
# position-independent executable and full RELRO (the GOT read-only
# after start-up).  tests/e2e/hardening.bats checks the binaries.
HARDEN  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Includes name their folder from these roots: "base/util.h" (a layer of
# reconciler/), "providers/chat/chat.h", "renderers/renderer.h".
INCLUDES   := -Ireconciler -I.
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) $(HARDEN) $(INCLUDES) \
              $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(HARDEN_LD) -pthread -Wl,--as-needed $(LDFLAGS)

CORE_SRC := $(sort $(shell find reconciler renderers providers -name '*.c'))
CLI_SRC  := $(wildcard reconciler/cli/*.c)
LIB_SRC  := $(filter-out $(CLI_SRC),$(CORE_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# `firebreak` is a libc-only front that answers `enc --state` itself (Puppet
# runs it on every agent run) and execs `firebreak-core` for the rest.
BIN      := $(BUILD)/firebreak
CORE_BIN := $(BUILD)/firebreak-core
FRONT_OBJ := $(BUILD)/reconciler/cli/main.o $(BUILD)/reconciler/state/enc.o \
             $(BUILD)/reconciler/base/util.o $(BUILD)/reconciler/base/names.o
CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out reconciler/cli/main.c,$(CLI_SRC)))

# The version is debian/changelog's ("firebreak (0.13.0) unstable; ...").
VERSION  := $(shell sed -n '1s/^firebreak .\([^ ]*\). .*/\1/p' debian/changelog 2>/dev/null)

.PHONY: all deps test unit golden e2e demo bench lint clean install package manlint
all: $(BIN) $(CORE_BIN)

# `firebreak --version` (cli.c), rebuilt when the changelog moves on.
$(BUILD)/reconciler/cli/cli.o: debian/changelog
$(BUILD)/reconciler/cli/cli.o: ALL_CFLAGS += -DFIREBREAK_VERSION='"$(VERSION)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libfirebreak.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(FRONT_OBJ)
	$(CC) -o $@ $^ $(ALL_LDFLAGS)

$(CORE_BIN): $(CORE_OBJ) $(BUILD)/libfirebreak.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

# (Not $(BUILD)/pkg/: the package's tree holds directories such as logrotate.d.)
-include $(shell find $(BUILD) -path $(BUILD)/pkg -prune -o -name '*.d' -type f -print 2>/dev/null)

# Debian packages the build, the tests and the demo need; installed only when missing.
DEB_PKGS := build-essential pkg-config git libgit2-dev libyaml-dev libjansson-dev \
            libcurl4-openssl-dev libinotifytools0-dev libmicrohttpd-dev libssl-dev \
            libcmocka-dev bats puppet ngircd inspircd atheme-services curl jq openssl \
            python3 bind9 bind9-dnsutils libldns-dev openssh-server \
            graphite-carbon graphite-web gunicorn prometheus \
            clang-14 libclang-rt-14-dev systemd etcd-server etcd-client libsystemd-dev \
            debhelper dpkg-dev fakeroot lintian mandoc chromium parallel
deps:
	@./tests/deps.sh $(DEB_PKGS)

# ---- installing and packaging ------------------------------------------------
PREFIX  ?= /usr/local
MAN1    := $(wildcard man/*.1)
MAN5    := $(wildcard man/*.5)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0755 $(BIN) $(CORE_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/
	ln -sf firebreak.1 $(DESTDIR)$(PREFIX)/share/man/man1/firebreak-core.1

manlint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5)

# dpkg-buildpackage writes beside the source tree, so the tree (without
# builds and git) is copied to $(BUILD)/pkg/src and the .deb, .buildinfo
# and .changes land in $(BUILD)/pkg/.  The package build compiles from
# scratch with Debian's build flags (debian/rules), in a make of its own
# (none of this make's variables or jobserver).  DEB_BUILD_OPTIONS works:
# "nocheck parallel=2" skips the unit tests and builds with -j2.
PKG_DIR := $(BUILD)/pkg
package: deps
	rm -rf $(PKG_DIR)
	mkdir -p $(PKG_DIR)/src
	tar -cf - --exclude-vcs --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
	    --exclude=./demo --exclude=./bench/.work --exclude='./$(BUILD)' --exclude='*.o' \
	    --exclude='*.d' . | \
	    tar -xf - -C $(PKG_DIR)/src
	cd $(PKG_DIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
	@ls $(PKG_DIR)/firebreak_$(VERSION)_*.deb

include tests/tests.mk
include bench/bench.mk

demo: deps
	@$(MAKE) --no-print-directory all
	@FIREBREAK=$(abspath $(BIN)) ./examples/demo.sh

lint:
	@./tests/lint.sh

clean:
	rm -rf build build-san build-fuzz
