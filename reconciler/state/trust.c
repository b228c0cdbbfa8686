/*
 * trust.c - the trust ladder's log and its table.  See trust.h.
 */
#include "state/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "git/repo.h"
#include "state/state.h"
#include "state/stateint.h"


/* ---- writing ----------------------------------------------------------------- */

/* One line, one write(2), under the state lock every writer holds. */
static int
append(struct state *s, json_t *ev)
{
	char path[4096], *line;
	size_t len;
	int fd, rc = OK;

	if (state_path_fmt(path, sizeof(path), "%s/trust.log", s->dir) != OK) {
		json_decref(ev);
		return ERR_TOOBIG;
	}
	line = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(ev);
	if (!line)
		return err_set(ERR, "trust.log: cannot encode an event");
	len = strlen(line);
	line = xrealloc(line, len + 2);
	line[len++] = '\n';
	line[len] = '\0';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, STATE_MODE_PRIVATE);
	if (fd < 0 || fs_write_all(fd, line, len) != OK)
		rc = err_set(ERR, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

static void
push_once(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return;
	json_array_append_new(arr, json_string(s));
}

/* The event of a plan's outcome; `obs` and `aut` are stolen. */
static void
note(struct state *s, const char *id, const char *hash, const char *decision,
    const char *outcome, const char *by, const char *base, const char *target, json_t *obs,
    json_t *aut, const char *action)
{
	json_t *ev;

	if (!id || !outcome || !decision || strcmp(decision, "invalid") == 0 ||
	    strcmp(decision, "noop") == 0) {
		json_decref(obs);
		json_decref(aut);
		return;
	}
	ev = json_pack("{s:s, s:s?, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:o}", "plan", id, "hash",
	    hash, "decision", decision, "outcome", outcome, "by", by, "base", base && *base ?
	    base : NULL, "target", target, "observe", obs, "auto", aut);
	if (!ev)
		return;
	if (action && *action)
		json_object_set_new(ev, "action", json_string(action));
	/* Statistics: a failure to write one is logged by the caller's
	 * caller at most; it never fails the outcome it describes. */
	(void)append(s, ev);
}

void
trust_note_plan(struct state *s, const struct plan *p, const char *outcome, const char *by)
{
	json_t *obs = json_array(), *aut = json_array();
	size_t i;

	for (i = 0; p->diff && i < p->diff->nchanges; i++) {
		const struct change *c = &p->diff->changes[i];
		char type[32];

		snprintf(type, sizeof(type), "%s.%s", kind_name(c->kind), action_name(c->action));
		if (c->decision == DECISION_OBSERVE)
			push_once(obs, type);
		else if (c->decision == DECISION_AUTO)
			push_once(aut, type);
	}
	note(s, p->id, p->hash, decision_name(p->decision), outcome, by, p->base, p->target, obs,
	    aut, p->action);
}

void
trust_note_record(struct state *s, const json_t *j)
{
	json_t *obs = json_array(), *aut = json_array(), *ch;
	size_t i;

	json_array_foreach(json_object_get(j, "changes"), i, ch) {
		const char *type = json_string_value(json_object_get(ch, "type"));
		const char *d = json_string_value(json_object_get(ch, "decision"));

		if (!type || !d || strlen(type) > 31)
			continue;
		if (strcmp(d, "observe") == 0)
			push_once(obs, type);
		else if (strcmp(d, "auto") == 0)
			push_once(aut, type);
	}
	note(s, json_string_value(json_object_get(j, "id")),
	    json_string_value(json_object_get(j, "hash")),
	    json_string_value(json_object_get(j, "decision")),
	    json_string_value(json_object_get(j, "outcome")),
	    json_string_value(json_object_get(j, "decided_by")),
	    json_string_value(json_object_get(j, "base")),
	    json_string_value(json_object_get(j, "target")), obs, aut,
	    json_string_value(json_object_get(j, "action")));
}

int
trust_note_revert(struct state *s, const char *reverted, const char *commit, const char *plan_id)
{
	return append(s, json_pack("{s:s, s:s, s:s}", "revert", reverted, "commit", commit,
	    "plan", plan_id));
}

int
trust_note_action(struct state *s, const char *action, const char *episode, const char *verdict)
{
	return append(s, json_pack("{s:s, s:s, s:s}", "action", action, "episode", episode,
	    "verdict", verdict));
}

int
trust_note_suggested(struct state *s, const char *type)
{
	return append(s, json_pack("{s:s}", "suggested", type));
}

/* ---- reading ------------------------------------------------------------------ */

struct trust_data {
	json_t *plans;      /* id -> its last event */
	json_t *reverts;    /* reverting commit -> {revert, plan} */
	json_t *episodes;   /* episode -> {action, verdict} */
	json_t *suggested;  /* type -> true */
	json_t *reverted;   /* plan id -> true */
};

static int
replay(struct trust_data *td, const char *dir)
{
	char path[4096];
	struct buf b = BUF_INIT;
	char *line, *nl;
	int rc;

	td->plans = json_object();
	td->reverts = json_object();
	td->episodes = json_object();
	td->suggested = json_object();
	td->reverted = json_object();
	if (snprintf(path, sizeof(path), "%s/trust.log", dir) >= (int)sizeof(path))
		return err_set(ERR_TOOBIG, "state directory path too long");
	rc = fs_read(&b, path, TRUST_LOG_MAX);
	if (rc == ERR_NOTFOUND) {
		buf_dispose(&b);
		return OK;
	}
	if (rc != OK) {
		buf_dispose(&b);
		return rc;
	}
	for (line = b.data; line && *line; line = nl) {
		json_t *ev;
		const char *k;

		if (!(nl = strchr(line, '\n')))
			break;              /* a torn last line */
		*nl++ = '\0';
		if (!(ev = json_loads(line, JSON_REJECT_DUPLICATES, NULL)))
			continue;
		if ((k = json_string_value(json_object_get(ev, "plan"))) &&
		    json_object_get(ev, "outcome")) {
			json_t *was = json_object_get(td->plans, k);

			/* Who decided stays with the plan: "applied" after
			 * "applying" by alice is still alice's. */
			if (!json_string_value(json_object_get(ev, "by")) &&
			    json_string_value(json_object_get(was, "by")))
				json_object_set(ev, "by", json_object_get(was, "by"));
			json_object_set(td->plans, k, ev);
		} else if ((k = json_string_value(json_object_get(ev, "commit"))) &&
		    json_object_get(ev, "revert")) {
			json_object_set(td->reverts, k, ev);
			if ((k = json_string_value(json_object_get(ev, "plan"))))
				json_object_set_new(td->reverted, k, json_true());
		} else if ((k = json_string_value(json_object_get(ev, "episode")))) {
			json_object_set(td->episodes, k, ev);
		} else if ((k = json_string_value(json_object_get(ev, "suggested")))) {
			json_object_set_new(td->suggested, k, json_true());
		}
		json_decref(ev);
	}
	buf_dispose(&b);
	return OK;
}

static void
data_free(struct trust_data *td)
{
	if (!td)
		return;
	json_decref(td->plans);
	json_decref(td->reverts);
	json_decref(td->episodes);
	json_decref(td->suggested);
	json_decref(td->reverted);
	free(td);
}

static struct trust_row *
row_get(struct trust_table *t, const char *name)
{
	size_t i;

	if (strlen(name) >= sizeof(t->rows[0].name))
		return NULL;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->rows[i].name, name) == 0)
			return &t->rows[i];
	t->rows = xrealloc(t->rows, (t->n + 1) * sizeof(*t->rows));
	memset(&t->rows[t->n], 0, sizeof(*t->rows));
	snprintf(t->rows[t->n].name, sizeof(t->rows[t->n].name), "%s", name);
	return &t->rows[t->n++];
}

