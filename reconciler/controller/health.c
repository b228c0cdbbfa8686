/*
 * health.c - health checks and the actions they lead to (DESIGN.md
 * "Health checks and actions"), the trust ladder's suggestions and
 * revert notices ("Trust ladder"), and the gate hook rollouts call.  See
 * ctl.h.
 *
 * Every `every` seconds a check is evaluated over its hosts (the roles'
 * active hosts, and the ones a health action drained) by the source's
 * child (providers/health: never in this process), one evaluation at a
 * time.  Each host's verdict moves its episode:
 *
 *   fails, no episode        an episode begins (its id from health.json's seq)
 *   fails, in an episode     the action is considered again (observe -> auto
 *                            acts at the next evaluation)
 *   passes, in an episode    it ends; if chat heard of it, chat hears
 *                            "recovered" (a drained host stays drained:
 *                            undrain is a person's command)
 *   no data                  `no_data` says: inconclusive (nothing moves,
 *                            the default), fail or pass
 *
 * What a failing host gets is the check's `action` at the level policy.yaml
 * (of the applied commit) gives it in `actions:`: off, observe ("would
 * drain HOST: FINDING" once per episode, and the would-act counter) or auto
 * (the bot commits `drain HOST` as firebreak-health through the job runner,
 * jobs.c).  max_drained and "never the last active host" hold a drain
 * back in either mode, said once per episode.  Episodes live in
 * <state>/health.json (state/hstore.h): a restart says nothing twice.
 *
 * An evaluation whose requests failed gives those hosts no data; after
 * `unreachable_after` failed evaluations in a row chat hears once that the
 * source is unreachable, and once that it is back.
 */
#include "controller/ctl.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "git/repo.h"
#include "model/model.h"
#include "providers/health/health.h"
#include "state/hstore.h"
#include "state/state.h"
#include "state/trust.h"

#define HEALTH_LADDER_SECONDS 2.0   /* how often the trust log is looked at */
#define HEALTH_REVERT_WALK 200      /* commits of one plan looked at for reverts */

struct hgate {
	ctl_gate_done done;
	void *ctx;
	struct strlist checks, hosts;
	size_t next;                  /* the next check to evaluate */
	enum ctl_gate result;
	char reason[1024];
	struct hgate *nextq;
};

struct hctl {
	const struct health_config *hc;
	const struct health_provider *hp;
	void *src;
	double *due;                  /* per check */
	struct health_run *run;
	size_t run_check;
	struct hgate *run_gate;       /* the gate being evaluated, or NULL */
	struct strlist run_hosts, run_roles;
	struct buf *run_exprs;
	double run_started;
	json_t *store;                /* health.json */
	json_t *draining;             /* host -> episode key, while its drain job runs */
	unsigned failures;            /* failed evaluations in a row */
	unsigned long (*results)[3];  /* per check: pass, fail, no data */
	unsigned long evals_ok, evals_failed, committed, held, drain_failed;
	double last_seconds;
	size_t last_hosts;
	struct hgate *gates;          /* queued */
	/* the trust ladder */
	long long trust_size;
	double trust_next;
};

/* ---- chat ------------------------------------------------------------------- */

