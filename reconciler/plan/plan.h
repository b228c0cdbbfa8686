/*
 * plan.h - a plan: the difference between the last applied commit (base)
 * and a target, each change decided by the base's policy, the whole plan
 * taking the strictest decision of its changes (invalid, approve, observe,
 * auto, noop).  A plan is bound to (base, target) and to a hash of what it
 * would apply, so an approval applies exactly what was reviewed.
 */
#ifndef FIREBREAK_PLAN_H
#define FIREBREAK_PLAN_H

#include <stddef.h>

#include "model/model.h"
#include "model/policy.h"
#include "model/validate.h"
#include "plan/diff.h"

#define PLAN_HASH_LEN 64

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
	size_t blast_hosts;       /* hosts whose classification or pins change */
	size_t blast_records;     /* DNS records that change */
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

/* The one summary line: `plan 3 for 1a2b3c4 "subject" by A: 1 pin.modify -> auto`. */
void plan_summary(struct buf *b, const struct plan *p);

/* The text a person reviews: summary, changes grouped by kind, then the
 * diffs, cut at `max_diff` bytes of diff (0: no limit). */
void plan_format_text(struct buf *b, const struct plan *p, size_t max_diff);

#endif
