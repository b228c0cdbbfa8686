/*
 * test_rfc2136.c - the rfc2136 provider's parts that need no server: the
 * release's records (terraform JSON) with every refusal named, TSIG secret
 * files, the message walker, TSIG on replies (signed here with ldns, as a
 * server would: right key, wrong key, skewed clock, error field, a later
 * message of a transfer), a transfer's records message by message, the
 * comparison, the deletes and adds, the packing into messages, and the
 * provider's configuration.  BIND itself is in tests/e2e/rfc2136.bats.
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

#include "cases.h"
#include "base/fs.h"
#include "providers/apply/apply.h"
#include "providers/apply/dnsrec.h"
#include "providers/apply/dnswire.h"

#define SECRET "q/pxHPbmrazT82loHh2Tq0mGAQT31hrpFyjvc0Ya3MA="
#define OTHER_SECRET "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28="

static void
want_err(int rc, int want, const char *msg)
{
	assert_int_equal(rc, want);
	if (msg && !strstr(err_last(), msg))
		fail_msg("err_last() = \"%s\", want \"%s\" in it", err_last(), msg);
}

/* ---- the release's records ------------------------------------------------ */

#define RES(label, body) "\"" label "\": {" body ", \"zone_id\": \"Z1\"}"
#define DOC(...) "{\"resource\": {\"aws_route53_record\": {" __VA_ARGS__ "}}}"

struct tf_case {
	const char *name;
	const char *doc;
	int rc;
	const char *msg;        /* in err_last(), or the records "owner TYPE value|..." */
	size_t apex_ns;
};

static const struct tf_case tf_cases[] = {
	{ "tf: an empty zone", "{}", OK, "", 0 },
	{ "tf: records sorted, values canonical",
	  DOC(RES("b", "\"name\": \"www.example.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.1.6\", \"10.0.1.5\"]") ", "
	      RES("a", "\"name\": \"example.com\", \"type\": \"MX\", \"ttl\": 300, "
	      "\"records\": [\"10 MX1.example.com.\"]") ", "
	      RES("c", "\"name\": \"docs.example.com\", \"type\": \"CNAME\", \"ttl\": 60, "
	      "\"records\": [\"web-01.example.com\"]")),
	  OK, "docs.example.com. CNAME 60 web-01.example.com.|example.com. MX 300 10 mx1.example.com.|"
	  "www.example.com. A 300 10.0.1.5|www.example.com. A 300 10.0.1.6|", 0 },
	{ "tf: a TXT value is the text, split at 255 bytes, escapes undone",
	  DOC(RES("t", "\"name\": \"t.example.com\", \"type\": \"TXT\", \"ttl\": 300, "
	      "\"records\": [\"a \\\"quoted\\\" $${x} %%{y} $$$${z}\"]")),
	  OK, "t.example.com. TXT 300 \"a \\\"quoted\\\" ${x} %{y} $$${z}\"|", 0 },
	{ "tf: a TXT in Route53's text: \"\" between strings, \\ escapes (renderers/route53.c)",
	  DOC(RES("t", "\"name\": \"t.example.com\", \"type\": \"TXT\", \"ttl\": 300, "
	      "\"records\": [\"ab\\\"\\\"cd\\\\\\\\e\\\\\\\"f\"]")),
	  OK, "t.example.com. TXT 300 \"ab\" \"cd\\\\e\\\"f\"|", 0 },
	{ "tf: the apex NS set is not firebreak's",
	  DOC(RES("n", "\"name\": \"example.com\", \"type\": \"NS\", \"ttl\": 300, "
	      "\"records\": [\"ns1.example.net.\", \"ns2.example.net.\"]") ", "
	      RES("d", "\"name\": \"sub.example.com\", \"type\": \"NS\", \"ttl\": 300, "
	      "\"records\": [\"ns1.example.net.\"]")),
	  OK, "sub.example.com. NS 300 ns1.example.net.|", 2 },
	{ "tf: a wildcard and underscores",
	  DOC(RES("w", "\"name\": \"*.example.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"]") ", "
	      RES("s", "\"name\": \"_sip._tcp.example.com\", \"type\": \"SRV\", \"ttl\": 300, "
	      "\"records\": [\"10 5 5060 sip.example.com.\"]")),
	  OK, "*.example.com. A 300 10.0.0.1|_sip._tcp.example.com. SRV 300 10 5 5060 sip.example.com.|", 0 },
	{ "tf: not JSON", "{\"resource\": ", ERR_INVALID, "line 1", 0 },
	{ "tf: a repeated key", "{\"resource\": {}, \"resource\": {}}", ERR_INVALID, "duplicate", 0 },
	{ "tf: an unknown top-level key", "{\"provider\": {}}", ERR_INVALID,
	  "unknown top-level key \"provider\"", 0 },
	{ "tf: another resource type", "{\"resource\": {\"aws_instance\": {}}}", ERR_INVALID,
	  "unknown resource type \"aws_instance\"", 0 },
	{ "tf: an unknown resource key",
	  DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"], \"alias\": {}")),
	  ERR_INVALID, "resource x: unknown key \"alias\"", 0 },
	{ "tf: a name outside the zone",
	  DOC(RES("x", "\"name\": \"a.example.org\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"]")),
	  ERR_INVALID, "a.example.org is not in zone example.com", 0 },
	{ "tf: a name that only ends like the zone",
	  DOC(RES("x", "\"name\": \"badexample.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"]")),
	  ERR_INVALID, "is not in zone", 0 },
	{ "tf: a name with a space",
	  DOC(RES("x", "\"name\": \"a b.example.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"]")),
	  ERR_INVALID, "resource x: bad name", 0 },
	{ "tf: an SOA", DOC(RES("x", "\"name\": \"example.com\", \"type\": \"SOA\", \"ttl\": 300, "
	      "\"records\": [\"a. b. 1 2 3 4 5\"]")),
	  ERR_INVALID, "type \"SOA\" is not one firebreak renders", 0 },
	{ "tf: a TTL of 2^31", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", "
	      "\"ttl\": 2147483648, \"records\": [\"10.0.0.1\"]")),
	  ERR_INVALID, "ttl 2147483648 out of range", 0 },
	{ "tf: no records", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", "
	      "\"ttl\": 300, \"records\": []")),
	  ERR_INVALID, "from 1 to", 0 },
	{ "tf: a bad address", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", "
	      "\"ttl\": 300, \"records\": [\"10.0.0.256\"]")),
	  ERR_INVALID, "resource x: records[0]", 0 },
	{ "tf: a control character", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"TXT\", "
	      "\"ttl\": 300, \"records\": [\"a\\nb\"]")),
	  ERR_INVALID, "without control characters", 0 },
	{ "tf: a NUL byte", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"TXT\", "
	      "\"ttl\": 300, \"records\": [\"a\\u0000b\"]")),
	  ERR_INVALID, "is not allowed", 0 },
	{ "tf: a Terraform template", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"TXT\", "
	      "\"ttl\": 300, \"records\": [\"${var.x}\"]")),
	  ERR_INVALID, "holds a Terraform template", 0 },
	{ "tf: one RRset in two resources with two TTLs",
	  DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", \"ttl\": 300, "
	      "\"records\": [\"10.0.0.1\"]") ", "
	      RES("y", "\"name\": \"a.example.com\", \"type\": \"A\", \"ttl\": 600, "
	      "\"records\": [\"10.0.0.2\"]")),
	  ERR_INVALID, "a.example.com. A appears with two TTLs", 0 },
	{ "tf: ttl a string", DOC(RES("x", "\"name\": \"a.example.com\", \"type\": \"A\", "
	      "\"ttl\": \"300\", \"records\": [\"10.0.0.1\"]")),
	  ERR_INVALID, "needs name and type", 0 },
};

