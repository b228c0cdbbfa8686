/*
 * world.c - the apply providers outside a new head's apply (see ctl.h):
 *
 *   preparing   before a plan is decided, the providers that prepare it
 *               (terraform: its saved plan, whose summary is posted with
 *               the plan and whose SHA-256 the approval binds) run as
 *               children, one after another; planning waits meanwhile, the
 *               loop does not.
 *   re-runs     a plan that re-applies the current release through some
 *               providers, without a release switch (plan.h's plan_rerun):
 *               `retry ID` (the providers that failed or did not run),
 *               `reconcile KIND` (every provider serving KIND, overwriting
 *               what differs), and a saved Terraform plan found stale at
 *               apply, planned anew.  Each is a plan with its own id,
 *               posted in its commit's thread, decided like any other: a
 *               re-run that prepares (Terraform) needs approval again when
 *               the plan it re-runs did; a person's retry or reconcile of
 *               providers that apply no reviewed artefact runs at once.
 *   drift       with drift_seconds, every N seconds (and when someone asks
 *               `drift`), each provider that can read the world compares it
 *               with the current release in a child; a difference is posted
 *               once per distinct difference, and its end once.  The last
 *               readings live in <state>/drift.json, so a restart does not
 *               post them again.
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/fs.h"
#include "base/log.h"
#include "git/repo.h"
#include "model/policy.h"
#include "plan/plan.h"
#include "state/state.h"

#define DRIFT_TEXT_MAX 8000       /* bytes of a reading kept and posted */
#define DRIFT_RETRY_SECONDS 5     /* a sweep an apply interrupted runs again */

enum drift_state { DRIFT_UNKNOWN, DRIFT_CLEAN, DRIFT_FOUND, DRIFT_UNREADABLE };
static const char *const drift_state_names[] = { "unknown", "clean", "drift", "unreadable" };

/* The last reading of one apply entry. */
struct ctl_reading {
	enum drift_state state;
	size_t differ;
	char *text;                    /* owns; what the provider said */
	char digest[2 * CRYPTO_SHA256_LEN + 1];   /* of state and text: "distinct" */
	double at;                     /* time() of the reading */
};

/* A re-run to make: everything plan_rerun holds, and how to decide it. */
struct ctl_rerun_req {
	struct plan_rerun r;           /* owns its strings */
	enum decision decision;        /* of the plan re-run */
	unsigned needs;
	char *subject, *author;        /* owns; the re-run plan's, for its summary */
};

static void
rerun_req_free(struct ctl_rerun_req *q)
{
	if (!q)
		return;
	free(q->r.why);
	free(q->r.by);
	free(q->subject);
	free(q->author);
	free(q);
}

static int
is_kind_bit(unsigned kinds, int k)
{
	return (kinds >> k) & 1u;
}

/* "dns", "dns and enc". */
static void
put_kind_list(struct buf *b, unsigned kinds)
{
	int k, n = 0, total = 0;

	for (k = 0; k < KIND__COUNT; k++)
		total += is_kind_bit(kinds, k);
	for (k = 0; k < KIND__COUNT; k++)
		if (is_kind_bit(kinds, k)) {
			buf_printf(b, "%s%s", n == 0 ? "" : n == total - 1 ? " and " : ", ",
			    kind_name((enum change_kind)k));
			n++;
		}
}

/* "apply[1] terraform, apply[2] rfc2136". */
static void
put_entries(struct buf *b, const struct ctl *c, unsigned entries)
{
	size_t i;
	int n = 0;

	for (i = 0; i < c->naps && i < 32; i++)
		if (entries & (1u << i))
			buf_printf(b, "%sapply[%zu] %s", n++ ? ", " : "", i, c->aps[i]->name);
}

/* ---- which providers, with what ------------------------------------------------ */

int
ctl_wants(struct ctl *c, const struct plan *p, size_t i)
{
	if (i >= c->naps)
		return 0;
	if (p->rerun)
		return i < 32 && (p->rerun->entries & (1u << i));
	return c->aps[i]->ops->wants(c->apst[i], p);
}

void
ctl_apply_info(struct ctl *c, const struct plan *p, size_t i, const char *release,
    struct apply_info *info)
{
	size_t k;

	/* An apply provider is about to change the world: a drift reading
	 * under way sees it half-done (drift_step throws it away). */
	c->world_gen++;
	memset(info, 0, sizeof(*info));
	info->release = release;
	info->plan_id = p->id;
	info->commit = p->target;
	info->plan = p;
	info->base_art = c->hook_base.sha[0] ? &c->hook_base.art : NULL;
	info->target_art = &c->base.art;
	info->state_dir = c->cfg->state;
	info->reconcile = p->rerun && p->rerun->reconcile;
	for (k = 0; k < p->nprep; k++)
		if (p->prep[k].entry == i)
			info->prepared = p->prep[k].digest;
}

void
ctl_hook_failed(struct ctl *c, size_t i, int rc)
{
	if (c->hook_plan && i < 32)
		c->hook_plan->unfinished |= 1u << i;
	if (rc == APPLY_STALE && i < 32)
		c->hook_stale |= 1u << i;
	if (c->ap_failures && i < c->naps)
		c->ap_failures[i]++;
}

