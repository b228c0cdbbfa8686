/*
 * rollouts.c - a rollout's durable record and its journal.  See
 * rollouts.h.
 */
#include "state/rollouts.h"

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
#include "base/names.h"
#include "state/state.h"

#define RO_RECORD_MAX (64u << 20)
#define RO_JOURNAL_LINE_MAX 8192

static const char *const rh_names[RH__COUNT] = {
	"pending", "running", "unchanged", "changed", "failed", "unreachable", "skipped",
};
static const char *const ro_names[RO__COUNT] = {
	"waiting", "running", "gate", "stopped", "done", "aborted", "superseded",
};

const char *
rh_state_name(enum rh_state s)
{
	return s < RH__COUNT ? rh_names[s] : "?";
}

int
rh_state_parse(enum rh_state *out, const char *s)
{
	int i;

	for (i = 0; s && i < RH__COUNT; i++)
		if (strcmp(s, rh_names[i]) == 0) {
			*out = (enum rh_state)i;
			return OK;
		}
	return ERR_INVALID;
}

const char *
ro_status_name(enum ro_status s)
{
	return s < RO__COUNT ? ro_names[s] : "?";
}

static int
ro_status_parse(enum ro_status *out, const char *s)
{
	int i;

	for (i = 0; s && i < RO__COUNT; i++)
		if (strcmp(s, ro_names[i]) == 0) {
			*out = (enum ro_status)i;
			return OK;
		}
	return ERR_INVALID;
}

static void
host_dispose(struct ro_host *h)
{
	free(h->fqdn);
	free(h->how);
	free(h->tail);
	free(h->line);
	free(h->note);
}

void
ro_record_free(struct ro_record *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nhosts; i++)
		host_dispose(&r->hosts[i]);
	free(r->hosts);
	free(r->subject);
	free(r->why);
	free(r->superseded_by);
	json_decref(r->announce);
	if (r->jfd >= 0)
		close(r->jfd);
	free(r);
}

static int
id_ok(const char *id)
{
	uint64_t v;

	return id && parse_u64(&v, id, 1, 1ul << 62) == OK;
}

static int
path_of(char *out, size_t n, const char *dir, const char *id, const char *ext)
{
	int k = snprintf(out, n, "%s/rollouts/%s.%s", dir, id, ext);

	if (k < 0 || (size_t)k >= n)
		return err_set(ERR_TOOBIG, "path too long");
	return OK;
}

/* ---- JSON ------------------------------------------------------------------------ */

static void
set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *
host_json(const struct ro_host *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "host", json_string(h->fqdn));
	json_object_set_new(o, "group", json_integer(h->group));
	json_object_set_new(o, "state", json_string(rh_state_name(h->state)));
	json_object_set_new(o, "attempts", json_integer(h->attempts));
	if (h->started > 0)
		json_object_set_new(o, "started", json_real(h->started));
	if (RH_ENDED(h->state)) {
		json_object_set_new(o, "seconds", json_real(h->seconds));
		json_object_set_new(o, "exit", h->code >= 0 ? json_integer(h->code) : json_null());
	}
	set_str(o, "how", h->how);
	set_str(o, "tail", h->tail);
	set_str(o, "line", h->line);
	set_str(o, "note", h->note);
	return o;
}

static char *
jdup(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? xstrdup(s) : NULL;
}

/* Fill h from o; the fqdn must be valid.  ERR_INVALID otherwise. */
static int
host_from_json(struct ro_host *h, json_t *o)
{
	const char *fq = json_string_value(json_object_get(o, "host"));
	json_t *e;

	if (!fq || !valid_fqdn(fq) ||
	    rh_state_parse(&h->state, json_string_value(json_object_get(o, "state"))) != OK)
		return ERR_INVALID;
	host_dispose(h);
	memset(h, 0, sizeof(*h));
	rh_state_parse(&h->state, json_string_value(json_object_get(o, "state")));
	h->fqdn = xstrdup(fq);
	h->group = (unsigned)json_integer_value(json_object_get(o, "group"));
	h->attempts = (unsigned)json_integer_value(json_object_get(o, "attempts"));
	h->started = json_number_value(json_object_get(o, "started"));
	h->seconds = json_number_value(json_object_get(o, "seconds"));
	e = json_object_get(o, "exit");
	h->code = json_is_integer(e) ? (int)json_integer_value(e) : -1;
	h->how = jdup(o, "how");
	h->tail = jdup(o, "tail");
	h->line = jdup(o, "line");
	h->note = jdup(o, "note");
	return OK;
}

