/*
 * validate.c - diagnostics, strict name patterns and cross-file checks.
 * See validate.h.
 */
#include "model/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"


/* ---- cross-file checks ----------------------------------------------- */

/*
 * A string-keyed open-addressing table of indices, sized once: the checks
 * below look every host up once, so hashing beats sorting 100k names.
 */
struct strtab {
	size_t *slot;      /* index + 1; 0 is empty */
	size_t mask;
};

static void
strtab_init(struct strtab *t, size_t n)
{
	size_t cap = 64;

	while (cap < n * 2)
		cap *= 2;
	t->slot = xcalloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
}

/* The slot for key: holding an index whose key(idx) equals it, or empty. */
static size_t *
strtab_find(struct strtab *t, const char *key, const char *(*keyof)(const void *, size_t),
    const void *ctx)
{
	size_t i = hash_fnv1a(key, strlen(key)) & t->mask;

	while (t->slot[i] && strcmp(keyof(ctx, t->slot[i] - 1), key) != 0)
		i = (i + 1) & t->mask;
	return &t->slot[i];
}

static const char *
host_ip(const void *ctx, size_t i)
{
	return ((const struct model *)ctx)->hosts[i].ip;
}

static void
check_ips(struct diags *d, const struct model *m)
{
	struct strtab t;
	size_t i;

	strtab_init(&t, m->nhosts);
	/* Hosts are in fqdn order, so "also used by" names the first. */
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		size_t *slot;

		if (h->state != HOST_ACTIVE || !h->ip)
			continue;
		slot = strtab_find(&t, h->ip, host_ip, m);
		if (!*slot) {
			*slot = i + 1;
			continue;
		}
		{
			char *file = xasprintf("hosts/%s.yaml", h->fqdn);

			diags_add(d, file, h->ip_line, 0, "ip %s is also used by active host %s",
			    h->ip, m->hosts[*slot - 1].fqdn);
			free(file);
		}
	}
	free(t.slot);
}

/* One DNS name the route53 renderer will produce, and where it comes from. */
struct dns_name {
	const char *fqdn;     /* borrows (hosts) or owns (owned = 1) */
	const char *type;     /* borrows from the model */
	int owned;
	int src;              /* 0 host, 1 role, 2 zone */
	size_t idx;           /* into hosts, roles or zones */
	int line;
	size_t zone;          /* the zone whose file renders it */
	size_t next;          /* index + 1 of the next name with this fqdn; 0: none */
	int reported;
};

struct dns_names {
	struct dns_name *v;
	size_t n, alloc;
	const struct model *m;
};

static const char *
dns_key(const void *ctx, size_t i)
{
	return ((const struct dns_names *)ctx)->v[i].fqdn;
}

static char *
dns_file(const struct model *m, const struct dns_name *e)
{
	if (e->src == 0)
		return xasprintf("hosts/%s.yaml", m->hosts[e->idx].fqdn);
	if (e->src == 1)
		return xasprintf("roles/%s.yaml", m->roles[e->idx].name);
	return xasprintf("dns/%s.yaml", m->zones[e->idx].name);
}

static void
dns_push(struct dns_names *v, const char *fqdn, int owned, const char *type, int src,
    size_t idx, int line, size_t zone)
{
	struct dns_name *e;

	if (v->n == v->alloc) {
		v->alloc = v->alloc ? v->alloc * 2 : 64;
		v->v = xrealloc(v->v, v->alloc * sizeof(*v->v));
	}
	e = &v->v[v->n++];
	memset(e, 0, sizeof(*e));
	e->fqdn = fqdn;
	e->owned = owned;
	e->type = type;
	e->src = src;
	e->idx = idx;
	e->line = line;
	e->zone = zone;
}

