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
	const char *base, *user, *bot_email;
	size_t commits, own;
	int reached;
};

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
	by = strcmp(e->author_email, w->bot_email) == 0 ? trailer_get(e->message, "Requested-by") :
	    NULL;
	if (by && strcmp(by, w->user) == 0)
		w->own++;
	free(by);
	return 0;
}

/* Is every commit from base (exclusive) to target a bot commit `user` asked for? */
static int
only_own_commits(struct ctl *c, const char *base, const char *target, const char *user)
{
	struct own_walk w = { base && *base ? base : NULL, user, c->cfg->bot_email, 0, 0, 0 };

	repo_log(c->repo, target, 10000, own_step, &w);
	return w.commits > 0 && w.own == w.commits;
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
	char head[41];
	int rc = OK;

	*msg = NULL;
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
	/* A double click: the second approve applies nothing. */
	if (strcmp(outcome, "open") != 0) {
		*msg = xasprintf("plan %s is already %s; nothing to do", id, outcome);
		goto out;
	}
	if (approve && c->hook_plan) {
		*msg = xasprintf("plan %s's apply is still running; try again", c->hook_plan->id);
		rc = ERR_CONFLICT;
		goto out;
	}
	/* Authorised by the policy of the applied commit: one approver of
	 * every kind the plan touches that is not auto.  Discarding a plan is
	 * deciding it too. */
	{
		json_t *needs = json_object_get(stored, "approvals_needed"), *v;
		size_t i;

		json_array_foreach(needs, i, v) {
			enum change_kind kind;

			if (!json_is_string(v) || kind_parse(&kind, json_string_value(v)) != OK)
				continue;
			if (!c->base.model || !policy_may_approve(c->base.model->policy, user, kind)) {
				*msg = xasprintf("%s may not %s %s changes (see approvers in "
				    "policy.yaml)", user, approve ? "approve" : "discard",
				    kind_name(kind));
				rc = ERR_DENIED;
				goto out;
			}
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
		/* Said in the plan's thread, like every other outcome. */
		*msg = xasprintf("plan %s discarded by %s", id, user);
		if (c->open && strcmp(c->open->id, id) == 0) {
			rc = ctl_conclude(c, c->open, "discarded", user, *msg, NULL, 0);
			ctl_drop_open(c);
		} else {
			rc = ctl_conclude_json(c, stored, "discarded", user, *msg, NULL, 0);
		}
		goto out;
	}
	/* Stale: the base is no longer applied, or the head moved on. */
	if (repo_resolve(c->repo, c->ref, head) != OK) {
		*msg = xasprintf("%s", err_last());
		rc = ERR;
		goto out;
	}
	if (strcmp(base ? base : "", c->base.sha) != 0 || strcmp(target, head) != 0) {
		const char *fresh = c->open && strcmp(c->open->target, head) == 0 ? c->open->id : NULL;

		*msg = fresh ? xasprintf("plan %s is stale; the fresh plan is %s", id, fresh) :
		    xasprintf("plan %s is stale (%.7s is now applied, %.7s is the head)", id,
		    c->base.sha[0] ? c->base.sha : "nothing", head);
		rc = ERR_CONFLICT;
		goto out;
	}
	if (c->open && strcmp(c->open->id, id) == 0) {
		p = c->open;
		tsnap = c->open_target;
		c->open = NULL;
		memset(&c->open_target, 0, sizeof(c->open_target));
	} else if ((rc = pipeline_plan(&p, c->repo, id, &c->base, target, &tsnap)) != OK) {
		*msg = xasprintf("replanning: %s", err_last());
		goto out;
	}
	/* What is applied is exactly what was reviewed. */
	if (strcmp(p->hash, hash) != 0 || p->decision == DECISION_INVALID) {
		*msg = xasprintf("plan %s no longer renders what was reviewed; it is stale", id);
		rc = ERR_CONFLICT;
	} else {
		char *said = xasprintf(", approved by %s: applied", user);

		*msg = xasprintf("plan %s applied (%.7s), approved by %s", id, p->target, user);
		rc = ctl_apply(c, p, &tsnap, user, said);
		p = NULL;
		free(said);
		if (rc != OK) {
			free(*msg);
			*msg = xasprintf("plan %s: apply failed: %s", id, err_last());
		}
	}
	snapshot_dispose(&tsnap);
	plan_free(p);
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
	if ((rc = ctl_open(&c, cfg)) != OK) {
		*msg = xasprintf("%s", err_last());
		ctl_close(&c);
		return rc;
	}
	rc = ctl_decide_plan(&c, approve, id, user, msg);
	/* The operator's shell waits for the apply hooks to finish. */
	while (c.hook_run) {
		struct pollfd pfd;
		const struct apply_ops *ops = c.aps[c.hook_idx]->ops;

		pfd.fd = ops->fd(c.hook_run);
		pfd.events = POLLIN;
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, ops->timeout_ms(c.hook_run)) < 0 && errno != EINTR)
			break;
		ctl_hooks_step(&c);
	}
	if (c.ob)
		outbox_run(c.ob);
	ctl_close(&c);
	return rc;
}