/* ("interrupted": what firebreak before crash recovery finished applies
 * called a released plan whose providers a stop cut short; only old
 * records say it.) */
static int
is_applied(const char *outcome)
{
	return outcome && (strcmp(outcome, "applying") == 0 || strcmp(outcome, "applied") == 0 ||
	    strcmp(outcome, "failed") == 0 || strcmp(outcome, "interrupted") == 0);
}

/* Decided by a person (an approver), not by firebreak or a flag. */
static int
by_person(const char *by)
{
	return by && *by && by[0] != '-';
}

static int
list_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
is_action(const char *name)
{
	return strcmp(name, POLICY_ACTION_DRAIN) == 0;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trust_row *)a)->name, ((const struct trust_row *)b)->name);
}

/* Count one plan's last event into the table. */
static void
count_plan(struct trust_table *t, struct trust_data *td, json_t *hash_max, const char *id,
    json_t *ev)
{
	const char *outcome = json_string_value(json_object_get(ev, "outcome"));
	const char *by = json_string_value(json_object_get(ev, "by"));
	const char *decision = json_string_value(json_object_get(ev, "decision"));
	const char *action = json_string_value(json_object_get(ev, "action"));
	const char *hash = json_string_value(json_object_get(ev, "hash"));
	int reverted = json_object_get(td->reverted, id) != NULL;
	int applied = is_applied(outcome);
	json_t *v;
	size_t i;
	int verdict = 0;   /* 1 agreed, -1 disagreed, 0 neither */

	if (action) {
		struct trust_row *r = row_get(t, action);

		if (r && applied && !by_person(by) && decision && strcmp(decision, "auto") == 0) {
			r->auto_applied++;
			r->reverted += reverted;
		}
		return;
	}
	if (json_array_size(json_object_get(ev, "observe"))) {
		if (applied && by_person(by))
			verdict = reverted ? -1 : 1;
		else if (outcome && strcmp(outcome, "discarded") == 0)
			verdict = -1;
		else if (outcome && strcmp(outcome, "superseded") == 0) {
			uint64_t mine = 0, later = 0;
			json_t *hm = hash ? json_object_get(hash_max, hash) : NULL;

			parse_u64(&mine, id, 0, PLAN_ID_MAX);
			later = hm ? (uint64_t)json_integer_value(hm) : 0;
			/* Planned again with the same hash (a restart): the new
			 * plan carries on; this one is neither. */
			if (later > mine)
				return;
			verdict = -1;
		}
		json_array_foreach(json_object_get(ev, "observe"), i, v) {
			struct trust_row *r = row_get(t, json_string_value(v));

			if (!r)
				continue;
			r->observed++;
			r->agreed += verdict > 0;
			r->disagreed += verdict < 0;
		}
	}
	if (decision && strcmp(decision, "auto") == 0 && applied && !by_person(by))
		json_array_foreach(json_object_get(ev, "auto"), i, v) {
			struct trust_row *r = row_get(t, json_string_value(v));

			if (!r)
				continue;
			r->auto_applied++;
			r->reverted += reverted;
		}
}

