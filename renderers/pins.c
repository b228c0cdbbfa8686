/*
 * pins.c - Hiera version pins, one file per environment in use, at
 * hiera/pins/<env>.yaml (DESIGN.md, "What each renderer derives"):
 *
 *	---
 *	"profile::app::version": "1.4.2"
 *
 * An environment is in use when it is the effective environment of a host
 * that is not decommissioned, or when a service names it in its
 * `environments` overrides.  Each file maps every service's hiera_key to
 * the version for that environment (the override, else `version`), sorted
 * by key.  Keys and versions are always double-quoted: a version such as
 * 1.10 or 2.0 must reach Puppet as a string, never as a float.  A file
 * with no services is "--- {}", an empty hash, which Hiera accepts.
 *
 * Each key is also a semantic object: hiera_key -> the version as a JSON
 * string.
 */
#include <stdlib.h>
#include <string.h>

#include "renderers/renderer.h"

static int
service_key_cmp(const void *a, const void *b)
{
	const struct service *x = *(const struct service *const *)a;
	const struct service *y = *(const struct service *const *)b;
	int c = strcmp(x->hiera_key, y->hiera_key);

	return c ? c : strcmp(x->name, y->name);
}

/* The version of s for env: the override (envs are sorted), else version. */
static const char *
service_version(const struct service *s, const char *env)
{
	size_t lo = 0, hi = s->nenvs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(env, s->envs[mid].env);

		if (c == 0)
			return s->envs[mid].version;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return s->version;
}

/* Up to this many distinct environments are kept without repeats as the
 * hosts are read. */
#define PINS_FEW_ENVS 32

/*
 * The environments in use, sorted and without repeats, into *out (owns the
 * array; borrows the strings).  Collect then sort: O(n log n) whatever the
 * number of distinct environments.  Most hosts share one string (their
 * role's, or the "production" literal), so a pointer compare with the last
 * one kept skips most of them before the sort.
 */
static size_t
pins_envs(const char ***out, const struct model *m)
{
	const char **v;
	size_t n = 0, k, i, j, cap = m->nhosts + 1;

	for (i = 0; i < m->nservices; i++)
		cap += m->services[i].nenvs;
	v = xmalloc(cap * sizeof(*v));
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		const char *e;

		if (h->state == HOST_DECOMMISSIONED)
			continue;
		e = model_host_env(m, h);
		if (n == 0 || v[n - 1] != e) {
			/* A third of the hosts name their environment in their
			 * own string: while the values seen are few, keep each
			 * once (by content), so the sort below stays short. */
			for (k = 0; k < n && n <= PINS_FEW_ENVS; k++)
				if (v[k] == e || strcmp(v[k], e) == 0)
					break;
			if (k == n || n > PINS_FEW_ENVS)
				v[n++] = e;
		}
	}
	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nenvs; j++)
			v[n++] = m->services[i].envs[j].env;
	xqsort(v, n, sizeof(*v), str_cmp_ptr);
	for (i = k = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*out = v;
	return k;
}

static int
render_pins(struct artifacts *out, const struct model *in, const struct render_prev *prev)
{
	/* A handful of files, rendered in microseconds: always in full. */
	(void)prev;
	const struct service **svc;
	const char **envs = NULL;
	struct buf b = BUF_INIT;
	size_t nenvs, nsvc = 0, e, i;

	/* Services by hiera_key.  The loader refuses two services with one
	 * key; should that slip through, the first by name keeps it rather
	 * than writing a duplicate YAML key. */
	svc = xmalloc((in->nservices ? in->nservices : 1) * sizeof(*svc));
	for (i = 0; i < in->nservices; i++)
		svc[i] = &in->services[i];
	xqsort(svc, in->nservices, sizeof(*svc), service_key_cmp);
	for (i = 0; i < in->nservices; i++)
		if (nsvc == 0 || strcmp(svc[nsvc - 1]->hiera_key, svc[i]->hiera_key) != 0)
			svc[nsvc++] = svc[i];

	nenvs = pins_envs(&envs, in);
	for (e = 0; e < nenvs; e++) {
		struct artifact *a;

		buf_reset(&b);
		buf_puts(&b, nsvc ? "---\n" : "--- {}\n");
		for (i = 0; i < nsvc; i++) {
			const char *v = service_version(svc[i], envs[e]);

			yemit_quoted(&b, svc[i]->hiera_key, strlen(svc[i]->hiera_key));
			buf_puts(&b, ": ");
			yemit_quoted(&b, v, strlen(v));
			buf_putc(&b, '\n');
		}
		a = artifacts_add(out, xasprintf("hiera/pins/%s.yaml", envs[e]),
		    xstrndup(b.data, b.len), b.len, KIND_PIN);
		for (i = 0; i < nsvc; i++) {
			const char *v = service_version(svc[i], envs[e]);

			buf_reset(&b);
			json_emit_string(&b, v, strlen(v));
			artifact_add_object(a, xstrdup(svc[i]->hiera_key), xstrndup(b.data, b.len));
		}
	}

	buf_dispose(&b);
	free(envs);
	free(svc);
	return OK;
}

const struct renderer renderer_pins = {
	RENDERER_ABI,
	"pins",
	render_pins,
};
