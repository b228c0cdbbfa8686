/*
 * rollout.c - Puppet runs on the hosts a release changed (DESIGN.md
 * "Rollout"): canary first, then batches, at most `parallel` at once,
 * each host's result read from Puppet's --detailed-exitcodes, one chat
 * message per batch in the plan's thread.  See ctl.h.
 *
 * Lifecycle of one rollout (its id is its plan's):
 *
 *   ctl_rollout_prepare   before the release switch: the hosts (the plan's
 *                         blast radius, plus what a rollout it supersedes
 *                         had left), the canary and the batches; the
 *                         record is written (waiting) and the caller
 *                         switches the release, staged when the canary
 *                         must run ahead of everyone else
 *   ctl_rollout_switched  the switch happened: the rollout it supersedes
 *                         is cancelled, this one is the one not over
 *   ctl_rollout_begin     the apply providers ended: the canary starts
 *   ctl_rollout_step      the loop: results in, the next hosts out, a
 *                         group's end (message, stop, gate, promotion)
 *
 * Every change of a host is journaled before it matters (state/rollouts.h)
 * and every change of the rollout's own state rewrites its record, with
 * the chat messages it owes written ahead and queued after, so a kill -9
 * at any instant resumes where it was (ctl_rollout_resume_after_restart):
 * a host whose run was in flight runs again, none is counted twice, no
 * message is lost.
 *
 * Staged (rollout.staged): during the canary `current` stays the previous
 * release and only the canary hosts read the new one, through the overlay
 * (state/rollouts.h); when the canary and its gates pass, the staged
 * release becomes current for everyone (state_promote) and the batches
 * run.  A gate names a health check (health.c evaluates it for the canary
 * hosts when the canary ends: gates_start, gate_done): every check passing
 * for every canary host lets the batches run; one failing, or without data,
 * stops the rollout and says why (`rollout resume` asks again).  Without a
 * `health:` block a gate cannot be evaluated: it holds the rollout
 * ("waiting for gate X") until a person resumes (past it) or aborts; it
 * never passes by itself.
 */
#include "controller/ctl.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/names.h"
#include "model/policy.h"
#include "plan/radius.h"
#include "providers/orchestrate/orchestrate.h"
#include "state/config.h"
#include "state/outbox.h"
#include "state/rollouts.h"
#include "state/state.h"

#define RO_BUSY_RETRIES 3          /* exit 1 is retried this often, then failed */
#define RO_EXCEPTIONS_MAX 20       /* exceptions listed in one chat message */
#define RO_ACTIVE_MAX 64
#define RO_START_BURST 8           /* runs started per wake-up: the loop stays
                                    * responsive (HTTP, chat) while 50 start */
#define RO_START_BUDGET_S 0.003    /* ... and no more starting once a wake-up
                                    * has spent this long on it */

struct ro_slot {
	void *run;                     /* the orchestrator's run */
	size_t host;                   /* index into rec->hosts */
};

struct rollout {
	struct ro_record *rec;         /* owns */
	struct ro_slot *slots;         /* owns; cfg parallel of them */
	size_t nslots, running;
	size_t ran;                    /* hosts that ended in the current group, this pass */
	int more;                      /* hosts could start now: wake at once */
	int hold;                      /* the CLI's cold controller: runs wait for `run` */
};

static double
unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
set_note(struct ro_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_note(struct ro_host *h, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	free(h->note);
	h->note = NULL;
	if (!fmt)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	h->note = s;
}

static void
ro_free(struct rollout *ro)
{
	if (!ro)
		return;
	ro_record_free(ro->rec);
	free(ro->slots);
	free(ro);
}

static struct rollout *
ro_new(struct ctl *c, struct ro_record *rec)
{
	struct rollout *ro = xcalloc(1, sizeof(*ro));

	ro->rec = rec;
	ro->nslots = rec->parallel ? rec->parallel : c->cfg->rollout->parallel;
	if (ro->nslots > ROLLOUT_PARALLEL_MAX)
		ro->nslots = ROLLOUT_PARALLEL_MAX;
	ro->slots = xcalloc(ro->nslots, sizeof(*ro->slots));
	ro->hold = c->ro_hold;
	return ro;
}

static void
ro_save(struct ctl *c, struct ro_record *r)
{
	if (ro_record_save(c->cfg->state, r) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "rollout %s: %s", r->id, err_last());
		log_event(NULL, "%s", c->last_error);
	}
}

static void
ro_journal(struct ctl *c, struct ro_record *r, size_t i)
{
	if (ro_journal_host(c->cfg->state, r, i) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "rollout %s: journal: %s", r->id,
		    err_last());
		log_event(NULL, "%s", c->last_error);
	}
}

/*
 * Say something in the plan's thread, written ahead: the message goes into
 * the record (with its reserved post) before it is queued, and out of it
 * after, so a kill in between queues it on restart, once.
 */
static void
ro_announce(struct ctl *c, struct ro_record *r, const char *summary, const char *body)
{
	struct outbox_msg m;
	uint64_t post = 0;
	json_t *e;

	log_event(NULL, "%s", summary);
	if (!c->ob) {
		ro_save(c, r);
		return;
	}
	if (outbox_reserve(c->ob, &post) != OK || !post) {
		ro_save(c, r);
		return;
	}
	if (!r->announce)
		r->announce = json_array();
	e = json_pack("{s:I, s:s, s:s}", "post", (json_int_t)post, "summary", summary, "body",
	    body ? body : "");
	json_array_append_new(r->announce, e);
	ro_save(c, r);
	memset(&m, 0, sizeof(m));
	m.plan_id = r->id;
	m.thread = r->target[0] ? r->target : NULL;
	m.summary = summary;
	m.body = body;
	m.only = -1;
	m.post = post;
	if (outbox_send(c->ob, &m) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "outbox: %s", err_last());
		return;   /* stays in the record: the next start queues it */
	}
	json_array_clear(r->announce);
	ro_save(c, r);
}