/* ---- preparing a plan before it is decided ------------------------------------ */

static void prep_continue(struct ctl *c);

int
ctl_prepare(struct ctl *c, struct plan *p, struct snapshot *target)
{
	size_t i;

	if (p->decision == DECISION_INVALID || p->decision == DECISION_NOOP)
		return 0;
	for (i = 0; i < c->naps; i++)
		if (c->aps[i]->ops->prepare && ctl_wants(c, p, i))
			break;
	if (i == c->naps)
		return 0;
	c->prep_plan = p;
	c->prep_target = *target;
	memset(target, 0, sizeof(*target));
	c->prep_next = 0;
	buf_reset(&c->prep_failed);
	prep_continue(c);
	return 1;
}

/* Every provider has prepared (or one failed): decide, or fail the plan. */
static void
prep_done(struct ctl *c)
{
	struct plan *p = c->prep_plan;
	struct snapshot target = c->prep_target;

	c->prep_plan = NULL;
	memset(&c->prep_target, 0, sizeof(c->prep_target));
	if (!c->prep_failed.len) {
		log_event(NULL, "plan %s for %.7s: prepared; %s", p->id, p->target,
		    decision_name(p->decision));
		ctl_act(c, p, &target);
		return;
	}
	{
		/* Not decided, not applied: nothing reviewed can bind an approval. */
		struct buf sum = BUF_INIT, body = BUF_INIT;

		plan_summary(&sum, p);
		buf_puts(&sum, "; not applied: its apply providers could not prepare it (the "
		    "release stays as it was)");
		buf_append(&body, c->prep_failed.data, c->prep_failed.len);
		buf_puts(&body, "\n`retry ");
		buf_printf(&body, "%s` plans it again.\n\n", p->id);
		plan_format_text(&body, p, 8000);
		log_event(NULL, "plan %s for %.7s: preparing failed", p->id, p->target);
		ctl_conclude(c, p, "failed", NULL, sum.data, body.data, 0);
		buf_dispose(&sum);
		buf_dispose(&body);
		plan_free(p);
		snapshot_dispose(&target);
	}
}

static void
prep_continue(struct ctl *c)
{
	struct plan *p = c->prep_plan;

	while (!c->prep_failed.len && c->prep_next < c->naps) {
		size_t i = c->prep_next++;
		struct apply_info info;

		if (!c->aps[i]->ops->prepare || !ctl_wants(c, p, i))
			continue;
		memset(&info, 0, sizeof(info));
		info.plan_id = p->id;
		info.commit = p->target;
		info.plan = p;
		info.base_art = p->rerun ? NULL : &c->base.art;
		info.target_art = &c->prep_target.art;
		info.state_dir = c->cfg->state;
		info.reconcile = p->rerun && p->rerun->reconcile;
		if (c->aps[i]->ops->prepare(&c->prep_run, c->apst[i], &info) == OK) {
			c->prep_idx = i;
			log_event(NULL, "plan %s: apply[%zu] %s prepares", p->id, i, c->aps[i]->name);
			return;
		}
		c->prep_run = NULL;
		buf_printf(&c->prep_failed, "apply[%zu] %s could not start: %s", i, c->aps[i]->name,
		    err_last());
		if (c->ap_failures)
			c->ap_failures[i]++;
	}
	prep_done(c);
}

void
ctl_prep_step(struct ctl *c)
{
	const struct apply_provider *ap;
	struct apply_found found;
	char *reason = NULL;
	int rc;

	if (!c->prep_run)
		return;
	ap = c->aps[c->prep_idx];
	if (!ap->ops->step(c->prep_run))
		return;
	rc = ap->ops->finish_found(&reason, &found, c->prep_run);
	c->prep_run = NULL;
	if (rc == OK) {
		plan_add_prep(c->prep_plan, (unsigned)c->prep_idx, ap->name, reason, found.digest);
	} else {
		buf_printf(&c->prep_failed, "apply[%zu] %s could not plan:\n%s", c->prep_idx,
		    ap->name, reason ? reason : "");
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: apply %s could not plan",
		    c->prep_plan->id, ap->name);
		if (c->ap_failures)
			c->ap_failures[c->prep_idx]++;
	}
	free(found.digest);
	free(reason);
	prep_continue(c);
}

/* ---- re-runs ------------------------------------------------------------------------ */

/* Does any of these entries prepare (apply a reviewed artefact)? */
static int
entries_prepare(const struct ctl *c, unsigned entries)
{
	size_t i;

	for (i = 0; i < c->naps && i < 32; i++)
		if ((entries & (1u << i)) && c->aps[i]->ops->prepare)
			return 1;
	return 0;
}

/*
 * Make the re-run plan `q` asks for (takes q) and start it: prepare, then
 * decide.  OK with the new id in `id`, or an error (nothing made).
 */
