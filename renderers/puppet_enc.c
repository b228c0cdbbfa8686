/*
 * puppet_enc.c - one Puppet ENC document per host that is not
 * decommissioned, at enc/<fqdn>.yaml (DESIGN.md, "What each renderer
 * derives").
 *
 *	---
 *	classes:
 *	  - profile::base
 *	environment: production
 *	parameters:
 *	  nginx_workers: 8
 *	  role: web
 *
 * Everything that depends only on a role (its classes without repeats, its
 * params sorted by key, the `backends` list of the role it fronts) is
 * computed once per role before the host loop, so the per-host work is a
 * merge of two short sorted lists and the emission itself: rendering is
 * linear in the number of hosts, not in hosts times backends.
 *
 * Parameter values are emitted from the ynode tree with yemit_value(), which
 * sorts map keys and keeps each scalar's plain/quoted style, so Puppet reads
 * `8` as an integer and "8" as a string, as the inventory author wrote them.
 *
 * Each document also carries one semantic object, named by the fqdn, whose
 * value is the same document as compact JSON with sorted keys.
 */
#include <stdlib.h>
#include <string.h>

#include "renderers/renderer.h"

/* Lists at most this long are deduplicated by pairwise comparison. */
#define ENC_SMALL_LIST 16

/* Room for "enc/<fqdn>.yaml" when looking a reused document up (an fqdn
 * is at most 253 bytes). */
#define ENC_PATH_MAX 300

/* A (key, value) pair of a params map; both borrowed from a ynode tree. */
struct kv {
	struct ynode *k;
	struct ynode *v;
};

struct role_cache {
	const char **classes;     /* owns the array; borrows the strings */
	size_t nclasses;
	struct kv *params;        /* owns the array; sorted by key */
	size_t nparams;
	struct ynode *name;       /* owns: the role's name as a string scalar */
	struct ynode *backends;   /* borrows enc_ctx.backends[R]; NULL: no backends_of */
};

struct enc_ctx {
	const struct model *m;
	struct role_cache *roles;       /* owns; one per model role */
	struct ynode **backends;        /* owns; per role R: the seq of R's active
	                                 * fqdns, built only when some role fronts R */
	struct ynode *key_role;         /* owns: "role" */
	struct ynode *key_backends;     /* owns: "backends" */
	struct ynode *spare_name;       /* owns: "spare" */
	struct ynode *empty_seq;        /* owns: backends_of a role with no hosts */
	/* Scratch reused across hosts; grown to the largest need. */
	struct kv *kv_host, *kv_mid, *kv_out;
	size_t akv;
	struct ynode **keys, **items;
	const char **cls;
	size_t acls;
	struct buf yaml;
};

/* Byte order of two scalar keys, the order yemit_value() sorts by. */
static int
key_cmp(const struct ynode *x, const struct ynode *y)
{
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->str, y->str, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int
kv_cmp(const void *a, const void *b)
{
	return key_cmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

/* The pairs of a params map, sorted by key, into v (room for map->n). */
static size_t
kv_from_map(struct kv *v, const struct ynode *map)
{
	size_t i;

	if (!map || map->type != YNODE_MAP)
		return 0;
	for (i = 0; i < map->n; i++) {
		v[i].k = map->keys[i];
		v[i].v = map->items[i];
	}
	xqsort(v, map->n, sizeof(*v), kv_cmp);
	return map->n;
}

/*
 * Merge two key-sorted lists into out; on equal keys the pair from b wins
 * (host params over role params; `role` and `backends` over both).
 */
static size_t
kv_merge(struct kv *out, const struct kv *a, size_t na, const struct kv *b, size_t nb)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na && j < nb) {
		int c = key_cmp(a[i].k, b[j].k);

		if (c < 0)
			out[n++] = a[i++];
		else if (c > 0)
			out[n++] = b[j++];
		else {
			out[n++] = b[j++];
			i++;
		}
	}
	while (i < na)
		out[n++] = a[i++];
	while (j < nb)
		out[n++] = b[j++];
	return n;
}

struct cls_ix {
	const char *s;
	size_t i;
};

static int
cls_ix_cmp(const void *a, const void *b)
{
	const struct cls_ix *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Drop repeats from v in place, keeping each first occurrence and the
 * order; returns the new length.  Long lists go through a sort so a
 * hostile class list cannot make this quadratic.
 */
static size_t
classes_unique(const char **v, size_t n)
{
	struct cls_ix *ix;
	unsigned char *dup;
	size_t i, j, k = 0;

	if (n <= ENC_SMALL_LIST) {
		for (i = 0; i < n; i++) {
			for (j = 0; j < k; j++)
				if (strcmp(v[j], v[i]) == 0)
					break;
			if (j == k)
				v[k++] = v[i];
		}
		return k;
	}
	ix = xmalloc(n * sizeof(*ix));
	dup = xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		ix[i].s = v[i];
		ix[i].i = i;
	}
	xqsort(ix, n, sizeof(*ix), cls_ix_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(ix[i - 1].s, ix[i].s) == 0)
			dup[ix[i].i] = 1;
	for (i = 0; i < n; i++)
		if (!dup[i])
			v[k++] = v[i];
	free(dup);
	free(ix);
	return k;
}