/* "owner TYPE ttl value|" for each record. */
static void
show_recs(struct buf *b, const struct dnsrecs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		buf_printf(b, "%s ", s->v[i].owner);
		dnsrec_show_type(b, s->v[i].type);
		buf_printf(b, " %u ", (unsigned)s->v[i].ttl);
		dnsrec_show_value(b, &s->v[i]);
		buf_putc(b, '|');
	}
}

static void
test_tf(void **state)
{
	const struct tf_case *c = *state;
	struct dnsrecs s;
	struct buf b = BUF_INIT;
	size_t apex = 99;
	int rc;

	rc = dnsrec_from_tfjson(&s, &apex, "example.com", c->doc, strlen(c->doc));
	want_err(rc, c->rc, c->rc == OK ? NULL : c->msg);
	if (rc == OK) {
		show_recs(&b, &s);
		assert_string_equal(b.data ? b.data : "", c->msg);
		assert_int_equal(apex, c->apex_ns);
	} else {
		assert_int_equal(s.n, 0);
	}
	buf_dispose(&b);
	dnsrecs_dispose(&s);
}

static void
test_tf_long_txt(void **state)
{
	char text[301], *doc;
	struct dnsrecs s;
	size_t apex;
	ldns_rr *rr;

	(void)state;
	memset(text, 'x', 300);
	text[300] = '\0';
	doc = xasprintf(DOC(RES("t", "\"name\": \"t.example.com\", \"type\": \"TXT\", "
	    "\"ttl\": 300, \"records\": [\"%s\"]")), text);
	assert_int_equal(dnsrec_from_tfjson(&s, &apex, "example.com", doc, strlen(doc)), OK);
	assert_int_equal(s.n, 1);
	rr = s.v[0].rr;
	assert_int_equal(ldns_rr_rd_count(rr), 2);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(rr, 0)), 256);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(rr, 1)), 46);
	assert_int_equal(s.v[0].rdlen, 302);
	dnsrecs_dispose(&s);
	free(doc);
}

/* ---- secret files ---------------------------------------------------------- */

struct secret_case {
	const char *name;
	const char *text;
	int rc;
	const char *msg;
};

