/*
 * plan.c - deciding, hashing and presenting plans.  See plan.h.
 */
#include "plan/plan.h"

#include <jansson.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void
plan_hash(struct plan *p)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	size_t k;

	ASSERT(md);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, p->base, strlen(p->base) + 1);
	EVP_DigestUpdate(md, p->target, strlen(p->target) + 1);
	/* The diffs hold every byte the plan changes (git's unified diff
	 * with full context lines is enough to tell two applies apart). */
	for (k = 0; p->diff && k < p->diff->nfiles; k++) {
		const struct file_diff *f = &p->diff->files[k];

		EVP_DigestUpdate(md, f->path, strlen(f->path) + 1);
		EVP_DigestUpdate(md, f->diff, strlen(f->diff) + 1);
	}
	/* What apply providers prepared (a saved Terraform plan's SHA-256)
	 * is part of what is approved; a plan without any hashes as before. */
	for (k = 0; k < p->nprep; k++) {
		char e[48];

		snprintf(e, sizeof(e), "prepared apply[%u]", p->prep[k].entry);
		EVP_DigestUpdate(md, e, strlen(e) + 1);
		EVP_DigestUpdate(md, p->prep[k].provider, strlen(p->prep[k].provider) + 1);
		EVP_DigestUpdate(md, p->prep[k].digest ? p->prep[k].digest : "",
		    strlen(p->prep[k].digest ? p->prep[k].digest : "") + 1);
	}
	if (p->rerun) {
		char e[160];

		snprintf(e, sizeof(e), "rerun of %s base %s entries %u kinds %u reconcile %d "
		    "decision %d needs %u", p->rerun->of, p->rerun->of_base, p->rerun->entries,
		    p->rerun->kinds, p->rerun->reconcile, (int)p->decision, p->needs);
		EVP_DigestUpdate(md, e, strlen(e) + 1);
	}
	EVP_DigestFinal_ex(md, out, &n);
	EVP_MD_CTX_free(md);
	for (i = 0; i < n && i * 2 < PLAN_HASH_LEN; i++) {
		static const char hex[] = "0123456789abcdef";

		p->hash[i * 2] = hex[out[i] >> 4];
		p->hash[i * 2 + 1] = hex[out[i] & 15];
	}
	p->hash[i * 2] = '\0';
}

static struct plan *
plan_new(const char *id, const char *base, const char *target)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->base, sizeof(p->base), "%s", base ? base : "");
	snprintf(p->target, sizeof(p->target), "%s", target);
	return p;
}

/* "hiera/pins/<env>.yaml" -> env (in `out`). */
static int
pin_env(const char *artifact, char *out, size_t n)
{
	const char *pre = "hiera/pins/";
	size_t pl = strlen(pre), al = strlen(artifact);

	if (strncmp(artifact, pre, pl) != 0 || al <= pl + 5 || al - pl - 5 >= n)
		return 0;
	memcpy(out, artifact + pl, al - pl - 5);
	out[al - pl - 5] = '\0';
	return 1;
}

/*
 * Hosts touched: those whose ENC changes, and those that receive a
 * changed pin (the service is in their role's services, in that
 * environment).  A bitmap over the target's hosts counts each once.
 */
static void
blast_radius(struct plan *p, const struct model *m)
{
	unsigned char *hit;
	size_t i, j, k;

	p->blast_hosts = p->blast_records = 0;
	for (i = 0; i < p->diff->nchanges; i++)
		if (p->diff->changes[i].kind == KIND_DNS)
			p->blast_records++;
	if (!m || m->nhosts == 0) {
		for (i = 0; i < p->diff->nchanges; i++)
			if (p->diff->changes[i].kind == KIND_ENC)
				p->blast_hosts++;
		return;
	}
	hit = xcalloc(m->nhosts, 1);
	for (i = 0; i < p->diff->nchanges; i++) {
		const struct change *c = &p->diff->changes[i];
		const struct host *h;
		const struct service *svc = NULL;
		char env[128];

		if (c->kind == KIND_ENC) {
			if ((h = model_host(m, c->object)))
				hit[h - m->hosts] = 1;
			else
				p->blast_hosts++;   /* deleted: no longer in the model */
			continue;
		}
		if (c->kind != KIND_PIN || !pin_env(c->artifact, env, sizeof(env)))
			continue;
		for (j = 0; j < m->nservices; j++)
			if (strcmp(m->services[j].hiera_key, c->object) == 0)
				svc = &m->services[j];
		if (!svc)
			continue;
		for (j = 0; j < m->nhosts; j++) {
			const struct host *hh = &m->hosts[j];
			const struct role *r;

			if (hit[j] || !hh->role || hh->state == HOST_SPARE ||
			    hh->state == HOST_DECOMMISSIONED ||
			    strcmp(model_host_env(m, hh), env) != 0)
				continue;
			r = &m->roles[hh->role_idx];
			for (k = 0; k < r->services.n; k++)
				if (strcmp(r->services.v[k], svc->name) == 0) {
					hit[j] = 1;
					break;
				}
		}
	}
	for (j = 0; j < m->nhosts; j++)
		p->blast_hosts += hit[j];
	free(hit);
}

