/*
 * plan.h - a plan: the difference between the last applied commit (base)
 * and a target, each change decided by the base's policy, the whole plan
 * taking the strictest decision of its changes (invalid, approve, observe,
 * auto, noop).  A plan is bound to (base, target) and to a hash of what it
 * would apply, so an approval applies exactly what was reviewed.
 *
 * Layer: plan (includes renderers, model, git, base).
 */
#ifndef FIREBREAK_PLAN_H
#define FIREBREAK_PLAN_H

#include <stddef.h>

#include "model/model.h"
#include "model/policy.h"
#include "model/validate.h"
#include "plan/diff.h"

#define PLAN_HASH_LEN 64
#define PLAN_MAX_PREP 32          /* prepared entries one plan holds */

/*
 * What an apply provider prepared for a plan before it was decided
 * (terraform: its saved plan), posted with the plan and bound to its
 * hash: approving binds to exactly that (apply.h's prepare()).
 */
struct plan_prep {
	unsigned entry;           /* the controller config's apply[entry] */
	char *provider;           /* owns; "terraform" */
	char *summary;            /* owns; the text posted with the plan */
	char *digest;             /* owns; what the approval binds (hex), or NULL */
};

/*
 * A plan that re-applies the release already current, through some of the
 * apply providers, without a release switch: `retry ID`, `reconcile
 * KIND`, or a saved Terraform plan found stale at apply.  Its base and
 * target are both the applied commit, its diff is empty; what it is
 * about is said here.
 */
struct plan_rerun {
	char *why;                /* owns; "retry of plan 17", "reconcile dns" */
	char of[24];              /* the plan it re-runs, or "" */
	char of_base[41];         /* that plan's base (what its providers compared
	                           * the world with), or "" */
	unsigned entries;         /* bit per apply[] entry to run */
	unsigned kinds;           /* bit per kind it is about (authorisation) */
	int reconcile;            /* overwrite what differs (apply_info.reconcile) */
	char *by;                 /* owns; who asked, or NULL (the controller) */
};

struct plan {
	char id[24];
	char base[41];            /* "" when planned from the empty tree */
	char target[41];
	char *subject;            /* owns; the target commit's subject, or NULL */
	char *author;             /* owns; its author's name, or NULL */
	enum decision decision;
	struct diff *diff;        /* owns; NULL for an invalid plan */
	struct diags errors;      /* for an invalid plan */
	char hash[PLAN_HASH_LEN + 1];
	size_t counts[KIND__COUNT][3];   /* changes by kind and action */
	unsigned needs;           /* bit per kind that needs an approver */
	char *approvals[KIND__COUNT];   /* owns each; who approved a kind in `needs`,
	                                 * or NULL while it waits (stored as
	                                 * "approvals": {"dns": "bob"}) */
	char action[32];          /* "health.drain": the plan of a health action's
	                           * commit, decided under that action's trust
	                           * (plan_decide_as_action); "" otherwise */
	size_t blast_hosts;       /* hosts whose classification or pins change */
	size_t blast_records;     /* DNS records that change */
	struct plan_prep *prep;   /* owns; what apply providers prepared ("prepared") */
	size_t nprep;
	struct plan_rerun *rerun; /* owns; NULL for a plan of a new commit ("rerun") */
	unsigned unfinished;      /* bit per apply[] entry that failed or did not
	                           * run: what `retry` runs ("apply_unfinished") */
};

/*
 * Build the plan of `target` against `base` (either artifact set may be
 * empty; `base` NULL sha means the empty tree), decided by `pol` (the
 * base's policy).  `tm` is the target model, used for the blast radius.
 * *out owns; the artifact sets are only borrowed.
 */
int plan_build(struct plan **out, const char *id, const char *base, const char *target,
    const struct artifacts *base_art, const struct artifacts *target_art,
    const struct model *tm, const struct policy *pol);

/*
 * Decide p again under an automatic action's trust (DESIGN.md "Health
 * checks and actions": the plan a health action's commit produces is
 * applied under the action's level, whatever the change types' own):
 * every change is auto, except that a change to policy.yaml always needs
 * an approver of policy and a change type over its policy `limits` needs
 * approval.  Sets p->action.  The hash does not change (it binds what is
 * applied, not how it was decided).
 */
void plan_decide_as_action(struct plan *p, const struct policy *pol, const char *action);

/* An invalid plan: target does not validate.  Steals the diags' contents. */
struct plan *plan_invalid(const char *id, const char *base, const char *target,
    struct diags *errors);

void plan_free(struct plan *p);

/* Set the commit's subject and author (copied). */
void plan_set_commit(struct plan *p, const char *subject, const char *author);

/*
 * The plan as JSON, DESIGN.md "Plans" field for field (id, base, target,
 * decision, changes, artifacts, errors) plus summary fields and the
 * approvals given so far ("approvals", when there are any).  `extra`
 * (borrowed, may be NULL) is a JSON object whose fields are appended,
 * e.g. the outcome when stored.  Returns an owned string.
 */
char *plan_to_json(const struct plan *p, const char *extra_json);

/*
 * Add what apply[entry] prepared (copied; digest may be NULL) and hash the
 * plan again: the approval binds to it.  At most PLAN_MAX_PREP.
 */
void plan_add_prep(struct plan *p, unsigned entry, const char *provider, const char *summary,
    const char *digest);

/*
 * A re-run plan of commit `sha` (already applied): no changes, base and
 * target `sha`, decided `decision` with `needs`; takes *rerun (its
 * strings; the caller's struct is zeroed).  Owned by the caller.
 */
struct plan *plan_rerun_new(const char *id, const char *sha, enum decision decision,
    unsigned needs, struct plan_rerun *rerun);

/*
 * What a stored plan record (borrowed JSON) says beyond what planning its
 * commits again gives: the prepared entries, the re-run and the
 * unfinished entries; the plan is hashed again.  For a re-run record it
 * also restores the decision and the kinds needing approval.  ERR_INVALID
 * when a field is malformed.
 */
struct json_t;
int plan_restore(struct plan *p, const struct json_t *stored);

/* The one summary line: `plan 3 for 1a2b3c4 "subject" by A: 1 pin.modify -> auto`. */
void plan_summary(struct buf *b, const struct plan *p);

/* The text a person reviews: summary, changes grouped by kind, then the
 * diffs, cut at `max_diff` bytes of diff (0: no limit). */
void plan_format_text(struct buf *b, const struct plan *p, size_t max_diff);

#endif
