/*
 * test_encdoc.c - what `firebreak import enc` reads from outside
 * (model/encdoc.h): ENC documents as existing scripts print them, and
 * the nodes file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cases.h"
#include "model/encdoc.h"

struct doc_case {
	const char *name;
	const char *yaml;
	int rc;
	const char *want;      /* OK: "classes|params count|env"; else the message */
};

static const struct doc_case doc_cases[] = {
	{ "a list of classes", "---\nclasses: [a, b::c, a]\nparameters: {x: 1}\n"
	  "environment: staging\n", OK, "a,b::c|1|staging" },
	{ "classes as a map without parameters", "classes: {a: ~, b: {}}\n", OK, "a,b|0|-" },
	{ "empty parameters are none", "classes: []\nparameters: {}\nenvironment: ~\n", OK, "|0|-" },
	{ "class parameters are refused", "classes: {ntp: {servers: [a]}}\n", ERR_INVALID,
	  "class ntp (line 1) has parameters" },
	{ "a bad class", "classes: [\"a b\"]\n", ERR_INVALID, "classes hold 'a b' (line 1)" },
	{ "a bad parameter name", "parameters: {Bad: 1}\n", ERR_INVALID,
	  "parameter 'Bad' (line 1) is not a Puppet variable name" },
	{ "a bad environment", "environment: [x]\n", ERR_INVALID, "environment 'a list'" },
	{ "an unknown key", "classes: []\nnodes: 3\n", ERR_INVALID, "'nodes' (line 2) is not part" },
	{ "not a mapping", "- a\n", ERR_INVALID, "not an ENC document" },
	{ "not YAML", "classes: [a\n", ERR_INVALID, "not a YAML document" },
};

static void
test_doc(void **state)
{
	const struct doc_case *c = *state;
	struct encdoc d;
	char got[256];
	size_t i, o = 0;
	int rc = encdoc_parse(&d, c->yaml, strlen(c->yaml));

	if (rc != c->rc)
		fail_msg("rc %d, want %d (%s)", rc, c->rc, rc ? err_last() : "ok");
	if (rc != OK) {
		if (!strstr(err_last(), c->want))
			fail_msg("message \"%s\" lacks \"%s\"", err_last(), c->want);
		assert_null(d.root);
		return;
	}
	for (i = 0; i < d.nclasses; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? "," : "", d.classes[i]);
	snprintf(got + o, sizeof(got) - o, "|%zu|%s", d.params ? d.params->n : 0,
	    d.env ? d.env : "-");
	assert_string_equal(got, c->want);
	encdoc_dispose(&d);
}

static void
test_nodes(void **state)
{
	static const char ok[] = "# fleet\n\n  web-01.example.com \r\ndb-01.example.com";
	static const char twice[] = "a.example.com\nb.example.com\n\na.example.com\n";
	static const char bad[] = "a.example.com\nWeb 02\n";
	struct strlist l;

	(void)state;
	assert_int_equal(nodelist_parse(&l, "n", ok, strlen(ok)), OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "web-01.example.com");
	assert_int_equal(l.lines[0], 3);
	assert_string_equal(l.v[1], "db-01.example.com");
	assert_int_equal(l.lines[1], 4);
	strlist_dispose(&l);
	assert_int_equal(nodelist_parse(&l, "n", twice, strlen(twice)), ERR_INVALID);
	assert_string_equal(err_last(), "n:4: a.example.com is listed twice (also line 1)");
	assert_int_equal(nodelist_parse(&l, "n", bad, strlen(bad)), ERR_INVALID);
	assert_string_equal(err_last(), "n:2: 'Web 02' is not a host name (a lowercase fqdn)");
	assert_int_equal(nodelist_parse(&l, "n", "# none\n", 7), ERR_INVALID);
	assert_string_equal(err_last(), "n lists no node");
	assert_int_equal(nodelist_parse(&l, "n", "a.example.com\n\0", 15), ERR_INVALID);
	assert_string_equal(err_last(), "n:2: a NUL byte: not a list of host names");
}

int
main(void)
{
	struct CMUnitTest tests[32];
	size_t n = 0;

	CASES(test_doc, doc_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nodes);
	return _cmocka_run_group_tests("encdoc", tests, n, NULL, NULL);
}
