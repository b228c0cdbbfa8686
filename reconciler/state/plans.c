/*
 * plans.c - plan records: ids from a durable counter, the index of open
 * plans, and the records themselves.  See state.h; shares struct state
 * with state.c and retain.c through stateint.h.
 */
#include "state/state.h"

#include <dirent.h>
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
#include "state/trust.h"

/* ---- plan ids ------------------------------------------------------------ */

/* "<digits>.json" -> the plan id; 0 when the name is not of that form. */
static unsigned long
plan_file_id(const char *name)
{
	char num[32];
	size_t n = strlen(name);
	uint64_t v;

	if (n <= 5 || n - 5 >= sizeof(num) || !str_has_suffix(name, ".json") || name[0] == '0')
		return 0;
	memcpy(num, name, n - 5);
	num[n - 5] = '\0';
	return parse_u64(&v, num, 1, PLAN_ID_MAX) == OK ? (unsigned long)v : 0;
}

/* The highest id of a plan file in <dir>/plans (0: none).  A plans/ that
 * exists but cannot be read is an error, never "no plans". */
static int
scan_plan_ids(unsigned long *max, const char *dir)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int rc;

	*max = 0;
	if ((rc = state_path_fmt(path, sizeof(path), "%s/plans", dir)) != OK)
		return rc;
	if (!(d = opendir(path)))
		return errno == ENOENT ? OK : err_set(ERR, "%s: %s", path, strerror(errno));
	while ((e = readdir(d))) {
		unsigned long v = plan_file_id(e->d_name);

		if (v > *max)
			*max = v;
	}
	closedir(d);
	return OK;
}

/* The highest release id in releases/ or behind `current` (0: none). */
static unsigned long
max_release_id(const struct state *s)
{
	char path[4096];
	unsigned long max = state_current_release(s);
	DIR *d;
	struct dirent *e;

	if (state_path_fmt(path, sizeof(path), "%s/releases", s->dir) != OK || !(d = opendir(path)))
		return max;
	while ((e = readdir(d))) {
		uint64_t v;

		if (e->d_name[0] != '0' && parse_u64(&v, e->d_name, 1, PLAN_ID_MAX) == OK && v > max)
			max = (unsigned long)v;
	}
	closedir(d);
	return max;
}

static int
seq_write(struct state *s, unsigned long v)
{
	char path[4096], line[32];
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/plan-seq", s->dir)) != OK ||
	    (rc = state_path_fmt(line, sizeof(line), "%lu\n", v)) != OK)
		return rc;
	return fs_write_atomic(path, line, strlen(line));
}

/* Parse plan-seq's text into *v; ERR_INVALID naming the file. */
static int
seq_parse(unsigned long *v, struct buf *b, const char *path)
{
	uint64_t n;

	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	if (parse_u64(&n, b->data ? b->data : "", 0, PLAN_ID_MAX) != OK)
		return err_set(ERR_INVALID, "%s: not a plan counter ('%.20s'); remove it, and the "
		    "next start recovers it from the stored plans", path, b->data ? b->data : "");
	*v = (unsigned long)n;
	return OK;
}

/*
 * Load the plan counter.  Missing (a state directory from before the
 * counter, or one just made): recovered from the highest id stored in
 * plans/, releases/ and the index, and written.  Present: never below the
 * releases (a counter restored from an old backup).  Corrupt or
 * unreadable: an error, never a guess.
 */
int
state_seq_load(struct state *s)
{
	char path[4096];
	struct buf b = BUF_INIT;
	unsigned long v = 0, floor_id = max_release_id(s);
	const char *key;
	json_t *e;
	int rc, missing;

	json_object_foreach(s->index, key, e) {
		uint64_t k;

		if (parse_u64(&k, key, 1, PLAN_ID_MAX) == OK && k > floor_id)
			floor_id = (unsigned long)k;
	}
	if ((rc = state_path_fmt(path, sizeof(path), "%s/plan-seq", s->dir)) != OK)
		return rc;
	rc = fs_read(&b, path, 64);
	missing = rc == ERR_NOTFOUND;
	if (missing) {
		if ((rc = scan_plan_ids(&v, s->dir)) != OK) {
			rc = err_set(rc, "%s is missing and the stored plans cannot be read to recover "
			    "it: %s", path, err_last());
			goto out;
		}
	} else if (rc == OK) {
		if ((rc = seq_parse(&v, &b, path)) != OK)
			goto out;
	} else {
		goto out;
	}
	s->last_id = v > floor_id ? v : floor_id;
	if (missing || s->last_id != v)
		rc = seq_write(s, s->last_id);
out:
	buf_dispose(&b);
	return rc;
}

