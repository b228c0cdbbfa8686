/*
 * test_apply.c - the apply provider registry and the `exec` provider:
 * config validation (each bad config names its key), which plans it runs
 * for, placeholder expansion as literal text, and failures (exit status,
 * missing program, timeout) reported with the tail of the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "providers/apply/apply.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

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
	const char *msg;        /* a substring of err_last() */
};

static const struct open_case open_cases[] = {
	{ "the documented example", "type: exec\nkinds: [dns]\n"
	  "argv: [/usr/local/bin/tf-apply, \"{release}/terraform/route53\"]\ntimeout: 600\n",
	  OK, NULL },
	{ "kinds and timeout are optional", "argv: [/bin/true]\n", OK, NULL },
	{ "every kind", "argv: [/bin/true]\nkinds: [enc, dns, pin, policy]\nenv: {A_B: x}\n",
	  OK, NULL },
	{ "braces that are no placeholder stay literal", "argv: [/bin/echo, '{\"a\": 1}', '{}', "
	  "'{X}']\n", OK, NULL },
	{ "argv missing", "kinds: [dns]\n", ERR_INVALID, "argv is required" },
	{ "argv not a list", "argv: /bin/true\n", ERR_INVALID, "argv (line 1): expected a non-empty list" },
	{ "argv empty", "argv: []\n", ERR_INVALID, "argv (line 1): expected a non-empty list" },
	{ "argv element a map", "argv: [/bin/true, {a: b}]\n", ERR_INVALID,
	  "argv[1] (line 1): expected a string" },
	{ "argv[0] relative", "argv: [tf-apply]\n", ERR_INVALID,
	  "argv[0] (line 1): the program must be an absolute path" },
	{ "argv[0] a placeholder", "argv: [\"/{release}/bin\"]\n", ERR_INVALID,
	  "argv[0] (line 1): the program may not hold a placeholder" },
	{ "unknown placeholder", "argv: [/bin/echo, \"{relase}/x\"]\n", ERR_INVALID,
	  "argv[1] (line 1): unknown placeholder {relase}" },
	{ "kinds not a list", "argv: [/bin/true]\nkinds: dns\n", ERR_INVALID,
	  "kinds (line 2): expected a non-empty list" },
	{ "kinds empty", "argv: [/bin/true]\nkinds: []\n", ERR_INVALID,
	  "kinds (line 2): expected a non-empty list" },
	{ "unknown kind", "argv: [/bin/true]\nkinds: [dns, hosts]\n", ERR_INVALID,
	  "kinds[1] (line 2): expected one of enc, dns, pin, policy, got \"hosts\"" },
	{ "timeout a string", "argv: [/bin/true]\ntimeout: \"600\"\n", ERR_INVALID,
	  "timeout (line 2): expected a whole number" },
	{ "timeout zero", "argv: [/bin/true]\ntimeout: 0\n", ERR_INVALID, "timeout (line 2)" },
	{ "timeout fractional", "argv: [/bin/true]\ntimeout: 1.5\n", ERR_INVALID, "timeout (line 2)" },
	{ "timeout negative", "argv: [/bin/true]\ntimeout: -1\n", ERR_INVALID, "timeout (line 2)" },
	{ "timeout too big", "argv: [/bin/true]\ntimeout: 86401\n", ERR_INVALID, "timeout (line 2)" },
	{ "unknown key", "argv: [/bin/true]\ntimout: 5\n", ERR_INVALID,
	  "unknown key \"timout\" (line 2)" },
	{ "env not a map", "argv: [/bin/true]\nenv: [A]\n", ERR_INVALID, "env (line 2): expected a mapping" },
	{ "env bad name", "argv: [/bin/true]\nenv: {\"A-B\": x}\n", ERR_INVALID,
	  "bad variable name \"A-B\"" },
	{ "env may not set ours", "argv: [/bin/true]\nenv: {FIREBREAK_PLAN: x}\n", ERR_INVALID,
	  "bad variable name \"FIREBREAK_PLAN\"" },
	{ "env value a list", "argv: [/bin/true]\nenv: {A: [x]}\n", ERR_INVALID,
	  "env.A (line 2): expected a string" },
	{ "config not a map", "[/bin/true]\n", ERR_INVALID, "expected a mapping" },
};