static int
rerun_start(struct ctl *c, struct ctl_rerun_req *q, char id[24])
{
	struct snapshot snap;
	struct diags d = { NULL, 0, 0 };
	struct plan *p;
	enum decision dec;
	unsigned needs;
	int rc;

	if ((rc = state_reserve_plan_id(c->st, id)) != OK) {
		rerun_req_free(q);
		return rc;
	}
	rc = snapshot_load_from(&snap, c->repo, c->base.sha, &d, &c->base);
	diags_dispose(&d);
	if (rc != OK) {
		rerun_req_free(q);
		return err_set(rc, "loading the applied commit %.7s: %s", c->base.sha, err_last());
	}
	/* A reviewed artefact made anew is reviewed again when the plan it
	 * re-runs needed a review; anything else runs as the person asked. */
	dec = DECISION_AUTO;
	needs = 0;
	if (!q->r.reconcile && entries_prepare(c, q->r.entries) &&
	    q->decision >= DECISION_OBSERVE && q->decision != DECISION_INVALID) {
		dec = DECISION_APPROVE;
		needs = q->needs ? q->needs : q->r.kinds;
	}
	p = plan_rerun_new(id, c->base.sha, dec, needs, &q->r);
	plan_set_commit(p, q->subject, q->author);
	rerun_req_free(q);
	c->by_decision[p->decision]++;
	log_event(NULL, "plan %s for %.7s: %s (%s)", p->id, p->target, p->rerun->why,
	    decision_name(p->decision));
	if (!ctl_prepare(c, p, &snap))
		ctl_act(c, p, &snap);
	return OK;
}

int
ctl_rerun_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said)
{
	struct buf sum = BUF_INIT, body = BUF_INIT;

	snapshot_dispose(target);     /* it is c->base's commit */
	if (!by)
		by = p->rerun->by;
	plan_summary(&sum, p);
	buf_puts(&sum, said ? said : "");
	plan_format_text(&body, p, 8000);
	ctl_conclude(c, p, "applying", by, said ? sum.data : NULL, body.data, 0);
	buf_dispose(&sum);
	buf_dispose(&body);
	/* A retry compares the world with what the plan it re-runs did. */
	snapshot_dispose(&c->hook_base);
	if (p->rerun->of_base[0] && !p->rerun->reconcile) {
		struct diags d = { NULL, 0, 0 };

		if (snapshot_load_from(&c->hook_base, c->repo, p->rerun->of_base, &d, &c->base) != OK)
			log_event(NULL, "plan %s: loading %.7s: %s", p->id, p->rerun->of_base,
			    err_last());
		diags_dispose(&d);
	}
	log_event(NULL, "plan %s for %.7s: %s runs%s%s", p->id, p->target, p->rerun->why,
	    by ? " by " : "", by ? by : "");
	ctl_hooks_begin(c, p);
	return OK;
}

/* The kinds a plan (or a stored record) is about. */
static unsigned
plan_kinds(const struct plan *p)
{
	unsigned kinds = p->rerun ? p->rerun->kinds : 0;
	int k, a;

	for (k = 0; k < KIND__COUNT; k++)
		for (a = 0; a < 3; a++)
			if (p->counts[k][a])
				kinds |= 1u << k;
	return kinds;
}

/* The kinds of `kinds` that the entries serve ("the kinds involved" in a
 * retry); all of `kinds` when none serves one of them. */
static unsigned
kinds_served(struct ctl *c, unsigned entries, unsigned kinds)
{
	unsigned served = 0;
	size_t i;
	int k;

	for (i = 0; i < c->naps && i < 32; i++)
		for (k = 0; k < KIND__COUNT; k++)
			if ((entries & (1u << i)) && is_kind_bit(kinds, k) &&
			    apply_serves(c->aps[i], c->apst[i], (enum change_kind)k))
				served |= 1u << k;
	return served ? served : kinds;
}

void
ctl_hooks_done(struct ctl *c, const struct plan *p)
{
	struct ctl_rerun_req *q;
	struct buf why = BUF_INIT;

	if (!c->hook_stale)
		return;
	q = xcalloc(1, sizeof(*q));
	snprintf(q->r.of, sizeof(q->r.of), "%s", p->id);
	snprintf(q->r.of_base, sizeof(q->r.of_base), "%s", p->rerun ? p->rerun->of_base : p->base);
	q->r.entries = p->unfinished;
	q->r.kinds = kinds_served(c, p->unfinished, plan_kinds(p));
	q->r.reconcile = p->rerun && p->rerun->reconcile;
	q->r.by = p->rerun && p->rerun->by ? xstrdup(p->rerun->by) : NULL;
	buf_printf(&why, "a new plan for plan %s: ", p->id);
	put_entries(&why, c, c->hook_stale);
	buf_puts(&why, c->hook_stale & (c->hook_stale - 1) ? " were stale" : " was stale");
	q->r.why = buf_steal(&why);
	q->decision = p->decision;
	q->needs = p->needs;
	/* A stale plan made anew by the controller is never applied without
	 * a person: what changed Terraform's state may change it again. */
	if (p->rerun && !p->rerun->by && !p->rerun->reconcile) {
		q->decision = DECISION_APPROVE;
		if (!q->needs)
			q->needs = q->r.kinds;
	}
	q->subject = p->subject ? xstrdup(p->subject) : NULL;
	q->author = p->author ? xstrdup(p->author) : NULL;
	rerun_req_free(c->rerun_due);
	c->rerun_due = q;
	c->hook_stale = 0;
}