static int
id_taken(const struct state *s, unsigned long id)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "plans/%lu.json", id);
	if (fstatat(s->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	snprintf(path, sizeof(path), "releases/%lu", id);
	return fstatat(s->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int
state_reserve_plan_id(struct state *s, char out[24])
{
	unsigned long next = s->last_id + 1;
	int rc;

	out[0] = '\0';
	/* A counter that fell behind (restored by hand) skips, never reuses. */
	while (next < PLAN_ID_MAX && id_taken(s, next))
		next++;
	if (next >= PLAN_ID_MAX)
		return err_set(ERR, "%s/plan-seq: plan ids are exhausted", s->dir);
	if ((rc = seq_write(s, next)) != OK)
		return err_set(rc, "recording plan id %lu: %s", next, err_last());
	s->last_id = next;
	snprintf(out, 24, "%lu", next);
	return OK;
}

int
state_peek_plan_id(const char *dir, char out[24])
{
	char path[4096];
	struct buf b = BUF_INIT;
	unsigned long v = 0;
	int rc;

	out[0] = '\0';
	if ((rc = state_path_fmt(path, sizeof(path), "%s/plan-seq", dir)) != OK)
		return rc;
	rc = fs_read(&b, path, 64);
	if (rc == ERR_NOTFOUND)
		rc = scan_plan_ids(&v, dir);
	else if (rc == OK)
		rc = seq_parse(&v, &b, path);
	buf_dispose(&b);
	if (rc == OK)
		snprintf(out, 24, "%lu", v + 1);
	return rc;
}

/* ---- plan files and the index -------------------------------------------- */

int
state_outcome_open(const char *outcome)
{
	return outcome && (strcmp(outcome, "open") == 0 || strcmp(outcome, "applying") == 0);
}

/* Read a regular file of at most `cap` bytes as JSON (*out owns).  A FIFO
 * or a device where a plan should be is refused, not waited on. */
int
state_load_json(json_t **out, const char *path, size_t cap)
{
	struct buf b = BUF_INIT;
	struct stat st;
	json_error_t je;
	char chunk[16384];
	int fd, rc = OK;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(ERR_INVALID, "%s: not a regular file", path);
	}
	if ((size_t)st.st_size > cap) {
		close(fd);
		return err_set(ERR_TOOBIG, "%s: more than %zu bytes", path, cap);
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(ERR, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > cap) {
			rc = err_set(ERR_TOOBIG, "%s: more than %zu bytes", path, cap);
			break;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (rc == OK && !(*out = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES,
	    &je)))
		/* jansson quotes the bytes near the error: scrubbed, as the
		 * message reaches chat (found by fuzz_planjson). */
		rc = err_set(ERR_INVALID, "%s:%d: %s", path, je.line, utf8_scrub(je.text));
	buf_dispose(&b);
	return rc;
}

int
state_load_plan(json_t **out, const char *dir, const char *id)
{
	char path[4096];
	uint64_t v;
	int rc;

	*out = NULL;
	if (parse_u64(&v, id, 1, PLAN_ID_MAX) != OK || id[0] == '0')
		return err_set(ERR_INVALID, "'%.30s' is not a plan id", id);
	if ((rc = state_path_fmt(path, sizeof(path), "%s/plans/%s.json", dir, id)) != OK)
		return rc;
	if ((rc = state_load_json(out, path, PLAN_FILE_MAX)) == OK && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = err_set(ERR_INVALID, "%s: not a plan", path);
	}
	return rc;
}

/* The index file: {"version": 1, "plans": {"<id>": {"outcome": "open",
 * "target": "<sha>", "announce": <post>}}}.  *out owns "plans". */
static int
index_read(json_t **out, const char *dir)
{
	char path[4096];
	json_t *doc = NULL, *plans, *e;
	const char *key;
	int rc;

	*out = NULL;
	if ((rc = state_path_fmt(path, sizeof(path), "%s/open-plans.json", dir)) != OK)
		return rc;
	if ((rc = state_load_json(&doc, path, INDEX_FILE_MAX)) != OK) {
		if (rc != ERR_NOTFOUND)
			rc = err_set(ERR_INVALID, "%s; remove it, and the next start rebuilds it "
			    "from plans/", err_last());
		return rc;
	}
	plans = json_object_get(doc, "plans");
	if (json_integer_value(json_object_get(doc, "version")) != 1 || !json_is_object(plans))
		goto bad;
	json_object_foreach(plans, key, e) {
		uint64_t v;

		if (parse_u64(&v, key, 1, PLAN_ID_MAX) != OK || key[0] == '0' || !json_is_object(e) ||
		    !json_is_string(json_object_get(e, "outcome")) ||
		    (json_object_get(e, "announce") && !json_is_integer(json_object_get(e, "announce"))))
			goto bad;
	}
	*out = json_incref(plans);
	json_decref(doc);
	return OK;
bad:
	json_decref(doc);
	return err_set(ERR_INVALID, "%s: not a plan index; remove it, and the next start rebuilds "
	    "it from plans/", path);
}

static int
index_save(const struct state *s)
{
	char path[4096];
	json_t *doc;
	char *text;
	int rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/open-plans.json", s->dir)) != OK)
		return rc;
	doc = json_pack("{s:i, s:O}", "version", 1, "plans", s->index);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return err_set(ERR, "cannot encode the plan index");
	rc = fs_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

static uint64_t
entry_announce(const json_t *e)
{
	json_int_t v = json_integer_value(json_object_get(e, "announce"));

	return v > 0 ? (uint64_t)v : 0;
}

static int
index_set(struct state *s, const char *id, const char *outcome, const char *target,
    uint64_t announce)
{
	json_t *e = json_pack("{s:s, s:s?, s:I}", "outcome", outcome, "target", target,
	    "announce", (json_int_t)announce);

	if (!e)
		return err_set(ERR, "cannot encode plan %s's index entry", id);
	if (json_equal(json_object_get(s->index, id), e)) {
		json_decref(e);
		return OK;
	}
	json_object_set_new(s->index, id, e);
	return index_save(s);
}

int
state_index_drop(struct state *s, const char *id)
{
	if (!json_object_get(s->index, id))
		return OK;
	json_object_del(s->index, id);
	return index_save(s);
}

int
state_announced(struct state *s, const char *id)
{
	json_t *e = json_object_get(s->index, id);

	if (!e)
		return OK;
	if (!state_outcome_open(json_string_value(json_object_get(e, "outcome"))))
		return state_index_drop(s, id);
	if (!entry_announce(e))
		return OK;
	json_object_set_new(e, "announce", json_integer(0));
	return index_save(s);
}

/* Write plans/<id>.json, keeping the index a superset of what it says:
 * in before the file says open or pending, out after it says neither. */
static int
save_indexed(struct state *s, const char *id, const char *outcome, const char *target,
    uint64_t announce, const char *text)
{
	char path[4096];
	struct buf b = BUF_INIT;
	int keep = state_outcome_open(outcome) || announce, rc;

	if ((rc = state_path_fmt(path, sizeof(path), "%s/plans/%s.json", s->dir, id)) != OK)
		return rc;
	if (keep && (rc = index_set(s, id, outcome, target, announce)) != OK)
		return rc;
	buf_puts(&b, text);
	buf_putc(&b, '\n');
	rc = fs_write_atomic(path, b.data, b.len);
	buf_dispose(&b);
	if (rc == OK && !keep)
		rc = state_index_drop(s, id);
	return rc;
}

int
state_save_plan(struct state *s, const struct plan *p, const char *outcome,
    const char *extra_json, uint64_t announce)
{
	json_t *extra = extra_json ? json_loads(extra_json, JSON_REJECT_DUPLICATES, NULL) :
	    json_object();
	char *fields, *text;
	int rc;

	ASSERT(json_is_object(extra));
	json_object_set_new(extra, "outcome", json_string(outcome));
	fields = json_dumps(extra, JSON_COMPACT);
	ASSERT(fields);
	text = plan_to_json(p, fields);
	rc = save_indexed(s, p->id, outcome, p->target, announce, text);
	if (rc == OK)   /* the trust ladder's numbers (state/trust.h) */
		trust_note_plan(s, p, outcome, json_string_value(json_object_get(extra, "decided_by")));
	json_decref(extra);
	free(text);
	free(fields);
	return rc;
}

int
state_save_record(struct state *s, json_t *plan, uint64_t announce)
{
	const char *id = json_string_value(json_object_get(plan, "id"));
	const char *outcome = json_string_value(json_object_get(plan, "outcome"));
	uint64_t v;
	char *text;
	int rc;

	if (!id || parse_u64(&v, id, 1, PLAN_ID_MAX) != OK || id[0] == '0' || !outcome)
		return err_set(ERR_INVALID, "a stored plan without an id or an outcome");
	text = json_dumps(plan, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (!text)
		return err_set(ERR, "cannot encode plan %s", id);
	rc = save_indexed(s, id, outcome, json_string_value(json_object_get(plan, "target")),
	    announce, text);
	if (rc == OK)
		trust_note_record(s, plan);
	free(text);
	return rc;
}

static int
migrate_one(void *ctx, const char *file, json_t *plan)
{
	struct state *s = ctx;
	const char *id = json_string_value(json_object_get(plan, "id"));
	const char *outcome = json_string_value(json_object_get(plan, "outcome"));
	const char *target = json_string_value(json_object_get(plan, "target"));
	uint64_t v;

	(void)file;
	if (id && parse_u64(&v, id, 1, PLAN_ID_MAX) == OK && state_outcome_open(outcome))
		json_object_set_new(s->index, id, json_pack("{s:s, s:s?, s:i}", "outcome", outcome,
		    "target", target, "announce", 0));
	return 0;
}

/* Load the index, or make it from plans/ once (a state directory from
 * before it, or a new one). */
int
state_index_load(struct state *s)
{
	int rc = index_read(&s->index, s->dir);

	if (rc != ERR_NOTFOUND)
		return rc;
	s->index = json_object();
	state_each_plan(s->dir, migrate_one, s);
	return index_save(s);
}

struct id_sort {
	unsigned long id;
	const char *key;
	uint64_t announce;
};

static int
id_sort_cmp(const void *x, const void *y)
{
	const struct id_sort *a = x, *b = y;

	return (a->id > b->id) - (a->id < b->id);
}

struct each_all {
	int (*fn)(void *ctx, const char *file, json_t *plan, uint64_t announce);
	void *ctx;
};

static int
each_all_one(void *ctx, const char *file, json_t *plan)
{
	struct each_all *a = ctx;

	return a->fn(a->ctx, file, plan, 0);
}

int
state_each_open(const char *dir, int (*fn)(void *ctx, const char *file, json_t *plan,
    uint64_t announce), void *ctx)
{
	json_t *plans = NULL, *e;
	struct id_sort *v = NULL;
	const char *key;
	size_t n = 0, i;
	int rc;

	if ((rc = index_read(&plans, dir)) == ERR_NOTFOUND) {
		struct each_all a = { fn, ctx };

		state_each_plan(dir, each_all_one, &a);
		return OK;
	}
	if (rc != OK)
		return rc;
	if (json_object_size(plans))
		v = xcalloc(json_object_size(plans), sizeof(*v));
	json_object_foreach(plans, key, e) {
		uint64_t id;

		if (parse_u64(&id, key, 1, PLAN_ID_MAX) != OK)
			continue;
		v[n].id = (unsigned long)id;
		v[n].key = key;
		v[n++].announce = entry_announce(e);
	}
	xqsort(v, n, sizeof(*v), id_sort_cmp);
	for (i = 0; i < n; i++) {
		char file[4096];
		json_t *plan;

		if (state_path_fmt(file, sizeof(file), "%s/plans/%s.json", dir, v[i].key) != OK ||
		    state_load_plan(&plan, dir, v[i].key) != OK)
			continue;
		rc = fn(ctx, file, plan, v[i].announce);
		json_decref(plan);
		if (rc)
			break;
	}
	free(v);
	json_decref(plans);
	return OK;
}

int
state_each_plan(const char *dir, int (*fn)(void *ctx, const char *file, struct json_t *plan),
    void *ctx)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (state_path_fmt(path, sizeof(path), "%s/plans", dir) != OK || !(d = opendir(path)))
		return 0;
	while (!rc && (e = readdir(d))) {
		char file[4096 + 256];
		json_t *j;

		if (!str_has_suffix(e->d_name, ".json"))
			continue;
		if (state_path_fmt(file, sizeof(file), "%s/%s", path, e->d_name) != OK ||
		    state_load_json(&j, file, PLAN_FILE_MAX) != OK)
			continue;
		rc = fn(ctx, file, j);
		json_decref(j);
	}
	closedir(d);
	return rc;
}
