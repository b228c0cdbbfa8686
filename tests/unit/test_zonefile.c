/*
 * test_zonefile.c - the master-file reader of `firebreak import zone`
 * (model/zonefile.h): RFC 1035 syntax in, the inventory's values out,
 * and every bad line named by file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cases.h"
#include "model/zonefile.h"

struct zf_case {
	const char *name;
	const char *text;
	unsigned flags;
	int rc;
	/* OK: the records, "rel TYPE ttl value" a line; else the message. */
	const char *want;
	const char *warn;      /* a warning that must be there, or NULL */
};

#define SOA "@ IN SOA ns1.example.net. hm.example.com. 1 3600 600 86400 300\n"

static const struct zf_case cases[] = {
	{ "relative names, @, $TTL, class optional", "$TTL 300\n" SOA
	  "@ IN NS ns1.example.net.\nwww A 10.0.0.1\n@ MX 10 mx1\nmx1 IN A 10.0.0.2\n", 0, OK,
	  "www A 300 10.0.0.1\n@ MX 300 10 mx1.example.com.\nmx1 A 300 10.0.0.2\n", NULL },
	{ "ttl and class in either order, units", "$TTL 1h\na 60 IN A 10.0.0.1\nb IN 2m A 10.0.0.2\n"
	  "c 1h30m A 10.0.0.3\nd 1W A 10.0.0.4\n", 0, OK,
	  "a A 60 10.0.0.1\nb A 120 10.0.0.2\nc A 5400 10.0.0.3\nd A 604800 10.0.0.4\n", NULL },
	{ "a blank owner is the previous one", "$TTL 300\nwww A 10.0.0.1\n  A 10.0.0.2\n\tTXT x\n", 0,
	  OK, "www A 300 10.0.0.1\nwww A 300 10.0.0.2\nwww TXT 300 x\n", NULL },
	{ "parentheses continue an entry; comments anywhere",
	  "$TTL 300\n@ IN SOA ns1.example.net. hm.example.com. ( ; the SOA\n 1 ; serial\n 3600 600\n"
	  " 86400 300 )\n_sip._tcp SRV ( 10 60\n 5060 sip ) ; trailing\nsip A 10.0.0.9\n", 0, OK,
	  "_sip._tcp SRV 300 10 60 5060 sip.example.com.\nsip A 300 10.0.0.9\n", NULL },
	{ "$ORIGIN moves relative names; absolute names stay",
	  "$TTL 300\n$ORIGIN dev.example.com.\napi A 10.0.0.1\n* CNAME web.example.com.\n"
	  "$ORIGIN example.com.\nx CNAME api.dev\n", 0, OK,
	  "api.dev A 300 10.0.0.1\n*.dev CNAME 300 web.example.com.\nx CNAME 300 api.dev.example.com.\n",
	  NULL },
	{ "names are lowercased, in rdata too", "$TTL 300\nWWW CNAME Web-01.Example.COM.\n", 0, OK,
	  "www CNAME 300 web-01.example.com.\n", NULL },
	{ "the last explicit TTL without $TTL", "a 60 A 10.0.0.1\nb A 10.0.0.2\n", 0, OK,
	  "a A 60 10.0.0.1\nb A 60 10.0.0.2\n", NULL },
	{ "AAAA canonical", "$TTL 300\nv6 AAAA 2001:DB8:0:0::1\n", 0, OK,
	  "v6 AAAA 300 2001:db8::1\n", NULL },
	{ "TXT strings joined, escapes decoded", "$TTL 300\nt TXT \"a\\\"b\" \"c\\\\d\" \\065e\n", 0,
	  OK, "t TXT 300 a\"bc\\dAe\n", "3 strings joined" },
	{ "TXT split at 255 joins silently",
	  "$TTL 300\nt TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" b\n",
	  0, OK,
	  "t TXT 300 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n", NULL },
	{ "CAA quoted and lowercased tag", "$TTL 300\n@ CAA 0 ISSUE \"ca.example.net; x=\\\"y\\\"\"\n", 0,
	  OK, "@ CAA 300 0 issue \"ca.example.net; x=\\\"y\\\"\"\n", NULL },
	{ "null MX", "$TTL 300\n@ MX 0 .\n", 0, OK, "@ MX 300 0 .\n", NULL },
	{ "DNSSEC records are left out", "$TTL 300\n@ DNSKEY 257 3 13 AAAA\nwww RRSIG A 13 3 300 1 2 3 x. y\n"
	  "www A 10.0.0.1\n", 0, OK, "www A 300 10.0.0.1\n", NULL },
	{ "CRLF line ends", "$TTL 300\r\nwww A 10.0.0.1\r\n", 0, OK, "www A 300 10.0.0.1\n", NULL },
	{ "unsupported types skipped when asked", "$TTL 300\nk SSHFP 1 1 abcd\nw A 10.0.0.1\n",
	  ZONEFILE_SKIP_UNSUPPORTED, OK, "w A 300 10.0.0.1\n", "t.zone:2: warning: k.example.com. SSHFP skipped" },

	{ "unsupported types refused", "$TTL 300\nw A 10.0.0.1\nk SSHFP 1 1 abcd\n", 0,
	  ERR_INVALID, "t.zone:3: k.example.com. SSHFP: dns/ files hold", NULL },
	{ "a bad address", "$TTL 300\n\nw A 10.0.0.256\n", 0, ERR_INVALID,
	  "t.zone:3: A: '10.0.0.256' is not an IPv4 address", NULL },
	{ "a leading zero", "$TTL 300\nw A 010.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: A: '010.0.0.1' is not an IPv4 address", NULL },
	{ "outside the zone", "$TTL 300\nw.example.org. A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: w.example.org is outside zone example.com", NULL },
	{ "a suffix that is not a label", "$TTL 300\nwexample.com. A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: wexample.com is outside zone example.com", NULL },
	{ "no TTL anywhere", "w A 10.0.0.1\n", 0, ERR_INVALID, "t.zone:1: no TTL", NULL },
	{ "an unclosed parenthesis names where it opened", "$TTL 300\nw ( A\n10.0.0.1\n", 0,
	  ERR_INVALID, "t.zone:2: '(' is never closed", NULL },
	{ "a stray close", "$TTL 300\nw A 10.0.0.1 )\n", 0, ERR_INVALID, "t.zone:2: ')' without '('",
	  NULL },
	{ "nested parentheses", "$TTL 300\nw ( ( A 10.0.0.1 ) )\n", 0, ERR_INVALID,
	  "t.zone:2: '(' inside '('", NULL },
	{ "an unclosed quote", "$TTL 300\nt TXT \"abc\n", 0, ERR_INVALID,
	  "t.zone:2: a quoted string runs past the end of its line", NULL },
	{ "$INCLUDE is refused", "$INCLUDE /etc/passwd\n", 0, ERR_INVALID,
	  "t.zone:1: $INCLUDE is not supported", NULL },
	{ "$GENERATE is refused", "$TTL 1\n$GENERATE 1-3 h$ A 10.0.0.$\n", 0, ERR_INVALID,
	  "t.zone:2: $GENERATE is not supported", NULL },
	{ "another class", "$TTL 300\nw CH A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: class CH: only IN", NULL },
	{ "a bad TTL", "$TTL 300\nw 3OO A 10.0.0.1\n", 0, ERR_INVALID, "t.zone:2: bad TTL '3OO'",
	  NULL },
	{ "a TTL past 2^31", "w 2147483648 A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:1: bad TTL '2147483648'", NULL },
	{ "TTL 0", "w 0 A 10.0.0.1\n", 0, ERR_INVALID, "t.zone:1: w.example.com. A: TTL 0", NULL },
	{ "too many fields", "$TTL 300\nw A 10.0.0.1 10.0.0.2\n", 0, ERR_INVALID,
	  "t.zone:2: A takes 1 field, not 2", NULL },
	{ "a preference out of range", "$TTL 300\n@ MX 65536 mx\n", 0, ERR_INVALID,
	  "t.zone:2: MX: preference '65536' is not a number from 0 to 65535", NULL },
	{ "an escaped name", "$TTL 300\nw\\.x A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: owner 'w\\.x' is not a name firebreak can hold", NULL },
	{ "a blank owner first", "$TTL 300\n  A 10.0.0.1\n", 0, ERR_INVALID,
	  "t.zone:2: no owner name", NULL },
	{ "a control character in TXT", "$TTL 300\nt TXT \"a\\009b\"\n", 0, ERR_INVALID,
	  "t.zone:2: TXT: a control character (0x09)", NULL },
	{ "TXT that is not UTF-8", "$TTL 300\nt TXT \"\\255\"\n", 0, ERR_INVALID,
	  "t.zone:2: TXT: text that is not UTF-8", NULL },
	{ "a NUL byte", "$TTL 300\nw A 10.0.0.1\n\0", 0, ERR_INVALID, "t.zone:3: a NUL byte", NULL },
	{ "an SOA below the apex", "$TTL 300\nsub SOA a. b. 1 2 3 4 5\n", 0, ERR_INVALID,
	  "t.zone:2: an SOA below the zone's apex", NULL },
	{ "empty TXT", "$TTL 300\nt TXT \"\"\n", 0, ERR_INVALID, "t.zone:2: TXT: empty text", NULL },
};

