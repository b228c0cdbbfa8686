/*
 * fuzz_dnsmsg.c - DNS messages from a server, as the rfc2136 provider
 * reads them (providers/apply/dnswire.h): the walker (dnswire_scan), the
 * reply check with TSIG (dnswire_check), and a zone transfer's records
 * (dnswire_axfr_records), message after message.
 *
 * Input: one or more DNS messages (wire form, no TCP length prefix),
 * separated by lines "--".
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - a message the walker refuses is refused by the check too, never OK;
 *   - an unsigned message is never accepted as signed, and one that is
 *     refused is ERR_INVALID or ERR_DENIED with a message;
 *   - the same message, parsed by ldns, made a reply to our request and
 *     signed with our key over the request's MAC, IS accepted as signed
 *     (the oracle that keeps the check from refusing good replies);
 *   - a transfer's records are all inside the zone, never its SOA or apex
 *     NS, at most DNSREC_MAX, and a finished transfer has its SOA.
 */
#include "fuzz.h"

#include <time.h>

#include "providers/apply/dnsrec.h"
#include "providers/apply/dnswire.h"

#define KEY_SECRET "q/pxHPbmrazT82loHh2Tq0mGAQT31hrpFyjvc0Ya3MA="

static void
check_one(const uint8_t *w, size_t len, const struct tsigkey *k, const ldns_rdf *req)
{
	struct dnsreply r;
	size_t at;
	uint16_t id = len >= 2 ? (uint16_t)(w[0] << 8 | w[1]) : 0;
	int scan = dnswire_scan(&at, w, len), rc;

	FUZZ_CHECK(scan == OK || scan == ERR_INVALID, "scan rc %d", scan);
	FUZZ_CHECK(scan != OK || at == 0 || (at >= LDNS_HEADER_SIZE && at < len), "tsig at %zu", at);
	rc = dnswire_check(&r, w, len, id, LDNS_PACKET_QUERY, k, req, 0, time(NULL));
	FUZZ_CHECK(scan == OK || rc != OK, "the check took what the walker refused");
	if (rc == OK) {
		FUZZ_CHECK(r.pkt != NULL, "no packet");
		/* Nobody but us can sign with our key. */
		FUZZ_CHECK(!r.is_signed, "a forged signature was accepted");
		FUZZ_CHECK(r.rcode != LDNS_RCODE_NOERROR, "an unsigned NOERROR was accepted");
	} else {
		FUZZ_CHECK((rc == ERR_INVALID || rc == ERR_DENIED) && err_last()[0], "rc %d", rc);
	}
	dnsreply_dispose(&r);
}

/* Sign what ldns made of the message, as our server would: accepted. */
static void
check_signed(ldns_pkt *p, const struct tsigkey *k, const ldns_rdf *req)
{
	struct dnsreply r;
	uint8_t *w = NULL;
	size_t len = 0;
	int rc;

	ldns_rr_list *secs[3] = { ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p) };
	size_t i, j;

	/* A TSIG already in the message (ldns leaves one outside the
	 * additional section where it is): signing adds a second, which
	 * the check rightly refuses. */
	if (ldns_pkt_tsig(p))
		return;
	for (i = 0; i < 3; i++)
		for (j = 0; j < ldns_rr_list_rr_count(secs[i]); j++)
			if (ldns_rr_get_type(ldns_rr_list_rr(secs[i], j)) == LDNS_RR_TYPE_TSIG)
				return;
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
	if (ldns_pkt_tsig_sign(p, k->name, k->secret, 300, k->alg, req) != LDNS_STATUS_OK)
		return;
	if (ldns_pkt2wire(&w, p, &len) != LDNS_STATUS_OK || len > DNSWIRE_MSG_MAX) {
		free(w);
		return;
	}
	rc = dnswire_check(&r, w, len, ldns_pkt_id(p), LDNS_PACKET_QUERY, k, req, 0, time(NULL));
	FUZZ_CHECK(rc == OK && r.is_signed, "a reply signed with our key was refused: %s",
	    rc == OK ? "not signed" : err_last());
	dnsreply_dispose(&r);
	free(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct tsigkey k = { 0 };
	struct dnsrecs out = { 0 };
	struct axfr x;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_pkt *q = ldns_pkt_query_new(ldns_rdf_clone(zone), LDNS_RR_TYPE_AXFR,
	    LDNS_RR_CLASS_IN, 0);
	ldns_rdf *req;
	size_t i, nmsg = 0;
	int rc = OK;

	k.name = xstrdup("fbkey.");
	tsigkey_algorithm(&k, "hmac-sha256");
	k.secret = xstrdup(KEY_SECRET);
	FUZZ_CHECK(ldns_pkt_tsig_sign(q, k.name, k.secret, 300, k.alg, NULL) == LDNS_STATUS_OK,
	    "sign");
	req = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 3));
	memset(&x, 0, sizeof(x));
	x.zone = zone;
	x.out = &out;
	x.first = 1;
	while (fuzz_more(&in) && nmsg < 8) {
		size_t len;
		char *msg = fuzz_take_part(&in, &len);
		ldns_pkt *p = NULL;

		nmsg++;
		check_one((const uint8_t *)msg, len, &k, req);
		if (len <= DNSWIRE_MSG_MAX && ldns_wire2pkt(&p, (const uint8_t *)msg, len) ==
		    LDNS_STATUS_OK && p) {
			if (rc == OK && !x.done)
				rc = dnswire_axfr_records(&x, p);
			check_signed(p, &k, req);
			ldns_pkt_free(p);
		}
		free(msg);
	}
	FUZZ_CHECK(x.nrr <= DNSREC_MAX + 1, "%zu records", x.nrr);
	FUZZ_CHECK(!x.done || x.soa, "done without an SOA");
	for (i = 0; rc == OK && i < out.n; i++) {
		ldns_rr *rr = out.v[i].rr;

		FUZZ_CHECK(dnsrec_managed(rr, zone), "an unmanaged record kept");
		FUZZ_CHECK(ldns_dname_compare(ldns_rr_owner(rr), zone) == 0 ||
		    ldns_dname_is_subdomain(ldns_rr_owner(rr), zone), "outside the zone");
	}
	if (rc != OK)
		FUZZ_CHECK(err_last()[0], "an error without a message");
	dnsrecs_dispose(&out);
	if (x.soa)
		ldns_rr_free(x.soa);
	ldns_rdf_deep_free(req);
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(q);
	tsigkey_dispose(&k);
	return 0;
}
