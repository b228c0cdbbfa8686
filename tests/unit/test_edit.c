/*
 * test_edit.c - comment-preserving edits: the one value changes (or the
 * one list item comes or goes), every other byte stays.  Outputs are
 * compared whole, byte for byte; hostile values are read back through
 * ydoc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bot/edit.h"
#include "model/ydoc.h"

struct edit_case {
	const char *name;
	const char *doc;
	const char *path[3];
	const char *value;
	const char *want;      /* NULL: an error is expected */
	int rc;                /* the error */
};

/*
 * Multi-byte UTF-8 (2-byte ä ö ü ß €-less Latin, 3-byte € 日本 ✓, 4-byte
 * 🚀 𝄞 💡) in comments, keys and values, before and after each kind of
 * edit point.  libyaml's marks count characters; an edit must work on
 * bytes, or it lands in the wrong place (or does not read back).
 */
#define U8_HEAD \
	"# Zuständig: Jörg — 日本語 🚀\n" \
	"größe: \"€ 5\"   # 𝄞 ok\n"
#define U8_TAIL \
	"notiz: Ünïcödé 💡  # ✓ fertig\n"

static const struct edit_case cases[] = {
	{ "replace a plain version, keep comments",
	  "# the app\nversion: 1.4.2   # pinned\nhiera_key: profile::app::version\n",
	  { "version" }, "1.4.3",
	  "# the app\nversion: 1.4.3   # pinned\nhiera_key: profile::app::version\n", OK },
	{ "a quoted value stays quoted",
	  "version: \"15.4\"\n", { "version" }, "15.5", "version: \"15.5\"\n", OK },
	{ "replace inside a flow mapping",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1}   # rc\n",
	  { "environments", "staging" }, "1.5.0",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0}   # rc\n", OK },
	{ "add a key to a flow mapping",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1}\n",
	  { "environments", "canary" }, "1.6.0",
	  "version: 1.4.2\nenvironments: {staging: 1.5.0-rc1, canary: 1.6.0}\n", OK },
	{ "add a key to a block mapping, after its last line",
	  "version: 1.4.2\nenvironments:\n  staging: 1.5.0-rc1  # rc\n# trailing comment\nhiera_key: x::version\n",
	  { "environments", "canary" }, "1.6.0",
	  "version: 1.4.2\nenvironments:\n  staging: 1.5.0-rc1  # rc\n  canary: 1.6.0\n# trailing comment\nhiera_key: x::version\n", OK },
	{ "add a missing mapping at the end",
	  "version: 1.4.2\n", { "environments", "staging" }, "2.0",
	  "version: 1.4.2\nenvironments:\n  staging: 2.0\n", OK },
	{ "a file without a final newline",
	  "version: 1.4.2", { "environments", "staging" }, "2.0",
	  "version: 1.4.2\nenvironments:\n  staging: 2.0\n", OK },
	{ "an empty key gets a block under it",
	  "environments:\nversion: 1.0\n", { "environments", "staging" }, "2.0",
	  "environments:\n  staging: 2.0\nversion: 1.0\n", OK },
	{ "state of a host: a word, plain",
	  "role: web\nip: 10.0.1.6\nstate: active      # in service\n", { "state" }, "drained",
	  "role: web\nip: 10.0.1.6\nstate: drained      # in service\n", OK },
	{ "hostile text is quoted, not injected",
	  "name: x\n", { "name" }, "a: b\n- c", "name: \"a: b\\n- c\"\n", OK },
	{ "a list is not a single value", "classes: [a, b]\n", { "classes" }, "x", NULL,
	  ERR_INVALID },
	{ "a path through a scalar", "version: 1\n", { "version", "x" }, "2", NULL, ERR_INVALID },
	{ "a document that does not parse", "a: [1\n", { "a" }, "2", NULL, ERR_INVALID },
	{ "a path through a list", "a: [1]\n", { "a", "b" }, "2", NULL, ERR_INVALID },
	{ "the file is a list", "- a\n", { "a" }, "2", NULL, ERR_INVALID },
	/* The editor writes a block under an empty key, which a flow mapping
	 * cannot hold: the check refuses the edit. */
	{ "an edit that does not parse back is refused",
	  "{environments: , version: 1}\n", { "environments", "staging" }, "2.0", NULL,
	  ERR_INVALID },
	/* Words YAML reads as null or a boolean are quoted even where the old
	 * value was plain: a plain `null` would make the state absent. */
	{ "null is quoted, not a null",
	  "state: active  # s\n", { "state" }, "null", "state: \"null\"  # s\n", OK },
	{ "yes is quoted, not a boolean",
	  "state: active\n", { "state" }, "yes", "state: \"yes\"\n", OK },
	{ "true is quoted, not a boolean",
	  "state: active\n", { "state" }, "true", "state: \"true\"\n", OK },
	{ "y is quoted (a boolean to some readers)",
	  "state: active\n", { "state" }, "y", "state: \"y\"\n", OK },
	{ "~ is quoted", "state: active\n", { "state" }, "~", "state: \"~\"\n", OK },
	{ "a new key with a word value is quoted",
	  "role: web\n", { "state" }, "off", "role: web\nstate: \"off\"\n", OK },
	{ "a comment and a key cannot be injected",
	  "state: active\nrole: web\n", { "state" }, "x #y\nrole: db",
	  "state: \"x #y\\nrole: db\"\nrole: web\n", OK },
	{ "a block scalar is replaced without the line after it",
	  "version: |\n  1.0\nnext: x\n", { "version" }, "1.1", "version: \"1.1\"\nnext: x\n", OK },
	{ "the comment after an empty key stays",
	  "environments:   # per env\nversion: 1.0\n", { "environments", "staging" }, "2.0",
	  "environments:   # per env\n  staging: 2.0\nversion: 1.0\n", OK },
	/* Found by fuzz_edit: the line break before the new key became part
	 * of the block scalar's value (tests/fuzz/corpus/edit/crash-block-scalar-eof). */
	{ "a key after a block scalar at a file's end without a newline is refused",
	  "version: |\n  1.0", { "environments", "staging" }, "2.0", NULL, ERR },
	{ "a new key in a CRLF file ends its line with CRLF",
	  "version: 1.4.2\r\nrole: web\r\n", { "environments", "staging" }, "2.0",
	  "version: 1.4.2\r\nrole: web\r\nenvironments:\r\n  staging: 2.0\r\n", OK },
	{ "utf-8: the example's app.yaml with a comment above the pin",
	  "# Zuständig: Jörg\nversion: 1.4.2\nenvironments: {staging: 1.5.0-rc1}   # rc\n",
	  { "version" }, "1.4.3",
	  "# Zuständig: Jörg\nversion: 1.4.3\nenvironments: {staging: 1.5.0-rc1}   # rc\n", OK },
	{ "utf-8: replace a plain scalar",
	  U8_HEAD "version: 1.4.2   # gepinnt ✓\n" U8_TAIL, { "version" }, "1.4.3",
	  U8_HEAD "version: 1.4.3   # gepinnt ✓\n" U8_TAIL, OK },
	{ "utf-8: replace a double-quoted scalar",
	  U8_HEAD "version: \"1.4.2\"  # ö\n" U8_TAIL, { "version" }, "1.4.3",
	  U8_HEAD "version: \"1.4.3\"  # ö\n" U8_TAIL, OK },
	{ "utf-8: replace a single-quoted scalar after a multi-byte key (quoted as the ASCII case)",
	  U8_HEAD "日本: '1.4.2'  # 🚀\n" U8_TAIL, { "日本" }, "1.4.3",
	  U8_HEAD "日本: \"1.4.3\"  # 🚀\n" U8_TAIL, OK },
	{ "utf-8: replace a block scalar",
	  U8_HEAD "version: |\n  1.0 — alt\n" U8_TAIL, { "version" }, "1.1",
	  U8_HEAD "version: \"1.1\"\n" U8_TAIL, OK },
	{ "utf-8: replace a multi-byte value with a multi-byte value",
	  U8_HEAD "owner: Jörg 🚀   # ✓\n" U8_TAIL, { "owner" }, "Zoë 日本",
	  U8_HEAD "owner: \"Zoë 日本\"   # ✓\n" U8_TAIL, OK },
	{ "utf-8: replace inside a flow mapping",
	  U8_HEAD "environments: {größe: x, staging: 1.5.0-rc1, 𝄞: y}   # rc 🚀\n" U8_TAIL,
	  { "environments", "staging" }, "1.5.0",
	  U8_HEAD "environments: {größe: x, staging: 1.5.0, 𝄞: y}   # rc 🚀\n" U8_TAIL, OK },
	{ "utf-8: add a key to a flow mapping",
	  U8_HEAD "environments: {staging: 1.5.0-rc1, ключ: 𝄞}   # rc €\n" U8_TAIL,
	  { "environments", "qa" }, "1.6.0",
	  U8_HEAD "environments: {staging: 1.5.0-rc1, ключ: 𝄞, qa: 1.6.0}   # rc €\n" U8_TAIL, OK },
	{ "utf-8: add a key to a block mapping",
	  U8_HEAD "environments:\n  staging: 1.5.0-rc1  # rc ✓\n  größe: 日本\n# Kommentar 🚀\n"
	  U8_TAIL, { "environments", "qa" }, "1.6.0",
	  U8_HEAD "environments:\n  staging: 1.5.0-rc1  # rc ✓\n  größe: 日本\n  qa: 1.6.0\n"
	  "# Kommentar 🚀\n" U8_TAIL, OK },
	{ "utf-8: add a key to a nested block mapping under a multi-byte key",
	  U8_HEAD "ümgebung:\n    staging: 1.5.0   # 💡\n" U8_TAIL, { "ümgebung", "qa" }, "2.0",
	  U8_HEAD "ümgebung:\n    staging: 1.5.0   # 💡\n    qa: 2.0\n" U8_TAIL, OK },
	{ "utf-8: add a missing mapping at the end",
	  U8_HEAD U8_TAIL, { "environments", "staging" }, "2.0",
	  U8_HEAD U8_TAIL "environments:\n  staging: 2.0\n", OK },
	{ "utf-8: an empty key gets a block under it",
	  U8_HEAD "environments:   # je Umgebung 🚀\n" U8_TAIL, { "environments", "staging" }, "2.0",
	  U8_HEAD "environments:   # je Umgebung 🚀\n  staging: 2.0\n" U8_TAIL, OK },
	{ "utf-8: a byte order mark before everything",
	  "\xef\xbb\xbf# Jörg\nversion: 1.4.2\n", { "version" }, "1.4.3",
	  "\xef\xbb\xbf# Jörg\nversion: 1.4.3\n", OK },
};