int
plan_build(struct plan **out, const char *id, const char *base, const char *target,
    const struct artifacts *base_art, const struct artifacts *target_art,
    const struct model *tm, const struct policy *pol)
{
	struct plan *p;
	size_t i;
	int rc;

	*out = NULL;
	p = plan_new(id, base, target);
	if ((rc = diff_build(&p->diff, base_art, target_art)) != OK) {
		plan_free(p);
		return rc;
	}
	for (i = 0; i < p->diff->nchanges; i++) {
		const struct change *c = &p->diff->changes[i];

		p->counts[c->kind][c->action]++;
	}
	p->decision = DECISION_NOOP;
	for (i = 0; i < p->diff->nchanges; i++) {
		struct change *c = &p->diff->changes[i];
		char type[32];
		uint64_t max;

		c->decision = policy_decide(pol, c->kind, c->action);
		snprintf(type, sizeof(type), "%s.%s", kind_name(c->kind), action_name(c->action));
		/* Limits turn trust off for big batches: a mass delete is a
		 * different act from a single one, whatever the type. */
		if (c->decision < DECISION_APPROVE && policy_limit(pol, type, &max) &&
		    p->counts[c->kind][c->action] > max)
			c->decision = DECISION_APPROVE;
		if (c->decision != DECISION_AUTO)
			p->needs |= 1u << c->kind;
		if (c->decision > p->decision)
			p->decision = c->decision;
	}
	blast_radius(p, tm);
	plan_hash(p);
	*out = p;
	return OK;
}

void
plan_decide_as_action(struct plan *p, const struct policy *pol, const char *action)
{
	size_t i;

	if (p->decision == DECISION_INVALID || !p->diff)
		return;
	snprintf(p->action, sizeof(p->action), "%s", action);
	p->decision = DECISION_NOOP;
	p->needs = 0;
	for (i = 0; i < p->diff->nchanges; i++) {
		struct change *c = &p->diff->changes[i];
		char type[32];
		uint64_t max;

		snprintf(type, sizeof(type), "%s.%s", kind_name(c->kind), action_name(c->action));
		c->decision = DECISION_AUTO;
		if (c->kind == KIND_POLICY || (policy_limit(pol, type, &max) &&
		    p->counts[c->kind][c->action] > max))
			c->decision = DECISION_APPROVE;
		if (c->decision != DECISION_AUTO)
			p->needs |= 1u << c->kind;
		if (c->decision > p->decision)
			p->decision = c->decision;
	}
}

struct plan *
plan_invalid(const char *id, const char *base, const char *target, struct diags *errors)
{
	struct plan *p = plan_new(id, base, target);

	p->decision = DECISION_INVALID;
	p->errors = *errors;
	memset(errors, 0, sizeof(*errors));
	plan_hash(p);
	return p;
}

void
plan_set_commit(struct plan *p, const char *subject, const char *author)
{
	free(p->subject);
	free(p->author);
	p->subject = subject ? xstrdup(subject) : NULL;
	p->author = author ? xstrdup(author) : NULL;
}

void
plan_free(struct plan *p)
{
	if (!p)
		return;
	diff_free(p->diff);
	diags_dispose(&p->errors);
	for (int k = 0; k < KIND__COUNT; k++)
		free(p->approvals[k]);
	free(p->subject);
	free(p->author);
	for (size_t i = 0; i < p->nprep; i++) {
		free(p->prep[i].provider);
		free(p->prep[i].summary);
		free(p->prep[i].digest);
	}
	free(p->prep);
	if (p->rerun) {
		free(p->rerun->why);
		free(p->rerun->by);
		free(p->rerun);
	}
	free(p);
}