/* May `user` act on every kind in `kinds` (policy of the applied commit)?
 * If not, the refusal in *msg. */
static int
may_all(struct ctl *c, const char *user, unsigned kinds, const char *what, char **msg)
{
	unsigned denied = 0;
	int k;

	for (k = 0; k < KIND__COUNT; k++)
		if (is_kind_bit(kinds, k) && !(c->base.model &&
		    policy_may_approve(c->base.model->policy, user, (enum change_kind)k)))
			denied |= 1u << k;
	if (!kinds && !(c->base.model && policy_may_approve(c->base.model->policy, user,
	    KIND_DNS)))
		denied = 1u << KIND_DNS;
	if (!denied)
		return 1;
	{
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s may not %s: it needs an approver of ", user, what);
		put_kind_list(&b, denied);
		buf_puts(&b, " (approvers in policy.yaml)");
		*msg = buf_steal(&b);
	}
	return 0;
}

static int
busy(struct ctl *c, char **msg)
{
	if (c->hook_plan)
		*msg = xasprintf("plan %s's apply is still running; try again when it is done",
		    c->hook_plan->id);
	else if (c->prep_plan)
		*msg = xasprintf("plan %s is being prepared (its apply providers plan); try again "
		    "in a moment", c->prep_plan->id);
	else if (c->rerun_due)
		*msg = xasprintf("a new plan for plan %s is about to start; try again in a moment",
		    c->rerun_due->r.of);
	else
		return 0;
	return 1;
}

/* The kinds a stored plan touched ("summary": {"dns.add": 1}) and its
 * re-run's kinds. */
static unsigned
stored_kinds(const json_t *j)
{
	const char *key;
	json_t *v;
	unsigned kinds = 0;
	size_t i;

	json_object_foreach(json_object_get(j, "summary"), key, v) {
		char kind[16];
		enum change_kind k;

		snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(key, "."), key);
		if (kind_parse(&k, kind) == OK)
			kinds |= 1u << k;
	}
	json_array_foreach(json_object_get(json_object_get(j, "rerun"), "kinds"), i, v) {
		enum change_kind k;

		if (json_is_string(v) && kind_parse(&k, json_string_value(v)) == OK)
			kinds |= 1u << k;
	}
	return kinds;
}

