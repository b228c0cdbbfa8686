/*
 * route53.c - one Terraform JSON file per DNS zone, at
 * terraform/route53/<zone>.tf.json, holding aws_route53_record resources
 * (DESIGN.md, "What each renderer derives"):
 *
 *   - an A record <fqdn> -> ip for every active or drained host with an ip,
 *     in the zone the loader chose for it (host->zone_idx, the longest
 *     suffix of its fqdn); hosts in no zone get none;
 *   - for each name in a role's `dns:` and each zone, an A record
 *     <name>.<zone> over the ips of the role's active hosts in that zone,
 *     and no record when there is no such host;
 *   - the zone file's own records ("@" is the apex; ttl 0 is the zone's).
 *
 * Records are sorted by (name, type) and their values bytewise (strcmp);
 * the order of values means nothing to Route53, and a byte order is one
 * that every reader of a diff can reproduce.  Two sources that yield the
 * same (name, type) are one record set in Route53, so they are merged here
 * into one resource: the union of values, without repeats (Route53 refuses
 * a repeated value), and the smaller TTL.
 *
 * Resource labels are Terraform identifiers made from "<fqdn>_<TYPE>" and
 * must be unique across every zone file, since all of them live in one
 * module directory.  Collisions after sanitising get "_2", "_3", ... in
 * the order of zones by name, then records by (name, type).
 *
 * Every string is JSON-escaped and also has Terraform's template sequences
 * doubled ("${" -> "$${", "%{" -> "%%{"), so a TXT value is never
 * interpolated.  The semantic objects ("<fqdn>/<TYPE>" -> ["v1","v2"])
 * carry the raw values and no TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "renderer.h"

struct rrec {
	char *name;            /* owns: the fqdn, without a trailing dot */
	const char *type;      /* borrows from the model or a literal */
	unsigned long ttl;
	const char **vals;     /* owns the array; borrows the strings */
	size_t nvals, avals;
	const char *label;     /* borrows from the label set */
};

struct rset {
	struct rrec *v;
	size_t n, alloc;
};

/* Open addressing over the labels handed out so far; owns the strings. */
struct labelset {
	char **slot;
	size_t cap, n;
};

/* An active host with an ip, in a zone, whose role has dns names. */
struct rr_member {
	size_t zone, role;
	const char *ip;
};

static struct rrec *
rset_add(struct rset *rs, char *name, const char *type, unsigned long ttl)
{
	struct rrec *r;

	if (rs->n == rs->alloc) {
		rs->alloc = rs->alloc ? rs->alloc * 2 : 16;
		rs->v = xrealloc(rs->v, rs->alloc * sizeof(*rs->v));
	}
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->type = type;
	r->ttl = ttl;
	return r;
}

static void
rrec_add_value(struct rrec *r, const char *v)
{
	if (r->nvals == r->avals) {
		r->avals = r->avals ? r->avals * 2 : 2;
		r->vals = xrealloc(r->vals, r->avals * sizeof(*r->vals));
	}
	r->vals[r->nvals++] = v;
}

static void
rset_dispose(struct rset *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].name);
		free(rs->v[i].vals);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int
rrec_cmp(const void *a, const void *b)
{
	const struct rrec *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->type, y->type);
}

static int
rrec_label_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct rrec *const *)a)->label,
	    (*(const struct rrec *const *)b)->label);
}

