/*
 * state.c - the state directory and the release store.  See state.h.
 */
#include "state/state.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "state/enc.h"

#define NBUCKETS 256

#define PLAN_ID_MAX (1ul << 62)
#define INDEX_FILE_MAX (16u << 20)
#define PLAN_FILE_MAX (64u << 20)

struct state {
	char *dir;
	int lockfd;
	int dirfd;
	unsigned long last_id;     /* the last plan id handed out (plan-seq) */
	json_t *index;             /* open-plans.json's "plans": id -> entry */
};

/* snprintf into a fixed buffer, refusing truncation. */
static int
path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
path_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n)
		return err_set(ERR_TOOBIG, "path too long");
	return OK;
}

static int
read_sha(const char *path, char out[41])
{
	struct buf b = BUF_INIT;
	int rc;

	out[0] = '\0';
	rc = fs_read(&b, path, 128);
	if (rc == ERR_NOTFOUND) {
		buf_dispose(&b);
		return OK;
	}
	if (rc == OK) {
		size_t n = b.len;

		while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == ' '))
			n--;
		if (n != 40 || strspn(b.data, "0123456789abcdef") < 40)
			rc = err_set(ERR_INVALID, "%s does not hold a commit id", path);
		else {
			memcpy(out, b.data, 40);
			out[40] = '\0';
		}
	}
	buf_dispose(&b);
	return rc;
}

int
state_read_applied(const char *dir, char out[41])
{
	char path[4096];
	int rc;

	if ((rc = path_fmt(path, sizeof(path), "%s/applied", dir)) != OK)
		return rc;
	return read_sha(path, out);
}

/* The release id `current` points at, or 0 when there is none. */
static unsigned long
current_release(const struct state *s)
{
	char target[256];
	ssize_t n = readlinkat(s->dirfd, "current", target, sizeof(target) - 1);
	uint64_t id;

	if (n <= 0)
		return 0;
	target[n] = '\0';
	if (strncmp(target, "releases/", 9) != 0 || parse_u64(&id, target + 9, 1, 1ul << 62) != OK)
		return 0;
	return (unsigned long)id;
}

static int index_load(struct state *s);
static int seq_load(struct state *s);

/* Finish an interrupted apply: the swap of `current` is the commit point. */
static int
recover(struct state *s)
{
	char path[4096], cur[41], applied[41];
	unsigned long rel = current_release(s);
	DIR *d;
	struct dirent *e;
	int rc;

	unlinkat(s->dirfd, "current.tmp", 0);
	if ((rc = path_fmt(path, sizeof(path), "%s/releases", s->dir)) != OK)
		return rc;
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			if (strncmp(e->d_name, ".tmp-", 5) == 0) {
				char tmp[4096];

				if (path_fmt(tmp, sizeof(tmp), "%s/releases/%s", s->dir, e->d_name) == OK)
					fs_rm_rf(tmp);
			}
		closedir(d);
	}
	if (!rel)
		return OK;
	if ((rc = path_fmt(path, sizeof(path), "%s/releases/%lu/COMMIT", s->dir, rel)) != OK)
		return rc;
	if ((rc = read_sha(path, cur)) != OK)
		return rc;
	if ((rc = state_read_applied(s->dir, applied)) != OK)
		return rc;
	if (cur[0] && strcmp(cur, applied) != 0) {
		char line[42];

		if ((rc = path_fmt(path, sizeof(path), "%s/applied", s->dir)) != OK)
			return rc;
		snprintf(line, sizeof(line), "%s\n", cur);
		return fs_write_atomic(path, line, 41);
	}
	return OK;
}

int
state_open(struct state **out, const char *dir, int create)
{
	struct state *s;
	char path[4096];
	int rc;

	*out = NULL;
	if (create) {
		if ((rc = fs_mkdir_p(dir, 0755)) != OK)
			return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->lockfd = -1;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = err_set(errno == ENOENT ? ERR_NOTFOUND : ERR, "state directory %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	if ((rc = path_fmt(path, sizeof(path), "%s/plans", dir)) != OK ||
	    (rc = fs_mkdir_p(path, 0755)) != OK)
		goto fail;
	if ((rc = path_fmt(path, sizeof(path), "%s/releases", dir)) != OK ||
	    (rc = fs_mkdir_p(path, 0755)) != OK)
		goto fail;
	if ((rc = path_fmt(path, sizeof(path), "%s/buckets", dir)) != OK ||
	    (rc = fs_mkdir_p(path, 0755)) != OK)
		goto fail;
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX) != 0) {
		rc = err_set(ERR, "locking %s/lock: %s", dir, strerror(errno));
		goto fail;
	}
	if ((rc = recover(s)) != OK || (rc = index_load(s)) != OK || (rc = seq_load(s)) != OK)
		goto fail;
	*out = s;
	return OK;
