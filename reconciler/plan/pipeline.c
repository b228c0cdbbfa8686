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
};

/* The plan names its commit's subject, and who made it: the author, or
 * for a commit the bot made the person who asked for it. */
static int
set_commit(void *ctx, const struct repo_log_entry *e)
{
	struct set_commit *sc = ctx;
	char *asked = trailer_of_bot(e, sc->bot, "Requested-by");

	plan_set_commit(sc->plan, e->subject, asked ? asked : e->author);
	free(asked);
	return 1;
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
		sc.plan = *out;
		sc.bot = bot;
		repo_log(r, target_sha, 1, set_commit, &sc);
	}
	policy_free(empty);
	diags_dispose(&d);
	return rc;
}