/* Queue what a kill left written ahead (a post queued twice is queued once). */
static void
ro_announce_pending(struct ctl *c, struct ro_record *r)
{
	json_t *e;
	size_t i;

	if (!r->announce || !json_array_size(r->announce))
		return;
	json_array_foreach(r->announce, i, e) {
		struct outbox_msg m;

		memset(&m, 0, sizeof(m));
		m.plan_id = r->id;
		m.thread = r->target[0] ? r->target : NULL;
		m.summary = json_string_value(json_object_get(e, "summary"));
		m.body = json_string_value(json_object_get(e, "body"));
		m.post = (uint64_t)json_integer_value(json_object_get(e, "post"));
		m.only = -1;
		if (c->ob && m.summary && m.post)
			outbox_send(c->ob, &m);
	}
	json_array_clear(r->announce);
	ro_save(c, r);
}

/* ---- preparing, before the release switch ------------------------------------- */

static int
host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ro_host *)a)->fqdn, ((const struct ro_host *)b)->fqdn);
}

/* "canary" or "batch 2 of 3". */
static void
group_name(char *out, size_t n, const struct ro_record *r, unsigned g)
{
	if (g == 0)
		snprintf(out, n, "canary");
	else
		snprintf(out, n, "batch %u of %u", g, r->ngroups - 1);
}

/* Is the host still one to run on in the applied inventory? NULL: yes;
 * else why not. */
static const char *
host_gone(const struct model *m, const char *fqdn)
{
	const struct host *h = m ? model_host(m, fqdn) : NULL;

	if (!h)
		return "no longer in the inventory";
	if (h->state == HOST_DECOMMISSIONED)
		return "decommissioned";
	return NULL;
}

int
ctl_rollout_prepare(struct ctl *c, const struct plan *p, const struct snapshot *target,
    struct ctl_stage *stage)
{
	const struct config_rollout *cr = c->cfg->rollout;
	struct strlist hosts = { NULL, NULL, 0 };
	struct ro_record *r, *old = c->ro ? c->ro->rec : NULL;
	size_t i, j, n, k, b, live = 0;

	memset(stage, 0, sizeof(*stage));
	if (!c->orch || !cr || p->decision == DECISION_INVALID)
		return OK;
	radius_hosts(&hosts, p, c->base.model, target->model);
	if (!hosts.n && !old) {
		strlist_dispose(&hosts);
		return OK;
	}
	r = xcalloc(1, sizeof(*r));
	r->jfd = -1;
	snprintf(r->id, sizeof(r->id), "%s", p->id);
	snprintf(r->target, sizeof(r->target), "%s", p->target);
	r->subject = p->subject ? xstrndup(p->subject, strcspn(p->subject, "\n")) : NULL;
	r->status = RO_WAITING;
	r->max_failures = cr->max_failures;
	r->parallel = cr->parallel;
	r->created = unix_now();
	r->hosts = xcalloc(hosts.n + (old ? old->nhosts : 0) + 1, sizeof(*r->hosts));
	for (i = 0; i < hosts.n; i++) {
		r->hosts[r->nhosts].fqdn = xstrdup(hosts.v[i]);
		r->hosts[r->nhosts++].code = -1;
	}
	strlist_dispose(&hosts);
	/* Superseding: the new rollout covers the union.  A host the old one
	 * ran to success after its promotion already reads what it should. */
	for (i = 0; old && i < old->nhosts; i++) {
		const struct ro_host *oh = &old->hosts[i];
		const char *gone;
		int have = 0;

		if (old->promoted && (oh->state == RH_CHANGED || oh->state == RH_UNCHANGED))
			continue;
		for (j = 0; j < r->nhosts && !have; j++)
			have = strcmp(r->hosts[j].fqdn, oh->fqdn) == 0;
		if (have)
			continue;
		r->hosts[r->nhosts].fqdn = xstrdup(oh->fqdn);
		r->hosts[r->nhosts].code = -1;
		if ((gone = host_gone(target->model, oh->fqdn))) {
			r->hosts[r->nhosts].state = RH_SKIPPED;
			set_note(&r->hosts[r->nhosts], "%s (from rollout %s)", gone, old->id);
		}
		r->nhosts++;
	}
	if (!r->nhosts) {
		/* The rollout this release would supersede has nothing left. */
		ro_record_free(r);
		return OK;
	}
	xqsort(r->hosts, r->nhosts, sizeof(*r->hosts), host_cmp);
	/* Groups over the hosts that will run: the skipped go last, in no group
	 * that waits for them. */
	for (i = 0; i < r->nhosts; i++)
		live += r->hosts[i].state != RH_SKIPPED;
	{
		/* Stable: skipped hosts to the end, keeping the order. */
		struct ro_host *v = xcalloc(r->nhosts + 1, sizeof(*v));
		size_t a = 0, z = live;

		for (i = 0; i < r->nhosts; i++)
			v[r->hosts[i].state == RH_SKIPPED ? z++ : a++] = r->hosts[i];
		free(r->hosts);
		r->hosts = v;
	}
	n = live;
	k = radius_size_of(&cr->canary, n);
	b = radius_size_of(&cr->batch, n);
	if (b == 0)
		b = 1;
	for (i = 0; i < n; i++)
		r->hosts[i].group = i < k ? 0 : 1 + (unsigned)((i - k) / b);
	r->ngroups = 1 + (n > k ? (unsigned)((n - k + b - 1) / b) : 0);
	for (i = n; i < r->nhosts; i++)
		r->hosts[i].group = r->ngroups ? r->ngroups - 1 : 0;
	r->staged = cr->staged && k > 0 && c->base.sha[0];
	if (r->staged) {
		stage->n = k;
		stage->fqdns = xcalloc(k + 1, sizeof(*stage->fqdns));
		stage->envs = xcalloc(k + 1, sizeof(*stage->envs));
		for (i = 0; i < k; i++) {
			const struct host *h = model_host(target->model, r->hosts[i].fqdn);

			stage->fqdns[i] = r->hosts[i].fqdn;
			stage->envs[i] = h ? model_host_env(target->model, h) : NULL;
		}
	}
	stage->staged = r->staged;
	ro_save(c, r);
	ro_free(c->next_ro);
	c->next_ro = ro_new(c, r);
	return OK;
}

