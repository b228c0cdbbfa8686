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

/*
 * Whose trailers are believed: only a commit whose author AND committer
 * are exactly the bot's name and email.  Anything else is a person's
 * commit, whatever its message says.
 */
static void
test_trailer_of_bot(void **state)
{
	static const struct repo_ident bot = { "firebreak", "firebreak@bot.example" };
	static const struct {
		const char *name, *an, *ae, *cn, *ce, *want;
	} who[] = {
		{ "the bot", "firebreak", "firebreak@bot.example", "firebreak",
		  "firebreak@bot.example", "alice" },
		{ "a person", "mallory", "m@example.com", "mallory", "m@example.com", NULL },
		{ "author forged as the bot", "firebreak", "firebreak@bot.example", "mallory",
		  "m@example.com", NULL },
		{ "committer forged as the bot", "mallory", "m@example.com", "firebreak",
		  "firebreak@bot.example", NULL },
		{ "the bot's name, another email", "firebreak", "firebreak@evil.example",
		  "firebreak", "firebreak@evil.example", NULL },
		{ "the bot's email, another name", "Firebreak", "firebreak@bot.example",
		  "Firebreak", "firebreak@bot.example", NULL },
	};
	struct repo_log_entry e;
	size_t i;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.message = "deploy app 1.4.3\n\nRequested-by: alice\nRequested-via: shell\n";
	for (i = 0; i < sizeof(who) / sizeof(*who); i++) {
		char *by;

		e.author = who[i].an;
		e.author_email = who[i].ae;
		e.committer = who[i].cn;
		e.committer_email = who[i].ce;
		assert_int_equal(trailer_is_bot_commit(&e, &bot), who[i].want != NULL);
		by = trailer_of_bot(&e, &bot, "Requested-by");
		if (who[i].want && (!by || strcmp(by, who[i].want) != 0))
			fail_msg("%s: want '%s', got '%s'", who[i].name, who[i].want, by ? by : "");
		if (!who[i].want && by)
			fail_msg("%s: a trailer was believed: '%s'", who[i].name, by);
		free(by);
		/* No bot identity at hand: nobody's trailers. */
		assert_int_equal(trailer_is_bot_commit(&e, NULL), 0);
		assert_null(trailer_of_bot(&e, NULL, "Requested-by"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trailers),
		cmocka_unit_test(test_trailer_of_bot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
