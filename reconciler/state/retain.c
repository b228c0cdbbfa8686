/*
 * retain.c - retention of closed plans: state_retain().  See state.h.
 */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "state/stateint.h"

/* ---- retention ----------------------------------------------------------- */

/* retention.json: {"low": L, "kept": [ids]}: every plan id below L is
 * deleted, or kept (open, applying, to be announced, current, or closed
 * too recently) and listed in "kept" to be looked at again. */
struct retain_cursor {
	unsigned long low;
	unsigned long *kept;
	size_t nkept;
};

static void
cursor_load(struct retain_cursor *c, const struct state *s)
{
	char path[4096];
	json_t *doc = NULL, *v;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->low = 1;
	/* Missing or damaged: start again from 1, which only costs a scan. */
	if (state_path_fmt(path, sizeof(path), "%s/retention.json", s->dir) != OK ||
	    state_load_json(&doc, path, 1u << 20) != OK)
		return;
	if (json_integer_value(json_object_get(doc, "low")) > 1)
		c->low = (unsigned long)json_integer_value(json_object_get(doc, "low"));
	json_array_foreach(json_object_get(doc, "kept"), i, v)
		if (json_integer_value(v) > 0) {
			c->kept = xrealloc(c->kept, (c->nkept + 1) * sizeof(*c->kept));
			c->kept[c->nkept++] = (unsigned long)json_integer_value(v);
		}
	json_decref(doc);
}

static int
cursor_save(const struct state *s, const struct retain_cursor *c)
{
	char path[4096];
	json_t *kept = json_array(), *doc;
	char *text;
	size_t i;
	int rc;

	for (i = 0; i < c->nkept; i++)
		json_array_append_new(kept, json_integer((json_int_t)c->kept[i]));
	doc = json_pack("{s:I, s:o}", "low", (json_int_t)c->low, "kept", kept);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return err_set(ERR, "cannot encode the retention cursor");
	if ((rc = state_path_fmt(path, sizeof(path), "%s/retention.json", s->dir)) == OK)
		rc = fs_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

/* The "target" of a plan file, from its first 4 KiB (plan_to_json writes
 * it third), without parsing what may be megabytes of diff.  "" when it
 * is not there or the file is not a regular file. */
static void
plan_target(char out[41], const char *path)
{
	char head[4096], *t;
	struct stat st;
	ssize_t n;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (n = read(fd, head, sizeof(head) - 1)) <= 0) {
		close(fd);
		return;
	}
	close(fd);
	head[n] = '\0';
	if (!(t = strstr(head, "\"target\": \"")))
		return;
	t += strlen("\"target\": \"");
	if (strspn(t, "0123456789abcdef") == 40 && t[40] == '"') {
		memcpy(out, t, 40);
		out[40] = '\0';
	}
}

/* Does an indexed (open) plan share this thread key? */
static int
thread_in_use(const struct state *s, const char *key)
{
	const char *id;
	json_t *e;

	json_object_foreach(s->index, id, e) {
		const char *t = json_string_value(json_object_get(e, "target"));

		if (strcmp(id, key) == 0 || (t && strcmp(t, key) == 0))
			return 1;
	}
	return 0;
}

static void
drop_threads(const struct state *s, const char *key, size_t slots)
{
	char path[4096];
	size_t i;

	if (!key[0] || thread_in_use(s, key))
		return;
	for (i = 0; i < slots; i++)
		if (state_path_fmt(path, sizeof(path), "%s/threads/%s.%zu", s->dir, key, i) == OK)
			unlink(path);
}

enum { RETAIN_KEEP, RETAIN_YOUNG, RETAIN_GONE };

