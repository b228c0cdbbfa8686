/*
 * approve.c - approving and discarding a plan: the one decision
 * procedure, for the running controller (warm base and open plan) and for
 * the shell on a stopped controller's state directory.  See ctl.h.
 */
#include "controller/ctl.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/names.h"
#include "git/repo.h"
#include "git/trailers.h"
#include "model/policy.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/apply/apply.h"
#include "state/outbox.h"
#include "state/state.h"

/* ---- approvals ----------------------------------------------------------------- */

/* Read a stored plan's JSON (owns) or NULL. */
static json_t *
load_plan_json(const char *state_dir, const char *id)
{
	char path[4096];
	uint64_t v;

	if (parse_u64(&v, id, 1, 1ul << 62) != OK)
		return NULL;
	snprintf(path, sizeof(path), "%s/plans/%s.json", state_dir, id);
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

struct own_walk {
	const char *base, *user;
	const struct repo_ident *bot;
	size_t commits, own;
	int reached;
};

/* A commit is the user's own only when the bot made it at their request:
 * a hand-made commit's trailers are never believed (trailer_of_bot). */
static int
own_step(void *ctx, const struct repo_log_entry *e)
{
	struct own_walk *w = ctx;
	char *by;

	if (w->base && strcmp(e->sha, w->base) == 0) {
		w->reached = 1;
		return 1;
	}
	w->commits++;
	by = trailer_of_bot(e, w->bot, "Requested-by");
	if (by && strcmp(by, w->user) == 0)
		w->own++;
	free(by);
	return 0;
}

/* Is every commit from base (exclusive) to target a bot commit `user` asked for? */
static int
only_own_commits(struct ctl *c, const char *base, const char *target, const char *user)
{
	struct repo_ident bot = { c->cfg->bot_name, c->cfg->bot_email };
	struct own_walk w = { base && *base ? base : NULL, user, &bot, 0, 0, 0 };

	repo_log(c->repo, target, 10000, own_step, &w);
	return w.commits > 0 && w.own == w.commits;
}

/* ---- per-kind approvals --------------------------------------------------------- */

/*
 * DESIGN.md: "a plan needs one approver for each kind it touches that is
 * not auto".  An approval records, in the plan (p->approvals, stored as
 * "approvals": {"dns": "bob"}), every kind still waiting that the user may
 * approve; the plan is applied once every kind is covered.  Approvals
 * belong to the plan record, and so to its hash: a new plan (a new head,
 * or a re-plan that renders differently and is refused as stale) starts
 * with none.
 */

static int
may_approve(const struct ctl *c, const char *user, int kind)
{
	return c->base.model && policy_may_approve(c->base.model->policy, user,
	    (enum change_kind)kind);
}

/* The kinds a stored plan needs an approver for, a bit per kind. */
static unsigned
stored_needs(json_t *stored)
{
	json_t *v;
	size_t i;
	unsigned needs = 0;

	json_array_foreach(json_object_get(stored, "approvals_needed"), i, v) {
		enum change_kind kind;

		if (json_is_string(v) && kind_parse(&kind, json_string_value(v)) == OK)
			needs |= 1u << kind;
	}
	return needs;
}

/* A re-planned plan takes the approvals its stored record holds. */
static void
load_approvals(struct plan *p, json_t *stored)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(stored, "approvals"), key, v) {
		enum change_kind k;

		if (kind_parse(&k, key) == OK && (p->needs & (1u << k)) && !p->approvals[k] &&
		    json_is_string(v) && valid_user(json_string_value(v)))
			p->approvals[k] = xstrdup(json_string_value(v));
	}
}

void
ctl_keep_approvals(struct ctl *c, json_t *j)
{
	const char *hash = json_string_value(json_object_get(j, "hash"));
	json_t *given = json_object_get(j, "approvals");

	if (!hash || !json_is_object(given) || !json_object_size(given))
		return;
	if (!c->carried)
		c->carried = json_object();
	json_object_set(c->carried, hash, j);
}