void
ctl_stage_dispose(struct ctl_stage *s)
{
	free(s->fqdns);
	free(s->envs);
	memset(s, 0, sizeof(*s));
}

/* ---- cancelling ------------------------------------------------------------------ */

/* Stop every run (their hosts become `state`, with `note`). */
static void
cancel_runs(struct ctl *c, struct rollout *ro, enum rh_state state, const char *note)
{
	size_t i;

	for (i = 0; i < ro->nslots; i++) {
		struct ro_slot *s = &ro->slots[i];
		struct orch_result res;

		if (!s->run)
			continue;
		c->orch->ops->cancel(s->run);
		c->orch->ops->finish(&res, s->run);
		orch_result_dispose(&res);
		s->run = NULL;
		ro->rec->hosts[s->host].state = state;
		set_note(&ro->rec->hosts[s->host], "%s", note);
		ro_journal(c, ro->rec, s->host);
	}
	ro->running = 0;
}

/* The rest of a rollout not run: pending hosts become skipped. */
static void
skip_rest(struct rollout *ro, const char *note)
{
	size_t i;

	for (i = 0; i < ro->rec->nhosts; i++)
		if (ro->rec->hosts[i].state == RH_PENDING || ro->rec->hosts[i].state == RH_RUNNING) {
			ro->rec->hosts[i].state = RH_SKIPPED;
			set_note(&ro->rec->hosts[i], "%s", note);
		}
}

static void
ro_finish_record(struct ro_record *r, enum ro_status st)
{
	r->status = st;
	r->ended = unix_now();
}

void
ctl_rollout_switched(struct ctl *c, const struct plan *p, int ok)
{
	struct rollout *nx = c->next_ro;

	c->next_ro = NULL;
	if (!nx)
		return;
	if (!ok || strcmp(nx->rec->id, p->id) != 0) {
		/* The switch did not happen: neither did this rollout. */
		char path[4096];

		snprintf(path, sizeof(path), "%s/rollouts/%s.json", c->cfg->state, nx->rec->id);
		unlink(path);
		snprintf(path, sizeof(path), "%s/rollouts/%s.log", c->cfg->state, nx->rec->id);
		unlink(path);
		ro_free(nx);
		return;
	}
	if (c->ro) {
		struct rollout *old = c->ro;
		char note[64], *line;
		size_t n[RH__COUNT];

		snprintf(note, sizeof(note), "superseded by plan %s", p->id);
		cancel_runs(c, old, RH_SKIPPED, note);
		skip_rest(old, note);
		ro_finish_record(old->rec, RO_SUPERSEDED);
		old->rec->superseded_by = xstrdup(p->id);
		free(old->rec->why);
		old->rec->why = xstrdup(note);
		ro_record_counts(old->rec, n);
		line = xasprintf("rollout %s superseded by plan %s: %zu host%s not run here go into "
		    "rollout %s", old->rec->id, p->id, n[RH_SKIPPED], n[RH_SKIPPED] == 1 ? "" : "s",
		    p->id);
		ro_announce(c, old->rec, line, NULL);
		free(line);
		ro_free(old);
	}
	c->ro = nx;
}

/* ---- running ------------------------------------------------------------------------ */

static void advance(struct ctl *c);

/* The message a group's end owes the thread: a summary line, then the
 * exceptions (failed, unreachable, skipped), one line each, never the
 * host's own line breaks. */
