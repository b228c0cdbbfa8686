/*
 * state.h - the state directory (DESIGN.md "State directory"):
 *
 *   <state>/applied            last applied commit (fs_write_atomic)
 *   <state>/current            symlink -> releases/<id>, swapped with rename()
 *   <state>/releases/<id>/     one per apply: COMMIT, PLAN, policy.yaml,
 *                              terraform/route53/<zone>.tf.json, hiera/pins/<env>.yaml,
 *                              enc/<bb> -> ../../../buckets/<id>-<bb>
 *   <state>/buckets/<id>-<bb>/ immutable: the ENC documents whose fqdn hashes
 *                              (FNV-1a, low byte, two hex digits) to bb
 *   <state>/plans/<id>.json    every plan, with its outcome (until retention
 *                              deletes it)
 *   <state>/plan-seq           the last plan id handed out
 *   <state>/open-plans.json    the index of the plans that are open or
 *                              applying, or whose outcome is still to be
 *                              announced
 *   <state>/retention.json     how far retention has got
 *   <state>/lock               flock()ed by every writer
 *
 * File modes are set exactly (see the table in state.c), never left to
 * the umask.
 *
 * A release shares every bucket it did not change with the one before it,
 * so a one-host change writes one bucket (hard links to the unchanged
 * documents plus the new one) and 256 symlinks, not 100k files; `firebreak
 * enc` opens one path whatever the inventory's size; and readers resolve
 * `current` once per open, so the switch is atomic for every reader.
 *
 * Plan ids are a counter, never derived from what plans/ holds: an id is
 * written to plan-seq (fsynced) before anyone gets it, so an id handed out
 * is never handed out again, whatever a crash, an unreadable plans/ or a
 * deleted plan file does; and nothing removes the release (or a bucket)
 * `current` points at, whatever the ids say.
 *
 * The index keeps readers (status, the bot's `plan`, restart recovery) off
 * the thousands of closed plans: they read it, then the few plans it
 * names.  It is a superset of the truth, kept so by the order of writes:
 * a plan enters the index before its file says open, applying or "to be
 * announced", and leaves it after; readers check each plan's own outcome.
 *
 * Announcements are written ahead: the controller reserves the outbox
 * message first, stores the outcome with the message (the `announce`
 * argument below marks it pending in the index), queues it, and then
 * clears the mark (state_announced()); a restart finds every mark a kill
 * left and finishes the job exactly once (controller/reconcile.c).
 *
 * Layer: state (includes plan, model, git, base).
 */
#ifndef FIREBREAK_STATE_H
#define FIREBREAK_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "model/artifact.h"
#include "plan/plan.h"

#define STATE_KEEP_RELEASES 5

/*
 * Who may read what (DESIGN.md "Security rules"; the table in state.c
 * says which directory is which).  Private: the controller's user only
 * (plans, outbox, threads).  Shared: also the group Puppet runs in
 * (releases and buckets, which `firebreak enc` and Hiera read), never
 * others.
 */
#define STATE_MODE_PRIVATE      0600
#define STATE_MODE_PRIVATE_DIR  0700
#define STATE_MODE_SHARED       0640
#define STATE_MODE_SHARED_DIR   0750

struct state;

/*
 * Open (and with `create`, make) a state directory and take its writer
 * lock (blocking).  Finishes what a crash interrupted: a swapped `current`
 * whose commit `applied` does not yet say is taken as applied.
 * ERR_NOTFOUND when it does not exist and !create.
 */
int state_open(struct state **out, const char *dir, int create);
void state_close(struct state *s);

/* Read the applied commit without opening (no lock: it is replaced
 * atomically).  out[0] == '\0' when nothing was applied yet. */
int state_read_applied(const char *dir, char out[41]);

/*
 * Hand out the next plan id: plan-seq is rewritten (fsynced) before the id
 * is returned, and an id whose plan file or release exists is skipped.
 * ERR (out[0] == '\0') when the counter cannot be written: no id then.
 */
int state_reserve_plan_id(struct state *s, char out[24]);

/* The id the next plan would get, without the lock or a write (a preview
 * for `firebreak plan --state`).  ERR_INVALID for a corrupt plan-seq. */
int state_peek_plan_id(const char *dir, char out[24]);

/* Does this outcome keep a plan in the index?  "open", "applying". */
int state_outcome_open(const char *outcome);

/*
 * Store plans/<id>.json: the plan with its `outcome` and `extra` JSON
 * fields (a JSON object, or NULL), and keep the index in step.
 * `announce`: the outbox post reserved for announcing this outcome, still
 * to be queued (0: none); the plan stays in the index until
 * state_announced().  Borrows everything.
 */
int state_save_plan(struct state *s, const struct plan *p, const char *outcome,
    const char *extra_json, uint64_t announce);

/* The same for a stored plan read back as JSON (borrowed): its "id" and
 * "outcome" say which and what.  ERR_INVALID when they are missing. */
