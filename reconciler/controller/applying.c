/*
 * applying.c - one apply, from the release switch to its announced
 * outcome, and finishing one that a stop or a kill -9 cut short (DESIGN.md
 * "State directory", "Reaching the world: apply providers").  See ctl.h.
 *
 * The plan's record is the apply's journal.  Every step is written to it
 * (fs_write_atomic: whole or not at all) before the step's effect can be
 * seen, so a restart reads what had happened:
 *
 *   1. "applying", with who decided it, the line chat is to hear and the
 *      providers that want the plan, each "pending";
 *   2. the release switch (state_apply; its rename is the commit point);
 *   3. for each provider in turn: "running" (and its runs count), then
 *      its process group's identity once it started (base/orphan.h), then
 *      "done" when it ended well;
 *   4. the outcome -- "applied", or "failed" with the provider that failed
 *      and why -- written together with its announcement (ctl_conclude:
 *      write-ahead), then queued.
 *
 * A restart (ctl_recover_plans) finds a plan still "applying": if its
 * target is not the applied commit, step 2 never happened and the plan is
 * failed, saying nothing changed.  If it is, ctl_resume() finishes it:
 * each provider not "done" runs again -- after whatever the dead
 * process's run of it left running is stopped (SIGTERM to its group, then
 * SIGKILL) -- with APPLY_AFTER_RESTART (and APPLY_RERUN for the one that
 * was running) in apply_info.flags, and the outcome is announced with
 * "(finished after a restart)".  A provider recorded "done" never runs
 * again; one that finished in the instant between its exit and the
 * "done" write runs a second time (providers converge, so that is safe,
 * and it is the only way a provider runs twice for a plan).
 *
 * The record keeps every field it had (approvals, decided_by, what other
 * code adds), because each write is of the record as read or built here,
 * not rebuilt from struct plan.
 *
 * Nothing here blocks the loop: providers are children the loop polls,
 * and the stop of a left-over run is polled too (ctl_hooks_step).
 */
#include "controller/ctl.h"

#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crashpoint.h"
#include "base/log.h"
#include "base/orphan.h"
#include "base/proc.h"
#include "git/repo.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/apply/apply.h"
#include "state/state.h"

/* How long a left-over run gets between SIGTERM and SIGKILL, and then to
 * be gone before the provider runs anyway (logged). */
#define ORPHAN_GRACE_S 5.0
#define ORPHAN_KILL_WAIT_S 2.0
#define ORPHAN_POLL_MS 50

/* ---- the journal ----------------------------------------------------------- */

/* The record's entry for provider `idx` of the config (borrowed), or NULL
 * when that provider does not run for the plan. */
static json_t *
entry_of(json_t *rec, size_t idx)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(rec, "providers"), i, e)
		if (json_integer_value(json_object_get(e, "index")) == (json_int_t)idx)
			return e;
	return NULL;
}

static const char *
entry_state(const json_t *e)
{
	const char *s = json_string_value(json_object_get(e, "state"));

	return s ? s : "";
}

/* Write the record as it stands (outcome "applying").  A failure is
 * logged and kept in last_error: the apply goes on (the world matters
 * more than the journal), and a restart then runs a provider again that
 * may have finished, which is safe. */
static int
journal(struct ctl *c)
{
	int rc = state_save_record(c->st, c->hook_rec, 0);

	if (rc != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "plan %s: recording its progress: %s",
		    c->hook_plan->id, err_last());
		log_event(NULL, "%s", c->last_error);
	}
	return rc;
}

/* The "providers" array for plan p: the configured providers that want
 * it, in order, all in `state`. */
static json_t *
providers_for(struct ctl *c, const struct plan *p, const char *state)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < c->naps; i++)
		if (ctl_wants(c, p, i))
			json_array_append_new(a, json_pack("{s:s, s:I, s:s, s:i}", "name",
			    c->aps[i]->name, "index", (json_int_t)i, "state", state, "runs", 0));
	return a;
}

