/*
 * pipeline.c - load, render, plan.  See pipeline.h.
 */
#include "plan/pipeline.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "git/repo.h"
#include "git/trailers.h"
#include "model/inventory.h"
#include "model/policy.h"
#include "renderers/renderer.h"

int
snapshot_load(struct snapshot *out, struct repo *r, const char *sha, struct diags *d)
{
	return snapshot_load_from(out, r, sha, d, NULL);
}

int
snapshot_load_from(struct snapshot *out, struct repo *r, const char *sha, struct diags *d,
    struct snapshot *base)
{
	struct render_prev prev;
	struct model *bm = base ? base->model : NULL;
	double t;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!sha || !*sha)
		return OK;
	snprintf(out->sha, sizeof(out->sha), "%s", sha);
	t = log_now();
	if ((rc = inventory_load_from(&out->model, d, r, sha, bm)) != OK)
		return rc;
	log_timing("load", t);
	t = log_now();
	/* policy.yaml travels with the release: its changes are planned like
	 * any other artifact's, and the policy in force is the applied one.
	 * Added first, so render_all()'s one sort places it. */
	if (out->model->policy_src) {
		struct artifact *a = artifacts_add(&out->art, xstrdup("policy.yaml"),
		    xstrndup(out->model->policy_src, out->model->policy_len),
		    out->model->policy_len, KIND_POLICY);

		policy_objects(out->model->policy_root, a);
	}
	prev.model = bm;
	prev.art = bm ? &base->art : NULL;
	if ((rc = render_all(&out->art, out->model, bm ? &prev : NULL)) != OK) {
		snapshot_dispose(out);
		return rc;
	}
	log_timing("render", t);
	return OK;
}

void
snapshot_dispose(struct snapshot *s)
{
	model_free(s->model);
	artifacts_dispose(&s->art);
	memset(s, 0, sizeof(*s));
}

struct set_commit {
	struct plan *plan;
	const struct repo_ident *bot;
	int seen;
	int health;               /* the target is the bot's commit for a health action */
	unsigned nparents;
	char parent[41];          /* its first parent */
	char host[256];           /* the host its subject names */
};

/* The plan names its commit's subject, and who made it: the author, or
 * for a commit the bot made the person who asked for it.  The walk's
 * second step is the target's first parent. */
static int
set_commit(void *ctx, const struct repo_log_entry *e)
{
	struct set_commit *sc = ctx;
	char *asked;

	if (sc->seen++) {
		snprintf(sc->parent, sizeof(sc->parent), "%s", e->sha);
		return 1;
	}
	asked = trailer_of_bot(e, sc->bot, "Requested-by");
	plan_set_commit(sc->plan, e->subject, asked ? asked : e->author);
	sc->nparents = e->nparents;
	if (asked && strcmp(asked, POLICY_HEALTH_USER) == 0 && e->subject &&
	    strncmp(e->subject, "drain ", 6) == 0 && strlen(e->subject + 6) < sizeof(sc->host)) {
		sc->health = 1;
		snprintf(sc->host, sizeof(sc->host), "%s", e->subject + 6);
	}
	free(asked);
	return 0;
}

/* Only hosts/<host>.yaml changed (a callback: non-zero stops). */
static int
other_path(void *ctx, const char *path)
{
	const char *host = ctx;

	return !(strncmp(path, "hosts/", 6) == 0 && strncmp(path + 6, host, strlen(host)) == 0 &&
	    strcmp(path + 6 + strlen(host), ".yaml") == 0);
}

static int
same_strlist(const struct strlist *a, const struct strlist *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Is target exactly a health drain of sc->host on top of base: the bot's
 * commit (trailers believed only from the bot), its only parent the
 * applied commit, touching only that host's file, and in it only the
 * state, from active to drained?  Anything more (a forged commit that
 * also edits records) is planned like any other commit.
 */
static int
is_health_drain(struct repo *r, const struct set_commit *sc, const struct snapshot *base,
    const struct snapshot *target)
{
	const struct host *a, *b;
	char host[sizeof(sc->host)];

	if (!sc->health || sc->nparents != 1 || !base->sha[0] || strcmp(sc->parent, base->sha) != 0 ||
	    !base->model || !target->model)
		return 0;
	a = model_host(base->model, sc->host);
	b = model_host(target->model, sc->host);
	if (!a || !b || a->state != HOST_ACTIVE || b->state != HOST_DRAINED ||
	    !same_str(a->role, b->role) || !same_str(a->environment, b->environment) ||
	    !same_str(a->ip, b->ip) || !same_strlist(&a->classes, &b->classes) ||
	    !(a->params == b->params || (a->params && b->params && ynode_equal(a->params, b->params))))
		return 0;
	memcpy(host, sc->host, sizeof(host));
	return repo_each_changed_path(r, base->sha, target->sha, other_path, host) == 0;
}

int
pipeline_plan(struct plan **out, struct repo *r, const struct repo_ident *bot,
    const char *id, struct snapshot *base, const char *target_sha, struct snapshot *target)
{
	struct set_commit sc;
	struct diags d = { NULL, 0, 0 };
	struct policy *empty = NULL;
	const struct policy *pol;
	int rc;

	*out = NULL;
	rc = snapshot_load_from(target, r, target_sha, &d, base);
	if (rc == ERR_INVALID) {
		*out = plan_invalid(id, base->sha, target_sha, &d);
		rc = OK;
	} else if (rc == OK) {
		/* Empty base: no policy yet, so nothing is trusted. */
		pol = base->model ? base->model->policy : (empty = policy_empty());
		double t = log_now();

		rc = plan_build(out, id, base->sha, target_sha, &base->art, &target->art,
		    target->model, pol);
		log_timing("plan", t);
	}
	if (rc == OK) {
		memset(&sc, 0, sizeof(sc));
		sc.plan = *out;
		sc.bot = bot;
		repo_log(r, target_sha, 2, set_commit, &sc);
		/* A health action's drain is decided by the action's level in
		 * the applied policy (DESIGN.md "Health checks and actions"). */
		if ((*out)->decision != DECISION_INVALID && base->model &&
		    policy_action_level(base->model->policy, POLICY_ACTION_DRAIN) == ACTION_AUTO &&
		    is_health_drain(r, &sc, base, target))
			plan_decide_as_action(*out, base->model->policy, POLICY_ACTION_DRAIN);
	}
	policy_free(empty);
	diags_dispose(&d);
	return rc;
}
