/*
 * registry.c - the one table of renderers, and render_all().  Adding a
 * renderer is one file exporting a `struct renderer` and one line here;
 * these extern declarations are the only place the core names a backend.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "renderers/renderer.h"

#define RENDERER_MAX 16

extern const struct renderer renderer_puppet_enc;
extern const struct renderer renderer_route53;
extern const struct renderer renderer_pins;

const struct renderer *const renderer_registry[] = {
	&renderer_puppet_enc,
	&renderer_route53,
	&renderer_pins,
	NULL,
};

struct artifact *
render_reuse(struct artifacts *out, const struct render_prev *prev, const char *path,
    size_t *hint)
{
	struct artifact *old = NULL;
	size_t i;

	if (!prev || !prev->art)
		return NULL;
	if (hint && *hint < prev->art->n && strcmp(prev->art->v[*hint].path, path) == 0) {
		old = &prev->art->v[*hint];
	} else {
		const struct artifact *found = artifacts_find(prev->art, path);

		if (!found)
			return NULL;
		i = (size_t)(found - prev->art->v);
		old = &prev->art->v[i];
	}
	if (hint)
		*hint = (size_t)(old - prev->art->v) + 1;
	return artifact_share(out, old);
}

struct render_job {
	const struct model *in;
	const struct render_prev *prev;
	struct artifacts *sets;     /* one per renderer */
	int *rcs;
	char (*errs)[256];
	size_t n;                   /* renderers in the registry */
	atomic_size_t next;         /* the next renderer to take */
};

/* Take renderers off the list until none is left; each writes its own set. */
static void *
render_worker(void *arg)
{
	struct render_job *job = arg;
	size_t i;

	while ((i = atomic_fetch_add(&job->next, 1)) < job->n) {
		job->rcs[i] = renderer_registry[i]->render(&job->sets[i], job->in, job->prev);
		if (job->rcs[i] != OK)
			snprintf(job->errs[i], sizeof(job->errs[i]), "%s", err_last());
	}
	return NULL;
}

/* order[] = the indices of the n sets, non-empty ones by their first path
 * (an insertion sort: there are a handful). */
static void
order_by_first(const struct artifacts *sets, size_t *order, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		size_t k = i;

		for (j = i; j > 0; j--) {
			const struct artifacts *p = &sets[order[j - 1]], *q = &sets[k];

			if (!p->n || (q->n && strcmp(p->v[0].path, q->v[0].path) <= 0))
				break;
			order[j] = order[j - 1];
		}
		order[j] = k;
	}
}

/*
 * Renderers are pure functions of the model, so they run side by side: the
 * ENC of 100k hosts on one core while the zones and pins render on the
 * other.  Each fills its own set; the sets are joined in registry order and
 * sorted, so the result does not depend on which finished first.
 */
int
render_all(struct artifacts *out, const struct model *in, const struct render_prev *prev)
{
	struct artifacts sets[RENDERER_MAX + 1];
	size_t order[RENDERER_MAX + 1], total;
	int rcs[RENDERER_MAX];
	char errs[RENDERER_MAX][256];
	struct render_job job;
	pthread_t tid;
	size_t i, n;
	int threaded, rc = OK;

	for (n = 0; renderer_registry[n]; n++)
		ASSERT(n < RENDERER_MAX && renderer_registry[n]->abi == RENDERER_ABI &&
		    renderer_registry[n]->render);
	memset(sets, 0, sizeof(sets));
	job.in = in;
	job.prev = prev;
	job.sets = sets;
	job.rcs = rcs;
	job.errs = errs;
	job.n = n;
	atomic_init(&job.next, 0);
	threaded = util_threads() > 1 && n > 1 &&
	    pthread_create(&tid, NULL, render_worker, &job) == 0;
	render_worker(&job);
	if (threaded)
		pthread_join(tid, NULL);
	for (i = 0; i < n; i++)
		if (rc == OK && rcs[i] != OK)
			rc = err_set(rcs[i], "%s", errs[i]);
	/*
	 * Each renderer writes under its own directory, in order, so joining
	 * the sets (and what `out` held already) by their first path usually
	 * gives one sorted run, which artifacts_sort() then only checks.  The
	 * order of joining does not change the sorted result.
	 */
	sets[n] = *out;
	order_by_first(sets, order, n + 1);
	for (total = 0, i = 0; i <= n; i++)
		total += sets[i].n;
	out->v = xmalloc((total ? total : 1) * sizeof(*out->v));
	out->n = 0;
	out->alloc = total ? total : 1;
	for (i = 0; i <= n; i++) {
		struct artifacts *s = &sets[order[i]];

		if (s->n)
			memcpy(out->v + out->n, s->v, s->n * sizeof(*s->v));
		out->n += s->n;
		free(s->v);
	}
	if (rc != OK)
		return rc;
	return artifacts_sort(out);
}