int
ctl_retry(struct ctl *c, const char *id, const char *user, char **msg)
{
	const char *outcome, *target, *base, *dn;
	struct ctl_rerun_req *q;
	json_t *j = NULL, *v;
	unsigned kinds, entries = 0, needs = 0;
	char head[41], nid[24];
	enum decision dec;
	size_t i;
	int rc;

	*msg = NULL;
	if (busy(c, msg))
		return ERR_CONFLICT;
	if ((rc = state_load_plan(&j, c->cfg->state, id)) != OK) {
		*msg = rc == ERR_NOTFOUND || rc == ERR_INVALID ? xasprintf("there is no plan %s", id) :
		    xasprintf("plan %s: %s", id, err_last());
		return rc == ERR_INVALID ? ERR_NOTFOUND : rc;
	}
	outcome = json_string_value(json_object_get(j, "outcome"));
	target = json_string_value(json_object_get(j, "target"));
	base = json_string_value(json_object_get(j, "base"));
	dn = json_string_value(json_object_get(j, "decision"));
	json_array_foreach(json_object_get(j, "apply_unfinished"), i, v)
		if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 32)
			entries |= 1u << json_integer_value(v);
	/* An approver of the kinds involved: those the plan changed that
	 * the providers to run again serve. */
	kinds = kinds_served(c, entries, stored_kinds(j));
	if (!may_all(c, user, kinds, "retry it", msg)) {
		rc = ERR_DENIED;
		goto out;
	}
	if (!outcome || !target || strcmp(outcome, "failed") != 0) {
		*msg = xasprintf("plan %s is %s, not failed: nothing to retry", id,
		    outcome ? outcome : "unreadable");
		rc = ERR_CONFLICT;
		goto out;
	}
	if (strcmp(target, c->base.sha) != 0) {
		/* Failed before its release: plan the head again, if it is
		 * still what that plan was about. */
		if (repo_resolve(c->repo, c->ref, head) == OK && strcmp(head, target) == 0 &&
		    strcmp(base ? base : "", c->base.sha) == 0) {
			c->head[0] = '\0';
			c->dirty = 1;
			c->dirty_since = log_now();
			*msg = xasprintf("plan %s never reached its release; the head %.7s is planned "
			    "again (a new plan follows)", id, head);
			rc = OK;
		} else {
			*msg = xasprintf("plan %s's release %.7s is no longer current (%.7s is); "
			    "nothing to retry", id, target, c->base.sha[0] ? c->base.sha : "nothing");
			rc = ERR_CONFLICT;
		}
		goto out;
	}
	if (!entries) {
		*msg = xasprintf("plan %s failed before any apply provider ran; nothing to retry", id);
		rc = ERR_CONFLICT;
		goto out;
	}
	for (i = 0; i < 32; i++)
		if ((entries & (1u << i)) && i >= c->naps) {
			*msg = xasprintf("plan %s's apply[%zu] is no longer configured; nothing retried",
			    id, i);
			rc = ERR_CONFLICT;
			goto out;
		}
	for (dec = DECISION_NOOP; dec < DECISION_INVALID && strcmp(decision_name(dec),
	    dn ? dn : "") != 0; dec++)
		;
	json_array_foreach(json_object_get(j, "approvals_needed"), i, v) {
		enum change_kind k;

		if (json_is_string(v) && kind_parse(&k, json_string_value(v)) == OK)
			needs |= 1u << k;
	}
	if (c->open && !json_is_true(json_object_get(json_object_get(j, "rerun"), "reconcile")) &&
	    entries_prepare(c, entries) && dec >= DECISION_OBSERVE) {
		*msg = xasprintf("plan %s waits for an approver; decide it first (its apply brings "
		    "every provider to its own release)", c->open->id);
		rc = ERR_CONFLICT;
		goto out;
	}
	q = xcalloc(1, sizeof(*q));
	{
		struct buf why = BUF_INIT;
		json_t *rr = json_object_get(j, "rerun");
		const char *of_base = json_string_value(json_object_get(rr, "of_base"));

		buf_printf(&why, "retry of plan %s: ", id);
		put_entries(&why, c, entries);
		q->r.why = buf_steal(&why);
		snprintf(q->r.of, sizeof(q->r.of), "%s", id);
		snprintf(q->r.of_base, sizeof(q->r.of_base), "%s", rr ? (of_base ? of_base : "") :
		    (base ? base : ""));
		q->r.reconcile = json_is_true(json_object_get(rr, "reconcile"));
	}
	q->r.entries = entries;
	q->r.kinds = kinds;
	q->r.by = xstrdup(user);
	q->decision = dec;
	q->needs = needs;
	if (json_string_value(json_object_get(j, "subject")))
		q->subject = xstrdup(json_string_value(json_object_get(j, "subject")));
	if (json_string_value(json_object_get(j, "author")))
		q->author = xstrdup(json_string_value(json_object_get(j, "author")));
	{
		int prepares = entries_prepare(c, entries);

		if ((rc = rerun_start(c, q, nid)) != OK) {
			*msg = xasprintf("retrying plan %s: %s", id, err_last());
			goto out;
		}
		*msg = xasprintf("plan %s: retrying its failed apply providers as plan %s%s", id, nid,
		    prepares ? " (Terraform plans first; the plan is posted when it is ready)" : "");
	}
out:
	json_decref(j);
	return rc;
}

int
ctl_reconcile_kind(struct ctl *c, const char *kind, const char *user, char **msg)
{
	struct ctl_rerun_req *q;
	enum change_kind k;
	unsigned entries = 0;
	char nid[24];
	size_t i;
	int rc;

	*msg = NULL;
	if (kind_parse(&k, kind) != OK) {
		*msg = xasprintf("'%.40s' is not a kind (enc, dns, pin, policy)", kind);
		return ERR_INVALID;
	}
	if (!may_all(c, user, 1u << k, "reconcile it", msg))
		return ERR_DENIED;
	if (busy(c, msg))
		return ERR_CONFLICT;
	if (!c->base.sha[0]) {
		*msg = xasprintf("nothing is applied yet: no release to reconcile");
		return ERR_CONFLICT;
	}
	for (i = 0; i < c->naps && i < 32; i++)
		if (apply_serves(c->aps[i], c->apst[i], k))
			entries |= 1u << i;
	if (!entries) {
		*msg = xasprintf("no apply provider of %s serves %s: nothing to reconcile",
		    c->cfg->path, kind);
		return ERR_CONFLICT;
	}
	q = xcalloc(1, sizeof(*q));
	{
		struct buf why = BUF_INIT;

		buf_printf(&why, "reconcile %s by %s: ", kind, user);
		put_entries(&why, c, entries);
		q->r.why = buf_steal(&why);
	}
	q->r.entries = entries;
	q->r.kinds = 1u << k;
	q->r.reconcile = 1;
	q->r.by = xstrdup(user);
	q->decision = DECISION_AUTO;
	if ((rc = rerun_start(c, q, nid)) != OK) {
		*msg = xasprintf("reconciling %s: %s", kind, err_last());
		return rc;
	}
	*msg = xasprintf("reconciling %s as plan %s: the current release %.7s is applied again%s",
	    kind, nid, c->base.sha, entries_prepare(c, entries) ?
	    " (Terraform plans first; its plan is posted with the result)" : "");
	return OK;
}

/* ---- drift ------------------------------------------------------------------------- */

static char *
drift_path(const struct ctl *c)
{
	return xasprintf("%s/drift.json", c->cfg->state);
}