void
ctl_carry_approvals(struct ctl *c, struct plan *p)
{
	json_t *j = c->carried ? json_object_get(c->carried, p->hash) : NULL;
	const char *from;

	if (!j)
		return;
	load_approvals(p, j);
	from = json_string_value(json_object_get(j, "id"));
	log_event(NULL, "plan %s: the approvals of plan %s carry over (the same plan hash)", p->id,
	    from ? from : "?");
	json_object_del(c->carried, p->hash);
}

/* "dns", "dns and enc", "dns, enc and pin". */
static void
put_kinds(struct buf *b, unsigned kinds)
{
	int k, left = 0;

	for (k = 0; k < KIND__COUNT; k++)
		left += (kinds >> k) & 1;
	for (k = 0; k < KIND__COUNT; k++)
		if (kinds & (1u << k)) {
			buf_puts(b, kind_name((enum change_kind)k));
			left--;
			buf_puts(b, left > 1 ? ", " : left == 1 ? " and " : "");
		}
}

/* The kinds still waiting, each with who may approve it:
 * "enc still needs one of: carol; pin still needs one of: alice, dave". */
static void
put_waiting(struct buf *b, const struct ctl *c, const struct plan *p)
{
	const char *sep = "";
	int k;

	for (k = 0; k < KIND__COUNT; k++) {
		struct strlist who = { NULL, NULL, 0 };
		size_t i;

		if (!(p->needs & (1u << k)) || p->approvals[k])
			continue;
		if (c->base.model)
			policy_approvers(&who, c->base.model->policy, (enum change_kind)k);
		buf_printf(b, "%s%s ", sep, kind_name((enum change_kind)k));
		if (!who.n)
			buf_puts(b, "has no approver in policy.yaml");
		else
			buf_puts(b, "still needs one of: ");
		for (i = 0; i < who.n; i++)
			buf_printf(b, "%s%s", i ? ", " : "", strcmp(who.v[i], "*") == 0 ?
			    "any identified user" : who.v[i]);
		strlist_dispose(&who);
		sep = "; ";
	}
}

/* Who approved: "alice" when one person covered every kind, else
 * "bob (dns) and carol (enc)". */
static void
put_approvers(struct buf *b, const struct plan *p)
{
	unsigned done = 0, users = 0;
	int k, j;

	for (k = 0; k < KIND__COUNT; k++)
		if (p->approvals[k] && !(done & (1u << k))) {
			for (j = k; j < KIND__COUNT; j++)
				if (p->approvals[j] && strcmp(p->approvals[j], p->approvals[k]) == 0)
					done |= 1u << j;
			users++;
		}
	if (users == 1) {
		for (k = 0; k < KIND__COUNT && !p->approvals[k]; k++)
			;
		buf_puts(b, p->approvals[k]);
		return;
	}
	done = 0;
	for (k = 0; k < KIND__COUNT; k++) {
		unsigned mine = 0;

		if (!p->approvals[k] || (done & (1u << k)))
			continue;
		for (j = k; j < KIND__COUNT; j++)
			if (p->approvals[j] && strcmp(p->approvals[j], p->approvals[k]) == 0)
				mine |= 1u << j;
		done |= mine;
		users--;
		buf_printf(b, "%s (", p->approvals[k]);
		put_kinds(b, mine);
		buf_puts(b, users > 1 ? "), " : users == 1 ? ") and " : ")");
	}
}

/* ---- stale plans ------------------------------------------------------------ */

/* The newest stored plan of (applied, head), other than a superseded one. */
struct fresh_walk {
	const char *base, *head;
	uint64_t best;
	char id[24], outcome[24];
};

