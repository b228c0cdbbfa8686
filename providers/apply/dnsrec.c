/*
 * dnsrec.c - DNS records: canonical form, the release's reader, the
 * comparison and the changes.  See dnsrec.h.
 */
#include "providers/apply/dnsrec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the set ------------------------------------------------------------ */

int
dnsrecs_add(struct dnsrecs *s, ldns_rr *rr)
{
	ldns_buffer *wb;
	struct dnsrec *r;
	char *owner;

	if (s->n >= DNSREC_MAX) {
		ldns_rr_free(rr);
		return err_set(ERR_TOOBIG, "more than %d records", DNSREC_MAX);
	}
	ldns_rr2canonical(rr);
	owner = ldns_rdf2str(ldns_rr_owner(rr));
	wb = ldns_buffer_new(256);
	if (!owner || !wb || ldns_rr_rdata2buffer_wire(wb, rr) != LDNS_STATUS_OK) {
		free(owner);
		if (wb)
			ldns_buffer_free(wb);
		ldns_rr_free(rr);
		return err_set(ERR_INVALID, "a record that cannot be put in wire form");
	}
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
	}
	r = &s->v[s->n++];
	r->rr = rr;
	r->owner = owner;
	r->type = (uint16_t)ldns_rr_get_type(rr);
	r->ttl = ldns_rr_ttl(rr);
	r->rdlen = ldns_buffer_position(wb);
	r->rd = xmalloc(r->rdlen ? r->rdlen : 1);
	memcpy(r->rd, ldns_buffer_begin(wb), r->rdlen);
	ldns_buffer_free(wb);
	return OK;
}

static int
rdata_cmp(const struct dnsrec *a, const struct dnsrec *b)
{
	size_t n = a->rdlen < b->rdlen ? a->rdlen : b->rdlen;
	int c = n ? memcmp(a->rd, b->rd, n) : 0;

	if (c)
		return c;
	return a->rdlen < b->rdlen ? -1 : a->rdlen > b->rdlen;
}

/* (owner, type): the RRset a record belongs to. */
static int
set_cmp(const struct dnsrec *a, const struct dnsrec *b)
{
	int c = strcmp(a->owner, b->owner);

	if (c)
		return c;
	return a->type < b->type ? -1 : a->type > b->type;
}

static int
rec_cmp(const void *x, const void *y)
{
	const struct dnsrec *a = x, *b = y;
	int c = set_cmp(a, b);

	if (c)
		return c;
	if ((c = rdata_cmp(a, b)))
		return c;
	return a->ttl < b->ttl ? -1 : a->ttl > b->ttl;
}

static void
rec_dispose(struct dnsrec *r)
{
	ldns_rr_free(r->rr);
	free(r->owner);
	free(r->rd);
}

void
dnsrecs_sort(struct dnsrecs *s)
{
	size_t i, k = 0;

	xqsort(s->v, s->n, sizeof(*s->v), rec_cmp);
	for (i = 0; i < s->n; i++) {
		if (k > 0 && rec_cmp(&s->v[k - 1], &s->v[i]) == 0) {
			rec_dispose(&s->v[i]);
			continue;
		}
		s->v[k++] = s->v[i];
	}
	s->n = k;
}

void
dnsrecs_dispose(struct dnsrecs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		rec_dispose(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
dnsrec_managed(const ldns_rr *rr, const ldns_rdf *zone)
{
	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_SOA:
	case LDNS_RR_TYPE_RRSIG:
	case LDNS_RR_TYPE_NSEC:
	case LDNS_RR_TYPE_NSEC3:
	case LDNS_RR_TYPE_NSEC3PARAM:
	case LDNS_RR_TYPE_DNSKEY:
	case LDNS_RR_TYPE_CDS:
	case LDNS_RR_TYPE_CDNSKEY:
		return 0;
	case LDNS_RR_TYPE_NS:
		return ldns_dname_compare(ldns_rr_owner(rr), zone) != 0;
	default:
		/* 65534: BIND's record of its signing state. */
		return ldns_rr_get_type(rr) != 65534;
	}
}

/* ---- the release's records ---------------------------------------------- */

static const char *const tf_types[] = {
	"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT", NULL
};

/*
 * A name as the renderer writes it: lowercase labels of [a-z0-9_-], a
 * leading "*" label allowed, no final dot, at most 253 bytes.  Anything
 * else never came from firebreak and is not given to a DNS parser.
 */
static int
tf_name_ok(const char *s)
{
	size_t i, lab = 0, len = strlen(s);

	if (len == 0 || len > 253)
		return 0;
	if (s[0] == '*' && (s[1] == '.' || s[1] == '\0'))
		i = 1, lab = 1;
	else
		i = 0;
	for (; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > 63)
				return 0;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		lab++;
	}
	return 1;
}