/* Has a provider listed before entry e finished? */
static int
done_before(json_t *rec, const json_t *e)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(rec, "providers"), i, x) {
		if (x == e)
			return 0;
		if (strcmp(entry_state(x), "done") == 0)
			return 1;
	}
	return 0;
}

/* The identity of a running provider's process group, kept in its entry
 * so that a restart can stop it (apply_ops.group, base/orphan.h). */
static void
entry_set_group(struct ctl *c, json_t *e, void *run, const struct apply_provider *ap)
{
	struct orphan o;
	long pid = ap->ops->group ? ap->ops->group(run) : 0;

	if (pid <= 0 || orphan_identify(&o, pid) != OK)
		return;
	json_object_set_new(e, "pid", json_integer(o.pid));
	json_object_set_new(e, "pid_start", json_integer((json_int_t)o.start));
	json_object_set_new(e, "boot", json_string(o.boot));
	journal(c);
}

/*
 * A run of several steps (terraform: init, then apply) starts a process
 * group for each: the journal follows it, so that a restart stops the
 * step that runs, not one that ended.  (A kill in the instant between a
 * step's start and this write leaves that step unrecorded: it runs on
 * beside the provider's next run, as a run that completed on its own
 * would have.)
 */
static void
entry_follow_group(struct ctl *c, json_t *e, void *run, const struct apply_provider *ap)
{
	long pid = ap->ops->group ? ap->ops->group(run) : 0;

	if (e && pid > 0 && pid != (long)json_integer_value(json_object_get(e, "pid")))
		entry_set_group(c, e, run, ap);
}

static void
entry_clear_group(json_t *e)
{
	json_object_del(e, "pid");
	json_object_del(e, "pid_start");
	json_object_del(e, "boot");
}

/* The process group a provider entry says its last run had, if any. */
static int
entry_group(const json_t *e, struct orphan *o)
{
	const char *boot = json_string_value(json_object_get(e, "boot"));

	memset(o, 0, sizeof(*o));
	o->pid = (long)json_integer_value(json_object_get(e, "pid"));
	o->start = (unsigned long long)json_integer_value(json_object_get(e, "pid_start"));
	if (o->pid <= 1 || !boot || strlen(boot) >= sizeof(o->boot))
		return 0;
	snprintf(o->boot, sizeof(o->boot), "%s", boot);
	return 1;
}

/* ---- the end of an apply ------------------------------------------------------- */

static int
resumed(const struct ctl *c)
{
	return (c->hook_flags & APPLY_AFTER_RESTART) != 0;
}

/* Forget the apply that ended (`failed`: a provider failed); its rollout
 * begins (Puppet's turn: rollout.c), and a restart may have another
 * apply to finish. */
static void
hooks_forget(struct ctl *c, int failed)
{
	int was_resumed = resumed(c);
	struct plan *p = c->hook_plan;

	c->hook_plan = NULL;
	ctl_rollout_begin(c, p->id, failed);
	plan_free(p);
	json_decref(c->hook_rec);
	c->hook_rec = NULL;
	snapshot_dispose(&c->hook_base);
	c->hook_flags = 0;
	c->hook_kick = 0;
	c->hook_stale = 0;
	c->hook_run = NULL;
	memset(&c->hook_orphan, 0, sizeof(c->hook_orphan));
	ctl_retain(c);
	if (was_resumed)
		ctl_resume_next(c);
}

/*
 * Every provider ended well: the plan is applied, and said so once; then
 * its rollout begins (hooks_forget).  A rollout keeps its own per-host
 * record (rollout.c); after a restart ctl_rollout_resume_after_restart
 * goes on with it, and one still waiting for the providers a restart is
 * running again (c->hook_plan is its plan) begins when they end, here.
 */
static void
hooks_applied(struct ctl *c)
{
	struct plan *p = c->hook_plan;
	const char *said = json_string_value(json_object_get(c->hook_rec, "applied_summary"));
	struct buf sum = BUF_INIT, body = BUF_INIT;

	crash_point("before-outcome");
	if (said) {
		buf_printf(&sum, "%s%s", said, resumed(c) ? " (finished after a restart)" : "");
		plan_format_text(&body, p, 8000);
	}
	ctl_conclude_json(c, c->hook_rec, "applied", NULL, said ? sum.data : NULL, body.data, 0);
	c->applies_ok++;
	log_event(NULL, "plan %s for %.7s: applied%s", p->id, p->target,
	    resumed(c) ? " (finished after a restart)" : "");
	buf_dispose(&sum);
	buf_dispose(&body);
	hooks_forget(c, 0);
}