/* The document in a buffer of exactly its length, without a NUL after it,
 * so the sanitizer build catches any read past the end. */
static char *
exact_copy(const char *s, size_t *len)
{
	char *d;

	*len = strlen(s);
	d = malloc(*len);
	if (!d && *len == 0)
		d = malloc(1);
	assert_non_null(d);
	memcpy(d, s, *len);
	return d;
}

static void
test_edit(void **state)
{
	const struct edit_case *c = *state;
	char *doc, *out = NULL;
	size_t depth, len, outlen = 0;
	int rc;

	for (depth = 0; depth < 3 && c->path[depth]; depth++)
		;
	doc = exact_copy(c->doc, &len);
	rc = edit_set_scalar(&out, &outlen, doc, len, c->path, depth, c->value);
	free(doc);
	if (!c->want) {
		assert_int_equal(rc, c->rc);
		assert_null(out);
		return;
	}
	if (rc != OK)
		fail_msg("%s", err_last());
	assert_string_equal(out, c->want);
	assert_int_equal(outlen, strlen(c->want));
	free(out);
}

/* ---- edit_seq_append -------------------------------------------------- */

#define P(k, v) { k, v, NULL, 0 }
#define PV(k, vs) { k, NULL, vs, sizeof(vs) / sizeof(*vs) }
#define CNAME(n, v) { P("name", n), P("type", "CNAME"), P("value", v) }, 3