static const struct secret_case secret_cases[] = {
	{ "secret: bare base64", SECRET "\n", OK, NULL },
	{ "secret: bare, with blank space around", "  \n" SECRET "  \n\n", OK, NULL },
	{ "secret: the tsig-keygen block",
	  "key \"fbkey\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n};\n", OK, NULL },
	{ "secret: the block with a final dot and other case",
	  "key \"FBKEY.\" { algorithm HMAC-SHA256; secret \"" SECRET "\"; };", OK, NULL },
	{ "secret: a block for another key",
	  "key \"other\" { algorithm hmac-sha256; secret \"" SECRET "\"; };", ERR_INVALID,
	  "the key block is for key \"other\", not \"fbkey.\"" },
	{ "secret: a block of another algorithm",
	  "key \"fbkey\" { algorithm hmac-sha512; secret \"" SECRET "\"; };", ERR_INVALID,
	  "algorithm is not hmac-sha256" },
	{ "secret: a block without a secret", "key \"fbkey\" { algorithm hmac-sha256; };",
	  ERR_INVALID, "needs an algorithm and a base64 secret" },
	{ "secret: two blocks", "key \"fbkey\" { algorithm hmac-sha256; secret \"" SECRET "\"; };"
	  "key \"fbkey\" { algorithm hmac-sha256; secret \"" SECRET "\"; };", ERR_INVALID,
	  "more than one key block" },
	{ "secret: a block that does not end", "key \"fbkey\" { algorithm hmac-sha256; secret \""
	  SECRET "\";", ERR_INVALID, "does not end" },
	{ "secret: not base64", "not base64 at all!\n", ERR_INVALID, "expected a base64 secret" },
	{ "secret: too short", "aGVsbG8=\n", ERR_INVALID, "expected a base64 secret" },
	{ "secret: padding inside", "q/pxHPbmrazT82lo=h2Tq0mGAQT31hrpFyjvc0Ya3MA=", ERR_INVALID,
	  "expected a base64 secret" },
};

static void
test_secret(void **state)
{
	const struct secret_case *c = *state;
	struct tsigkey k = { 0 };
	char *out = NULL;
	int rc;

	k.name = xstrdup("fbkey.");
	assert_int_equal(tsigkey_algorithm(&k, "hmac-sha256"), OK);
	rc = tsigkey_parse_secret(&out, &k, c->text);
	want_err(rc, c->rc, c->msg);
	if (rc == OK)
		assert_string_equal(out, SECRET);
	else
		assert_null(strstr(err_last(), SECRET));
	free(out);
	tsigkey_dispose(&k);
}

/* ---- the wire ---------------------------------------------------------------- */

static struct tsigkey
key_of(const char *secret)
{
	struct tsigkey k = { 0 };

	k.name = xstrdup("fbkey.");
	tsigkey_algorithm(&k, "hmac-sha256");
	k.secret = xstrdup(secret);
	return k;
}

static ldns_rr *
rr(const char *s)
{
	ldns_rr *r = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&r, s, 300, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

/*
 * A reply as a server writes it: id, QR, the answer records (a string of
 * records separated by '|'), signed with `secret` over `prior` (timers
 * only when `next`), `skew` seconds off, TSIG error `terr`.  *wire owns.
 */
static void
reply_wire(uint8_t **wire, size_t *len, uint16_t id, int opcode, int rcode, const char *answers,
    const char *secret, const ldns_rdf *prior, int next, ldns_rdf **mac)
{
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_pkt *p = ldns_pkt_query_new(zone, LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0);
	char *copy = xstrdup(answers ? answers : ""), *save = NULL, *tok;

	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_opcode(p, (ldns_pkt_opcode)opcode);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr(tok));
	free(copy);
	if (secret)
		assert_int_equal(ldns_pkt_tsig_sign_next(p, "fbkey.", secret, 300, "hmac-sha256.",
		    prior, next), LDNS_STATUS_OK);
	if (mac)
		*mac = secret ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
	assert_int_equal(ldns_pkt2wire(wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
}

/* A request MAC, as if we had signed a query. */
static ldns_rdf *
request_mac(void)
{
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_pkt *q = ldns_pkt_query_new(zone, LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0);
	ldns_rdf *mac;

	assert_int_equal(ldns_pkt_tsig_sign(q, "fbkey.", SECRET, 300, "hmac-sha256.", NULL),
	    LDNS_STATUS_OK);
	mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 3));
	ldns_pkt_free(q);
	return mac;
}

#define SOA1 "example.com. 300 IN SOA ns1.example.net. h.example.com. 7 3600 600 86400 300"