/*
 * Provider entry e failed (`why`: "failed" or "could not start";
 * `reason`: the provider's text, may be NULL): the plan is failed, the
 * release stays current, and the thread hears which provider and why --
 * one message, written ahead with the outcome.
 */
static void
hooks_failed(struct ctl *c, json_t *e, int rc, const char *why, const char *reason)
{
	struct plan *p = c->hook_plan;
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *r = reason && *reason ? reason : "(no reason given)";
	struct buf sum = BUF_INIT, body = BUF_INIT;
	json_t *x, *unfinished = json_array();
	size_t i;

	json_object_set_new(e, "state", json_string("failed"));
	json_object_set_new(e, "reason", json_string(r));
	entry_clear_group(e);
	ctl_hook_failed(c, (size_t)json_integer_value(json_object_get(e, "index")), rc);
	/* What `retry` runs: the provider that failed, and those after it
	 * that the failure kept from running. */
	json_array_foreach(json_object_get(c->hook_rec, "providers"), i, x)
		if (strcmp(entry_state(x), "done") != 0 && strcmp(entry_state(x), "dropped") != 0) {
			json_int_t k = json_integer_value(json_object_get(x, "index"));

			json_array_append_new(unfinished, json_integer(k));
			if (k >= 0 && k < 32)
				p->unfinished |= 1u << k;
		}
	json_object_set_new(c->hook_rec, "apply_unfinished", unfinished);
	/* A stale saved plan (APPLY_STALE) asks for a new plan (world.c),
	 * noted durably before the outcome that says one follows. */
	ctl_hooks_done(c, p);
	crash_point("before-outcome");
	/* The whole reason in the summary (chat makes it one line): the one
	 * line a console or an IRC channel shows must say what differed. */
	buf_printf(&sum, "plan %s: apply %s %s%s: %s", p->id, name ? name : "?", why,
	    resumed(c) ? " (after a restart)" : "", r);
	buf_printf(&body, "%s\n\nThe release is current; the world may be partly changed.\n\n", r);
	plan_format_text(&body, p, 8000);
	snprintf(c->last_error, sizeof(c->last_error), "%s", sum.data);
	log_event(NULL, "%s", sum.data);
	ctl_conclude_json(c, c->hook_rec, "failed", NULL, sum.data, body.data, 0);
	c->applies_failed++;
	buf_dispose(&sum);
	buf_dispose(&body);
	hooks_forget(c, 1);
}

/* ---- running the providers ------------------------------------------------------ */

/* Begin stopping what a killed controller's run of entry e left running;
 * 1 when there is something to wait for. */
static int
orphan_begin(struct ctl *c, json_t *e)
{
	struct orphan o;

	if (!entry_group(e, &o))
		return 0;
	/* Signalled already, at the start (ctl_stop_leftovers). */
	if (c->hook_orphan.pid == o.pid && c->hook_orphan.start == o.start &&
	    strcmp(c->hook_orphan.boot, o.boot) == 0)
		return 1;
	if (!orphan_alive(&o) || orphan_signal(&o, SIGTERM) != OK)
		return 0;
	log_event(NULL, "plan %s: stopping the run of %s (process group %ld) a stopped controller "
	    "left running, before running it again", c->hook_plan->id,
	    json_string_value(json_object_get(e, "name")), o.pid);
	c->hook_orphan = o;
	c->hook_orphan_until = log_now() + ORPHAN_GRACE_S;
	c->hook_orphan_killed = 0;
	return 1;
}

/* This instance no longer leads (ctl_may_act): the plan stays applying,
 * as journalled, for the leader that adopts etcd's state; nothing more
 * runs or is said here, and the loop's next turn ends this term. */
