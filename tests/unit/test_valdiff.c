/*
 * test_valdiff.c - the path-wise difference the plan page shows for a
 * change (plan/valdiff.h): what a person reads instead of two whole
 * documents.  Each case gives before and after as JSON ("null": absent)
 * and the difference as lines: "+ path: value", "- path: value",
 * "~ path: before -> after" (no "path: " for the value itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cases.h"
#include "plan/valdiff.h"

struct vd_case {
	const char *name;
	const char *before, *after;
	size_t max;            /* 0: 100 */
	const char *want;      /* the lines, each ending in \n */
	size_t omitted;
};

#define ENC_LB_BEFORE "{\"classes\": [\"profile::base\", \"profile::lb\"], \"environment\": " \
	"\"production\", \"parameters\": {\"backends\": [\"web-01.example.com\", " \
	"\"web-02.example.com\", \"web-s1.example.net\"], \"maxconn\": 2000, \"role\": \"lb\"}}"
#define ENC_LB_AFTER "{\"classes\": [\"profile::base\", \"profile::lb\", \"nginx\"], " \
	"\"environment\": \"production\", \"parameters\": {\"backends\": [\"web-01.example.com\", " \
	"\"web-s1.example.net\"], \"maxconn\": 4000, \"role\": \"lb\"}}"

static const struct vd_case vd_cases[] = {
	{ "equal values: nothing", ENC_LB_BEFORE, ENC_LB_BEFORE, 0, "", 0 },
	{ "both absent: nothing", "null", "null", 0, "", 0 },
	{ "an enc.modify: a class added, a backend removed, a parameter changed",
	  ENC_LB_BEFORE, ENC_LB_AFTER, 0,
	  "+ classes: nginx\n"
	  "- parameters.backends: web-02.example.com\n"
	  "~ parameters.maxconn: 2000 -> 4000\n", 0 },
	{ "a pin: the value itself", "\"1.4.2\"", "\"1.4.3\"", 0, "~ 1.4.2 -> 1.4.3\n", 0 },
	{ "a dns.add: each address", "null", "[\"10.0.1.5\", \"10.0.1.6\"]", 0,
	  "+ 10.0.1.5\n+ 10.0.1.6\n", 0 },
	{ "a dns.modify: the address that went", "[\"10.0.1.5\", \"10.0.1.6\"]", "[\"10.0.1.5\"]",
	  0, "- 10.0.1.6\n", 0 },
	{ "a dns.delete", "[\"10.0.1.5\"]", "null", 0, "- 10.0.1.5\n", 0 },
	{ "an enc.add: leaf by leaf",
	  "null", "{\"classes\": [\"a\", \"b\"], \"parameters\": {\"role\": \"web\", \"tls\": true, "
	  "\"x\": {}, \"y\": []}}", 0,
	  "+ classes: a\n+ classes: b\n+ parameters.role: web\n+ parameters.tls: true\n"
	  "+ parameters.x: {}\n+ parameters.y: []\n", 0 },
	{ "an enc.delete: leaf by leaf", "{\"classes\": [\"a\"], \"environment\": \"production\"}",
	  "null", 0, "- classes: a\n- environment: production\n", 0 },
	{ "a reordering shows as one element moved", "[\"a\", \"b\", \"c\"]", "[\"b\", \"c\", \"a\"]",
	  0, "- a\n+ a\n", 0 },
	{ "an element inserted in the middle", "[\"a\", \"c\"]", "[\"a\", \"b\", \"c\"]", 0,
	  "+ b\n", 0 },
	{ "a key with a dot or a blank is quoted",
	  "{\"p\": {\"a.b\": 1, \"c d\": 2, \"profile::x\": 3}}",
	  "{\"p\": {\"a.b\": 5, \"c d\": 6, \"profile::x\": 7}}", 0,
	  "~ p[\"a.b\"]: 1 -> 5\n~ p[\"c d\"]: 2 -> 6\n~ p.profile::x: 3 -> 7\n", 0 },
	{ "a changed object in an array is walked under its index",
	  "{\"r\": [{\"name\": \"x\", \"ttl\": 300}, {\"name\": \"y\", \"ttl\": 300}]}",
	  "{\"r\": [{\"name\": \"x\", \"ttl\": 300}, {\"name\": \"y\", \"ttl\": 60}]}", 0,
	  "~ r[1].ttl: 300 -> 60\n", 0 },
	{ "an added object in an array, leaf by leaf under its index",
	  "[{\"a\": 1}]", "[{\"a\": 1}, {\"b\": [\"x\"], \"c\": 2}]", 0,
	  "+ [1].b: x\n+ [1].c: 2\n", 0 },
	{ "a string that reads as a number stays quoted", "{\"v\": \"8\"}", "{\"v\": 8}", 0,
	  "~ v: \"8\" -> 8\n", 0 },
	{ "strings that read as other things stay quoted",
	  "[\"true\", \"null\", \"\", \" x\", \"[1]\", \"-1.5e3\", \"a\\nb\"]", "null", 0,
	  "- \"true\"\n- \"null\"\n- \"\"\n- \" x\"\n- \"[1]\"\n- \"-1.5e3\"\n- \"a\\nb\"\n", 0 },
	{ "version-like and class-like strings are bare",
	  "[\"1.4.2\", \"profile::web\", \"a b\", \"caf\xc3\xa9\"]", "null", 0,
	  "- 1.4.2\n- profile::web\n- a b\n- caf\xc3\xa9\n", 0 },
	{ "null inside a value is a value", "{\"a\": null}", "{\"a\": 1}", 0, "~ a: null -> 1\n",
	  0 },
	{ "a change of type is one change", "{\"k\": {\"a\": 1}}", "{\"k\": [1]}", 0,
	  "~ k: {\"a\":1} -> [1]\n", 0 },
	{ "a key added and a key removed", "{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"c\": 3}", 0,
	  "- a: 1\n+ c: 3\n", 0 },
	{ "at most max lines, the rest counted", "null", "[1, 2, 3, 4, 5]", 2, "+ 1\n+ 2\n", 3 },
};