static void
drift_save(struct ctl *c)
{
	json_t *root = json_object(), *e = json_object();
	char *path = drift_path(c), *text;
	size_t i;

	for (i = 0; i < c->naps; i++) {
		const struct ctl_reading *d = &c->drift[i];
		char key[24];

		if (d->state == DRIFT_UNKNOWN)
			continue;
		snprintf(key, sizeof(key), "%zu", i);
		json_object_set_new(e, key, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "provider",
		    c->aps[i]->name, "state", drift_state_names[d->state], "differ",
		    (json_int_t)d->differ, "text", d->text ? d->text : "", "digest", d->digest,
		    "at", (json_int_t)d->at));
	}
	json_object_set_new(root, "entries", e);
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (fs_write_atomic(path, text, strlen(text)) != OK)
		log_event(NULL, "drift: writing %s: %s", path, err_last());
	free(text);
	free(path);
	json_decref(root);
}

static void
drift_load(struct ctl *c)
{
	char *path = drift_path(c);
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	const char *key;
	json_t *v;

	free(path);
	json_object_foreach(json_object_get(root, "entries"), key, v) {
		uint64_t i;
		const char *st = json_string_value(json_object_get(v, "state"));
		const char *prov = json_string_value(json_object_get(v, "provider"));
		const char *text = json_string_value(json_object_get(v, "text"));
		const char *dg = json_string_value(json_object_get(v, "digest"));
		int s;

		if (parse_u64(&i, key, 0, 31) != OK || i >= c->naps || !st || !prov || !dg ||
		    strcmp(prov, c->aps[i]->name) != 0 || strlen(dg) != 2 * CRYPTO_SHA256_LEN)
			continue;
		for (s = DRIFT_CLEAN; s <= DRIFT_UNREADABLE && strcmp(drift_state_names[s], st); s++)
			;
		if (s > DRIFT_UNREADABLE)
			continue;
		c->drift[i].state = (enum drift_state)s;
		c->drift[i].differ = (size_t)json_integer_value(json_object_get(v, "differ"));
		c->drift[i].text = xstrdup(text ? text : "");
		c->drift[i].at = (double)json_integer_value(json_object_get(v, "at"));
		memcpy(c->drift[i].digest, dg, sizeof(c->drift[i].digest));
	}
	json_decref(root);
}

void
ctl_world_open(struct ctl *c)
{
	c->drift = xcalloc(c->naps ? c->naps : 1, sizeof(*c->drift));
	c->ap_failures = xcalloc(c->naps ? c->naps : 1, sizeof(*c->ap_failures));
	drift_load(c);
	c->drift_due = log_now() + (c->cfg->drift_seconds ? c->cfg->drift_seconds : 0);
}

void
ctl_world_close(struct ctl *c)
{
	size_t i;
	char *reason = NULL;
	struct apply_found found;

	if (c->prep_run) {
		c->aps[c->prep_idx]->ops->cancel(c->prep_run);
		c->aps[c->prep_idx]->ops->finish_found(&reason, &found, c->prep_run);
		free(reason);
		free(found.digest);
		c->prep_run = NULL;
	}
	if (c->drift_run) {
		reason = NULL;
		c->aps[c->drift_idx]->ops->cancel(c->drift_run);
		c->aps[c->drift_idx]->ops->finish_found(&reason, &found, c->drift_run);
		free(reason);
		free(found.digest);
		c->drift_run = NULL;
	}
	plan_free(c->prep_plan);
	c->prep_plan = NULL;
	snapshot_dispose(&c->prep_target);
	buf_dispose(&c->prep_failed);
	rerun_req_free(c->rerun_due);
	c->rerun_due = NULL;
	for (i = 0; c->drift && i < c->naps; i++)
		free(c->drift[i].text);
	free(c->drift);
	c->drift = NULL;
	free(c->ap_failures);
	c->ap_failures = NULL;
}

/* "reconcile dns" for what apply[i] serves. */
static void
put_reconcile_hint(struct buf *b, struct ctl *c, size_t i)
{
	int k, n = 0;

	for (k = 0; k < KIND__COUNT; k++)
		if (apply_serves(c->aps[i], c->apst[i], (enum change_kind)k)) {
			buf_printf(b, "%s`reconcile %s`", n++ ? " or " : "; ",
			    kind_name((enum change_kind)k));
			if (n == 1 && k == KIND_DNS)
				break;
		}
	if (n)
		buf_puts(b, " applies the release again");
}