static void
hooks_left(struct ctl *c)
{
	log_event(NULL, "plan %s for %.7s: left applying to the next leader (this instance no "
	    "longer leads)", c->hook_plan->id, c->hook_plan->target);
}

/* Start the next provider that has not finished for the plan, or end. */
static void
hooks_continue(struct ctl *c)
{
	struct plan *p = c->hook_plan;
	char release[4096];

	snprintf(release, sizeof(release), "%s/releases/%s", c->cfg->state, p->id);
	while (c->hook_next < c->naps) {
		size_t i = c->hook_next;
		const struct apply_provider *ap = c->aps[i];
		json_t *e = entry_of(c->hook_rec, i);
		const char *was, *name;
		struct apply_info info;
		json_int_t runs;

		if (!e || strcmp(entry_state(e), "done") == 0) {
			c->hook_next++;
			continue;
		}
		name = json_string_value(json_object_get(e, "name"));
		if (!name || strcmp(name, ap->name) != 0) {
			/* The config changed between the stop and the restart:
			 * entry i was another provider.  Not run: it is not
			 * configured any more. */
			log_event(NULL, "plan %s: apply[%zu] is %s now, not %s: not run", p->id, i,
			    ap->name, name ? name : "?");
			json_object_set_new(e, "state", json_string("dropped"));
			c->hook_next++;
			continue;
		}
		/* With HA, only a leader whose lease is certainly alive starts
		 * one: a leader paused between its fenced commit and here
		 * leaves the plan applying, and its successor finishes it. */
		if (!ctl_may_act(c)) {
			hooks_left(c);
			return;
		}
		was = entry_state(e);
		/* A run the dead controller left is stopped before this one. */
		if (strcmp(was, "running") == 0 && orphan_begin(c, e))
			return;
		if (done_before(c->hook_rec, e))
			crash_point("between-providers");
		ctl_apply_info(c, p, i, release, &info);
		info.flags = c->hook_flags | (strcmp(was, "running") == 0 ? APPLY_RERUN : 0);
		runs = json_integer_value(json_object_get(e, "runs"));
		json_object_set_new(e, "state", json_string("running"));
		json_object_set_new(e, "runs", json_integer(runs + 1));
		entry_clear_group(e);
		journal(c);
		c->hook_next++;
		/* Said before it starts: whatever instant a kill comes at, a
		 * run the log does not announce did not happen. */
		log_event(NULL, "plan %s: apply %s starting%s", p->id, ap->name,
		    info.flags & APPLY_RERUN ? " again (it was cut short by a stop)" :
		    info.flags ? " (after a restart)" : "");
		if (ap->ops->start(&c->hook_run, c->apst[i], &info) != OK) {
			char *why = xstrdup(err_last());

			c->hook_run = NULL;
			hooks_failed(c, e, ERR, "could not start", why);
			free(why);
			return;
		}
		c->hook_idx = i;
		entry_set_group(c, e, c->hook_run, ap);
		crash_point("during-provider");
		return;
	}
	if (!ctl_may_act(c)) {
		hooks_left(c);
		return;
	}
	hooks_applied(c);
}

/* A left-over run is being stopped: go on once it is gone. */
static void
orphan_step(struct ctl *c)
{
	double now = log_now();

	if (orphan_alive(&c->hook_orphan)) {
		if (now < c->hook_orphan_until)
			return;
		if (!c->hook_orphan_killed) {
			orphan_signal(&c->hook_orphan, SIGKILL);
			c->hook_orphan_killed = 1;
			c->hook_orphan_until = now + ORPHAN_KILL_WAIT_S;
			return;
		}
		log_event(NULL, "plan %s: process group %ld survives SIGKILL; running the provider "
		    "anyway", c->hook_plan->id, c->hook_orphan.pid);
	} else {
		orphan_kill_rest(&c->hook_orphan);
	}
	memset(&c->hook_orphan, 0, sizeof(c->hook_orphan));
	/* Run it now: hooks_continue sees it "running" (APPLY_RERUN) and
	 * without a group any more.  (Unless the config dropped that
	 * provider and the next one runs already.) */
	if (!c->hook_run) {
		entry_clear_group(entry_of(c->hook_rec, c->hook_next));
		hooks_continue(c);
	}
}