static const char *const mx_values[] = { "10 mx1.example.com.", "20 mx2.example.com." };
static const char *const a_values[] = { "10.0.0.7" };

/* The zone file of the DNS commands, flow-mapping items, comments. */
#define ZONE_HEAD \
	"# example.com zone, managed by hand and by the bot\n" \
	"zone_id: Z0123456789ABC\n" \
	"ttl: 300\n" \
	"records:\n" \
	"  - {name: mail, type: MX, values: [\"10 mx1.example.com.\"]}   # primary MX\n" \
	"  # docs site\n" \
	"  - {name: docs, type: CNAME, value: web-01.example.com.}\n"

/* Block-mapping items with the dash at column 0. */
#define BLOCK_ZONE \
	"records:\n" \
	"- name: www\n" \
	"  type: A\n" \
	"  values: [10.0.0.1]\n" \
	"- name: docs\n" \
	"  type: CNAME\n" \
	"  value: web-01.example.com.\n"

struct append_case {
	const char *name;
	const char *doc;
	const char *path[3];
	struct edit_pair pairs[4];
	size_t npairs;
	const char *want;      /* NULL: an error is expected */
	int rc;                /* the error */
};

static const struct append_case appends[] = {
	{ "append: flow items, comments kept",
	  ZONE_HEAD, { "records" }, CNAME("status", "status.example.com."),
	  ZONE_HEAD "  - {name: status, type: CNAME, value: status.example.com.}\n", OK },
	{ "append: a list value is a flow list",
	  ZONE_HEAD, { "records" }, { P("name", "@"), P("type", "MX"), PV("values", mx_values) }, 3,
	  ZONE_HEAD "  - {name: \"@\", type: MX, values: [\"10 mx1.example.com.\", "
	  "\"20 mx2.example.com.\"]}\n", OK },
	{ "append: block mapping items, dash at column 0",
	  BLOCK_ZONE, { "records" }, { P("name", "api"), P("type", "A"), PV("values", a_values) }, 3,
	  BLOCK_ZONE "- name: api\n  type: A\n  values: [\"10.0.0.7\"]\n", OK },
	{ "append: block mapping items indented by 4",
	  "records:\n    -   name: www\n        type: A\n        value: x.\nttl: 300\n",
	  { "records" }, CNAME("docs", "web.example.com."),
	  "records:\n    -   name: www\n        type: A\n        value: x.\n"
	  "    -   name: docs\n        type: CNAME\n        value: web.example.com.\nttl: 300\n", OK },
	{ "append: a dash alone on its line, the keys below",
	  "records:\n-\n    name: www\n    type: A\n", { "records" },
	  { P("name", "x"), P("type", "A") }, 2,
	  "records:\n-\n    name: www\n    type: A\n-   name: x\n    type: A\n", OK },
	{ "append: odd indentation, dash at column 1, keys at 3",
	  "records:\n - name: a\n   type: A\n   # about a\nttl: 1\n", { "records" },
	  { P("name", "b"), P("type", "A") }, 2,
	  "records:\n - name: a\n   type: A\n   # about a\n - name: b\n   type: A\nttl: 1\n", OK },
	{ "append: the siblings' dash style is copied",
	  "records:\n-   {name: a}\n", { "records" }, { P("name", "b") }, 1,
	  "records:\n-   {name: a}\n-   {name: b}\n", OK },
	{ "append: flow items indented by 4, keys follow",
	  "zone_id: Z\nrecords:\n    - {name: a, type: CNAME, value: b.}\nttl: 300\n", { "records" },
	  CNAME("c", "d."),
	  "zone_id: Z\nrecords:\n    - {name: a, type: CNAME, value: b.}\n"
	  "    - {name: c, type: CNAME, value: d.}\nttl: 300\n", OK },
	{ "append: dash at column 0, keys follow",
	  "records:\n- {name: a, type: CNAME, value: b.}\nttl: 300\nzone_id: Z\n", { "records" },
	  CNAME("c", "d."),
	  "records:\n- {name: a, type: CNAME, value: b.}\n- {name: c, type: CNAME, value: d.}\n"
	  "ttl: 300\nzone_id: Z\n", OK },
	{ "append: comments below the last item stay with it",
	  "records:\n  - {name: a}   # A\n  # about a\n\n  #   more about a\n\n# the ttl\nttl: 300\n",
	  { "records" }, { P("name", "b") }, 1,
	  "records:\n  - {name: a}   # A\n  # about a\n\n  #   more about a\n  - {name: b}\n\n"
	  "# the ttl\nttl: 300\n", OK },
	{ "append: a tab before the last item's comment",
	  "records:\n  - {name: a}\t# tab\nttl: 1\n", { "records" }, { P("name", "b") }, 1,
	  "records:\n  - {name: a}\t# tab\n  - {name: b}\nttl: 1\n", OK },
	{ "append: CRLF lines stay CRLF",
	  "zone_id: Z\r\nrecords:\r\n  - {name: a}  # a\r\nttl: 300\r\n", { "records" },
	  { P("name", "b") }, 1,
	  "zone_id: Z\r\nrecords:\r\n  - {name: a}  # a\r\n  - {name: b}\r\nttl: 300\r\n", OK },
	{ "append: CRLF block mapping items",
	  "records:\r\n- name: a\r\n  type: A\r\n", { "records" },
	  { P("name", "b"), P("type", "A") }, 2,
	  "records:\r\n- name: a\r\n  type: A\r\n- name: b\r\n  type: A\r\n", OK },
	{ "append: a file without a final newline keeps lacking one",
	  "records:\n  - {name: a}", { "records" }, { P("name", "b") }, 1,
	  "records:\n  - {name: a}\n  - {name: b}", OK },
	{ "append: a block item spanning a block scalar",
	  "records:\n- name: t\n  type: TXT\n  value: |\n    hello\n\nttl: 1\n", { "records" },
	  { P("name", "u"), P("type", "TXT"), P("value", "hi there") }, 3,
	  "records:\n- name: t\n  type: TXT\n  value: |\n    hello\n"
	  "- name: u\n  type: TXT\n  value: \"hi there\"\n\nttl: 1\n", OK },
	{ "append: a flow sequence",
	  "zone_id: Z\nrecords: [{name: a, type: A, value: 1.2.3.4}]   # one\nttl: 300\n",
	  { "records" }, CNAME("b", "a.example.com."),
	  "zone_id: Z\nrecords: [{name: a, type: A, value: 1.2.3.4}, "
	  "{name: b, type: CNAME, value: a.example.com.}]   # one\nttl: 300\n", OK },
	{ "append: a flow sequence over lines, after its last item",
	  "records: [\n  {name: a},   # a\n  {name: b}   # b\n]\n", { "records" },
	  { P("name", "c") }, 1,
	  "records: [\n  {name: a},   # a\n  {name: b}, {name: c}   # b\n]\n", OK },
	{ "append: an empty flow sequence",
	  "zone_id: Z\nrecords: []   # none yet\nttl: 300\n", { "records" }, CNAME("a", "b."),
	  "zone_id: Z\nrecords: [{name: a, type: CNAME, value: b.}]   # none yet\nttl: 300\n", OK },
	{ "append: a missing key at the end",
	  "zone_id: Z\nttl: 300\n", { "records" }, CNAME("a", "b."),
	  "zone_id: Z\nttl: 300\nrecords:\n  - {name: a, type: CNAME, value: b.}\n", OK },
	{ "append: a missing key, no final newline",
	  "zone_id: Z\nttl: 300", { "records" }, CNAME("a", "b."),
	  "zone_id: Z\nttl: 300\nrecords:\n  - {name: a, type: CNAME, value: b.}", OK },
	{ "append: a missing key in a file of comments",
	  "# nothing yet\n", { "records" }, { P("name", "a") }, 1,
	  "# nothing yet\nrecords:\n  - {name: a}\n", OK },
	{ "append: a missing key in an empty file",
	  "", { "records" }, { P("name", "a") }, 1, "records:\n  - {name: a}\n", OK },
	{ "append: a missing key and mapping",
	  "zone_id: Z\n", { "dns", "records" }, { P("name", "a") }, 1,
	  "zone_id: Z\ndns:\n  records:\n    - {name: a}\n", OK },
	{ "append: a missing key in a flow mapping",
	  "{zone_id: Z}  # flow\n", { "records" }, { P("name", "a") }, 1,
	  "{zone_id: Z, records: [{name: a}]}  # flow\n", OK },
	{ "append: an empty key, comment and following keys kept",
	  "zone_id: Z\nrecords:   # soon\nttl: 300\n", { "records" }, CNAME("a", "b."),
	  "zone_id: Z\nrecords:   # soon\n  - {name: a, type: CNAME, value: b.}\nttl: 300\n", OK },
	{ "append: an explicit null, CRLF, no final newline",
	  "zone_id: Z\r\nrecords: ~  # soon\r\nttl: 300", { "records" }, { P("name", "a") }, 1,
	  "zone_id: Z\r\nrecords:   # soon\r\n  - {name: a}\r\nttl: 300", OK },
	{ "append: hostile keys and values are quoted",
	  "records:\n  - {name: a}\n", { "records" },
	  { P("name", "a: b"), P("#type", "{"), P("value", "x\r\ny: z"), P("- k", "'\"") }, 4,
	  "records:\n  - {name: a}\n"
	  "  - {name: \"a: b\", \"#type\": \"{\", value: \"x\\r\\ny: z\", \"- k\": \"'\\\"\"}\n", OK },
	{ "append: hostile values in a block mapping item",
	  BLOCK_ZONE, { "records" }, { P("name", "*x"), P("type", "yes"), P("value", " 010 ") }, 3,
	  BLOCK_ZONE "- name: \"*x\"\n  type: \"yes\"\n  value: \" 010 \"\n", OK },
	{ "append: utf-8, flow items in a block sequence",
	  U8_HEAD "records:\n  - {name: jörg, type: TXT, value: \"日本 🚀\"}   # ✓ erster\n"
	  "  # 𝄞 Kommentar\n" U8_TAIL, { "records" }, CNAME("status", "status.example.com."),
	  U8_HEAD "records:\n  - {name: jörg, type: TXT, value: \"日本 🚀\"}   # ✓ erster\n"
	  "  # 𝄞 Kommentar\n  - {name: status, type: CNAME, value: status.example.com.}\n" U8_TAIL,
	  OK },
	{ "append: utf-8, block mapping items",
	  U8_HEAD "records:\n- name: www   # ö\n  type: A\n  value: \"€ 💡\"\n" U8_TAIL, { "records" },
	  { P("name", "api"), P("type", "A") }, 2,
	  U8_HEAD "records:\n- name: www   # ö\n  type: A\n  value: \"€ 💡\"\n"
	  "- name: api\n  type: A\n" U8_TAIL, OK },
	{ "append: utf-8, a flow sequence",
	  U8_HEAD "records: [{name: ä, value: 日本}, {name: 𝄞}]   # 🚀\n" U8_TAIL, { "records" },
	  { P("name", "b") }, 1,
	  U8_HEAD "records: [{name: ä, value: 日本}, {name: 𝄞}, {name: b}]   # 🚀\n" U8_TAIL, OK },
	{ "append: utf-8, an empty flow sequence",
	  U8_HEAD "records: []   # noch keine ✓\n" U8_TAIL, { "records" }, { P("name", "b") }, 1,
	  U8_HEAD "records: [{name: b}]   # noch keine ✓\n" U8_TAIL, OK },
	{ "append: utf-8, a missing key in a flow mapping",
	  "{größe: 日本, zone_id: Z}  # 🚀\n", { "records" }, { P("name", "a") }, 1,
	  "{größe: 日本, zone_id: Z, records: [{name: a}]}  # 🚀\n", OK },
	{ "append: utf-8, a missing key in a block mapping",
	  U8_HEAD "zone_id: Z   # ✓\n", { "records" }, { P("name", "a") }, 1,
	  U8_HEAD "zone_id: Z   # ✓\nrecords:\n  - {name: a}\n", OK },
	{ "append: utf-8, an empty key",
	  U8_HEAD "records:   # bald 🚀\n" U8_TAIL, { "records" }, { P("name", "a") }, 1,
	  U8_HEAD "records:   # bald 🚀\n  - {name: a}\n" U8_TAIL, OK },
	{ "append: utf-8 keys and values are written as they are",
	  U8_HEAD "records:\n  - {name: a}\n", { "records" },
	  { P("name", "jörg"), P("日本", "𝄞 🚀") }, 2,
	  U8_HEAD "records:\n  - {name: a}\n  - {name: \"jörg\", \"日本\": \"𝄞 🚀\"}\n", OK },
	{ "append: records is a mapping", "records: {a: 1}\n", { "records" }, { P("name", "a") }, 1,
	  NULL, ERR_INVALID },
	{ "append: records is a string", "records: none\n", { "records" }, { P("name", "a") }, 1,
	  NULL, ERR_INVALID },
	{ "append: a path through a list", "zones: [a]\n", { "zones", "records" },
	  { P("name", "a") }, 1, NULL, ERR_INVALID },
	{ "append: the file is a list", "- a\n", { "records" }, { P("name", "a") }, 1,
	  NULL, ERR_INVALID },
	{ "append: a document that does not parse", "records: [\n", { "records" },
	  { P("name", "a") }, 1, NULL, ERR_INVALID },
	{ "append: duplicate keys do not read back", "records: []\n", { "records" },
	  { P("name", "a"), P("name", "b") }, 2, NULL, ERR_INVALID },
};

