/*
 * model.c - lookups and freeing for the validated inventory model.
 */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "model/policy.h"

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
host_share(struct host *dst, struct host *src)
{
	if (!src->refs) {
		src->refs = xmalloc(sizeof(*src->refs));
		*src->refs = 1;
	}
	(*src->refs)++;
	*dst = *src;
	dst->origin.reused = 1;
}

void
role_copy(struct role *dst, const struct role *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	strlist_copy(&dst->classes, &src->classes);
	dst->params = ynode_dup(src->params);
	strlist_copy(&dst->services, &src->services);
	strlist_copy(&dst->dns, &src->dns);
	dst->backends_of = dup_or_null(src->backends_of);
	dst->environment = dup_or_null(src->environment);
	dst->origin.reused = 1;
}

void
service_copy(struct service *dst, const struct service *src)
{
	size_t i;

	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->version = dup_or_null(src->version);
	dst->hiera_key = dup_or_null(src->hiera_key);
	dst->envs = xcalloc(src->nenvs ? src->nenvs : 1, sizeof(*dst->envs));
	for (i = 0; i < src->nenvs; i++) {
		dst->envs[i].env = xstrdup(src->envs[i].env);
		dst->envs[i].version = xstrdup(src->envs[i].version);
	}
	dst->origin.reused = 1;
}

void
zone_copy(struct zone *dst, const struct zone *src)
{
	size_t i;

	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->zone_id = dup_or_null(src->zone_id);
	dst->records = xcalloc(src->nrecords ? src->nrecords : 1, sizeof(*dst->records));
	for (i = 0; i < src->nrecords; i++) {
		dst->records[i] = src->records[i];
		dst->records[i].name = xstrdup(src->records[i].name);
		dst->records[i].type = xstrdup(src->records[i].type);
		strlist_copy(&dst->records[i].values, &src->records[i].values);
	}
	dst->origin.reused = 1;
}

void
model_free(struct model *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->nhosts; i++) {
		struct host *h = &m->hosts[i];

		if (h->refs && --*h->refs > 0)
			continue;
		free(h->refs);
		free(h->fqdn);
		free(h->role);
		free(h->environment);
		free(h->ip);
		strlist_dispose(&h->classes);
		ynode_free(h->params);
	}
	free(m->hosts);
	for (i = 0; i < m->nroles; i++) {
		struct role *r = &m->roles[i];

		free(r->name);
		strlist_dispose(&r->classes);
		ynode_free(r->params);
		strlist_dispose(&r->services);
		strlist_dispose(&r->dns);
		free(r->backends_of);
		free(r->environment);
	}
	free(m->roles);
	for (i = 0; i < m->nservices; i++) {
		struct service *s = &m->services[i];

		free(s->name);
		free(s->version);
		for (j = 0; j < s->nenvs; j++) {
			free(s->envs[j].env);
			free(s->envs[j].version);
		}
		free(s->envs);
		free(s->hiera_key);
	}
	free(m->services);
	for (i = 0; i < m->nzones; i++) {
		struct zone *z = &m->zones[i];

		free(z->name);
		free(z->zone_id);
		for (j = 0; j < z->nrecords; j++) {
			free(z->records[j].name);
			free(z->records[j].type);
			strlist_dispose(&z->records[j].values);
		}
		free(z->records);
	}
	free(m->zones);
	policy_free(m->policy);
	free(m->policy_src);
	ynode_free(m->policy_root);
	free(m);
}

/* Binary search over an array whose elements start with a `char *name`. */
static const void *
find_named(const void *base, size_t n, size_t size, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *key = *(const char *const *)((const char *)base + mid * size);
		int c = strcmp(name, key);

		if (c == 0)
			return (const char *)base + mid * size;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct host *
model_host(const struct model *m, const char *fqdn)
{
	return find_named(m->hosts, m->nhosts, sizeof(*m->hosts), fqdn);
}

size_t
model_host_index(const struct model *m, const char *fqdn, size_t hint)
{
	const struct host *h;

	if (hint < m->nhosts && strcmp(m->hosts[hint].fqdn, fqdn) == 0)
		return hint;
	h = model_host(m, fqdn);
	return h ? (size_t)(h - m->hosts) : (size_t)-1;
}

const struct role *
model_role(const struct model *m, const char *name)
{
	return find_named(m->roles, m->nroles, sizeof(*m->roles), name);
}

const struct service *
model_service(const struct model *m, const char *name)
{
	return find_named(m->services, m->nservices, sizeof(*m->services), name);
}

const struct zone *
model_zone(const struct model *m, const char *name)
{
	return find_named(m->zones, m->nzones, sizeof(*m->zones), name);
}

size_t
model_zone_of(const struct model *m, const char *fqdn)
{
	const char *p = fqdn;

	/* Suffixes from longest to shortest: the first zone found wins. */
	while (p) {
		const struct zone *z = model_zone(m, p);

		if (z)
			return (size_t)(z - m->zones);
		p = strchr(p, '.');
		if (p)
			p++;
	}
	return MODEL_NO_ZONE;
}

const char *
model_host_env(const struct model *m, const struct host *h)
{
	if (h->environment)
		return h->environment;
	if (h->state != HOST_SPARE && h->role && m->roles[h->role_idx].environment)
		return m->roles[h->role_idx].environment;
	return "production";
}
