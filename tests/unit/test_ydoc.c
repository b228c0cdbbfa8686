/*
 * test_ydoc.c - the bounded YAML parser and the emitters: what comes back
 * out must mean to Puppet (Ruby's Psych, YAML 1.1) what went in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/ydoc.h"

struct emit_case {
	const char *name;
	const char *yaml;      /* a document: {v: <value>} */
	const char *block;     /* yemit_value of v at indent 2 */
	const char *json;      /* yemit_json of v */
};

static const struct emit_case emit_cases[] = {
	{ "plain int keeps its type", "v: 8\n", " 8\n", "8" },
	{ "quoted int stays a string", "v: \"8\"\n", " \"8\"\n", "\"8\"" },
	{ "yes is a boolean in yaml 1.1", "v: yes\n", " yes\n", "true" },
	{ "quoted yes is a string", "v: 'yes'\n", " \"yes\"\n", "\"yes\"" },
	{ "version-like text is a quoted string", "v: 1.4.2\n", " \"1.4.2\"\n", "\"1.4.2\"" },
	{ "a float keeps its text", "v: 1.10\n", " 1.10\n", "1.10" },
	{ "null", "v: ~\n", " ~\n", "null" },
	{ "a class name", "v: profile::web\n", " profile::web\n", "\"profile::web\"" },
	{ "colon-space is quoted", "v: 'a: b'\n", " \"a: b\"\n", "\"a: b\"" },
	{ "hash is quoted", "v: 'a #b'\n", " \"a #b\"\n", "\"a #b\"" },
	{ "escapes", "v: \"q\\\"b\\\\s\\nl\\tt\\x01\"\n", " \"q\\\"b\\\\s\\nl\\tt\\x01\"\n",
	  "\"q\\\"b\\\\s\\nl\\tt\\u0001\"" },
	{ "date-like text is quoted", "v: '2026-11-25'\n", " \"2026-11-25\"\n",
	  "\"2026-11-25\"" },
	{ "nested map sorted", "v: {b: 1, a: [x, {d: 2, c: 3}]}\n",
	  "\n  a:\n    - x\n    - c: 3\n      d: 2\n  b: 1\n",
	  "{\"a\":[\"x\",{\"c\":3,\"d\":2}],\"b\":1}" },
	{ "empty collections", "v: {a: [], b: {}}\n", "\n  a: []\n  b: {}\n",
	  "{\"a\":[],\"b\":{}}" },
	/* Found by fuzz_ydoc: JSON numbers jansson refuses made plan_to_json
	 * abort (tests/fuzz/corpus/ydoc/crash-big-number). */
	{ "an int beyond 64 bits is a JSON string", "v: 22222222222222222222\n",
	  " 22222222222222222222\n", "\"22222222222222222222\"" },
	{ "the largest int stays a number", "v: -9223372036854775808\n",
	  " -9223372036854775808\n", "-9223372036854775808" },
	{ "a float that overflows is a JSON string", "v: 1.0e+999\n", " 1.0e+999\n",
	  "\"1.0e+999\"" },
	{ "a float that underflows stays a number", "v: 1.0e-999\n", " 1.0e-999\n", "1.0e-999" },
	/* Found by fuzz_ydoc: written raw, these made an ENC document libyaml
	 * (and so Puppet) refuses, or folded to a space on reading
	 * (tests/fuzz/corpus/ydoc/crash-c1-control). */
	{ "a C1 control character is escaped", "v: \"a\\x90b\"\n", " \"a\\u0090b\"\n",
	  "\"a\xc2\x90\x62\"" },
	{ "NEL, LS and PS are escaped", "v: \"\\N\\L\\P\"\n", " \"\\u0085\\u2028\\u2029\"\n",
	  "\"\xc2\x85\xe2\x80\xa8\xe2\x80\xa9\"" },
	{ "U+FFFE is escaped", "v: \"\\uFFFE\"\n", " \"\\ufffe\"\n", "\"\xef\xbf\xbe\"" },
	{ "utf-8 passes through", "v: \"caf\xc3\xa9\"\n", " \"caf\xc3\xa9\"\n", "\"caf\xc3\xa9\"" },
};

