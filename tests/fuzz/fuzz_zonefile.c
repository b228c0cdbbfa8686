/*
 * fuzz_zonefile.c - RFC 1035 master files as `firebreak import zone`
 * reads them (model/zonefile.h), from a file or a zone transfer's text.
 *
 * Input: the whole zone file, read as zone example.com; the first byte
 * (when it is '!') asks for ZONEFILE_SKIP_UNSUPPORTED.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - a refusal returns no records and says "t.zone:LINE: ..." with a
 *     line inside the input;
 *   - every record is something dns/example.com.yaml can hold: a valid
 *     record name inside the zone, a type of the schema, a TTL from 1 to
 *     2^31-1, a value the inventory's loader accepts (no control
 *     character, UTF-8, at most 4000 bytes; A and AAAA addresses);
 *   - every value other than TXT's reads as the record's rdata in ldns
 *     (what the rfc2136 provider does with the rendered value), and a
 *     TXT value quoted back does too;
 *   - reading the same input twice gives the same records.
 */
#include "fuzz.h"

#include <ldns/ldns.h>

#include "base/names.h"
#include "model/zonefile.h"

static const char *const types[] = { "A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT" };

static void
check_record(const struct zrec *r)
{
	size_t i, n = strlen(r->value);
	int known = 0;
	struct buf t = BUF_INIT;
	ldns_rr *rr = NULL;
	ldns_status st;

	for (i = 0; i < sizeof(types) / sizeof(*types); i++)
		known |= strcmp(types[i], r->type) == 0;
	FUZZ_CHECK(known, "type %s", r->type);
	FUZZ_CHECK(valid_record_name(r->rel), "name %s", r->rel);
	FUZZ_CHECK(strcmp(r->rel, "@") == 0 ? strcmp(r->name, "example.com") == 0 :
	    strlen(r->name) == strlen(r->rel) + 12 && strncmp(r->name, r->rel, strlen(r->rel)) == 0 &&
	    strcmp(r->name + strlen(r->rel), ".example.com") == 0, "%s vs %s", r->name, r->rel);
	FUZZ_CHECK(r->ttl >= 1 && r->ttl <= 2147483647u, "ttl %u", r->ttl);
	FUZZ_CHECK(n >= 1 && n <= ZONEFILE_MAX_VALUE, "value of %zu bytes", n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->value[i];

		FUZZ_CHECK(c >= 0x20 && c != 0x7f, "control byte 0x%02x", c);
		if (c >= 0x80) {
			size_t k = utf8_decode((const unsigned char *)r->value + i, n - i, NULL);

			FUZZ_CHECK(k > 0, "not UTF-8 at %zu", i);
			i += k - 1;
		}
	}
	if (strcmp(r->type, "A") == 0)
		FUZZ_CHECK(valid_ipv4(r->value), "A %s", r->value);
	if (strcmp(r->type, "AAAA") == 0)
		FUZZ_CHECK(valid_ipv6(r->value), "AAAA %s", r->value);
	buf_printf(&t, "%s. %u IN %s ", r->name, r->ttl, r->type);
	if (strcmp(r->type, "TXT") == 0) {
		/* quoted as a release's reader would: 255-byte strings */
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)r->value[i];

			if (i % 255 == 0)
				buf_puts(&t, i ? "\" \"" : "\"");
			if (c == '"' || c == '\\')
				buf_putc(&t, '\\');
			if (c >= 0x80)
				buf_printf(&t, "\\%03u", c);
			else
				buf_putc(&t, (char)c);
		}
		buf_putc(&t, '"');
	} else {
		buf_puts(&t, r->value);
	}
	st = ldns_rr_new_frm_str(&rr, t.data, 0, NULL, NULL);
	FUZZ_CHECK(st == LDNS_STATUS_OK, "ldns cannot read \"%s\": %s", t.data,
	    ldns_get_errorstr_by_id(st));
	ldns_rr_free(rr);
	buf_dispose(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = size && data[0] == '!' ? ZONEFILE_SKIP_UNSUPPORTED : 0;
	struct zrecs a, b;
	struct buf w = BUF_INIT;
	size_t i, lines = 1;
	int rc, rc2;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	rc = zonefile_parse(&a, "example.com", "t.zone", (const char *)data, size, flags, &w);
	if (rc != OK) {
		const char *m = err_last();
		unsigned long line;
		char *end;

		FUZZ_CHECK(a.n == 0, "refused with %zu records", a.n);
		FUZZ_CHECK(strncmp(m, "t.zone:", 7) == 0, "message \"%s\"", m);
		line = strtoul(m + 7, &end, 10);
		FUZZ_CHECK(*end == ':' && line >= 1 && line <= lines, "line %lu of %zu", line, lines);
	} else {
		for (i = 0; i < a.n; i++)
			check_record(&a.v[i]);
	}
	rc2 = zonefile_parse(&b, "example.com", "t.zone", (const char *)data, size, flags, NULL);
	FUZZ_CHECK(rc == rc2 && a.n == b.n, "twice: %d/%zu then %d/%zu", rc, a.n, rc2, b.n);
	for (i = 0; i < a.n; i++)
		FUZZ_CHECK(strcmp(a.v[i].value, b.v[i].value) == 0 && a.v[i].ttl == b.v[i].ttl,
		    "record %zu differs", i);
	zrecs_dispose(&a);
	zrecs_dispose(&b);
	buf_dispose(&w);
	return 0;
}
