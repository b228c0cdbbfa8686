/*
 * validate.c - diagnostics, strict name patterns and cross-file checks.
 * See validate.h.
 */
#include "validate.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void
diags_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	struct diag *g;
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->v = xrealloc(d->v, d->alloc * sizeof(*d->v));
	}
	g = &d->v[d->n++];
	g->file = xstrdup(file);
	g->line = line;
	g->col = col;
	g->message = xstrdup(msg);
}

static int
diag_cmp(const void *x, const void *y)
{
	const struct diag *a = x, *b = y;
	int c = strcmp(a->file, b->file);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return strcmp(a->message, b->message);
}

void
diags_sort(struct diags *d)
{
	if (d->n > 1)
		xqsort(d->v, d->n, sizeof(*d->v), diag_cmp);
}

void
diags_dispose(struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One DNS label: [a-z0-9]([a-z0-9-]*[a-z0-9])?, 1..63 bytes; `extra`
 * chars are also allowed anywhere (e.g. "_" in record names). */
static int
label_ok(const char *s, size_t n, const char *extra)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (is_lower(c) || is_digit(c) || (extra && c && strchr(extra, c)))
			continue;
		if (c == '-' && i > 0 && i + 1 < n)
			continue;
		return 0;
	}
	return 1;
}

static int
labels_ok(const char *s, int min_labels, const char *extra)
{
	size_t len = strlen(s);
	int labels = 0;
	const char *p = s;

	if (len == 0 || len > 253)
		return 0;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!label_ok(p, n, extra))
			return 0;
		labels++;
		if (!dot)
			break;
		p = dot + 1;
	}
	return labels >= min_labels;
}

int
valid_fqdn(const char *s)
{
	return labels_ok(s, 2, NULL);
}

int
valid_zone(const char *s)
{
	return labels_ok(s, 2, NULL);
}

static int
ident_ok(const char *s, const char *more, size_t max)
{
	size_t i;

	if (!is_lower(s[0]))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || strchr(more, s[i])))
			return 0;
	return i <= max;
}

int
valid_role(const char *s)
{
	return ident_ok(s, "_-", 63);
}

int
valid_service(const char *s)
{
	return ident_ok(s, "_-", 63);
}

int
valid_env(const char *s)
{
	return ident_ok(s, "_", 63);
}

int
valid_user(const char *s)
{
	return ident_ok(s, "_.-", 64);
}

int
valid_class(const char *s)
{
	const char *p = s;
	size_t len = strlen(s);

	if (len == 0 || len > 200)
		return 0;
	if (p[0] == ':' && p[1] == ':')
		p += 2;
	for (;;) {
		if (!is_lower(*p))
			return 0;
		while (is_lower(*p) || is_digit(*p) || *p == '_')
			p++;
		if (*p == '\0')
			return 1;
		if (p[0] != ':' || p[1] != ':')
			return 0;
		p += 2;
	}
}

int
valid_hiera_key(const char *s)
{
	const char *p = s;

	if (strlen(s) > 200)
		return 0;
	for (;;) {
		const char *q = p;

		while (is_lower(*p) || is_digit(*p) || *p == '_')
			p++;
		if (p == q)
			return 0;
		if (*p == '\0')
			return 1;
		if (p[0] != ':' || p[1] != ':')
			return 0;
		p += 2;
	}
}

int
valid_version(const char *s)
{
	size_t i;

	if (!(is_lower(s[0]) || is_digit(s[0]) || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') ||
		    strchr("._+~-", s[i])))
			return 0;
	return i <= 64;
}

int
valid_ipv4(const char *s)
{
	struct in_addr a;
	const char *p;

	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return 0;
	/* inet_pton takes "010.0.0.1" on some libcs; refuse leading zeros. */
	for (p = s; *p; p++)
		if (*p == '0' && (p == s || p[-1] == '.') && is_digit(p[1]))
			return 0;
	return 1;
}

int
valid_ipv6(const char *s)
{
	struct in6_addr a;

	return strlen(s) <= 45 && inet_pton(AF_INET6, s, &a) == 1;
}

int
valid_record_name(const char *s)
{
	if (strcmp(s, "@") == 0)
		return 1;
	if (s[0] == '*') {
		if (s[1] == '\0')
			return 1;
		if (s[1] != '.')
			return 0;
		s += 2;
	}
	return labels_ok(s, 1, "_");
}

static const char *const record_types[] = {
	"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT",
};

int
valid_record_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(record_types) / sizeof(record_types[0]); i++)
		if (strcmp(s, record_types[i]) == 0)
			return 1;
	return 0;
}

int
valid_zone_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i])))
			return 0;
	return i >= 1 && i <= 32;
}