/* A new name `e` meets an earlier one `x` with the same fqdn. */
static void
dns_conflict(struct diags *d, const struct model *m, struct dns_name *e, struct dns_name *x)
{
	struct dns_name *cname = strcmp(e->type, "CNAME") == 0 ? e :
	    strcmp(x->type, "CNAME") == 0 ? x : NULL;
	char *file, *other;

	if (cname) {
		struct dns_name *o = cname == e ? x : e;

		if (cname->reported)
			return;
		cname->reported = 1;
		file = dns_file(m, cname);
		other = dns_file(m, o);
		diags_add(d, file, cname->line, 0,
		    "CNAME %s beside another record of the same name (%s from %s)",
		    cname->fqdn, o->type, other);
	} else if (strcmp(e->type, x->type) == 0) {
		file = dns_file(m, e);
		other = dns_file(m, x);
		diags_add(d, file, e->line, 0, "duplicate DNS record %s %s (also from %s)",
		    e->fqdn, e->type, other);
	} else {
		return;
	}
	free(file);
	free(other);
}

/*
 * Collect every DNS name the route53 renderer will produce, exactly as it
 * will (active/drained host A records, role round-robin names over active
 * hosts, zone records), and report duplicates and CNAMEs beside others.
 */
static void
check_dns(struct diags *d, const struct model *m)
{
	struct dns_names v = { NULL, 0, 0, m };
	struct strtab t;
	unsigned char *has_active = NULL;
	size_t i, j, z;

	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		if ((h->state == HOST_ACTIVE || h->state == HOST_DRAINED) && h->ip &&
		    h->zone_idx != MODEL_NO_ZONE)
			dns_push(&v, h->fqdn, 0, "A", 0, i, h->ip_line, h->zone_idx);
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
					dns_push(&v, xasprintf("%s.%s", r->dns.v[j], m->zones[z].name),
					    1, "A", 1, i, r->dns.lines ? r->dns.lines[j] : 0, z);
	}
	for (z = 0; z < m->nzones; z++) {
		const struct zone *zn = &m->zones[z];

		for (j = 0; j < zn->nrecords; j++) {
			const struct record *rec = &zn->records[j];

			dns_push(&v, strcmp(rec->name, "@") == 0 ? xstrdup(zn->name) :
			    xasprintf("%s.%s", rec->name, zn->name), 1, rec->type, 2, z, rec->line, z);
		}
	}
	/*
	 * A name under a more specific zone belongs to that zone's file: two
	 * zones must never render one name (Route53 would hold two answers,
	 * and Terraform two resources of one label).
	 */
	for (i = 0; i < v.n; i++) {
		struct dns_name *e = &v.v[i];
		size_t owner = e->src == 0 ? e->zone : model_zone_of(m, e->fqdn);

		if (owner != e->zone) {
			char *file = dns_file(m, e);

			diags_add(d, file, e->line, 0, "%s belongs to zone %s, not %s: put it in "
			    "dns/%s.yaml", e->fqdn, m->zones[owner].name, m->zones[e->zone].name,
			    m->zones[owner].name);
			free(file);
			e->reported = 1;
		}
	}
	strtab_init(&t, v.n);
	for (i = 0; i < v.n; i++) {
		size_t *slot = strtab_find(&t, v.v[i].fqdn, dns_key, &v);
		size_t k;

		if (!*slot) {
			*slot = i + 1;
			continue;
		}
		/* Meet every earlier name of this fqdn, then join their chain. */
		for (k = *slot; k; k = v.v[k - 1].next) {
			dns_conflict(d, m, &v.v[i], &v.v[k - 1]);
			if (!v.v[k - 1].next) {
				v.v[k - 1].next = i + 1;
				break;
			}
		}
	}
	for (i = 0; i < v.n; i++)
		if (v.v[i].owned)
			free((char *)(uintptr_t)v.v[i].fqdn);
	free(v.v);
	free(t.slot);
	free(has_active);
}

void
validate_model(struct diags *d, const struct model *m)
{
	check_ips(d, m);
	check_dns(d, m);
}

/* ---- the same checks, against a valid base ---------------------------- */

/* Hosts that were not copied from the base; more than this and checking
 * each of them against the whole model costs more than the full checks. */
#define VALIDATE_FEW_CHANGED 16

/*
 * How many role round-robin names (of any role, whether or not it has an
 * active host in the zone) and zone records are spelled `fqdn`.  Counts
 * every name check_dns() could build with that spelling, so a zero (or a
 * one for a round-robin name itself) is a proof, never a guess.
 */