fail:
	state_close(s);
	return rc;
}

void
state_close(struct state *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	json_decref(s->index);
	free(s->dir);
	free(s);
}

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
	if ((rc = path_fmt(path, sizeof(path), "%s/plans", dir)) != OK)
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
	unsigned long max = current_release(s);
	DIR *d;
	struct dirent *e;

	if (path_fmt(path, sizeof(path), "%s/releases", s->dir) != OK || !(d = opendir(path)))
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

	if ((rc = path_fmt(path, sizeof(path), "%s/plan-seq", s->dir)) != OK ||
	    (rc = path_fmt(line, sizeof(line), "%lu\n", v)) != OK)
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
static int
seq_load(struct state *s)
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
	if ((rc = path_fmt(path, sizeof(path), "%s/plan-seq", s->dir)) != OK)
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
	if ((rc = path_fmt(path, sizeof(path), "%s/plan-seq", dir)) != OK)
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
static int
load_json(json_t **out, const char *path, size_t cap)
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
		rc = err_set(ERR_INVALID, "%s:%d: %s", path, je.line, je.text);
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
	if ((rc = path_fmt(path, sizeof(path), "%s/plans/%s.json", dir, id)) != OK)
		return rc;
	if ((rc = load_json(out, path, PLAN_FILE_MAX)) == OK && !json_is_object(*out)) {
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
	if ((rc = path_fmt(path, sizeof(path), "%s/open-plans.json", dir)) != OK)
		return rc;
	if ((rc = load_json(&doc, path, INDEX_FILE_MAX)) != OK) {
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

	if ((rc = path_fmt(path, sizeof(path), "%s/open-plans.json", s->dir)) != OK)
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

	if ((rc = path_fmt(path, sizeof(path), "%s/plans/%s.json", s->dir, id)) != OK)
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
	json_decref(extra);
	ASSERT(fields);
	text = plan_to_json(p, fields);
	rc = save_indexed(s, p->id, outcome, p->target, announce, text);
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
static int
index_load(struct state *s)
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

		if (path_fmt(file, sizeof(file), "%s/plans/%s.json", dir, v[i].key) != OK ||
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

/* ---- the release store ---------------------------------------------- */

/* "enc/<fqdn>.yaml": the bucket hashes the fqdn alone, as enc_path() does. */
static unsigned
artifact_bucket(const char *path)
{
	return enc_bucket(path + 4, strlen(path) - 9);
}

static int
is_enc(const char *path)
{
	return strncmp(path, "enc/", 4) == 0 && !strchr(path + 4, '/');
}

static int
changed_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct file_diff *)elem)->path);
}

static int
path_changed(const struct plan *p, const char *path)
{
	return p->diff && xbsearch(path, p->diff->files, p->diff->nfiles,
	    sizeof(*p->diff->files), changed_cmp) != NULL;
}

/* Hard-link from/rel to to/rel, making to's parent directories. */
static int
link_from(const char *from, const char *to, const char *rel)
{
	char src[4096], dst[4096];
	char *slash;
	int rc;

	if (!fs_path_safe(rel) ||
	    (rc = path_fmt(src, sizeof(src), "%s/%s", from, rel)) != OK ||
	    (rc = path_fmt(dst, sizeof(dst), "%s/%s", to, rel)) != OK)
		return ERR_INVALID;
	slash = strrchr(dst, '/');
	*slash = '\0';
	rc = fs_mkdir_p(dst, 0755);
	*slash = '/';
	if (rc != OK)
		return rc;
	return link(src, dst) == 0 ? OK : err_set(ERR, "link %s: %s", dst, strerror(errno));
}

/* ERR_CONFLICT when the current release's enc/<bb> is bucket <id>-<bb>. */
static int
bucket_in_use(const struct state *s, const char *id, unsigned b)
{
	char path[64], target[256], want[128];
	unsigned long cur = current_release(s);
	ssize_t n;

	if (!cur)
		return OK;
	snprintf(path, sizeof(path), "releases/%lu/enc/%02x", cur, b);
	n = readlinkat(s->dirfd, path, target, sizeof(target) - 1);
	if (n <= 0)
		return OK;
	target[n] = '\0';
	if (path_fmt(want, sizeof(want), "../../../buckets/%s-%02x", id, b) != OK ||
	    strcmp(target, want) != 0)
		return OK;
	return err_set(ERR_CONFLICT, "bucket %s-%02x belongs to the current release %lu; "
	    "refusing to rewrite it", id, b, cur);
}

