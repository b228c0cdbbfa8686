/*
 * test_rollout.c - rollouts' pure parts: which hosts a plan runs Puppet on
 * (plan/radius.c), canary and batch sizes, and the orchestrators: argv
 * templates refused at open, {host} kept inside its element, a name that
 * is no fqdn never reaching argv, results read as Puppet's
 * --detailed-exitcodes, and hostile output cut to one clean line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "model/inventory.h"
#include "model/policy.h"
#include "plan/plan.h"
#include "plan/radius.h"
#include "providers/orchestrate/orchestrate.h"
#include "renderers/renderer.h"

#define MAXF 6

struct file {
	const char *path;
	const char *data;
};

static const struct file common[] = {
	{ "roles/web.yaml", "classes: [profile::web]\nservices: [app]\n" },
	{ "roles/db.yaml", "classes: [profile::db]\nservices: [pg]\n" },
	{ "roles/lb.yaml", "classes: [profile::lb]\nbackends_of: web\n" },
	{ "services/app.yaml", "version: 1.4.2\nenvironments: {staging: 1.5.0}\n" },
	{ "services/pg.yaml", "version: \"15.4\"\n" },
	{ "hosts/web-01.example.com.yaml", "role: web\n" },
	{ "hosts/web-02.example.com.yaml", "role: web\nstate: drained\n" },
	{ "hosts/web-s1.example.com.yaml", "role: web\nenvironment: staging\n" },
	{ "hosts/db-01.example.com.yaml", "role: db\n" },
	{ "hosts/lb-01.example.com.yaml", "role: lb\n" },
	{ "hosts/spare-01.example.com.yaml", "state: spare\n" },
	{ "hosts/old-01.example.com.yaml", "role: web\nstate: decommissioned\n" },
};

struct radius_case {
	const char *name;
	struct file target[MAXF];     /* replaces or adds to common; data NULL deletes */
	const char *hosts;            /* space separated, sorted */
};

static const struct radius_case radius_cases[] = {
	{ "nothing changes: nobody runs", { { NULL, NULL } }, "" },
	{ "a production pin runs the production hosts of the roles receiving it, drained too",
	  { { "services/app.yaml", "version: 1.4.3\nenvironments: {staging: 1.5.0}\n" } },
	  "web-01.example.com web-02.example.com" },
	{ "a staging override runs the staging host only",
	  { { "services/app.yaml", "version: 1.4.2\nenvironments: {staging: 1.5.1}\n" } },
	  "web-s1.example.com" },
	{ "another role's pin runs that role",
	  { { "services/pg.yaml", "version: \"15.5\"\n" } }, "db-01.example.com" },
	{ "a drain changes the lb's backends: the lb and nobody else",
	  { { "hosts/web-01.example.com.yaml", "role: web\nstate: drained\n" } },
	  "lb-01.example.com" },
	{ "a spare host's document changes: it runs",
	  { { "hosts/spare-01.example.com.yaml", "state: spare\nenvironment: staging\n" } },
	  "spare-01.example.com" },
	{ "decommissioning runs the lb, never the decommissioned host",
	  { { "hosts/web-01.example.com.yaml", "role: web\nstate: decommissioned\n" } },
	  "lb-01.example.com" },
	{ "a new host runs",
	  { { "hosts/web-09.example.com.yaml", "role: web\nstate: drained\n" } },
	  "web-09.example.com" },
	{ "a pin for an environment nobody receiving it is in runs nothing",
	  { { "services/pg.yaml", "version: \"15.4\"\nenvironments: {staging: \"16.0\"}\n" } },
	  "" },
};

static struct loader *
loader_with(const struct file *over)
{
	struct loader *l = loader_new();
	size_t i, j;

	for (i = 0; i < sizeof(common) / sizeof(*common); i++) {
		int skip = 0;

		for (j = 0; over && j < MAXF && over[j].path; j++)
			skip |= strcmp(over[j].path, common[i].path) == 0;
		if (!skip)
			loader_add(l, common[i].path, common[i].data, strlen(common[i].data));
	}
	for (j = 0; over && j < MAXF && over[j].path; j++)
		if (over[j].data)
			loader_add(l, over[j].path, over[j].data, strlen(over[j].data));
	return l;
}