/* Undo the renderer's Terraform escapes: "$${" is "${", "%%{" is "%{".
 * A bare "${" or "%{" is a template Terraform would evaluate, which
 * firebreak never writes: refused (*out NULL). */
static char *
tf_unescape(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < len; i++) {
		if ((s[i] == '$' || s[i] == '%') && i + 2 < len && s[i + 1] == s[i] &&
		    s[i + 2] == '{') {
			buf_putc(&b, s[i]);
			buf_putc(&b, '{');
			i += 2;
			continue;
		}
		if ((s[i] == '$' || s[i] == '%') && i + 1 < len && s[i + 1] == '{') {
			buf_dispose(&b);
			return NULL;
		}
		buf_putc(&b, s[i]);
	}
	if (!b.data)
		buf_puts(&b, "");
	return buf_steal(&b);
}

/*
 * A TXT record from the renderer's Route53 text (renderers/route53.c): a
 * '\\' escapes the byte after it, "" ends one character-string and begins
 * the next; a string is also ended at 255 bytes.  So rfc2136 sends the
 * strings Route53 would hold.
 */
static void
txt_push(ldns_rr *rr, uint8_t *chunk, size_t n)
{
	chunk[0] = (uint8_t)n;
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, chunk));
}

static ldns_rr *
txt_rr(ldns_rdf *owner, uint32_t ttl, const char *text, size_t len)
{
	ldns_rr *rr = ldns_rr_new();
	uint8_t chunk[256];
	size_t i, n = 0;

	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	for (i = 0; i < len; i++) {
		if (text[i] == '"' && i + 1 < len && text[i + 1] == '"') {
			txt_push(rr, chunk, n);
			n = 0;
			i++;
			continue;
		}
		if (text[i] == '\\' && i + 1 < len)
			i++;
		if (n == 255) {
			txt_push(rr, chunk, n);
			n = 0;
		}
		chunk[1 + n++] = (uint8_t)text[i];
	}
	txt_push(rr, chunk, n);
	return rr;
}

/* Any other type: ldns's parser over "<owner> <ttl> IN <type> <value>",
 * with the root as origin, so a name without its final dot is absolute
 * (as Route53 reads it). */
static int
value_rr(ldns_rr **out, const char *owner, uint32_t ttl, const char *type, const char *v)
{
	ldns_rdf *root, *rd = NULL, *own;
	ldns_rr_type t = ldns_get_rr_type_by_name(type);
	ldns_rdf_type rt;

	/* The one-field types straight to their rdata: a zone is mostly A
	 * records, and ldns's whole-line parser costs ten times as much. */
	rt = t == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : t == LDNS_RR_TYPE_AAAA ? LDNS_RDF_TYPE_AAAA :
	    LDNS_RDF_TYPE_NONE;
	if (rt != LDNS_RDF_TYPE_NONE) {
		char *fq = xasprintf("%s.", owner);

		own = ldns_dname_new_frm_str(fq);
		free(fq);
		if (!strchr(v, ' ') && !strchr(v, '\t'))
			rd = ldns_rdf_new_frm_str(rt, v);
		if (!own || !rd) {
			if (own)
				ldns_rdf_deep_free(own);
			if (rd)
				ldns_rdf_deep_free(rd);
			*out = NULL;
			return err_set(ERR_INVALID, "not a %s record value", type);
		}
		*out = ldns_rr_new();
		ldns_rr_set_owner(*out, own);
		ldns_rr_set_type(*out, t);
		ldns_rr_set_class(*out, LDNS_RR_CLASS_IN);
		ldns_rr_set_ttl(*out, ttl);
		ldns_rr_push_rdf(*out, rd);
		return OK;
	}
	root = ldns_dname_new_frm_str(".");
	char *line = xasprintf("%s. %u IN %s %s", owner, (unsigned)ttl, type, v);
	ldns_status st;

	*out = NULL;
	st = ldns_rr_new_frm_str(out, line, ttl, root, NULL);
	free(line);
	ldns_rdf_deep_free(root);
	if (st != LDNS_STATUS_OK) {
		*out = NULL;
		return err_set(ERR_INVALID, "%s", ldns_get_errorstr_by_id(st));
	}
	if (ldns_rr_get_type(*out) != ldns_get_rr_type_by_name(type)) {
		ldns_rr_free(*out);
		*out = NULL;
		return err_set(ERR_INVALID, "not a %s record", type);
	}
	return OK;
}