static void
test_append(void **state)
{
	const struct append_case *c = *state;
	char *doc, *out = NULL;
	size_t depth, len, outlen = 0;
	int rc;

	for (depth = 0; depth < 3 && c->path[depth]; depth++)
		;
	doc = exact_copy(c->doc, &len);
	rc = edit_seq_append(&out, &outlen, doc, len, c->path, depth, c->pairs, c->npairs);
	free(doc);
	if (!c->want) {
		assert_int_equal(rc, c->rc);
		assert_null(out);
		return;
	}
	if (rc != OK)
		fail_msg("%s", err_last());
	assert_string_equal(out, c->want);
	assert_int_equal(outlen, strlen(c->want));
	free(out);
}

/* ---- edit_seq_remove -------------------------------------------------- */

#define THREE_HEAD "# zone\nzone_id: Z\nrecords:\n"
#define THREE_A    "  - {name: a, type: A, value: 1.2.3.4}   # first\n"
#define THREE_B    "  # about b\n  - {name: b, type: A, value: 1.2.3.5}\n"
#define THREE_C    "  - {name: c, type: A, value: 1.2.3.6}  # last\n"
#define THREE_TAIL "ttl: 300\n"
#define THREE      THREE_HEAD THREE_A THREE_B THREE_C THREE_TAIL