static void
entries_text(struct buf *b, const struct valdiff *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct valdiff_entry *e = &d->v[i];

		buf_putc(b, e->op == VALDIFF_ADD ? '+' : e->op == VALDIFF_DEL ? '-' : '~');
		buf_putc(b, ' ');
		if (e->path[0])
			buf_printf(b, "%s: ", e->path);
		if (e->op == VALDIFF_SET)
			buf_printf(b, "%s -> %s\n", e->before, e->after);
		else
			buf_printf(b, "%s\n", e->op == VALDIFF_ADD ? e->after : e->before);
	}
}

static void
test_vd(void **state)
{
	const struct vd_case *c = *state;
	json_t *b = json_loads(c->before, JSON_DECODE_ANY, NULL);
	json_t *a = json_loads(c->after, JSON_DECODE_ANY, NULL);
	struct valdiff d = VALDIFF_INIT;
	struct buf t = BUF_INIT;

	assert_non_null(b);
	assert_non_null(a);
	valdiff_build(&d, b, a, c->max ? c->max : 100);
	entries_text(&t, &d);
	assert_string_equal(t.data ? t.data : "", c->want);
	assert_int_equal(d.omitted, c->omitted);
	valdiff_dispose(&d);
	buf_dispose(&t);
	json_decref(b);
	json_decref(a);
}

/* A value longer than VALDIFF_TEXT_MAX is cut between characters and
 * says so; a path longer than VALDIFF_PATH_MAX is cut too. */
static void
test_vd_long_value_and_path(void **state)
{
	struct valdiff d = VALDIFF_INIT;
	json_t *a, *o;
	char *s = xmalloc(VALDIFF_TEXT_MAX + 100), *key = xmalloc(VALDIFF_PATH_MAX + 2);
	size_t i;

	(void)state;
	/* "é" is two bytes: a cut at an odd byte would split one. */
	for (i = 0; i + 1 < VALDIFF_TEXT_MAX + 99; i += 2)
		memcpy(s + i, "\xc3\xa9", 2);
	s[i] = '\0';
	memset(key, 'k', VALDIFF_PATH_MAX + 1);
	key[VALDIFF_PATH_MAX + 1] = '\0';
	a = json_object();
	o = json_object();
	json_object_set_new(o, "v", json_string(s));
	json_object_set_new(a, key, o);
	valdiff_build(&d, NULL, a, 10);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].cut, 1);
	assert_int_equal(strlen(d.v[0].after), VALDIFF_TEXT_MAX + 3);
	assert_string_equal(d.v[0].after + VALDIFF_TEXT_MAX, "...");
	assert_int_equal(strlen(d.v[0].path), VALDIFF_PATH_MAX + 3);
	assert_string_equal(d.v[0].path + VALDIFF_PATH_MAX, "...");
	valdiff_dispose(&d);
	json_decref(a);
	free(s);
	free(key);
}

/* Arrays too big for the LCS table go index by index, and every element
 * is still accounted for. */
static void
test_vd_big_arrays(void **state)
{
	struct valdiff d = VALDIFF_INIT;
	json_t *b = json_array(), *a = json_array();
	size_t i, n = 1000;

	(void)state;
	for (i = 0; i < n; i++) {
		json_array_append_new(b, json_integer((json_int_t)i));
		json_array_append_new(a, json_integer((json_int_t)(n - 1 - i)));
	}
	valdiff_build(&d, b, a, 50);
	assert_int_equal(d.n, 50);
	assert_int_equal(d.n + d.omitted, 2 * n);
	valdiff_dispose(&d);
	json_decref(b);
	json_decref(a);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof(vd_cases) / sizeof(vd_cases[0]) + 4];
	size_t n = 0;

	CASES(test_vd, vd_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vd_long_value_and_path);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vd_big_arrays);
	return _cmocka_run_group_tests("valdiff", tests, n, NULL, NULL);
}
