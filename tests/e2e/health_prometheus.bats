#!/usr/bin/env bats
# The prometheus health source against a real Prometheus (Debian's,
# unprivileged, on a free loopback port, its data under the test's
# directory) that scrapes the controller's own /metrics: one scrape target
# per host, told apart by an `fbhost` label.  web-01 and web-s1 are the
# controller itself; web-02's target is a port nobody listens on, so its
# `up` is 0.

load helpers

setup_file() {
	require_firebreak
	require_jq
	template_repo
}

setup() {
	R=$BATS_TEST_TMPDIR/repo
	S=$BATS_TEST_TMPDIR/state
	C=$BATS_TEST_TMPDIR/firebreak.yaml
	CHAT=$BATS_TEST_TMPDIR/chat.log
	PID= PROM_PID=
	if [ "$(id -u)" -eq 0 ]; then
		PROM_HOME=$(mktemp -d /tmp/firebreak-prometheus.XXXXXX)
	else
		PROM_HOME=$BATS_TEST_TMPDIR/prometheus
		mkdir -p "$PROM_HOME"
	fi
	new_repo "$R"
}

teardown() {
	stop_controller
	if [ -n "${PROM_PID:-}" ]; then
		kill "$PROM_PID" 2>/dev/null || true
		wait "$PROM_PID" 2>/dev/null || true
	fi
	[ "$(id -u)" -eq 0 ] && case $PROM_HOME in /tmp/firebreak-prometheus.*) rm -rf "$PROM_HOME" ;; esac
	return 0
}

# prometheus_start LISTEN: scrape LISTEN/metrics every second as web-01
# and web-s1, a dead port as web-02.  Returns once the query API answers.
prometheus_start() {
	local listen=$1 dead asuser=()
	dead=$(free_port)
	PROM_PORT=$(free_port)
	mkdir -p "$PROM_HOME/data"
	cat >"$PROM_HOME/prometheus.yml" <<-EOF
	global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}
	scrape_configs:
	  - job_name: firebreak
	    static_configs:
	      - {targets: ["$listen"], labels: {fbhost: web-01.example.com}}
	      - {targets: ["127.0.0.1:$dead"], labels: {fbhost: web-02.example.com}}
	      - {targets: ["$listen"], labels: {fbhost: web-s1.example.net}}
	EOF
	if [ "$(id -u)" -eq 0 ]; then
		chown -R nobody "$PROM_HOME"
		chmod 755 "$PROM_HOME"
		asuser=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	fi
	"${asuser[@]}" prometheus --config.file="$PROM_HOME/prometheus.yml" \
	    --storage.tsdb.path="$PROM_HOME/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
	    --log.level=warn >"$PROM_HOME/prometheus.log" 2>&1 3>&- &
	PROM_PID=$!
	for _ in $(seq 300); do
		curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up" && return 0
		kill -0 "$PROM_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "prometheus did not start:" >&2
	cat "$PROM_HOME/prometheus.log" >&2
	return 1
}

@test "health (prometheus): /api/v1/query over firebreak's own scrape: a host whose target is down would be drained; hosts with data pass, hosts without have none" {
	printf '\nactions: {health.drain: observe}\n' | append "$R" policy.yaml
	commit_all "$R" "observe drains"
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	port=$(free_port)
	prometheus_start "127.0.0.1:$port"
	cat >"$C" <<-EOF
	repo: $R
	state: $S
	listen: 127.0.0.1:$port
	chat:
	  - {type: console, path: $CHAT}
	health:
	  source: {type: prometheus, url: "http://127.0.0.1:$PROM_PORT", timeout: 5}
	  every: 1
	  max_drained: 2
	  checks:
	    - name: canary-up
	      roles: [web]
	      query: 'up{fbhost="{host}"}'
	      over: 1min
	      fail_if: "last < 1"
	      action: drain
	    - name: evaluating
	      roles: [web]
	      query: 'firebreak_health_evaluations_total{fbhost="{host}",result="ok"}'
	      over: 1min
	      fail_if: "max < 1"
	EOF
	start_controller
	wait_for "$CHAT" "would drain web-02.example.com: canary-up last 0.0 < 1 over 1min"
	# firebreak's own counter, as Prometheus scraped it, read back through
	# the source.  Prometheus spreads its targets' first scrapes over the
	# interval, so web-s1's target may not have been scraped yet when
	# web-01's has: wait for both.
	for host in web-01.example.com web-s1.example.net; do
		for _ in $(seq 200); do
			run fb health --config "$C" --check evaluating --host "$host"
			[ "$status" -eq 0 ] && break
			sleep 0.1
		done
		assert_status 0
		assert_contains "$output" "$host pass evaluating max"
	done
	run --separate-stderr fb health --config "$C" --check canary-up --format json
	assert_eq "$(jqc "$output" '[.[] | {host, result}]')" \
	    '[{"host":"web-01.example.com","result":"pass"},{"host":"web-02.example.com","result":"fail"},{"host":"web-03.example.com","result":"no_data"},{"host":"web-s1.example.net","result":"pass"}]'
	# (`firebreak health` looks at drained hosts too: web-03, which no target
	# names, has no data.)  A host Prometheus has no series of a metric for
	# has no data: the 'evaluating' check for web-02 (dead target).
	run fb health --config "$C" --check evaluating --host web-02.example.com
	assert_status 1
	assert_contains "$output" "web-02.example.com no-data evaluating: no data over 1min"
	assert_eq "$(grep -c 'would drain' "$CHAT")" 1
	assert_eq "$(grep -c 'evaluating' "$CHAT" || true)" 0
}

@test "health (prometheus): a query Prometheus refuses (400) is no data for every host of it, never a pass" {
	run fb apply --repo "$R" --state "$S"
	assert_status 0
	port=$(free_port)
	prometheus_start "127.0.0.1:$port"
	cat >"$C" <<-EOF
	repo: $R
	state: $S
	health:
	  source: {type: prometheus, url: "http://127.0.0.1:$PROM_PORT", timeout: 5}
	  checks:
	    - name: broken
	      roles: [web]
	      query: 'up{fbhost="{host}"'
	      over: 1min
	      fail_if: "last < 1"
	EOF
	run fb health --config "$C"
	assert_status 3
	assert_contains "$output" "web-01.example.com no-data broken: no data over 1min"
	assert_contains "$output" "1 request, 1 failed: HTTP 400"
}