static void
test_scan(void **state)
{
	uint8_t *w, bad[512];
	size_t len, at;
	ldns_rdf *req = request_mac();

	(void)state;
	reply_wire(&w, &len, 1, LDNS_PACKET_QUERY, 0, SOA1, NULL, NULL, 0, NULL);
	assert_int_equal(dnswire_scan(&at, w, len), OK);
	assert_int_equal(at, 0);
	/* One byte short, one byte more. */
	want_err(dnswire_scan(&at, w, len - 1), ERR_INVALID, "runs past the message");
	memcpy(bad, w, len);
	bad[len] = 0;
	want_err(dnswire_scan(&at, bad, len + 1), ERR_INVALID, "1 bytes after the last record");
	/* A compression pointer to itself. */
	memcpy(bad, w, len);
	bad[LDNS_HEADER_SIZE] = 0xC0;
	bad[LDNS_HEADER_SIZE + 1] = LDNS_HEADER_SIZE;
	want_err(dnswire_scan(&at, bad, len), ERR_INVALID, "question 0");
	free(w);
	/* Signed: the TSIG is the last record. */
	reply_wire(&w, &len, 1, LDNS_PACKET_QUERY, 0, SOA1, SECRET, req, 0, NULL);
	assert_int_equal(dnswire_scan(&at, w, len), OK);
	assert_true(at > LDNS_HEADER_SIZE && at < len);
	/* A record after the TSIG: copy the TSIG's owner... simplest, a
	 * second copy of the whole TSIG record, with ARCOUNT + 1. */
	assert_true(len + (len - at) < sizeof(bad));
	memcpy(bad, w, len);
	memcpy(bad + len, w + at, len - at);
	bad[11] = (uint8_t)(bad[11] + 1);
	want_err(dnswire_scan(&at, bad, len + (len - at)), ERR_INVALID, "more than one");
	free(w);
	ldns_rdf_deep_free(req);
}

struct check_case {
	const char *name;
	const char *secret;        /* the server's; NULL: unsigned */
	int rcode;
	int id_off;                /* added to the id */
	long skew;                 /* our clock minus the server's */
	int rc, is_signed;
	const char *msg;
};

static const struct check_case check_cases[] = {
	{ "check: signed by our key", SECRET, 0, 0, 0, OK, 1, NULL },
	{ "check: signed, clock 200 s off (within the fudge)", SECRET, 0, 0, 200, OK, 1, NULL },
	{ "check: signed by another secret", OTHER_SECRET, 0, 0, 0, ERR_DENIED,
	  0, "does not verify" },
	{ "check: unsigned NOERROR", NULL, 0, 0, 0, ERR_DENIED, 0, "an unsigned reply" },
	{ "check: unsigned REFUSED is kept as an error", NULL, LDNS_RCODE_REFUSED, 0, 0, OK, 0, NULL },
	{ "check: another id", SECRET, 0, 1, 0, ERR_INVALID, 0, "a reply to another request" },
	{ "check: clock 400 s off", SECRET, 0, 0, 400, ERR_DENIED, 0, "away from our clock" },
};

static void
test_check(void **state)
{
	const struct check_case *c = *state;
	struct tsigkey k = key_of(SECRET);
	struct dnsreply r;
	ldns_rdf *req = request_mac();
	uint8_t *w;
	size_t len;
	int rc;

	reply_wire(&w, &len, (uint16_t)(4242 + c->id_off), LDNS_PACKET_QUERY, c->rcode, SOA1,
	    c->secret, req, 0, NULL);
	rc = dnswire_check(&r, w, len, 4242, LDNS_PACKET_QUERY, &k, req, 0, time(NULL) + c->skew);
	want_err(rc, c->rc, c->msg);
	if (rc == OK) {
		assert_int_equal(r.is_signed, c->is_signed);
		assert_int_equal(r.rcode, c->rcode);
		assert_non_null(r.pkt);
	}
	dnsreply_dispose(&r);
	free(w);
	ldns_rdf_deep_free(req);
	tsigkey_dispose(&k);
}

/* A transfer asked for without a key (`firebreak import zone` from a
 * server that allows it by address): an unsigned reply is what comes
 * back; a signed one cannot be checked and is refused. */
static void
test_check_unsigned_key(void **state)
{
	struct tsigkey none = { 0 };
	struct dnsreply r;
	ldns_rdf *req = request_mac();
	uint8_t *w;
	size_t len;

	(void)state;
	reply_wire(&w, &len, 77, LDNS_PACKET_QUERY, 0, SOA1, NULL, NULL, 0, NULL);
	assert_int_equal(dnswire_check(&r, w, len, 77, LDNS_PACKET_QUERY, &none, NULL, 0,
	    time(NULL)), OK);
	assert_int_equal(r.is_signed, 0);
	assert_null(r.mac);
	assert_non_null(r.pkt);
	dnsreply_dispose(&r);
	free(w);
	reply_wire(&w, &len, 77, LDNS_PACKET_QUERY, 0, SOA1, SECRET, req, 0, NULL);
	want_err(dnswire_check(&r, w, len, 77, LDNS_PACKET_QUERY, &none, NULL, 0, time(NULL)),
	    ERR_INVALID, "a signed reply to an unsigned request");
	free(w);
	ldns_rdf_deep_free(req);
}

