/*
 * artifact.c - the artifact set.  See artifact.h.
 */
#include "model/artifact.h"
#include "model/ydoc.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[KIND__COUNT] = { "enc", "dns", "pin", "policy" };

const char *
kind_name(enum change_kind k)
{
	ASSERT(k < KIND__COUNT);
	return kind_names[k];
}

int
kind_parse(enum change_kind *out, const char *s)
{
	int k;

	for (k = 0; k < KIND__COUNT; k++)
		if (strcmp(s, kind_names[k]) == 0) {
			*out = (enum change_kind)k;
			return OK;
		}
	return ERR_INVALID;
}

struct artifact *
artifacts_add(struct artifacts *set, char *path, char *data, size_t len,
    enum change_kind kind)
{
	struct artifact *a;

	if (set->n == set->alloc) {
		set->alloc = set->alloc ? set->alloc * 2 : 64;
		set->v = xrealloc(set->v, set->alloc * sizeof(*set->v));
	}
	a = &set->v[set->n++];
	memset(a, 0, sizeof(*a));
	a->path = path;
	a->data = data;
	a->len = len;
	a->kind = kind;
	return a;
}

struct artifact *
artifact_share(struct artifacts *set, struct artifact *src)
{
	struct artifact *a;

	if (!src->refs) {
		src->refs = xmalloc(sizeof(*src->refs));
		*src->refs = 1;
	}
	(*src->refs)++;
	if (set->n == set->alloc) {
		set->alloc = set->alloc ? set->alloc * 2 : 64;
		set->v = xrealloc(set->v, set->alloc * sizeof(*set->v));
	}
	a = &set->v[set->n++];
	*a = *src;
	return a;
}

void
artifact_add_object(struct artifact *a, char *name, char *value)
{
	artifact_add_object_extra(a, name, value, NULL);
}

void
artifact_add_object_extra(struct artifact *a, char *name, char *value, char *extra)
{
	if (a->nobjs == a->aobjs) {
		a->aobjs = a->aobjs ? a->aobjs * 2 : 4;
		a->objs = xrealloc(a->objs, a->aobjs * sizeof(*a->objs));
	}
	a->objs[a->nobjs].name = name;
	a->objs[a->nobjs].value = value;
	a->objs[a->nobjs].extra = extra;
	a->nobjs++;
}

char *
artifact_object_json(const struct artifact *a, size_t i)
{
	struct ynode *root = NULL;
	struct buf b = BUF_INIT;
	struct ydoc_limits lim = YDOC_DEFAULT_LIMITS;
	int line, col;

	if (a->objs[i].value)
		return xstrdup(a->objs[i].value);
	lim.max_bytes = a->len;
	if (ydoc_parse(&root, a->data, a->len, &lim, &line, &col) != OK)
		return NULL;
	yemit_json(&b, root);
	ynode_free(root);
	return buf_steal(&b);
}

static int
artifact_cmp(const void *x, const void *y)
{
	return strcmp(((const struct artifact *)x)->path, ((const struct artifact *)y)->path);
}

static int
object_cmp(const void *x, const void *y)
{
	return strcmp(((const struct artifact_object *)x)->name,
	    ((const struct artifact_object *)y)->name);
}

int
artifacts_sort(struct artifacts *set)
{
	size_t i, j;
	int sorted;

	/* Usually already in order (render_all() joins sorted sets): then one
	 * pass of comparisons proves both the order and that no path repeats. */
	for (i = 1; i < set->n; i++)
		if (strcmp(set->v[i - 1].path, set->v[i].path) >= 0)
			break;
	sorted = i >= set->n;
	if (!sorted)
		xqsort(set->v, set->n, sizeof(*set->v), artifact_cmp);
	for (i = 0; i < set->n; i++) {
		struct artifact *a = &set->v[i];

		if (!sorted && i > 0 && strcmp(set->v[i - 1].path, a->path) == 0)
			return err_set(ERR_CONFLICT, "two artifacts at %s", a->path);
		if (a->nobjs > 1)
			xqsort(a->objs, a->nobjs, sizeof(*a->objs), object_cmp);
		for (j = 1; j < a->nobjs; j++)
			if (strcmp(a->objs[j - 1].name, a->objs[j].name) == 0)
				return err_set(ERR_CONFLICT, "two objects %s in %s",
				    a->objs[j].name, a->path);
	}
	return OK;
}

const struct artifact *
artifacts_find(const struct artifacts *set, const char *path)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, set->v[mid].path);

		if (c == 0)
			return &set->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
artifacts_dispose(struct artifacts *set)
{
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		struct artifact *a = &set->v[i];

		if (a->refs && --*a->refs > 0)
			continue;
		free(a->refs);
		free(a->path);
		free(a->data);
		for (j = 0; j < a->nobjs; j++) {
			free(a->objs[j].name);
			free(a->objs[j].value);
			free(a->objs[j].extra);
		}
		free(a->objs);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}