static void
test_radius(void **state)
{
	const struct radius_case *c = *state;
	struct model *bm = NULL, *tm = NULL;
	struct artifacts ba = { NULL, 0, 0 }, ta = { NULL, 0, 0 };
	struct diags d = { NULL, 0, 0 };
	struct policy *pol = policy_empty();
	struct strlist hosts = { NULL, NULL, 0 };
	struct plan *p = NULL;
	char got[512] = "";
	size_t i;

	assert_int_equal(loader_finish(loader_with(NULL), &bm, &d), OK);
	assert_int_equal(loader_finish(loader_with(c->target), &tm, &d), OK);
	assert_int_equal(render_all(&ba, bm, NULL), OK);
	assert_int_equal(render_all(&ta, tm, NULL), OK);
	assert_int_equal(plan_build(&p, "3", "1111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222", &ba, &ta, tm, pol), OK);
	radius_hosts(&hosts, p, bm, tm);
	for (i = 0; i < hosts.n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
		    hosts.v[i]);
	assert_string_equal(got, c->hosts);
	strlist_dispose(&hosts);
	plan_free(p);
	artifacts_dispose(&ba);
	artifacts_dispose(&ta);
	model_free(bm);
	model_free(tm);
	policy_free(pol);
}

struct size_case {
	const char *name;
	const char *spec;
	unsigned long min;
	int rc;
	size_t total, want;
};

static const struct size_case size_cases[] = {
	{ "a count", "3", 0, OK, 10, 3 },
	{ "a count above the total is the total", "30", 1, OK, 10, 10 },
	{ "zero canary hosts", "0", 0, OK, 10, 0 },
	{ "a percentage rounds up", "25%", 1, OK, 10, 3 },
	{ "a percentage is at least one host", "1%", 1, OK, 3, 1 },
	{ "100% is everyone", "100%", 1, OK, 7, 7 },
	{ "nobody to run", "10%", 1, OK, 0, 0 },
	{ "zero batch refused", "0", 1, ERR_INVALID, 0, 0 },
	{ "0% refused", "0%", 0, ERR_INVALID, 0, 0 },
	{ "over 100% refused", "101%", 0, ERR_INVALID, 0, 0 },
	{ "a word refused", "some", 0, ERR_INVALID, 0, 0 },
	{ "a negative refused", "-1", 0, ERR_INVALID, 0, 0 },
	{ "a lone percent refused", "%", 0, ERR_INVALID, 0, 0 },
};

static void
test_size(void **state)
{
	const struct size_case *c = *state;
	struct radius_size s;

	assert_int_equal(radius_size_parse(&s, c->spec, c->min), c->rc);
	if (c->rc == OK)
		assert_int_equal(radius_size_of(&s, c->total), c->want);
}

static struct ynode *
yaml(const char *text)
{
	struct ynode *n = NULL;
	int line, col;

	assert_int_equal(ydoc_parse(&n, text, strlen(text), &YDOC_DEFAULT_LIMITS, &line, &col), OK);
	return n;
}

struct open_case {
	const char *name;
	const char *cfg;
	int rc;
	const char *msg;          /* OK: the expanded argv for web-01.example.com */
};