static void
test_emit(void **state)
{
	const struct emit_case *c = *state;
	struct ynode *root = NULL;
	struct buf b = BUF_INIT;
	int line, col;

	assert_int_equal(ydoc_parse(&root, c->yaml, strlen(c->yaml), NULL, &line, &col), OK);
	yemit_value(&b, ynode_get(root, "v"), 2);
	assert_string_equal(b.data, c->block);
	buf_reset(&b);
	yemit_json(&b, ynode_get(root, "v"));
	assert_string_equal(b.data, c->json);
	buf_dispose(&b);
	ynode_free(root);
}

struct parse_case {
	const char *name;
	const char *yaml;
	int rc, line, col;
	const char *message;
};

static const struct parse_case parse_cases[] = {
	{ "two documents", "a: 1\n---\nb: 2\n", ERR_INVALID, 2, 1,
	  "more than one YAML document in the file" },
	{ "a tag", "a: !!python/object x\n", ERR_INVALID, 1, 4,
	  "YAML tags (tag:yaml.org,2002:python/object) are not allowed" },
	{ "too deep", "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  ERR_TOOBIG, 1, 35, "nested deeper than 32 levels" },
	{ "a NUL byte", "a: 1\n\0", ERR_INVALID, 2, 1, "control character 0x00 is not allowed" },
	/* Found by fuzz_ydoc: the escape reached a plan's JSON, which jansson
	 * refused, and plan_to_json aborted (tests/fuzz/corpus/ydoc/crash-nul-escape). */
	{ "a NUL escape", "a: 1\nb: \"x\\0y\"\n", ERR_INVALID, 2, 4,
	  "a value cannot hold a NUL character (\\0)" },
	{ "a NUL hex escape", "a: [\"\\x00\"]\n", ERR_INVALID, 1, 5,
	  "a value cannot hold a NUL character (\\0)" },
	/* Found by fuzz_ydoc: one key to Psych, two to us, so the ENC document
	 * had the key twice (tests/fuzz/corpus/ydoc/crash-null-keys). */
	{ "null and ~ as keys", "a: {~: 1, null: 2}\n", ERR_INVALID, 1, 11, "duplicate key 'null'" },
	{ "an empty key and ~", "? \n: 1\n~: 2\n", ERR_INVALID, 3, 1, "duplicate key '~'" },
	{ "yes and true as keys", "a:\n  yes: 1\n  True: 2\n", ERR_INVALID, 3, 3,
	  "duplicate key 'True'" },
	{ "16 and 0x10 as keys", "{16: a, 0x1_0: b}\n", ERR_INVALID, 1, 9, "duplicate key '0x1_0'" },
	{ "8 and 010 as keys", "{010: a, 8: b}\n", ERR_INVALID, 1, 10, "duplicate key '8'" },
	{ "1.5 and 1.50 as keys", "{1.5: a, 1.50: b}\n", ERR_INVALID, 1, 10, "duplicate key '1.50'" },
	{ "overlong utf-8", "a: \xc0\xaf\n", ERR_INVALID, 1, 4, "not valid UTF-8 (byte 0xc0)" },
	{ "complex key", "? [a]\n: 1\n", ERR_INVALID, 1, 3,
	  "a mapping key must be a plain value, not a list" },
	/* Columns count characters, as editors show them, not bytes. */
	{ "a column after multi-byte text", "# 🚀\nä: [日本, !!python/object 𝄞]\n", ERR_INVALID, 2, 9,
	  "YAML tags (tag:yaml.org,2002:python/object) are not allowed" },
	{ "bad utf-8 after multi-byte text", "ä: 日本 \xff\n", ERR_INVALID, 1, 7,
	  "not valid UTF-8 (byte 0xff)" },
};

static void
test_parse_error(void **state)
{
	const struct parse_case *c = *state;
	struct ynode *root = (struct ynode *)1;
	size_t len = strlen(c->yaml);
	int line, col;

	if (strcmp(c->name, "a NUL byte") == 0)
		len = 6;
	assert_int_equal(ydoc_parse(&root, c->yaml, len, NULL, &line, &col), c->rc);
	assert_null(root);
	assert_string_equal(err_last(), c->message);
	assert_int_equal(line, c->line);
	assert_int_equal(col, c->col);
}

static void
test_empty_document_is_an_empty_map(void **state)
{
	struct ynode *root = NULL;
	int line, col;

	(void)state;
	assert_int_equal(ydoc_parse(&root, "# only a comment\n", 17, NULL, &line, &col), OK);
	assert_int_equal(root->type, YNODE_MAP);
	assert_int_equal(root->n, 0);
	ynode_free(root);
}

/* Keys that only look alike stay apart: a quoted "~" is a string, 1 and
 * 1.0 are an int and a float (Psych keeps both), 08 is no octal number. */
static void
test_keys_that_look_alike(void **state)
{
	static const char doc[] = "{\"~\": 1, ~: 2, 1: a, 1.0: b, \"16\": c, 16: d, 08: e, 8: f, "
	    ".nan: g, .NaN: h, no: i, \"no\": j}\n";
	struct ynode *root = NULL;
	int line, col;

	(void)state;
	assert_int_equal(ydoc_parse(&root, doc, strlen(doc), NULL, &line, &col), OK);
	assert_int_equal(root->n, 12);
	ynode_free(root);
}

/* Past 16 keys duplicates are found by sorting: the same rule. */
static void
test_alike_keys_in_a_large_map(void **state)
{
	struct buf b = BUF_INIT;
	struct ynode *root = (struct ynode *)1;
	int line, col, i;

	(void)state;
	for (i = 0; i < 40; i++)
		buf_printf(&b, "k%d: %d\n", i, i);
	buf_puts(&b, "0o: x\nyes: 1\nOn: 2\n");
	assert_int_equal(ydoc_parse(&root, b.data, b.len, NULL, &line, &col), ERR_INVALID);
	assert_null(root);
	assert_string_equal(err_last(), "duplicate key 'On'");
	assert_int_equal(line, 43);
	buf_dispose(&b);
}

/*
 * Found by fuzz_ydoc: a key over 1024 characters was written as an
 * implicit key, which libyaml (and Puppet) cannot read back
 * (tests/fuzz/corpus/ydoc/crash-long-key).  It becomes `? key` / `: value`.
 */
static void
test_long_key_is_explicit(void **state)
{
	struct buf doc = BUF_INIT, out = BUF_INIT, want = BUF_INIT;
	struct ynode *root = NULL, *back = NULL;
	char key[1101], quotes[511], escaped[1021];
	int line, col, i;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	/* 510 characters in the file, 1022 once escaped. */
	memset(quotes, '"', sizeof(quotes) - 1);
	quotes[sizeof(quotes) - 1] = '\0';
	for (i = 0; i < 510; i++)
		memcpy(escaped + 2 * i, "\\\"", 2);
	escaped[sizeof(escaped) - 1] = '\0';
	buf_printf(&doc, "v:\n  - ? %s\n    : {c: 1}\n  - a:\n      ? %s\n      : x\n"
	    "  - {'%s': 1}\n", key, key, quotes);
	assert_int_equal(ydoc_parse(&root, doc.data, doc.len, NULL, &line, &col), OK);
	buf_puts(&out, "v:");
	yemit_value(&out, ynode_get(root, "v"), 2);
	buf_printf(&want, "v:\n  - ? %s\n    :\n      c: 1\n  - a:\n      ? %s\n      : x\n"
	    "  - ? \"%s\"\n    : 1\n", key, key, escaped);
	assert_string_equal(out.data, want.data);
	assert_int_equal(ydoc_parse(&back, out.data, out.len, NULL, &line, &col), OK);
	assert_true(ynode_equal(ynode_get(root, "v"), ynode_get(back, "v")));
	ynode_free(root);
	ynode_free(back);
	buf_dispose(&doc);
	buf_dispose(&out);
	buf_dispose(&want);
}

/* The source bytes of node `n`, for comparing with what it was written as. */
static void
assert_bytes(const char *doc, const struct ynode *n, const char *text, int line, int col)
{
	size_t len = strlen(text);

	if (n->end - n->start != len || memcmp(doc + n->start, text, len) != 0)
		fail_msg("bytes [%zu, %zu) are '%.*s', wanted '%s'", n->start, n->end,
		    (int)(n->end - n->start), doc + n->start, text);
	assert_int_equal(n->line, line);
	assert_int_equal(n->col, col);
}

/*
 * libyaml's marks count characters; a node's start and end are bytes
 * (the editor splices by them), its column characters.  2-, 3- and
 * 4-byte sequences before each node, and a byte order mark.
 */
static void
test_marks_are_bytes(void **state)
{
	static const char *const docs[] = {
		"# Jörg 🚀\nkey: 日本  # x\nnum: \"€5\"\nlist: [ä, 𝄞]\nblock: |\n  ö\nz: 1\n",
		"\xef\xbb\xbf# Jörg 🚀\nkey: 日本  # x\nnum: \"€5\"\nlist: [ä, 𝄞]\nblock: |\n  ö\nz: 1\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
		const char *d = docs[i];
		struct ynode *root = NULL, *list;
		int line, col;

		assert_int_equal(ydoc_parse(&root, d, strlen(d), NULL, &line, &col), OK);
		assert_bytes(d, root->keys[0], "key", 2, 1);
		assert_bytes(d, ynode_get(root, "key"), "日本", 2, 6);
		assert_bytes(d, ynode_get(root, "num"), "\"€5\"", 3, 6);
		list = ynode_get(root, "list");
		assert_bytes(d, list, "[ä, 𝄞]", 4, 7);
		assert_bytes(d, list->items[0], "ä", 4, 8);
		assert_bytes(d, list->items[1], "𝄞", 4, 11);
		/* A block scalar's range runs to the next line's start. */
		assert_bytes(d, ynode_get(root, "block"), "|\n  ö\n", 5, 8);
		assert_bytes(d, ynode_get(root, "z"), "1", 7, 4);
		ynode_free(root);
	}
}

static void
test_size_limit(void **state)
{
	struct ydoc_limits lim = { 10, 32, 100 };
	struct ynode *root = NULL;
	int line, col;

	(void)state;
	assert_int_equal(ydoc_parse(&root, "a: 123456789\n", 13, &lim, &line, &col), ERR_TOOBIG);
	assert_string_equal(err_last(), "file is 13 bytes, over the limit of 10");
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t i, n = 0;

	for (i = 0; i < sizeof(emit_cases) / sizeof(*emit_cases); i++) {
		struct CMUnitTest t = { emit_cases[i].name, test_emit, NULL, NULL,
		    (void *)(uintptr_t)&emit_cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(parse_cases) / sizeof(*parse_cases); i++) {
		struct CMUnitTest t = { parse_cases[i].name, test_parse_error, NULL, NULL,
		    (void *)(uintptr_t)&parse_cases[i] };

		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_empty_document_is_an_empty_map);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_size_limit);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_keys_that_look_alike);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_long_key_is_explicit);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_alike_keys_in_a_large_map);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_marks_are_bytes);
	return _cmocka_run_group_tests("ydoc", tests, n, NULL, NULL);
}