#define BLOCK_A "- name: www\n  type: A   # web\n  values:\n    - 10.0.0.1\n"
#define BLOCK_B "# docs\n- name: docs\n  type: CNAME\n  value: web.\n"
#define BLOCK_C "- name: t\n  type: TXT\n  value: |\n    hello\n"

struct remove_case {
	const char *name;
	const char *doc;
	const char *path[3];
	size_t index;
	const char *want;      /* NULL: an error is expected */
	int rc;
};

static const struct remove_case removes[] = {
	{ "remove: the first flow item, its comment with it", THREE, { "records" }, 0,
	  THREE_HEAD THREE_B THREE_C THREE_TAIL, OK },
	{ "remove: a middle item, the comment above stays", THREE, { "records" }, 1,
	  THREE_HEAD THREE_A "  # about b\n" THREE_C THREE_TAIL, OK },
	{ "remove: the last item, keys follow", THREE, { "records" }, 2,
	  THREE_HEAD THREE_A THREE_B THREE_TAIL, OK },
	{ "remove: the first block mapping item", "records:\n" BLOCK_A BLOCK_B BLOCK_C "\nttl: 1\n",
	  { "records" }, 0, "records:\n" BLOCK_B BLOCK_C "\nttl: 1\n", OK },
	{ "remove: a middle block mapping item", "records:\n" BLOCK_A BLOCK_B BLOCK_C "\nttl: 1\n",
	  { "records" }, 1, "records:\n" BLOCK_A "# docs\n" BLOCK_C "\nttl: 1\n", OK },
	{ "remove: the last block mapping item, a block scalar",
	  "records:\n" BLOCK_A BLOCK_B BLOCK_C "\nttl: 1\n", { "records" }, 2,
	  "records:\n" BLOCK_A BLOCK_B "\nttl: 1\n", OK },
	{ "remove: items indented by 4",
	  "records:\n    -   name: a\n        type: A\n    -   name: b\n        type: A\nttl: 1\n",
	  { "records" }, 0, "records:\n    -   name: b\n        type: A\nttl: 1\n", OK },
	{ "remove: odd indentation, dash at column 1",
	  "records:\n - name: a\n   type: A\n - name: b\n   type: A\n", { "records" }, 1,
	  "records:\n - name: a\n   type: A\n", OK },
	{ "remove: the only item leaves records: []",
	  "zone_id: Z\nrecords:   # all of them\n  # the one\n  - {name: a}  # a\nttl: 300\n",
	  { "records" }, 0, "zone_id: Z\nrecords: []   # all of them\n  # the one\nttl: 300\n", OK },
	{ "remove: the only block mapping item, dash at column 0",
	  "records:\n- name: a\n  type: A\n", { "records" }, 0, "records: []\n", OK },
	{ "remove: the only item, no final newline",
	  "zone_id: Z\nrecords:\n  - {name: a}", { "records" }, 0, "zone_id: Z\nrecords: []", OK },
	{ "remove: the last line of a file without a final newline",
	  "records:\n  - {name: a}\n  - {name: b}", { "records" }, 1, "records:\n  - {name: a}", OK },
	{ "remove: CRLF",
	  "records:\r\n  - {name: a}\r\n  - {name: b}\r\nttl: 1\r\n", { "records" }, 0,
	  "records:\r\n  - {name: b}\r\nttl: 1\r\n", OK },
	{ "remove: the only item, CRLF without a final newline",
	  "records:\r\n  - {name: a}", { "records" }, 0, "records: []", OK },
	{ "remove: the first flow item and the comma after it",
	  "records: [{name: a}, {name: b}, {name: c}]  # x\n", { "records" }, 0,
	  "records: [{name: b}, {name: c}]  # x\n", OK },
	{ "remove: a middle flow item",
	  "records: [{name: a}, {name: b}, {name: c}]\n", { "records" }, 1,
	  "records: [{name: a}, {name: c}]\n", OK },
	{ "remove: the last flow item and the comma before it",
	  "records: [{name: a}, {name: b},\t{name: c}]\nttl: 1\n", { "records" }, 2,
	  "records: [{name: a}, {name: b}]\nttl: 1\n", OK },
	{ "remove: the only flow item",
	  "records: [{name: a}]\n", { "records" }, 0, "records: []\n", OK },
	{ "remove: a flow sequence over lines",
	  "records: [\n  {name: a},   # a\n  {name: b}   # b\n]\n", { "records" }, 0,
	  "records: [\n  # a\n  {name: b}   # b\n]\n", OK },
	{ "remove: utf-8, a middle flow item of a block sequence",
	  U8_HEAD "records:\n  - {name: ä}   # 🚀\n  # über b\n  - {name: 日本}  # ✓\n"
	  "  - {name: 𝄞}\n" U8_TAIL, { "records" }, 1,
	  U8_HEAD "records:\n  - {name: ä}   # 🚀\n  # über b\n  - {name: 𝄞}\n" U8_TAIL, OK },
	{ "remove: utf-8, the last block mapping item",
	  U8_HEAD "records:\n- name: ä\n  value: \"€\"\n- name: 日本   # 💡\n  value: |\n    🚀\n"
	  U8_TAIL, { "records" }, 1,
	  U8_HEAD "records:\n- name: ä\n  value: \"€\"\n" U8_TAIL, OK },
	{ "remove: utf-8, the only item leaves records: []",
	  U8_HEAD "records:   # alle 🚀\n  - {name: ö}  # ✓\n" U8_TAIL, { "records" }, 0,
	  U8_HEAD "records: []   # alle 🚀\n" U8_TAIL, OK },
	{ "remove: utf-8, a middle item of a flow sequence",
	  U8_HEAD "records: [{name: ä}, {name: 日本}, {name: 𝄞}]  # 💡\n" U8_TAIL, { "records" }, 1,
	  U8_HEAD "records: [{name: ä}, {name: 𝄞}]  # 💡\n" U8_TAIL, OK },
	{ "remove: utf-8, the last item of a flow sequence",
	  U8_HEAD "records: [{name: ä}, {name: 日本}]\n" U8_TAIL, { "records" }, 1,
	  U8_HEAD "records: [{name: ä}]\n" U8_TAIL, OK },
	{ "remove: index out of range", THREE, { "records" }, 3, NULL, ERR_NOTFOUND },
	{ "remove: from an empty list", "records: []\n", { "records" }, 0, NULL, ERR_NOTFOUND },
	{ "remove: from a missing list", "zone_id: Z\n", { "records" }, 0, NULL, ERR_NOTFOUND },
	{ "remove: from a null list", "records:\n", { "records" }, 0, NULL, ERR_NOTFOUND },
	{ "remove: records is a string", "records: x\n", { "records" }, 0, NULL, ERR_INVALID },
	{ "remove: a path through a scalar", "zone: x\n", { "zone", "records" }, 0,
	  NULL, ERR_INVALID },
	{ "remove: a document that does not parse", "records: [a\n", { "records" }, 0,
	  NULL, ERR_INVALID },
};