static void
enc_ctx_dispose(struct enc_ctx *cx)
{
	size_t i;

	if (cx->roles) {
		for (i = 0; i < cx->m->nroles; i++) {
			free(cx->roles[i].classes);
			free(cx->roles[i].params);
			ynode_free(cx->roles[i].name);
		}
		free(cx->roles);
	}
	if (cx->backends) {
		for (i = 0; i < cx->m->nroles; i++)
			ynode_free(cx->backends[i]);
		free(cx->backends);
	}
	ynode_free(cx->key_role);
	ynode_free(cx->key_backends);
	ynode_free(cx->spare_name);
	ynode_free(cx->empty_seq);
	free(cx->kv_host);
	free(cx->kv_mid);
	free(cx->kv_out);
	free(cx->keys);
	free(cx->items);
	free(cx->cls);
	buf_dispose(&cx->yaml);
}

/* Scratch arrays grow to the largest host seen and are never NULL after
 * the first call (libc wants real pointers even for zero-length copies). */
static void
scratch_kv(struct enc_ctx *cx, size_t n)
{
	if (n <= cx->akv)
		return;
	cx->akv = n < 16 ? 16 : n;
	n = cx->akv;
	cx->kv_host = xrealloc(cx->kv_host, n * sizeof(*cx->kv_host));
	cx->kv_mid = xrealloc(cx->kv_mid, n * sizeof(*cx->kv_mid));
	cx->kv_out = xrealloc(cx->kv_out, n * sizeof(*cx->kv_out));
	cx->keys = xrealloc(cx->keys, n * sizeof(*cx->keys));
	cx->items = xrealloc(cx->items, n * sizeof(*cx->items));
}

static void
scratch_cls(struct enc_ctx *cx, size_t n)
{
	if (n <= cx->acls && cx->cls)
		return;
	cx->acls = n < 16 ? 16 : n;
	n = cx->acls;
	cx->cls = xrealloc(cx->cls, n * sizeof(*cx->cls));
}

/* A sequence node over the given string scalars (stolen). */
static struct ynode *
seq_new(struct ynode **items, size_t n)
{
	struct ynode *s = xcalloc(1, sizeof(*s));

	s->type = YNODE_SEQ;
	s->items = items;
	s->n = n;
	return s;
}

/*
 * The `backends` lists: for each role R that some role names in
 * backends_of, the fqdns of R's active hosts.  Hosts are sorted by fqdn, so
 * one pass in model order gives sorted lists.
 */
static void
enc_build_backends(struct enc_ctx *cx)
{
	const struct model *m = cx->m;
	size_t *count, i, r;

	count = xcalloc(m->nroles, sizeof(*count));
	/* Mark each R that is fronted; the passes below fill it in. */
	for (r = 0; r < m->nroles; r++) {
		size_t t = m->roles[r].backends_idx;

		if (m->roles[r].backends_of && t < m->nroles && !cx->backends[t])
			cx->backends[t] = seq_new(NULL, 0);
	}
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];

		if (h->state == HOST_ACTIVE && h->role && cx->backends[h->role_idx])
			count[h->role_idx]++;
	}
	for (r = 0; r < m->nroles; r++)
		if (cx->backends[r] && count[r])
			cx->backends[r]->items = xmalloc(count[r] * sizeof(struct ynode *));
	for (i = 0; i < m->nhosts; i++) {
		const struct host *h = &m->hosts[i];
		struct ynode *seq;

		if (h->state != HOST_ACTIVE || !h->role || !(seq = cx->backends[h->role_idx]))
			continue;
		seq->items[seq->n++] = ynode_new_scalar(h->fqdn, 1);
	}
	free(count);
	for (r = 0; r < m->nroles; r++) {
		size_t t = m->roles[r].backends_idx;

		if (m->roles[r].backends_of)
			cx->roles[r].backends = t < m->nroles ? cx->backends[t] : cx->empty_seq;
	}
}