static void
test_open(void **state)
{
	const struct open_case *c = *state;
	const struct apply_provider *ap = apply_find("exec");
	struct ynode *cfg = yaml(c->cfg);
	void *st = (void *)1;
	int rc;

	assert_non_null(ap);
	rc = ap->ops->open(&st, cfg);
	assert_int_equal(rc, c->rc);
	if (rc == OK) {
		assert_non_null(st);
		ap->ops->close(st);
	} else {
		assert_null(st);
		if (!strstr(err_last(), c->msg))
			fail_msg("err_last() = \"%s\", want \"%s\" in it", err_last(), c->msg);
		assert_non_null(strstr(err_last(), "apply exec"));
	}
	ynode_free(cfg);
}

static void
test_registry(void **state)
{
	(void)state;
	assert_non_null(apply_find("exec"));
	assert_string_equal(apply_find("exec")->name, "exec");
	assert_null(apply_find("terraform-cloud"));
	assert_null(apply_find(""));
}

struct wants_case {
	const char *name;
	const char *kinds;             /* YAML list or NULL */
	int kind, action;              /* the plan's one change, kind -1: none */
	int invalid;
	int want;
};

static const struct wants_case wants_cases[] = {
	{ "dns hook runs for a dns change", "[dns]", KIND_DNS, ACTION_MODIFY, 0, 1 },
	{ "dns hook runs for a dns delete", "[dns]", KIND_DNS, ACTION_DELETE, 0, 1 },
	{ "dns hook skips a pin change", "[dns]", KIND_PIN, ACTION_MODIFY, 0, 0 },
	{ "enc+pin hook runs for a pin add", "[enc, pin]", KIND_PIN, ACTION_ADD, 0, 1 },
	{ "policy hook runs for a policy change", "[policy]", KIND_POLICY, ACTION_MODIFY, 0, 1 },
	{ "no kinds: runs for anything", NULL, KIND_ENC, ACTION_ADD, 0, 1 },
	{ "no kinds: not for a noop plan", NULL, -1, 0, 0, 0 },
	{ "never for an invalid plan", NULL, KIND_DNS, ACTION_ADD, 1, 0 },
};

static void
test_wants(void **state)
{
	const struct wants_case *c = *state;
	const struct apply_provider *ap = apply_find("exec");
	struct plan p;
	struct ynode *cfg;
	char *text;
	void *st;

	text = c->kinds ? xasprintf("argv: [/bin/true]\nkinds: %s\n", c->kinds)
	    : xstrdup("argv: [/bin/true]\n");
	cfg = yaml(text);
	assert_int_equal(ap->ops->open(&st, cfg), OK);
	memset(&p, 0, sizeof(p));
	p.decision = c->invalid ? DECISION_INVALID : DECISION_AUTO;
	if (c->kind >= 0)
		p.counts[c->kind][c->action] = 1;
	assert_int_equal(ap->ops->wants(st, &p), c->want);
	ap->ops->close(st);
	ynode_free(cfg);
	free(text);
}

static char tmpdir[256];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fb-apply-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_dir(void **state)
{
	(void)state;
	return fs_rm_rf(tmpdir) == OK ? 0 : -1;
}

/* Open a provider from YAML, run it against the temp dir as release. */
static int
run_exec(char **reason, const char *cfgtext, int nonblocking)
{
	const struct apply_provider *ap = apply_find("exec");
	struct apply_info in = { tmpdir, "17", SHA, NULL, NULL, NULL, NULL, NULL, 0 };
	struct ynode *cfg = yaml(cfgtext);
	void *st, *run;
	int rc;

	assert_int_equal(ap->ops->open(&st, cfg), OK);
	if (!nonblocking) {
		rc = apply_run(reason, ap, st, &in);
	} else if ((rc = ap->ops->start(&run, st, &in)) == OK) {
		while (!ap->ops->step(run)) {
			int t = ap->ops->timeout_ms(run);

			assert_true(t >= 0 && t <= 250);
			usleep((useconds_t)(t > 20 ? 20 : t) * 1000);
		}
		rc = ap->ops->finish(reason, run);
	} else {
		*reason = NULL;
	}
	ap->ops->close(st);
	ynode_free(cfg);
	return rc;
}

static void
test_placeholders_literal(void **state)
{
	char *reason, *path;
	struct stat sb;

	(void)state;
	/* Each placeholder is replaced; shell syntax around it is just bytes. */
	assert_int_equal(run_exec(&reason, "argv: [/usr/bin/touch, "
	    "\"{release}/$(id);{plan}`x`{commit} {nope\"]\n", 1), OK);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "/usr/bin/touch exited with status 0"));
	free(reason);
	path = xasprintf("%s/$(id);17`x`%s {nope", tmpdir, SHA);
	assert_int_equal(stat(path, &sb), 0);
	free(path);
}

