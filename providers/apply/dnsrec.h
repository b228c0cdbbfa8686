/*
 * dnsrec.h - DNS records as the rfc2136 provider compares them: read
 * from a release's terraform/route53/<zone>.tf.json or from a zone
 * transfer, put in one canonical form, compared RRset by RRset, and
 * turned into the deletes and adds of an UPDATE.
 *
 * Layer: providers/apply (includes base, model and its own folder, and
 * <ldns/ldns.h>).  Only the rfc2136 provider's files include this.
 *
 * Canonical form (RFC 4034 section 6.2): owner names and the names inside
 * the rdata of the RFC 3597 well-known types are lowercased; two records
 * are the same when owner, type, TTL and rdata (wire form) are.  A zone's
 * record set is sorted by (owner, type, rdata) and holds no repeats, so
 * every comparison is one merge.
 *
 * What the release says is read back from the rendered artifact, never
 * re-derived from the model: the release is the one source of truth.
 * The artifact is Terraform JSON for Route53, so its strings are read as
 * Route53 reads them: names in values are absolute with or without the
 * final dot, a TXT value is the text itself (split here into strings of
 * at most 255 bytes), and Terraform's template escapes ("$${", "%%{")
 * are undone.
 */
#ifndef FIREBREAK_DNSREC_H
#define FIREBREAK_DNSREC_H

#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "base/util.h"

#define DNSREC_MAX 500000               /* records in one zone, either side */
#define DNSREC_VALUE_MAX 4000           /* bytes of one value in a release */
#define DNSREC_VALUES_MAX 100000        /* values of one resource */
#define DNSREC_JSON_MAX (256u << 20)    /* bytes of one zone's .tf.json */
#define DNSREC_SHOW_MAX 120             /* bytes of one value in messages */

struct dnsrec {
	ldns_rr *rr;          /* owns; canonical, class IN */
	char *owner;          /* owns; presentation form, lowercase, final dot */
	uint16_t type;
	uint32_t ttl;
	uint8_t *rd;          /* owns; the rdata's wire form */
	size_t rdlen;
};

struct dnsrecs {
	struct dnsrec *v;     /* owns */
	size_t n, alloc;
};

/* Add rr (steals it, whatever happens) in canonical form.  The set must
 * be sorted again (dnsrecs_sort) before it is compared.  ERR_TOOBIG past
 * DNSREC_MAX records. */
int dnsrecs_add(struct dnsrecs *s, ldns_rr *rr);

/* Sort by (owner, type, rdata) and drop exact repeats (same TTL too). */
void dnsrecs_sort(struct dnsrecs *s);

void dnsrecs_dispose(struct dnsrecs *s);

/*
 * Is this record firebreak's?  Every record of a configured zone except
 * its SOA, its apex NS set, and what a DNSSEC signer keeps (RRSIG, NSEC,
 * NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY, and BIND's private type 65534).
 * `zone` is the zone's name as an ldns dname (borrowed).
 */
int dnsrec_managed(const ldns_rr *rr, const ldns_rdf *zone);

/*
 * Read the records of `zone` ("example.com", no final dot) from the
 * rendered terraform/route53/<zone>.tf.json in data[0..len) into *out
 * (owns; sorted).  Apex NS records are left out and counted in *apex_ns
 * (the server's NS set is not firebreak's).  Everything is checked: the
 * document's shape and nothing else in it, each resource's keys, a name
 * inside the zone, a type firebreak renders (A AAAA CAA CNAME MX NS PTR
 * SRV TXT), a TTL below 2^31, values that parse, and no (name, type)
 * twice.  ERR_INVALID (ERR_TOOBIG past the bounds) with err_last() naming
 * the resource; *out is then empty.
 */
int dnsrec_from_tfjson(struct dnsrecs *out, size_t *apex_ns, const char *zone,
    const char *data, size_t len);

/* One RRset (owner, type) that differs: its records are have->v[h0..h1)
 * and want->v[w0..w1) (either range may be empty). */
struct dnsdiff_item {
	size_t h0, h1, w0, w1;
};

struct dnsdiff {
	struct dnsdiff_item *v;    /* owns */
	size_t n, alloc;
};

/* The RRsets that differ between two sorted sets, in (owner, type) order.
 * An RRset differs when its records' rdata or TTL do. */
void dnsrec_diff(struct dnsdiff *out, const struct dnsrecs *have, const struct dnsrecs *want);
void dnsdiff_dispose(struct dnsdiff *d);

/*
 * Append the differences, one line per RRset, at most `max` lines (then
 * "... and N more"): "  www.example.com. A: live 10.0.0.9 (ttl 300);
 * expected 10.0.1.5 (ttl 300)", with `have_word` and `want_word` as the
 * two labels and "(none)" for an absent side.  Values are shortened to
 * DNSREC_SHOW_MAX bytes, control bytes escaped.
 */
void dnsdiff_format(struct buf *b, const struct dnsdiff *d, const struct dnsrecs *have,
    const struct dnsrecs *want, const char *have_word, const char *want_word, size_t max);

/* One change an UPDATE makes: delete a record (class NONE, RFC 2136
 * section 2.5.4) or add one. */
struct dnsop {
	const struct dnsrec *rec;  /* borrowed from have (delete) or want (add) */
	int del;
};

struct dnsops {
	struct dnsop *v;           /* owns */
	size_t n, alloc;
	size_t ndel, nadd;
};

/*
 * The deletes and adds that turn `have` into `want`, for the RRsets in
 * `d`, grouped by owner name (each owner's deletes, then its adds), so a
 * name's change can travel in one message.  An RRset whose rdata stays
 * and TTL stays loses and gains only the records that differ; one whose
 * TTL changes is deleted record by record and added whole.
 */
void dnsrec_ops(struct dnsops *out, const struct dnsdiff *d, const struct dnsrecs *have,
    const struct dnsrecs *want);
void dnsops_dispose(struct dnsops *o);

/* The record's rdata in presentation form, shortened (see dnsdiff_format). */
void dnsrec_show_value(struct buf *b, const struct dnsrec *r);

/* "A", "TXT", "TYPE65534". */
void dnsrec_show_type(struct buf *b, uint16_t type);

#endif