json_t *
ro_record_json(const struct ro_record *r)
{
	json_t *o = json_object(), *hosts = json_array();
	size_t i, n[RH__COUNT];
	json_t *counts = json_object();

	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "target", json_string(r->target));
	set_str(o, "subject", r->subject);
	json_object_set_new(o, "status", json_string(ro_status_name(r->status)));
	set_str(o, "why", r->why);
	json_object_set_new(o, "group", json_integer(r->group));
	json_object_set_new(o, "groups", json_integer(r->ngroups));
	json_object_set_new(o, "staged", json_boolean(r->staged));
	json_object_set_new(o, "promoted", json_boolean(r->promoted));
	if (r->gate_passed)
		json_object_set_new(o, "gate_passed", json_true());
	json_object_set_new(o, "failures", json_integer((json_int_t)r->failures));
	json_object_set_new(o, "max_failures", json_integer((json_int_t)r->max_failures));
	json_object_set_new(o, "parallel", json_integer(r->parallel));
	set_str(o, "superseded_by", r->superseded_by);
	json_object_set_new(o, "created", json_real(r->created));
	if (r->ended > 0)
		json_object_set_new(o, "ended", json_real(r->ended));
	ro_record_counts(r, n);
	for (i = 0; i < RH__COUNT; i++)
		json_object_set_new(counts, rh_state_name((enum rh_state)i), json_integer((json_int_t)n[i]));
	json_object_set_new(o, "counts", counts);
	for (i = 0; i < r->nhosts; i++)
		json_array_append_new(hosts, host_json(&r->hosts[i]));
	json_object_set_new(o, "hosts", hosts);
	return o;
}

void
ro_record_counts(const struct ro_record *r, size_t n[RH__COUNT])
{
	size_t i;

	memset(n, 0, sizeof(size_t) * RH__COUNT);
	for (i = 0; i < r->nhosts; i++)
		n[r->hosts[i].state]++;
}

/* ---- writing ----------------------------------------------------------------------- */

static int
rollouts_dir(const char *dir)
{
	char path[4096];
	int k = snprintf(path, sizeof(path), "%s/rollouts", dir);

	if (k < 0 || (size_t)k >= sizeof(path))
		return err_set(ERR_TOOBIG, "path too long");
	return fs_mkdir_p(path, STATE_MODE_PRIVATE_DIR);
}