static void
enc_build_roles(struct enc_ctx *cx)
{
	const struct model *m = cx->m;
	size_t r, i;

	cx->roles = xcalloc(m->nroles, sizeof(*cx->roles));
	cx->backends = xcalloc(m->nroles, sizeof(*cx->backends));
	for (r = 0; r < m->nroles; r++) {
		const struct role *ro = &m->roles[r];
		struct role_cache *rc = &cx->roles[r];
		size_t np = ro->params && ro->params->type == YNODE_MAP ? ro->params->n : 0;

		rc->classes = xmalloc((ro->classes.n ? ro->classes.n : 1) * sizeof(*rc->classes));
		for (i = 0; i < ro->classes.n; i++)
			rc->classes[i] = ro->classes.v[i];
		rc->nclasses = classes_unique(rc->classes, ro->classes.n);
		rc->params = xmalloc((np ? np : 1) * sizeof(*rc->params));
		rc->nparams = kv_from_map(rc->params, ro->params);
		rc->name = ynode_new_scalar(ro->name, 1);
	}
	enc_build_backends(cx);
}

/*
 * The classes, environment and parameters of one host, into cx->cls,
 * *env and *params (whose key/item arrays are cx scratch).
 */
static size_t
enc_host(struct enc_ctx *cx, const struct host *h, const char **env, struct ynode *params)
{
	const struct role_cache *rc = NULL;
	struct kv synth[2];
	size_t nhp, ncls = 0, nsynth = 0, nmid, nout, i;

	memset(params, 0, sizeof(*params));
	params->type = YNODE_MAP;
	if (h->state == HOST_SPARE) {
		/* The contingency pool: no role, whatever the file says;
		 * model_host_env() ignores a spare host's role too. */
		*env = model_host_env(cx->m, h);
		scratch_kv(cx, 1);
		cx->keys[0] = cx->key_role;
		cx->items[0] = cx->spare_name;
		params->keys = cx->keys;
		params->items = cx->items;
		params->n = 1;
		return 0;
	}
	if (h->role)
		rc = &cx->roles[h->role_idx];
	*env = model_host_env(cx->m, h);

	/* classes: the role's (already without repeats), then the host's */
	if (rc && h->classes.n == 0) {
		scratch_cls(cx, rc->nclasses);
		memcpy(cx->cls, rc->classes, rc->nclasses * sizeof(*cx->cls));
		ncls = rc->nclasses;
	} else {
		scratch_cls(cx, (rc ? rc->nclasses : 0) + h->classes.n);
		if (rc) {
			memcpy(cx->cls, rc->classes, rc->nclasses * sizeof(*cx->cls));
			ncls = rc->nclasses;
		}
		for (i = 0; i < h->classes.n; i++)
			cx->cls[ncls++] = h->classes.v[i];
		ncls = classes_unique(cx->cls, ncls);
	}

	/* parameters: role's, host's over them, then backends and role */
	nhp = h->params && h->params->type == YNODE_MAP ? h->params->n : 0;
	scratch_kv(cx, (rc ? rc->nparams : 0) + nhp + 2);
	nhp = kv_from_map(cx->kv_host, h->params);
	if (rc)
		nmid = kv_merge(cx->kv_mid, rc->params, rc->nparams, cx->kv_host, nhp);
	else
		nmid = kv_merge(cx->kv_mid, NULL, 0, cx->kv_host, nhp);
	/* "backends" sorts before "role" */
	if (rc && rc->backends) {
		synth[nsynth].k = cx->key_backends;
		synth[nsynth++].v = rc->backends;
	}
	if (rc) {
		synth[nsynth].k = cx->key_role;
		synth[nsynth++].v = rc->name;
	}
	nout = kv_merge(cx->kv_out, cx->kv_mid, nmid, synth, nsynth);
	for (i = 0; i < nout; i++) {
		cx->keys[i] = cx->kv_out[i].k;
		cx->items[i] = cx->kv_out[i].v;
	}
	params->keys = cx->keys;
	params->items = cx->items;
	params->n = nout;
	return ncls;
}

/*
 * The YAML document into cx->yaml.  The
 * buffers are unbounded (we produce the bytes), so appends cannot fail
 * short of size_t overflow, which the allocator would hit first.
 */
static void
enc_emit(struct enc_ctx *cx, size_t ncls, const char *env, const struct ynode *params)
{
	struct buf *y = &cx->yaml;
	size_t i;

	buf_reset(y);
	buf_puts(y, "---\nclasses:");
	if (ncls == 0)
		buf_puts(y, " []");
	buf_putc(y, '\n');
	for (i = 0; i < ncls; i++) {
		buf_puts(y, "  - ");
		yemit_string(y, cx->cls[i], strlen(cx->cls[i]));
		buf_putc(y, '\n');
	}
	buf_puts(y, "environment: ");
	yemit_string(y, env, strlen(env));
	buf_puts(y, "\nparameters:");
	yemit_value(y, params, 2);
}