int
ctl_hooks_busy(const struct ctl *c)
{
	return c->hook_plan && (c->hook_run != NULL || c->hook_orphan.pid != 0 || c->hook_kick);
}

size_t
ctl_hooks_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	int due;

	if (!c->hook_plan)
		return 0;
	if (c->hook_kick) {
		*timeout = 0;
		return 0;
	}
	if (c->hook_orphan.pid) {
		if (*timeout < 0 || *timeout > ORPHAN_POLL_MS)
			*timeout = ORPHAN_POLL_MS;
		return 0;
	}
	if (!c->hook_run || max == 0)
		return 0;
	{
		const struct apply_ops *ops = c->aps[c->hook_idx]->ops;

		if ((due = ops->timeout_ms(c->hook_run)) >= 0 && (*timeout < 0 || due < *timeout))
			*timeout = due;
		if ((pfd->fd = ops->fd(c->hook_run)) < 0)
			return 0;
		pfd->events = POLLIN;
		pfd->revents = 0;
		return 1;
	}
}

void
ctl_hooks_step(struct ctl *c)
{
	const struct apply_provider *ap;
	char *reason = NULL;
	json_t *e;
	int rc;

	if (!c->hook_plan)
		return;
	if (c->hook_kick) {
		c->hook_kick = 0;
		hooks_continue(c);
		return;
	}
	if (c->hook_orphan.pid)
		orphan_step(c);
	if (!c->hook_plan || !c->hook_run)
		return;
	ap = c->aps[c->hook_idx];
	e = entry_of(c->hook_rec, c->hook_idx);
	if (!ap->ops->step(c->hook_run)) {
		entry_follow_group(c, e, c->hook_run, ap);
		return;
	}
	rc = ap->ops->finish(&reason, c->hook_run);
	if (!ctl_may_act(c)) {
		/* HA: paused or cut off while it ran (a successor may have
		 * stopped it and run it again): its end is not ours to record. */
		c->hook_run = NULL;
		free(reason);
		hooks_left(c);
		return;
	}
	/* The provider's work is over; the journal does not say so yet: the
	 * instant that makes a provider run twice. */
	crash_point("provider-ended");
	if (rc != OK) {
		c->hook_run = NULL;
		hooks_failed(c, e, rc, "failed", reason);
		free(reason);
		return;
	}
	c->hook_run = NULL;
	json_object_set_new(e, "state", json_string("done"));
	if (reason)
		json_object_set_new(e, "reason", json_string(reason));
	entry_clear_group(e);
	if (reason && *reason) {
		/* The world reached: say what changed, in the plan's thread --
		 * written ahead with the "done", so it is said exactly once
		 * (a restart queues it: ctl_recover_plans). */
		char *line = xasprintf("plan %s: apply %s done: %.*s", c->hook_plan->id, ap->name,
		    (int)strcspn(reason, "\n"), reason);
		uint64_t post;
		json_t *ann = ctl_announce_field(c, &post, line, strchr(reason, '\n') ? reason : "",
		    0);

		log_event(NULL, "%s", line);
		if (ann)
			json_object_set(c->hook_rec, "announce", ann);
		if (state_save_record(c->st, c->hook_rec, post) != OK) {
			snprintf(c->last_error, sizeof(c->last_error), "plan %s: recording its "
			    "progress: %s", c->hook_plan->id, err_last());
			log_event(NULL, "%s", c->last_error);
		}
		if (ann) {
			crash_point("after-provider-note");
			ctl_announce_queue(c, c->hook_plan->id, c->hook_plan->target, ann);
		}
		json_decref(ann);
		free(line);
	} else {
		log_event(NULL, "plan %s: apply %s done", c->hook_plan->id, ap->name);
		journal(c);
	}
	free(reason);
	hooks_continue(c);
}

/* ---- starting an apply -------------------------------------------------------- */