/* The TSIG error field as BIND fills it for a bad signature. */
static void
test_check_tsig_error(void **state)
{
	struct tsigkey k = key_of(SECRET);
	struct dnsreply r;
	ldns_rdf *req = request_mac();
	uint8_t *w;
	size_t len, at;

	(void)state;
	reply_wire(&w, &len, 7, LDNS_PACKET_QUERY, LDNS_RCODE_NOTAUTH, "", SECRET, req, 0, NULL);
	assert_int_equal(dnswire_scan(&at, w, len), OK);
	/* The error field is the TSIG's rdata minus other len (2) minus
	 * error (2): the record ends with error (2) and other len (2). */
	w[len - 4] = 0;
	w[len - 3] = 16;
	want_err(dnswire_check(&r, w, len, 7, LDNS_PACKET_QUERY, &k, req, 0, time(NULL)),
	    ERR_DENIED, "NOTAUTH (TSIG error BADSIG): the server's secret for key \"fbkey\"");
	w[len - 3] = 17;
	want_err(dnswire_check(&r, w, len, 7, LDNS_PACKET_QUERY, &k, req, 0, time(NULL)),
	    ERR_DENIED, "BADKEY): the server does not know key \"fbkey\" with algorithm hmac-sha256");
	free(w);
	ldns_rdf_deep_free(req);
	tsigkey_dispose(&k);
}

/* A transfer's later messages are signed over the previous MAC and the
 * timers only (RFC 8945 5.3.1); any other prior MAC fails. */
static void
test_check_next_message(void **state)
{
	struct tsigkey k = key_of(SECRET);
	struct dnsreply r;
	ldns_rdf *req = request_mac(), *mac1, *mac2;
	uint8_t *w1, *w2;
	size_t l1, l2;

	(void)state;
	reply_wire(&w1, &l1, 9, LDNS_PACKET_QUERY, 0, SOA1, SECRET, req, 0, &mac1);
	reply_wire(&w2, &l2, 9, LDNS_PACKET_QUERY, 0, "a.example.com. 300 IN A 10.0.0.1|" SOA1,
	    SECRET, mac1, 1, &mac2);
	assert_int_equal(dnswire_check(&r, w1, l1, 9, LDNS_PACKET_QUERY, &k, req, 0, time(NULL)), OK);
	assert_int_equal(ldns_rdf_compare(r.mac, mac1), 0);
	dnsreply_dispose(&r);
	assert_int_equal(dnswire_check(&r, w2, l2, 9, LDNS_PACKET_QUERY, &k, mac1, 1, time(NULL)), OK);
	dnsreply_dispose(&r);
	want_err(dnswire_check(&r, w2, l2, 9, LDNS_PACKET_QUERY, &k, req, 1, time(NULL)),
	    ERR_DENIED, "does not verify");
	want_err(dnswire_check(&r, w2, l2, 9, LDNS_PACKET_QUERY, &k, mac1, 0, time(NULL)),
	    ERR_DENIED, "does not verify");
	free(w1);
	free(w2);
	ldns_rdf_deep_free(req);
	ldns_rdf_deep_free(mac1);
	ldns_rdf_deep_free(mac2);
	tsigkey_dispose(&k);
}

/* ---- a transfer, message by message ----------------------------------------- */

struct axfr_case {
	const char *name;
	const char *msgs[3];      /* each: records separated by '|' */
	int rc, done;
	const char *msg;          /* error, or the managed records */
};

#define SOA2 "example.com. 300 IN SOA ns1.example.net. h.example.com. 8 3600 600 86400 300"

static const struct axfr_case axfr_cases[] = {
	{ "axfr: one message", { SOA1 "|example.com. 300 IN NS ns1.example.net.|"
	  "www.example.com. 300 IN A 10.0.1.5|" SOA1 }, OK, 1,
	  "www.example.com. A 300 10.0.1.5|" },
	{ "axfr: three messages, delegation kept, apex NS not",
	  { SOA1 "|example.com. 300 IN NS ns1.example.net.",
	    "sub.example.com. 300 IN NS ns.sub.example.com.|ns.sub.example.com. 300 IN A 10.0.0.9",
	    "example.com. 300 IN TXT \"hi\"|" SOA1 }, OK, 1,
	  "example.com. TXT 300 \"hi\"|ns.sub.example.com. A 300 10.0.0.9|"
	  "sub.example.com. NS 300 ns.sub.example.com.|" },
	{ "axfr: no closing SOA yet", { SOA1 "|www.example.com. 300 IN A 10.0.1.5" }, OK, 0,
	  "www.example.com. A 300 10.0.1.5|" },
	{ "axfr: not beginning with the SOA", { "www.example.com. 300 IN A 10.0.1.5|" SOA1 },
	  ERR_INVALID, 0, "does not begin with the zone's SOA" },
	{ "axfr: a closing SOA unlike the first", { SOA1 "|www.example.com. 300 IN A 10.0.1.5|" SOA2 },
	  ERR_INVALID, 0, "a closing SOA unlike the first" },
	{ "axfr: records after the closing SOA", { SOA1 "|" SOA1 "|www.example.com. 300 IN A 1.2.3.4" },
	  ERR_INVALID, 0, "an SOA in the middle" },
	{ "axfr: a message after the end", { SOA1 "|" SOA1, "www.example.com. 300 IN A 1.2.3.4" },
	  ERR_INVALID, 0, "records after the closing SOA" },
	{ "axfr: a record outside the zone", { SOA1 "|www.example.org. 300 IN A 10.0.1.5|" SOA1 },
	  ERR_INVALID, 0, "a record outside the zone" },
	{ "axfr: another class", { SOA1 "|www.example.com. 300 CH A 10.0.1.5|" SOA1 },
	  ERR_INVALID, 0, "another class" },
};

