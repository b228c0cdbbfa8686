#!/usr/bin/env bash
# examples/demo-puppet.sh HOST - the demo's stand-in for "ssh HOST sudo
# puppet agent --test": a real `puppet apply --detailed-exitcodes` for
# HOST's certname on this machine, classified by `firebreak enc` and pinned
# through examples/hiera.yaml (the demo's copies, under demo/puppet/).  Its
# exit status is Puppet's, which is what the `exec` orchestrator reads.
# The demo's profile::web writes the app's pinned version to
# demo/puppet/out/HOST.version.
set -u
dir=$(cd "$(dirname "$0")/.." && pwd)/demo/puppet
host=$1
exec env LANG=C.UTF-8 puppet apply --config="$dir/puppet.conf" --vardir="$dir/var/$host" \
	--certname="$host" --detailed-exitcodes --color=false "$dir/site.pp"