int
ro_record_save(const char *dir, struct ro_record *r)
{
	char path[4096], jpath[4096];
	json_t *o;
	char *text;
	int rc;

	if (!id_ok(r->id))
		return err_set(ERR_INVALID, "'%s' is not a rollout id", r->id);
	if ((rc = rollouts_dir(dir)) != OK || (rc = path_of(path, sizeof(path), dir, r->id, "json")) != OK ||
	    (rc = path_of(jpath, sizeof(jpath), dir, r->id, "log")) != OK)
		return rc;
	o = ro_record_json(r);
	json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	if (r->announce && json_array_size(r->announce))
		json_object_set(o, "announce", r->announce);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return err_set(ERR, "rollout %s: cannot encode the record", r->id);
	rc = fs_write_atomic_mode(path, text, strlen(text), STATE_MODE_PRIVATE);
	free(text);
	if (rc != OK)
		return rc;
	/* The record holds every line so far: the journal starts again (its
	 * old lines would be skipped by their seq anyway). */
	if (RO_OVER(r->status)) {
		if (r->jfd >= 0)
			close(r->jfd);
		r->jfd = -1;
		unlink(jpath);
		return OK;
	}
	if (r->jfd >= 0) {
		if (ftruncate(r->jfd, 0) != 0)
			return err_set(ERR, "%s: %s", jpath, strerror(errno));
		return OK;
	}
	r->jfd = open(jpath, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (r->jfd < 0)
		return err_set(ERR, "%s: %s", jpath, strerror(errno));
	return OK;
}

int
ro_journal_host(const char *dir, struct ro_record *r, size_t i)
{
	json_t *o;
	char *text;
	size_t len;
	int rc;

	if (r->jfd < 0 && (rc = ro_record_save(dir, r)) != OK)
		return rc;
	o = host_json(&r->hosts[i]);
	json_object_set_new(o, "seq", json_integer((json_int_t)++r->seq));
	json_object_set_new(o, "i", json_integer((json_int_t)i));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return err_set(ERR, "rollout %s: cannot encode a journal line", r->id);
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	/* One write(2) per line: O_APPEND keeps lines whole against each
	 * other, and a torn last line is ignored on replay. */
	rc = fs_write_all(r->jfd, text, len);
	free(text);
	return rc;
}

void
ro_journal_sync(struct ro_record *r)
{
	if (r->jfd >= 0)
		(void)fdatasync(r->jfd);
}

/* ---- reading ------------------------------------------------------------------------ */

static void
replay(struct ro_record *r, const char *jpath)
{
	struct buf b = BUF_INIT;
	size_t off = 0;

	if (fs_read(&b, jpath, RO_RECORD_MAX) != OK) {
		buf_dispose(&b);
		return;
	}
	while (off < b.len) {
		char *nl = memchr(b.data + off, '\n', b.len - off);
		json_t *o;
		uint64_t seq;
		size_t i;

		if (!nl)
			break;                      /* a torn last line */
		*nl = '\0';
		o = json_loads(b.data + off, JSON_REJECT_DUPLICATES, NULL);
		off = (size_t)(nl - b.data) + 1;
		if (!o)
			break;
		seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
		i = (size_t)json_integer_value(json_object_get(o, "i"));
		if (seq > r->seq && i < r->nhosts &&
		    strcmp(json_string_value(json_object_get(o, "host")) ?
		    json_string_value(json_object_get(o, "host")) : "", r->hosts[i].fqdn) == 0 &&
		    host_from_json(&r->hosts[i], o) == OK)
			r->seq = seq;
		json_decref(o);
	}
	buf_dispose(&b);
}

int
ro_record_load(struct ro_record **out, const char *dir, const char *id)
{
	char path[4096], jpath[4096];
	struct buf b = BUF_INIT;
	struct ro_record *r;
	json_t *o, *hosts, *h;
	size_t i;
	int rc;

	*out = NULL;
	if (!id_ok(id))
		return err_set(ERR_INVALID, "'%.40s' is not a rollout id (a plan id)", id);
	if ((rc = path_of(path, sizeof(path), dir, id, "json")) != OK ||
	    (rc = path_of(jpath, sizeof(jpath), dir, id, "log")) != OK)
		return rc;
	if ((rc = fs_read(&b, path, RO_RECORD_MAX)) != OK) {
		buf_dispose(&b);
		return rc == ERR_NOTFOUND ? err_set(ERR_NOTFOUND, "there is no rollout %s", id) : rc;
	}
	o = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	buf_dispose(&b);
	if (!o || !json_is_object(o))
		return json_decref(o), err_set(ERR_INVALID, "rollout %s: the record does not parse", id);
	r = xcalloc(1, sizeof(*r));
	r->jfd = -1;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->target, sizeof(r->target), "%s", json_string_value(json_object_get(o, "target")) ?
	    json_string_value(json_object_get(o, "target")) : "");
	r->subject = jdup(o, "subject");
	if (ro_status_parse(&r->status, json_string_value(json_object_get(o, "status"))) != OK) {
		json_decref(o);
		ro_record_free(r);
		return err_set(ERR_INVALID, "rollout %s: no status", id);
	}
	r->why = jdup(o, "why");
	r->group = (unsigned)json_integer_value(json_object_get(o, "group"));
	r->ngroups = (unsigned)json_integer_value(json_object_get(o, "groups"));
	r->staged = json_is_true(json_object_get(o, "staged"));
	r->promoted = json_is_true(json_object_get(o, "promoted"));
	r->gate_passed = json_is_true(json_object_get(o, "gate_passed"));
	r->failures = (unsigned long)json_integer_value(json_object_get(o, "failures"));
	r->max_failures = (unsigned long)json_integer_value(json_object_get(o, "max_failures"));
	r->parallel = (unsigned)json_integer_value(json_object_get(o, "parallel"));
	r->superseded_by = jdup(o, "superseded_by");
	r->created = json_number_value(json_object_get(o, "created"));
	r->ended = json_number_value(json_object_get(o, "ended"));
	r->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
	if (json_is_array(json_object_get(o, "announce")))
		r->announce = json_incref(json_object_get(o, "announce"));
	hosts = json_object_get(o, "hosts");
	r->hosts = xcalloc(json_array_size(hosts) + 1, sizeof(*r->hosts));
	json_array_foreach(hosts, i, h) {
		if (host_from_json(&r->hosts[r->nhosts], h) == OK)
			r->nhosts++;
	}
	json_decref(o);
	replay(r, jpath);
	*out = r;
	return OK;
}

