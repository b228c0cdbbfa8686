dns/example.com.yaml
zone_id: Z0123456789ABC
ttl: 300
records:
  - {name: "@", type: MX, values: ["10 mx1.example.com.", "20 mx2.example.com."]}
  - {name: "@", type: TXT, value: '"v=spf1 mx -all"'}
  - {name: mail, type: A, value: 10.0.3.25, ttl: 3600}
  - {name: docs, type: CNAME, value: web-01.example.com.}
--
dns/example.net.yaml
zone_id: Z0987654321DEF
ttl: 600
records:
  - {name: status, type: CNAME, value: statuspage.example.org.}
--
hosts/db-01.example.com.yaml
role: db
ip: 10.0.2.10
params:
  replicas: [db-02.example.com]
--
hosts/db-02.example.com.yaml
role: db
ip: 10.0.2.11
--
hosts/lb-01.example.com.yaml
role: lb
ip: 10.0.0.10
--
hosts/old-01.example.com.yaml
role: web
ip: 10.0.1.99
state: decommissioned
--
hosts/web-01.example.com.yaml
role: web
ip: 10.0.1.5
state: active
classes: [profile::debug]
params: {nginx_workers: 8}
--
hosts/web-02.example.com.yaml
role: web
ip: 10.0.1.6
state: active
--
hosts/web-03.example.com.yaml
role: web
ip: 10.0.1.7
state: drained      # out of www and the lb backends, still classified
--
hosts/web-s1.example.net.yaml
role: web
environment: staging
ip: 10.1.1.5
--
policy.yaml
# Who may do what, and what firebreak applies without asking.
# The policy in force is always the one of the last applied commit.

# Applied as soon as they are committed:
auto: [pin.modify, enc.modify]

# Posted as "would apply"; applying still needs an approver:
observe: [dns.delete]

# Above this many in one plan, approval is required whatever the list above says:
limits: {dns.delete: 5, enc.modify: 50}

approvers: {dns: [alice, bob], "*": [alice]}
commands: {deploy: ["*"], drain: [ops], provision: [ops], dns: [alice, bob], revert: [alice]}
groups: {ops: [alice, bob, carol]}
identities: {"slack:U024BE7LH": alice, "mattermost:8x3k": bob, "irc:carol": carol}
--
roles/db.yaml
classes: [profile::base, profile::postgres]
params:
  shared_buffers: 4GB
  replicas: [db-02.example.com]
services: [postgres]
--
roles/lb.yaml
# Load balancers: `backends` lists the active web hosts.
classes: [profile::base, profile::lb]
params: {maxconn: 2000}
services: []
dns: [lb]
backends_of: web
--
roles/web.yaml
# Front-end web servers.
classes: [profile::base, profile::web]
params:
  nginx_workers: 4
  tls: true
services: [app]
dns: [www]          # www.<zone> round-robins over the active web hosts
--
services/app.yaml
version: 1.4.2
environments: {staging: 1.5.0-rc1}   # staging runs the release candidate
hiera_key: profile::app::version
--
services/postgres.yaml
version: "15.4"
hiera_key: profile::postgres::version