void
plan_add_prep(struct plan *p, unsigned entry, const char *provider, const char *summary,
    const char *digest)
{
	struct plan_prep *e;

	ASSERT(p->nprep < PLAN_MAX_PREP);
	p->prep = xrealloc(p->prep, (p->nprep + 1) * sizeof(*p->prep));
	e = &p->prep[p->nprep++];
	e->entry = entry;
	e->provider = xstrdup(provider);
	e->summary = xstrdup(summary ? summary : "");
	e->digest = digest ? xstrdup(digest) : NULL;
	plan_hash(p);
}

struct plan *
plan_rerun_new(const char *id, const char *sha, enum decision decision, unsigned needs,
    struct plan_rerun *rerun)
{
	struct plan *p = plan_new(id, sha, sha);

	p->diff = xcalloc(1, sizeof(*p->diff));
	p->decision = decision;
	p->needs = needs;
	p->rerun = xmalloc(sizeof(*p->rerun));
	*p->rerun = *rerun;
	memset(rerun, 0, sizeof(*rerun));
	plan_hash(p);
	return p;
}

/* A bit set from a JSON array of small numbers (apply entries) or kind
 * names; ERR_INVALID for anything else. */
static int
bits_of(unsigned *out, const json_t *a, int kinds)
{
	const json_t *v;
	size_t i;

	*out = 0;
	if (!a)
		return OK;
	if (!json_is_array(a))
		return ERR_INVALID;
	json_array_foreach(a, i, v) {
		enum change_kind k;

		if (kinds) {
			if (!json_is_string(v) || kind_parse(&k, json_string_value(v)) != OK)
				return ERR_INVALID;
			*out |= 1u << k;
		} else {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) >= 32)
				return ERR_INVALID;
			*out |= 1u << json_integer_value(v);
		}
	}
	return OK;
}

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
plan_restore(struct plan *p, const json_t *stored)
{
	const json_t *prep = json_object_get(stored, "prepared"), *rr = json_object_get(stored,
	    "rerun"), *v;
	size_t i;

	if (bits_of(&p->unfinished, json_object_get(stored, "apply_unfinished"), 0) != OK)
		return err_set(ERR_INVALID, "plan %s: apply_unfinished is malformed", p->id);
	if (prep && (!json_is_array(prep) || json_array_size(prep) > PLAN_MAX_PREP))
		return err_set(ERR_INVALID, "plan %s: prepared is malformed", p->id);
	json_array_foreach(prep, i, v) {
		const json_t *e = json_object_get(v, "entry");

		if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= 32 ||
		    !jstr(v, "provider") || !jstr(v, "summary"))
			return err_set(ERR_INVALID, "plan %s: prepared[%zu] is malformed", p->id, i);
	}
	if (rr) {
		struct plan_rerun r;
		enum decision d;
		unsigned needs;
		const char *dn = jstr(stored, "decision");

		memset(&r, 0, sizeof(r));
		if (!json_is_object(rr) || !jstr(rr, "why") ||
		    bits_of(&r.entries, json_object_get(rr, "entries"), 0) != OK ||
		    bits_of(&r.kinds, json_object_get(rr, "kinds"), 1) != OK ||
		    bits_of(&needs, json_object_get(stored, "approvals_needed"), 1) != OK || !dn)
			return err_set(ERR_INVALID, "plan %s: rerun is malformed", p->id);
		for (d = DECISION_NOOP; d <= DECISION_INVALID; d++)
			if (strcmp(decision_name(d), dn) == 0)
				break;
		if (d > DECISION_INVALID)
			return err_set(ERR_INVALID, "plan %s: decision is malformed", p->id);
		snprintf(r.of, sizeof(r.of), "%s", jstr(rr, "of") ? jstr(rr, "of") : "");
		snprintf(r.of_base, sizeof(r.of_base), "%s", jstr(rr, "of_base") ?
		    jstr(rr, "of_base") : "");
		r.reconcile = json_is_true(json_object_get(rr, "reconcile"));
		r.why = xstrdup(jstr(rr, "why"));
		r.by = jstr(rr, "by") ? xstrdup(jstr(rr, "by")) : NULL;
		if (p->rerun) {
			free(p->rerun->why);
			free(p->rerun->by);
		} else {
			p->rerun = xmalloc(sizeof(*p->rerun));
		}
		*p->rerun = r;
		p->decision = d;
		p->needs = needs;
		if (!p->subject && (jstr(stored, "subject") || jstr(stored, "author")))
			plan_set_commit(p, jstr(stored, "subject"), jstr(stored, "author"));
	}
	json_array_foreach(prep, i, v)
		plan_add_prep(p, (unsigned)json_integer_value(json_object_get(v, "entry")),
		    jstr(v, "provider"), jstr(v, "summary"), jstr(v, "digest"));
	plan_hash(p);
	return OK;
}