static void
group_message(struct buf *sum, struct buf *body, const struct ro_record *r, unsigned g)
{
	size_t n[RH__COUNT], i, in = 0, shown = 0, more = 0;
	char gname[48];
	const char *sep = "";

	memset(n, 0, sizeof(n));
	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].group == g) {
			n[r->hosts[i].state]++;
			in++;
		}
	group_name(gname, sizeof(gname), r, g);
	buf_printf(sum, "rollout %s, %s (%zu host%s):", r->id, gname, in, in == 1 ? "" : "s");
	for (i = 0; i < RH__COUNT; i++)
		if (n[i]) {
			buf_printf(sum, "%s %zu %s", sep, n[i], rh_state_name((enum rh_state)i));
			sep = ",";
		}
	for (i = 0; i < r->nhosts; i++) {
		const struct ro_host *h = &r->hosts[i];

		if (h->group != g || !(RH_BAD(h->state) || h->state == RH_SKIPPED))
			continue;
		if (shown == RO_EXCEPTIONS_MAX) {
			more++;
			continue;
		}
		shown++;
		buf_printf(body, "%s: %s", h->fqdn, rh_state_name(h->state));
		if (RH_BAD(h->state)) {
			if (h->code >= 0)
				buf_printf(body, " (exit %d after %.1f s)", h->code, h->seconds);
			else if (h->how)
				buf_printf(body, " (%s)", h->how);
			if (h->line && h->line[0])
				buf_printf(body, ": %s", h->line);
		}
		if (h->note)
			buf_printf(body, " [%s]", h->note);
		buf_putc(body, '\n');
	}
	if (more)
		buf_printf(body, "... and %zu more (`rollout %s` lists every host)\n", more, r->id);
}

/* The staged release becomes everyone's. */
static int
promote(struct ctl *c, struct ro_record *r)
{
	if (r->promoted)
		return OK;
	if (r->staged && state_promote(c->st) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "rollout %s: promoting: %s", r->id,
		    err_last());
		log_event(NULL, "%s", c->last_error);
		return ERR;
	}
	r->promoted = 1;
	return OK;
}

/* A result came in for host i (in slot s). */
static void
host_result(struct ctl *c, struct rollout *ro, size_t i, struct orch_result *res)
{
	struct ro_record *r = ro->rec;
	struct ro_host *h = &r->hosts[i];
	const struct config_rollout *cr = c->cfg->rollout;

	h->seconds = res->seconds;
	h->code = res->code;
	free(h->how);
	free(h->tail);
	free(h->line);
	h->how = res->how;
	h->tail = res->tail;
	h->line = res->line;
	res->how = res->tail = res->line = NULL;
	set_note(h, NULL);
	switch (res->status) {
	case ORCH_UNCHANGED: h->state = RH_UNCHANGED; break;
	case ORCH_CHANGED: h->state = RH_CHANGED; break;
	case ORCH_FAILED: h->state = RH_FAILED; break;
	case ORCH_UNREACHABLE: h->state = RH_UNREACHABLE; break;
	case ORCH_BUSY:
		if (h->attempts <= RO_BUSY_RETRIES) {
			double wait = (double)cr->retry_backoff * (double)(1u << (h->attempts - 1));

			h->state = RH_PENDING;
			h->retry_at = log_now() + wait;
			set_note(h, "Puppet could not run; retry %u of %d in %.0f s", h->attempts,
			    RO_BUSY_RETRIES, wait);
		} else {
			h->state = RH_FAILED;
			set_note(h, "Puppet could not run, %u attempts", h->attempts);
		}
		break;
	}
	if (RH_BAD(h->state))
		r->failures++;
	if (RH_ENDED(h->state)) {
		ro->ran++;
		c->ro_results[h->state]++;
	}
	ro_journal(c, r, i);
	log_event(NULL, "rollout %s: %s %s (%s)", r->id, h->fqdn, rh_state_name(h->state),
	    h->how ? h->how : "");
}

/* Start host i in a free slot. */
static void
host_start(struct ctl *c, struct rollout *ro, size_t i)
{
	struct ro_record *r = ro->rec;
	struct ro_host *h = &r->hosts[i];
	const char *gone = host_gone(c->base.model, h->fqdn);
	size_t s;
	void *run = NULL;

	if (gone) {
		/* It vanished since the rollout began (a later commit that has
		 * not superseded us yet): nothing to run. */
		h->state = RH_SKIPPED;
		set_note(h, "%s", gone);
		ro_journal(c, r, i);
		return;
	}
	for (s = 0; s < ro->nslots && ro->slots[s].run; s++)
		;
	ASSERT(s < ro->nslots);
	h->attempts++;
	h->started = unix_now();
	h->state = RH_RUNNING;
	h->retry_at = 0;
	/* Journaled before the run starts: a kill from here on finds it
	 * running, and runs it again. */
	ro_journal(c, r, i);
	if (c->orch->ops->start(&run, c->orch_st, h->fqdn) != OK) {
		h->state = RH_FAILED;
		h->code = -1;
		free(h->how);
		h->how = xasprintf("could not start: %s", err_last());
		free(h->line);
		h->line = xstrdup(h->how);
		r->failures++;
		ro->ran++;
		c->ro_results[RH_FAILED]++;
		ro_journal(c, r, i);
		return;
	}
	ro->slots[s].run = run;
	ro->slots[s].host = i;
	ro->running++;
}

static void advance(struct ctl *c);

/*
 * The gates (rollout.gates): the named health checks for the canary hosts,
 * evaluated by health.c (ctl_health_gate) now, ahead of their schedule.
 * gate_done() gets the answer; it is dropped when the rollout it was for
 * is no longer the one at its gate (aborted, superseded, restarted).
 */
