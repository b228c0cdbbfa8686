/*
 * fuzz_tfjson.c - the release's DNS records as the rfc2136 provider reads
 * them: dnsrec_from_tfjson over a terraform/route53/<zone>.tf.json.
 *
 * Input: the zone name (one line), a line "--", then the document.  A
 * zone name that is not a valid zone is replaced by example.com.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - OK gives records sorted by (owner, type, rdata) without repeats,
 *     each inside the zone, of a type firebreak renders, never an SOA or
 *     an apex NS, with rdata that ldns turns back into text;
 *   - a refusal leaves no records and says why;
 *   - reading the same document twice gives the same records.
 */
#include "fuzz.h"

#include "base/names.h"
#include "providers/apply/dnsrec.h"

static int
type_ok(uint16_t t)
{
	return t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA || t == LDNS_RR_TYPE_CAA ||
	    t == LDNS_RR_TYPE_CNAME || t == LDNS_RR_TYPE_MX || t == LDNS_RR_TYPE_NS ||
	    t == LDNS_RR_TYPE_PTR || t == LDNS_RR_TYPE_SRV || t == LDNS_RR_TYPE_TXT;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct dnsrecs a, b;
	size_t zl, dl, apex, apex2, i;
	char *zone = fuzz_take_part(&in, &zl), *doc = fuzz_take_part(&in, &dl), *fq;
	const char *z = valid_zone(zone) ? zone : "example.com";
	ldns_rdf *zr;
	int rc, rc2;

	fq = xasprintf("%s.", z);
	zr = ldns_dname_new_frm_str(fq);
	FUZZ_CHECK(zr != NULL, "zone %s", z);
	rc = dnsrec_from_tfjson(&a, &apex, z, doc, dl);
	if (rc != OK) {
		FUZZ_CHECK(a.n == 0 && err_last()[0], "refused with %zu records", a.n);
	} else {
		for (i = 0; i < a.n; i++) {
			const struct dnsrec *r = &a.v[i];
			struct buf b2 = BUF_INIT;

			FUZZ_CHECK(type_ok(r->type), "type %u", r->type);
			FUZZ_CHECK(str_has_suffix(r->owner, fq), "%s outside %s", r->owner, fq);
			FUZZ_CHECK(!(r->type == LDNS_RR_TYPE_NS && ldns_dname_compare(ldns_rr_owner(r->rr),
			    zr) == 0), "an apex NS");
			FUZZ_CHECK(dnsrec_managed(r->rr, zr), "unmanaged %s", r->owner);
			if (i > 0) {
				int c = strcmp(a.v[i - 1].owner, r->owner);

				FUZZ_CHECK(c < 0 || (c == 0 && (a.v[i - 1].type < r->type ||
				    (a.v[i - 1].type == r->type && (a.v[i - 1].rdlen != r->rdlen ||
				    memcmp(a.v[i - 1].rd, r->rd, r->rdlen) != 0 ||
				    a.v[i - 1].ttl != r->ttl)))), "not sorted or repeated at %zu", i);
			}
			dnsrec_show_value(&b2, r);
			FUZZ_CHECK(b2.len > 0 && b2.len <= DNSREC_SHOW_MAX, "shown as %zu bytes", b2.len);
			buf_dispose(&b2);
		}
		rc2 = dnsrec_from_tfjson(&b, &apex2, z, doc, dl);
		FUZZ_CHECK(rc2 == OK && b.n == a.n && apex2 == apex, "not the same twice");
		for (i = 0; i < a.n; i++)
			FUZZ_CHECK(strcmp(a.v[i].owner, b.v[i].owner) == 0 && a.v[i].rdlen == b.v[i].rdlen &&
			    memcmp(a.v[i].rd, b.v[i].rd, a.v[i].rdlen) == 0, "record %zu differs", i);
		dnsrecs_dispose(&b);
	}
	dnsrecs_dispose(&a);
	ldns_rdf_deep_free(zr);
	free(fq);
	free(zone);
	free(doc);
	return 0;
}
