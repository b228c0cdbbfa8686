/*
 * radius.c - see radius.h.
 */
#include "plan/radius.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (environment, service) pairs whose pin changed, sorted. */
struct pinned {
	char *env;
	const char *svc;          /* borrowed from a model */
};

static int
pinned_cmp(const void *a, const void *b)
{
	const struct pinned *x = a, *y = b;
	int c = strcmp(x->env, y->env);

	return c ? c : strcmp(x->svc, y->svc);
}

/* "hiera/pins/<env>.yaml" -> env (owns), or NULL. */
static char *
pin_env(const char *artifact)
{
	static const char pre[] = "hiera/pins/";
	size_t pl = sizeof(pre) - 1, al = strlen(artifact);

	if (strncmp(artifact, pre, pl) != 0 || al <= pl + 5 ||
	    strcmp(artifact + al - 5, ".yaml") != 0)
		return NULL;
	return xstrndup(artifact + pl, al - pl - 5);
}

static void
add_services_of_key(struct pinned **v, size_t *n, size_t *cap, const struct model *m,
    const char *env, const char *key)
{
	size_t j;

	for (j = 0; m && j < m->nservices; j++)
		if (strcmp(m->services[j].hiera_key, key) == 0) {
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				*v = xrealloc(*v, *cap * sizeof(**v));
			}
			(*v)[*n].env = xstrdup(env);
			(*v)[(*n)++].svc = m->services[j].name;
		}
}

static int
receives(const struct role *r, const char *env, const struct pinned *v, size_t n)
{
	size_t k;

	for (k = 0; r && k < r->services.n; k++) {
		struct pinned key = { (char *)env, r->services.v[k] };

		if (xbsearch(&key, v, n, sizeof(*v), pinned_cmp))
			return 1;
	}
	return 0;
}

void
radius_hosts(struct strlist *out, const struct plan *p, const struct model *base,
    const struct model *target)
{
	unsigned char *hit;
	struct pinned *pins = NULL;
	size_t npins = 0, cap = 0, i;

	if (!p || !p->diff || !target || p->decision == DECISION_INVALID || !target->nhosts)
		return;
	hit = xcalloc(target->nhosts, 1);
	for (i = 0; i < p->diff->nchanges; i++) {
		const struct change *c = &p->diff->changes[i];

		if (c->kind == KIND_ENC && c->action != ACTION_DELETE) {
			size_t h = model_host_index(target, c->object, 0);

			if (h != (size_t)-1)
				hit[h] = 1;
		} else if (c->kind == KIND_PIN) {
			char *env = pin_env(c->artifact);

			if (!env)
				continue;
			add_services_of_key(&pins, &npins, &cap, target, env, c->object);
			add_services_of_key(&pins, &npins, &cap, base, env, c->object);
			free(env);
		}
	}
	xqsort(pins, npins, sizeof(*pins), pinned_cmp);
	for (i = 0; i < target->nhosts; i++) {
		const struct host *h = &target->hosts[i];
		const char *env;

		if (h->state == HOST_DECOMMISSIONED)
			continue;
		if (!hit[i] && npins) {
			env = model_host_env(target, h);
			if (h->role && receives(&target->roles[h->role_idx], env, pins, npins))
				hit[i] = 1;
			else if (base) {
				const struct host *bh = model_host(base, h->fqdn);

				if (bh && bh->role && bh->state != HOST_DECOMMISSIONED &&
				    receives(&base->roles[bh->role_idx], env, pins, npins))
					hit[i] = 1;
			}
		}
		if (hit[i])
			strlist_push(out, h->fqdn, 0);
	}
	for (i = 0; i < npins; i++)
		free(pins[i].env);
	free(pins);
	free(hit);
}

int
radius_size_parse(struct radius_size *out, const char *s, unsigned long min)
{
	size_t n = strlen(s);
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (n > 1 && s[n - 1] == '%') {
		char num[8];

		if (n - 1 >= sizeof(num))
			return err_set(ERR_INVALID, "'%.20s' is not a percentage from 1%% to 100%%", s);
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (parse_u64(&v, num, 1, 100) != OK)
			return err_set(ERR_INVALID, "'%.20s' is not a percentage from 1%% to 100%%", s);
		out->n = (unsigned long)v;
		out->pct = 1;
		return OK;
	}
	if (parse_u64(&v, s, min, 1000000) != OK)
		return err_set(ERR_INVALID, "'%.20s' is not a count of hosts (%lu to 1000000) or a "
		    "percentage such as \"10%%\"", s, min);
	out->n = (unsigned long)v;
	return OK;
}

size_t
radius_size_of(const struct radius_size *s, size_t total)
{
	size_t k;

	if (!total)
		return 0;
	if (s->pct) {
		k = (total * s->n + 99) / 100;
		if (k < 1)
			k = 1;
	} else {
		k = s->n;
	}
	return k > total ? total : k;
}

void
radius_size_format(char *out, size_t n, const struct radius_size *s)
{
	snprintf(out, n, "%lu%s", s->n, s->pct ? "%" : "");
}