static void
say(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line to every chat (not in a plan's thread), and to the log.  Every
 * value in it is ours: validated host and check names, numbers we format. */
static void
say(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	char line[600];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_event("health", "%s", line);
	ctl_notify(c, NULL, line, "", 0);
}

static void
save(struct ctl *c)
{
	if (hstore_save(c->health->store, c->cfg->state) != OK) {
		snprintf(c->last_error, sizeof(c->last_error), "health: %s", err_last());
		log_event("health", "%s", c->last_error);
	}
}

/* ---- open and close ----------------------------------------------------------- */

int
ctl_health_open(struct ctl *c)
{
	struct hctl *h = xcalloc(1, sizeof(*h));
	const struct health_config *hc = c->cfg->health;
	int rc;

	c->health = h;
	h->draining = json_object();
	if (!hc)
		return OK;
	h->hc = hc;
	if ((rc = hstore_load(&h->store, c->cfg->state)) != OK)
		return rc;
	if (!(h->hp = health_find(hc->source_type)))
		return err_set(ERR_INVALID, "%s: no health source '%s'", c->cfg->path,
		    hc->source_type ? hc->source_type : "");
	if ((rc = h->hp->ops->open(&h->src, hc->source)) != OK)
		return err_set(rc, "%s: health.source: %s", c->cfg->path, err_last());
	/* Episodes of checks the config no longer has are over (unsaid). */
	{
		json_t *eps = json_object_get(h->store, "episodes"), *v;
		const char *key;
		void *tmp;

		json_object_foreach_safe(eps, tmp, key, v) {
			const char *chk = json_string_value(json_object_get(v, "check"));

			if (!chk || !healthcfg_check(hc, chk))
				json_object_del(eps, key);
		}
	}
	h->due = xcalloc(hc->nchecks + 1, sizeof(*h->due));
	h->results = xcalloc(hc->nchecks + 1, sizeof(*h->results));
	/* The first evaluation of each check soon after the start. */
	for (size_t i = 0; i < hc->nchecks; i++)
		h->due[i] = log_now() + 1.0 + (double)i * 0.1;
	log_event("health", "%zu check%s against %s", hc->nchecks, hc->nchecks == 1 ? "" : "s",
	    h->hp->ops->describe(h->src));
	return OK;
}

static void
run_dispose(struct hctl *h)
{
	size_t i;

	for (i = 0; h->run_exprs && i < h->run_hosts.n; i++)
		buf_dispose(&h->run_exprs[i]);
	free(h->run_exprs);
	h->run_exprs = NULL;
	strlist_dispose(&h->run_hosts);
	strlist_dispose(&h->run_roles);
}

static void
gate_free(struct hgate *g)
{
	strlist_dispose(&g->checks);
	strlist_dispose(&g->hosts);
	free(g);
}

void
ctl_health_close(struct ctl *c)
{
	struct hctl *h = c->health;

	if (!h)
		return;
	if (h->run) {
		struct health_answer a;

		health_finish(&a, h->run);
		health_answer_dispose(&a);
	}
	if (h->run_gate)
		gate_free(h->run_gate);
	while (h->gates) {
		struct hgate *g = h->gates;

		h->gates = g->nextq;
		gate_free(g);
	}
	run_dispose(h);
	if (h->src)
		h->hp->ops->close(h->src);
	json_decref(h->store);
	json_decref(h->draining);
	free(h->due);
	free(h->results);
	free(h);
	c->health = NULL;
}

/* ---- evaluations ------------------------------------------------------------------ */

static int
drained_by_us(void *ctx, const char *fqdn)
{
	struct hctl *h = ctx;

	return json_object_get(json_object_get(h->store, "drained"), fqdn) != NULL;
}

/* Start evaluating check k over the hosts in run_hosts (with run_roles). */
static int
start_run(struct ctl *c, size_t k)
{
	struct hctl *h = c->health;
	const struct health_check *chk = &h->hc->checks[k];
	const char **exprs;
	struct health_request rq;
	size_t i, n = 0;
	int rc;

	h->run_exprs = xcalloc(h->run_hosts.n + 1, sizeof(*h->run_exprs));
	exprs = xcalloc(h->run_hosts.n + 1, sizeof(*exprs));
	for (i = 0; i < h->run_hosts.n; i++) {
		/* The names are the inventory's, validated when it loaded; a
		 * name the template refuses gets no query and so no data. */
		if (health_expand(&h->run_exprs[i], chk->query, h->run_hosts.v[i],
		    h->run_roles.v[i]) != OK)
			buf_puts(&h->run_exprs[i], "");
		exprs[i] = h->run_exprs[i].data;
		n++;
	}
	memset(&rq, 0, sizeof(rq));
	rq.n = n;
	rq.exprs = exprs;
	rq.over = chk->over;
	rq.tmpl = chk->query;
	rq.hosts = (const char *const *)h->run_hosts.v;
	rq.roles = (const char *const *)h->run_roles.v;
	h->run_check = k;
	h->run_started = log_now();
	c->turn_max = c->turn_cpu_max = 0;
	rc = health_start(&h->run, h->hp, h->src, &rq);
	free(exprs);
	if (rc != OK) {
		h->run = NULL;
		snprintf(c->last_error, sizeof(c->last_error), "health: %s", err_last());
		log_event("health", "%s: cannot start an evaluation: %s", chk->name, err_last());
		run_dispose(h);
	}
	return rc;
}

/* The next evaluation: a queued gate first, else the first check due. */
static void
schedule(struct ctl *c)
{
	struct hctl *h = c->health;
	const struct model *m = c->base.model;
	double now = log_now();
	size_t k;

	if (h->run || !h->hc || !m)
		return;
	while (h->gates) {
		struct hgate *g = h->gates;
		const struct health_check *chk;
		size_t i;

		if (g->next >= g->checks.n) {
			h->gates = g->nextq;
			if (g->done)
				g->done(c, g->ctx, g->result, g->reason);
			gate_free(g);
			continue;
		}
		chk = healthcfg_check(h->hc, g->checks.v[g->next]);
		for (i = 0; i < g->hosts.n; i++) {
			const struct host *hh = model_host(m, g->hosts.v[i]);

			strlist_push(&h->run_hosts, g->hosts.v[i], 0);
			strlist_push(&h->run_roles, hh && hh->role ? hh->role : "none", 0);
		}
		h->gates = g->nextq;
		h->run_gate = g;
		if (start_run(c, (size_t)(chk - h->hc->checks)) != OK) {
			g->result = CTL_GATE_INCONCLUSIVE;
			snprintf(g->reason, sizeof(g->reason), "gate %s could not be evaluated: %s",
			    chk->name, err_last());
			g->next = g->checks.n;
			h->run_gate = NULL;
			g->nextq = h->gates;
			h->gates = g;
		}
		return;
	}
	for (k = 0; k < h->hc->nchecks; k++) {
		if (h->due[k] > now)
			continue;
		h->due[k] = now + h->hc->checks[k].every;
		health_hosts(&h->run_hosts, &h->run_roles, &h->hc->checks[k], m, drained_by_us, h);
		if (!h->run_hosts.n) {
			run_dispose(h);
			continue;
		}
		start_run(c, k);
		return;
	}
}

/* ---- episodes and actions ------------------------------------------------------------ */

static int
said(json_t *ep, const char *what)
{
	return json_object_get(json_object_get(ep, "said"), what) != NULL;
}

static void
set_said(json_t *ep, const char *what)
{
	json_t *s = json_object_get(ep, "said");

	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(ep, "said", s);
	}
	json_object_set_new(s, what, json_true());
}

static void
episode_name(char *out, size_t n, json_t *ep)
{
	snprintf(out, n, "%lld", (long long)json_integer_value(json_object_get(ep, "id")));
}

/*
 * How many of role's hosts count as drained right now: drained in the
 * applied inventory, plus those a drain is being committed for, plus (in
 * observe, where nothing is drained) those chat was told would be: what
 * auto would have done.  Sets *counted to the role's active + drained.
 */
static size_t
drained_now(struct ctl *c, const char *role, const char *except, int observe, size_t *counted,
    size_t *active)
{
	struct hctl *h = c->health;
	const struct model *m = c->base.model;
	size_t i, drained = 0;
	const char *key;
	json_t *v;

	*counted = *active = 0;
	for (i = 0; i < m->nhosts; i++) {
		const struct host *hh = &m->hosts[i];

		if (!hh->role || strcmp(hh->role, role) != 0)
			continue;
		*active += hh->state == HOST_ACTIVE;
		drained += hh->state == HOST_DRAINED;
	}
	*counted = *active + drained;
	/* Drains being committed, or committed and not applied yet. */
	json_object_foreach(h->draining, key, v) {
		const struct host *hh = model_host(m, key);

		if (hh && hh->state == HOST_ACTIVE && hh->role && strcmp(hh->role, role) == 0 &&
		    strcmp(key, except) != 0) {
			drained++;
			(*active)--;
		}
	}
	json_object_foreach(json_object_get(h->store, "drained"), key, v) {
		const struct host *hh = model_host(m, key);

		if (hh && hh->state == HOST_ACTIVE && hh->role && strcmp(hh->role, role) == 0 &&
		    strcmp(key, except) != 0 && !json_object_get(h->draining, key)) {
			drained++;
			(*active)--;
		}
	}
	if (observe) {
		struct strlist seen = { NULL, NULL, 0 };

		json_object_foreach(json_object_get(h->store, "episodes"), key, v) {
			const char *host = json_string_value(json_object_get(v, "host"));
			const struct host *hh = host ? model_host(m, host) : NULL;
			size_t j;
			int dup = 0;

			if (!hh || hh->state != HOST_ACTIVE || !hh->role || strcmp(hh->role, role) != 0 ||
			    strcmp(host, except) == 0 || !said(v, "would"))
				continue;
			for (j = 0; j < seen.n && !dup; j++)
				dup = strcmp(seen.v[j], host) == 0;
			if (dup)
				continue;
			strlist_push(&seen, host, 0);
			drained++;
			(*active)--;
		}
		strlist_dispose(&seen);
	}
	return drained;
}

/* A failing host in episode `ep`: what its check's action gets.  Returns
 * 1 when the episode changed (to be saved). */
static int
act(struct ctl *c, const struct health_check *chk, const char *host, json_t *ep,
    const char *finding)
{
	struct hctl *h = c->health;
	const struct model *m = c->base.model;
	const struct host *hh = model_host(m, host);
	enum action_level lv = policy_action_level(m->policy, POLICY_ACTION_DRAIN);
	size_t counted, active, drained, max;
	char why[200], epn[24];

	if (chk->action == HEALTH_ACTION_NONE) {
		if (said(ep, "report"))
			return 0;
		set_said(ep, "report");
		say(c, "%s fails %s (report only)", host, finding);
		return 1;
	}
	if (!hh || !hh->role)
		return 0;
	episode_name(epn, sizeof(epn), ep);
	if (hh->state == HOST_DRAINED) {
		/* Drained by a person during an observed episode: they did what
		 * the action would have (the trust ladder's "agreed"). */
		if (!drained_by_us(h, host) && said(ep, "would") &&
		    !json_is_true(json_object_get(ep, "agreed"))) {
			json_object_set_new(ep, "agreed", json_true());
			trust_note_action(c->st, POLICY_ACTION_DRAIN, epn, "agreed");
			return 1;
		}
		return 0;
	}
	if (hh->state != HOST_ACTIVE || lv == ACTION_OFF || json_object_get(h->draining, host) ||
	    json_object_get(ep, "drain"))
		return 0;
	drained = drained_now(c, hh->role, host, lv == ACTION_OBSERVE, &counted, &active);
	max = health_max_drained(&h->hc->max_drained, counted);
	why[0] = '\0';
	if (drained + 1 > max)
		snprintf(why, sizeof(why), "max_drained holds it back (%zu of %zu drained)", drained,
		    counted);
	else if (active <= 1)
		snprintf(why, sizeof(why), "it is the last active host of role %s", hh->role);
	if (why[0]) {
		if (said(ep, "held"))
			return 0;
		set_said(ep, "held");
		h->held++;
		say(c, "would drain %s, but %s", host, why);
		return 1;
	}
	if (lv == ACTION_OBSERVE) {
		json_t *wa = json_object_get(h->store, "would_act");

		if (said(ep, "would"))
			return 0;
		set_said(ep, "would");
		json_object_set_new(wa, POLICY_ACTION_DRAIN, json_integer(
		    json_integer_value(json_object_get(wa, POLICY_ACTION_DRAIN)) + 1));
		trust_note_action(c->st, POLICY_ACTION_DRAIN, epn, "observed");
		say(c, "would drain %s: %s", host, finding);
		return 1;
	}
	/* auto: the bot commits the drain, as a person's command would. */
	if (jobs_enqueue_health(c, host, finding)) {
		json_object_set_new(h->draining, host, json_string(json_string_value(
		    json_object_get(ep, "key"))));
		log_event("health", "draining %s: %s", host, finding);
	}
	return 0;
}

/* The episode ended (the host passes): said if chat heard of it. */
static void
end_episode(struct ctl *c, const char *key, json_t *ep, const char *host, const char *finding)
{
	struct hctl *h = c->health;
	char epn[24];

	episode_name(epn, sizeof(epn), ep);
	if (said(ep, "would") && !json_is_true(json_object_get(ep, "agreed")))
		trust_note_action(c->st, POLICY_ACTION_DRAIN, epn, "disagreed");
	if (json_object_size(json_object_get(ep, "said")) || json_object_get(ep, "drain")) {
		if (drained_by_us(h, host))
			say(c, "%s recovered: %s; it stays drained: `undrain %s` puts it back", host,
			    finding, host);
		else
			say(c, "%s recovered: %s", host, finding);
	}
	json_object_del(json_object_get(h->store, "episodes"), key);
}

/* After a scheduled evaluation: every host's verdict moves its episode. */
static void
judge_all(struct ctl *c, const struct health_check *chk, const struct health_answer *a)
{
	struct hctl *h = c->health;
	json_t *episodes = json_object_get(h->store, "episodes");
	size_t k = h->run_check, i;
	int changed = 0;

	for (i = 0; i < h->run_hosts.n && i < a->n; i++) {
		const char *host = h->run_hosts.v[i];
		char key[400], finding[300];
		double value;
		enum health_verdict v = health_judge(chk, &a->v[i], &value);
		json_t *ep;

		h->results[k][v]++;
		if (v == HEALTH_NODATA) {
			if (chk->no_data == HEALTH_NODATA_INCONCLUSIVE)
				continue;
			health_finding(finding, sizeof(finding), chk, v, value);
			v = chk->no_data == HEALTH_NODATA_FAIL ? HEALTH_FAIL : HEALTH_PASS;
		} else {
			health_finding(finding, sizeof(finding), chk, v, value);
		}
		snprintf(key, sizeof(key), "%s %s", chk->name, host);
		ep = json_object_get(episodes, key);
		if (v == HEALTH_PASS) {
			if (ep) {
				end_episode(c, key, ep, host, finding);
				changed = 1;
			}
			continue;
		}
		if (!ep) {
			json_int_t seq = json_integer_value(json_object_get(h->store, "seq")) + 1;

			json_object_set_new(h->store, "seq", json_integer(seq));
			ep = json_pack("{s:I, s:s, s:s, s:s, s:I, s:{}}", "id", seq, "key", key, "check",
			    chk->name, "host", host, "since", (json_int_t)time(NULL), "said");
			json_object_set_new(episodes, key, ep);
			log_event("health", "episode %lld begins: %s %s", (long long)seq, host, finding);
			changed = 1;
		}
		json_object_set_new(ep, "finding", json_string(finding));
		changed |= act(c, chk, host, ep, finding);
	}
	/* Hosts a health action drained and a person undrained since (or that
	 * left the inventory) are no longer ours to watch; a drain whose commit
	 * is not applied yet is still ours. */
	{
		json_t *dr = json_object_get(h->store, "drained"), *v;
		const char *host;
		void *tmp;

		json_object_foreach_safe(dr, tmp, host, v) {
			const struct host *hh = model_host(c->base.model, host);
			const char *commit = json_string_value(v);
			int applied = commit && c->base.sha[0] &&
			    repo_is_ancestor(c->repo, commit, c->base.sha);

			if (!hh || (applied && hh->state != HOST_DRAINED) ||
			    (!applied && hh->state != HOST_ACTIVE)) {
				json_object_del(dr, host);
				changed = 1;
			}
		}
	}
	if (changed)
		save(c);
}

/* The source as a whole: unreachable after K failed evaluations, back after one good. */
static void
source_health(struct ctl *c, const struct health_answer *a)
{
	struct hctl *h = c->health;
	int down = json_is_true(json_object_get(h->store, "source_down"));

	if (a->failed) {
		h->evals_failed++;
		h->failures++;
		if (h->failures >= h->hc->unreachable_after && !down) {
			json_object_set_new(h->store, "source_down", json_true());
			save(c);
			say(c, "health source %s is unreachable: %s (%u evaluation%s in a row); its "
			    "hosts have no data, and nothing is done about them", h->hp->ops->describe(h->src),
			    a->error[0] ? a->error : "failed", h->failures, h->failures == 1 ? "" : "s");
		}
		return;
	}
	h->evals_ok++;
	h->failures = 0;
	if (down) {
		json_object_set_new(h->store, "source_down", json_false());
		save(c);
		say(c, "health source %s is back", h->hp->ops->describe(h->src));
	}
}

/* After a gate's evaluation of one check: the first failure decides. */
static void
judge_gate(struct ctl *c, struct hgate *g, const struct health_check *chk,
    const struct health_answer *a)
{
	struct hctl *h = c->health;
	size_t i;

	for (i = 0; i < h->run_hosts.n && i < a->n && g->result == CTL_GATE_PASS; i++) {
		char finding[300];
		double value;
		enum health_verdict v = health_judge(chk, &a->v[i], &value);

		h->results[h->run_check][v]++;
		if (v == HEALTH_NODATA && chk->no_data == HEALTH_NODATA_PASS)
			continue;
		if (v == HEALTH_NODATA && chk->no_data == HEALTH_NODATA_FAIL)
			v = HEALTH_FAIL;
		health_finding(finding, sizeof(finding), chk, v, value);
		if (v == HEALTH_FAIL) {
			g->result = CTL_GATE_FAIL;
			snprintf(g->reason, sizeof(g->reason), "gate %s fails for %s: %s", chk->name,
			    h->run_hosts.v[i], finding);
		} else if (v == HEALTH_NODATA) {
			g->result = CTL_GATE_INCONCLUSIVE;
			snprintf(g->reason, sizeof(g->reason), "gate %s is inconclusive for %s: %s%s%s",
			    chk->name, h->run_hosts.v[i], finding, a->failed ? "; the source: " : "",
			    a->failed ? a->error : "");
		}
	}
	g->next = g->result == CTL_GATE_PASS ? g->next + 1 : g->checks.n;
	if (g->result == CTL_GATE_PASS && g->next >= g->checks.n)
		snprintf(g->reason, sizeof(g->reason), "every gate passes for the %zu canary host%s",
		    g->hosts.n, g->hosts.n == 1 ? "" : "s");
	/* Back to the front of the queue: its next check, or its answer. */
	g->nextq = h->gates;
	h->gates = g;
}

static void
finish_run(struct ctl *c)
{
	struct hctl *h = c->health;
	const struct health_check *chk = &h->hc->checks[h->run_check];
	struct health_answer a;
	struct hgate *g = h->run_gate;
	double t, turn = c->turn_max, turn_cpu = c->turn_cpu_max;

	t = log_now();
	health_finish(&a, h->run);
	h->run = NULL;
	h->run_gate = NULL;
	h->last_seconds = log_now() - h->run_started;
	h->last_hosts = h->run_hosts.n;
	if (c->base.model) {
		source_health(c, &a);
		if (g)
			judge_gate(c, g, chk, &a);
		else
			judge_all(c, chk, &a);
	} else if (g) {
		g->result = CTL_GATE_INCONCLUSIVE;
		snprintf(g->reason, sizeof(g->reason), "nothing is applied: no hosts to judge");
		g->next = g->checks.n;
		g->nextq = h->gates;
		h->gates = g;
	}
	/* What the loop spent: its longest turn while the child asked, and
	 * this turn's reading and judging (the bench's "never blocked"). */
	log_event("health", "%s over %zu host%s: %.3f s, %u request%s%s%s%s (loop: longest turn "
	    "%.1f ms, %.1f ms of CPU; judging %.1f ms)", chk->name, h->run_hosts.n,
	    h->run_hosts.n == 1 ? "" : "s", h->last_seconds, a.requests, a.requests == 1 ? "" : "s",
	    a.failed ? ", failed: " : "", a.failed ? a.error : "", g ? " (gate)" : "", turn * 1000,
	    turn_cpu * 1000, (log_now() - t) * 1000);
	health_answer_dispose(&a);
	run_dispose(h);
}

/* ---- the drain job ------------------------------------------------------------------- */

void
ctl_health_job_done(struct ctl *c, const char *host, const char *commit, const char *text)
{
	struct hctl *h = c->health;
	const char *key;
	json_t *ep;

	if (!h || !h->store)
		return;
	key = json_string_value(json_object_get(h->draining, host));
	ep = key ? json_object_get(json_object_get(h->store, "episodes"), key) : NULL;
	if (commit && strlen(commit) == 40) {
		json_object_set_new(json_object_get(h->store, "drained"), host, json_string(commit));
		if (ep)
			json_object_set_new(ep, "drain", json_string(commit));
		h->committed++;
		save(c);
	} else {
		char why[200];
		size_t i;

		/* The bot's answer is our own words; still one printable line. */
		snprintf(why, sizeof(why), "%s", text ? text : "the command failed");
		for (i = 0; why[i]; i++)
			if ((unsigned char)why[i] < ' ' || (unsigned char)why[i] >= 0x7f)
				why[i] = why[i] == '\n' ? '\0' : '?';
		h->drain_failed++;
		if (ep && !said(ep, "drain_failed")) {
			set_said(ep, "drain_failed");
			save(c);
			say(c, "could not drain %s: %s", host, why);
		} else {
			log_event("health", "could not drain %s: %s", host, why);
		}
	}
	if (key)
		json_object_del(h->draining, host);
}

/* ---- the trust ladder ------------------------------------------------------------------- */

/* Post each promotion that is due, once ever. */
static void
ladder_tick(struct ctl *c)
{
	struct hctl *h = c->health;
	struct trust_table t;
	char path[4096];
	struct stat st;
	size_t i;

	if (log_now() < h->trust_next)
		return;
	h->trust_next = log_now() + HEALTH_LADDER_SECONDS;
	snprintf(path, sizeof(path), "%s/trust.log", c->cfg->state);
	if (stat(path, &st) != 0 || (long long)st.st_size == h->trust_size)
		return;
	h->trust_size = (long long)st.st_size;
	if (!c->base.model || trust_load(&t, c->cfg->state, c->base.model->policy) != OK)
		return;
	for (i = 0; i < t.n; i++) {
		struct buf line = BUF_INIT;

		if (!t.rows[i].suggest_promote || t.rows[i].suggested)
			continue;
		trust_promotion_line(&line, &t.rows[i]);
		if (trust_note_suggested(c->st, t.rows[i].name) == OK)
			say(c, "%s", line.data);
		buf_dispose(&line);
	}
	trust_table_dispose(&t);
}

struct revwalk {
	const char *base;
	struct strlist commits, reverted;
};

static int
revert_step(void *ctx, const struct repo_log_entry *e)
{
	struct revwalk *w = ctx;
	char sha[41];

	if (w->base && strcmp(e->sha, w->base) == 0)
		return 1;
	if (trust_reverted_sha(e->message, sha)) {
		strlist_push(&w->commits, e->sha, 0);
		strlist_push(&w->reverted, sha, 0);
	}
	return 0;
}

void
ctl_ladder_planned(struct ctl *c, const struct plan *p)
{
	struct revwalk w;
	struct trust_table t;
	size_t i;

	if (!p || p->decision == DECISION_INVALID)
		return;
	memset(&w, 0, sizeof(w));
	w.base = p->base[0] ? p->base : NULL;
	repo_log(c->repo, p->target, HEALTH_REVERT_WALK, revert_step, &w);
	if (w.commits.n && trust_load(&t, c->cfg->state, c->base.model ? c->base.model->policy :
	    NULL) == OK) {
		for (i = 0; i < w.commits.n; i++) {
			char id[24], how[16];
			struct buf types = BUF_INIT;

			if (trust_revert_known(&t, w.commits.v[i]) ||
			    trust_plan_of(&t, c->repo, w.reverted.v[i], id, how, &types) != OK) {
				buf_dispose(&types);
				continue;
			}
			trust_note_revert(c->st, w.reverted.v[i], w.commits.v[i], id);
			log_event("health", "%.7s reverts %.7s, applied by plan %s (%s)", w.commits.v[i],
			    w.reverted.v[i], id, how);
			if (strcmp(how, "approved") != 0) {
				char *first = types.data ? xstrndup(types.data, strcspn(types.data, ",")) :
				    xstrdup("?");

				say(c, "plan %s (%s, applied without an approver) is reverted by %.7s "
				    "\xe2\x80\x94 `trust demote %s` to need an approver again", id,
				    types.data ? types.data : "", w.commits.v[i], first);
				free(first);
			}
			buf_dispose(&types);
		}
		trust_table_dispose(&t);
	}
	strlist_dispose(&w.commits);
	strlist_dispose(&w.reverted);
}

/* ---- the loop ------------------------------------------------------------------------- */

size_t
ctl_health_pollfds(struct ctl *c, struct pollfd *pfd, size_t max, int *timeout)
{
	struct hctl *h = c->health;
	size_t n = 0, k;
	double now = log_now();
	int due;

	if (!h)
		return 0;
	if (h->run) {
		if (max && (pfd[0].fd = health_fd(h->run)) >= 0) {
			pfd[0].events = POLLIN;
			n = 1;
		}
		if ((due = health_timeout_ms(h->run)) < *timeout)
			*timeout = due;
		return n;
	}
	for (k = 0; h->hc && k < h->hc->nchecks; k++) {
		double ms = (h->due[k] - now) * 1000.0;

		due = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms + 1;
		if (due < *timeout)
			*timeout = due;
	}
	if (h->gates && *timeout > 0)
		*timeout = 0;
	return 0;
}

void
ctl_health_step(struct ctl *c)
{
	struct hctl *h = c->health;

	if (!h)
		return;
	if (h->run && health_step(h->run))
		finish_run(c);
	schedule(c);
	ladder_tick(c);
}

/* ---- gates (rollout.gates) ------------------------------------------------------------ */

int
ctl_health_gate(struct ctl *c, const char *const *checks, size_t nchecks,
    const char *const *hosts, size_t nhosts, ctl_gate_done done, void *ctx)
{
	struct hctl *h = c->health;
	struct hgate *g, **tail;
	size_t i;

	if (!h || !h->hc)
		return err_set(ERR_NOTFOUND, "no health checks are configured (health: in %s)",
		    c->cfg->path);
	for (i = 0; i < nchecks; i++)
		if (!healthcfg_check(h->hc, checks[i]))
			return err_set(ERR_NOTFOUND, "there is no health check '%s' (health.checks "
			    "in %s)", checks[i], c->cfg->path);
	g = xcalloc(1, sizeof(*g));
	g->done = done;
	g->ctx = ctx;
	g->result = CTL_GATE_PASS;
	for (i = 0; i < nchecks; i++)
		strlist_push(&g->checks, checks[i], 0);
	for (i = 0; i < nhosts; i++)
		strlist_push(&g->hosts, hosts[i], 0);
	if (!nhosts)
		snprintf(g->reason, sizeof(g->reason), "no canary host to judge");
	if (!nhosts || !nchecks)
		g->next = nchecks;
	for (tail = &h->gates; *tail; tail = &(*tail)->nextq)
		;
	*tail = g;
	return OK;
}

void
ctl_health_gate_cancel(struct ctl *c, void *ctx)
{
	struct hctl *h = c->health;
	struct hgate **p;

	if (!h)
		return;
	for (p = &h->gates; *p; ) {
		if ((*p)->ctx == ctx) {
			struct hgate *g = *p;

			*p = g->nextq;
			gate_free(g);
		} else {
			p = &(*p)->nextq;
		}
	}
	if (h->run_gate && h->run_gate->ctx == ctx)
		h->run_gate->done = NULL;   /* the answer goes nowhere */
}

/* ---- /metrics ------------------------------------------------------------------------- */

void
ctl_health_metrics(struct ctl *c, struct buf *out)
{
	struct hctl *h = c->health;
	static const char *const res[] = { "pass", "fail", "no_data" };
	json_t *wa = h && h->store ? json_object_get(h->store, "would_act") : NULL;
	size_t k, r;

	buf_printf(out, "# HELP firebreak_would_act_total Times an action in observe would have "
	    "acted (once per host and episode).\n# TYPE firebreak_would_act_total counter\n"
	    "firebreak_would_act_total{action=\"%s\"} %lld\n", POLICY_ACTION_DRAIN,
	    (long long)json_integer_value(json_object_get(wa, POLICY_ACTION_DRAIN)));
	if (!h || !h->hc)
		return;
	buf_puts(out, "# HELP firebreak_health_checks_total Hosts judged, by check and result.\n"
	    "# TYPE firebreak_health_checks_total counter\n");
	for (k = 0; k < h->hc->nchecks; k++)
		for (r = 0; r < 3; r++)
			buf_printf(out, "firebreak_health_checks_total{check=\"%s\",result=\"%s\"} %lu\n",
			    h->hc->checks[k].name, res[r], h->results[k][r]);
	buf_printf(out, "# HELP firebreak_health_evaluations_total Evaluations, by result.\n"
	    "# TYPE firebreak_health_evaluations_total counter\n"
	    "firebreak_health_evaluations_total{result=\"ok\"} %lu\n"
	    "firebreak_health_evaluations_total{result=\"failed\"} %lu\n"
	    "# HELP firebreak_health_evaluation_seconds How long the last evaluation took.\n"
	    "# TYPE firebreak_health_evaluation_seconds gauge\n"
	    "firebreak_health_evaluation_seconds %.6f\n"
	    "# HELP firebreak_health_actions_total Actions, by result.\n"
	    "# TYPE firebreak_health_actions_total counter\n"
	    "firebreak_health_actions_total{action=\"%s\",result=\"committed\"} %lu\n"
	    "firebreak_health_actions_total{action=\"%s\",result=\"held\"} %lu\n"
	    "firebreak_health_actions_total{action=\"%s\",result=\"failed\"} %lu\n"
	    "# HELP firebreak_health_episodes Hosts in an episode (failing a check) now.\n"
	    "# TYPE firebreak_health_episodes gauge\nfirebreak_health_episodes %zu\n",
	    h->evals_ok, h->evals_failed, h->last_seconds, POLICY_ACTION_DRAIN, h->committed,
	    POLICY_ACTION_DRAIN, h->held, POLICY_ACTION_DRAIN, h->drain_failed,
	    json_object_size(json_object_get(h->store, "episodes")));
}
