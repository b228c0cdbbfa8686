# bind.bash - a private BIND (named from Debian's bind9) for the rfc2136
# tests and benchmark: `load dns/bind` in a .bats file, or `. bind.bash`.
#
# bind_start DIR ZONE...: named on a free loopback port, everything
# (config, keys, zone files, journals, pid file) under DIR, one primary
# zone per ZONE.  Sets BIND_DIR, DNS_PORT, RNDC_PORT, BIND_PID.  Two TSIG
# keys: "fbkey" may transfer and update every zone; "otherkey" is known to
# the server but allowed nothing (so using it gets REFUSED).  Run as root,
# named drops to the user nobody (-u), and DIR is made theirs; otherwise it
# runs as the calling user.  It listens on 127.0.0.1 only, without rndc
# access from anything but the rndc key in DIR.
#
# bind_load ZONE FILE [TRANSFER_ACL]: replace ZONE's content with FILE (a
# zone file) and its journal with nothing (rndc delzone, addzone); returns
# once the server answers with FILE's SOA serial.  Transfers need key
# fbkey unless TRANSFER_ACL says otherwise (e.g. "127.0.0.1;": unsigned).  bind_start adds each zone empty
# (an SOA and the apex NS) this way.
#
# Needs named, rndc, tsig-keygen, dig, python3 (free port), all installed
# by `make deps`.

bind_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bind_start() {
	local dir=$1 z user_opt=()
	shift
	BIND_DIR=$dir
	mkdir -p "$dir"
	DNS_PORT=$(bind_free_port)
	RNDC_PORT=$(bind_free_port)
	tsig-keygen -a hmac-sha256 fbkey >"$dir/fbkey.conf"
	tsig-keygen -a hmac-sha256 otherkey >"$dir/otherkey.conf"
	tsig-keygen -a hmac-sha256 rndc-key >"$dir/rndc.key"
	sed -n 's/.*secret "\(.*\)";/\1/p' "$dir/fbkey.conf" >"$dir/fbkey.secret"
	sed -n 's/.*secret "\(.*\)";/\1/p' "$dir/otherkey.conf" >"$dir/otherkey.secret"
	chmod 600 "$dir/fbkey.secret" "$dir/otherkey.secret"
	cat >"$dir/rndc.conf" <<-EOF
	include "$dir/rndc.key";
	options { default-key "rndc-key"; default-server 127.0.0.1; default-port $RNDC_PORT; };
	EOF
	cat >"$dir/named.conf" <<-EOF
	include "$dir/fbkey.conf";
	include "$dir/otherkey.conf";
	include "$dir/rndc.key";
	options {
		directory "$dir";
		pid-file "$dir/named.pid";
		listen-on port $DNS_PORT { 127.0.0.1; };
		listen-on-v6 { none; };
		recursion no;
		notify no;
		dnssec-validation no;
		max-journal-size unlimited;
		allow-new-zones yes;
	};
	controls { inet 127.0.0.1 port $RNDC_PORT allow { 127.0.0.1; } keys { rndc-key; }; };
	EOF
	if [ "$(id -u)" -eq 0 ]; then
		# named refuses nothing as root, but the tests want it
		# unprivileged: it drops to nobody, who must own its files
		# and reach them.
		chown -R nobody "$dir"
		chmod 755 "$dir"
		user_opt=(-u nobody)
	fi
	named -g -c "$dir/named.conf" -p "$DNS_PORT" "${user_opt[@]}" >"$dir/named.log" 2>&1 3>&- &
	BIND_PID=$!
	for _ in $(seq 200); do
		if bind_rndc status >/dev/null 2>&1; then
			for z in "$@"; do
				printf '$TTL 300\n@ IN SOA ns1.nameservers.test. hostmaster.%s. 1 3600 600 86400 300\n@ IN NS ns1.nameservers.test.\n' \
				    "$z" >"$dir/$z.empty"
				bind_load "$z" "$dir/$z.empty" || return 1
			done
			export BIND_DIR DNS_PORT RNDC_PORT BIND_PID
			return 0
		fi
		kill -0 "$BIND_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "named did not start:" >&2
	cat "$dir/named.log" >&2
	return 1
}

bind_stop() {
	if [ -n "${BIND_PID:-}" ]; then
		kill -TERM "$BIND_PID" 2>/dev/null || true
		wait "$BIND_PID" 2>/dev/null || true
		BIND_PID=
	fi
}

bind_rndc() {
	rndc -c "$BIND_DIR/rndc.conf" "$@"
}

# The SOA serial the server answers for ZONE.
bind_serial() {
	dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +time=2 +short "$1" SOA | awk '{print $3}'
}

bind_load() {
	local zone=$1 file=$2 acl=${3:-key fbkey;} serial f
	serial=$(awk '$3 == "SOA" {print $6; exit}' "$file")
	# A zone added anew, from a file and with a journal of its own: a
	# dynamic zone's file cannot be swapped under the server (a freeze
	# dumps the zone over it), and an old journal would be replayed.
	f=$BIND_DIR/$zone.$(date +%s%N).zone
	cp "$file" "$f"
	rm -f "$f.jnl"
	[ "$(id -u)" -eq 0 ] && chown nobody "$f"
	bind_rndc delzone "$zone" >/dev/null 2>&1 || true   # a zone not there yet
	bind_rndc addzone "$zone" "{ type primary; file \"$f\"; journal \"$f.jnl\";
	    allow-update { key fbkey; }; allow-transfer { $acl }; };" >/dev/null || return 1
	for _ in $(seq 200); do
		[ "$(bind_serial "$zone")" = "$serial" ] && return 0
		sleep 0.05
	done
	echo "bind_load: $zone did not reach serial $serial" >&2
	tail -20 "$BIND_DIR/named.log" >&2
	return 1
}

# dns NAME [TYPE]: what the server answers, sorted, one record a line.
dns() {
	dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +time=2 +short "$1" "${2:-A}" | LC_ALL=C sort
}

# nsupd COMMANDS...: an update signed with fbkey, straight to the server
# (not through firebreak): "someone else" changing the zone.
nsupd() {
	{
		printf 'server 127.0.0.1 %s\n' "$DNS_PORT"
		printf '%s\n' "$@"
		printf 'send\n'
	} | nsupdate -k "$BIND_DIR/fbkey.conf"
}

# zone_records ZONE: the whole zone by AXFR, without SOA and apex NS, sorted
# (what firebreak manages), one "name ttl type rdata" a line.
zone_records() {
	dig @127.0.0.1 -p "$DNS_PORT" -k "$BIND_DIR/fbkey.conf" +nocmd +nostats +nocomments \
	    "$1" AXFR | awk -v z="$1." '$1 != "" && $1 !~ /^;/ && $4 != "SOA" && $4 != "TSIG" && !($4 == "NS" && $1 == z) \
	    {$3 = ""; print}' | LC_ALL=C sort -u
}