/*
 * Build the enc/ directory of a new release in `reldir`: a symlink per
 * non-empty bucket, reusing the previous release's bucket when nothing in
 * it changed.  `prev` is the previous release dir or NULL (write all).
 */
static int
write_enc(const struct state *s, const struct plan *p, const struct artifacts *target,
    const char *reldir, const char *prev)
{
	unsigned char changed[NBUCKETS], present[NBUCKETS];
	unsigned char *bucket_of = NULL;
	char path[4096], link_target[512], prevbucket[4096];
	size_t i;
	unsigned b;
	int rc = OK;

	memset(changed, prev ? 0 : 1, sizeof(changed));
	memset(present, 0, sizeof(present));
	for (i = 0; prev && p->diff && i < p->diff->nfiles; i++) {
		const struct file_diff *f = &p->diff->files[i];

		if (is_enc(f->path))
			changed[artifact_bucket(f->path)] = 1;
	}
	if (target->n)
		bucket_of = xmalloc(target->n);
	for (i = 0; i < target->n; i++)
		if (is_enc(target->v[i].path)) {
			bucket_of[i] = (unsigned char)artifact_bucket(target->v[i].path);
			present[bucket_of[i]] = 1;
		}
	if ((rc = path_fmt(path, sizeof(path), "%s/enc", reldir)) != OK ||
	    (rc = fs_mkdir_p(path, 0755)) != OK)
		goto out;
	for (b = 0; b < NBUCKETS && rc == OK; b++) {
		char bucketdir[4096];
		int have_prev = 0;

		if (!present[b])
			continue;
		if (prev) {
			ssize_t n;

			if ((rc = path_fmt(path, sizeof(path), "%s/enc/%02x", prev, b)) != OK)
				break;
			n = readlink(path, link_target, sizeof(link_target) - 1);
			if (n > 0) {
				link_target[n] = '\0';
				have_prev = 1;
				if ((rc = path_fmt(prevbucket, sizeof(prevbucket), "%s/enc/%s",
				    prev, link_target)) != OK)
					break;
			}
		}
		if (!changed[b] && have_prev) {
			/* Unchanged: share the previous release's bucket. */
			if ((rc = path_fmt(path, sizeof(path), "%s/enc/%02x", reldir, b)) != OK)
				break;
			if (symlink(link_target, path) != 0)
				rc = err_set(ERR, "symlink %s: %s", path, strerror(errno));
			continue;
		}
		if ((rc = path_fmt(bucketdir, sizeof(bucketdir), "%s/buckets/%s-%02x",
		    s->dir, p->id, b)) != OK)
			break;
		/* A bucket left by an apply that crashed under the same id; never
		 * one the current release reads. */
		if ((rc = bucket_in_use(s, p->id, b)) != OK)
			break;
		fs_rm_rf(bucketdir);
		if (mkdir(bucketdir, 0755) != 0) {
			rc = err_set(ERR, "mkdir %s: %s", bucketdir, strerror(errno));
			break;
		}
		for (i = 0; i < target->n && rc == OK; i++) {
			const struct artifact *a = &target->v[i];
			char dst[4096], src[4096];

			if (!is_enc(a->path) || bucket_of[i] != b)
				continue;
			if (!fs_path_safe(a->path)) {
				rc = err_set(ERR_INVALID, "refusing to write artifact path '%s'", a->path);
				break;
			}
			if ((rc = path_fmt(dst, sizeof(dst), "%s/%s", bucketdir, a->path + 4)) != OK)
				break;
			if (have_prev && !path_changed(p, a->path) &&
			    path_fmt(src, sizeof(src), "%s/%s", prevbucket, a->path + 4) == OK &&
			    link(src, dst) == 0)
				continue;
			rc = fs_write_new(dst, a->data, a->len);
		}
		if (rc != OK)
			break;
		if ((rc = path_fmt(link_target, sizeof(link_target), "../../../buckets/%s-%02x",
		    p->id, b)) != OK ||
		    (rc = path_fmt(path, sizeof(path), "%s/enc/%02x", reldir, b)) != OK)
			break;
		if (symlink(link_target, path) != 0)
			rc = err_set(ERR, "symlink %s: %s", path, strerror(errno));
	}
out:
	free(bucket_of);
	return rc;
}

static int
release_cmp(const void *x, const void *y)
{
	unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;

	return (a > b) - (a < b);
}