static void
test_remove(void **state)
{
	const struct remove_case *c = *state;
	char *doc, *out = NULL;
	size_t depth, len, outlen = 0;
	int rc;

	for (depth = 0; depth < 3 && c->path[depth]; depth++)
		;
	doc = exact_copy(c->doc, &len);
	rc = edit_seq_remove(&out, &outlen, doc, len, c->path, depth, c->index);
	free(doc);
	if (!c->want) {
		assert_int_equal(rc, c->rc);
		assert_null(out);
		return;
	}
	if (rc != OK)
		fail_msg("%s", err_last());
	assert_string_equal(out, c->want);
	assert_int_equal(outlen, strlen(c->want));
	free(out);
}

/* ---- hostile text ------------------------------------------------------ */

static const char *const hostile[] = {
	"a: b", "{", "}", "[", "]", ",", "a, b", "#x", "x #y", "${x}", "%{x}", "- x", "-",
	"a\nb: c", "a\r\nb: c", "\r", "'", "\"", "'x'", "\"x\"", "*x", "&x", "!x", "!!str",
	"%x", "@x", "`x`", "|", ">", "? x", "?", ":", "::", "fe80::1", "<<", "=", "\\",
	" lead", "trail ", " ", "", "\t", "yes", "no", "Yes", "NO", "on", "off", "y", "n",
	"null", "Null", "~", "true", "False", "010", "0x1f", "0o17", "1e3", "1E+3", "1.5",
	".5", "-1", "+1", "1_000", "12:30", "2024-01-01", ".inf", ".nan", "---", "...",
	"é", "\x01", "a\x7f", "x. y", "10 mx1.example.com.", "Jörg", "日本: x", "🚀 #x", "ä\nb: c",
};

