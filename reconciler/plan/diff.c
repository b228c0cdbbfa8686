/*
 * diff.c - artifact set differences.  See diff.h.
 */
#include "plan/diff.h"

#include <stdlib.h>
#include <string.h>

#include "git/repo.h"

static const char *const status_names[] = { "added", "modified", "deleted" };

const char *
file_status_name(enum file_status s)
{
	ASSERT(s <= FILE_DELETED);
	return status_names[s];
}

struct builder {
	struct diff *d;
	size_t afiles, achanges;
};

static void
add_change(struct builder *b, enum change_kind kind, enum change_action action,
    const char *artifact, const char *object, const char *before, const char *after)
{
	struct change *c;

	if (b->d->nchanges == b->achanges) {
		b->achanges = b->achanges ? b->achanges * 2 : 16;
		b->d->changes = xrealloc(b->d->changes, b->achanges * sizeof(*c));
	}
	c = &b->d->changes[b->d->nchanges++];
	c->kind = kind;
	c->action = action;
	c->artifact = xstrdup(artifact);
	c->object = xstrdup(object);
	c->before = before ? xstrdup(before) : NULL;
	c->after = after ? xstrdup(after) : NULL;
	c->note = NULL;
	c->decision = DECISION_NOOP;
}

/* Merge the two artifacts' sorted object lists. */
static void
object_changes(struct builder *b, const struct artifact *old, const struct artifact *neu)
{
	size_t i = 0, j = 0, no = old ? old->nobjs : 0, nn = neu ? neu->nobjs : 0;
	const struct artifact *a = neu ? neu : old;

	while (i < no || j < nn) {
		int c = i == no ? 1 : j == nn ? -1 :
		    strcmp(old->objs[i].name, neu->objs[j].name);
		char *ov = c <= 0 ? artifact_object_json(old, i) : NULL;
		char *nv = c >= 0 ? artifact_object_json(neu, j) : NULL;

		if (c < 0) {
			add_change(b, a->kind, ACTION_DELETE, a->path, old->objs[i].name, ov, NULL);
			i++;
		} else if (c > 0) {
			add_change(b, a->kind, ACTION_ADD, a->path, neu->objs[j].name, NULL, nv);
			j++;
		} else {
			const char *ox = old->objs[i].extra, *nx = neu->objs[j].extra;
			int extra_differs = (ox || nx) && (!ox || !nx || strcmp(ox, nx) != 0);

			if (!ov || !nv || strcmp(ov, nv) != 0 || extra_differs)
				add_change(b, a->kind, ACTION_MODIFY, a->path, neu->objs[j].name,
				    ov, nv);
			if (extra_differs)
				b->d->changes[b->d->nchanges - 1].note = xasprintf("%s -> %s",
				    ox ? ox : "none", nx ? nx : "none");
			i++;
			j++;
		}
		free(ov);
		free(nv);
	}
}

static int
add_file(struct builder *b, const struct artifact *old, const struct artifact *neu)
{
	struct file_diff *f;
	struct buf text = BUF_INIT;
	const char *path = neu ? neu->path : old->path;
	int rc;

	rc = repo_diff_buffers(&text, path, old ? old->data : NULL, old ? old->len : 0,
	    neu ? neu->data : NULL, neu ? neu->len : 0);
	if (rc != OK) {
		buf_dispose(&text);
		return rc;
	}
	if (b->d->nfiles == b->afiles) {
		b->afiles = b->afiles ? b->afiles * 2 : 16;
		b->d->files = xrealloc(b->d->files, b->afiles * sizeof(*f));
	}
	f = &b->d->files[b->d->nfiles++];
	f->path = xstrdup(path);
	f->status = !old ? FILE_ADDED : !neu ? FILE_DELETED : FILE_MODIFIED;
	f->diff = buf_steal(&text);
	object_changes(b, old, neu);
	return OK;
}

static int
change_cmp(const void *x, const void *y)
{
	const struct change *a = x, *b = y;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((c = strcmp(a->artifact, b->artifact)))
		return c;
	return strcmp(a->object, b->object);
}

int
diff_build(struct diff **out, const struct artifacts *base, const struct artifacts *target)
{
	struct builder b;
	size_t i = 0, j = 0;
	int rc = OK;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.d = xcalloc(1, sizeof(*b.d));
	while (rc == OK && (i < base->n || j < target->n)) {
		const struct artifact *o = i < base->n ? &base->v[i] : NULL;
		const struct artifact *n = j < target->n ? &target->v[j] : NULL;
		int c = !o ? 1 : !n ? -1 : strcmp(o->path, n->path);

		if (c < 0) {
			rc = add_file(&b, o, NULL);
			i++;
		} else if (c > 0) {
			rc = add_file(&b, NULL, n);
			j++;
		} else {
			/* Shared storage (an artifact the target reused from the
			 * base) is equal without reading it. */
			if (o->data != n->data &&
			    (o->len != n->len || memcmp(o->data, n->data, o->len) != 0))
				rc = add_file(&b, o, n);
			i++;
			j++;
		}
	}
	if (rc != OK) {
		diff_free(b.d);
		return rc;
	}
	xqsort(b.d->changes, b.d->nchanges, sizeof(*b.d->changes), change_cmp);
	*out = b.d;
	return OK;
}

void
diff_free(struct diff *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->nfiles; i++) {
		free(d->files[i].path);
		free(d->files[i].diff);
	}
	free(d->files);
	for (i = 0; i < d->nchanges; i++) {
		free(d->changes[i].artifact);
		free(d->changes[i].object);
		free(d->changes[i].before);
		free(d->changes[i].after);
		free(d->changes[i].note);
	}
	free(d->changes);
	free(d);
}