/* The release ids in releases/, sorted (*out owns). */
static size_t
release_ids(const struct state *s, unsigned long **out)
{
	char path[4096];
	unsigned long *ids = NULL;
	size_t n = 0, alloc = 0;
	DIR *d;
	struct dirent *e;

	*out = NULL;
	if (path_fmt(path, sizeof(path), "%s/releases", s->dir) != OK || !(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		uint64_t v;

		if (e->d_name[0] == '0' || parse_u64(&v, e->d_name, 1, PLAN_ID_MAX) != OK)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			ids = xrealloc(ids, alloc * sizeof(*ids));
		}
		ids[n++] = (unsigned long)v;
	}
	closedir(d);
	xqsort(ids, n, sizeof(*ids), release_cmp);
	*out = ids;
	return n;
}

/* Drop the buckets no release in releases/ names. */
static void
gc_buckets(const struct state *s)
{
	char path[4096], target[512];
	unsigned long *ids;
	size_t n = release_ids(s, &ids), i;
	char **used = NULL;
	size_t nused = 0;
	DIR *d;
	struct dirent *e;

	for (i = 0; i < n; i++) {
		unsigned b;

		for (b = 0; b < NBUCKETS; b++) {
			ssize_t k;

			if (path_fmt(path, sizeof(path), "%s/releases/%lu/enc/%02x", s->dir,
			    ids[i], b) != OK)
				continue;
			k = readlink(path, target, sizeof(target) - 1);
			if (k <= 0)
				continue;
			target[k] = '\0';
			used = xrealloc(used, (nused + 1) * sizeof(*used));
			used[nused++] = xstrdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
		}
	}
	xqsort(used, nused, sizeof(*used), str_cmp_ptr);
	if (path_fmt(path, sizeof(path), "%s/buckets", s->dir) == OK && (d = opendir(path))) {
		while ((e = readdir(d))) {
			const char *name = e->d_name;

			if (name[0] == '.')
				continue;
			if (xbsearch(&name, used, nused, sizeof(*used), str_cmp_ptr))
				continue;
			if (path_fmt(path, sizeof(path), "%s/buckets/%s", s->dir, name) == OK)
				fs_rm_rf(path);
		}
		closedir(d);
	}
	for (i = 0; i < nused; i++)
		free(used[i]);
	free(used);
	free(ids);
}

/* Keep the newest releases (and always the current one) and the buckets
 * they use; drop the rest. */
static void
gc(const struct state *s)
{
	char path[4096];
	unsigned long *ids, cur = current_release(s);
	size_t n = release_ids(s, &ids), i;

	for (i = 0; i + STATE_KEEP_RELEASES < n; i++)
		if (ids[i] != cur &&
		    path_fmt(path, sizeof(path), "%s/releases/%lu", s->dir, ids[i]) == OK)
			fs_rm_rf(path);
	free(ids);
	gc_buckets(s);
}