static int
value_ok(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > DNSREC_VALUE_MAX || strlen(v) != len)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

struct tfctx {
	const char *zone;
	ldns_rdf *zone_rdf;
	struct dnsrecs *out;
	size_t apex_ns;
};

/* One aws_route53_record resource. */
static int
tf_resource(struct tfctx *x, const char *label, json_t *res)
{
	static const char *const keys[] = { "name", "records", "ttl", "type", "zone_id", NULL };
	json_t *jname, *jtype, *jttl, *jrecs, *v;
	const char *name, *type, *k;
	ldns_rdf *owner = NULL;
	json_int_t ttl;
	size_t i, j;
	int apex, rc = OK;

	if (!json_is_object(res))
		return err_set(ERR_INVALID, "resource %.80s: not an object", label);
	json_object_foreach(res, k, v) {
		for (j = 0; keys[j] && strcmp(keys[j], k) != 0; j++)
			;
		if (!keys[j])
			return err_set(ERR_INVALID, "resource %.80s: unknown key \"%.40s\"", label, k);
	}
	jname = json_object_get(res, "name");
	jtype = json_object_get(res, "type");
	jttl = json_object_get(res, "ttl");
	jrecs = json_object_get(res, "records");
	if (!json_is_string(jname) || !json_is_string(jtype) || !json_is_integer(jttl) ||
	    !json_is_array(jrecs))
		return err_set(ERR_INVALID, "resource %.80s: needs name and type (strings), ttl "
		    "(a number) and records (a list)", label);
	name = json_string_value(jname);
	type = json_string_value(jtype);
	ttl = json_integer_value(jttl);
	if (strlen(name) != json_string_length(jname) || !tf_name_ok(name))
		return err_set(ERR_INVALID, "resource %.80s: bad name", label);
	if (!str_has_suffix(name, x->zone) || (strlen(name) > strlen(x->zone) &&
	    name[strlen(name) - strlen(x->zone) - 1] != '.'))
		return err_set(ERR_INVALID, "resource %.80s: %s is not in zone %s", label, name,
		    x->zone);
	for (j = 0; tf_types[j] && strcmp(tf_types[j], type) != 0; j++)
		;
	if (!tf_types[j])
		return err_set(ERR_INVALID, "resource %.80s: type \"%.20s\" is not one firebreak "
		    "renders", label, type);
	if (ttl < 0 || ttl > 0x7fffffff)
		return err_set(ERR_INVALID, "resource %.80s: ttl %lld out of range", label,
		    (long long)ttl);
	if (json_array_size(jrecs) == 0 || json_array_size(jrecs) > DNSREC_VALUES_MAX)
		return err_set(ERR_INVALID, "resource %.80s: from 1 to %d records", label,
		    DNSREC_VALUES_MAX);
	apex = strcmp(name, x->zone) == 0;
	if (apex && strcmp(type, "NS") == 0) {
		x->apex_ns += json_array_size(jrecs);
		return OK;
	}
	json_array_foreach(jrecs, i, v) {
		char *val;
		ldns_rr *rr;

		if (!json_is_string(v) || !value_ok(json_string_value(v), json_string_length(v)))
			return err_set(ERR_INVALID, "resource %.80s: records[%zu]: expected a "
			    "string of 1 to %d bytes without control characters", label, i,
			    DNSREC_VALUE_MAX);
		if (!(val = tf_unescape(json_string_value(v), json_string_length(v))))
			return err_set(ERR_INVALID, "resource %.80s: records[%zu] holds a Terraform "
			    "template (\"${\" or \"%%{\")", label, i);
		if (strcmp(type, "TXT") == 0) {
			char *fq = xasprintf("%s.", name);

			owner = ldns_dname_new_frm_str(fq);
			free(fq);
			rr = owner ? txt_rr(owner, (uint32_t)ttl, val, strlen(val)) : NULL;
			if (!rr)
				rc = err_set(ERR_INVALID, "bad name");
		} else {
			rc = value_rr(&rr, name, (uint32_t)ttl, type, val);
		}
		free(val);
		if (rc != OK)
			return err_set(rc, "resource %.80s: records[%zu]: %s", label, i, err_last());
		if ((rc = dnsrecs_add(x->out, rr)) != OK)
			return err_set(rc, "%s: %s", x->zone, err_last());
	}
	return OK;
}