static void
test_axfr(void **state)
{
	const struct axfr_case *c = *state;
	struct dnsrecs out = { 0 };
	struct axfr x;
	struct buf b = BUF_INIT;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	int i, rc = OK;

	memset(&x, 0, sizeof(x));
	x.zone = zone;
	x.out = &out;
	x.first = 1;
	for (i = 0; i < 3 && c->msgs[i] && rc == OK; i++) {
		uint8_t *w;
		size_t len;
		ldns_pkt *p;

		reply_wire(&w, &len, 1, LDNS_PACKET_QUERY, 0, c->msgs[i], NULL, NULL, 0, NULL);
		assert_int_equal(ldns_wire2pkt(&p, w, len), LDNS_STATUS_OK);
		rc = dnswire_axfr_records(&x, p);
		ldns_pkt_free(p);
		free(w);
	}
	want_err(rc, c->rc, c->rc == OK ? NULL : c->msg);
	if (rc == OK) {
		assert_int_equal(x.done, c->done);
		dnsrecs_sort(&out);
		show_recs(&b, &out);
		assert_string_equal(b.data, c->msg);
	}
	buf_dispose(&b);
	dnsrecs_dispose(&out);
	if (x.soa)
		ldns_rr_free(x.soa);
	ldns_rdf_deep_free(zone);
}

/* ---- comparing and changing ---------------------------------------------------- */

static void
recs_of(struct dnsrecs *s, const char *list)
{
	char *copy = xstrdup(list), *save = NULL, *tok;

	memset(s, 0, sizeof(*s));
	for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		assert_int_equal(dnsrecs_add(s, rr(tok)), OK);
	free(copy);
	dnsrecs_sort(s);
}

struct diff_case {
	const char *name;
	const char *have, *want;
	const char *text;         /* dnsdiff_format */
	const char *ops;          /* "-owner TYPE value" / "+owner TYPE value", ' '-joined */
};

static const struct diff_case diff_cases[] = {
	{ "diff: the same", "a.example.com. 300 IN A 10.0.0.1", "a.example.com. 300 IN A 10.0.0.1",
	  "", "" },
	{ "diff: case and order do not matter",
	  "A.Example.COM. 300 IN CNAME WWW.example.com.|b.example.com. 300 IN A 10.0.0.2",
	  "b.example.com. 300 IN A 10.0.0.2|a.example.com. 300 IN CNAME www.example.com.", "", "" },
	{ "diff: a drain removes one value",
	  "www.example.com. 300 IN A 10.0.1.5|www.example.com. 300 IN A 10.0.1.6",
	  "www.example.com. 300 IN A 10.0.1.5",
	  "  www.example.com. A: live 10.0.1.5, 10.0.1.6 (ttl 300); expected 10.0.1.5 (ttl 300)\n",
	  "-www.example.com. A 10.0.1.6" },
	{ "diff: a TTL change replaces the RRset",
	  "www.example.com. 300 IN A 10.0.1.5|www.example.com. 300 IN A 10.0.1.6",
	  "www.example.com. 600 IN A 10.0.1.5|www.example.com. 600 IN A 10.0.1.6",
	  "  www.example.com. A: live 10.0.1.5, 10.0.1.6 (ttl 300); expected 10.0.1.5, 10.0.1.6 (ttl 600)\n",
	  "-www.example.com. A 10.0.1.5 -www.example.com. A 10.0.1.6 "
	  "+www.example.com. A 10.0.1.5 +www.example.com. A 10.0.1.6" },
	{ "diff: an A becomes a CNAME: the delete first, at one name",
	  "mail.example.com. 300 IN A 10.0.3.25|z.example.com. 300 IN TXT \"old\"",
	  "mail.example.com. 300 IN CNAME web.example.com.|z.example.com. 300 IN TXT \"new\"",
	  "  mail.example.com. A: live 10.0.3.25 (ttl 300); expected (none)\n"
	  "  mail.example.com. CNAME: live (none); expected web.example.com. (ttl 300)\n"
	  "  z.example.com. TXT: live \"old\" (ttl 300); expected \"new\" (ttl 300)\n",
	  "-mail.example.com. A 10.0.3.25 +mail.example.com. CNAME web.example.com. "
	  "-z.example.com. TXT \"old\" +z.example.com. TXT \"new\"" },
};

static void
test_diff(void **state)
{
	const struct diff_case *c = *state;
	struct dnsrecs have, want;
	struct dnsdiff d;
	struct dnsops o;
	struct buf t = BUF_INIT, ops = BUF_INIT;
	size_t i;

	recs_of(&have, c->have);
	recs_of(&want, c->want);
	dnsrec_diff(&d, &have, &want);
	dnsdiff_format(&t, &d, &have, &want, "live", "expected", 10);
	assert_string_equal(t.data ? t.data : "", c->text);
	dnsrec_ops(&o, &d, &have, &want);
	for (i = 0; i < o.n; i++) {
		buf_printf(&ops, "%s%c%s ", i ? " " : "", o.v[i].del ? '-' : '+', o.v[i].rec->owner);
		dnsrec_show_type(&ops, o.v[i].rec->type);
		buf_putc(&ops, ' ');
		dnsrec_show_value(&ops, o.v[i].rec);
	}
	assert_string_equal(ops.data ? ops.data : "", c->ops);
	buf_dispose(&t);
	buf_dispose(&ops);
	dnsops_dispose(&o);
	dnsdiff_dispose(&d);
	dnsrecs_dispose(&have);
	dnsrecs_dispose(&want);
}

