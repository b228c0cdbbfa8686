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
#include "state/rollouts.h"
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
static void
plan_said(struct buf *sum, struct buf *body, const struct plan *p, const char *outcome,
    int actions)
{
	plan_summary(sum, p);
	buf_printf(sum, "%s", outcome);
	plan_format_text(body, p, 8000);
	if (actions)
		buf_printf(body, "\napprove %s | discard %s\n", p->id, p->id);
}

/* ---- outcomes, announced exactly once --------------------------------------- */

/*
 * An outcome's announcement is written ahead (DESIGN.md "State
 * directory": every plan that ends is announced exactly once):
 *
 *   1. reserve the message's post in the outbox (outbox_reserve);
 *   2. store the outcome with the message under "announce" (the index
 *      marks it pending: state_save_plan's `announce`);
 *   3. queue it (outbox_send with that post: a no-op if it is queued);
 *   4. clear the mark (state_announced).
 *
 * A kill between any two steps leaves the mark; the next process, before
 * its outbox delivers anything, queues every marked message whose post is
 * not queued yet and clears the marks (ctl_recover_plans).  A message
 * queued is delivered at least once: a second time only if a kill lands
 * between the chat service's answer and the outbox's rewrite (outbox.h).
 * An apply writes its announcement ahead with "applying" and queues it
 * only after the release switch: a restart that finds the switch undone
 * says so instead.
 */

/* Step 1: the record's "announce" field (owns), or NULL when there is no
 * chat (or nothing to say); *post the reserved post. */
static json_t *
announce_field(struct ctl *c, uint64_t *post, const char *summary, const char *body,
    int actions)
{
	*post = 0;
	if (!c->ob || !summary)
		return NULL;
	if (outbox_reserve(c->ob, post) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
		return NULL;
	}
	if (!*post)
		return NULL;
	return json_pack("{s:I, s:s, s:s, s:b}", "post", (json_int_t)*post, "summary", summary,
	    "body", body ? body : "", "actions", actions);
}

/* Steps 3 and 4 for a recorded announcement (borrowed). */
static void
announce_queue(struct ctl *c, const char *plan_id, const char *thread, const json_t *ann)
{
	struct outbox_msg m;

	memset(&m, 0, sizeof(m));
	m.plan_id = plan_id;
	m.thread = thread;
	m.summary = json_string_value(json_object_get(ann, "summary"));
	m.body = json_string_value(json_object_get(ann, "body"));
	m.actions = json_is_true(json_object_get(ann, "actions"));
	m.post = (uint64_t)json_integer_value(json_object_get(ann, "post"));
	m.only = -1;
	if (!m.summary || !m.post)
		return;
	if (outbox_send(c->ob, &m) != OK) {
		/* The mark stays: the next start tries again. */
		snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
		return;
	}
	if (state_announced(c->st, plan_id) != OK)
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
}

/* Step 2: the outcome, who decided it, and the announcement (borrowed). */
static int
record(struct ctl *c, const struct plan *p, const char *outcome, const char *by,
    const json_t *ann, uint64_t post)
{
	json_t *o = json_object();
	char *extra;
	int rc;

	if (by)
		json_object_set_new(o, "decided_by", json_string(by));
	if (ann)
		json_object_set(o, "announce", (json_t *)ann);
	extra = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rc = state_save_plan(c->st, p, outcome, extra, post);
	free(extra);
	if (rc != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: recording %s: %s", p->id,
		    outcome, err_last());
		log_event(NULL, "%s", c->last_error);
	}
	return rc;
}

int
ctl_conclude(struct ctl *c, const struct plan *p, const char *outcome, const char *by,
    const char *summary, const char *body, int actions)
{
	uint64_t post;
	json_t *ann = announce_field(c, &post, summary, body, actions);
	int rc = record(c, p, outcome, by, ann, post);

	/* Said even when the record failed: silence would be worse. */
	if (ann)
		announce_queue(c, p->id, p->target, ann);
	json_decref(ann);
	return rc;
}

int
ctl_conclude_json(struct ctl *c, json_t *j, const char *outcome, const char *by,
    const char *summary, const char *body, int actions)
{
	const char *id = json_string_value(json_object_get(j, "id"));
	uint64_t post;
	json_t *ann = announce_field(c, &post, summary, body, actions);
	int rc;

	json_object_set_new(j, "outcome", json_string(outcome));
	if (by)
		json_object_set_new(j, "decided_by", json_string(by));
	if (ann)
		json_object_set(j, "announce", ann);
	if ((rc = state_save_record(c->st, j, post)) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: recording %s: %s",
		    id ? id : "?", outcome, err_last());
		log_event(NULL, "%s", c->last_error);
	}
	if (ann && id)
		announce_queue(c, id, json_string_value(json_object_get(j, "target")), ann);
	json_decref(ann);
	return rc;
}

/* ---- applying ------------------------------------------------------------ */

