/*
 * outbox.c - see outbox.h.
 *
 * A post file (<state>/outbox/<post>.json):
 *
 *	{"version": 2, "id": 42, "plan_id": "17", "thread": "17", "summary": "...",
 *	 "body": "...", "url": "http://.../plans/17", "actions": true,
 *	 "only": null, "to": null, "created": 1767225600,
 *	 "pending": [{"id": 42, "provider": 0, "type": "console", "attempts": 0},
 *	             {"id": 43, "provider": 1, "type": "slack", "attempts": 2}]}
 *
 * "thread" is the thread key in effect (the plan id unless the sender gave
 * another; null: none); "only" the one backend it was for (null: all;
 * then "pending" holds that backend alone), "to" who it answers.  Version
 * 1 files, written before these three existed, lack them: their thread is
 * the plan id, and they were for every backend.
 *
 * Every message (one post to one backend) has its own id, unique for the
 * life of the state directory and increasing, so a backend's queue in id
 * order is its posting order, and an id in a chat log names one message.
 * The post file's name is its first message's id, or an id of its own
 * reserved earlier (outbox_reserve(): a message written ahead with what
 * it announces).  A backend is named by
 * its index in the config's `chat:` list and its type; a pending message
 * whose backend is gone from the config (or changed type) is dead-lettered
 * at open rather than sent somewhere else.
 *
 * In memory the outbox keeps ids, attempt counts and due times only; the
 * text is read back from the post file for each try, so a long chat outage
 * costs disk, not memory.
 */
#include "state/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/crashpoint.h"
#include "base/fs.h"
#include "base/log.h"
#include "providers/chat/chat.h"
#include "state/state.h"

#define OUTBOX_FILE_MAX (1024 * 1024)
#define OUTBOX_BODY_MAX (64 * 1024)
#define OUTBOX_SUMMARY_MAX 2000
#define OUTBOX_URL_MAX 2048
#define OUTBOX_PLAN_MAX 64
#define OUTBOX_ID_BLOCK 1024         /* ids reserved per write of outbox/seq */
#define OUTBOX_BACKOFF_MAX 300       /* seconds */
#define OUTBOX_RETRY_AFTER_MAX 3600
#define OUTBOX_RUN_BUDGET 1.0        /* seconds of tries per outbox_run() */

struct omsg {
	uint64_t id;          /* this message */
	uint64_t post;        /* its post file */
	unsigned attempts;
	double due;           /* on ob->now()'s clock */
};

struct oprov {
	const struct chat_provider *p;
	void *st;
	struct ynode *cfg;    /* owns: a copy of its `chat:` entry */
	struct omsg *q;       /* pending, in id order; q[0] is next */
	size_t n, alloc;
};

struct outbox {
	char *dir;            /* <state>/outbox */
	char *dead;           /* <state>/outbox/dead */
	char *threads;        /* <state>/threads */
	struct oprov *prov;
	size_t nprov;
	uint64_t next_id;     /* the next id to hand out */
	uint64_t reserved;    /* ids below this are reserved in outbox/seq */
	size_t ndead;
	char *last_error;
	double (*now)(void);
	size_t recv_next;     /* the backend outbox_recv() asks first */
};

