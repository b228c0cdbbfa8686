/*
 * test_edit.c - comment-preserving edits: the one value changes, every
 * other byte stays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../reconciler/edit.h"

struct edit_case {
	const char *name;
	const char *doc;
	const char *path[3];
	const char *value;
	const char *want;      /* NULL: an error is expected */
};

static const struct edit_case cases[] = {
	{ "replace a plain version, keep comments",
	  "# the app\nversion: 1.4.2   # pinned\nhiera_key: profile::app::version\n",
	  { "version" }, "1.4.3",
	  "# the app\nversion: 1.4.3   # pinned\nhiera_key: profile::app::version\n" },
	{ "a quoted value stays quoted",
	  "version: \"15.4\"\n", { "version" }, "15.5", "version: \"15.5\"\n" },
	{ "replace inside a flow mapping",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1}   # rc\n",
	  { "environments", "staging" }, "1.5.0",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0}   # rc\n" },
	{ "add a key to a flow mapping",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1}\n",
	  { "environments", "canary" }, "1.6.0",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1, canary: 1.6.0}\n" },
	{ "add a key to a block mapping, after its last line",
	  "version: 1.4.2\nenvironments:\n  staging: 1.5.0-rc1  # rc\n# trailing comment\nhiera_key: x::version\n",
	  { "environments", "canary" }, "1.6.0",
	  "version: 1.4.2\nenvironments:\n  staging: 1.5.0-rc1  # rc\n  canary: 1.6.0\n# trailing comment\nhiera_key: x::version\n" },
	{ "add a missing mapping at the end",
	  "version: 1.4.2\n", { "environments", "staging" }, "2.0",
	  "version: 1.4.2\nenvironments:\n  staging: 2.0\n" },
	{ "a file without a final newline",
	  "version: 1.4.2", { "environments", "staging" }, "2.0",
	  "version: 1.4.2\nenvironments:\n  staging: 2.0\n" },
	{ "an empty key gets a block under it",
	  "environments:\nversion: 1.0\n", { "environments", "staging" }, "2.0",
	  "environments:\n  staging: 2.0\nversion: 1.0\n" },
	{ "state of a host: a word, plain",
	  "role: web\nip: 10.0.1.6\nstate: active      # in service\n", { "state" }, "drained",
	  "role: web\nip: 10.0.1.6\nstate: drained      # in service\n" },
	{ "hostile text is quoted, not injected",
	  "name: x\n", { "name" }, "a: b\n- c", "name: \"a: b\\n- c\"\n" },
	{ "a list is not a single value", "classes: [a, b]\n", { "classes" }, "x", NULL },
	{ "a path through a scalar", "version: 1\n", { "version", "x" }, "2", NULL },
	{ "a document that does not parse", "a: [1\n", { "a" }, "2", NULL },
};

static void
test_edit(void **state)
{
	const struct edit_case *c = *state;
	char *out = NULL;
	size_t depth, outlen = 0;
	int rc;

	for (depth = 0; depth < 3 && c->path[depth]; depth++)
		;
	rc = edit_set_scalar(&out, &outlen, c->doc, strlen(c->doc), c->path, depth, c->value);
	if (!c->want) {
		assert_int_not_equal(rc, OK);
		assert_null(out);
		return;
	}
	assert_int_equal(rc, OK);
	assert_string_equal(out, c->want);
	assert_int_equal(outlen, strlen(c->want));
	free(out);
}

int
main(void)
{
	struct CMUnitTest tests[32];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct CMUnitTest t = { cases[i].name, test_edit, NULL, NULL,
		    (void *)(uintptr_t)&cases[i] };

		tests[n++] = t;
	}
	return _cmocka_run_group_tests("edit", tests, n, NULL, NULL);
}