int
ctl_save_outcome(struct state *st, const struct plan *p, const char *outcome, const char *by)
{
	json_t *o = json_object();
	char *extra;
	int rc;

	if (by)
		json_object_set_new(o, "decided_by", json_string(by));
	extra = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rc = state_save_plan(st, p, outcome, extra, 0);
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
	struct buf sum = BUF_INIT, body = BUF_INIT;
	uint64_t post = 0;
	json_t *ann = NULL;
	int rc;

	/* Recorded before the switch, with what chat is to hear once it is
	 * done: a crash between the two leaves a plan marked applying whose
	 * target is or is not the applied commit, and the restart says which,
	 * and announces it (ctl_recover_plans). */
	if (said) {
		plan_said(&sum, &body, p, said, 0);
		ann = announce_field(c, &post, sum.data, body.data, 0);
	}
	record(c, p, "applying", by, ann, post);
	buf_dispose(&sum);
	buf_dispose(&body);
	/* With HA, etcd says it first (the fenced commit point); a deposed
	 * leader switches nothing and says nothing. */
	if (c->ha && (rc = ctl_ha_commit(c, p)) != OK) {
		log_event(NULL, "plan %s for %.7s: not applied: %s", p->id, p->target, err_last());
		json_decref(ann);
		plan_free(p);
		return rc;
	}
	/* A rollout is written before the switch (rollout.c); with a canary
	 * ahead of everyone, the switch is staged. */
	{
		struct ctl_stage stage;

		ctl_rollout_prepare(c, p, target, &stage);
		rc = stage.staged ? state_apply_staged(c->st, p, &target->art, stage.fqdns,
		    stage.envs, stage.n) : state_apply(c->st, p, &target->art);
		ctl_stage_dispose(&stage);
		ctl_rollout_switched(c, p, rc == OK);
	}
	if (rc != OK) {
		char *why = xstrdup(err_last());

		snprintf(c->last_error, sizeof(c->last_error), "apply of plan %s: %s", p->id,
		    err_last());
		log_event(NULL, "plan %s for %.7s: apply failed: %s", p->id, p->target, why);
		if (said)
			plan_said(&sum, &body, p, " but the release switch failed", 0);
		ctl_conclude(c, p, "failed", by, said ? sum.data : NULL, body.data, 0);
		buf_dispose(&sum);
		buf_dispose(&body);
		json_decref(ann);
		c->applies_failed++;
		plan_free(p);
		rc = err_set(rc, "%s", why);
		free(why);
		return rc;
	}
	log_timing("release", t);
	/* The old base lives on until the providers end: they compare the
	 * world with what it says (apply_info.base_art). */
	snapshot_dispose(&c->hook_base);
	c->hook_base = c->base;
	c->base = *target;
	memset(target, 0, sizeof(*target));
	c->last_applied_at = (double)time(NULL);
	if (c->ha)
		ctl_ha_applied(c);
	log_event(NULL, "plan %s for %.7s: released%s%s", p->id, p->target, by ? " by " : "",
	    by ? by : "");
	if (ann)
		announce_queue(c, p->id, p->target, ann);
	json_decref(ann);
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
		struct apply_info info = { release, p->id, p->target, p,
		    c->hook_base.sha[0] ? &c->hook_base.art : NULL, &c->base.art };

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
	c->hook_plan = NULL;
	/* The world's other parts are done: Puppet's turn. */
	ctl_rollout_begin(c, p->id, c->hook_failed);
	plan_free(p);
	snapshot_dispose(&c->hook_base);
	ctl_retain(c);
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
	} else if (reason && *reason) {
		/* The world reached: say what changed, in the plan's thread. */
		char *line = xasprintf("plan %s: apply %s done: %.*s", c->hook_plan->id, ap->name,
		    (int)strcspn(reason, "\n"), reason);

		log_event(NULL, "%s", line);
		ctl_notify(c, c->hook_plan, line, strchr(reason, '\n') ? reason : "", 0);
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
			char *line = xasprintf("plan %s superseded: the head is back at the applied "
			    "commit %.7s", c->open->id, c->base.sha);

			ctl_conclude(c, c->open, "superseded", NULL, line, "", 0);
			free(line);
			ctl_drop_open(c);
		}
		return;
	}
	if (state_reserve_plan_id(c->st, id) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "planning %.7s: %s", head, err_last());
		log_event(NULL, "%s", c->last_error);
		/* Not planned: the next event tries again. */
		c->head[0] = '\0';
		return;
	}
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
	ctl_ladder_planned(c, p);     /* reverts, for the trust ladder (health.c) */
	/* A newer commit supersedes a plan still waiting. */
	if (c->open) {
		struct buf b = BUF_INIT;

		buf_printf(&b, "plan %s superseded by plan %s", c->open->id, p->id);
		ctl_conclude(c, c->open, "superseded", NULL, b.data, "", 0);
		buf_dispose(&b);
		ctl_drop_open(c);
	}
	c->by_decision[p->decision]++;
	switch (p->decision) {
	case DECISION_INVALID: {
		struct buf sum = BUF_INIT, body = BUF_INIT;

		plan_said(&sum, &body, p, " (the last good release stays current)", 0);
		ctl_conclude(c, p, "invalid", NULL, sum.data, body.data, 0);
		buf_dispose(&sum);
		buf_dispose(&body);
		plan_free(p);
		return;
	}
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
		{
			struct buf sum = BUF_INIT, body = BUF_INIT;

			plan_said(&sum, &body, p, p->decision == DECISION_OBSERVE ?
			    " (observe: would apply; approve to apply)" : " (waiting for an approver)", 1);
			ctl_conclude(c, p, "open", NULL, sum.data, body.data, 1);
			buf_dispose(&sum);
			buf_dispose(&body);
		}
		c->open = p;
		c->open_target = target;
		return;
	}
}

