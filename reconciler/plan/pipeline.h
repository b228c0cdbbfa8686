/*
 * pipeline.h - one pass through the flow for one commit: load the
 * inventory from git objects, validate, render every artifact; and the
 * plan between two such snapshots.  A pure function of (repository,
 * base, target, policy): the same inputs give byte-identical output.
 *
 * Layer: plan (includes renderers, model, git, base).
 */
#ifndef FIREBREAK_PIPELINE_H
#define FIREBREAK_PIPELINE_H

#include "model/artifact.h"
#include "model/model.h"
#include "model/validate.h"
#include "plan/plan.h"

struct repo;
struct repo_ident;

struct snapshot {
	char sha[41];             /* "" for the empty tree */
	struct model *model;      /* owns; NULL for the empty tree */
	struct artifacts art;     /* owns; rendered, plus policy.yaml */
};

/*
 * Load and render commit `sha` ("" or NULL: the empty tree, which renders
 * nothing).  ERR_INVALID with the problems in `d`; another code with
 * err_last() for a git failure.  On failure *out is left empty.
 */
int snapshot_load(struct snapshot *out, struct repo *r, const char *sha, struct diags *d);
/* The same, reusing from `base` (may be NULL) every file that is the same
 * blob and every artifact whose inputs did not change: byte-identical to
 * snapshot_load(), at the cost of what changed.  The two snapshots then
 * share storage; either may be disposed first. */
int snapshot_load_from(struct snapshot *out, struct repo *r, const char *sha,
    struct diags *d, struct snapshot *base);
void snapshot_dispose(struct snapshot *s);

/*
 * The plan of `target_sha` against `base` (already loaded), decided by
 * the base's policy.  An invalid target gives an invalid plan (OK is
 * returned; the plan says why); *target is filled when it is valid.
 * The plan carries the target commit's subject and who made it: for a
 * commit the bot made (`bot`, borrowed; NULL when unknown: no commit is
 * the bot's) the person in its Requested-by trailer, for any other its
 * author (trailer_of_bot).
 */
int pipeline_plan(struct plan **out, struct repo *r, const struct repo_ident *bot,
    const char *id, struct snapshot *base, const char *target_sha, struct snapshot *target);

#endif