static int
ul_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

size_t
ro_active_ids(const char *dir, unsigned long *ids, size_t max)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/rollouts", dir);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)) && n < max) {
		char num[24];
		const char *dot = strrchr(e->d_name, '.');
		uint64_t v;

		if (!dot || strcmp(dot, ".log") != 0 || (size_t)(dot - e->d_name) >= sizeof(num))
			continue;
		memcpy(num, e->d_name, (size_t)(dot - e->d_name));
		num[dot - e->d_name] = '\0';
		if (num[0] != '0' && parse_u64(&v, num, 1, 1ul << 62) == OK)
			ids[n++] = (unsigned long)v;
	}
	closedir(d);
	xqsort(ids, n, sizeof(*ids), ul_cmp);
	return n;
}

int
ro_latest_id(const char *dir, char out[24])
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	unsigned long best = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/rollouts", dir);
	if (!(d = opendir(path)))
		return ERR_NOTFOUND;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		char num[24];
		uint64_t v;

		if (!dot || strcmp(dot, ".json") != 0 || (size_t)(dot - e->d_name) >= sizeof(num))
			continue;
		memcpy(num, e->d_name, (size_t)(dot - e->d_name));
		num[dot - e->d_name] = '\0';
		if (num[0] != '0' && parse_u64(&v, num, 1, 1ul << 62) == OK && v > best)
			best = (unsigned long)v;
	}
	closedir(d);
	if (!best)
		return ERR_NOTFOUND;
	snprintf(out, 24, "%lu", best);
	return OK;
}

/* ---- text ---------------------------------------------------------------------------- */

void
ro_record_text(struct buf *out, const struct ro_record *r)
{
	size_t n[RH__COUNT], i;
	const char *sep = "";

	ro_record_counts(r, n);
	buf_printf(out, "rollout %s for %.7s: %s", r->id, r->target, ro_status_name(r->status));
	if (r->why)
		buf_printf(out, " (%s)", r->why);
	buf_printf(out, ", %zu host%s:", r->nhosts, r->nhosts == 1 ? "" : "s");
	for (i = 0; i < RH__COUNT; i++)
		if (n[i]) {
			buf_printf(out, "%s %zu %s", sep, n[i], rh_state_name((enum rh_state)i));
			sep = ",";
		}
	buf_putc(out, '\n');
	for (i = 0; i < r->nhosts; i++) {
		const struct ro_host *h = &r->hosts[i];
		char group[24];

		if (h->group == 0)
			snprintf(group, sizeof(group), "canary");
		else
			snprintf(group, sizeof(group), "batch %u", h->group);
		buf_printf(out, "  %-11s %-9s %s", rh_state_name(h->state), group, h->fqdn);
		if (RH_ENDED(h->state))
			buf_printf(out, "  %.1f s", h->seconds);
		if (h->attempts > 1)
			buf_printf(out, "  (%u attempts)", h->attempts);
		if (RH_BAD(h->state) && h->line && h->line[0])
			buf_printf(out, "  %s", h->line);
		if (h->note)
			buf_printf(out, "  [%s]", h->note);
		buf_putc(out, '\n');
	}
}