static void
gate_done(struct ctl *c, void *ctx, enum ctl_gate result, const char *reason)
{
	char *id = ctx;
	struct ro_record *r = c->ro ? c->ro->rec : NULL;
	char *line;

	if (!r || strcmp(r->id, id) != 0 || r->status != RO_GATE) {
		free(id);
		return;
	}
	free(id);
	free(r->why);
	r->why = NULL;
	if (result == CTL_GATE_PASS) {
		r->gate_passed = 1;
		r->status = RO_RUNNING;
		line = xasprintf("rollout %s: %s", r->id, reason);
		ro_announce(c, r, line, NULL);
		free(line);
		advance(c);
		return;
	}
	/* Failing or inconclusive: the rollout stops here and says why. */
	r->status = RO_STOPPED;
	r->why = xstrdup(reason);
	line = xasprintf("rollout %s -> stopped: %s", r->id, reason);
	{
		char *body = xasprintf("`rollout resume %s` evaluates the gates again; `rollout "
		    "abort %s` stops here%s\n", r->id, r->id, r->staged && !r->promoted ?
		    "; until then the hosts outside the canary keep the previous release" : "");

		ro_announce(c, r, line, body);
		free(body);
	}
	free(line);
}

/* Ask health.c about the canary hosts; OK when an answer will come. */
static int
gates_start(struct ctl *c, struct ro_record *r)
{
	const struct config_rollout *cr = c->cfg->rollout;
	const char **hosts = xcalloc(r->nhosts + 1, sizeof(*hosts));
	size_t i, n = 0;
	char *id = xstrdup(r->id);
	int rc;

	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].group == 0 && r->hosts[i].state != RH_SKIPPED)
			hosts[n++] = r->hosts[i].fqdn;
	rc = ctl_health_gate(c, (const char *const *)cr->gates.v, cr->gates.n, hosts, n,
	    gate_done, id);
	if (rc != OK)
		free(id);
	free(hosts);
	return rc;
}

/* The group ended: say so, then stop, hold at a gate, or go on. */
static int
group_end(struct ctl *c, struct rollout *ro)
{
	struct ro_record *r = ro->rec;
	const struct config_rollout *cr = c->cfg->rollout;
	struct buf sum = BUF_INIT, body = BUF_INIT;
	unsigned g = r->group;
	int go_on = 0;

	if (ro->ran)
		group_message(&sum, &body, r, g);
	ro->ran = 0;
	ro_journal_sync(r);
	if (r->failures > r->max_failures) {
		r->status = RO_STOPPED;
		free(r->why);
		r->why = xasprintf("%lu host%s failed, more than max_failures %lu", r->failures,
		    r->failures == 1 ? "" : "s", r->max_failures);
		if (!sum.len)
			buf_printf(&sum, "rollout %s", r->id);
		buf_printf(&sum, " -> stopped: %s", r->why);
		buf_printf(&body, "`rollout resume %s` runs the failed hosts again and goes on; "
		    "`rollout abort %s` skips the rest%s\n", r->id, r->id, r->staged && !r->promoted ?
		    "; until then the hosts outside the canary keep the previous release" : "");
	} else if (g == 0 && cr->gates.n && r->hosts[0].group == 0 && r->nhosts &&
	    r->hosts[0].state != RH_SKIPPED && !r->gate_passed) {
		r->status = RO_GATE;
		free(r->why);
		if (gates_start(c, r) == OK) {
			/* The health checks answer later, in gate_done(). */
			r->why = xasprintf("evaluating gate%s %s for the canary",
			    cr->gates.n == 1 ? "" : "s", cr->gates.v[0]);
			if (!sum.len)
				buf_printf(&sum, "rollout %s", r->id);
			buf_printf(&sum, " -> %s", r->why);
		} else {
			/* No health checks: a gate that cannot be evaluated never
			 * passes by itself. */
			r->why = xasprintf("waiting for gate %s (%s)", cr->gates.v[0], err_last());
			if (!sum.len)
				buf_printf(&sum, "rollout %s", r->id);
			buf_printf(&sum, " -> %s", r->why);
			buf_printf(&body, "a gate that cannot be evaluated never passes by itself: "
			    "`rollout resume %s` goes on without it, `rollout abort %s` stops here\n",
			    r->id, r->id);
		}
	} else {
		if (g == 0)
			promote(c, r);
		r->group = g + 1;
		if (r->group >= r->ngroups) {
			size_t n[RH__COUNT];

			promote(c, r);
			ro_finish_record(r, RO_DONE);
			ro_record_counts(r, n);
			if (!sum.len)
				buf_printf(&sum, "rollout %s", r->id);
			buf_printf(&sum, " -> done: %zu changed, %zu unchanged, %zu failed, %zu "
			    "unreachable, %zu skipped", n[RH_CHANGED], n[RH_UNCHANGED], n[RH_FAILED],
			    n[RH_UNREACHABLE], n[RH_SKIPPED]);
		} else {
			go_on = 1;
		}
	}
	if (sum.len)
		ro_announce(c, r, sum.data, body.len ? body.data : NULL);
	else
		ro_save(c, r);
	buf_dispose(&sum);
	buf_dispose(&body);
	return go_on;
}

/*
 * Start what may start, end groups that ended.  Hosts of the current
 * group start as soon as a slot is free (no host waits while one is); a
 * busy host waits for its retry without holding a slot.
 */