int
dnsrec_from_tfjson(struct dnsrecs *out, size_t *apex_ns, const char *zone,
    const char *data, size_t len)
{
	struct tfctx x = { zone, NULL, out, 0 };
	json_t *root = NULL, *res, *recs, *v;
	json_error_t jerr;
	const char *k;
	size_t i;
	int rc = OK;

	memset(out, 0, sizeof(*out));
	*apex_ns = 0;
	if (len > DNSREC_JSON_MAX)
		return err_set(ERR_TOOBIG, "more than %u bytes", DNSREC_JSON_MAX);
	if (!(root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr))) {
		return err_set(ERR_INVALID, "line %d: %.200s", jerr.line, jerr.text);
	}
	if (!json_is_object(root)) {
		rc = err_set(ERR_INVALID, "not a JSON object");
		goto out;
	}
	json_object_foreach(root, k, v)
		if (strcmp(k, "resource") != 0) {
			rc = err_set(ERR_INVALID, "unknown top-level key \"%.40s\"", k);
			goto out;
		}
	if (!(res = json_object_get(root, "resource")))
		goto out;          /* "{}": a zone without records */
	if (!json_is_object(res)) {
		rc = err_set(ERR_INVALID, "\"resource\" is not an object");
		goto out;
	}
	json_object_foreach(res, k, v)
		if (strcmp(k, "aws_route53_record") != 0) {
			rc = err_set(ERR_INVALID, "unknown resource type \"%.40s\"", k);
			goto out;
		}
	if (!(recs = json_object_get(res, "aws_route53_record")) || !json_is_object(recs)) {
		rc = err_set(ERR_INVALID, "\"aws_route53_record\" is not an object");
		goto out;
	}
	json_object_foreach(recs, k, v)
		if ((rc = tf_resource(&x, k, v)) != OK)
			goto out;
	dnsrecs_sort(out);
	/* One (name, type) in two resources would be two Route53 record
	 * sets that cannot exist; the renderer merges them. */
	for (i = 1; i < out->n; i++)
		if (set_cmp(&out->v[i - 1], &out->v[i]) == 0 && out->v[i - 1].ttl != out->v[i].ttl) {
			struct buf t = BUF_INIT;

			dnsrec_show_type(&t, out->v[i].type);
			rc = err_set(ERR_INVALID, "%s %s appears with two TTLs (two resources for "
			    "one record set)", out->v[i].owner, t.data);
			buf_dispose(&t);
			goto out;
		}
	*apex_ns = x.apex_ns;
out:
	json_decref(root);
	if (rc != OK)
		dnsrecs_dispose(out);
	(void)x.zone_rdf;
	return rc;
}

/* ---- comparing -------------------------------------------------------------- */

/* The end of the RRset starting at i. */
static size_t
set_end(const struct dnsrecs *s, size_t i)
{
	size_t j = i + 1;

	while (j < s->n && set_cmp(&s->v[i], &s->v[j]) == 0)
		j++;
	return j;
}

static void
diff_push(struct dnsdiff *d, size_t h0, size_t h1, size_t w0, size_t w1)
{
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->v = xrealloc(d->v, d->alloc * sizeof(*d->v));
	}
	d->v[d->n].h0 = h0;
	d->v[d->n].h1 = h1;
	d->v[d->n].w0 = w0;
	d->v[d->n].w1 = w1;
	d->n++;
}