static void
set_last_error(struct outbox *ob, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remember a failure for `status`, here and in outbox/last-error. */
static void
set_last_error(struct outbox *ob, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char *path, *p;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	free(ob->last_error);
	ob->last_error = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(ob->last_error, (size_t)n + 1, fmt, ap);
	va_end(ap);
	for (p = ob->last_error; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	log_event("outbox", "%s", ob->last_error);
	path = xasprintf("%s/last-error", ob->dir);
	buf_printf(&b, "%s\n", ob->last_error);
	/* Best effort: the message stays in memory and in the log. */
	(void)fs_write_atomic(path, b.data, b.len);
	free(path);
	buf_dispose(&b);
}

/* ---- text ---- */


/*
 * `s` as valid UTF-8 of at most `max` bytes (owns): an invalid byte
 * becomes '?'; in one-line mode CR, LF and TAB become spaces and other
 * control characters go; otherwise LF and TAB stay, CR and the rest go.
 * A multi-line text that does not fit is cut after its last whole line
 * and marked.
 */
static char *
clean_text(const char *s, size_t max, int oneline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	struct buf b = BUF_INIT;
	int cut = 0;

	while (i < n) {
		unsigned char c = p[i];

		k = utf8_decode(p + i, n - i, NULL);
		if (b.len + (k ? k : 1) > max) {
			cut = 1;
			break;
		}
		if (k == 0) {
			buf_putc(&b, '?');
			i++;
			continue;
		}
		if (k == 1 && (c < 0x20 || c == 0x7f)) {
			if (oneline && (c == '\r' || c == '\n' || c == '\t'))
				buf_putc(&b, ' ');
			else if (!oneline && (c == '\n' || c == '\t'))
				buf_putc(&b, (char)c);
			i++;
			continue;
		}
		buf_append(&b, s + i, k);
		i += k;
	}
	if (cut && !oneline) {
		char *nl = b.len ? memrchr(b.data, '\n', b.len) : NULL;

		b.len = nl ? (size_t)(nl - b.data) : 0;
		if (b.data)
			b.data[b.len] = '\0';
		buf_puts(&b, "\n... (cut)\n");
	}
	return buf_steal(&b);
}

/* A plan id or a thread key: it becomes a file name under threads/. */
static int
plan_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > OUTBOX_PLAN_MAX || id[0] == '.')
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Who a message answers: an IRC nick, a Slack or Mattermost user id. */
static int
to_ok(const char *to)
{
	size_t n = strlen(to);

	return n > 0 && n <= OUTBOX_PLAN_MAX && strspn(to, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-[]\\`^{|}") == n;
}

static int
url_ok(const char *url)
{
	const char *p;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return 0;
	if (strlen(url) > OUTBOX_URL_MAX)
		return 0;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

/* ---- paths and files ---- */

static char *
post_path(const struct outbox *ob, uint64_t post)
{
	return xasprintf("%s/%" PRIu64 ".json", ob->dir, post);
}

static char *
marker_path(const struct outbox *ob, uint64_t id)
{
	return xasprintf("%s/%" PRIu64 ".sending", ob->dir, id);
}

static char *
sent_path(const struct outbox *ob, uint64_t id)
{
	return xasprintf("%s/%" PRIu64 ".sent", ob->dir, id);
}

/* "<digits><suffix>" -> the number; 0 when the name is not of that form. */
static uint64_t
name_id(const char *name, const char *suffix)
{
	size_t n = strlen(name), sl = strlen(suffix);
	uint64_t v;
	char num[32];

	if (n <= sl || n - sl >= sizeof(num) || strcmp(name + n - sl, suffix) != 0)
		return 0;
	memcpy(num, name, n - sl);
	num[n - sl] = '\0';
	if (num[0] == '0' || parse_u64(&v, num, 1, UINT64_MAX / 2) != OK)
		return 0;
	return v;
}

/* Read and check a post file.  *out owns the document.  ERR_NOTFOUND
 * when it is gone; ERR_INVALID when it is not a post file. */
static int
post_load(json_t **out, const struct outbox *ob, uint64_t post)
{
	char *path = post_path(ob, post);
	struct buf b = BUF_INIT;
	json_error_t jerr;
	json_t *doc = NULL, *pend, *e;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = fs_read(&b, path, OUTBOX_FILE_MAX)) != OK)
		goto out;
	doc = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		rc = err_set(ERR_INVALID, "%s: not JSON: %s", path, utf8_scrub(jerr.text));
		goto out;
	}
	pend = json_object_get(doc, "pending");
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "summary")) ||
	    !json_is_array(pend)) {
		rc = err_set(ERR_INVALID, "%s: not an outbox message", path);
		goto out;
	}
	json_array_foreach(pend, i, e) {
		if (!json_is_integer(json_object_get(e, "id")) ||
		    !json_is_integer(json_object_get(e, "provider")) ||
		    !json_is_string(json_object_get(e, "type"))) {
			rc = err_set(ERR_INVALID, "%s: pending[%zu] is malformed", path, i);
			goto out;
		}
	}
	*out = doc;
	doc = NULL;
out:
	json_decref(doc);
	buf_dispose(&b);
	free(path);
	return rc;
}

static int
post_save(const struct outbox *ob, uint64_t post, const json_t *doc)
{
	char *path = post_path(ob, post), *text;
	int rc;

	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		free(path);
		return err_set(ERR, "cannot encode outbox message %" PRIu64, post);
	}
	rc = fs_write_atomic(path, text, strlen(text));
	free(text);
	free(path);
	return rc;
}

/* The index of message `id` in the post's pending list, or -1. */
static long
pending_find(const json_t *doc, uint64_t id)
{
	json_t *pend = json_object_get(doc, "pending"), *e;
	size_t i;

	json_array_foreach(pend, i, e)
		if ((uint64_t)json_integer_value(json_object_get(e, "id")) == id)
			return (long)i;
	return -1;
}

/* Drop message `id` from its post: rewrite the file, or unlink it when no
 * backend is left, and make that durable. */
static int
post_forget(const struct outbox *ob, uint64_t post, json_t *doc, uint64_t id)
{
	json_t *pend = json_object_get(doc, "pending");
	long i = pending_find(doc, id);
	char *path;
	int rc = OK;

	if (i >= 0)
		json_array_remove(pend, (size_t)i);
	if (json_array_size(pend) > 0)
		return post_save(ob, post, doc);
	path = post_path(ob, post);
	if (unlink(path) != 0 && errno != ENOENT)
		rc = err_set(ERR, "unlink %s: %s", path, strerror(errno));
	else
		fs_mirror_del(path);
	free(path);
	return rc == OK ? fs_fsync_dir(ob->dir) : rc;
}

/* ---- queues ---- */

static void
queue_push(struct oprov *pv, const struct omsg *m)
{
	if (pv->n == pv->alloc) {
		pv->alloc = pv->alloc ? pv->alloc * 2 : 16;
		pv->q = xrealloc(pv->q, pv->alloc * sizeof(*pv->q));
	}
	pv->q[pv->n++] = *m;
}

static void
queue_pop(struct oprov *pv)
{
	ASSERT(pv->n > 0);
	memmove(pv->q, pv->q + 1, (pv->n - 1) * sizeof(*pv->q));
	pv->n--;
}

static int
omsg_cmp(const void *a, const void *b)
{
	const struct omsg *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- ids ---- */

/* Make sure ids next_id .. next_id+n-1 are reserved on disk, so no id is
 * ever handed out twice, even after a crash. */
static int
ids_reserve(struct outbox *ob, size_t n)
{
	char *path, num[32];
	uint64_t upto;
	int rc;

	if (ob->next_id + n <= ob->reserved)
		return OK;
	upto = ob->next_id + n + OUTBOX_ID_BLOCK;
	snprintf(num, sizeof(num), "%" PRIu64 "\n", upto);
	path = xasprintf("%s/seq", ob->dir);
	rc = fs_write_atomic(path, num, strlen(num));
	free(path);
	if (rc == OK)
		ob->reserved = upto;
	return rc;
}

/* ---- dead letters ---- */

/* Move message `id` (pending entry `e` of `doc`) to dead/<id>.json with
 * the error, and drop it from its post. */
static int
dead_letter(struct outbox *ob, uint64_t post, json_t *doc, uint64_t id, const char *why)
{
	json_t *d = json_deep_copy(doc), *e;
	long i = pending_find(doc, id);
	char *path, *text, *clean;
	int rc;

	if (!d)
		return err_set(ERR, "out of memory");
	json_object_del(d, "pending");
	json_object_set_new(d, "post", json_integer((json_int_t)post));
	if (i >= 0) {
		e = json_array_get(json_object_get(doc, "pending"), (size_t)i);
		json_object_set(d, "provider", json_object_get(e, "provider"));
		json_object_set(d, "type", json_object_get(e, "type"));
		json_object_set(d, "attempts", json_object_get(e, "attempts"));
	}
	json_object_set_new(d, "id", json_integer((json_int_t)id));
	clean = clean_text(why, 1000, 1);
	json_object_set_new(d, "error", json_string(clean));
	free(clean);
	json_object_set_new(d, "dead_at", json_integer((json_int_t)time(NULL)));
	text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	if (!text)
		return err_set(ERR, "cannot encode dead letter %" PRIu64, id);
	path = xasprintf("%s/%" PRIu64 ".json", ob->dead, id);
	rc = fs_write_atomic(path, text, strlen(text));
	free(path);
	free(text);
	if (rc != OK)
		return rc;
	ob->ndead++;
	return post_forget(ob, post, doc, id);
}

/* ---- open ---- */

static double
clock_mono(void)
{
	return log_now();
}

static const struct chat_provider *
find_in(const struct chat_provider *const *table, const char *name)
{
	size_t i;

	if (!table)
		return chat_find(name);
	for (i = 0; table[i]; i++)
		if (strcmp(table[i]->name, name) == 0)
			return chat_provider_ok(table[i]) ? table[i] : NULL;
	return NULL;
}

static int
open_providers(struct outbox *ob, const struct ynode *list,
    const struct chat_provider *const *table)
{
	size_t i;

	if (!list)
		return OK;
	if (list->type == YNODE_SCALAR && ynode_scalar_kind(list) == YSCALAR_NULL)
		return OK;
	if (list->type != YNODE_SEQ)
		return err_set(ERR_INVALID, "%d:%d: chat: must be a list, not %s",
		    list->line, list->col, ynode_type_name(list));
	ob->prov = xcalloc(list->n ? list->n : 1, sizeof(*ob->prov));
	for (i = 0; i < list->n; i++) {
		const struct ynode *item = list->items[i], *type = ynode_get(item, "type");
		const struct chat_provider *p;
		int rc;

		if (item->type != YNODE_MAP || !type || type->type != YNODE_SCALAR)
			return err_set(ERR_INVALID, "%d:%d: chat[%zu]: must be a mapping with a type",
			    item->line, item->col, i);
		if (!(p = find_in(table, type->str)))
			return err_set(ERR_INVALID, "%d:%d: chat[%zu]: unknown type '%.64s'",
			    type->line, type->col, i, type->str);
		if ((rc = p->ops->open(&ob->prov[i].st, item)) != OK) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err_last());
			return err_set(rc == ERR_AGAIN ? ERR : rc, "%d:%d: chat[%zu] %s: %s",
			    item->line, item->col, i, p->name, msg);
		}
		ob->prov[i].p = p;
		ob->prov[i].cfg = ynode_dup(item);
		ob->nprov = i + 1;
	}
	return OK;
}

/* Queue the pending messages of one post file found at open. */
static void
load_post(struct outbox *ob, uint64_t post, uint64_t *max_id)
{
	json_t *doc = NULL, *pend, *e;
	size_t i;
	int rc;

	if (post > *max_id)
		*max_id = post;
	if ((rc = post_load(&doc, ob, post)) != OK) {
		/* Keep the evidence aside rather than retrying it forever. */
		char *from = post_path(ob, post);
		char *to = xasprintf("%s/%" PRIu64 ".corrupt", ob->dead, post);

		set_last_error(ob, "%s; moved to %s", err_last(), to);
		if (rename(from, to) == 0)
			ob->ndead++;
		free(from);
		free(to);
		return;
	}
	pend = json_object_get(doc, "pending");
	for (i = 0; i < json_array_size(pend); ) {
		struct omsg m;
		json_int_t pi;
		const char *type;

		e = json_array_get(pend, i);
		m.id = (uint64_t)json_integer_value(json_object_get(e, "id"));
		m.post = post;
		m.attempts = (unsigned)json_integer_value(json_object_get(e, "attempts"));
		m.due = ob->now();
		pi = json_integer_value(json_object_get(e, "provider"));
		type = json_string_value(json_object_get(e, "type"));
		if (m.id > *max_id)
			*max_id = m.id;
		if (pi < 0 || (size_t)pi >= ob->nprov || strcmp(ob->prov[pi].p->name, type) != 0) {
			char why[160];

			snprintf(why, sizeof(why), "chat[%lld] (%s) is no longer in the config",
			    (long long)pi, type);
			if (dead_letter(ob, post, doc, m.id, why) == OK)
				set_last_error(ob, "message %" PRIu64 ": %s; moved to dead/", m.id, why);
			/* dead_letter removed entry i: do not advance. */
			if (pending_find(doc, m.id) >= 0)
				i++;
			continue;
		}
		queue_push(&ob->prov[pi], &m);
		i++;
	}
	json_decref(doc);
}

/* fs_write_atomic()'s temporary left by a process that is gone (a live
 * one may be about to rename it in). */
static int
stale_tmp(const char *name)
{
	return fs_tmp_stale(name);
}

static char *thread_path(const struct outbox *ob, const char *key, size_t idx);

/*
 * Message `id` has a .sent mark: its service took it before the last
 * process died, which had not yet dropped it from its post file.  Drop it
 * now (and record the thread reference the mark holds, if the thread has
 * none), instead of sending it again.
 */
static void
forget_sent(struct outbox *ob, uint64_t id)
{
	char *path = sent_path(ob, id);
	struct buf ref = BUF_INIT;
	size_t i, k;

	(void)fs_read(&ref, path, 256);
	for (i = 0; i < ob->nprov; i++)
		for (k = 0; k < ob->prov[i].n; k++) {
			struct oprov *pv = &ob->prov[i];
			json_t *doc = NULL, *jt;
			const char *plan = NULL, *key = NULL;

			if (pv->q[k].id != id)
				continue;
			if (post_load(&doc, ob, pv->q[k].post) == OK) {
				plan = json_string_value(json_object_get(doc, "plan_id"));
				jt = json_object_get(doc, "thread");
				key = jt ? json_string_value(jt) : plan;
				if (key && plan_id_ok(key) && ref.len && !memchr(ref.data, '\n', ref.len)) {
					char *tp = thread_path(ob, key, i);
					struct stat sb;

					if (lstat(tp, &sb) != 0)
						(void)fs_write_atomic(tp, ref.data, ref.len);
					free(tp);
				}
				if (post_forget(ob, pv->q[k].post, doc, id) != OK)
					set_last_error(ob, "message %" PRIu64 ": delivered before a restart "
					    "but not marked: %s", id, err_last());
			}
			log_event("outbox", "message %" PRIu64 " (plan %s) to chat[%zu] %s was delivered "
			    "before a restart; not sending it again", id,
			    plan && plan_id_ok(plan) ? plan : "-", i, pv->p->name);
			json_decref(doc);
			memmove(&pv->q[k], &pv->q[k + 1], (pv->n - k - 1) * sizeof(*pv->q));
			pv->n--;
			goto out;
		}
out:
	unlink(path);
	fs_mirror_del(path);
	free(path);
	buf_dispose(&ref);
}

static int
load_dir(struct outbox *ob)
{
	DIR *d = opendir(ob->dir);
	struct dirent *e;
	uint64_t *posts = NULL, *markers = NULL, *sent = NULL, max_id = 0, v;
	size_t nposts = 0, nmarkers = 0, nsent = 0, i, j;

	if (!d)
		return err_set(ERR, "%s: %s", ob->dir, strerror(errno));
	while ((e = readdir(d))) {
		if ((v = name_id(e->d_name, ".json"))) {
			posts = xrealloc(posts, (nposts + 1) * sizeof(*posts));
			posts[nposts++] = v;
		} else if ((v = name_id(e->d_name, ".sending"))) {
			markers = xrealloc(markers, (nmarkers + 1) * sizeof(*markers));
			markers[nmarkers++] = v;
		} else if ((v = name_id(e->d_name, ".sent"))) {
			sent = xrealloc(sent, (nsent + 1) * sizeof(*sent));
			sent[nsent++] = v;
		} else if (stale_tmp(e->d_name)) {
			/* A write that a crash interrupted: never renamed in, so
			 * it holds nothing that was accepted. */
			unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	closedir(d);
	xqsort(posts, nposts, sizeof(*posts), u64_cmp);
	for (i = 0; i < nposts; i++)
		load_post(ob, posts[i], &max_id);
	for (i = 0; i < ob->nprov; i++)
		xqsort(ob->prov[i].q, ob->prov[i].n, sizeof(*ob->prov[i].q), omsg_cmp);
	for (j = 0; j < nsent; j++) {
		forget_sent(ob, sent[j]);
		if (sent[j] > max_id)
			max_id = sent[j];
	}

	/* A marker is a message that was in flight when the last process
	 * died: its service may have it already. */
	for (j = 0; j < nmarkers; j++) {
		int pending = 0;

		for (i = 0; i < ob->nprov && !pending; i++) {
			size_t k;

			for (k = 0; k < ob->prov[i].n; k++)
				if (ob->prov[i].q[k].id == markers[j]) {
					json_t *doc = NULL;
					const char *plan = NULL;

					/* Name the plan too: what a reader of the log (and
					 * the crash test) matches a duplicate with. */
					if (post_load(&doc, ob, ob->prov[i].q[k].post) == OK)
						plan = json_string_value(json_object_get(doc, "plan_id"));
					log_event("outbox", "message %" PRIu64 " (plan %s) to chat[%zu] %s may "
					    "have been delivered before a restart; sending it again", markers[j],
					    plan && plan_id_ok(plan) ? plan : "-", i, ob->prov[i].p->name);
					json_decref(doc);
					pending = 1;
					break;
				}
		}
		if (!pending) {
			char *path = marker_path(ob, markers[j]);

			unlink(path);
			free(path);
		}
		if (markers[j] > max_id)
			max_id = markers[j];
	}
	if (max_id >= ob->next_id)
		ob->next_id = max_id + 1;
	free(posts);
	free(markers);
	free(sent);
	return OK;
}

/* Count the dead letters; ids stay above theirs too (should outbox/seq
 * ever be lost). */
static void
scan_dead(struct outbox *ob)
{
	DIR *d = opendir(ob->dead);
	struct dirent *e;
	uint64_t v;

	ob->ndead = 0;
	if (!d)
		return;
	while ((e = readdir(d)))
		if ((v = name_id(e->d_name, ".json")) || (v = name_id(e->d_name, ".corrupt"))) {
			ob->ndead++;
			if (v >= ob->next_id)
				ob->next_id = v + 1;
		}
	closedir(d);
}

static int
read_seq(struct outbox *ob)
{
	char *path = xasprintf("%s/seq", ob->dir);
	struct buf b = BUF_INIT;
	uint64_t v;
	int rc;

	rc = fs_read(&b, path, 64);
	if (rc == ERR_NOTFOUND) {
		rc = OK;
		ob->next_id = 1;
	} else if (rc == OK) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = '\0';
		if (parse_u64(&v, b.data ? b.data : "", 1, UINT64_MAX / 4) != OK)
			rc = err_set(ERR, "%s: not a number", path);
		else
			ob->next_id = v;   /* ids below were (or may have been) used */
	}
	ob->reserved = ob->next_id;
	buf_dispose(&b);
	free(path);
	return rc;
}

int
outbox_open_with(struct outbox **out, const char *state_dir, const struct ynode *chat_list,
    const struct chat_provider *const *providers)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));
	char *path;
	struct buf b = BUF_INIT;
	int rc;

	*out = NULL;
	ob->now = clock_mono;
	ob->dir = xasprintf("%s/outbox", state_dir);
	ob->dead = xasprintf("%s/outbox/dead", state_dir);
	ob->threads = xasprintf("%s/threads", state_dir);
	if ((rc = open_providers(ob, chat_list, providers)) != OK)
		goto fail;
	/* Private (state.c's table): messages and threads are nobody else's. */
	if ((rc = fs_mkdir_p(ob->dead, STATE_MODE_PRIVATE_DIR)) != OK ||
	    (rc = fs_mkdir_p(ob->threads, STATE_MODE_PRIVATE_DIR)) != OK)
		goto fail;
	if ((rc = read_seq(ob)) != OK || (rc = load_dir(ob)) != OK)
		goto fail;
	scan_dead(ob);
	path = xasprintf("%s/last-error", ob->dir);
	if (fs_read(&b, path, 4096) == OK && b.len) {
		while (b.len && b.data[b.len - 1] == '\n')
			b.data[--b.len] = '\0';
		if (!ob->last_error)
			ob->last_error = buf_steal(&b);
	}
	buf_dispose(&b);
	free(path);
	*out = ob;
	return OK;
fail:
	{
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_last());
		outbox_close(ob);
		return err_set(rc, "%s", msg);
	}
}

int
outbox_open(struct outbox **out, const char *state_dir, const struct ynode *chat_list)
{
	return outbox_open_with(out, state_dir, chat_list, NULL);
}

void
outbox_test_set_clock(struct outbox *ob, double (*now)(void))
{
	double old = ob->now(), cur = now();
	size_t i, k;

	/* Keep what is due relative to the new clock. */
	for (i = 0; i < ob->nprov; i++)
		for (k = 0; k < ob->prov[i].n; k++)
			ob->prov[i].q[k].due = ob->prov[i].q[k].due - old + cur;
	ob->now = now;
}

void
outbox_close(struct outbox *ob)
{
	size_t i;

	if (!ob)
		return;
	for (i = 0; i < ob->nprov; i++) {
		if (ob->prov[i].p)
			ob->prov[i].p->ops->close(ob->prov[i].st);
		ynode_free(ob->prov[i].cfg);
		free(ob->prov[i].q);
	}
	free(ob->prov);
	free(ob->dir);
	free(ob->dead);
	free(ob->threads);
	free(ob->last_error);
	free(ob);
}

/* ---- post ---- */

int
outbox_send(struct outbox *ob, const struct outbox_msg *msg)
{
	const char *thread = msg->thread ? msg->thread : msg->plan_id;
	json_t *doc, *pend;
	char *s_summary, *s_body = NULL;
	uint64_t post, first_id;
	size_t i, first, n;
	int rc, bad = 0;

	if (msg->plan_id && !plan_id_ok(msg->plan_id))
		return err_set(ERR_INVALID, "outbox: bad plan id '%.80s'", msg->plan_id);
	if (msg->thread && !plan_id_ok(msg->thread))
		return err_set(ERR_INVALID, "outbox: bad thread key '%.80s'", msg->thread);
	if (msg->url && !url_ok(msg->url))
		return err_set(ERR_INVALID, "outbox: the plan URL must be http(s) without spaces");
	if (msg->only < -1 || (msg->only >= 0 && (size_t)msg->only >= ob->nprov))
		return err_set(ERR_INVALID, "outbox: no chat backend %d (there are %zu)",
		    msg->only, ob->nprov);
	if (msg->to && msg->only < 0)
		return err_set(ERR_INVALID, "outbox: 'to' needs one backend ('only')");
	if (msg->to && !to_ok(msg->to))
		return err_set(ERR_INVALID, "outbox: bad recipient '%.80s'", msg->to);
	if (msg->post && msg->post >= ob->next_id)
		return err_set(ERR_INVALID, "outbox: post %" PRIu64 " was never reserved", msg->post);
	if (ob->nprov == 0)
		return OK;
	/* A reserved post sent before a crash and found queued at restart. */
	if (msg->post && outbox_queued(ob, msg->post))
		return OK;
	first = msg->only >= 0 ? (size_t)msg->only : 0;
	n = msg->only >= 0 ? 1 : ob->nprov;
	if ((rc = ids_reserve(ob, n)) != OK)
		return rc;
	/* A new post is named by its first message's id; a reserved one by
	 * its own, its messages taking ids of now, so that every backend's
	 * queue stays in sending order. */
	post = msg->post ? msg->post : ob->next_id;
	first_id = ob->next_id;

	s_summary = clean_text(msg->summary ? msg->summary : "", OUTBOX_SUMMARY_MAX, 1);
	if (msg->body)
		s_body = clean_text(msg->body, OUTBOX_BODY_MAX, 0);
	doc = json_object();
	pend = json_array();
	bad |= json_object_set_new(doc, "version", json_integer(2));
	bad |= json_object_set_new(doc, "id", json_integer((json_int_t)post));
	bad |= json_object_set_new(doc, "plan_id",
	    msg->plan_id ? json_string(msg->plan_id) : json_null());
	bad |= json_object_set_new(doc, "thread", thread ? json_string(thread) : json_null());
	bad |= json_object_set_new(doc, "summary", json_string(s_summary));
	bad |= json_object_set_new(doc, "body", s_body ? json_string(s_body) : json_null());
	bad |= json_object_set_new(doc, "url", msg->url ? json_string(msg->url) : json_null());
	bad |= json_object_set_new(doc, "actions", json_boolean(msg->actions));
	bad |= json_object_set_new(doc, "only",
	    msg->only >= 0 ? json_integer(msg->only) : json_null());
	bad |= json_object_set_new(doc, "to", msg->to ? json_string(msg->to) : json_null());
	bad |= json_object_set_new(doc, "created", json_integer((json_int_t)time(NULL)));
	for (i = 0; i < n; i++)
		bad |= json_array_append_new(pend, json_pack("{s:I, s:I, s:s, s:i}",
		    "id", (json_int_t)(first_id + i), "provider", (json_int_t)(first + i),
		    "type", ob->prov[first + i].p->name, "attempts", 0));
	bad |= json_object_set_new(doc, "pending", pend);
	free(s_summary);
	free(s_body);
	if (bad) {
		json_decref(doc);
		return err_set(ERR, "outbox: cannot encode the message");
	}
	rc = post_save(ob, post, doc);
	json_decref(doc);
	if (rc != OK)
		return rc;
	ob->next_id += n;
	for (i = 0; i < n; i++) {
		struct omsg m = { first_id + i, post, 0, ob->now() };

		queue_push(&ob->prov[first + i], &m);
	}
	return OK;
}

int
outbox_reserve(struct outbox *ob, uint64_t *post)
{
	int rc;

	*post = 0;
	if (ob->nprov == 0)
		return OK;
	if ((rc = ids_reserve(ob, 1)) != OK)
		return rc;
	*post = ob->next_id++;
	return OK;
}

int
outbox_queued(const struct outbox *ob, uint64_t post)
{
	size_t i, k;

	for (i = 0; i < ob->nprov; i++)
		for (k = 0; k < ob->prov[i].n; k++)
			if (ob->prov[i].q[k].post == post)
				return 1;
	return 0;
}

int
outbox_post(struct outbox *ob, const char *plan_id, const char *summary,
    const char *body, const char *url, int actions)
{
	struct outbox_msg m = {
		.plan_id = plan_id, .thread = NULL, .summary = summary, .body = body,
		.url = url, .actions = actions, .only = -1, .to = NULL,
	};

	return outbox_send(ob, &m);
}

/* ---- delivery ---- */

enum { TRY_DELIVERED, TRY_RETRY, TRY_DEAD };

static char *
thread_path(const struct outbox *ob, const char *key, size_t idx)
{
	return xasprintf("%s/%s.%zu", ob->threads, key, idx);
}

/* Thread `key`'s reference at backend idx (owns), or NULL. */
static char *
thread_get(const struct outbox *ob, const char *key, size_t idx)
{
	char *path = thread_path(ob, key, idx);
	struct buf b = BUF_INIT;

	if (fs_read(&b, path, 256) != OK || b.len == 0) {
		buf_dispose(&b);
		free(path);
		return NULL;
	}
	free(path);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	return buf_steal(&b);
}

static unsigned
backoff(unsigned attempts)
{
	unsigned s = 1;

	while (attempts-- > 1 && s < OUTBOX_BACKOFF_MAX)
		s *= 2;
	return s > OUTBOX_BACKOFF_MAX ? OUTBOX_BACKOFF_MAX : s;
}

/*
 * Message `id` was delivered: its .sending marker becomes <id>.sent,
 * holding the thread reference the service returned when this message
 * starts a thread (or nothing).  Two syscalls and no fsync: what a kill
 * -9 leaves the kernel keeps, so from here on a restart knows the
 * service has the message and does not send it again (load_dir).  A
 * power cut may lose it; the message is then sent again, as before.
 */
static void
mark_sent(const struct outbox *ob, uint64_t id, const char *thread_ref)
{
	char *from = marker_path(ob, id), *to = sent_path(ob, id);

	if (thread_ref) {
		int fd = open(from, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);

		if (fd >= 0) {
			size_t n = strlen(thread_ref), off = 0;

			while (off < n) {
				ssize_t w = write(fd, thread_ref + off, n - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			close(fd);
		}
	}
	(void)rename(from, to);
	/* A mirrored outbox (an HA leader's) says it to etcd at once, so a
	 * successor that adopts etcd's state knows it too (the window is
	 * then one etcd round trip, not a loop turn). */
	(void)fs_mirror_put(to, thread_ref ? thread_ref : "", thread_ref ? strlen(thread_ref) : 0);
	free(from);
	free(to);
}

static int
try_one(struct outbox *ob, size_t idx, struct omsg *m)
{
	struct oprov *pv = &ob->prov[idx];
	struct chat_message cm;
	json_t *doc = NULL, *e, *jt;
	const char *key;
	char idbuf[32], *thread = NULL, *thread_out = NULL, *marker;
	unsigned retry_after = 0, wait;
	long pi;
	int rc, fd, result;

	if ((rc = post_load(&doc, ob, m->post)) != OK || (pi = pending_find(doc, m->id)) < 0) {
		/* Gone or delivered already (a file restored by hand, say):
		 * nothing to send. */
		if (rc == ERR_INVALID)
			set_last_error(ob, "%s", err_last());
		json_decref(doc);
		return TRY_DEAD;
	}
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, m->id);
	memset(&cm, 0, sizeof(cm));
	cm.id = idbuf;
	cm.plan_id = json_string_value(json_object_get(doc, "plan_id"));
	if (cm.plan_id && !plan_id_ok(cm.plan_id))
		cm.plan_id = NULL;
	cm.summary = json_string_value(json_object_get(doc, "summary"));
	cm.body = json_string_value(json_object_get(doc, "body"));
	cm.url = json_string_value(json_object_get(doc, "url"));
	cm.actions = json_is_true(json_object_get(doc, "actions"));
	cm.to = json_string_value(json_object_get(doc, "to"));
	if (cm.to && !to_ok(cm.to))
		cm.to = NULL;
	/* A version 1 file has no "thread": its plan's thread. */
	jt = json_object_get(doc, "thread");
	key = jt ? json_string_value(jt) : cm.plan_id;
	if (key && !plan_id_ok(key))
		key = NULL;
	if (key)
		cm.thread = thread = thread_get(ob, key, idx);

	/* In flight: if we die before the outcome is recorded, the next
	 * start knows this one may have arrived. */
	marker = marker_path(ob, m->id);
	if (fs_mirror_put(marker, "", 0) != OK) {
		/* A mirrored outbox (an HA leader's) that cannot say so is not
		 * the one to send: a deposed leader posts nothing. */
		set_last_error(ob, "message %s to chat[%zu]: not sent: %s", idbuf, idx, err_last());
		m->due = ob->now() + 1;
		free(marker);
		free(thread);
		json_decref(doc);
		return TRY_RETRY;
	}
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, STATE_MODE_PRIVATE);
	if (fd >= 0)
		close(fd);

	m->attempts++;
	rc = pv->p->ops->post(pv->st, &cm, &thread_out, &retry_after);
	if (rc == OK) {
		/* The one window left: the service has it, nothing here says
		 * so yet.  The .sent mark closes it within microseconds (no
		 * fsync); the rest below is then only tidying up. */
		crash_point("after-delivery");
		if (fd >= 0)
			mark_sent(ob, m->id, key && thread_out && !thread ? thread_out : NULL);
		crash_point("after-sent-mark");
		if (key && thread_out && !thread) {
			char *tp = thread_path(ob, key, idx);

			if (fs_write_atomic(tp, thread_out, strlen(thread_out)) != OK)
				log_event("outbox", "thread %s: cannot record it: %s", key, err_last());
			free(tp);
		}
		if (post_forget(ob, m->post, doc, m->id) != OK)
			/* Delivered, but the file says pending: a restart would
			 * send it again.  Say so; nothing better to do. */
			set_last_error(ob, "message %s delivered to chat[%zu] %s but not "
			    "marked: %s", idbuf, idx, pv->p->name, err_last());
		result = TRY_DELIVERED;
	} else if (rc == ERR_AGAIN) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", err_last());
		wait = retry_after ? retry_after : backoff(m->attempts);
		if (wait > OUTBOX_RETRY_AFTER_MAX)
			wait = OUTBOX_RETRY_AFTER_MAX;
		m->due = ob->now() + wait;
		e = json_array_get(json_object_get(doc, "pending"), (size_t)pi);
		json_object_set_new(e, "attempts", json_integer((json_int_t)m->attempts));
		(void)post_save(ob, m->post, doc);
		set_last_error(ob, "message %s to chat[%zu]: %s (attempt %u; next in %u s)",
		    idbuf, idx, msg, m->attempts, wait);
		result = TRY_RETRY;
	} else {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", err_last());
		e = json_array_get(json_object_get(doc, "pending"), (size_t)pi);
		json_object_set_new(e, "attempts", json_integer((json_int_t)m->attempts));
		if (dead_letter(ob, m->post, doc, m->id, msg) != OK) {
			/* Cannot even move it aside (disk full?): keep it, retry
			 * later, which sends it again; better than losing it. */
			m->due = ob->now() + OUTBOX_BACKOFF_MAX;
			set_last_error(ob, "message %s to chat[%zu]: %s; and moving it to "
			    "dead/ failed: %s", idbuf, idx, msg, err_last());
			result = TRY_RETRY;
		} else {
			set_last_error(ob, "message %s to chat[%zu]: %s; moved to dead/",
			    idbuf, idx, msg);
			result = TRY_DEAD;
		}
	}
	unlink(marker);
	fs_mirror_del(marker);
	free(marker);
	if (result == TRY_DELIVERED) {
		char *sent = sent_path(ob, m->id);

		unlink(sent);
		fs_mirror_del(sent);
		free(sent);
	}
	free(thread);
	free(thread_out);
	json_decref(doc);
	return result;
}

int
outbox_run(struct outbox *ob)
{
	double start = ob->now();
	int delivered = 0, tried = 0;
	size_t i;

	for (i = 0; i < ob->nprov; i++) {
		struct oprov *pv = &ob->prov[i];

		while (pv->n > 0 && pv->q[0].due <= ob->now()) {
			int r;

			/* Stay responsive: the event loop has other work. */
			if (tried && ob->now() - start > OUTBOX_RUN_BUDGET)
				return delivered;
			tried++;
			r = try_one(ob, i, &pv->q[0]);
			if (r == TRY_RETRY)
				break;
			if (r == TRY_DELIVERED)
				delivered++;
			queue_pop(pv);
		}
	}
	return delivered;
}

int
outbox_next_due(const struct outbox *ob)
{
	double now = ob->now(), best = -1;
	size_t i;
	int secs;

	for (i = 0; i < ob->nprov; i++)
		if (ob->prov[i].n && (best < 0 || ob->prov[i].q[0].due - now < best))
			best = ob->prov[i].q[0].due - now < 0 ? 0 : ob->prov[i].q[0].due - now;
	if (best < 0)
		return -1;
	/* Round up: waking early would only find nothing due. */
	if (best > (double)INT_MAX)
		return INT_MAX;
	secs = (int)best;
	return (double)secs < best ? secs + 1 : secs;
}

size_t
outbox_fds(struct outbox *ob, int *fds, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < ob->nprov && n < max; i++) {
		int fd;

		if (!ob->prov[i].p->ops->fd)
			continue;
		if ((fd = ob->prov[i].p->ops->fd(ob->prov[i].st)) >= 0)
			fds[n++] = fd;
	}
	return n;
}

void
outbox_tick(struct outbox *ob)
{
	size_t i;

	for (i = 0; i < ob->nprov; i++)
		if (ob->prov[i].p->ops->tick)
			ob->prov[i].p->ops->tick(ob->prov[i].st);
}

int
outbox_recv(struct outbox *ob, struct chat_command *in)
{
	size_t k;

	memset(in, 0, sizeof(*in));
	for (k = 0; k < ob->nprov; k++) {
		size_t i = (ob->recv_next + k) % ob->nprov;
		const struct chat_provider *p = ob->prov[i].p;

		if (!(p->caps & CHAT_CAN_RECV) || !p->ops->recv)
			continue;
		if (p->ops->recv(ob->prov[i].st, in) != 1)
			continue;
		ASSERT(in->identity && in->via && in->text);
		/* Next time, the backend after this one goes first. */
		ob->recv_next = (i + 1) % ob->nprov;
		return (int)i;
	}
	return -1;
}

size_t
outbox_backend_count(const struct outbox *ob)
{
	return ob->nprov;
}

const char *
outbox_backend_type(const struct outbox *ob, int idx)
{
	if (idx < 0 || (size_t)idx >= ob->nprov)
		return NULL;
	return ob->prov[idx].p->name;
}

const char *const *
outbox_routes(const struct outbox *ob, int idx)
{
	const struct chat_provider *p;

	if (idx < 0 || (size_t)idx >= ob->nprov)
		return NULL;
	p = ob->prov[idx].p;
	return (p->caps & CHAT_CAN_HTTP) ? p->ops->routes(ob->prov[idx].st) : NULL;
}

int
outbox_http(struct outbox *ob, int idx, const struct chat_http_request *rq,
    struct chat_command *cmd, struct chat_http_reply *rep)
{
	const struct chat_provider *p;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	ASSERT(idx >= 0 && (size_t)idx < ob->nprov);
	p = ob->prov[idx].p;
	ASSERT(p->caps & CHAT_CAN_HTTP);
	rc = p->ops->http(ob->prov[idx].st, rq, cmd, rep);
	if (rc == CHAT_HTTP_COMMAND)
		ASSERT(cmd->identity && cmd->via && cmd->text);
	return rc;
}

void
outbox_ack(struct outbox *ob, int idx, const struct chat_command *cmd, const char *text,
    struct chat_http_reply *rep)
{
	ASSERT(idx >= 0 && (size_t)idx < ob->nprov && (ob->prov[idx].p->caps & CHAT_CAN_HTTP));
	ob->prov[idx].p->ops->ack(ob->prov[idx].st, cmd, text, rep);
}

int
outbox_replies_itself(const struct outbox *ob, int idx)
{
	return idx >= 0 && (size_t)idx < ob->nprov && ob->prov[idx].p->ops->reply != NULL;
}

size_t
outbox_depth(const struct outbox *ob)
{
	size_t i, n = 0;

	for (i = 0; i < ob->nprov; i++)
		n += ob->prov[i].n;
	return n;
}

size_t
outbox_dead(const struct outbox *ob)
{
	return ob->ndead;
}

const char *
outbox_last_error(const struct outbox *ob)
{
	return ob->last_error;
}