/* Zone files in every style the DNS commands meet. */
static const char *const styles[] = {
	ZONE_HEAD "ttl_after: 1\n",
	BLOCK_ZONE "# end\n",
	"zone_id: Z\nrecords: [{name: a, type: A, value: 1.2.3.4}]\nttl: 300\n",
	"zone_id: Z\nrecords: []\n",
	"zone_id: Z\nttl: 300\n",
	"zone_id: Z\nrecords:\nttl: 300\n",
	"{zone_id: Z}\n",
	"records:\r\n- {name: a}\r\n",
	U8_HEAD "records:\n  - {name: ö, value: 日本}  # 🚀\n" U8_TAIL,
	U8_HEAD "records:\n- name: ö\n  value: 𝄞\n" U8_TAIL,
	U8_HEAD "records: [{name: ö}, {name: 日本}]  # 🚀\n" U8_TAIL,
};

static void
assert_str(const struct ynode *n, const char *s)
{
	assert_non_null(n);
	assert_int_equal(n->type, YNODE_SCALAR);
	assert_int_equal(n->len, strlen(s));
	assert_memory_equal(n->str, s, n->len);
	assert_int_equal(ynode_scalar_kind(n), YSCALAR_STR);
}

/*
 * Each hostile string as a key, a value and a list value, in each style:
 * the result parses, the root has the same keys as before (nothing
 * injected), the list one more item, and that item reads back exactly.
 */
static void
test_hostile_append(void **state)
{
	const char *const path[] = { "records" };
	size_t h, s;

	(void)state;
	for (s = 0; s < sizeof(styles) / sizeof(*styles); s++)
		for (h = 0; h < sizeof(hostile) / sizeof(*hostile); h++) {
			const char *const vals[] = { hostile[h], "b" };
			const struct edit_pair pairs[] = {
				P("name", hostile[h]), P(hostile[h][0] ? hostile[h] : "k", "v"),
				PV("values", vals),
			};
			struct ynode *old = NULL, *root = NULL, *recs, *it;
			char *out = NULL;
			size_t outlen, before;
			int line, col, rc;

			rc = edit_seq_append(&out, &outlen, styles[s], strlen(styles[s]), path, 1, pairs,
			    3);
			if (rc != OK)
				fail_msg("style %zu, '%s': %s", s, hostile[h], err_last());
			assert_int_equal(ydoc_parse(&old, styles[s], strlen(styles[s]), NULL, &line,
			    &col), OK);
			if (ydoc_parse(&root, out, outlen, NULL, &line, &col) != OK)
				fail_msg("style %zu, '%s': %d:%d %s\n%s", s, hostile[h], line, col,
				    err_last(), out);
			recs = ynode_get(old, "records");
			before = recs && recs->type == YNODE_SEQ ? recs->n : 0;
			assert_int_equal(root->n, old->n + (ynode_get(old, "records") ? 0 : 1));
			recs = ynode_get(root, "records");
			assert_non_null(recs);
			assert_int_equal(recs->type, YNODE_SEQ);
			assert_int_equal(recs->n, before + 1);
			it = recs->items[before];
			assert_int_equal(it->type, YNODE_MAP);
			assert_int_equal(it->n, 3);
			assert_str(it->keys[0], "name");
			assert_str(it->items[0], hostile[h]);
			assert_str(it->keys[1], hostile[h][0] ? hostile[h] : "k");
			assert_str(it->items[1], "v");
			assert_int_equal(it->items[2]->type, YNODE_SEQ);
			assert_int_equal(it->items[2]->n, 2);
			assert_str(it->items[2]->items[0], hostile[h]);
			assert_str(it->items[2]->items[1], "b");
			ynode_free(old);
			ynode_free(root);
			free(out);
		}
}