/* The record of plan p as it starts applying (owns), or NULL. */
static json_t *
applying_record(struct ctl *c, const struct plan *p, const char *by, const char *said)
{
	json_t *extra = json_object(), *rec;
	char *fields, *text;

	json_object_set_new(extra, "outcome", json_string("applying"));
	if (by)
		json_object_set_new(extra, "decided_by", json_string(by));
	if (said) {
		struct buf sum = BUF_INIT;

		plan_summary(&sum, p);
		buf_puts(&sum, said);
		json_object_set_new(extra, "applied_summary", json_string(sum.data));
		buf_dispose(&sum);
	}
	json_object_set_new(extra, "providers", providers_for(c, p, "pending"));
	fields = json_dumps(extra, JSON_COMPACT);
	json_decref(extra);
	ASSERT(fields);
	text = plan_to_json(p, fields);
	free(fields);
	rec = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	return rec;
}

int
ctl_apply(struct ctl *c, struct plan *p, struct snapshot *target, const char *by,
    const char *said)
{
	double t = log_now();
	json_t *rec;
	int rc;

	ASSERT(!c->hook_plan);
	if (p->rerun)   /* the release is current already (world.c) */
		return ctl_rerun_apply(c, p, target, by, said);
	if (!(rec = applying_record(c, p, by, said))) {
		plan_free(p);
		return err_set(ERR, "cannot encode the plan");
	}
	/* Step 1, before the switch: a kill from here on leaves a plan
	 * marked applying, and the restart says what became of it. */
	if ((rc = state_save_record(c->st, rec, 0)) != OK) {
		char *why = xstrdup(err_last());

		snprintf(c->last_error, sizeof(c->last_error), "plan %s: not applied: recording it: "
		    "%s", p->id, why);
		log_event(NULL, "%s", c->last_error);
		json_decref(rec);
		plan_free(p);
		rc = err_set(rc, "recording the plan: %s", why);
		free(why);
		return rc;
	}
	/* With HA, etcd says it first (the fenced commit point); a deposed
	 * leader switches nothing and says nothing (the new leader finds the
	 * plan applying and says what became of it). */
	if (c->ha && (rc = ctl_ha_commit(c, p)) != OK) {
		log_event(NULL, "plan %s for %.7s: not applied: %s", p->id, p->target, err_last());
		json_decref(rec);
		plan_free(p);
		return rc;
	}
	crash_point("before-switch");
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
		struct buf sum = BUF_INIT, body = BUF_INIT;

		snprintf(c->last_error, sizeof(c->last_error), "apply of plan %s: %s", p->id, why);
		log_event(NULL, "plan %s for %.7s: apply failed: %s", p->id, p->target, why);
		if (said) {
			plan_summary(&sum, p);
			buf_puts(&sum, " but the release switch failed");
			buf_printf(&body, "%s\n\n", why);
			plan_format_text(&body, p, 8000);
		}
		ctl_conclude_json(c, rec, "failed", NULL, said ? sum.data : NULL, body.data, 0);
		buf_dispose(&sum);
		buf_dispose(&body);
		json_decref(rec);
		c->applies_failed++;
		plan_free(p);
		rc = err_set(rc, "%s", why);
		free(why);
		return rc;
	}
	crash_point("after-switch");
	log_timing("release", t);
	/* The old base lives on until the providers end (a provider may
	 * compare the world with it). */
	snapshot_dispose(&c->hook_base);
	c->hook_base = c->base;
	c->base = *target;
	memset(target, 0, sizeof(*target));
	c->last_applied_at = (double)time(NULL);
	if (c->ha)
		ctl_ha_applied(c);
	log_event(NULL, "plan %s for %.7s: released%s%s", p->id, p->target, by ? " by " : "",
	    by ? by : "");
	c->hook_plan = p;
	c->hook_rec = rec;
	c->hook_flags = 0;
	c->hook_stale = 0;
	c->hook_next = 0;
	hooks_continue(c);
	return OK;
}