int
state_apply(struct state *s, const struct plan *p, const struct artifacts *target)
{
	char tmpdir[4096], reldir[4096], prev[4096], path[4096], line[64];
	char prevcommit[41] = "";
	unsigned long cur = current_release(s);
	const char *prevp = NULL;
	size_t i;
	int rc;

	if (p->decision == DECISION_INVALID)
		return err_set(ERR_INVALID, "plan %s is invalid and cannot be applied", p->id);
	if ((rc = path_fmt(tmpdir, sizeof(tmpdir), "%s/releases/.tmp-%s", s->dir, p->id)) != OK ||
	    (rc = path_fmt(reldir, sizeof(reldir), "%s/releases/%s", s->dir, p->id)) != OK)
		return rc;
	if (cur) {
		if ((rc = path_fmt(prev, sizeof(prev), "%s/releases/%lu", s->dir, cur)) != OK ||
		    (rc = path_fmt(path, sizeof(path), "%s/COMMIT", prev)) != OK)
			return rc;
		/* Share buckets only with the release the plan was made against. */
		if (read_sha(path, prevcommit) == OK && p->base[0] &&
		    strcmp(prevcommit, p->base) == 0)
			prevp = prev;
	}
	/* Plan ids are never reused, but should a release of this id exist,
	 * the one readers are using is not ours to replace. */
	if (cur && strtoul(p->id, NULL, 10) == cur)
		return err_set(ERR_CONFLICT, "release %s is the current release; refusing to "
		    "rewrite it", p->id);
	fs_rm_rf(tmpdir);
	fs_rm_rf(reldir);
	if ((rc = fs_mkdir_p(tmpdir, 0755)) != OK)
		goto fail;
	for (i = 0; i < target->n; i++) {
		const struct artifact *a = &target->v[i];

		if (is_enc(a->path))
			continue;
		/* Zone files are megabytes at 100k hosts: link what did not change. */
		if (prevp && !path_changed(p, a->path) && link_from(prevp, tmpdir, a->path) == OK)
			continue;
		if ((rc = fs_write_under(tmpdir, a->path, a->data, a->len)) != OK)
			goto fail;
	}
	if ((rc = write_enc(s, p, target, tmpdir, prevp)) != OK)
		goto fail;
	snprintf(line, sizeof(line), "%s\n", p->target);
	if ((rc = fs_write_under(tmpdir, "COMMIT", line, strlen(line))) != OK)
		goto fail;
	snprintf(line, sizeof(line), "%s\n", p->id);
	if ((rc = fs_write_under(tmpdir, "PLAN", line, strlen(line))) != OK)
		goto fail;
	/* One sync for the whole release instead of one per file: nothing
	 * refers to it until the swap below. */
	if (syncfs(s->dirfd) != 0) {
		rc = err_set(ERR, "syncfs %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	if (rename(tmpdir, reldir) != 0) {
		rc = err_set(ERR, "rename %s: %s", tmpdir, strerror(errno));
		goto fail;
	}
	if ((rc = path_fmt(path, sizeof(path), "%s/releases", s->dir)) != OK ||
	    (rc = fs_fsync_dir(path)) != OK)
		return rc;
	/* The swap: the commit point of an apply. */
	if ((rc = path_fmt(path, sizeof(path), "releases/%s", p->id)) != OK)
		return rc;
	unlinkat(s->dirfd, "current.tmp", 0);
	if (symlinkat(path, s->dirfd, "current.tmp") != 0 ||
	    renameat(s->dirfd, "current.tmp", s->dirfd, "current") != 0)
		return err_set(ERR, "switching %s/current: %s", s->dir, strerror(errno));
	if ((rc = fs_fsync_dir(s->dir)) != OK)
		return rc;
	if ((rc = path_fmt(path, sizeof(path), "%s/applied", s->dir)) != OK)
		return rc;
	snprintf(line, sizeof(line), "%s\n", p->target);
	if ((rc = fs_write_atomic(path, line, strlen(line))) != OK)
		return rc;
	gc(s);
	return OK;
fail:
	fs_rm_rf(tmpdir);
	return rc;
}

int
state_each_plan(const char *dir, int (*fn)(void *ctx, const char *file, struct json_t *plan),
    void *ctx)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (path_fmt(path, sizeof(path), "%s/plans", dir) != OK || !(d = opendir(path)))
		return 0;
	while (!rc && (e = readdir(d))) {
		char file[4096 + 256];
		json_t *j;

		if (!str_has_suffix(e->d_name, ".json"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (!(j = json_load_file(file, JSON_REJECT_DUPLICATES, NULL)))
			continue;
		rc = fn(ctx, file, j);
		json_decref(j);
	}
	closedir(d);
	return rc;
}

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
	if (path_fmt(path, sizeof(path), "%s/retention.json", s->dir) != OK ||
	    load_json(&doc, path, 1u << 20) != OK)
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
	if ((rc = path_fmt(path, sizeof(path), "%s/retention.json", s->dir)) == OK)
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
		if (path_fmt(path, sizeof(path), "%s/threads/%s.%zu", s->dir, key, i) == OK)
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
	if (json_object_get(s->index, key) || id == cur)
		return RETAIN_KEEP;
	if (path_fmt(path, sizeof(path), "%s/plans/%s.json", s->dir, key) != OK)
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

		if (path_fmt(rel, sizeof(rel), "%s/releases/%s", s->dir, key) == OK &&
		    lstat(rel, &st) == 0) {
			fs_rm_rf(rel);
			out->releases++;
			*bucket_sweep = 1;
		}
	}
	if (unlink(path) != 0)
		return RETAIN_KEEP;
	out->plans++;
	return RETAIN_GONE;
}

int
state_retain(struct state *s, const struct state_retention *r, long long now,
    struct state_retained *out)
{
	struct retain_cursor c;
	unsigned long cur = current_release(s), id, old_low;
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
		gc_buckets(s);
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
		if (path_fmt(path, sizeof(path), "%s/plans", s->dir) == OK)
			(void)fs_fsync_dir(path);
		rc = cursor_save(s, &c);
	}
	free(c.kept);
	return rc;
}
