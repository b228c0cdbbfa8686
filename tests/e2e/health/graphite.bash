# graphite.bash - a private Graphite (Debian's graphite-carbon and
# graphite-web) for the health tests and the bench: `load health/graphite`
# in a .bats file, or `. graphite.bash`.
#
# graphite_start DIR: carbon-cache (its line receiver, and the cache
# query port graphite-web reads fresh points from: CARBONLINK_HOSTS) and
# graphite-web's WSGI application under gunicorn, both on free loopback
# ports, every directory, log, whisper file and its local settings module
# under DIR.  Run as root, both drop to the user nobody (DIR is made
# theirs); otherwise they run as the calling user.  Sets CARBON_PORT,
# GRAPHITE_URL, CARBON_PID, GRAPHITE_PID; returns once graphite-web
# answers a render.  Whisper keeps 10-second points for two hours.
#
# graphite_feed: plaintext lines ("path value timestamp") from stdin to
# the line receiver, in one connection.
# graphite_past METRIC VALUE [SECONDS]: points every 10 s over the last
# SECONDS (default 300) with VALUE, timestamps in the past (no waiting).
# graphite_wait METRIC [MIN]: until a render of the last 5 minutes shows
# at least MIN (default 1) non-null points of METRIC (10 s at most).
# graphite_stop: stop both.
#
# Needs /usr/bin/python3 (Debian's, with the graphite packages), carbon-cache,
# gunicorn: `make deps` installs them.

GRAPHITE_PY=/usr/bin/python3

graphite_free_port() {
	$GRAPHITE_PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

graphite_start() {
	local dir=$1 qport pport wport asuser=()
	mkdir -p "$dir"/{conf,storage/whisper,storage/log/webapp,log,run,webconf}
	CARBON_PORT=$(graphite_free_port)
	qport=$(graphite_free_port)
	pport=$(graphite_free_port)
	wport=$(graphite_free_port)
	cat >"$dir/conf/carbon.conf" <<-CONF
	[cache]
	STORAGE_DIR = $dir/storage/
	LOCAL_DATA_DIR = $dir/storage/whisper/
	CONF_DIR = $dir/conf/
	LOG_DIR = $dir/log/
	PID_DIR = $dir/run/
	DATABASE = whisper
	ENABLE_LOGROTATION = False
	MAX_CACHE_SIZE = inf
	MAX_UPDATES_PER_SECOND = inf
	MAX_CREATES_PER_MINUTE = inf
	LINE_RECEIVER_INTERFACE = 127.0.0.1
	LINE_RECEIVER_PORT = $CARBON_PORT
	ENABLE_UDP_LISTENER = False
	PICKLE_RECEIVER_INTERFACE = 127.0.0.1
	PICKLE_RECEIVER_PORT = $pport
	CACHE_QUERY_INTERFACE = 127.0.0.1
	CACHE_QUERY_PORT = $qport
	USE_FLOW_CONTROL = True
	WHISPER_AUTOFLUSH = False
	WHISPER_FALLOCATE_CREATE = False
	LOG_LISTENER_CONN_SUCCESS = False
	CONF
	cat >"$dir/conf/storage-schemas.conf" <<-CONF
	[default]
	pattern = .*
	retentions = 10s:2h
	CONF
	cat >"$dir/fb_graphite_settings.py" <<-CONF
	SECRET_KEY = 'firebreak-test-only'
	STORAGE_DIR = '$dir/storage'
	WHISPER_DIR = '$dir/storage/whisper'
	LOG_DIR = '$dir/storage/log/webapp'
	INDEX_FILE = '$dir/storage/index'
	CONF_DIR = '$dir/webconf'
	STATIC_ROOT = '/usr/share/graphite-web/static'
	CARBONLINK_HOSTS = ['127.0.0.1:$qport:a']
	DEFAULT_XFILES_FACTOR = 0
	LOG_RENDERING_PERFORMANCE = False
	LOG_CACHE_PERFORMANCE = False
	DATABASES = {'default': {'NAME': '$dir/storage/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
	CONF
	if [ "$(id -u)" -eq 0 ]; then
		chown -R nobody "$dir"
		chmod 755 "$dir"
		asuser=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	fi
	(cd "$dir" && exec "${asuser[@]}" carbon-cache --config="$dir/conf/carbon.conf" \
	    --nodaemon --logdir="$dir/log" --pidfile="$dir/run/carbon.pid" start \
	    >"$dir/carbon.out" 2>&1 3>&-) &
	CARBON_PID=$!
	# The find API reads its users' table: graphite-web's SQLite database,
	# made here (under DIR) as its own `manage migrate` makes it.
	if ! (cd "$dir" && env PYTHONPATH="$dir" GRAPHITE_SETTINGS_MODULE=fb_graphite_settings \
	    DJANGO_SETTINGS_MODULE=graphite.settings "${asuser[@]}" $GRAPHITE_PY -m django \
	    migrate --run-syncdb --verbosity 0 >"$dir/migrate.out" 2>&1); then
		echo "graphite-web's database could not be made:" >&2
		tail -20 "$dir/migrate.out" >&2
		return 1
	fi
	(cd "$dir" && exec env PYTHONPATH="$dir" GRAPHITE_SETTINGS_MODULE=fb_graphite_settings \
	    DJANGO_SETTINGS_MODULE=graphite.settings "${asuser[@]}" gunicorn \
	    --bind "127.0.0.1:$wport" --workers 2 --timeout 60 --log-level warning \
	    graphite.wsgi:application >"$dir/web.out" 2>&1 3>&-) &
	GRAPHITE_PID=$!
	GRAPHITE_URL="http://127.0.0.1:$wport"
	export CARBON_PORT GRAPHITE_URL CARBON_PID GRAPHITE_PID GRAPHITE_DIR=$dir
	for _ in $(seq 300); do
		if curl -sf -o /dev/null "$GRAPHITE_URL/render?format=json&target=none.such" &&
		    (exec 4<>"/dev/tcp/127.0.0.1/$CARBON_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$GRAPHITE_PID" 2>/dev/null && kill -0 "$CARBON_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "graphite did not start:" >&2
	tail -20 "$dir/carbon.out" "$dir/web.out" >&2
	return 1
}

graphite_feed() {
	$GRAPHITE_PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
s.close()' "$CARBON_PORT"
}

graphite_past() {
	local metric=$1 value=$2 span=${3:-300} now t
	now=$(date +%s)
	for ((t = now - span + 5; t < now; t += 10)); do
		printf '%s %s %s\n' "$metric" "$value" "$t"
	done | graphite_feed
}

graphite_wait() {
	local metric=$1 min=${2:-1} n
	for _ in $(seq 100); do
		n=$(curl -s "$GRAPHITE_URL/render?format=json&from=-5min&target=$metric" |
		    jq '[.[].datapoints[] | select(.[0] != null)] | length' 2>/dev/null)
		[ "${n:-0}" -ge "$min" ] && return 0
		sleep 0.1
	done
	echo "graphite_wait: $metric has ${n:-no} points, wanted $min" >&2
	return 1
}

graphite_stop() {
	local p
	for p in ${GRAPHITE_PID:-} ${CARBON_PID:-}; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in ${GRAPHITE_PID:-} ${CARBON_PID:-}; do
		wait "$p" 2>/dev/null || true
	done
	GRAPHITE_PID= CARBON_PID=
}
