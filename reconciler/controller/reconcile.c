/*
 * reconcile.c - plan every new head against the applied commit and act
 * on the decision (an apply is applying.c's); announce every outcome
 * exactly once; settle what a stopped controller left.  See ctl.h.
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crashpoint.h"
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
 * An apply is announced when it ends (applying.c): with its outcome, once
 * its providers ran, or by the restart that finishes it.
 */

/* Step 1: the record's "announce" field (owns), or NULL when there is no
 * chat (or nothing to say); *post the reserved post. */
json_t *
ctl_announce_field(struct ctl *c, uint64_t *post, const char *summary, const char *body,
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
void
ctl_announce_queue(struct ctl *c, const char *plan_id, const char *thread, const json_t *ann)
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
	crash_point("after-queue");
	if (state_announced(c->st, plan_id) != OK)
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
}

/* Step 2: the outcome, who decided it, and the announcement (borrowed;
 * the record takes a reference). */
static int
record(struct ctl *c, const struct plan *p, const char *outcome, const char *by,
    json_t *ann, uint64_t post)
{
	json_t *o = json_object();
	char *extra;
	int rc;

	if (by)
		json_object_set_new(o, "decided_by", json_string(by));
	if (ann)
		json_object_set(o, "announce", ann);
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
	json_t *ann = ctl_announce_field(c, &post, summary, body, actions);
	int rc = record(c, p, outcome, by, ann, post);

	if (ann)
		crash_point("after-outcome");
	/* Said even when the record failed: silence would be worse. */
	if (ann)
		ctl_announce_queue(c, p->id, p->target, ann);
	json_decref(ann);
	return rc;
}

int
ctl_conclude_json(struct ctl *c, json_t *j, const char *outcome, const char *by,
    const char *summary, const char *body, int actions)
{
	const char *id = json_string_value(json_object_get(j, "id"));
	uint64_t post;
	json_t *ann = ctl_announce_field(c, &post, summary, body, actions);
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
	if (ann && id) {
		crash_point("after-outcome");
		ctl_announce_queue(c, id, json_string_value(json_object_get(j, "target")), ann);
	}
	json_decref(ann);
	return rc;
}

/* ---- approvals' progress ---------------------------------------------------- */

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
	/* Terraform makes its saved plan first: what is posted and approved
	 * includes it (world.c; ctl_act follows). */
	if (ctl_prepare(c, p, &target))
		return;
	ctl_act(c, p, &target);
}

/* Act on a new plan's decision. */
void
ctl_act(struct ctl *c, struct plan *p, struct snapshot *tsnap)
{
	struct snapshot target = *tsnap;

	memset(tsnap, 0, sizeof(*tsnap));
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
 * one, except an apply's whose target is not the applied commit (a
 * record of an older version, which wrote an apply's announcement ahead
 * of the switch: it never switched, so what was written did not happen).
 *
 * The controller's start (`settle`) then settles outcomes: a plan marked
 * applying whose target is the applied commit was released, and its
 * apply is finished (ctl_resume: its providers that had not finished run
 * again; the outcome is announced "(finished after a restart)"); one
 * whose target is not was stopped before the switch, and is failed, and
 * said so (the first reconcile plans the head again); one still open is
 * superseded by the plan the first reconcile makes, and said so.  The
 * shell (approve, discard on a stopped controller) leaves outcomes alone:
 * it acts on open plans.
 */
struct recovery {
	struct ctl *c;
	int settle;
	int resume_only;          /* ctl_resume_next: look for one to finish */
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
	if (rv->resume_only) {
		/* One at a time: the next is looked for when this one ends. */
		if (applying && released && !c->hook_plan)
			ctl_resume(c, j);
		return c->hook_plan != NULL;
	}
	if (due && (!applying || released))
		ctl_announce_queue(c, id, target, ann);
	if (!rv->settle)
		return 0;
	if (applying && released) {
		if (!c->hook_plan)
			ctl_resume(c, j);
		/* else: finished after the one running (ctl_resume_next). */
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
	struct recovery rv = { c, settle, 0 };

	if (state_each_open(c->cfg->state, recover_one, &rv) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "%s", err_last());
		log_event(NULL, "recovering plans: %s", err_last());
	}
	/* A left-over run ctl_stop_leftovers signalled, of no plan being
	 * finished now: nothing waits for it. */
	if (settle && !c->hook_plan)
		memset(&c->hook_orphan, 0, sizeof(c->hook_orphan));
}

void
ctl_resume_next(struct ctl *c)
{
	struct recovery rv = { c, 1, 1 };

	if (!c->hook_plan && state_each_open(c->cfg->state, recover_one, &rv) != OK)
		log_event(NULL, "recovering plans: %s", err_last());
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
