/*
 * reconcile.c - plan every new head against the applied commit, act on
 * the decision, switch the release and run the apply providers; tell chat
 * what happened.  See ctl.h.
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fs.h"
#include "base/log.h"
#include "git/repo.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/apply/apply.h"
#include "state/outbox.h"
#include "state/state.h"

/* Commit-to-plan latency buckets, in seconds (Prometheus histogram). */
const double ctl_lat_bounds[CTL_LAT_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5 };

/* ---- messages ---------------------------------------------------------- */

/* Post to every chat of the config through the outbox (stored first). */
void
ctl_notify(struct ctl *c, const struct plan *p, const char *summary, const char *body,
    int actions)
{
	if (!c->ob)
		return;
	struct outbox_msg m;

	memset(&m, 0, sizeof(m));
	/* A plan's messages thread under its commit: a bot command's
	 * announcement of that commit starts the thread, the plan follows. */
	m.plan_id = p ? p->id : NULL;
	m.thread = p ? p->target : NULL;
	m.summary = summary;
	m.body = body;
	m.actions = actions;
	m.only = -1;
	if (outbox_send(c->ob, &m) != OK)
		snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
}

/* The summary line with the outcome in words, and the plan text. */
void
ctl_notify_plan(struct ctl *c, const struct plan *p, const char *outcome, int actions)
{
	struct buf sum = BUF_INIT, body = BUF_INIT;

	plan_summary(&sum, p);
	buf_printf(&sum, "%s", outcome);
	plan_format_text(&body, p, 8000);
	if (actions)
		buf_printf(&body, "\napprove %s | discard %s\n", p->id, p->id);
	ctl_notify(c, p, sum.data, body.data, actions);
	buf_dispose(&sum);
	buf_dispose(&body);
}

/* ---- applying ------------------------------------------------------------ */

/* Rewrite a stored plan's outcome in place (the plan is only JSON here). */
int
ctl_rewrite_outcome(const char *file, json_t *j, const char *outcome, const char *by)
{
	char *s;
	int rc;

	json_object_set_new(j, "outcome", json_string(outcome));
	if (by)
		json_object_set_new(j, "decided_by", json_string(by));
	s = json_dumps(j, JSON_INDENT(2));
	rc = fs_write_atomic(file, s, strlen(s));
	free(s);
	return rc;
}

int
ctl_save_outcome(struct state *st, const struct plan *p, const char *outcome, const char *by)
{
	json_t *o = json_pack("{s:s}", "outcome", outcome);
	char *extra;
	int rc;

	if (by)
		json_object_set_new(o, "decided_by", json_string(by));
	extra = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rc = state_save_plan(st, p, extra);
	free(extra);
	return rc;
}

static void hooks_continue(struct ctl *c);

/*
 * Switch the release to the plan's target and make it the new base; then
 * run the apply providers that want the plan, one after another, as child
 * processes the loop watches.  Takes the plan (owns it from here on).
 * `said` is the outcome for chat (NULL: say nothing, for a noop).
 */
int
ctl_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said)
{
	double t = log_now();
	int rc;

	/* Recorded before the switch: a crash between the two leaves a plan
	 * marked applying whose target is or is not the applied commit, and
	 * the restart says which (recover_plans). */
	ctl_save_outcome(c->st, p, "applying", by);
	if ((rc = state_apply(c->st, p, &target->art)) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "apply of plan %s: %s", p->id,
		    err_last());
		ctl_save_outcome(c->st, p, "failed", by);
		log_event(NULL, "plan %s for %.7s: apply failed: %s", p->id, p->target, err_last());
		if (said)
			ctl_notify_plan(c, p, " but the release switch failed", 0);
		c->applies_failed++;
		plan_free(p);
		return rc;
	}
	log_timing("release", t);
	snapshot_dispose(&c->base);
	c->base = *target;
	memset(target, 0, sizeof(*target));
	c->last_applied_at = (double)time(NULL);
	log_event(NULL, "plan %s for %.7s: released%s%s", p->id, p->target, by ? " by " : "",
	    by ? by : "");
	if (said)
		ctl_notify_plan(c, p, said, 0);
	c->hook_plan = p;
	c->hook_next = 0;
	c->hook_failed = 0;
	hooks_continue(c);
	return OK;
}

/* Start the next apply provider that wants the plan, or finish. */
static void
hooks_continue(struct ctl *c)
{
	struct plan *p = c->hook_plan;
	char release[4096];

	snprintf(release, sizeof(release), "%s/releases/%s", c->cfg->state, p->id);
	while (!c->hook_failed && c->hook_next < c->naps) {
		size_t i = c->hook_next++;
		struct apply_info info = { release, p->id, p->target, p };

		if (!c->aps[i]->ops->wants(c->apst[i], p))
			continue;
		if (c->aps[i]->ops->start(&c->hook_run, c->apst[i], &info) == OK) {
			c->hook_idx = i;
			log_event(NULL, "plan %s: apply %s started", p->id, c->aps[i]->name);
			return;
		}
		c->hook_failed = 1;
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: apply %s: %s", p->id,
		    c->aps[i]->name, err_last());
		{
			char *line = xasprintf("plan %s: apply %s could not start: %s", p->id,
			    c->aps[i]->name, err_last());

			ctl_notify(c, p, line, "", 0);
			free(line);
		}
	}
	ctl_save_outcome(c->st, p, c->hook_failed ? "failed" : "applied", NULL);
	if (c->hook_failed)
		c->applies_failed++;
	else
		c->applies_ok++;
	log_event(NULL, "plan %s for %.7s: %s", p->id, p->target, c->hook_failed ? "failed" : "applied");
	plan_free(p);
	c->hook_plan = NULL;
}

