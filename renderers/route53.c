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
 * module directory.  The mapping is one-to-one, so they are: names are
 * lowercase (the validator sees to it), and the only uppercase letters in a
 * label are escapes ('_' -> "U", '*' -> "STAR") and the record type; '.'
 * becomes '_' and a leading digit or '-' gets a '_' in front.  A label is a
 * function of its record alone: it never changes because another record
 * appeared, so Terraform never sees a resource move.
 *
 * With a previous render whose zones are the same, a zone file is copied
 * from it when neither the zone's file, nor any host in the zone, nor any
 * role with dns names changed (render_prev).
 *
 * Every string is JSON-escaped and also has Terraform's template sequences
 * doubled ("${" -> "$${", "%{" -> "%%{"), so a TXT value is never
 * interpolated.  The semantic objects ("<fqdn>/<TYPE>" -> ["v1","v2"])
 * carry the raw values and no TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "renderers/renderer.h"

struct rrec {
	char *name;            /* owns: the fqdn, without a trailing dot */
	const char *type;      /* borrows from the model or a literal */
	unsigned long ttl;
	const char **vals;     /* owns the array; borrows the strings */
	size_t nvals, avals;
	char *label;           /* owns */
};

struct rset {
	struct rrec *v;
	size_t n, alloc;
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
		free(rs->v[i].label);
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

/*
 * A Terraform identifier from "<fqdn>_<TYPE>", one-to-one (see the top of
 * the file): '.' -> '_', '_' -> 'U', '*' -> "STAR", and a '_' in front of
 * a leading digit or '-' (identifiers start with a letter or '_').
 */
static void
label_base(struct buf *b, const char *fqdn, const char *type)
{
	size_t i;

	buf_reset(b);
	if ((fqdn[0] >= '0' && fqdn[0] <= '9') || fqdn[0] == '-')
		buf_putc(b, '_');
	for (i = 0; fqdn[i]; i++) {
		char c = fqdn[i];

		if (c == '.')
			buf_putc(b, '_');
		else if (c == '_')
			buf_putc(b, 'U');
		else if (c == '*')
			buf_puts(b, "STAR");
		else
			buf_putc(b, c);     /* [a-z0-9-]: the validator allows no more */
	}
	buf_putc(b, '_');
	buf_puts(b, type);
}

/* ---- emission ---------------------------------------------------------- */

/*
 * A JSON string that Terraform will not read as a template.
 */
static void
tf_string(struct buf *b, const char *s)
{
	json_emit_tf_string(b, s, strlen(s));
}

/*
 * A TXT value as Route53 takes it through Terraform's aws provider, which
 * only puts quotes around it: a '"' or '\\' in the text is escaped, and
 * text longer than 255 bytes is split into strings of at most 255 bytes
 * (whole UTF-8 characters) joined by "" -- the provider's documented way to
 * write a DKIM key.  DESIGN.md: "providers quote or split it into 255-byte
 * strings as their target needs".
 */
static void
tf_txt(struct buf *b, const char *s)
{
	struct buf t = BUF_INIT;
	size_t i = 0, piece = 0, len = strlen(s);

	while (i < len) {
		size_t k = 1;

		while (i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
			k++;
		if (piece + k > 255) {
			buf_puts(&t, "\"\"");
			piece = 0;
		}
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(&t, '\\');
		buf_append(&t, s + i, k);
		piece += k;
		i += k;
	}
	json_emit_tf_string(b, t.data ? t.data : "", t.len);
	buf_dispose(&t);
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
			if (strcmp(r->type, "TXT") == 0)
				tf_txt(b, r->vals[j]);
			else
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
str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Does a host changed in place (same fqdn, so the same zone) render the
 * same records?  A zone file reads only a host's state, ip and role (for
 * the role's round-robin names, which reusable_zones() checks did not
 * change); a commit that edits only params, classes or environment leaves
 * its zone as it was.
 */
static int
host_dns_same(const struct host *a, const struct host *b)
{
	return a->state == b->state && str_same(a->ip, b->ip) && str_same(a->role, b->role);
}

/*
 * Which zones' files can be copied from prev (owns; a flag per zone of
 * `in`), or NULL when none can: the zones must be the same set, since the
 * zone a host falls in depends on all of them.
 */
static unsigned char *
reusable_zones(const struct model *in, const struct render_prev *prev)
{
	const struct model *pm;
	unsigned char *ok;
	size_t i, j;

	if (!prev || !prev->model || !prev->art || prev->model->nzones != in->nzones)
		return NULL;
	pm = prev->model;
	for (i = 0; i < in->nzones; i++)
		if (strcmp(in->zones[i].name, pm->zones[i].name) != 0)
			return NULL;
	/* A changed role with dns names can touch every zone, and so can one
	 * that had dns names and lost them or is gone. */
	for (i = 0; i < in->nroles; i++)
		if (!in->roles[i].origin.reused && in->roles[i].dns.n)
			return NULL;
	for (i = 0; i < pm->nroles; i++) {
		const struct role *r;

		if (pm->roles[i].dns.n &&
		    (!(r = model_role(in, pm->roles[i].name)) || !r->origin.reused))
			return NULL;
	}
	ok = xmalloc(in->nzones ? in->nzones : 1);
	for (i = 0; i < in->nzones; i++)
		ok[i] = in->zones[i].origin.reused;
	/* Hosts changed, added or removed dirty their zone (the same index in
	 * both models: the zone sets are equal).  Both lists are sorted. */
	for (i = j = 0; i < in->nhosts || j < pm->nhosts;) {
		/* A host copied from the base shares its fqdn string. */
		int c = i == in->nhosts ? 1 : j == pm->nhosts ? -1 :
		    in->hosts[i].fqdn == pm->hosts[j].fqdn ? 0 :
		    strcmp(in->hosts[i].fqdn, pm->hosts[j].fqdn);

		if (c <= 0 && !in->hosts[i].origin.reused && in->hosts[i].zone_idx < in->nzones &&
		    (c < 0 || !host_dns_same(&in->hosts[i], &pm->hosts[j])))
			ok[in->hosts[i].zone_idx] = 0;
		if (c > 0 && pm->hosts[j].zone_idx < in->nzones)
			ok[pm->hosts[j].zone_idx] = 0;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	return ok;
}

static int
render_route53(struct artifacts *out, const struct model *in, const struct render_prev *prev)
{
	struct buf label = BUF_INIT, doc = BUF_INIT;
	struct rset rs = { NULL, 0, 0 };
	struct rr_member *members = NULL;
	struct rrec **order = NULL;
	size_t *zstart = NULL, *by_zone = NULL, *fill = NULL;
	size_t nmembers = 0, mi = 0, aorder = 0, i, z;
	unsigned char *reuse = reusable_zones(in, prev);

	/* The usual one-host commit leaves every zone as it was: share them
	 * all without bucketing 100k hosts first. */
	for (z = 0; reuse && z < in->nzones && reuse[z]; z++) {
		char *path = xasprintf("terraform/route53/%s.tf.json", in->zones[z].name);

		if (!artifacts_find(prev->art, path))
			reuse[z] = 0;
		free(path);
	}
	if (reuse && z == in->nzones) {
		for (z = 0; z < in->nzones; z++) {
			char *path = xasprintf("terraform/route53/%s.tf.json", in->zones[z].name);

			render_reuse(out, prev, path, NULL);
			free(path);
		}
		free(reuse);
		return OK;
	}
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
	for (z = 0; z < in->nzones; z++) {
		const struct zone *zo = &in->zones[z];
		struct artifact *a;
		char *data, *path;
		size_t len;

		path = xasprintf("terraform/route53/%s.tf.json", zo->name);
		if (reuse && reuse[z] && render_reuse(out, prev, path, NULL)) {
			/* Skip this zone's round-robin members too. */
			while (mi < nmembers && members[mi].zone == z)
				mi++;
			free(path);
			continue;
		}
		zone_collect(&rs, in, z, by_zone, zstart, members, nmembers, &mi);
		rset_normalise(&rs);
		if (rs.n > aorder) {
			aorder = rs.n;
			order = xrealloc(order, aorder * sizeof(*order));
		}
		for (i = 0; i < rs.n; i++) {
			label_base(&label, rs.v[i].name, rs.v[i].type);
			rs.v[i].label = xstrndup(label.data, label.len);
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
		a = artifacts_add(out, path, data, len, KIND_DNS);
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
	free(reuse);
	return OK;
}

const struct renderer renderer_route53 = {
	RENDERER_ABI,
	"route53",
	render_route53,
};