static void
test_diff_format_limit(void **state)
{
	struct dnsrecs have = { 0 }, want = { 0 };
	struct dnsdiff d;
	struct buf t = BUF_INIT;
	char line[80];
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "h%d.example.com. 300 IN A 10.0.0.%d", i, i + 1);
		assert_int_equal(dnsrecs_add(&have, rr(line)), OK);
	}
	dnsrecs_sort(&have);
	dnsrec_diff(&d, &have, &want);
	dnsdiff_format(&t, &d, &have, &want, "live", "expected", 2);
	assert_string_equal(t.data, "  h0.example.com. A: live 10.0.0.1 (ttl 300); expected (none)\n"
	    "  h1.example.com. A: live 10.0.0.2 (ttl 300); expected (none)\n  ... and 3 more\n");
	buf_dispose(&t);
	dnsdiff_dispose(&d);
	dnsrecs_dispose(&have);
}

/* Names stay whole in a message when they fit; one too big for any
 * message is cut between records. */
static void
test_pack(void **state)
{
	struct dnsrecs have = { 0 }, want = { 0 };
	struct dnsdiff d;
	struct dnsops o;
	size_t *cuts, n, per, i;
	char line[80];

	(void)state;
	/* a: 3 records, b: 1, c: 3; each add of an A at hN.example.com is
	 * 17 (owner) + 10 + 4 = 31 bytes. */
	for (i = 0; i < 7; i++) {
		snprintf(line, sizeof(line), "%c.example.com. 300 IN A 10.0.0.%zu",
		    i < 3 ? 'a' : i < 4 ? 'b' : 'c', i + 1);
		assert_int_equal(dnsrecs_add(&want, rr(line)), OK);
	}
	dnsrecs_sort(&want);
	dnsrec_diff(&d, &have, &want);
	dnsrec_ops(&o, &d, &have, &want);
	assert_int_equal(o.n, 7);
	per = dnswire_op_size(&o.v[0]);
	assert_int_equal(per, 15 + 10 + 4);
	/* Room for 4: a (3) + b (1) | c (3). */
	n = dnswire_pack(&cuts, &o, 4 * per);
	assert_int_equal(n, 2);
	assert_int_equal(cuts[0], 4);
	assert_int_equal(cuts[1], 7);
	free(cuts);
	/* Room for 3: a | b | c. */
	n = dnswire_pack(&cuts, &o, 3 * per);
	assert_int_equal(n, 3);
	assert_int_equal(cuts[0], 3);
	assert_int_equal(cuts[1], 4);
	free(cuts);
	/* Room for 2: a is cut (2 + 1), then b, c cut (2 + 1)... */
	n = dnswire_pack(&cuts, &o, 2 * per);
	assert_int_equal(n, 4);
	assert_int_equal(cuts[0], 2);
	assert_int_equal(cuts[1], 4);
	assert_int_equal(cuts[2], 6);
	assert_int_equal(cuts[3], 7);
	free(cuts);
	dnsops_dispose(&o);
	dnsdiff_dispose(&d);
	dnsrecs_dispose(&want);
}

/* ---- the provider's configuration ------------------------------------------------- */

static char tmpdir[256];
static char secret_path[300];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fb-rfc2136-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(secret_path, sizeof(secret_path), "%s/tsig.key", tmpdir);
	return 0;
}

static int
teardown_dir(void **state)
{
	(void)state;
	return fs_rm_rf(tmpdir) == OK ? 0 : -1;
}

struct open_case {
	const char *name;
	const char *cfg;            /* "%s": the secret file */
	const char *secret;         /* the file's content; NULL: no file */
	unsigned mode;
	int rc;
	const char *msg;
};

#define GOOD_TSIG "tsig: {name: fbkey, algorithm: hmac-sha256, secret_file: %s}\n"