/*
 * Plans a stopped (or killed) controller left in the middle; the index
 * names them all, so no closed plan is read.
 *
 * Any process that opens the outbox first queues the announcements a
 * kill left written ahead but unqueued, where they are true: every marked
 * one, except an apply's whose target is not the applied commit (it never
 * switched; what was written ahead did not happen).
 *
 * The controller's start (`settle`) then settles outcomes: one marked
 * applying reached the release if its target is the applied commit -- with
 * apply providers it is "interrupted" (run them by hand), else applied;
 * one that did not is failed, and said so (the first reconcile plans the
 * head again); one still open is superseded by the plan the first
 * reconcile makes, and said so.  The shell (approve, discard on a stopped
 * controller) leaves outcomes alone: it acts on open plans.
 */
struct recovery {
	struct ctl *c;
	int settle;
};

static int
recover_one(void *ctx, const char *file, json_t *j, uint64_t pending)
{
	struct recovery *rv = ctx;
	struct ctl *c = rv->c;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *id = json_string_value(json_object_get(j, "id"));
	json_t *ann = json_object_get(j, "announce");
	uint64_t post = (uint64_t)json_integer_value(json_object_get(ann, "post"));
	int due = pending && post == pending && c->ob;
	int applying = strcmp(outcome ? outcome : "", "applying") == 0;
	int released = target && strcmp(target, c->base.sha) == 0;
	char *line = NULL;

	(void)file;
	if (!id || !outcome)
		return 0;
	if (due && (!applying || released))
		announce_queue(c, id, target, ann);
	if (!rv->settle)
		return 0;
	if (applying && released) {
		const char *now = c->naps ? "interrupted" : "applied";

		json_object_set_new(j, "outcome", json_string(now));
		if (state_save_record(c->st, j, 0) == OK)
			log_event(NULL, "plan %s: %s after a restart", id, now);
	} else if (applying) {
		line = xasprintf("plan %s for %.7s: the controller stopped before the release switch; "
		    "nothing changed -> failed (the head is planned again)", id, target ? target : "");
		if (ctl_conclude_json(c, j, "failed", NULL, line, "", 0) == OK)
			log_event(NULL, "plan %s: failed after a restart", id);
	} else if (strcmp(outcome, "open") == 0 && c->open && strcmp(c->open->id, id) == 0) {
		/* Kept open, with its id, by an HA successor (ha.c). */
	} else if (strcmp(outcome, "open") == 0) {
		ctl_keep_approvals(c, j);   /* for the head's new plan */
		line = xasprintf("plan %s superseded: the controller restarted; the head is planned "
		    "again", id);
		if (ctl_conclude_json(c, j, "superseded", NULL, line, "", 0) == OK)
			log_event(NULL, "plan %s: superseded after a restart", id);
	} else if (!due) {
		/* Closed, nothing (or nowhere) to say: a kill came before the
		 * index caught up.  (A due one left the index once queued.) */
		state_index_drop(c->st, id);
	}
	free(line);
	return 0;
}

void
ctl_recover_plans(struct ctl *c, int settle)
{
	struct recovery rv = { c, settle };

	if (state_each_open(c->cfg->state, recover_one, &rv) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
		log_event(NULL, "recovering plans: %s", err_last());
	}
}

/* One bounded pass of retention (config `retention:`). */
void
ctl_retain(struct ctl *c)
{
	struct state_retention r;
	struct state_retained done;

	memset(&r, 0, sizeof(r));
	r.days = c->cfg->retain_days;
	r.plans = c->cfg->retain_plans;
	r.thread_slots = c->ob ? outbox_backend_count(c->ob) : 0;
	r.scan_max = STATE_RETAIN_SCAN;
	r.delete_max = STATE_RETAIN_DELETE;
	if (state_retain(c->st, &r, (long long)time(NULL), &done) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "retention: %s", err_last());
		log_event(NULL, "%s", c->last_error);
	}
	if (done.plans)
		log_event(NULL, "retention: deleted %zu closed plan%s and %zu release%s", done.plans,
		    done.plans == 1 ? "" : "s", done.releases, done.releases == 1 ? "" : "s");
	c->retain_more = done.more;
}
