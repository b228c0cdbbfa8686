# bench/bench.mk - `make bench`: the inventory generator, the floor, the
# timing tool, and the report they feed (bench/run.sh).  Included by the
# top-level Makefile, whose CC, ALL_CFLAGS, ALL_LDFLAGS, BUILD and BIN it uses.
#
#   make bench                     generate 1k/10k/100k inventories (cached in
#                                  bench/.work/), measure, print the report
#   make bench BENCH_SIZES="1k 10k"   a quicker run (also an environment variable)
#   make bench-tools               only build $(BUILD)/bench/{geninv,floor,measure}
#   make bench-rollout             only a rollout's own overhead (bench/rollout.sh:
#                                  1,000 hosts, /bin/true, parallel 50)
#   make bench-rfc2136             only the rfc2136 apply against a local BIND
#                                  (bench/rfc2136.sh; `make bench` runs it)
#   make bench-ha                  only HA: failover time over 20 kill -9s and
#                                  commit-to-plan latency HA on vs off, on a
#                                  local 3-member etcd (bench/ha.py)
#   make bench-health              only one health evaluation over 1,000 hosts
#                                  against a local graphite-web (bench/health.sh;
#                                  `make bench` runs it last)

BENCH_BUILD := $(BUILD)/bench
BENCH_TOOLS := $(BENCH_BUILD)/geninv $(BENCH_BUILD)/floor $(BENCH_BUILD)/measure
# The floor reads git objects and parses YAML, nothing else.
BENCH_FLOOR_LIBS := $(shell pkg-config --libs libgit2 yaml-0.1 2>/dev/null)

$(BENCH_BUILD)/geninv: bench/geninv.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

$(BENCH_BUILD)/measure: bench/measure.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

$(BENCH_BUILD)/floor: bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(BENCH_FLOOR_LIBS)

.PHONY: bench bench-tools bench-rfc2136 bench-health bench-rollout bench-ha
bench-tools: $(BENCH_TOOLS)

# `all`, not just $(BIN): the firebreak front execs firebreak-core beside it.
bench: all $(BENCH_TOOLS)
	FIREBREAK=$(abspath $(BIN)) BENCH_BIN=$(abspath $(BENCH_BUILD)) \
	    $(if $(BENCH_SIZES),BENCH_SIZES="$(BENCH_SIZES)") ./bench/run.sh
	FIREBREAK=$(abspath $(BIN)) ./bench/rfc2136.sh
	FIREBREAK=$(abspath $(BIN)) ./bench/health.sh
	FIREBREAK=$(abspath $(BIN)) ./bench/rollout.sh
	FIREBREAK=$(abspath $(BIN)) ./bench/ha.py

bench-ha: all
	FIREBREAK=$(abspath $(BIN)) ./bench/ha.py

bench-health: all
	FIREBREAK=$(abspath $(BIN)) ./bench/health.sh

bench-rollout: all
	FIREBREAK=$(abspath $(BIN)) ./bench/rollout.sh

bench-rfc2136: all
	FIREBREAK=$(abspath $(BIN)) ./bench/rfc2136.sh