static int
rr_member_cmp(const void *a, const void *b)
{
	const struct rr_member *x = a, *y = b;

	if (x->zone != y->zone)
		return x->zone < y->zone ? -1 : 1;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

/* a, sep, b as a new string (owns); cheaper than a printf per record. */
static char *
join3(const char *a, char sep, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = xmalloc(na + nb + 2);

	memcpy(s, a, na);
	s[na] = sep;
	memcpy(s + na + 1, b, nb + 1);
	return s;
}

/* "@" is the apex; any other name is relative to the zone. */
static char *
record_fqdn(const char *name, const char *zone)
{
	if (strcmp(name, "@") == 0)
		return xstrdup(zone);
	return join3(name, '.', zone);
}

/*
 * Sort, then merge records that share (name, type), then sort each
 * record's values and drop repeats.
 */
static void
rset_normalise(struct rset *rs)
{
	size_t i, j, k, n = 0;

	if (rs->n > 1)
		xqsort(rs->v, rs->n, sizeof(*rs->v), rrec_cmp);
	for (i = 0; i < rs->n; i++) {
		struct rrec *r = &rs->v[i];

		if (n > 0 && rrec_cmp(&rs->v[n - 1], r) == 0) {
			struct rrec *keep = &rs->v[n - 1];

			for (j = 0; j < r->nvals; j++)
				rrec_add_value(keep, r->vals[j]);
			if (r->ttl < keep->ttl)
				keep->ttl = r->ttl;
			free(r->name);
			free(r->vals);
			continue;
		}
		rs->v[n++] = *r;
	}
	rs->n = n;
	for (i = 0; i < rs->n; i++) {
		struct rrec *r = &rs->v[i];

		if (r->nvals > 1)
			xqsort(r->vals, r->nvals, sizeof(*r->vals), str_cmp_ptr);
		for (j = k = 0; j < r->nvals; j++)
			if (k == 0 || strcmp(r->vals[k - 1], r->vals[j]) != 0)
				r->vals[k++] = r->vals[j];
		r->nvals = k;
	}
}

/* ---- labels ------------------------------------------------------------ */

static void
labelset_dispose(struct labelset *ls)
{
	size_t i;

	for (i = 0; i < ls->cap; i++)
		free(ls->slot[i]);
	free(ls->slot);
	memset(ls, 0, sizeof(*ls));
}

/* The slot holding s, or the empty slot where it would go. */
static size_t
labelset_find(const struct labelset *ls, const char *s, size_t len)
{
	size_t i = hash_fnv1a(s, len) & (ls->cap - 1);

	while (ls->slot[i] && strcmp(ls->slot[i], s) != 0)
		i = (i + 1) & (ls->cap - 1);
	return i;
}

static void
labelset_grow(struct labelset *ls)
{
	struct labelset bigger;
	size_t i;

	bigger.cap = ls->cap ? ls->cap * 2 : 256;
	bigger.n = ls->n;
	bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
	for (i = 0; i < ls->cap; i++)
		if (ls->slot[i])
			bigger.slot[labelset_find(&bigger, ls->slot[i],
			    strlen(ls->slot[i]))] = ls->slot[i];
	free(ls->slot);
	*ls = bigger;
}

/*
 * Claim the first of base, base_2, base_3, ... not yet handed out.
 * Returns the label, borrowed from the set.
 */
static const char *
labelset_claim(struct labelset *ls, struct buf *base)
{
	struct buf try = BUF_INIT;
	const char *cand = base->data;
	size_t len = base->len, i;
	unsigned long suffix = 1;
	char *label;

	if ((ls->n + 1) * 2 > ls->cap)
		labelset_grow(ls);
	for (;;) {
		i = labelset_find(ls, cand, len);
		if (!ls->slot[i])
			break;
		buf_reset(&try);
		buf_printf(&try, "%s_%lu", base->data, ++suffix);
		cand = try.data;
		len = try.len;
	}
	label = xstrndup(cand, len);
	ls->slot[i] = label;
	ls->n++;
	buf_dispose(&try);
	return label;
}

/*
 * A Terraform identifier from "<fqdn>_<TYPE>": '.' -> '_', '*' -> "star",
 * anything else outside [A-Za-z0-9_-] -> '_', and a '_' in front of a
 * leading digit or '-' (identifiers start with a letter or '_').
 */
static void
label_base(struct buf *b, const char *fqdn, const char *type)
{
	const char *parts[2];
	size_t p, i;

	buf_reset(b);
	if ((fqdn[0] >= '0' && fqdn[0] <= '9') || fqdn[0] == '-')
		buf_putc(b, '_');
	parts[0] = fqdn;
	parts[1] = type;
	for (p = 0; p < 2; p++) {
		if (p)
			buf_putc(b, '_');
		for (i = 0; parts[p][i]; i++) {
			char c = parts[p][i];

			if (c == '*')
				buf_puts(b, "star");
			else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '_' || c == '-')
				buf_putc(b, c);
			else
				buf_putc(b, '_');
		}
	}
}

/* ---- emission ---------------------------------------------------------- */

/*
 * A JSON string that Terraform will not read as a template.  Runs of
 * ordinary bytes are copied whole: a zone file can be megabytes.
 */