struct json_t;
int state_save_record(struct state *s, struct json_t *plan, uint64_t announce);

/* Plan `id`'s announcement is queued: clear the index's mark, and drop
 * the plan from the index unless it is open or applying. */
int state_announced(struct state *s, const char *id);

/* Drop plan `id` from the index (its file says a closed outcome and
 * nothing is to be announced: a kill came between the two writes). */
int state_index_drop(struct state *s, const char *id);

/* Read plans/<id>.json (a regular file, at most 64 MiB).  *out owns.
 * ERR_NOTFOUND when there is no such plan; ERR_INVALID when it is not a
 * plan id or not JSON. */
int state_load_plan(struct json_t **out, const char *dir, const char *id);

/*
 * Make the plan's target current: write release <plan id> from `target`
 * (sharing unchanged buckets with the current release when it is the
 * plan's base), sync, swap `current`, write `applied`, and drop releases
 * beyond the last STATE_KEEP_RELEASES.  On failure nothing changes for
 * readers.
 */
int state_apply(struct state *s, const struct plan *p, const struct artifacts *target);

/*
 * Call fn for every plan the index names whose file is readable, in id
 * order, with the file's path, its JSON (both borrowed for the call) and
 * the outbox post still to be queued for it (0: none).  The plans are
 * open, applying or waiting for their announcement, or closed by a write
 * the index has not caught up with: fn checks the outcome.  fn returning
 * non-zero stops the walk.  Reads no other plan; a state directory no
 * writer of this version has opened (no index yet) is walked whole.  OK,
 * or ERR_INVALID when the index is corrupt.
 */
int state_each_open(const char *dir, int (*fn)(void *ctx, const char *file,
    struct json_t *plan, uint64_t announce), void *ctx);

/*
 * Call fn for every stored plan (<dir>/plans/<id>.json that parses), in no
 * particular order.  Reads every plan ever kept: only for migrating to the
 * index and for tests.  fn returning non-zero stops the walk.
 */
int state_each_plan(const char *dir, int (*fn)(void *ctx, const char *file,
    struct json_t *plan), void *ctx);

/*
 * Retention of closed plans (the controller config's `retention:`): a
 * plan is deleted (its file, its threads/ references and its release
 * directory) when it is closed -- not in the index, not the current
 * release's -- and either more than `plans` ids older than the newest id
 * handed out, or its file last changed `days` days or more before `now`.
 * Oldest first: a pass stops at the first plan it keeps for its age.  One
 * pass looks at most at `scan_max` ids and deletes at most `delete_max`
 * plans; *out says what it did and whether more is left.
 * `thread_slots`: threads/<key>.<n> are removed for n below it (the
 * number of chat backends).  OK, or ERR when retention.json cannot be
 * written.
 */
struct state_retention {
	unsigned days;
	unsigned long plans;
	size_t thread_slots;
	size_t scan_max, delete_max;
};
#define STATE_RETAIN_SCAN 4096
#define STATE_RETAIN_DELETE 256

struct state_retained {
	size_t plans;             /* plan files deleted */
	size_t releases;          /* release directories deleted */
	int more;                 /* the pass stopped at a bound */
};
int state_retain(struct state *s, const struct state_retention *r, long long now,
    struct state_retained *out);

/* ---- the staged release store (state.c) ---- */

/*
 * A staged apply: write release <plan id> from `target` like
 * state_apply(), but leave `current` where it is, and give the canary
 * hosts (fqdns[i] in environment envs[i]) the new release's documents
 * through the overlay every release links to:
 *
 *   <state>/staged               symlink -> stages/<id>, only while staging
 *   <state>/stages/<id>/enc/<fqdn>.yaml     the canary host's new ENC document
 *   <state>/stages/<id>/hiera/<fqdn>.yaml   its new pins (Hiera's node level)
 *   <state>/releases/<n>/nodes       -> ../../staged/enc   (`firebreak enc`
 *                                       looks here first: one open())
 *   <state>/releases/<n>/hiera/nodes -> ../../../staged/hiera
 *
 * Then `applied` says the plan's target (the commit point): the next plan
 * is made against it, while everyone outside the canary still reads the
 * previous release.  A staging already active (a superseded rollout's)
 * is replaced.  Borrows everything.
 */
int state_apply_staged(struct state *s, const struct plan *p, const struct artifacts *target,
    const char *const *fqdns, const char *const *envs, size_t n);

/* Re-make the overlay of staged release `id` for these canary hosts (a
 * restart, or a superseding canary).  ERR_NOTFOUND when `id` is not the
 * staged release. */
int state_restage(struct state *s, const char *id, const char *const *fqdns,
    const char *const *envs, size_t n);

/* Everyone gets the staged release: `current` switches to it, then the
 * overlay goes.  OK also when nothing is staged. */
int state_promote(struct state *s);

/* The release staged (held back from everyone but a canary), or 0. */
unsigned long state_staged(const char *state_dir);

#endif