void
ctl_hooks_begin(struct ctl *c, struct plan *p, const char *by, const char *said)
{
	json_t *rec;

	ASSERT(!c->hook_plan);
	/* Rebuilt from the plan, which holds all the stored plan had (its
	 * re-run, what was prepared, its approvals); the outcome is said at
	 * the end (hooks_applied, hooks_failed), as for any apply. */
	if (!(rec = applying_record(c, p, by, said))) {
		log_event(NULL, "plan %s: cannot encode the plan; not applied", p->id);
		plan_free(p);
		snapshot_dispose(&c->hook_base);
		return;
	}
	c->hook_plan = p;
	c->hook_rec = rec;
	c->hook_flags = 0;
	c->hook_stale = 0;
	c->hook_next = 0;
	journal(c);
	hooks_continue(c);
}

/* ---- finishing after a restart ------------------------------------------------------ */

/* The decision and the kinds needing approval a stored record says, when
 * it says them well; else p's own (planned again) stay. */
static void
resume_decision(struct plan *p, const json_t *j)
{
	const char *dn = json_string_value(json_object_get(j, "decision"));
	const json_t *needs = json_object_get(j, "approvals_needed"), *v;
	unsigned bits = 0;
	enum decision d;
	size_t i;

	for (d = DECISION_NOOP; dn && d <= DECISION_INVALID; d++)
		if (strcmp(decision_name(d), dn) == 0)
			break;
	if (!dn || d > DECISION_INVALID || (needs && !json_is_array(needs)))
		return;
	json_array_foreach(needs, i, v) {
		enum change_kind k;

		if (!json_is_string(v) || kind_parse(&k, json_string_value(v)) != OK)
			return;
		bits |= 1u << k;
	}
	p->decision = d;
	if (needs)
		p->needs = bits;
}