static void
tf_string(struct buf *b, const char *s)
{
	const char *run = s;
	char esc[8];

	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep;

		if ((c == '$' || c == '%') && s[1] == '{')
			rep = c == '$' ? "$$" : "%%";
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c == '\n')
			rep = "\\n";
		else if (c == '\t')
			rep = "\\t";
		else if (c == '\r')
			rep = "\\r";
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			rep = esc;
		} else
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_putc(b, '"');
}

static void
emit_zone(struct buf *b, const struct zone *z, struct rrec **order, size_t n)
{
	size_t i, j;

	buf_reset(b);
	if (n == 0) {
		buf_puts(b, "{}\n");
		return;
	}
	buf_puts(b, "{\n  \"resource\": {\n    \"aws_route53_record\": {\n");
	for (i = 0; i < n; i++) {
		const struct rrec *r = order[i];

		buf_puts(b, "      ");
		tf_string(b, r->label);
		buf_puts(b, ": {\n        \"name\": ");
		tf_string(b, r->name);
		buf_puts(b, ",\n        \"records\": [");
		for (j = 0; j < r->nvals; j++) {
			buf_puts(b, j ? ",\n          " : "\n          ");
			tf_string(b, r->vals[j]);
		}
		buf_puts(b, r->nvals ? "\n        ],\n" : "],\n");
		buf_printf(b, "        \"ttl\": %lu,\n        \"type\": ", r->ttl);
		tf_string(b, r->type);
		buf_puts(b, ",\n        \"zone_id\": ");
		tf_string(b, z->zone_id);
		buf_puts(b, i + 1 < n ? "\n      },\n" : "\n      }\n");
	}
	buf_puts(b, "    }\n  }\n}\n");
}

/* The record's values as a compact JSON array (owns); b is scratch. */
static char *
values_json(struct buf *b, const struct rrec *r)
{
	size_t i;

	buf_reset(b);
	buf_putc(b, '[');
	for (i = 0; i < r->nvals; i++) {
		if (i)
			buf_putc(b, ',');
		json_emit_string(b, r->vals[i], strlen(r->vals[i]));
	}
	buf_putc(b, ']');
	return xstrndup(b->data, b->len);
}

/* ---- the renderer ------------------------------------------------------ */

/*
 * Collect one zone's records: its hosts' A records (hosts[zstart[z] ..
 * zstart[z+1]) of by_zone), the role round-robins from members (sorted by
 * zone, starting at *mi), and the zone file's own records.
 */
static void
zone_collect(struct rset *rs, const struct model *m, size_t z,
    const size_t *by_zone, const size_t *zstart,
    const struct rr_member *members, size_t nmembers, size_t *mi)
{
	const struct zone *zo = &m->zones[z];
	size_t i, j, k, end;

	for (i = zstart[z]; i < zstart[z + 1]; i++) {
		const struct host *h = &m->hosts[by_zone[i]];

		rrec_add_value(rset_add(rs, xstrdup(h->fqdn), "A", zo->ttl), h->ip);
	}
	while (*mi < nmembers && members[*mi].zone == z) {
		const struct role *ro = &m->roles[members[*mi].role];

		for (end = *mi; end < nmembers && members[end].zone == z &&
		    members[end].role == members[*mi].role; end++)
			;
		for (j = 0; j < ro->dns.n; j++) {
			struct rrec *r = rset_add(rs, record_fqdn(ro->dns.v[j], zo->name),
			    "A", zo->ttl);

			for (k = *mi; k < end; k++)
				rrec_add_value(r, members[k].ip);
		}
		*mi = end;
	}
	for (i = 0; i < zo->nrecords; i++) {
		const struct record *rec = &zo->records[i];
		struct rrec *r = rset_add(rs, record_fqdn(rec->name, zo->name), rec->type,
		    rec->ttl ? rec->ttl : zo->ttl);

		for (j = 0; j < rec->values.n; j++)
			rrec_add_value(r, rec->values.v[j]);
	}
}