/* Delete plan `id` if retention says so. */
static int
retain_one(struct state *s, const struct state_retention *r, long long now, unsigned long id,
    unsigned long cur, struct state_retained *out, int *bucket_sweep)
{
	char key[24], path[4096], target[41];
	struct stat st;

	snprintf(key, sizeof(key), "%lu", id);
	if (json_object_get(s->index, key) || id == cur || id == state_staged_release(s))
		return RETAIN_KEEP;
	/* A rollout not over yet (its journal exists) keeps its plan. */
	if (state_path_fmt(path, sizeof(path), "%s/rollouts/%s.log", s->dir, key) != OK ||
	    lstat(path, &st) == 0)
		return RETAIN_KEEP;
	if (state_path_fmt(path, sizeof(path), "%s/plans/%s.json", s->dir, key) != OK)
		return RETAIN_KEEP;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? RETAIN_GONE : RETAIN_KEEP;
	if (!(id + r->plans <= s->last_id || (long long)st.st_mtime + (long long)r->days * 86400 <= now))
		return RETAIN_YOUNG;
	/* The plan's file goes last: a pass a crash cut short is done again. */
	plan_target(target, path);
	drop_threads(s, key, r->thread_slots);
	drop_threads(s, target, r->thread_slots);
	{
		char rel[4096];

		if (state_path_fmt(rel, sizeof(rel), "%s/releases/%s", s->dir, key) == OK &&
		    lstat(rel, &st) == 0) {
			fs_rm_rf(rel);
			out->releases++;
			*bucket_sweep = 1;
		}
	}
	{
		char ro[4096];

		if (state_path_fmt(ro, sizeof(ro), "%s/rollouts/%s.json", s->dir, key) == OK)
			if (unlink(ro) == 0)
				fs_mirror_del(ro);
	}
	if (unlink(path) != 0)
		return RETAIN_KEEP;
	fs_mirror_del(path);
	out->plans++;
	return RETAIN_GONE;
}

int
state_retain(struct state *s, const struct state_retention *r, long long now,
    struct state_retained *out)
{
	struct retain_cursor c;
	unsigned long cur = state_current_release(s), id, old_low;
	unsigned long *kept = NULL;
	size_t nkept = 0, i, scanned = 0, old_nkept;
	int sweep = 0, changed = 0, rc = OK;

	memset(out, 0, sizeof(*out));
	cursor_load(&c, s);
	old_low = c.low;
	old_nkept = c.nkept;
	/* Plans kept last time: still open, current or too young? */
	for (i = 0; i < c.nkept; i++) {
		int v = RETAIN_KEEP;

		if (scanned < r->scan_max && out->plans < r->delete_max) {
			scanned++;
			v = retain_one(s, r, now, c.kept[i], cur, out, &sweep);
		}
		if (v != RETAIN_GONE) {
			kept = xrealloc(kept, (nkept + 1) * sizeof(*kept));
			kept[nkept++] = c.kept[i];
		}
	}
	/* Then onwards from where the last pass stopped. */
	for (id = c.low; id <= s->last_id; id++) {
		int v;

		if (scanned >= r->scan_max || out->plans >= r->delete_max) {
			out->more = 1;
			break;
		}
		scanned++;
		v = retain_one(s, r, now, id, cur, out, &sweep);
		if (v == RETAIN_YOUNG)
			break;
		if (v == RETAIN_KEEP) {
			kept = xrealloc(kept, (nkept + 1) * sizeof(*kept));
			kept[nkept++] = id;
		}
	}
	if (sweep)
		state_gc_buckets(s);
	changed = id != old_low || nkept != old_nkept;
	for (i = 0; !changed && i < nkept; i++)
		changed = kept[i] != c.kept[i];
	free(c.kept);
	c.low = id;
	c.kept = kept;
	c.nkept = nkept;
	if (changed) {
		char path[4096];

		/* The deletions first, then the cursor that says they are done. */
		if (state_path_fmt(path, sizeof(path), "%s/plans", s->dir) == OK)
			(void)fs_fsync_dir(path);
		rc = cursor_save(s, &c);
	}
	free(c.kept);
	return rc;
}