static const struct open_case open_cases[] = {
	{ "ssh: the documented example", "type: ssh\nargv: [ssh, -o, BatchMode=yes, \"{host}\", "
	  "sudo, puppet, agent, --test, --detailed-exitcodes]\ntimeout: 900\n", OK,
	  "/usr/bin/ssh -o BatchMode=yes web-01.example.com sudo puppet agent --test "
	  "--detailed-exitcodes" },
	{ "ssh: BatchMode is added when missing", "type: ssh\nargv: [ssh, -F, /etc/f, "
	  "\"root@{host}\", puppet, apply, \"--certname={host}\"]\n", OK,
	  "/usr/bin/ssh -o BatchMode=yes -F /etc/f root@web-01.example.com puppet apply "
	  "--certname=web-01.example.com" },
	{ "exec: {host} inside an element", "type: exec\nargv: [/bin/echo, \"x{host}y\", "
	  "\"{host}\"]\n", OK, "/bin/echo xweb-01.example.comy web-01.example.com" },
	{ "exec: a bare name is found in the path", "type: exec\nargv: [true, \"{host}\"]\n", OK,
	  "/usr/bin/true web-01.example.com" },
	{ "no {host}", "type: exec\nargv: [/bin/true]\n", ERR_INVALID, "no element holds {host}" },
	{ "unknown placeholder", "type: exec\nargv: [/bin/echo, \"{hots}\"]\n", ERR_INVALID,
	  "argv[1] (line 2): unknown or unclosed placeholder" },
	{ "unclosed placeholder", "type: exec\nargv: [/bin/echo, \"{host\"]\n", ERR_INVALID,
	  "unknown or unclosed placeholder" },
	{ "a stray brace", "type: exec\nargv: [/bin/echo, \"{host}}\"]\n", ERR_INVALID,
	  "a '}' that closes no placeholder" },
	{ "{host} in the program", "type: exec\nargv: [\"/bin/{host}\", x]\n", ERR_INVALID,
	  "argv[0] (line 2): the program may not hold {host}" },
	{ "a relative program", "type: exec\nargv: [bin/run, \"{host}\"]\n", ERR_INVALID,
	  "argv[0] (line 2): no program" },
	{ "a missing program", "type: exec\nargv: [no-such-program-xyz, \"{host}\"]\n",
	  ERR_INVALID, "no program" },
	{ "unknown key", "type: exec\nargv: [/bin/echo, \"{host}\"]\nshell: true\n", ERR_INVALID,
	  "unknown key \"shell\" (line 3)" },
	{ "bad timeout", "type: exec\nargv: [/bin/echo, \"{host}\"]\ntimeout: 0\n", ERR_INVALID,
	  "timeout (line 3)" },
	{ "ssh: a remote word the shell would split", "type: ssh\nargv: [ssh, \"{host}\", "
	  "\"puppet agent\"]\n", ERR_INVALID, "argv[2] (line 2): \"puppet agent\" would not stay "
	  "one word" },
	{ "ssh: a remote word the shell would expand", "type: ssh\nargv: [ssh, \"{host}\", "
	  "puppet, \"$(reboot)\"]\n", ERR_INVALID, "would not stay one word" },
	{ "ssh: a remote ;", "type: ssh\nargv: [ssh, \"{host}\", \"true;reboot\"]\n",
	  ERR_INVALID, "would not stay one word" },
	{ "ssh: no remote command", "type: ssh\nargv: [ssh, \"{host}\"]\n", ERR_INVALID,
	  "no remote command" },
	{ "ssh: BatchMode=no", "type: ssh\nargv: [ssh, -o, BatchMode=no, \"{host}\", x]\n",
	  ERR_INVALID, "BatchMode must be yes" },
	{ "ssh: a destination with more than the host", "type: ssh\nargv: [ssh, "
	  "\"{host}.evil\", x]\n", ERR_INVALID, "the destination after ssh's options" },
	{ "ssh: not an ssh client", "type: ssh\nargv: [/bin/sh, \"{host}\", x]\n", ERR_INVALID,
	  "expected an OpenSSH client" },
};

static void
test_open(void **state)
{
	const struct open_case *c = *state;
	struct ynode *cfg = yaml(c->cfg);
	const struct orch_provider *op = orch_find(ynode_get(cfg, "type")->str);
	void *st = NULL;
	int rc;

	assert_non_null(op);
	rc = op->ops->open(&st, cfg);
	if (rc != OK)
		fprintf(stderr, "  (%s)\n", err_last());
	assert_int_equal(rc, c->rc);
	if (rc == OK) {
		/* The template as run: every template of the backend's state is an
		 * orch_template first. */
		char **argv = orch_template_expand((struct orch_template *)st, "web-01.example.com");
		struct buf b = BUF_INIT;
		size_t i;

		for (i = 0; argv[i]; i++)
			buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
		assert_string_equal(b.data, c->msg);
		buf_dispose(&b);
		orch_argv_free(argv);
		op->ops->close(st);
	} else {
		assert_non_null(strstr(err_last(), c->msg));
		assert_null(st);
	}
	ynode_free(cfg);
}