static void
advance(struct ctl *c)
{
	struct rollout *ro = c->ro;
	struct ro_record *r;

	if (!ro || ro->hold)
		return;
	r = ro->rec;
	ro->more = 0;
	while (r->status == RO_RUNNING) {
		double now = log_now();
		size_t i, waiting = 0, started = 0;
		int stopping = r->failures > r->max_failures;

		for (i = 0; i < r->nhosts; i++) {
			struct ro_host *h = &r->hosts[i];

			if (h->group != r->group || h->state != RH_PENDING)
				continue;
			if (stopping || h->retry_at > now || ro->running >= ro->nslots) {
				waiting++;
				continue;
			}
			if (started == RO_START_BURST ||
			    (started && log_now() - now > RO_START_BUDGET_S)) {
				/* The rest at the next wake-up, which comes at once. */
				ro->more = 1;
				waiting++;
				continue;
			}
			/* HA: a leader paused or cut off mid-turn starts no run
			 * (its successor resumes the rollout). */
			if (!ctl_may_act(c))
				return;
			host_start(c, ro, i);
			started++;
		}
		stopping = r->failures > r->max_failures;
		if (ro->running || (waiting && !stopping))
			return;
		if (!group_end(c, ro))
			break;
	}
	if (RO_OVER(r->status)) {
		log_event(NULL, "rollout %s: %s; the loop's longest turn while it ran: %.1f ms",
		    r->id, ro_status_name(r->status), c->ro_turn_max * 1000);
		ro_free(ro);
		c->ro = NULL;
	}
}

/* The loop's longest turn is counted for the rollout from here on. */
static void
turns_from_now(struct ctl *c)
{
	c->ro_turn_from = log_now();
	c->ro_turn_max = 0;
}

void
ctl_rollout_begin(struct ctl *c, const char *plan_id, int providers_failed)
{
	struct rollout *ro = c->ro;
	struct ro_record *r;
	struct buf sum = BUF_INIT;
	size_t i, canary = 0, skipped = 0;

	if (!ro || strcmp(ro->rec->id, plan_id) != 0 || ro->rec->status != RO_WAITING)
		return;
	r = ro->rec;
	turns_from_now(c);
	for (i = 0; i < r->nhosts; i++) {
		canary += r->hosts[i].group == 0 && r->hosts[i].state != RH_SKIPPED;
		skipped += r->hosts[i].state == RH_SKIPPED;
	}
	buf_printf(&sum, "rollout %s: Puppet runs on %zu host%s", r->id, r->nhosts - skipped,
	    r->nhosts - skipped == 1 ? "" : "s");
	if (canary) {
		buf_printf(&sum, ", canary %s", r->hosts[0].fqdn);
		if (canary > 1)
			buf_printf(&sum, " and %zu more", canary - 1);
		buf_printf(&sum, "%s", r->staged ? " (the others keep the previous release until it "
		    "passes)" : "");
	}
	if (r->ngroups > 1)
		buf_printf(&sum, ", then %u batch%s", r->ngroups - 1, r->ngroups == 2 ? "" : "es");
	buf_printf(&sum, "; parallel %u, max_failures %lu", r->parallel, r->max_failures);
	if (skipped) {
		struct buf body = BUF_INIT;

		for (i = 0; i < r->nhosts; i++)
			if (r->hosts[i].state == RH_SKIPPED)
				buf_printf(&body, "%s: skipped [%s]\n", r->hosts[i].fqdn,
				    r->hosts[i].note ? r->hosts[i].note : "");
		if (providers_failed) {
			r->status = RO_STOPPED;
			r->why = xstrdup("the apply providers failed");
			buf_printf(&sum, " -> stopped: %s; `rollout resume %s` runs it anyway", r->why,
			    r->id);
		} else {
			r->status = RO_RUNNING;
		}
		ro_announce(c, r, sum.data, body.data);
		buf_dispose(&body);
	} else {
		if (providers_failed) {
			r->status = RO_STOPPED;
			r->why = xstrdup("the apply providers failed");
			buf_printf(&sum, " -> stopped: %s; `rollout resume %s` runs it anyway", r->why,
			    r->id);
		} else {
			r->status = RO_RUNNING;
		}
		ro_announce(c, r, sum.data, NULL);
	}
	buf_dispose(&sum);
	advance(c);
}

size_t
ctl_rollout_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	struct rollout *ro = c->ro;
	size_t i, n = 0;
	double now = log_now();

	if (!ro || ro->hold)
		return 0;
	if (ro->more)
		*timeout = 0;
	for (i = 0; i < ro->nslots; i++) {
		void *run = ro->slots[i].run;
		int due;

		if (!run)
			continue;
		if (n < max && (pfd[n].fd = c->orch->ops->fd(run)) >= 0)
			pfd[n++].events = POLLIN;
		if ((due = c->orch->ops->timeout_ms(run)) >= 0 && due < *timeout)
			*timeout = due;
	}
	if (ro->rec->status == RO_RUNNING)
		for (i = 0; i < ro->rec->nhosts; i++) {
			const struct ro_host *h = &ro->rec->hosts[i];

			if (h->state == RH_PENDING && h->retry_at > 0 && h->group == ro->rec->group) {
				int due = h->retry_at > now ? (int)((h->retry_at - now) * 1000) + 1 : 0;

				if (due < *timeout)
					*timeout = due;
			}
		}
	return n;
}

void
ctl_rollout_step(struct ctl *c)
{
	struct rollout *ro = c->ro;
	size_t i;

	if (!ro || ro->hold)
		return;
	for (i = 0; i < ro->nslots; i++) {
		struct ro_slot *s = &ro->slots[i];
		struct orch_result res;

		if (!s->run || !c->orch->ops->step(s->run))
			continue;
		c->orch->ops->finish(&res, s->run);
		s->run = NULL;
		ro->running--;
		host_result(c, ro, s->host, &res);
		orch_result_dispose(&res);
	}
	advance(c);
}

/* ---- people: resume, abort ---------------------------------------------------------- */

/* May `user` act on the rollout of plan `id`: an approver of every kind
 * the plan changes (as approving it would need, whatever the policy let
 * through without one). */
