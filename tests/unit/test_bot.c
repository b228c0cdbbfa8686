/*
 * test_bot.c - reading the bot's trailers back: `history` and the plan's
 * "by alice" come from them, and self-approval is decided by them, so a
 * subject or body that merely mentions a trailer must not count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "git/trailers.h"

struct trailer_case {
	const char *message;
	const char *key;
	const char *want;      /* NULL: no such trailer */
};

static const struct trailer_case cases[] = {
	{ "deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: slack #ops\n",
	  "Requested-by", "alice" },
	{ "deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: slack #ops\n",
	  "Requested-via", "slack #ops" },
	{ "deploy app 1.4.3 (production)\n\nRequested-by: alice\nRequested-via: slack #ops",
	  "Requested-via", "slack #ops" },                     /* no final newline */
	{ "x\n\nrequested-by: alice\n", "Requested-by", "alice" },   /* keys ignore case */
	{ "Requested-by: mallory\n", "Requested-by", "mallory" }, /* a one-paragraph message */
	/* Only the last paragraph holds trailers. */
	{ "fix\n\nRequested-by: mallory\n\nSigned-off-by: bob <b@x>\n", "Requested-by", NULL },
	{ "fix\n\nRequested-by: mallory\n\nbody text\n", "Requested-by", NULL },
	{ "a human commit\n\nwith a body\n", "Requested-by", NULL },
	{ "x\n\nRequested-by:alice\n", "Requested-by", NULL },   /* no space: not a trailer */
	{ "x\n\nRequested-by: \n", "Requested-by", NULL },       /* empty value */
	{ "x\n\nRequested-by: alice\nRequested-by: bob\n", "Requested-by", "bob" },  /* the last */
	{ "x\n\nRequested-byx: alice\n", "Requested-by", NULL },
	{ "", "Requested-by", NULL },
	{ "x\n\n\n\nRequested-by: alice\n\n\n", "Requested-by", "alice" },
};

static void
test_trailers(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *got = trailer_get(cases[i].message, cases[i].key);

		if (cases[i].want == NULL) {
			if (got)
				fail_msg("case %zu: want no trailer, got '%s'", i, got);
		} else {
			if (!got)
				fail_msg("case %zu: want '%s', got none", i, cases[i].want);
			assert_string_equal(got, cases[i].want);
		}
		free(got);
	}
	assert_null(trailer_get(NULL, "Requested-by"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trailers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