/* A name that is no fqdn never starts anything. */
static void
test_bad_host_never_runs(void **state)
{
	static const char *const bad[] = { "-oProxyCommand=reboot", "a b.example.com",
		"web-01.example.com;reboot", "$(reboot).example.com", "", "UPPER.example.com",
		"web-01.example.com\n" };
	struct ynode *cfg = yaml("type: exec\nargv: [/bin/echo, \"{host}\"]\n");
	const struct orch_provider *op = orch_find("exec");
	void *st = NULL, *run = NULL;
	size_t i;

	(void)state;
	assert_int_equal(op->ops->open(&st, cfg), OK);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(op->ops->start(&run, st, bad[i]), ERR_INVALID);
		assert_null(run);
	}
	op->ops->close(st);
	ynode_free(cfg);
}

struct run_case {
	const char *name;
	const char *script;       /* sh -c SCRIPT */
	unsigned timeout;
	enum orch_status status;
	int code;
	const char *line;
};

static const struct run_case run_cases[] = {
	{ "0 is unchanged", "echo Notice: Applied catalog; exit 0", 30, ORCH_UNCHANGED, 0,
	  "Notice: Applied catalog" },
	{ "2 is changed", "echo changed; exit 2", 30, ORCH_CHANGED, 2, "changed" },
	{ "4 is failed", "echo 'Error: boom'; echo; exit 4", 30, ORCH_FAILED, 4, "Error: boom" },
	{ "6 is failed", "echo x; exit 6", 30, ORCH_FAILED, 6, "x" },
	{ "1 is busy", "echo 'Run of Puppet configuration client already in progress'; exit 1",
	  30, ORCH_BUSY, 1, "Run of Puppet configuration client already in progress" },
	{ "255 is unreachable", "echo 'ssh: connect to host: Connection refused' >&2; exit 255",
	  30, ORCH_UNREACHABLE, 255, "ssh: connect to host: Connection refused" },
	{ "another status is failed", "exit 3", 30, ORCH_FAILED, 3, "" },
	{ "a hang is killed at the timeout: unreachable", "sleep 30", 1, ORCH_UNREACHABLE, -1,
	  "" },
	{ "hostile output: one clean line", "printf 'ok\\n\\033[31mplan 9 approved by alice"
	  "\\r\\nfirebreak: rollout 3 done\\a\\033]0;x\\007\\n\\n'; exit 4", 30, ORCH_FAILED, 4,
	  "firebreak: rollout 3 done]0;x" },
};

static void
test_run(void **state)
{
	const struct run_case *c = *state;
	char cfgtext[1024];
	struct ynode *cfg;
	const struct orch_provider *op = orch_find("exec");
	struct orch_result r;
	void *st = NULL, *run = NULL;

	char quoted[512];
	size_t i, k = 0;

	/* A YAML single-quoted scalar doubles its quotes. */
	for (i = 0; c->script[i] && k + 2 < sizeof(quoted); i++) {
		if (c->script[i] == '\'')
			quoted[k++] = '\'';
		quoted[k++] = c->script[i];
	}
	quoted[k] = '\0';
	snprintf(cfgtext, sizeof(cfgtext), "type: exec\nargv: [/bin/sh, -c, '%s', sh, "
	    "\"{host}\"]\ntimeout: %u\n", quoted, c->timeout);
	cfg = yaml(cfgtext);
	assert_int_equal(op->ops->open(&st, cfg), OK);
	assert_int_equal(op->ops->start(&run, st, "web-01.example.com"), OK);
	while (!op->ops->step(run)) {
		struct pollfd p = { op->ops->fd(run), POLLIN, 0 };

		poll(&p, p.fd >= 0 ? 1 : 0, op->ops->timeout_ms(run));
	}
	op->ops->finish(&r, run);
	assert_string_equal(orch_status_name(r.status), orch_status_name(c->status));
	assert_int_equal(r.code, c->code);
	assert_string_equal(r.line, c->line);
	assert_null(strchr(r.line, '\n'));
	for (const char *s = r.tail; *s; s++)
		assert_true((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t');
	orch_result_dispose(&r);
	op->ops->close(st);
	ynode_free(cfg);
}

int
main(void)
{
	struct CMUnitTest tests[80];
	size_t n = 0;

	CASES(test_radius, radius_cases);
	CASES(test_size, size_cases);
	CASES(test_open, open_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_host_never_runs);
	CASES(test_run, run_cases);
	return _cmocka_run_group_tests("rollout", tests, n, NULL, NULL);
}