/* The running provider made progress (its fd or its timeout). */
void
ctl_hooks_step(struct ctl *c)
{
	const struct apply_provider *ap = c->aps[c->hook_idx];
	char *reason = NULL;

	if (!c->hook_run || !ap->ops->step(c->hook_run))
		return;
	if (ap->ops->finish(&reason, c->hook_run) != OK) {
		char *line = xasprintf("plan %s: apply %s failed: %s", c->hook_plan->id, ap->name,
		    reason ? reason : "");

		c->hook_failed = 1;
		snprintf(c->last_error, sizeof(c->last_error), "%s", line);
		log_event(NULL, "%s", line);
		ctl_notify(c, c->hook_plan, line, reason, 0);
		free(line);
	}
	free(reason);
	c->hook_run = NULL;
	hooks_continue(c);
}

/* ---- reconciling ----------------------------------------------------------- */

void
ctl_drop_open(struct ctl *c)
{
	plan_free(c->open);
	c->open = NULL;
	snapshot_dispose(&c->open_target);
}

/* Plan the branch head against the applied commit and act on the decision. */
void
ctl_reconcile(struct ctl *c)
{
	struct snapshot target;
	struct plan *p = NULL;
	char head[41], id[24];
	double t0 = log_now();

	if (repo_resolve(c->repo, c->ref, head) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
		return;
	}
	if (strcmp(head, c->head) == 0)
		return;
	snprintf(c->head, sizeof(c->head), "%s", head);
	if (strcmp(head, c->base.sha) == 0) {
		/* Back at the applied commit: nothing is pending any more. */
		if (c->open) {
			ctl_save_outcome(c->st, c->open, "superseded", NULL);
			ctl_drop_open(c);
		}
		return;
	}
	state_next_plan_id(c->st, id);
	if (pipeline_plan(&p, c->repo, &(struct repo_ident){ c->cfg->bot_name, c->cfg->bot_email },
	    id, &c->base, head, &target) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "planning %.7s: %s", head,
		    err_last());
		log_event(NULL, "planning %.7s failed: %s", head, err_last());
		return;
	}
	log_timing("commit to plan", t0);
	{
		double dt = log_now() - t0;
		size_t b;

		for (b = 0; b < CTL_LAT_BUCKETS; b++)
			if (dt <= ctl_lat_bounds[b])
				c->lat_buckets[b]++;
		c->lat_count++;
		c->lat_sum += dt;
	}
	log_event(NULL, "plan %s for %.7s: %s", p->id, p->target, decision_name(p->decision));
	/* A newer commit supersedes a plan still waiting. */
	if (c->open) {
		struct buf b = BUF_INIT;

		ctl_save_outcome(c->st, c->open, "superseded", NULL);
		buf_printf(&b, "plan %s superseded by plan %s", c->open->id, p->id);
		ctl_notify(c, c->open, b.data, "", 0);
		buf_dispose(&b);
		ctl_drop_open(c);
	}
	c->by_decision[p->decision]++;
	switch (p->decision) {
	case DECISION_INVALID:
		ctl_save_outcome(c->st, p, "invalid", NULL);
		ctl_notify_plan(c, p, " (the last good release stays current)", 0);
		plan_free(p);
		return;
	case DECISION_NOOP:
		/* Nothing changes for anyone: move the base along quietly. */
		ctl_apply(c, p, &target, NULL, NULL);
		snapshot_dispose(&target);
		return;
	case DECISION_AUTO:
		ctl_apply(c, p, &target, NULL, "-applied");
		snapshot_dispose(&target);
		return;
	case DECISION_OBSERVE:
	case DECISION_APPROVE:
		if (!c->base.sha[0] && c->bootstrap_apply) {
			ctl_apply(c, p, &target, "--bootstrap-apply", " (bootstrap: applied)");
			snapshot_dispose(&target);
			return;
		}
		ctl_carry_approvals(c, p);
		ctl_save_outcome(c->st, p, "open", NULL);
		ctl_notify_plan(c, p, p->decision == DECISION_OBSERVE ?
		    " (observe: would apply; approve to apply)" : " (waiting for an approver)", 1);
		c->open = p;
		c->open_target = target;
		return;
	}
}

/*
 * Plans a stopped controller left in the middle: one marked applying
 * reached the release if its target is the applied commit (else it did
 * not: failed, and the first reconcile plans the head again); one still
 * open is superseded by the plan the first reconcile makes.
 */
static int
recover_one(void *ctx, const char *file, json_t *j)
{
	struct ctl *c = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *id = json_string_value(json_object_get(j, "id")), *now = NULL;

	/* Released but its hooks cut short: "interrupted" (run them by hand);
	 * with no hooks configured the release was the apply. */
	if (outcome && strcmp(outcome, "applying") == 0)
		now = !target || strcmp(target, c->base.sha) != 0 ? "failed" :
		    c->naps ? "interrupted" : "applied";
	else if (outcome && strcmp(outcome, "open") == 0) {
		now = "superseded";
		ctl_keep_approvals(c, j);   /* for the head's new plan */
	}
	if (now && ctl_rewrite_outcome(file, j, now, NULL) == OK)
		log_event(NULL, "plan %s: %s after a restart", id ? id : "?", now);
	return 0;
}

void
ctl_recover_plans(struct ctl *c)
{
	state_each_plan(c->cfg->state, recover_one, c);
}
