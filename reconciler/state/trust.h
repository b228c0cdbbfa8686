/*
 * trust.h - the trust ladder's statistics (DESIGN.md "Trust ladder"): for
 * every change type and every automatic action, how often what firebreak
 * only observed was later agreed with or not, and how often what it did by
 * itself was reverted.  The numbers that say when to promote a type from
 * observe to auto, and when to demote it.
 *
 *   <state>/trust.log   one JSON object per line, appended (0600):
 *     {"plan": ID, "hash": H, "outcome": O, "by": USER|null, "base": SHA,
 *      "target": SHA, "observe": [TYPES], "auto": [TYPES], "action": A?}
 *                             a plan's outcome (state_save_plan/record
 *                             write one for every outcome they store)
 *     {"revert": SHA, "commit": SHA, "plan": ID}
 *                             commit SHA reverts SHA, which plan ID applied
 *     {"action": A, "episode": KEY, "verdict": observed|agreed|disagreed}
 *     {"suggested": TYPE}     the promotion suggestion was posted
 *
 * The table is a replay of the log: a plan counts by its last outcome.
 *
 *   observe plans (a change of the type decided observe): observed; agreed
 *     when a person approved it (the same hash: approvals bind to it) and
 *     it was applied; disagreed when discarded, superseded by a plan with a
 *     different hash (a restart's re-plan of the same hash is neither), or
 *     reverted after it was applied.
 *   auto plans (the whole plan applied without a person): auto-applied for
 *     each auto type; reverted when a later commit reverts it.
 *   a health action's plan counts for the action, not for its types.
 *   actions in observe: observed per episode; agreed when a person did
 *     what the action would have (drained the host) during the episode,
 *     disagreed when the episode ended without it.
 *
 * Appends are single write(2)s under the state lock (every writer holds
 * it); a torn last line (a crash mid-write) is skipped when read.  The log
 * grows by a few hundred bytes per plan; it is read whole (up to
 * TRUST_LOG_MAX), which years of plans stay far below.
 *
 * Layer: state (includes plan, model, git, base).
 */
#ifndef FIREBREAK_TRUST_H
#define FIREBREAK_TRUST_H

#include <stddef.h>

#include "model/policy.h"
#include "plan/plan.h"

#define TRUST_LOG_MAX (64u << 20)
#define TRUST_PROMOTE_AFTER 20       /* agreeing outcomes, none disagreeing */

struct state;
struct repo;
struct json_t;

/* Record a plan's outcome (state_save_plan and state_save_record call
 * these after storing it).  `by` (may be NULL) is who decided it. */
void trust_note_plan(struct state *s, const struct plan *p, const char *outcome,
    const char *by);
void trust_note_record(struct state *s, const struct json_t *plan);

/* Record that commit `commit` reverts `reverted`, which plan `plan_id`
 * applied.  OK, or the error of writing. */
int trust_note_revert(struct state *s, const char *reverted, const char *commit,
    const char *plan_id);
/* Record an action episode's verdict. */
int trust_note_action(struct state *s, const char *action, const char *episode,
    const char *verdict);
/* Record that the promotion of `type` was suggested. */
int trust_note_suggested(struct state *s, const char *type);

/* One row of the table. */
struct trust_row {
	char name[32];              /* "dns.modify", "health.drain" */
	const char *level;          /* "auto", "observe", "approve"; for an action
	                             * "off", "observe", "auto" (static) */
	unsigned long observed, agreed, disagreed, auto_applied, reverted;
	int suggest_promote;        /* observe, >= 20 agreed, none disagreed */
	int suggest_demote;         /* auto, reverted at least once */
	int suggested;              /* the promotion was suggested already */
};

struct trust_table {
	struct trust_row *rows;     /* owns; sorted by name */
	size_t n;
	void *data;                 /* owns: the replayed log (plans, reverts) */
};

/*
 * Replay <dir>/trust.log into a table, with the levels of `pol` (the
 * applied policy; may be NULL: all approve / off).  Rows: every change
 * type and action the policy names, and every one with numbers.  No lock
 * needed: the log is only appended to.  OK (an absent log is an empty
 * table), or ERR / ERR_TOOBIG.
 */
int trust_load(struct trust_table *out, const char *dir, const struct policy *pol);
void trust_table_dispose(struct trust_table *t);
const struct trust_row *trust_row(const struct trust_table *t, const char *name);

/* The table as text, one row per line, with a header. */
void trust_format(struct buf *out, const struct trust_table *t);

/* The suggestion line for a row that is due: "dns.modify: 20 of 20
 * observed plans were approved unchanged — `trust promote dns.modify`
 * to auto-apply it". */
void trust_promotion_line(struct buf *out, const struct trust_row *r);

/*
 * The plan (by id, into plan_id) that applied commit `sha`: the newest
 * plan of the log applied without... whose base..target range holds it
 * (any applied plan: approved, observed-then-approved or auto).  Sets
 * *how to "auto", "action" or "approved", and fills types (the auto types,
 * or the action) as "a, b".  ERR_NOTFOUND when no logged plan did.
 */
int trust_plan_of(const struct trust_table *t, struct repo *r, const char *sha,
    char plan_id[24], char how[16], struct buf *types);

/* Has commit `commit`'s revert been recorded already? */
int trust_revert_known(const struct trust_table *t, const char *commit);

/* The sha a commit message reverts ("This reverts commit <sha>." as git
 * revert and the bot's revert write), into out; 0 when it reverts none. */
int trust_reverted_sha(const char *message, char out[41]);

#endif