void
dnsrec_diff(struct dnsdiff *out, const struct dnsrecs *have, const struct dnsrecs *want)
{
	size_t i = 0, j = 0;

	memset(out, 0, sizeof(*out));
	while (i < have->n || j < want->n) {
		size_t ie = i < have->n ? set_end(have, i) : i;
		size_t je = j < want->n ? set_end(want, j) : j;
		int c = i == have->n ? 1 : j == want->n ? -1 : set_cmp(&have->v[i], &want->v[j]);
		size_t k;

		if (c < 0) {
			diff_push(out, i, ie, j, j);
			i = ie;
			continue;
		}
		if (c > 0) {
			diff_push(out, i, i, j, je);
			j = je;
			continue;
		}
		if (ie - i != je - j) {
			diff_push(out, i, ie, j, je);
		} else {
			for (k = 0; k < ie - i; k++)
				if (rec_cmp(&have->v[i + k], &want->v[j + k]) != 0)
					break;
			if (k < ie - i)
				diff_push(out, i, ie, j, je);
		}
		i = ie;
		j = je;
	}
}

/* The first record of a diff item's RRset: have's, else want's. */
static const struct dnsrec *
item_key(const struct dnsdiff_item *it, const struct dnsrecs *have, const struct dnsrecs *want)
{
	return it->h0 < it->h1 ? &have->v[it->h0] : &want->v[it->w0];
}

void
dnsrec_diff_neither(struct dnsdiff *out, const struct dnsrecs *have, const struct dnsrecs *a,
    const struct dnsrecs *b)
{
	struct dnsdiff da, db;
	size_t i = 0, j = 0;

	dnsrec_diff(&da, have, a);
	dnsrec_diff(&db, have, b);
	memset(out, 0, sizeof(*out));
	/* Both lists are in (owner, type) order: merge them. */
	while (i < da.n && j < db.n) {
		int c = set_cmp(item_key(&da.v[i], have, a), item_key(&db.v[j], have, b));

		if (c < 0) {
			i++;
		} else if (c > 0) {
			j++;
		} else {
			diff_push(out, da.v[i].h0, da.v[i].h1, da.v[i].w0, da.v[i].w1);
			i++;
			j++;
		}
	}
	dnsdiff_dispose(&da);
	dnsdiff_dispose(&db);
}