static size_t
dns_holders(const struct model *m, const char *fqdn)
{
	size_t n = 0, len = strlen(fqdn), i, j, z;

	for (z = 0; z < m->nzones; z++) {
		const struct zone *zn = &m->zones[z];
		size_t zl = strlen(zn->name), pl;

		if (len == zl && memcmp(fqdn, zn->name, zl) == 0) {
			for (j = 0; j < zn->nrecords; j++)
				n += strcmp(zn->records[j].name, "@") == 0;
			continue;
		}
		if (len <= zl + 1 || fqdn[len - zl - 1] != '.' ||
		    memcmp(fqdn + len - zl, zn->name, zl) != 0)
			continue;
		pl = len - zl - 1;
		for (i = 0; i < m->nroles; i++)
			for (j = 0; j < m->roles[i].dns.n; j++)
				n += strlen(m->roles[i].dns.v[j]) == pl &&
				    memcmp(m->roles[i].dns.v[j], fqdn, pl) == 0;
		for (j = 0; j < zn->nrecords; j++)
			n += strlen(zn->records[j].name) == pl &&
			    memcmp(zn->records[j].name, fqdn, pl) == 0;
	}
	return n;
}

/*
 * Can the checks be skipped?  Yes when `base` (a valid model) has the same
 * roles and zones, blob for blob, and every host of `m` but a few is one of
 * base's, unchanged: every pair of IPs and DNS names among the unchanged
 * ones was checked in the base, and removing hosts only removes names.  So
 * only the names and IPs of the changed hosts need checking, each against
 * the whole model; any one of them that might collide sends us to the full
 * checks, which then word the messages.
 */
static int
validate_unchanged(const struct model *m, const struct model *base)
{
	size_t changed[VALIDATE_FEW_CHANGED], nchanged = 0, i, j, k, z;

	if (!base || base->nroles != m->nroles || base->nzones != m->nzones)
		return 0;
	for (i = 0; i < m->nroles; i++)
		if (!m->roles[i].origin.reused || strcmp(m->roles[i].name, base->roles[i].name) != 0)
			return 0;
	for (i = 0; i < m->nzones; i++)
		if (!m->zones[i].origin.reused || strcmp(m->zones[i].name, base->zones[i].name) != 0)
			return 0;
	for (i = 0; i < m->nhosts; i++)
		if (!m->hosts[i].origin.reused) {
			if (nchanged == VALIDATE_FEW_CHANGED)
				return 0;
			changed[nchanged++] = i;
		}
	for (k = 0; k < nchanged; k++) {
		const struct host *h = &m->hosts[changed[k]];
		const struct role *r;

		/* check_ips(): the only active host with this ip. */
		if (h->state == HOST_ACTIVE && h->ip)
			for (i = 0; i < m->nhosts; i++)
				if (i != changed[k] && m->hosts[i].state == HOST_ACTIVE &&
				    m->hosts[i].ip && strcmp(m->hosts[i].ip, h->ip) == 0)
					return 0;
		if (!h->ip || h->zone_idx == MODEL_NO_ZONE)
			continue;
		/* Its A record: host names are unique, so only a round-robin
		 * name or a zone record could share it. */
		if ((h->state == HOST_ACTIVE || h->state == HOST_DRAINED) &&
		    dns_holders(m, h->fqdn) != 0)
			return 0;
		if (h->state != HOST_ACTIVE || !h->role)
			continue;
		/* Its role's round-robin names in its zone, which it may be the
		 * first to bring there: each must be spelled by nothing else
		 * and belong to this zone. */
		r = &m->roles[h->role_idx];
		z = h->zone_idx;
		for (j = 0; j < r->dns.n; j++) {
			char *name = xasprintf("%s.%s", r->dns.v[j], m->zones[z].name);
			int ok = dns_holders(m, name) == 1 && !model_host(m, name) &&
			    model_zone_of(m, name) == z;

			free(name);
			if (!ok)
				return 0;
		}
	}
	return 1;
}

void
validate_model_from(struct diags *d, const struct model *m, const struct model *base)
{
	if (!validate_unchanged(m, base))
		validate_model(d, m);
}