static json_t *
json_text(const char *s)
{
	json_t *v;

	if (!s)
		return json_null();
	v = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	/* Our own renderers made it; anything else is a bug. */
	ASSERT(v);
	return v;
}

char *
plan_to_json(const struct plan *p, const char *extra_json)
{
	json_t *root = json_object(), *changes = json_array(), *files = json_array();
	json_t *errors = json_array(), *summary = json_object(), *needs = json_array();
	size_t i;
	int k, a;
	char *s;

	json_object_set_new(root, "id", json_string(p->id));
	json_object_set_new(root, "base", p->base[0] ? json_string(p->base) : json_null());
	json_object_set_new(root, "target", json_string(p->target));
	json_object_set_new(root, "decision", json_string(decision_name(p->decision)));
	for (i = 0; p->diff && i < p->diff->nchanges; i++) {
		const struct change *c = &p->diff->changes[i];
		json_t *o = json_object();
		char type[32];

		snprintf(type, sizeof(type), "%s.%s", kind_name(c->kind), action_name(c->action));
		json_object_set_new(o, "type", json_string(type));
		json_object_set_new(o, "artifact", json_string(c->artifact));
		json_object_set_new(o, "object", json_string(c->object));
		json_object_set_new(o, "before", json_text(c->before));
		json_object_set_new(o, "after", json_text(c->after));
		json_object_set_new(o, "decision", json_string(decision_name(c->decision)));
		if (c->note)
			json_object_set_new(o, "note", json_string(c->note));
		json_array_append_new(changes, o);
	}
	json_object_set_new(root, "changes", changes);
	for (i = 0; p->diff && i < p->diff->nfiles; i++) {
		const struct file_diff *f = &p->diff->files[i];
		json_t *o = json_object();

		json_object_set_new(o, "path", json_string(f->path));
		json_object_set_new(o, "status", json_string(file_status_name(f->status)));
		json_object_set_new(o, "diff", json_string(f->diff));
		json_array_append_new(files, o);
	}
	json_object_set_new(root, "artifacts", files);
	for (i = 0; i < p->errors.n; i++) {
		const struct diag *g = &p->errors.v[i];
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(g->file));
		json_object_set_new(o, "line", json_integer(g->line));
		json_object_set_new(o, "column", json_integer(g->col));
		json_object_set_new(o, "message", json_string(g->message));
		json_array_append_new(errors, o);
	}
	json_object_set_new(root, "errors", errors);
	for (k = 0; k < KIND__COUNT; k++)
		for (a = 0; a <= ACTION_DELETE; a++)
			if (p->counts[k][a]) {
				char type[32];

				snprintf(type, sizeof(type), "%s.%s", kind_name((enum change_kind)k),
				    action_name((enum change_action)a));
				json_object_set_new(summary, type, json_integer((json_int_t)p->counts[k][a]));
			}
	json_object_set_new(root, "summary", summary);
	for (k = 0; k < KIND__COUNT; k++)
		if (p->needs & (1u << k))
			json_array_append_new(needs, json_string(kind_name((enum change_kind)k)));
	json_object_set_new(root, "approvals_needed", needs);
	{
		json_t *given = json_object();

		for (k = 0; k < KIND__COUNT; k++)
			if (p->approvals[k])
				json_object_set_new(given, kind_name((enum change_kind)k),
				    json_string(p->approvals[k]));
		if (json_object_size(given))
			json_object_set_new(root, "approvals", given);
		else
			json_decref(given);
	}
	json_object_set_new(root, "blast_radius", json_pack("{s:I,s:I}",
	    "hosts", (json_int_t)p->blast_hosts, "records", (json_int_t)p->blast_records));
	if (p->nprep) {
		json_t *list = json_array();

		for (i = 0; i < p->nprep; i++) {
			json_t *o = json_pack("{s:I, s:s, s:s}", "entry", (json_int_t)p->prep[i].entry,
			    "provider", p->prep[i].provider, "summary", p->prep[i].summary);

			if (p->prep[i].digest)
				json_object_set_new(o, "digest", json_string(p->prep[i].digest));
			json_array_append_new(list, o);
		}
		json_object_set_new(root, "prepared", list);
	}
	if (p->rerun) {
		json_t *o = json_object(), *e = json_array(), *kinds = json_array();

		json_object_set_new(o, "why", json_string(p->rerun->why));
		if (p->rerun->of[0])
			json_object_set_new(o, "of", json_string(p->rerun->of));
		if (p->rerun->of_base[0])
			json_object_set_new(o, "of_base", json_string(p->rerun->of_base));
		for (i = 0; i < 32; i++)
			if (p->rerun->entries & (1u << i))
				json_array_append_new(e, json_integer((json_int_t)i));
		json_object_set_new(o, "entries", e);
		for (k = 0; k < KIND__COUNT; k++)
			if (p->rerun->kinds & (1u << k))
				json_array_append_new(kinds, json_string(kind_name((enum change_kind)k)));
		json_object_set_new(o, "kinds", kinds);
		if (p->rerun->reconcile)
			json_object_set_new(o, "reconcile", json_true());
		if (p->rerun->by)
			json_object_set_new(o, "by", json_string(p->rerun->by));
		json_object_set_new(root, "rerun", o);
	}
	if (p->unfinished) {
		json_t *list = json_array();

		for (i = 0; i < 32; i++)
			if (p->unfinished & (1u << i))
				json_array_append_new(list, json_integer((json_int_t)i));
		json_object_set_new(root, "apply_unfinished", list);
	}
	json_object_set_new(root, "hash", json_string(p->hash));
	if (p->action[0])
		json_object_set_new(root, "action", json_string(p->action));
	if (p->subject)
		json_object_set_new(root, "subject", json_string(p->subject));
	if (p->author)
		json_object_set_new(root, "author", json_string(p->author));
	if (extra_json) {
		json_t *extra = json_loads(extra_json, JSON_REJECT_DUPLICATES, NULL);

		ASSERT(extra && json_is_object(extra));
		json_object_update(root, extra);
		json_decref(extra);
	}
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(root);
	ASSERT(s);
	return s;
}