static int
fresh_step(void *ctx, const char *file, json_t *j)
{
	struct fresh_walk *w = ctx;
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *base = json_string_value(json_object_get(j, "base"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	uint64_t v;

	(void)file;
	if (!id || !target || !outcome || parse_u64(&v, id, 1, 1ul << 62) != OK || v <= w->best ||
	    strcmp(target, w->head) != 0 || strcmp(base ? base : "", w->base) != 0 ||
	    strcmp(outcome, "superseded") == 0)
		return 0;
	w->best = v;
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->outcome, sizeof(w->outcome), "%s", outcome);
	return 0;
}

/*
 * Refuse to approve plan `id`, which is no longer a plan of (the applied
 * commit, the branch head), naming the fresh plan (DESIGN.md "Plans"):
 * the open plan when it is the head's, else the newest stored plan of the
 * head (an invalid one says so).  When the head is the applied commit
 * there is none.  Returns ERR_CONFLICT (ERR when the head cannot be read).
 */
static int
refuse_stale(struct ctl *c, const char *id, char **msg)
{
	struct fresh_walk w;
	char head[41];

	if (repo_resolve(c->repo, c->ref, head) != OK) {
		*msg = xasprintf("%s", err_last());
		return ERR;
	}
	if (strcmp(head, c->base.sha) == 0) {
		*msg = xasprintf("plan %s is stale, and there is no fresh plan: the head %.7s is "
		    "already applied", id, head);
		return ERR_CONFLICT;
	}
	memset(&w, 0, sizeof(w));
	w.base = c->base.sha;
	w.head = head;
	if (c->open && strcmp(c->open->target, head) == 0 && strcmp(c->open->base, c->base.sha) == 0)
		snprintf(w.id, sizeof(w.id), "%s", c->open->id);
	else
		state_each_plan(c->cfg->state, fresh_step, &w);
	if (!w.id[0])
		*msg = xasprintf("plan %s is stale; the head %.7s has no plan yet (the controller "
		    "plans it when it runs)", id, head);
	else if (w.outcome[0] && strcmp(w.outcome, "open") != 0)
		*msg = xasprintf("plan %s is stale; the fresh plan is %s (%s)", id, w.id, w.outcome);
	else
		*msg = xasprintf("plan %s is stale; the fresh plan is %s", id, w.id);
	return ERR_CONFLICT;
}

/* ---- deciding ------------------------------------------------------------------- */

/* Discard: closes the plan, said in its thread like every other outcome. */
static int
discard_plan(struct ctl *c, json_t *stored, const char *id, const char *user, char **msg)
{
	int rc;

	/* Said in the plan's thread, like every other outcome. */
	*msg = xasprintf("plan %s discarded by %s", id, user);
	if (c->open && strcmp(c->open->id, id) == 0) {
		rc = ctl_conclude(c, c->open, "discarded", user, *msg, NULL, 0);
		ctl_drop_open(c);
	} else {
		rc = ctl_conclude_json(c, stored, "discarded", user, *msg, NULL, 0);
	}
	return rc;
}

/*
 * Record `user`'s approval of every waiting kind they may approve, then
 * apply when none waits.  `p` is the plan (c->open when `owned` is 0,
 * else a re-plan this call owns with its target snapshot `tsnap`).
 */
static int
approve_plan(struct ctl *c, struct plan *p, int owned, struct snapshot *tsnap,
    const char *user, char **msg)
{
	struct buf b = BUF_INIT;
	unsigned added = 0, mine = 0, waiting = 0;
	int k, rc = OK;

	for (k = 0; k < KIND__COUNT; k++) {
		if (!(p->needs & (1u << k)))
			continue;
		if (may_approve(c, user, k)) {
			mine |= 1u << k;
			if (!p->approvals[k]) {
				p->approvals[k] = xstrdup(user);
				added |= 1u << k;
			}
		}
		if (!p->approvals[k])
			waiting |= 1u << k;
	}
	if (!added && (mine || waiting)) {
		/* A second click, or a kind someone else covered: nothing
		 * changes, and the answer says what still waits. */
		const char *sep = ": ";

		buf_printf(&b, "plan %s", p->id);
		for (k = 0; k < KIND__COUNT; k++)
			if (mine & (1u << k)) {
				buf_printf(&b, "%s%s is already approved by %s", sep,
				    kind_name((enum change_kind)k), p->approvals[k]);
				sep = ", ";
			}
		buf_printf(&b, "%snothing to do", mine ? "; " : ": ");
		if (waiting) {
			buf_puts(&b, " (");
			put_waiting(&b, c, p);
			buf_putc(&b, ')');
		}
		*msg = buf_steal(&b);
		goto out;
	}
	if (waiting) {
		/* Kept in the plan's record and said in its thread. */
		buf_printf(&b, "plan %s: approved ", p->id);
		put_kinds(&b, added);
		buf_printf(&b, " by %s; ", user);
		put_waiting(&b, c, p);
		*msg = buf_steal(&b);
		if ((rc = ctl_save_outcome(c->st, p, "open", NULL)) != OK) {
			free(*msg);
			*msg = xasprintf("plan %s: recording the approval: %s", p->id, err_last());
			/* Not recorded, so not given: the open plan stays as stored. */
			for (k = 0; k < KIND__COUNT; k++)
				if (added & (1u << k)) {
					free(p->approvals[k]);
					p->approvals[k] = NULL;
				}
			goto out;
		}
		log_event(NULL, "%s", *msg);
		ctl_notify(c, p, *msg, "", 0);
		goto out;
	}
	/* Every kind is covered: apply exactly what was reviewed. */
	if (!owned) {
		*tsnap = c->open_target;
		c->open = NULL;
		memset(&c->open_target, 0, sizeof(c->open_target));
		owned = 1;
	}
	put_approvers(&b, p);
	{
		char *said = xasprintf(", approved by %s: applied", b.data);
		char id[sizeof(p->id)];

		memcpy(id, p->id, sizeof(id));
		*msg = xasprintf("plan %s applied (%.7s), approved by %s", p->id, p->target, b.data);
		rc = ctl_apply(c, p, tsnap, user, said);   /* takes p */
		p = NULL;
		free(said);
		if (rc != OK) {
			free(*msg);
			*msg = xasprintf("plan %s: apply failed: %s", id, err_last());
		}
	}
out:
	buf_dispose(&b);
	if (owned) {
		snapshot_dispose(tsnap);
		plan_free(p);
	}
	return rc;
}

/*
 * The one decision procedure, for the running controller (warm base and
 * open plan) and for the CLI on a stopped controller's state (cold).
 */
int
ctl_decide_plan(struct ctl *c, int approve, const char *id, const char *user, char **msg)
{
	json_t *stored = load_plan_json(c->cfg->state, id);
	const char *outcome, *base, *target, *hash;
	struct snapshot tsnap;
	struct plan *p = NULL;
	unsigned needs;
	char head[41];
	int k, rc = OK;

	*msg = NULL;
	memset(&tsnap, 0, sizeof(tsnap));
	if (!stored) {
		*msg = xasprintf("there is no plan %s", id);
		return ERR_NOTFOUND;
	}
	outcome = json_string_value(json_object_get(stored, "outcome"));
	base = json_string_value(json_object_get(stored, "base"));
	target = json_string_value(json_object_get(stored, "target"));
	hash = json_string_value(json_object_get(stored, "hash"));
	if (!outcome || !target || !hash) {
		*msg = xasprintf("plan %s is not readable", id);
		rc = ERR;
		goto out;
	}
	if (strcmp(outcome, "open") != 0) {
		/* A newer commit made this plan stale: say which plan is fresh. */
		if (approve && strcmp(outcome, "superseded") == 0) {
			rc = refuse_stale(c, id, msg);
			goto out;
		}
		/* A double click: the second approve applies nothing. */
		*msg = xasprintf("plan %s is already %s; nothing to do", id, outcome);
		goto out;
	}
	if (approve && c->hook_plan) {
		*msg = xasprintf("plan %s's apply is still running; try again", c->hook_plan->id);
		rc = ERR_CONFLICT;
		goto out;
	}
	if (approve && c->prep_plan) {
		*msg = xasprintf("plan %s is being prepared (its apply providers plan); try again",
		    c->prep_plan->id);
		rc = ERR_CONFLICT;
		goto out;
	}
	/*
	 * Authorised by the policy of the applied commit.  Approving needs an
	 * approver of at least one kind the plan touches that is not auto
	 * (each kind is covered by its own approver, below).  Discarding needs
	 * the same: a reviewer of any part of a change may reject it (as one
	 * "request changes" blocks a pull request), and a plan whose kinds
	 * have different approvers must not be one nobody alone can drop.
	 */
	needs = stored_needs(stored);
	{
		unsigned denied = 0, allowed = 0;

		for (k = 0; k < KIND__COUNT; k++) {
			if (!(needs & (1u << k)))
				continue;
			if (may_approve(c, user, k))
				allowed |= 1u << k;
			else
				denied |= 1u << k;
		}
		if (denied && !allowed) {
			struct buf b = BUF_INIT;

			buf_printf(&b, "%s may not %s ", user, approve ? "approve" : "discard");
			put_kinds(&b, denied);
			buf_puts(&b, " changes (see approvers in policy.yaml)");
			*msg = buf_steal(&b);
			rc = ERR_DENIED;
			goto out;
		}
	}
	/* A plan that only carries the approver's own bot commands needs a
	 * second person, unless policy says self_approve: true. */
	if (approve && c->base.model && !c->base.model->policy->self_approve &&
	    only_own_commits(c, base, target, user)) {
		*msg = xasprintf("plan %s only carries %s's own commands; someone else must "
		    "approve it (self_approve is off in policy.yaml)", id, user);
		rc = ERR_DENIED;
		goto out;
	}
	if (!approve) {
		rc = discard_plan(c, stored, id, user, msg);
		goto out;
	}
	/* Stale: the base is no longer applied, or the head moved on. */
	if (repo_resolve(c->repo, c->ref, head) != OK) {
		*msg = xasprintf("%s", err_last());
		rc = ERR;
		goto out;
	}
	if (strcmp(base ? base : "", c->base.sha) != 0 || strcmp(target, head) != 0) {
		rc = refuse_stale(c, id, msg);
		goto out;
	}
	if (c->open && strcmp(c->open->id, id) == 0) {
		rc = approve_plan(c, c->open, 0, &tsnap, user, msg);
		goto out;
	}
	if (json_object_get(stored, "rerun")) {
		/* A re-run of the applied commit: the record says what it runs. */
		struct plan_rerun none;
		struct diags d = { NULL, 0, 0 };

		memset(&none, 0, sizeof(none));
		rc = snapshot_load_from(&tsnap, c->repo, target, &d, &c->base);
		diags_dispose(&d);
		if (rc == OK)
			p = plan_rerun_new(id, target, DECISION_NOOP, 0, &none);
	} else {
		rc = pipeline_plan(&p, c->repo, &(struct repo_ident){ c->cfg->bot_name,
		    c->cfg->bot_email }, id, &c->base, target, &tsnap);
	}
	/* What apply providers prepared (a saved Terraform plan) is part of
	 * what was reviewed. */
	if (rc == OK && (rc = plan_restore(p, stored)) != OK)
		snapshot_dispose(&tsnap);
	if (rc != OK) {
		*msg = xasprintf("replanning: %s", err_last());
		plan_free(p);
		goto out;
	}
	/* What is applied is exactly what was reviewed. */
	if (strcmp(p->hash, hash) != 0 || p->decision == DECISION_INVALID) {
		*msg = xasprintf("plan %s no longer renders what was reviewed; it is stale", id);
		rc = ERR_CONFLICT;
		snapshot_dispose(&tsnap);
		plan_free(p);
		goto out;
	}
	load_approvals(p, stored);
	rc = approve_plan(c, p, 1, &tsnap, user, msg);
out:
	json_decref(stored);
	return rc;
}

int
controller_decide(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg)
{
	struct ctl c;
	int rc;

	*msg = NULL;
	if ((rc = ctl_open(&c, cfg, 0)) != OK) {
		*msg = xasprintf("%s", err_last());
		ctl_close(&c);
		return rc;
	}
	/* Rollouts are the running controller's: recorded here, run there. */
	ctl_rollout_hold(&c);
	ctl_rollout_resume_after_restart(&c);
	rc = ctl_decide_plan(&c, approve, id, user, msg);
	/* The operator's shell waits for the apply providers to finish, and
	 * for a new plan a stale saved plan asks for to be posted. */
	while (ctl_hooks_busy(&c) || c.prep_run || c.rerun_due) {
		struct pollfd pfd[3];
		int timeout = 1000;
		size_t n = ctl_hooks_pollfds(&c, pfd, 1, &timeout);

		n += ctl_world_pollfds(&c, pfd + n, 2, &timeout);
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		ctl_hooks_step(&c);
		ctl_world_step(&c);
	}
	if (c.ob)
		outbox_run(c.ob);
	ctl_close(&c);
	return rc;
}
