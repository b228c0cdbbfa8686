/*
 * test_inventory.c - the loader and validator, one case per kind of
 * problem: each asserts the file, line, column and message a user sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"
#include "model/policy.h"

struct file {
	const char *path;
	const char *data;
};

#define MAXF 8

/* A minimal valid inventory, to which each case adds or replaces files. */
static const struct file base_files[] = {
	{ "roles/web.yaml", "classes: [profile::web]\n" },
	{ "services/app.yaml", "version: 1.4.2\n" },
	{ "dns/example.com.yaml", "zone_id: Z1\nrecords: []\n" },
	{ "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\n" },
};

/* Load base_files overridden/extended by `extra`; NULL data removes a file. */
static int
load(struct model **m, struct diags *d, const struct file *extra, size_t n)
{
	struct loader *l = loader_new();
	size_t i, j;

	for (i = 0; i < sizeof(base_files) / sizeof(*base_files); i++) {
		int overridden = 0;

		for (j = 0; j < n; j++)
			if (strcmp(extra[j].path, base_files[i].path) == 0)
				overridden = 1;
		if (!overridden)
			loader_add(l, base_files[i].path, base_files[i].data,
			    strlen(base_files[i].data));
	}
	for (j = 0; j < n; j++)
		if (extra[j].data)
			loader_add(l, extra[j].path, extra[j].data, strlen(extra[j].data));
	return loader_finish(l, m, d);
}

struct error_case {
	const char *name;
	struct file files[MAXF];
	const char *file;      /* expected first problem */
	int line, col;
	const char *message;   /* exact */
};