int
valid_param_key(const char *s)
{
	size_t i;

	if (!(is_lower(s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_' ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return i <= 128;
}

/* Levenshtein distance, capped: the words here are short keys. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65], prev;

	if (la > 64 || lb > 64)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *
did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t i, bestd = 3;

	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);

		if (d < bestd) {
			bestd = d;
			best = candidates[i];
		}
	}
	return best;
}

/* ---- cross-file checks ----------------------------------------------- */

struct dns_name {
	char *fqdn;           /* owns */
	const char *type;     /* borrows from the model */
	char *file;           /* owns */
	int line;
};

static int
dns_name_cmp(const void *x, const void *y)
{
	const struct dns_name *a = x, *b = y;
	int c = strcmp(a->fqdn, b->fqdn);

	if (c)
		return c;
	c = strcmp(a->type, b->type);
	if (c)
		return c;
	c = strcmp(a->file, b->file);
	return c ? c : (a->line > b->line) - (a->line < b->line);
}

static void
dns_push(struct dns_name **v, size_t *n, size_t *alloc, char *fqdn, const char *type,
    char *file, int line)
{
	if (*n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 64;
		*v = xrealloc(*v, *alloc * sizeof(**v));
	}
	(*v)[*n].fqdn = fqdn;
	(*v)[*n].type = type;
	(*v)[*n].file = file;
	(*v)[*n].line = line;
	(*n)++;
}

struct ip_use {
	const char *ip;
	const struct host *h;
};

static int
ip_use_cmp(const void *x, const void *y)
{
	const struct ip_use *a = x, *b = y;
	int c = strcmp(a->ip, b->ip);

	return c ? c : strcmp(a->h->fqdn, b->h->fqdn);
}

static void
check_ips(struct diags *d, const struct model *m)
{
	struct ip_use *v = xmalloc((m->nhosts ? m->nhosts : 1) * sizeof(*v));
	size_t i, n = 0;

	for (i = 0; i < m->nhosts; i++)
		if (m->hosts[i].state == HOST_ACTIVE && m->hosts[i].ip) {
			v[n].ip = m->hosts[i].ip;
			v[n].h = &m->hosts[i];
			n++;
		}
	xqsort(v, n, sizeof(*v), ip_use_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1].ip, v[i].ip) == 0) {
			char *file = xasprintf("hosts/%s.yaml", v[i].h->fqdn);

			diags_add(d, file, v[i].h->ip_line, 0,
			    "ip %s is also used by active host %s", v[i].ip, v[i - 1].h->fqdn);
			free(file);
		}
	free(v);
}

/*
 * Collect every DNS name the route53 renderer will produce, exactly as it
 * will (active/drained host A records, role round-robin names over active
 * hosts, zone records), and report duplicates and CNAMEs beside others.
 */
static void
check_dns(struct diags *d, const struct model *m)
{
	struct dns_name *v = NULL;
	size_t n = 0, alloc = 0, i, j, z;
	unsigned char *has_active = NULL;

	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		if ((h->state == HOST_ACTIVE || h->state == HOST_DRAINED) && h->ip &&
		    h->zone_idx != MODEL_NO_ZONE)
			dns_push(&v, &n, &alloc, xstrdup(h->fqdn), "A",
			    xasprintf("hosts/%s.yaml", h->fqdn), h->ip_line);
	}
	/* has_active[role * nzones + zone]: does the role have an active host with an ip there? */
	if (m->nroles && m->nzones)
		has_active = xcalloc(m->nroles * m->nzones, 1);
	for (i = 0; i < m->nhosts && has_active; i++) {
		const struct host *h = &m->hosts[i];

		if (h->state == HOST_ACTIVE && h->role && h->ip && h->zone_idx != MODEL_NO_ZONE)
			has_active[h->role_idx * m->nzones + h->zone_idx] = 1;
	}
	for (i = 0; i < m->nroles && has_active; i++) {
		const struct role *r = &m->roles[i];

		for (j = 0; j < r->dns.n; j++)
			for (z = 0; z < m->nzones; z++)
				if (has_active[i * m->nzones + z])
					dns_push(&v, &n, &alloc,
					    xasprintf("%s.%s", r->dns.v[j], m->zones[z].name), "A",
					    xasprintf("roles/%s.yaml", r->name),
					    r->dns.lines ? r->dns.lines[j] : 0);
	}
	for (z = 0; z < m->nzones; z++) {
		const struct zone *zn = &m->zones[z];

		for (j = 0; j < zn->nrecords; j++) {
			const struct record *rec = &zn->records[j];
			char *fqdn = strcmp(rec->name, "@") == 0 ? xstrdup(zn->name) :
			    xasprintf("%s.%s", rec->name, zn->name);

			dns_push(&v, &n, &alloc, fqdn, rec->type,
			    xasprintf("dns/%s.yaml", zn->name), rec->line);
		}
	}
	xqsort(v, n, sizeof(*v), dns_name_cmp);
	for (i = 0; i < n; i = j) {
		size_t cname = (size_t)-1;

		for (j = i; j < n && strcmp(v[j].fqdn, v[i].fqdn) == 0; j++)
			if (strcmp(v[j].type, "CNAME") == 0 && cname == (size_t)-1)
				cname = j;
		if (cname != (size_t)-1 && j - i > 1) {
			size_t k = cname == i ? i + 1 : i;

			diags_add(d, v[cname].file, v[cname].line, 0,
			    "CNAME %s beside another record of the same name (%s from %s)",
			    v[cname].fqdn, v[k].type, v[k].file);
			continue;
		}
		for (size_t k = i + 1; k < j; k++)
			if (strcmp(v[k].type, v[k - 1].type) == 0)
				diags_add(d, v[k].file, v[k].line, 0,
				    "duplicate DNS record %s %s (also from %s)",
				    v[k].fqdn, v[k].type, v[k - 1].file);
	}
	for (i = 0; i < n; i++) {
		free(v[i].fqdn);
		free(v[i].file);
	}
	free(v);
	free(has_active);
}

void
validate_model(struct diags *d, const struct model *m)
{
	check_ips(d, m);
	check_dns(d, m);
}