int
trust_load(struct trust_table *out, const char *dir, const struct policy *pol)
{
	struct trust_data *td = xcalloc(1, sizeof(*td));
	json_t *hash_max, *ev;
	const char *id;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = replay(td, dir)) != OK) {
		data_free(td);
		return rc;
	}
	out->data = td;
	/* Every change type and action the policy names is a row, numbers or
	 * not: the table shows the whole ladder. */
	for (i = 0; pol && i < pol->autos.n; i++)
		row_get(out, pol->autos.v[i]);
	for (i = 0; pol && i < pol->observes.n; i++)
		row_get(out, pol->observes.v[i]);
	for (i = 0; pol && i < pol->nactions; i++)
		row_get(out, pol->actions[i].name);
	hash_max = json_object();
	json_object_foreach(td->plans, id, ev) {
		const char *h = json_string_value(json_object_get(ev, "hash"));
		uint64_t v = 0;

		if (h && parse_u64(&v, id, 1, PLAN_ID_MAX) == OK &&
		    (uint64_t)json_integer_value(json_object_get(hash_max, h)) < v)
			json_object_set_new(hash_max, h, json_integer((json_int_t)v));
	}
	json_object_foreach(td->plans, id, ev)
		count_plan(out, td, hash_max, id, ev);
	json_decref(hash_max);
	json_object_foreach(td->episodes, id, ev) {
		const char *a = json_string_value(json_object_get(ev, "action"));
		const char *v = json_string_value(json_object_get(ev, "verdict"));
		struct trust_row *r = a && v ? row_get(out, a) : NULL;

		if (!r)
			continue;
		/* An episode was observed whatever its verdict came to be. */
		r->observed++;
		r->agreed += strcmp(v, "agreed") == 0;
		r->disagreed += strcmp(v, "disagreed") == 0;
	}
	for (i = 0; i < out->n; i++) {
		struct trust_row *r = &out->rows[i];

		if (is_action(r->name)) {
			r->level = action_level_name(policy_action_level(pol, r->name));
		} else {
			r->level = strncmp(r->name, "policy.", 7) == 0 ? "approve" :
			    list_has(pol ? &pol->autos : NULL, r->name) ? "auto" :
			    list_has(pol ? &pol->observes : NULL, r->name) ? "observe" : "approve";
		}
		r->suggest_promote = strcmp(r->level, "observe") == 0 &&
		    r->agreed >= TRUST_PROMOTE_AFTER && r->disagreed == 0;
		r->suggest_demote = strcmp(r->level, "auto") == 0 && r->reverted > 0;
		r->suggested = json_object_get(td->suggested, r->name) != NULL;
	}
	if (out->n)
		qsort(out->rows, out->n, sizeof(*out->rows), row_cmp);
	return OK;
}

void
trust_table_dispose(struct trust_table *t)
{
	free(t->rows);
	data_free(t->data);
	memset(t, 0, sizeof(*t));
}

const struct trust_row *
trust_row(const struct trust_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->rows[i].name, name) == 0)
			return &t->rows[i];
	return NULL;
}

