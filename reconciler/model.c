/*
 * model.c - lookups and freeing for the validated inventory model.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

void
strlist_push(struct strlist *l, const char *s, int line)
{
	/* Grow at powers of two: n is the count before the push. */
	if ((l->n & (l->n - 1)) == 0) {
		size_t cap = l->n ? l->n * 2 : 2;

		l->v = xrealloc(l->v, cap * sizeof(*l->v));
		l->lines = xrealloc(l->lines, cap * sizeof(*l->lines));
	}
	l->v[l->n] = xstrdup(s);
	l->lines[l->n] = line;
	l->n++;
}

void
strlist_dispose(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->lines);
	memset(l, 0, sizeof(*l));
}

void
model_free(struct model *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->nhosts; i++) {
		struct host *h = &m->hosts[i];

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

const char *
model_host_env(const struct model *m, const struct host *h)
{
	if (h->environment)
		return h->environment;
	if (h->state != HOST_SPARE && h->role && m->roles[h->role_idx].environment)
		return m->roles[h->role_idx].environment;
	return "production";
}