static int
may_act(struct ctl *c, const char *id, const char *user, char **msg)
{
	json_t *j = NULL, *v;
	const char *key;
	unsigned kinds = 0;
	int k;

	if (state_load_plan(&j, c->cfg->state, id) != OK) {
		*msg = xasprintf("there is no plan %s", id);
		return ERR_NOTFOUND;
	}
	json_object_foreach(json_object_get(j, "summary"), key, v) {
		char kind[16];
		enum change_kind ck;
		size_t len = strcspn(key, ".");

		(void)v;
		if (len < sizeof(kind)) {
			memcpy(kind, key, len);
			kind[len] = '\0';
			if (kind_parse(&ck, kind) == OK)
				kinds |= 1u << ck;
		}
	}
	json_decref(j);
	for (k = 0; k < KIND__COUNT; k++)
		if ((kinds & (1u << k)) && !(c->base.model && policy_may_approve(c->base.model->policy,
		    user, (enum change_kind)k))) {
			*msg = xasprintf("%s may not act on rollout %s: it needs an approver of %s (see "
			    "approvers in policy.yaml)", user, id, kind_name((enum change_kind)k));
			return ERR_DENIED;
		}
	return OK;
}

int
ctl_rollout_command(struct ctl *c, int resume, const char *id, const char *user, char **msg)
{
	struct rollout *ro = c->ro;
	struct ro_record *r;
	char *line;
	size_t i;
	int rc;

	*msg = NULL;
	if (!ro || strcmp(ro->rec->id, id) != 0) {
		struct ro_record *rec = NULL;

		if (ro_record_load(&rec, c->cfg->state, id) != OK) {
			*msg = xasprintf("there is no rollout %s", id);
			return ERR_NOTFOUND;
		}
		*msg = xasprintf("rollout %s is %s; nothing to %s", id, ro_status_name(rec->status),
		    resume ? "resume" : "abort");
		ro_record_free(rec);
		return ERR_CONFLICT;
	}
	if ((rc = may_act(c, id, user, msg)) != OK)
		return rc;
	r = ro->rec;
	if (!resume) {
		char note[96];
		size_t n[RH__COUNT];

		snprintf(note, sizeof(note), "aborted by %s", user);
		cancel_runs(c, ro, RH_SKIPPED, note);
		skip_rest(ro, note);
		/* Over: everyone reads the applied release from here on. */
		promote(c, r);
		ro_finish_record(r, RO_ABORTED);
		free(r->why);
		r->why = xstrdup(note);
		ro_record_counts(r, n);
		line = xasprintf("rollout %s aborted by %s: %zu host%s skipped%s", id, user,
		    n[RH_SKIPPED], n[RH_SKIPPED] == 1 ? "" : "s", r->staged ? "; every host reads the "
		    "new release on its next agent run (to undo it, revert the commit)" : "");
		ro_announce(c, r, line, NULL);
		*msg = line;
		ro_free(ro);
		c->ro = NULL;
		return OK;
	}
	if (r->status == RO_RUNNING || r->status == RO_WAITING) {
		*msg = xasprintf("rollout %s is %s; nothing to resume", id, ro_status_name(r->status));
		return ERR_CONFLICT;
	}
	if (r->status == RO_GATE && c->cfg->health) {
		/* Health checks exist: resuming evaluates the gates again. */
		line = xasprintf("rollout %s resumed by %s: the gates are evaluated again", id, user);
	} else if (r->status == RO_GATE) {
		line = xasprintf("rollout %s resumed by %s: gate %s not evaluated (health checks are "
		    "not configured); going on without it", id, user, c->cfg->rollout->gates.v[0]);
		r->gate_passed = 1;
	} else {
		size_t again = 0;
		unsigned first = r->group;

		for (i = 0; i < r->nhosts; i++)
			if (RH_BAD(r->hosts[i].state)) {
				r->hosts[i].state = RH_PENDING;
				r->hosts[i].retry_at = 0;
				set_note(&r->hosts[i], "run again: resumed by %s", user);
				if (r->hosts[i].group < first)
					first = r->hosts[i].group;
				again++;
			}
		r->group = first;
		line = xasprintf("rollout %s resumed by %s: %zu failed host%s run again, then the "
		    "rest (failures count from zero)", id, user, again, again == 1 ? "" : "s");
	}
	r->failures = 0;
	r->status = RO_RUNNING;
	free(r->why);
	r->why = NULL;
	ro_announce(c, r, line, NULL);
	*msg = line;
	advance(c);
	return OK;
}

/* ---- open, close, restart ----------------------------------------------------------- */

int
ctl_rollout_open(struct ctl *c)
{
	const struct config_rollout *cr = c->cfg->rollout;

	if (!cr || !cr->orchestrator)
		return OK;
	if (!(c->orch = orch_find(cr->orch_type)))
		return err_set(ERR_INVALID, "%s: rollout: no orchestrator '%s'", c->cfg->path,
		    cr->orch_type);
	if (c->orch->ops->open(&c->orch_st, cr->orchestrator) != OK) {
		c->orch = NULL;
		return err_set(ERR_INVALID, "%s: rollout.%s", c->cfg->path, err_last());
	}
	return OK;
}

