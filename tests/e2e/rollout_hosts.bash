# rollout_hosts.bash - the "hosts" of the rollout tests: a real OpenSSH
# server on a loopback port (its own host key, authorized_keys and config,
# all under $RD), an ssh client config mapping every example host to it,
# and on the far side a real `puppet apply --detailed-exitcodes` for that
# certname, classified by `firebreak enc` and pinned through the Hiera
# hierarchy firebreak ships (examples/hiera.yaml: a node level, then the
# pins of the current release).
#
# The manifest (profile::web) writes the app's pinned version to
# $RD/out/<certname>.version, so "changed" (2) and "unchanged" (0) are
# Puppet's own exit codes; $RD/out/fail-<certname> makes a resource fail
# (exit 4 or 6); while $RD/out/hold-<certname> exists the run waits (a
# slow canary the test releases by removing the file).  Every run logs to
# $RD/out/log-<certname> as well (runs_of counts them).
#
# Needs RD (a directory whose path has no spaces), S (the state
# directory), FIREBREAK and TOP.

# rollout_hosts_setup: write everything, start sshd (SSHD_PID).
rollout_hosts_setup() {
	local me c i
	me=$(id -un)
	mkdir -p "$RD"/ssh "$RD"/out "$RD"/var "$RD"/puppet/log "$RD"/puppet/run \
		"$RD"/puppet/code/environments/production/modules/profile/manifests \
		"$RD"/puppet/code/environments/staging
	ln -sfn ../production/modules "$RD"/puppet/code/environments/staging/modules
	for c in base debug lb postgres; do
		echo "class profile::$c { }" >"$RD/puppet/code/environments/production/modules/profile/manifests/$c.pp"
	done
	cat >"$RD/puppet/code/environments/production/modules/profile/manifests/web.pp" <<EOF
class profile::web {
  \$v = lookup('profile::app::version', String, 'first', 'none')
  \$h = \$trusted['certname']
  exec { 'hold': command => "/bin/sh -c 'while [ -e $RD/out/hold-\${h} ]; do sleep 0.1; done'",
         onlyif => "/usr/bin/test -e $RD/out/hold-\${h}", timeout => 120 }
  file { "$RD/out/\${h}.version": content => "\${v}\n", require => Exec['hold'] }
  exec { 'fail': command => '/bin/false', onlyif => "/usr/bin/test -e $RD/out/fail-\${h}",
         require => File["$RD/out/\${h}.version"] }
}
EOF
	: >"$RD/puppet/site.pp"
	# The hierarchy firebreak ships, pointed at this state directory.
	sed "s|/var/lib/firebreak|$S|g" "$TOP/examples/hiera.yaml" >"$RD/puppet/hiera.yaml"
	cat >"$RD/puppet/puppet.conf" <<EOF
[main]
codedir = $RD/puppet/code
environmentpath = $RD/puppet/code/environments
logdir = $RD/puppet/log
rundir = $RD/puppet/run
node_terminus = exec
external_nodes = $FIREBREAK enc --state $S
hiera_config = $RD/puppet/hiera.yaml
EOF
	ssh-keygen -q -t ed25519 -N '' -f "$RD/ssh/host_key" -C fb-test-host
	ssh-keygen -q -t ed25519 -N '' -f "$RD/ssh/id" -C fb-test-client
	cp "$RD/ssh/id.pub" "$RD/ssh/authorized_keys"
	echo "fb-test-sshd $(cat "$RD/ssh/host_key.pub")" >"$RD/ssh/known_hosts"
	SSH_PORT=$(free_port)
	cat >"$RD/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $RD/ssh/host_key
PidFile $RD/ssh/sshd.pid
AuthorizedKeysFile $RD/ssh/authorized_keys
AllowUsers $me
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PermitUserEnvironment no
LogLevel ERROR
EOF
	cat >"$RD/ssh/config" <<EOF
Host *.example.com *.example.net
  HostName 127.0.0.1
  Port $SSH_PORT
  User $me
  IdentityFile $RD/ssh/id
  IdentitiesOnly yes
  HostKeyAlias fb-test-sshd
  UserKnownHostsFile $RD/ssh/known_hosts
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
	# sshd insists on its privilege separation directory when run as root.
	if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi
	/usr/sbin/sshd -D -e -f "$RD/ssh/sshd_config" 2>"$RD/ssh/sshd.log" 3>&- &
	SSHD_PID=$!
	for i in $(seq 100); do
		(exec 4<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "sshd did not start:" >&2
	cat "$RD/ssh/sshd.log" >&2
	return 1
}

rollout_hosts_teardown() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill -TERM "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
		SSHD_PID=
	fi
}

# The orchestrator block of a controller config: real ssh, real Puppet.
orchestrator_ssh() {
	cat <<EOF
  orchestrator:
    type: ssh
    argv: [ssh, -F, $RD/ssh/config, -o, BatchMode=yes, "{host}", env, LANG=C.UTF-8,
           /usr/bin/puppet, apply, "--config=$RD/puppet/puppet.conf", "--vardir=$RD/var/{host}",
           "--certname={host}", --detailed-exitcodes, --color=false, --logdest=console,
           "--logdest=$RD/out/log-{host}", $RD/puppet/site.pp]
    timeout: 120
EOF
}

# version_of HOST: what Puppet last wrote for it ("" if it never ran).
version_of() {
	cat "$RD/out/$1.version" 2>/dev/null || true
}

# runs_of HOST: how many Puppet runs reached it.
runs_of() {
	local n
	n=$(grep -c "Compiled catalog for $1 " "$RD/out/log-$1" 2>/dev/null) || true
	echo "${n:-0}"
}