/* A reading of apply[i] ended: keep it, and say what is new. */
static void
drift_record(struct ctl *c, size_t i, int rc, const char *reason, size_t differ)
{
	struct ctl_reading *d = &c->drift[i];
	enum drift_state now = rc == OK ? DRIFT_CLEAN : rc == ERR_CONFLICT ? DRIFT_FOUND :
	    DRIFT_UNREADABLE;
	enum drift_state was = d->state;
	struct buf text = BUF_INIT, sum = BUF_INIT, mat = BUF_INIT;
	unsigned char h[CRYPTO_SHA256_LEN];
	char digest[sizeof(d->digest)];
	size_t k;
	int news;

	buf_append(&text, reason ? reason : "", reason ? (strlen(reason) > DRIFT_TEXT_MAX ?
	    DRIFT_TEXT_MAX : strlen(reason)) : 0);
	buf_printf(&mat, "%s\n%s", drift_state_names[now], now == DRIFT_CLEAN ? "" :
	    text.data ? text.data : "");
	crypto_sha256(h, mat.data, mat.len);
	for (k = 0; k < CRYPTO_SHA256_LEN; k++)
		snprintf(digest + 2 * k, 3, "%02x", h[k]);
	news = strcmp(digest, d->digest) != 0;
	free(d->text);
	d->text = buf_steal(&text);
	d->state = now;
	d->differ = now == DRIFT_FOUND ? differ : 0;
	d->at = (double)time(NULL);
	memcpy(d->digest, digest, sizeof(digest));
	log_event(NULL, "drift: apply[%zu] %s: %s%s", i, c->aps[i]->name,
	    drift_state_names[now], news ? "" : " (as before)");
	/* Once per distinct difference; the end of one once; everything when
	 * someone asked. */
	if (now == DRIFT_FOUND && (news || c->drift_asked)) {
		buf_printf(&sum, "drift: apply[%zu] %s: ", i, c->aps[i]->name);
		if (differ)
			buf_printf(&sum, "%zu record set%s differ%s", differ, differ == 1 ? "" : "s",
			    differ == 1 ? "s" : "");
		else
			buf_puts(&sum, "the world differs");
		buf_printf(&sum, " from the current release %.7s", c->base.sha);
		put_reconcile_hint(&sum, c, i);
	} else if (now == DRIFT_UNREADABLE && (news || c->drift_asked)) {
		buf_printf(&sum, "drift: apply[%zu] %s could not read the world: %.*s", i,
		    c->aps[i]->name, (int)strcspn(d->text, "\n"), d->text);
	} else if (now == DRIFT_CLEAN && ((news && was != DRIFT_UNKNOWN && was != DRIFT_CLEAN) ||
	    c->drift_asked)) {
		buf_printf(&sum, "%s: apply[%zu] %s: the world is what the current release %.7s "
		    "says", was == DRIFT_FOUND ? "drift resolved" : "no drift", i, c->aps[i]->name,
		    c->base.sha);
	}
	if (sum.len)
		ctl_notify(c, NULL, sum.data, now == DRIFT_CLEAN ? "" : d->text, 0);
	buf_dispose(&sum);
	buf_dispose(&mat);
	drift_save(c);
}

static void
drift_continue(struct ctl *c)
{
	char release[4096];

	snprintf(release, sizeof(release), "%s/current", c->cfg->state);
	while (c->drift_next < c->naps) {
		size_t i = c->drift_next++;
		struct apply_info info;

		if (!c->aps[i]->ops->drift)
			continue;
		memset(&info, 0, sizeof(info));
		info.release = release;
		info.plan_id = "drift";
		info.commit = c->base.sha;
		info.target_art = &c->base.art;
		info.state_dir = c->cfg->state;
		if (c->aps[i]->ops->drift(&c->drift_run, c->apst[i], &info) == OK) {
			c->drift_idx = i;
			return;
		}
		c->drift_run = NULL;
		drift_record(c, i, ERR, err_last(), 0);
	}
	/* The sweep is over. */
	c->drift_sweep = 0;
	c->drift_asked = 0;
	c->drift_due = log_now() + (c->cfg->drift_seconds ? c->cfg->drift_seconds : 0);
}

static void
drift_begin(struct ctl *c)
{
	c->drift_sweep = 1;
	c->drift_next = 0;
	c->drift_gen = c->world_gen;
	drift_continue(c);
}

static void
drift_step(struct ctl *c)
{
	const struct apply_provider *ap;
	struct apply_found found;
	char *reason = NULL;
	int rc;

	if (!c->drift_run)
		return;
	ap = c->aps[c->drift_idx];
	if (!ap->ops->step(c->drift_run))
		return;
	rc = ap->ops->finish_found(&reason, &found, c->drift_run);
	c->drift_run = NULL;
	if (c->world_gen != c->drift_gen) {
		/* An apply ran meanwhile: this reading saw the world changing. */
		log_event(NULL, "drift: a reading of apply[%zu] %s overlapped an apply; it is "
		    "read again", c->drift_idx, ap->name);
		c->drift_sweep = 0;
		c->drift_due = log_now() + DRIFT_RETRY_SECONDS;
	} else {
		drift_record(c, c->drift_idx, rc, reason, found.differ);
		drift_continue(c);
	}
	free(reason);
	free(found.digest);
}