void
dnsdiff_dispose(struct dnsdiff *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void
dnsrec_show_type(struct buf *b, uint16_t type)
{
	char *t = ldns_rr_type2str((ldns_rr_type)type);

	buf_puts(b, t ? t : "?");
	free(t);
}

void
dnsrec_show_value(struct buf *b, const struct dnsrec *r)
{
	size_t i, start = b->len;

	for (i = 0; i < ldns_rr_rd_count(r->rr); i++) {
		char *s = ldns_rdf2str(ldns_rr_rdf(r->rr, i));

		if (i)
			buf_putc(b, ' ');
		buf_puts(b, s ? s : "?");
		free(s);
	}
	/* ldns escapes non-printable bytes as \DDD; be sure of it anyway. */
	for (i = start; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 || (unsigned char)b->data[i] >= 0x7f)
			b->data[i] = '?';
	if (b->len - start > DNSREC_SHOW_MAX) {
		b->len = start + DNSREC_SHOW_MAX - 3;
		b->data[b->len] = '\0';
		buf_puts(b, "...");
	}
}

static void
show_side(struct buf *b, const struct dnsrecs *s, size_t i0, size_t i1)
{
	size_t i;

	if (i0 == i1) {
		buf_puts(b, "(none)");
		return;
	}
	for (i = i0; i < i1; i++) {
		if (i > i0)
			buf_puts(b, ", ");
		dnsrec_show_value(b, &s->v[i]);
		if (i + 1 == i1 || s->v[i + 1].ttl != s->v[i].ttl)
			buf_printf(b, " (ttl %u)", (unsigned)s->v[i].ttl);
		if (i - i0 >= 20 && i + 1 < i1) {
			buf_printf(b, ", ... %zu records in all", i1 - i0);
			break;
		}
	}
}

void
dnsdiff_format(struct buf *b, const struct dnsdiff *d, const struct dnsrecs *have,
    const struct dnsrecs *want, const char *have_word, const char *want_word, size_t max)
{
	size_t k;

	for (k = 0; k < d->n && k < max; k++) {
		const struct dnsdiff_item *it = &d->v[k];
		const struct dnsrec *r = it->h0 < it->h1 ? &have->v[it->h0] : &want->v[it->w0];

		buf_printf(b, "  %s ", r->owner);
		dnsrec_show_type(b, r->type);
		buf_printf(b, ": %s ", have_word);
		show_side(b, have, it->h0, it->h1);
		buf_printf(b, "; %s ", want_word);
		show_side(b, want, it->w0, it->w1);
		buf_putc(b, '\n');
	}
	if (d->n > max)
		buf_printf(b, "  ... and %zu more\n", d->n - max);
}

/* ---- changes ------------------------------------------------------------- */

static void
op_push(struct dnsops *o, const struct dnsrec *rec, int del)
{
	if (o->n == o->alloc) {
		o->alloc = o->alloc ? o->alloc * 2 : 64;
		o->v = xrealloc(o->v, o->alloc * sizeof(*o->v));
	}
	o->v[o->n].rec = rec;
	o->v[o->n].del = del;
	o->n++;
	if (del)
		o->ndel++;
	else
		o->nadd++;
}

/* Does any record of the range have a TTL other than `ttl`? */
static int
ttl_other(const struct dnsrecs *s, size_t i0, size_t i1, uint32_t ttl)
{
	size_t i;

	for (i = i0; i < i1; i++)
		if (s->v[i].ttl != ttl)
			return 1;
	return 0;
}

/* Is a record with r's rdata in s[i0..i1) (sorted by rdata)? */
static int
has_rdata(const struct dnsrecs *s, size_t i0, size_t i1, const struct dnsrec *r)
{
	size_t i;

	for (i = i0; i < i1; i++)
		if (rdata_cmp(&s->v[i], r) == 0)
			return 1;
	return 0;
}

/* One RRset's deletes (del = 1) or adds (del = 0). */
static void
set_ops(struct dnsops *o, const struct dnsdiff_item *it, const struct dnsrecs *have,
    const struct dnsrecs *want, int del)
{
	size_t i;
	int whole;

	/* A TTL change replaces the whole RRset: BIND gives an RRset one
	 * TTL, so adding next to old records at another TTL is unclear. */
	whole = it->h0 == it->h1 || it->w0 == it->w1 ||
	    ttl_other(have, it->h0, it->h1, want->v[it->w0].ttl) ||
	    ttl_other(want, it->w0, it->w1, want->v[it->w0].ttl);
	if (del) {
		for (i = it->h0; i < it->h1; i++)
			if (whole || !has_rdata(want, it->w0, it->w1, &have->v[i]))
				op_push(o, &have->v[i], 1);
	} else {
		for (i = it->w0; i < it->w1; i++)
			if (whole || !has_rdata(have, it->h0, it->h1, &want->v[i]))
				op_push(o, &want->v[i], 0);
	}
}

static const char *
item_owner(const struct dnsdiff_item *it, const struct dnsrecs *have, const struct dnsrecs *want)
{
	return it->h0 < it->h1 ? have->v[it->h0].owner : want->v[it->w0].owner;
}

void
dnsrec_ops(struct dnsops *out, const struct dnsdiff *d, const struct dnsrecs *have,
    const struct dnsrecs *want)
{
	size_t k, g, e;

	memset(out, 0, sizeof(*out));
	for (g = 0; g < d->n; g = e) {
		/* The RRsets of one owner are next to each other. */
		for (e = g + 1; e < d->n && strcmp(item_owner(&d->v[g], have, want),
		    item_owner(&d->v[e], have, want)) == 0; e++)
			;
		for (k = g; k < e; k++)
			set_ops(out, &d->v[k], have, want, 1);
		for (k = g; k < e; k++)
			set_ops(out, &d->v[k], have, want, 0);
	}
}

void
dnsops_dispose(struct dnsops *o)
{
	free(o->v);
	memset(o, 0, sizeof(*o));
}