int
ctl_resume(struct ctl *c, json_t *j)
{
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *base = json_string_value(json_object_get(j, "base"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *hash = json_string_value(json_object_get(j, "hash"));
	struct repo_ident bot = { c->cfg->bot_name, c->cfg->bot_email };
	struct diags d = { NULL, 0, 0 };
	struct snapshot tsnap;
	struct plan *p = NULL;
	json_t *provs;
	size_t i;
	int rc;

	if (c->hook_plan)
		return err_set(ERR_CONFLICT, "plan %s is being applied", c->hook_plan->id);
	if (!id || !target)
		return err_set(ERR_INVALID, "a plan record without an id or a target");
	memset(&tsnap, 0, sizeof(tsnap));
	/* The plan again, from git: the providers want a struct plan, and it
	 * renders byte for byte what it did (pipeline.h).  The base is read
	 * sharing the applied snapshot's blobs: O(change). */
	rc = snapshot_load_from(&c->hook_base, c->repo, base ? base : "", &d, &c->base);
	diags_dispose(&d);
	if (rc == OK)
		rc = pipeline_plan(&p, c->repo, &bot, id, &c->hook_base, target, &tsnap);
	snapshot_dispose(&tsnap);
	/* What planning again cannot give: a re-run stays a re-run (its
	 * entries, its why, who asked), what was prepared stays bound, and
	 * the decision is the one made then (a health action's trust, the
	 * policy of that moment): a new plan the providers ask for
	 * (APPLY_STALE, world.c) is decided as this one was. */
	if (rc == OK && p) {
		if (plan_restore(p, j) != OK)
			log_event(NULL, "plan %s: %s; finishing it as planned again", id, err_last());
		else if (!p->rerun)
			resume_decision(p, j);
	}
	if (rc != OK || !p) {
		char *line = xasprintf("plan %s for %.7s: a stop cut its apply short, and it cannot be "
		    "finished: %s -> failed (the release is current; its apply providers did not all "
		    "run)", id, target, err_last());

		snapshot_dispose(&c->hook_base);
		log_event(NULL, "%s", line);
		ctl_conclude_json(c, j, "failed", NULL, line, "", 0);
		c->applies_failed++;
		ctl_rollout_begin(c, id, 1);
		free(line);
		return OK;
	}
	if (hash && strcmp(hash, p->hash) != 0)
		log_event(NULL, "plan %s renders differently now (this version renders another "
		    "hash); its providers run on the release as it was written", id);
	c->hook_plan = p;
	c->hook_rec = json_incref(j);
	c->hook_flags = APPLY_AFTER_RESTART;
	c->hook_next = 0;
	json_object_set_new(j, "resumed", json_integer(json_integer_value(json_object_get(j,
	    "resumed")) + 1));
	provs = json_object_get(j, "providers");
	if (!json_is_array(provs)) {
		/* A record from before the journal: which providers ran is
		 * unknown, so every one that wants the plan runs again. */
		json_object_set_new(j, "providers", providers_for(c, p, "running"));
		provs = json_object_get(j, "providers");
	}
	{
		json_t *e;
		struct buf what = BUF_INIT;

		json_array_foreach(provs, i, e)
			if (strcmp(entry_state(e), "done") != 0)
				buf_printf(&what, "%s%s (%s)", what.len ? ", " : "",
				    json_string_value(json_object_get(e, "name")), entry_state(e));
		log_event(NULL, "plan %s for %.7s: finishing its apply after a restart%s%s", id, target,
		    what.len ? ": " : ": every provider had finished", what.len ? what.data : "");
		buf_dispose(&what);
	}
	journal(c);
	/* The loop's first turn starts the providers: until then the plan is
	 * the one being finished for the rest of the start-up (a rollout
	 * waiting for these providers waits for their end). */
	c->hook_kick = 1;
	return OK;
}

/* ---- stopping what a killed controller left ----------------------------------------- */

static int
stop_leftover(void *ctx, const char *file, json_t *j, uint64_t announce)
{
	struct ctl *c = ctx;
	struct orphan o;
	json_t *e;
	size_t i;

	(void)file;
	(void)announce;
	if (strcmp(json_string_value(json_object_get(j, "outcome")) ? json_string_value(
	    json_object_get(j, "outcome")) : "", "applying") != 0)
		return 0;
	json_array_foreach(json_object_get(j, "providers"), i, e) {
		if (strcmp(entry_state(e), "running") != 0 || !entry_group(e, &o) ||
		    orphan_signal(&o, SIGTERM) != OK)
			continue;
		log_event(NULL, "plan %s: stopping the run of %s (process group %ld) a stopped "
		    "controller left running, before running it again",
		    json_string_value(json_object_get(j, "id")),
		    json_string_value(json_object_get(e, "name")), o.pid);
		if (!c->hook_orphan.pid) {
			c->hook_orphan = o;
			c->hook_orphan_until = log_now() + ORPHAN_GRACE_S;
			c->hook_orphan_killed = 0;
		}
	}
	return 0;
}

void
ctl_stop_leftovers(struct ctl *c)
{
	if (state_each_open(c->cfg->state, stop_leftover, c) != OK)
		log_event(NULL, "looking for runs a stopped controller left: %s", err_last());
}

/* ---- status ---------------------------------------------------------------------- */

void
ctl_hooks_status(struct ctl *c, struct buf *b)
{
	json_t *e;
	size_t i;
	int any = 0;

	if (!c->hook_plan)
		return;
	buf_printf(b, "%s: plan %s for %.7s (", resumed(c) ? "finishing" : "applying",
	    c->hook_plan->id, c->hook_plan->target);
	if (c->hook_orphan.pid) {
		e = entry_of(c->hook_rec, c->hook_next);
		buf_printf(b, "stopping the run of %s a stopped controller left", e ?
		    json_string_value(json_object_get(e, "name")) : "?");
		any = 1;
	}
	json_array_foreach(json_object_get(c->hook_rec, "providers"), i, e) {
		const char *s = entry_state(e);

		if (strcmp(s, "running") != 0 && strcmp(s, "pending") != 0)
			continue;
		if (c->hook_orphan.pid && strcmp(s, "running") == 0)
			continue;
		buf_printf(b, "%s%s %s", any ? ", " : "", json_string_value(json_object_get(e,
		    "name")), s);
		any = 1;
	}
	if (!any)
		buf_puts(b, "recording its outcome");
	buf_printf(b, "%s)\n", resumed(c) ? ", after a restart" : "");
}