void
ctl_rollout_close(struct ctl *c)
{
	if (c->ro) {
		/* Hosts running now run again at the next start (their journal
		 * says running); their runs are stopped here. */
		size_t i;

		for (i = 0; c->orch && i < c->ro->nslots; i++)
			if (c->ro->slots[i].run) {
				struct orch_result res;

				c->orch->ops->cancel(c->ro->slots[i].run);
				c->orch->ops->finish(&res, c->ro->slots[i].run);
				orch_result_dispose(&res);
				c->ro->slots[i].run = NULL;
			}
	}
	ro_free(c->ro);
	c->ro = NULL;
	ro_free(c->next_ro);
	c->next_ro = NULL;
	if (c->orch)
		c->orch->ops->close(c->orch_st);
	c->orch = NULL;
	c->orch_st = NULL;
}

void
ctl_rollout_hold(struct ctl *c)
{
	c->ro_hold = 1;
	if (c->ro)
		c->ro->hold = 1;
}

/*
 * After a restart (and before the outbox delivers anything): every
 * rollout not over is read back.  One whose plan's target never became
 * the applied commit did not happen; of the others the newest goes on and
 * any older one is superseded by it (a kill came between the two).  Hosts
 * that were running run again; messages written ahead are queued; a
 * staged canary's overlay is made again.  Recovery (issue 14) may call
 * this; it is idempotent: a rollout already loaded is left alone.
 */
int
ctl_rollout_resume_after_restart(struct ctl *c)
{
	unsigned long ids[RO_ACTIVE_MAX];
	size_t n = ro_active_ids(c->cfg->state, ids, RO_ACTIVE_MAX), i, j;
	struct ro_record *keep = NULL;

	if (c->ro)
		return OK;
	for (i = n; i-- > 0;) {
		struct ro_record *r = NULL;
		char id[24];

		snprintf(id, sizeof(id), "%lu", ids[i]);
		if (ro_record_load(&r, c->cfg->state, id) != OK) {
			log_event(NULL, "rollout %s: %s", id, err_last());
			continue;
		}
		ro_announce_pending(c, r);
		if (!keep && strcmp(r->target, c->base.sha) == 0) {
			keep = r;
			continue;
		}
		if (!keep) {
			/* Written before a release switch that never happened. */
			char path[4096];

			log_event(NULL, "rollout %s: its release never switched; dropped", id);
			snprintf(path, sizeof(path), "%s/rollouts/%s.json", c->cfg->state, id);
			unlink(path);
			snprintf(path, sizeof(path), "%s/rollouts/%s.log", c->cfg->state, id);
			unlink(path);
			ro_record_free(r);
			continue;
		}
		{
			char note[64];

			snprintf(note, sizeof(note), "superseded by plan %s", keep->id);
			for (j = 0; j < r->nhosts; j++)
				if (r->hosts[j].state == RH_PENDING || r->hosts[j].state == RH_RUNNING) {
					r->hosts[j].state = RH_SKIPPED;
					set_note(&r->hosts[j], "%s", note);
				}
			ro_finish_record(r, RO_SUPERSEDED);
			r->superseded_by = xstrdup(keep->id);
			r->why = xstrdup(note);
			ro_save(c, r);
			ro_record_free(r);
		}
	}
	if (!keep)
		return OK;
	c->ro = ro_new(c, keep);
	turns_from_now(c);
	for (j = 0; j < keep->nhosts; j++)
		if (keep->hosts[j].state == RH_RUNNING) {
			keep->hosts[j].state = RH_PENDING;
			set_note(&keep->hosts[j], "running when the controller stopped; runs again");
		}
	if (keep->staged && !keep->promoted) {
		const char **fq = xcalloc(keep->nhosts + 1, sizeof(*fq));
		const char **env = xcalloc(keep->nhosts + 1, sizeof(*env));
		size_t k = 0;

		for (j = 0; j < keep->nhosts; j++)
			if (keep->hosts[j].group == 0 && keep->hosts[j].state != RH_SKIPPED) {
				const struct host *h = c->base.model ? model_host(c->base.model,
				    keep->hosts[j].fqdn) : NULL;

				fq[k] = keep->hosts[j].fqdn;
				env[k++] = h ? model_host_env(c->base.model, h) : NULL;
			}
		if (state_staged(c->cfg->state) != strtoul(keep->id, NULL, 10) ||
		    state_restage(c->st, keep->id, fq, env, k) != OK)
			log_event(NULL, "rollout %s: the canary's overlay: %s", keep->id,
			    state_staged(c->cfg->state) == strtoul(keep->id, NULL, 10) ? err_last() :
			    "not staged any more");
		free(fq);
		free(env);
	}
	ro_save(c, keep);
	log_event(NULL, "rollout %s: resumed after a restart (%s, group %u of %u)", keep->id,
	    ro_status_name(keep->status), keep->group + 1, keep->ngroups);
	/* Waiting for its apply providers: when a recovery runs them again
	 * (c->hook_plan is its plan) their end begins it, else it begins now. */
	/* At its gates when the controller stopped: they are asked again. */
	if (keep->status == RO_GATE && c->cfg->health)
		keep->status = RO_RUNNING;
	if (keep->status == RO_WAITING && !(c->hook_plan && strcmp(c->hook_plan->id, keep->id) == 0))
		ctl_rollout_begin(c, keep->id, 0);
	else
		advance(c);
	return OK;
}

json_t *
ctl_rollout_json(const char *state_dir, const char *id)
{
	struct ro_record *r = NULL;
	json_t *j;

	if (ro_record_load(&r, state_dir, id) != OK)
		return NULL;
	j = ro_record_json(r);
	ro_record_free(r);
	return j;
}