static int
render_route53(struct artifacts *out, const struct model *in)
{
	struct labelset labels = { NULL, 0, 0 };
	struct buf label = BUF_INIT, doc = BUF_INIT;
	struct rset rs = { NULL, 0, 0 };
	struct rr_member *members = NULL;
	struct rrec **order = NULL;
	size_t *zstart = NULL, *by_zone = NULL, *fill = NULL;
	size_t nmembers = 0, mi = 0, aorder = 0, nlabels, i, z;

	/* Hosts with an A record, bucketed by zone (a counting sort, so each
	 * bucket stays in fqdn order). */
	zstart = xcalloc(in->nzones + 1, sizeof(*zstart));
	fill = xcalloc(in->nzones, sizeof(*fill));
	for (i = 0; i < in->nhosts; i++) {
		const struct host *h = &in->hosts[i];

		if ((h->state == HOST_ACTIVE || h->state == HOST_DRAINED) && h->ip &&
		    h->zone_idx < in->nzones)
			zstart[h->zone_idx + 1]++;
		if (h->state == HOST_ACTIVE && h->ip && h->zone_idx < in->nzones &&
		    h->role && in->roles[h->role_idx].dns.n > 0)
			nmembers++;
	}
	for (z = 0; z < in->nzones; z++)
		zstart[z + 1] += zstart[z];
	by_zone = xmalloc((zstart[in->nzones] ? zstart[in->nzones] : 1) * sizeof(*by_zone));
	members = xmalloc((nmembers ? nmembers : 1) * sizeof(*members));
	nmembers = 0;
	for (i = 0; i < in->nhosts; i++) {
		const struct host *h = &in->hosts[i];

		if (!h->ip || h->zone_idx >= in->nzones)
			continue;
		if (h->state == HOST_ACTIVE || h->state == HOST_DRAINED)
			by_zone[zstart[h->zone_idx] + fill[h->zone_idx]++] = i;
		if (h->state == HOST_ACTIVE && h->role && in->roles[h->role_idx].dns.n > 0) {
			members[nmembers].zone = h->zone_idx;
			members[nmembers].role = h->role_idx;
			members[nmembers++].ip = h->ip;
		}
	}
	if (nmembers > 1)
		xqsort(members, nmembers, sizeof(*members), rr_member_cmp);
	/* Size the label set for every host record and zone record up front,
	 * so it rarely rehashes. */
	for (z = 0, nlabels = zstart[in->nzones]; z < in->nzones; z++)
		nlabels += in->zones[z].nrecords;
	labels.cap = 256;
	while (labels.cap < nlabels * 2 + 2 && labels.cap < ((size_t)1 << 40))
		labels.cap *= 2;
	labels.slot = xcalloc(labels.cap, sizeof(*labels.slot));

	/* Zones are sorted by name, so labels are claimed in a fixed order. */
	for (z = 0; z < in->nzones; z++) {
		const struct zone *zo = &in->zones[z];
		struct artifact *a;
		char *data;
		size_t len;

		zone_collect(&rs, in, z, by_zone, zstart, members, nmembers, &mi);
		rset_normalise(&rs);
		if (rs.n > aorder) {
			aorder = rs.n;
			order = xrealloc(order, aorder * sizeof(*order));
		}
		for (i = 0; i < rs.n; i++) {
			label_base(&label, rs.v[i].name, rs.v[i].type);
			rs.v[i].label = labelset_claim(&labels, &label);
			order[i] = &rs.v[i];
		}
		/* The file's keys are sorted: resources appear by label. */
		if (rs.n > 1)
			xqsort(order, rs.n, sizeof(*order), rrec_label_cmp);
		emit_zone(&doc, zo, order, rs.n);
		/* Hand the document over rather than copy it: a zone of 100k
		 * hosts is megabytes.  Trimmed to size, which realloc does in
		 * place. */
		len = doc.len;
		data = xrealloc(buf_steal(&doc), len + 1);
		a = artifacts_add(out, xasprintf("terraform/route53/%s.tf.json", zo->name),
		    data, len, KIND_DNS);
		for (i = 0; i < rs.n; i++)
			/* TTL is not part of before/after (the records are) but a
			 * TTL-only change is still a dns.modify. */
			artifact_add_object_extra(a, join3(rs.v[i].name, '/', rs.v[i].type),
			    values_json(&label, &rs.v[i]), xasprintf("ttl %lu", rs.v[i].ttl));
		rset_dispose(&rs);
	}

	free(order);
	free(members);
	free(by_zone);
	free(fill);
	free(zstart);
	buf_dispose(&doc);
	buf_dispose(&label);
	labelset_dispose(&labels);
	return OK;
}

const struct renderer renderer_route53 = {
	RENDERER_ABI,
	"route53",
	render_route53,
};