void
ctl_drift_answer(struct ctl *c, struct buf *out)
{
	size_t i, readers = 0;

	for (i = 0; i < c->naps; i++) {
		const struct ctl_reading *d = c->drift ? &c->drift[i] : NULL;
		char when[32] = "";

		if (!c->aps[i]->ops->drift)
			continue;
		readers++;
		if (!d || d->state == DRIFT_UNKNOWN) {
			buf_printf(out, "apply[%zu] %s: not read yet\n", i, c->aps[i]->name);
			continue;
		}
		{
			time_t t = (time_t)d->at;
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		}
		if (d->state == DRIFT_FOUND)
			buf_printf(out, "apply[%zu] %s: drift, %zu record set%s differ%s (read %s)\n%s\n",
			    i, c->aps[i]->name, d->differ, d->differ == 1 ? "" : "s",
			    d->differ == 1 ? "s" : "", when, d->text);
		else if (d->state == DRIFT_CLEAN)
			buf_printf(out, "apply[%zu] %s: no drift (read %s)\n", i, c->aps[i]->name, when);
		else
			buf_printf(out, "apply[%zu] %s: could not read the world (read %s)\n%s\n", i,
			    c->aps[i]->name, when, d->text);
	}
	if (!readers) {
		buf_puts(out, "no apply provider can read the world (rfc2136 and terraform can)\n");
		return;
	}
	if (c->drift_sweep)
		buf_puts(out, "a reading is under way; what it finds is posted in chat\n");
	else if (!c->cfg->drift_seconds) {
		c->drift_asked = 1;
		buf_puts(out, "reading the world now (drift_seconds is not set); what it finds is "
		    "posted in chat\n");
	} else {
		buf_printf(out, "the world is read every %u s (drift_seconds)\n",
		    c->cfg->drift_seconds);
	}
}

void
ctl_world_step(struct ctl *c)
{
	ctl_prep_step(c);
	drift_step(c);
	if (c->hook_plan || c->prep_plan)
		return;
	if (c->rerun_due) {
		struct ctl_rerun_req *q = c->rerun_due;
		char id[24];

		c->rerun_due = NULL;
		if (rerun_start(c, q, id) != OK) {
			snprintf(c->last_error, sizeof(c->last_error), "re-run: %s", err_last());
			log_event(NULL, "%s", c->last_error);
		}
		return;
	}
	if (!c->drift_sweep && c->base.sha[0] && c->drift && (c->drift_asked ||
	    (c->cfg->drift_seconds && log_now() >= c->drift_due)))
		drift_begin(c);
}

static size_t
add_run(struct ctl *c, size_t idx, void *run, struct pollfd *pfd, size_t max, int *timeout)
{
	const struct apply_ops *ops;
	int due;

	/* Without a run there may be no providers at all (c->aps NULL). */
	if (!run || max == 0)
		return 0;
	ops = c->aps[idx]->ops;
	if ((due = ops->timeout_ms(run)) >= 0 && due < *timeout)
		*timeout = due;
	if ((pfd->fd = ops->fd(run)) < 0)
		return 0;
	pfd->events = POLLIN;
	return 1;
}

size_t
ctl_world_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	size_t n = 0;

	n += add_run(c, c->prep_idx, c->prep_run, pfd + n, max - n, timeout);
	n += add_run(c, c->drift_idx, c->drift_run, pfd + n, max - n, timeout);
	if ((c->rerun_due && !c->hook_plan && !c->prep_plan) && *timeout > 0)
		*timeout = 0;
	if (c->cfg->drift_seconds && !c->drift_sweep && c->drift) {
		double left = c->drift_due - log_now();
		int ms = left <= 0 ? 0 : left > 3600 ? 3600000 : (int)(left * 1000) + 1;

		if (ms < *timeout)
			*timeout = ms;
	}
	if (c->drift_asked && !c->drift_sweep && *timeout > 50)
		*timeout = 50;
	return n;
}

void
ctl_world_metrics(struct ctl *c, struct buf *out)
{
	size_t i, records = 0;

	for (i = 0; c->drift && i < c->naps; i++)
		if (c->drift[i].state == DRIFT_FOUND)
			records += c->drift[i].differ;
	buf_printf(out, "# HELP firebreak_drift_records Record sets that differ from the current "
	    "release, as last read.\n# TYPE firebreak_drift_records gauge\n"
	    "firebreak_drift_records %zu\n", records);
	buf_puts(out, "# HELP firebreak_apply_provider_failures_total Apply provider runs that "
	    "failed (apply, prepare), per configured entry.\n"
	    "# TYPE firebreak_apply_provider_failures_total counter\n");
	for (i = 0; i < c->naps; i++)
		buf_printf(out, "firebreak_apply_provider_failures_total{entry=\"%zu\",provider=\"%s\"} "
		    "%lu\n", i, c->aps[i]->name, c->ap_failures ? c->ap_failures[i] : 0);
}

void
ctl_world_status(struct ctl *c, struct buf *out)
{
	size_t i, records = 0, readers = 0;

	if (c->prep_plan)
		buf_printf(out, "preparing: plan %s for %.7s (apply[%zu] %s)\n", c->prep_plan->id,
		    c->prep_plan->target, c->prep_idx, c->aps[c->prep_idx]->name);
	for (i = 0; c->drift && i < c->naps; i++) {
		readers += c->aps[i]->ops->drift != NULL;
		if (c->drift[i].state == DRIFT_FOUND)
			records += c->drift[i].differ;
	}
	if (readers)
		buf_printf(out, "drift: %zu record set%s differ%s (as last read)\n", records,
		    records == 1 ? "" : "s", records == 1 ? "s" : "");
}