static void
counts_line(struct buf *b, const struct plan *p)
{
	int k, a, first = 1;

	for (k = 0; k < KIND__COUNT; k++)
		for (a = 0; a <= ACTION_DELETE; a++)
			if (p->counts[k][a]) {
				buf_printf(b, "%s%zu %s.%s", first ? "" : ", ", p->counts[k][a],
				    kind_name((enum change_kind)k), action_name((enum change_action)a));
				first = 0;
			}
	if (first)
		buf_puts(b, "no changes");
}

/* Subjects come from git: keep them to one printable line. */
static void
put_oneline(struct buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && s[i] != '\n' && i < max; i++)
		buf_putc(b, (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
	if (s[i] && s[i] != '\n')
		buf_puts(b, "...");
}

/*
 * Text from the repository (a file name, an error quoting a value) on one
 * line: CR, LF and other control bytes escaped as \n, \r, \xNN, cut after
 * `max` bytes at a character boundary.  A file named "a\nb" must not end
 * a chat line early or forge the next one.
 */
static void
put_escaped(struct buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= max && (c & 0xC0) != 0x80) {
			buf_puts(b, "...");
			return;
		}
		if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char)c);
	}
}

/* "file:line:col: message" as `firebreak check` prints it (no line: the
 * whole file), each part escaped. */
static void
put_diag(struct buf *b, const struct diag *g, size_t max_message)
{
	put_escaped(b, g->file ? g->file : "", 256);
	if (g->line > 0)
		buf_printf(b, ":%d:%d", g->line, g->col > 0 ? g->col : 1);
	buf_puts(b, ": ");
	put_escaped(b, g->message ? g->message : "", max_message);
}

void
plan_summary(struct buf *b, const struct plan *p)
{
	buf_printf(b, "plan %s for %.7s", p->id, p->target);
	if (p->subject) {
		buf_puts(b, " \"");
		put_oneline(b, p->subject, 72);
		buf_putc(b, '"');
	}
	if (p->author) {
		buf_puts(b, " by ");
		put_oneline(b, p->author, 40);
	}
	buf_puts(b, ": ");
	if (p->rerun) {
		put_oneline(b, p->rerun->why, 200);
	} else if (p->decision == DECISION_INVALID) {
		/* Where, at a glance: the first error (they are sorted). */
		buf_printf(b, "%zu error%s", p->errors.n, p->errors.n == 1 ? "" : "s");
		if (p->errors.n) {
			buf_puts(b, p->errors.n == 1 ? ": " : ", first ");
			put_diag(b, &p->errors.v[0], 200);
		}
	} else
		counts_line(b, p);
	buf_printf(b, " -> %s", decision_name(p->decision));
}

