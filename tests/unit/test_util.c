/*
 * test_util.c - base/util.h's UTF-8 helpers and err_set: text quoted from
 * hostile input and cut to a width ("%.40s") or to the error buffer's size
 * must stay valid UTF-8, or chat (JSON) cannot carry it.  fuzz_botcmd found
 * "reconcile <40 bytes cutting a character>" answered with a cut character
 * (tests/fuzz/corpus/botcmd/crash-reconcile-cut-utf8); err_set and every
 * bot answer now repair what a cut leaves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/util.h"

static int
valid(const char *s)
{
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		if ((k = utf8_decode((const unsigned char *)s + i, n - i, NULL)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Valid text, newlines and tabs included, is left as it is. */
static void
test_repair_keeps_valid(void **state)
{
	char s[] = "Zust\xc3\xa4ndig: J\xc3\xb6rg\n\tsnow \xe2\x98\x83 \xf0\x9f\x90\x8d";
	char want[sizeof(s)];

	(void)state;
	memcpy(want, s, sizeof(s));
	utf8_repair(s, strlen(s));
	assert_string_equal(s, want);
}

/* A cut character, a stray continuation byte, an overlong form and a
 * surrogate each become '?', byte by byte; the rest stays. */
static void
test_repair_replaces_invalid(void **state)
{
	char cut[] = "'ab\xf2\x90\x94' is not a kind";
	char stray[] = "x\x80y";
	char overlong[] = "a\xc0\xafz";
	char surrogate[] = "\xed\xa0\x80!";

	(void)state;
	utf8_repair(cut, strlen(cut));
	assert_string_equal(cut, "'ab?" "?" "?' is not a kind");
	utf8_repair(stray, strlen(stray));
	assert_string_equal(stray, "x?y");
	utf8_repair(overlong, strlen(overlong));
	assert_string_equal(overlong, "a??z");
	utf8_repair(surrogate, strlen(surrogate));
	assert_string_equal(surrogate, "?" "?" "?!");
	utf8_repair(NULL, 0);
}

/* err_set with "%.40s" of text whose 40th byte is inside a character:
 * the message is valid UTF-8, and says the rest. */
static void
test_err_set_cut_width(void **state)
{
	char in[64];
	size_t i;

	(void)state;
	for (i = 0; i + 4 <= 60; i += 4)
		memcpy(in + i, "\xf2\x90\x90\x8d", 4);
	in[60] = '\0';
	assert_int_equal(err_set(ERR_INVALID, "'%.42s' is not a kind", in), ERR_INVALID);
	assert_true(valid(err_last()));
	assert_non_null(strstr(err_last(), "?" "?' is not a kind"));
}

/* A message longer than the error buffer is cut where the buffer ends,
 * which may be inside a character: still valid UTF-8. */
static void
test_err_set_cut_buffer(void **state)
{
	char in[4096 * 2 + 1];
	size_t i;

	(void)state;
	in[0] = 'x';
	for (i = 1; i + 3 <= sizeof(in) - 1; i += 3)
		memcpy(in + i, "\xe2\x98\x83", 3);
	in[i] = '\0';
	err_set(ERR, "%s", in);
	assert_true(strlen(err_last()) > 100);
	assert_true(valid(err_last()));
}

/* utf8_prefix never ends inside a character. */
static void
test_prefix(void **state)
{
	const char *s = "ab\xe2\x98\x83" "cd";

	(void)state;
	assert_int_equal(utf8_prefix(s, 2), 2);
	assert_int_equal(utf8_prefix(s, 3), 2);
	assert_int_equal(utf8_prefix(s, 4), 2);
	assert_int_equal(utf8_prefix(s, 5), 5);
	assert_int_equal(utf8_prefix(s, 100), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repair_keeps_valid),
		cmocka_unit_test(test_repair_replaces_invalid),
		cmocka_unit_test(test_err_set_cut_width),
		cmocka_unit_test(test_err_set_cut_buffer),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