static void
test_case(void **state)
{
	const struct zf_case *c = *state;
	struct zrecs z;
	struct buf got = BUF_INIT, warn = BUF_INIT;
	size_t len = strlen(c->text), i;
	int rc;

	/* The NUL case: its text runs one byte past the C string. */
	if (strstr(c->name, "NUL"))
		len++;
	rc = zonefile_parse(&z, "example.com", "t.zone", c->text, len, c->flags, &warn);
	if (rc != c->rc)
		fail_msg("rc %d, want %d (%s)", rc, c->rc, rc ? err_last() : "ok");
	if (rc == OK) {
		for (i = 0; i < z.n; i++)
			buf_printf(&got, "%s %s %u %s\n", z.v[i].rel, z.v[i].type, z.v[i].ttl,
			    z.v[i].value);
		assert_string_equal(got.data ? got.data : "", c->want);
	} else {
		if (!strstr(err_last(), c->want))
			fail_msg("message \"%s\" lacks \"%s\"", err_last(), c->want);
		assert_int_equal(z.n, 0);
	}
	if (c->warn && (!warn.data || !strstr(warn.data, c->warn)))
		fail_msg("warnings \"%s\" lack \"%s\"", warn.data ? warn.data : "", c->warn);
	zrecs_dispose(&z);
	buf_dispose(&got);
	buf_dispose(&warn);
}

/* What is left out is counted. */
static void
test_counts(void **state)
{
	static const char text[] = "$TTL 300\n" SOA "@ NS a.example.net.\n@ NS b.example.net.\n"
	    "sub NS ns.sub\nns.sub A 10.0.0.1\n";
	struct zrecs z;

	(void)state;
	assert_int_equal(zonefile_parse(&z, "example.com", "t", text, strlen(text), 0, NULL), OK);
	assert_int_equal(z.soa, 1);
	assert_int_equal(z.apex_ns, 2);
	assert_int_equal(z.n, 2);
	assert_string_equal(z.v[0].value, "ns.sub.example.com.");
	zrecs_dispose(&z);
}

int
main(void)
{
	struct CMUnitTest tests[64];
	size_t n = 0;

	CASES(test_case, cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_counts);
	return _cmocka_run_group_tests("zonefile", tests, n, NULL, NULL);
}