static void
test_environment(void **state)
{
	char *reason;

	(void)state;
	/* printenv prints the variables it finds and exits 1 for the one it
	 * does not: a failure, whose reason quotes the output. */
	assert_int_equal(run_exec(&reason, "argv: [/usr/bin/printenv, FIREBREAK_RELEASE, "
	    "FIREBREAK_PLAN, FIREBREAK_COMMIT, AWS_PROFILE, SECRET_FROM_PARENT]\n"
	    "env: {AWS_PROFILE: route53}\n", 0), ERR);
	assert_non_null(strstr(reason, "/usr/bin/printenv exited with status 1"));
	assert_non_null(strstr(reason, tmpdir));
	assert_non_null(strstr(reason, "\n17\n" SHA "\nroute53"));
	free(reason);
}

static void
test_failure_reason_is_tail(void **state)
{
	struct buf b = BUF_INIT;
	char *reason, *path;
	size_t i;

	(void)state;
	assert_int_equal(run_exec(&reason, "argv: [/bin/ls, \"/nonexistent-{plan}\"]\n", 1), ERR);
	assert_non_null(strstr(reason, "/bin/ls exited with status 2"));
	assert_non_null(strstr(reason, "/nonexistent-17"));
	free(reason);
	/* A long output is cut to its last lines. */
	path = xasprintf("%s/long", tmpdir);
	for (i = 1; i <= 5000; i++)
		buf_printf(&b, "%zu\n", i);
	assert_int_equal(fs_write_atomic(path, b.data, b.len), OK);
	buf_dispose(&b);
	free(path);
	assert_int_equal(run_exec(&reason, "argv: [/bin/cat, \"{release}/long\", /nonexistent]\n",
	    1), ERR);
	assert_true(strlen(reason) < 2000);
	assert_non_null(strstr(reason, "/bin/cat exited with status 1"));
	assert_non_null(strstr(reason, ":\n...\n"));
	assert_non_null(strstr(reason, "\n4999\n5000\n/bin/cat: /nonexistent: No such file"));
	assert_null(strstr(reason, "\n1\n"));
	free(reason);
	/* Control characters from the tool do not reach chat: printf writes
	 * an escape sequence, then fails on a bad number. */
	assert_int_equal(run_exec(&reason, "argv: [/usr/bin/printf, \"\\e[31mred\\r%d\", x]\n",
	    1), ERR);
	for (i = 0; reason[i]; i++)
		assert_true((unsigned char)reason[i] >= 0x20 || reason[i] == '\n' || reason[i] == '\t');
	assert_non_null(strstr(reason, "\n?[31mred?"));
	assert_non_null(strstr(reason, "expected a numeric value"));
	free(reason);
}

static void
test_missing_program(void **state)
{
	char *reason = NULL;

	(void)state;
	assert_int_equal(run_exec(&reason, "argv: [/nonexistent/tf-apply]\n", 0), ERR_NOTFOUND);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "cannot run /nonexistent/tf-apply"));
	free(reason);
}

static void
test_timeout(void **state)
{
	char *reason;
	double t0 = log_now();

	(void)state;
	assert_int_equal(run_exec(&reason, "argv: [/bin/sleep, 30]\ntimeout: 1\n", 1), ERR);
	assert_true(log_now() - t0 < 5.0);
	assert_non_null(strstr(reason, "/bin/sleep timed out after"));
	assert_non_null(strstr(reason, "killed by SIGTERM"));
	free(reason);
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t i, n = 0;

	for (i = 0; i < sizeof(open_cases) / sizeof(*open_cases); i++) {
		struct CMUnitTest t = { open_cases[i].name, test_open, NULL, NULL,
		    (void *)(uintptr_t)&open_cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(wants_cases) / sizeof(*wants_cases); i++) {
		struct CMUnitTest t = { wants_cases[i].name, test_wants, NULL, NULL,
		    (void *)(uintptr_t)&wants_cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_registry);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_placeholders_literal);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_environment);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_failure_reason_is_tail);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_program);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_timeout);
	return _cmocka_run_group_tests("apply", tests, n, setup_dir, teardown_dir);
}