static const struct open_case open_cases[] = {
	{ "open: the documented example", "type: rfc2136\nkinds: [dns]\nserver: \"127.0.0.1:53\"\n"
	  GOOD_TSIG "zones: [example.com]\ntimeout: 60\nmax_rrset: 100\n", SECRET, 0600, OK, NULL },
	{ "open: defaults, a host name, sha512, the key block",
	  "server: ns1.example.com\ntsig: {name: fbkey, algorithm: hmac-sha512, secret_file: %s}\n",
	  "key \"fbkey\" { algorithm hmac-sha512; secret \"" SECRET "\"; };", 0640, OK, NULL },
	{ "open: IPv6", "server: \"[::1]:5300\"\n" GOOD_TSIG, SECRET, 0600, OK, NULL },
	{ "open: no server", GOOD_TSIG, SECRET, 0600, ERR_INVALID, "server is required" },
	{ "open: a bad port", "server: \"127.0.0.1:99999\"\n" GOOD_TSIG, SECRET, 0600, ERR_INVALID,
	  "server (line 1): bad port" },
	{ "open: a host with a slash", "server: \"a/b:53\"\n" GOOD_TSIG, SECRET, 0600, ERR_INVALID,
	  "bad host name" },
	{ "open: no tsig", "server: 127.0.0.1\n", SECRET, 0600, ERR_INVALID, "tsig is required" },
	{ "open: an unknown tsig key", "server: 127.0.0.1\ntsig: {name: k, secret: x, secret_file: %s}\n",
	  SECRET, 0600, ERR_INVALID, "tsig: unknown key \"secret\"" },
	{ "open: hmac-md5", "server: 127.0.0.1\ntsig: {name: k, algorithm: hmac-md5, secret_file: %s}\n",
	  SECRET, 0600, ERR_INVALID, "expected hmac-sha256 or hmac-sha512" },
	{ "open: a relative secret file", "server: 127.0.0.1\ntsig: {name: k, secret_file: tsig.key}\n",
	  SECRET, 0600, ERR_INVALID, "absolute path" },
	{ "open: a bad key name", "server: 127.0.0.1\ntsig: {name: \"a b\", secret_file: %s}\n",
	  SECRET, 0600, ERR_INVALID, "tsig.name" },
	{ "open: zones uppercase", "server: 127.0.0.1\n" GOOD_TSIG "zones: [Example.com]\n", SECRET,
	  0600, ERR_INVALID, "zones[0] (line 3)" },
	{ "open: a zone twice", "server: 127.0.0.1\n" GOOD_TSIG "zones: [a.com, a.com]\n", SECRET,
	  0600, ERR_INVALID, "is listed twice" },
	{ "open: timeout zero", "server: 127.0.0.1\n" GOOD_TSIG "timeout: 0\n", SECRET, 0600,
	  ERR_INVALID, "timeout (line 3)" },
	{ "open: an unknown key", "server: 127.0.0.1\n" GOOD_TSIG "ttl: 5\n", SECRET, 0600,
	  ERR_INVALID, "unknown key \"ttl\" (line 3)" },
	{ "open: the secret file missing", "server: 127.0.0.1\n" GOOD_TSIG, NULL, 0, ERR_NOTFOUND,
	  "tsig.secret_file: cannot read" },
	{ "open: the secret file empty", "server: 127.0.0.1\n" GOOD_TSIG, "\n", 0600, ERR_INVALID,
	  "is empty" },
	{ "open: the secret file world-readable", "server: 127.0.0.1\n" GOOD_TSIG, SECRET, 0604,
	  ERR_DENIED, "is readable by others (mode 0604)" },
	{ "open: the secret file not base64", "server: 127.0.0.1\n" GOOD_TSIG, "x y z", 0600,
	  ERR_INVALID, "expected a base64 secret" },
};

static struct ynode *
yaml(const char *text)
{
	struct ynode *n = NULL;
	int line, col;

	assert_int_equal(ydoc_parse(&n, text, strlen(text), &YDOC_DEFAULT_LIMITS, &line, &col), OK);
	return n;
}

static void
test_open(void **state)
{
	const struct open_case *c = *state;
	const struct apply_provider *ap = apply_find("rfc2136");
	struct ynode *cfg;
	char *text;
	void *st = (void *)1;
	int rc;

	assert_non_null(ap);
	unlink(secret_path);
	if (c->secret) {
		assert_int_equal(fs_write_atomic(secret_path, c->secret, strlen(c->secret)), OK);
		assert_int_equal(chmod(secret_path, c->mode), 0);
	}
	{
		/* The config's one "%s" is the secret file's path. */
		const char *at = strstr(c->cfg, "%s");

		text = at ? xasprintf("%.*s%s%s", (int)(at - c->cfg), c->cfg, secret_path, at + 2) :
		    xstrdup(c->cfg);
	}
	cfg = yaml(text);
	rc = ap->ops->open(&st, cfg);
	want_err(rc, c->rc, c->msg);
	if (rc == OK) {
		assert_non_null(st);
		ap->ops->close(st);
	} else {
		assert_null(st);
		assert_non_null(strstr(err_last(), "apply rfc2136"));
		assert_null(strstr(err_last(), SECRET));
	}
	ynode_free(cfg);
	free(text);
}

int
main(void)
{
	struct CMUnitTest tests[128];
	size_t n = 0;

	CASES(test_tf, tf_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tf_long_txt);
	CASES(test_secret, secret_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_scan);
	CASES(test_check, check_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_tsig_error);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_unsigned_key);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_next_message);
	CASES(test_axfr, axfr_cases);
	CASES(test_diff, diff_cases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_diff_format_limit);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_pack);
	CASES(test_open, open_cases);
	return _cmocka_run_group_tests("rfc2136", tests, n, setup_dir, teardown_dir);
}