static const struct error_case error_cases[] = {
	{ "yaml syntax error",
	  { { "hosts/web-01.example.com.yaml", "role: web\nip: [10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 3, 1,
	  "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence" },
	{ "unknown key with did-you-mean",
	  { { "hosts/web-01.example.com.yaml", "role: web\nipp: 10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 2, 1,
	  "unknown key 'ipp' in a host (did you mean 'ip'?)" },
	{ "active host without a role",
	  { { "hosts/web-01.example.com.yaml", "ip: 10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 1, 1,
	  "an active host needs a 'role'" },
	{ "unknown key in a role",
	  { { "roles/web.yaml", "classes: [profile::web]\nparms: {a: 1}\n" } },
	  "roles/web.yaml", 2, 1,
	  "unknown key 'parms' in a role (did you mean 'params'?)" },
	{ "wrong type",
	  { { "roles/web.yaml", "classes: profile::web\n" } },
	  "roles/web.yaml", 1, 10,
	  "'classes' must be a list, not a string" },
	{ "role without a file",
	  { { "hosts/web-01.example.com.yaml", "role: wbe\nip: 10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 1, 0,
	  "role 'wbe' has no file roles/wbe.yaml" },
	{ "invalid fqdn in a file name",
	  { { "hosts/Web_01.example.com.yaml", "role: web\n" } },
	  "hosts/Web_01.example.com.yaml", 0, 0,
	  "'Web_01.example.com' is not a valid host name" },
	{ "path traversal in a role name",
	  { { "hosts/web-01.example.com.yaml", "role: ../../etc\nip: 10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 1, 7,
	  "'../../etc' is not a valid role name for 'role'" },
	{ "terraform injection in a zone id",
	  { { "dns/example.com.yaml", "zone_id: \"${file(\\\"/etc/passwd\\\")}\"\n" } },
	  "dns/example.com.yaml", 1, 10,
	  "'${file(\"/etc/passwd\")}' is not a valid Route53 zone id for 'zone_id'" },
	{ "invalid service name",
	  { { "services/App Server.yaml", "version: 1\n" } },
	  "services/App Server.yaml", 0, 0,
	  "'App Server' is not a valid service name" },
	{ "invalid zone name",
	  { { "dns/a..b.yaml", "zone_id: Z2\n" } },
	  "dns/a..b.yaml", 0, 0,
	  "'a..b' is not a valid zone name" },
	{ "two active hosts with one ip",
	  { { "hosts/web-02.example.com.yaml", "role: web\nip: 10.0.1.5\n" } },
	  "hosts/web-02.example.com.yaml", 2, 0,
	  "ip 10.0.1.5 is also used by active host web-01.example.com" },
	{ "cname beside another record",
	  { { "dns/example.com.yaml",
	      "zone_id: Z1\nrecords:\n  - {name: web-01, type: CNAME, value: x.example.org.}\n" } },
	  "dns/example.com.yaml", 3, 0,
	  "CNAME web-01.example.com beside another record of the same name "
	  "(A from hosts/web-01.example.com.yaml)" },
	{ "file over the size limit",
	  { { "hosts/web-01.example.com.yaml", NULL } },   /* filled in by the test */
	  "hosts/web-01.example.com.yaml", 0, 0,
	  "file is 1048577 bytes, over the limit of 1048576" },
	{ "not utf-8",
	  { { "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\nparams: {a: \"\xff\"}\n" } },
	  "hosts/web-01.example.com.yaml", 3, 14,
	  "not valid UTF-8 (byte 0xff)" },
	{ "yaml alias refused",
	  { { "roles/web.yaml", "classes: &c [profile::web]\nparams: {x: *c}\n" } },
	  "roles/web.yaml", 2, 13,
	  "YAML aliases (*c) are not allowed" },
	{ "duplicate key",
	  { { "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\nrole: web\n" } },
	  "hosts/web-01.example.com.yaml", 3, 1,
	  "duplicate key 'role'" },
	{ "bad state",
	  { { "hosts/web-01.example.com.yaml", "role: web\nstate: asleep\n" } },
	  "hosts/web-01.example.com.yaml", 2, 8,
	  "state 'asleep' is not one of active, drained, spare, decommissioned" },
	{ "bad ip",
	  { { "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.500\n" } },
	  "hosts/web-01.example.com.yaml", 2, 5,
	  "'10.0.1.500' is not a valid IPv4 address for 'ip'" },
	{ "bad version",
	  { { "services/app.yaml", "version: \"1.0; rm -rf /\"\n" } },
	  "services/app.yaml", 1, 10,
	  "'1.0; rm -rf /' is not a valid version for 'version'" },
	{ "bad policy change type",
	  { { "policy.yaml", "auto: [pin.modfy]\n" } },
	  "policy.yaml", 1, 8,
	  "'pin.modfy' is not a change type (did you mean 'pin.modify'?)" },
	{ "policy change cannot be auto",
	  { { "policy.yaml", "auto: [policy.modify]\n" } },
	  "policy.yaml", 1, 8,
	  "'policy.modify' cannot be in 'auto': a change to policy.yaml always needs an "
	  "approver of policy" },
	/* Found by fuzz_inventory (a hand-made tree object): the first was
	 * leaked and the second silently won
	 * (tests/fuzz/corpus/inventory/crash-policy-twice). */
	{ "policy.yaml twice in one tree",
	  { { "policy.yaml", "auto: [pin.modify]\n" }, { "policy.yaml", "auto: [enc.modify]\n" } },
	  "policy.yaml", 0, 0,
	  "this file appears twice in the tree" },
	/* Found by fuzz_inventory: two ENC documents at one path, and render
	 * failed with ERR_CONFLICT (tests/fuzz/corpus/inventory/crash-host-twice). */
	/* Found by fuzz_inventory: a required field there with nothing passed
	 * `check`, and the renderers crashed on its NULL
	 * (tests/fuzz/corpus/inventory/crash-null-fields). */
	{ "a null version",
	  { { "services/app.yaml", "version: ~\n" } },
	  "services/app.yaml", 1, 1, "a service needs a 'version'" },
	{ "an empty zone_id",
	  { { "dns/example.com.yaml", "zone_id:\nrecords: []\n" } },
	  "dns/example.com.yaml", 1, 1, "a zone needs a 'zone_id' (the Route53 hosted zone id)" },
	{ "a null record name",
	  { { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n  - {name: ~, type: A, value: 10.0.0.1}\n" } },
	  "dns/example.com.yaml", 3, 5, "a record needs a 'name' ('@' for the zone apex)" },
	{ "a null record type",
	  { { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n  - {name: x, type: null, value: 10.0.0.1}\n" } },
	  "dns/example.com.yaml", 3, 5, "a record needs a 'type'" },
	{ "an active host with a null role",
	  { { "hosts/web-01.example.com.yaml", "role: ~\nip: 10.0.1.5\n" } },
	  "hosts/web-01.example.com.yaml", 1, 1, "an active host needs a 'role'" },
	{ "a host file twice in one tree",
	  { { "hosts/web-02.example.com.yaml", "role: web\n" },
	    { "hosts/web-02.example.com.yaml", "role: web\nstate: drained\n" } },
	  "hosts/web-02.example.com.yaml", 0, 0,
	  "this file appears twice in the tree" },
	{ "a zone file twice in one tree",
	  { { "dns/example.org.yaml", "zone_id: Z9\n" }, { "dns/example.org.yaml", "zone_id: Z9\n" } },
	  "dns/example.org.yaml", 0, 0,
	  "this file appears twice in the tree" },
	{ "subdirectory in hosts",
	  { { "hosts/eu/web-09.example.com.yaml", "role: web\n" } },
	  "hosts/eu/web-09.example.com.yaml", 0, 0,
	  "host files live directly in hosts/, not in subdirectories" },
	{ "record without value",
	  { { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n  - {name: www, type: A}\n" } },
	  "dns/example.com.yaml", 3, 5,
	  "a record needs a 'value' or 'values'" },
	{ "record value with a newline",
	  { { "dns/example.com.yaml",
	      "zone_id: Z1\nrecords:\n  - {name: t, type: TXT, value: \"a\\nb\"}\n" } },
	  "dns/example.com.yaml", 3, 33,
	  "'a\\nb' is not a valid TXT record value" },   /* escaped: no forged lines */
	{ "a record that belongs to a more specific zone",
	  { { "dns/sub.example.com.yaml", "zone_id: Z2\n" },
	    { "dns/example.com.yaml", "zone_id: Z1\nrecords:\n  - {name: www.sub, type: A, value: 10.0.0.1}\n" } },
	  "dns/example.com.yaml", 3, 0,
	  "www.sub.example.com belongs to zone sub.example.com, not example.com: put it in "
	  "dns/sub.example.com.yaml" },
	{ "backends_of a missing role",
	  { { "roles/lb.yaml", "backends_of: webs\n" } },
	  "roles/lb.yaml", 1, 0,
	  "backends_of names role 'webs', which has no file roles/webs.yaml" },
	{ "duplicate hiera key",
	  { { "services/zzz.yaml", "version: 2\nhiera_key: app::version\n" } },
	  "services/zzz.yaml", 2, 0,
	  "hiera_key 'app::version' is also the key of service 'app'" },
};

static void
test_error_case(void **state)
{
	const struct error_case *c = *state;
	struct file files[MAXF];
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };
	char *big = NULL;
	size_t n = 0;
	int rc;

	for (n = 0; n < MAXF && c->files[n].path; n++)
		files[n] = c->files[n];
	if (strcmp(c->name, "file over the size limit") == 0) {
		big = malloc(INVENTORY_MAX_FILE + 2);
		memset(big, '#', INVENTORY_MAX_FILE + 1);
		big[INVENTORY_MAX_FILE + 1] = '\0';
		files[0].data = big;
	}
	rc = load(&m, &d, files, n);
	assert_int_equal(rc, ERR_INVALID);
	assert_null(m);
	assert_true(d.n >= 1);
	assert_string_equal(d.v[0].file, c->file);
	assert_string_equal(d.v[0].message, c->message);
	assert_int_equal(d.v[0].line, c->line);
	if (c->col)
		assert_int_equal(d.v[0].col, c->col);
	diags_dispose(&d);
	free(big);
}

/* Every problem is reported, not just the first. */
static void
test_reports_every_problem(void **state)
{
	static const struct file files[] = {
		{ "hosts/web-01.example.com.yaml", "role: nope\nip: 10.0.1.5\n" },
		{ "hosts/web-02.example.com.yaml", "role: web\nip: x\n" },
		{ "roles/web.yaml", "classes: [Bad-Class]\n" },
	};
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };

	(void)state;
	assert_int_equal(load(&m, &d, files, 3), ERR_INVALID);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[0].file, "hosts/web-01.example.com.yaml");
	assert_string_equal(d.v[1].file, "hosts/web-02.example.com.yaml");
	assert_string_equal(d.v[2].file, "roles/web.yaml");
	assert_string_equal(d.v[2].message, "'Bad-Class' is not a valid Puppet class name in 'classes'");
	diags_dispose(&d);
}

static void
test_valid_model(void **state)
{
	static const struct file files[] = {
		{ "hosts/spare-01.example.com.yaml", "state: spare\n" },
		{ "hosts/db-01.sub.example.com.yaml", "role: web\nip: 10.0.2.1\nenvironment: staging\n" },
		{ "dns/sub.example.com.yaml", "zone_id: Z2\nttl: 60\n" },
		{ "services/db.yaml", "version: 1.10\nenvironments: {staging: 2.0-rc1}\n"
		  "hiera_key:   # a null key is the default (it was a NULL the pins crashed on)\n" },
		{ "README.md", "not ours\n" },
	};
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };
	const struct host *h;
	const struct service *s;

	(void)state;
	assert_int_equal(load(&m, &d, files, 5), OK);
	assert_int_equal(d.n, 0);
	assert_int_equal(m->nhosts, 3);
	/* Sorted by fqdn; longest-suffix zone. */
	assert_string_equal(m->hosts[0].fqdn, "db-01.sub.example.com");
	assert_string_equal(m->zones[m->hosts[0].zone_idx].name, "sub.example.com");
	assert_string_equal(m->zones[m->hosts[2].zone_idx].name, "example.com");
	h = model_host(m, "spare-01.example.com");
	assert_non_null(h);
	assert_int_equal(h->state, HOST_SPARE);
	assert_string_equal(model_host_env(m, h), "production");
	assert_string_equal(model_host_env(m, &m->hosts[0]), "staging");
	/* Versions keep their source text: 1.10 is not the float 1.1. */
	s = model_service(m, "db");
	assert_string_equal(s->version, "1.10");
	assert_string_equal(s->hiera_key, "db::version");
	assert_int_equal(s->nenvs, 1);
	assert_string_equal(s->envs[0].version, "2.0-rc1");
	assert_int_equal(m->zones[1].ttl, 60);
	model_free(m);
}

/* A CNAME beside a role's round-robin name only when that name renders. */
static void
test_role_dns_conflict(void **state)
{
	static const struct file files[] = {
		{ "roles/web.yaml", "dns: [www]\n" },
		{ "dns/example.com.yaml", "zone_id: Z1\nrecords:\n  - {name: www, type: CNAME, value: a.b.}\n" },
	};
	struct model *m = NULL;
	struct diags d = { NULL, 0, 0 };

	(void)state;
	assert_int_equal(load(&m, &d, files, 2), ERR_INVALID);
	assert_string_equal(d.v[0].file, "dns/example.com.yaml");
	assert_string_equal(d.v[0].message, "CNAME www.example.com beside another record of "
	    "the same name (A from roles/web.yaml)");
	diags_dispose(&d);
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t i, n = 0;

	for (i = 0; i < sizeof(error_cases) / sizeof(*error_cases); i++) {
		struct CMUnitTest t = { error_cases[i].name, test_error_case, NULL, NULL,
		    (void *)(uintptr_t)&error_cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reports_every_problem);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_valid_model);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_role_dns_conflict);
	return _cmocka_run_group_tests("inventory", tests, n, NULL, NULL);
}