void
trust_format(struct buf *out, const struct trust_table *t)
{
	size_t i;

	buf_printf(out, "%-14s %-8s %8s %7s %10s %13s %9s  %s\n", "type", "level", "observed",
	    "agreed", "disagreed", "auto-applied", "reverted", "suggestion");
	for (i = 0; i < t->n; i++) {
		const struct trust_row *r = &t->rows[i];

		buf_printf(out, "%-14s %-8s %8lu %7lu %10lu %13lu %9lu  %s%s%s\n", r->name, r->level,
		    r->observed, r->agreed, r->disagreed, r->auto_applied, r->reverted,
		    r->suggest_promote ? "`trust promote " : r->suggest_demote ? "`trust demote " : "",
		    r->suggest_promote || r->suggest_demote ? r->name : "",
		    r->suggest_promote || r->suggest_demote ? "`" : "");
	}
	if (!t->n)
		buf_puts(out, "(no change type is auto or observe in policy.yaml, and nothing is "
		    "counted yet)\n");
}

void
trust_promotion_line(struct buf *out, const struct trust_row *r)
{
	if (is_action(r->name))
		buf_printf(out, "%s: %lu of %lu observed episodes were agreed with (a person did "
		    "the same) \xe2\x80\x94 `trust promote %s` to let it act by itself", r->name,
		    r->agreed, r->observed, r->name);
	else
		buf_printf(out, "%s: %lu of %lu observed plans were approved unchanged \xe2\x80\x94 "
		    "`trust promote %s` to auto-apply it", r->name, r->agreed, r->observed, r->name);
}

/* ---- reverts ------------------------------------------------------------------ */

struct by_id {
	uint64_t id;
	const char *key;
	json_t *ev;
};

static int
by_id_desc(const void *a, const void *b)
{
	const struct by_id *x = a, *y = b;

	return (x->id < y->id) - (x->id > y->id);
}

int
trust_plan_of(const struct trust_table *t, struct repo *r, const char *sha, char plan_id[24],
    char how[16], struct buf *types)
{
	struct trust_data *td = t->data;
	struct by_id *v;
	size_t n = 0, i, k;
	const char *key;
	json_t *ev;
	int rc = ERR_NOTFOUND;

	if (!td)
		return ERR_NOTFOUND;
	v = xcalloc(json_object_size(td->plans) + 1, sizeof(*v));
	json_object_foreach(td->plans, key, ev) {
		uint64_t id;

		if (!is_applied(json_string_value(json_object_get(ev, "outcome"))) ||
		    parse_u64(&id, key, 1, PLAN_ID_MAX) != OK)
			continue;
		v[n].id = id;
		v[n].key = key;
		v[n++].ev = ev;
	}
	qsort(v, n, sizeof(*v), by_id_desc);
	for (i = 0; i < n; i++) {
		const char *target = json_string_value(json_object_get(v[i].ev, "target"));
		const char *base = json_string_value(json_object_get(v[i].ev, "base"));
		const char *by = json_string_value(json_object_get(v[i].ev, "by"));
		const char *action = json_string_value(json_object_get(v[i].ev, "action"));
		const char *decision = json_string_value(json_object_get(v[i].ev, "decision"));
		json_t *ty;

		if (!target || !repo_is_ancestor(r, sha, target) ||
		    (base && repo_is_ancestor(r, sha, base)))
			continue;
		snprintf(plan_id, 24, "%s", v[i].key);
		if (action) {
			snprintf(how, 16, "action");
			buf_puts(types, action);
		} else if (decision && strcmp(decision, "auto") == 0 && !by_person(by)) {
			snprintf(how, 16, "auto");
			json_array_foreach(json_object_get(v[i].ev, "auto"), k, ty)
				buf_printf(types, "%s%s", k ? ", " : "", json_string_value(ty));
		} else {
			snprintf(how, 16, "approved");
		}
		rc = OK;
		break;
	}
	free(v);
	return rc;
}

int
trust_revert_known(const struct trust_table *t, const char *commit)
{
	struct trust_data *td = t->data;

	return td && json_object_get(td->reverts, commit) != NULL;
}

int
trust_reverted_sha(const char *message, char out[41])
{
	static const char key[] = "This reverts commit ";
	const char *p = message;
	size_t i;

	while (p && (p = strstr(p, key))) {
		p += sizeof(key) - 1;
		for (i = 0; i < 40 && hex_digit(p[i]) >= 0 && !(p[i] >= 'A' && p[i] <= 'F'); i++)
			;
		if (i == 40 && !(hex_digit(p[40]) >= 0)) {
			memcpy(out, p, 40);
			out[40] = '\0';
			return 1;
		}
	}
	return 0;
}