/*
 * edit_set_scalar with each hostile string: it parses, no key is added,
 * and the value reads back exactly, never as null or a boolean (a plain
 * version-like 010 or 1e3 reads back as its text, which is how firebreak
 * reads versions).
 */
static void
test_hostile_set(void **state)
{
	static const char *const docs[] = {
		"version: 1.4.2   # pinned\nstate: active\n",
		"version: \"1.4.2\"\nstate: active\n",
		"environments: {staging: 1.0}\nstate: active\n",
		"# Zuständig: Jörg 🚀\nversion: 1.4.2   # ✓ 日本\nstate: active\n",
		"# €\nenvironments: {größe: x, staging: 1.0, 𝄞: y}  # 💡\nstate: active\n",
	};
	static const char *const paths[][2] = {
		{ "version", NULL }, { "version", NULL }, { "environments", "staging" },
		{ "version", NULL }, { "environments", "staging" },
	};
	size_t d, h;

	(void)state;
	for (d = 0; d < sizeof(docs) / sizeof(*docs); d++)
		for (h = 0; h < sizeof(hostile) / sizeof(*hostile); h++) {
			struct ynode *root = NULL, *old = NULL, *n;
			char *out = NULL;
			size_t outlen, depth = paths[d][1] ? 2 : 1;
			int line, col;

			assert_int_equal(ydoc_parse(&old, docs[d], strlen(docs[d]), NULL, &line, &col),
			    OK);

			if (edit_set_scalar(&out, &outlen, docs[d], strlen(docs[d]), paths[d], depth,
			    hostile[h]) != OK)
				fail_msg("doc %zu, '%s': %s", d, hostile[h], err_last());
			if (ydoc_parse(&root, out, outlen, NULL, &line, &col) != OK)
				fail_msg("doc %zu, '%s': %s\n%s", d, hostile[h], err_last(), out);
			assert_int_equal(root->n, 2);
			n = ynode_get(root, paths[d][0]);
			if (depth == 2) {
				/* no key added, none lost */
				assert_int_equal(n->n, ynode_get(old, paths[d][0])->n);
				n = ynode_get(n, paths[d][1]);
			}
			assert_non_null(n);
			assert_int_equal(n->type, YNODE_SCALAR);
			assert_int_equal(n->len, strlen(hostile[h]));
			assert_memory_equal(n->str, hostile[h], n->len);
			assert_true(ynode_scalar_kind(n) != YSCALAR_NULL &&
			    ynode_scalar_kind(n) != YSCALAR_BOOL);
			assert_string_equal(ynode_get(root, "state")->str, "active");
			ynode_free(old);
			ynode_free(root);
			free(out);
		}
}

/* Remove every item of every style, one at a time from the front, until
 * the list is empty: each step keeps the rest. */
static void
test_remove_all(void **state)
{
	const char *const path[] = { "records" };
	size_t s;

	(void)state;
	for (s = 0; s < sizeof(styles) / sizeof(*styles); s++) {
		char *doc = strdup(styles[s]), *out = NULL;
		size_t outlen;

		for (;;) {
			int rc = edit_seq_remove(&out, &outlen, doc, strlen(doc), path, 1, 0);

			if (rc == ERR_NOTFOUND)
				break;
			if (rc != OK)
				fail_msg("style %zu: %s\n%s", s, err_last(), doc);
			free(doc);
			doc = out;
		}
		assert_null(out);
		free(doc);
	}
}

int
main(void)
{
	struct CMUnitTest tests[160];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct CMUnitTest t = { cases[i].name, test_edit, NULL, NULL,
		    (void *)(uintptr_t)&cases[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(appends) / sizeof(*appends); i++) {
		struct CMUnitTest t = { appends[i].name, test_append, NULL, NULL,
		    (void *)(uintptr_t)&appends[i] };

		tests[n++] = t;
	}
	for (i = 0; i < sizeof(removes) / sizeof(*removes); i++) {
		struct CMUnitTest t = { removes[i].name, test_remove, NULL, NULL,
		    (void *)(uintptr_t)&removes[i] };

		tests[n++] = t;
	}
	{
		struct CMUnitTest t[] = {
			{ "hostile keys and values round-trip in every style", test_hostile_append,
			  NULL, NULL, NULL },
			{ "hostile values round-trip through edit_set_scalar", test_hostile_set, NULL,
			  NULL, NULL },
			{ "removing item after item empties every style", test_remove_all, NULL, NULL,
			  NULL },
		};

		for (i = 0; i < sizeof(t) / sizeof(*t); i++)
			tests[n++] = t[i];
	}
	assert_true(n <= sizeof(tests) / sizeof(*tests));
	return _cmocka_run_group_tests("edit", tests, n, NULL, NULL);
}