/* One value for a change line: short JSON, cut. */
static void
put_value(struct buf *b, const char *json, size_t max)
{
	size_t n;

	if (!json) {
		buf_puts(b, "(none)");
		return;
	}
	n = strlen(json);
	if (n <= max) {
		buf_puts(b, json);
		return;
	}
	buf_append(b, json, max);
	buf_puts(b, "...");
}

void
plan_format_text(struct buf *b, const struct plan *p, size_t max_diff)
{
	static const char sigil[] = { '+', '~', '-' };
	size_t i, used = 0;
	int k;

	plan_summary(b, p);
	buf_putc(b, '\n');
	buf_printf(b, "base %s, target %s\n", p->base[0] ? p->base : "(empty tree)", p->target);
	if (p->decision == DECISION_INVALID) {
		for (i = 0; i < p->errors.n; i++) {
			buf_puts(b, "  ");
			put_diag(b, &p->errors.v[i], 1000);
			buf_putc(b, '\n');
		}
		return;
	}
	if (p->action[0])
		buf_printf(b, "decided as the %s action (policy.yaml actions; limits still hold)\n",
		    p->action);
	if (p->rerun)
		buf_printf(b, "the release %.7s is current already: only apply providers run%s\n",
		    p->target, p->rerun->reconcile ? ", overwriting what differs from it" : "");
	if (p->blast_hosts || p->blast_records)
		buf_printf(b, "blast radius: %zu host%s, %zu record%s\n", p->blast_hosts,
		    p->blast_hosts == 1 ? "" : "s", p->blast_records,
		    p->blast_records == 1 ? "" : "s");
	for (k = 0; k < KIND__COUNT; k++) {
		size_t n = 0;

		for (i = 0; i < p->diff->nchanges; i++)
			n += p->diff->changes[i].kind == (enum change_kind)k;
		if (!n)
			continue;
		buf_printf(b, "\n%s (%zu change%s)%s\n", kind_name((enum change_kind)k), n,
		    n == 1 ? "" : "s", p->needs & (1u << k) ? ", needs an approver" : "");
		for (i = 0; i < p->diff->nchanges; i++) {
			const struct change *c = &p->diff->changes[i];

			if (c->kind != (enum change_kind)k)
				continue;
			buf_printf(b, "  %c %s.%s %s", sigil[c->action], kind_name(c->kind),
			    action_name(c->action), c->object);
			if (c->kind == KIND_DNS || c->kind == KIND_PIN || c->kind == KIND_POLICY) {
				buf_puts(b, ": ");
				if (c->action != ACTION_ADD)
					put_value(b, c->before, 60);
				if (c->action == ACTION_MODIFY)
					buf_puts(b, " -> ");
				if (c->action != ACTION_DELETE)
					put_value(b, c->after, 60);
			}
			if (c->kind == KIND_PIN)
				buf_printf(b, " (%s)", c->artifact);
			if (c->note)
				buf_printf(b, " (%s)", c->note);
			buf_printf(b, " [%s]\n", decision_name(c->decision));
		}
	}
	/* What the apply providers will do, in their own words (Terraform's
	 * summary of its saved plan): part of what is reviewed. */
	for (i = 0; i < p->nprep; i++) {
		size_t n = strlen(p->prep[i].summary);

		buf_printf(b, "\n%s (apply[%u]):\n", p->prep[i].provider, p->prep[i].entry);
		buf_append(b, p->prep[i].summary, n);
		if (n && p->prep[i].summary[n - 1] != '\n')
			buf_putc(b, '\n');
	}
	if (p->diff->nfiles)
		buf_putc(b, '\n');
	for (i = 0; i < p->diff->nfiles; i++) {
		const struct file_diff *f = &p->diff->files[i];
		size_t n = strlen(f->diff);

		if (max_diff && used + n > max_diff) {
			buf_printf(b, "... %zu more file%s not shown\n", p->diff->nfiles - i,
			    p->diff->nfiles - i == 1 ? "" : "s");
			break;
		}
		buf_append(b, f->diff, n);
		used += n;
	}
}