/* "enc/<fqdn>.yaml" (owns); without printf, which costs at 100k hosts. */
static char *
enc_path(const char *fqdn)
{
	size_t n = strlen(fqdn);
	char *p = xmalloc(sizeof("enc/") - 1 + n + sizeof(".yaml"));

	memcpy(p, "enc/", 4);
	memcpy(p + 4, fqdn, n);
	memcpy(p + 4 + n, ".yaml", sizeof(".yaml"));
	return p;
}

/* Do two ynode sequences of scalars hold the same strings? */
static int
seq_same(const struct ynode *a, const struct ynode *b)
{
	size_t i;

	if (!a || !b || a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->items[i]->len != b->items[i]->len ||
		    memcmp(a->items[i]->str, b->items[i]->str, a->items[i]->len) != 0)
			return 0;
	return 1;
}

/*
 * Which roles' documents can be copied from prev: the role's file is the
 * same blob, and if it fronts a role, that role's active hosts are the same
 * list.  Returns an array of flags per role of `cx->m` (owns).
 */
static unsigned char *
enc_reusable_roles(struct enc_ctx *cx, const struct render_prev *prev)
{
	const struct model *m = cx->m, *pm = prev->model;
	unsigned char *ok = xcalloc(m->nroles ? m->nroles : 1, 1);
	struct enc_ctx pcx;
	size_t r;

	memset(&pcx, 0, sizeof(pcx));
	pcx.m = pm;
	pcx.empty_seq = seq_new(NULL, 0);
	pcx.roles = xcalloc(pm->nroles ? pm->nroles : 1, sizeof(*pcx.roles));
	pcx.backends = xcalloc(pm->nroles ? pm->nroles : 1, sizeof(*pcx.backends));
	enc_build_backends(&pcx);
	for (r = 0; r < m->nroles; r++) {
		const struct role *ro = &m->roles[r];
		const struct role *po;

		if (!ro->origin.reused)
			continue;
		if (!ro->backends_of) {
			ok[r] = 1;
			continue;
		}
		po = model_role(pm, ro->backends_of);
		ok[r] = po && ro->backends_idx < m->nroles &&
		    seq_same(cx->backends[ro->backends_idx], pcx.backends[po - pm->roles]);
	}
	for (r = 0; r < pm->nroles; r++)
		ynode_free(pcx.backends[r]);
	free(pcx.backends);
	free(pcx.roles);
	ynode_free(pcx.empty_seq);
	return ok;
}

static int
render_puppet_enc(struct artifacts *out, const struct model *in, const struct render_prev *prev)
{
	struct enc_ctx cx;
	struct ynode params;
	struct artifact *a;
	unsigned char *reuse = NULL;
	const char *env;
	size_t i, ncls, hint = 0;

	memset(&cx, 0, sizeof(cx));
	cx.m = in;
	cx.key_role = ynode_new_scalar("role", 1);
	cx.key_backends = ynode_new_scalar("backends", 1);
	cx.spare_name = ynode_new_scalar("spare", 1);
	cx.empty_seq = seq_new(NULL, 0);
	enc_build_roles(&cx);
	if (prev && prev->model && prev->art)
		reuse = enc_reusable_roles(&cx, prev);
	/* One document per host, nearly: grow the set once. */
	if (out->alloc < out->n + in->nhosts) {
		out->alloc = out->n + in->nhosts;
		out->v = xrealloc(out->v, out->alloc * sizeof(*out->v));
	}

	for (i = 0; i < in->nhosts; i++) {
		const struct host *h = &in->hosts[i];

		if (h->state == HOST_DECOMMISSIONED)
			continue;
		/* A spare host's document ignores its role. */
		if (reuse && h->origin.reused &&
		    (h->state == HOST_SPARE || !h->role || reuse[h->role_idx])) {
			char path[ENC_PATH_MAX];
			size_t n = strlen(h->fqdn);

			/* On the stack: this runs for each of 100k hosts. */
			if (n + sizeof("enc/.yaml") <= sizeof(path)) {
				memcpy(path, "enc/", 4);
				memcpy(path + 4, h->fqdn, n);
				memcpy(path + 4 + n, ".yaml", sizeof(".yaml"));
				if (render_reuse(out, prev, path, &hint))
					continue;
			}
		}
		ncls = enc_host(&cx, h, &env, &params);
		enc_emit(&cx, ncls, env, &params);
		/* Copied out at their exact size: 100k documents add up. */
		a = artifacts_add(out, enc_path(h->fqdn),
		    xstrndup(cx.yaml.data, cx.yaml.len), cx.yaml.len, KIND_ENC);
		/* The object's value is the document itself: the diff reads it
		 * back as JSON only for the few documents that change. */
		artifact_add_object(a, xstrdup(h->fqdn), NULL);
	}
	free(reuse);
	enc_ctx_dispose(&cx);
	return OK;
}

const struct renderer renderer_puppet_enc = {
	RENDERER_ABI,
	"puppet_enc",
	render_puppet_enc,
};
